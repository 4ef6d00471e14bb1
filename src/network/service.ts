/** Network (Neutron v2.0). For now: version discovery only. */
import { createApp } from '../common/http/app.ts';
import { baseUrlOf } from '../common/http/version-discovery.ts';
import type { Service, ServiceContext } from '../common/service.ts';

export function createNetworkService(ctx: ServiceContext): Service {
  const app = createApp({
    service: 'network',
    errorStyle: 'neutron',
    logger: ctx.logger,
    bodyLimit: ctx.config.http.body_limit,
  });
  app.get('/', async (request) => ({
    versions: [
      {
        id: 'v2.0',
        status: 'CURRENT',
        links: [{ href: `${baseUrlOf(request)}/v2.0/`, rel: 'self' }],
      },
    ],
  }));
  // The v2.0 root lists the resource collections; none exist until the network API lands.
  app.get('/v2.0', async () => ({ resources: [] }));
  return { name: 'network', app, close: async () => undefined };
}
