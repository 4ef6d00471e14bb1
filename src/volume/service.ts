/** Block storage (Cinder v3). For now: version discovery and microversion negotiation only. */
import { createApp } from '../common/http/app.ts';
import { useMicroversions } from '../common/http/microversion.ts';
import { baseUrlOf, type VersionEntry } from '../common/http/version-discovery.ts';
import type { Service, ServiceContext } from '../common/service.ts';

export const VOLUME_MIN_VERSION = '3.0';
export const VOLUME_MAX_VERSION = '3.70';

function v3(base: string): VersionEntry {
  return {
    id: 'v3.0',
    status: 'CURRENT',
    version: VOLUME_MAX_VERSION,
    min_version: VOLUME_MIN_VERSION,
    updated: '2023-08-31T00:00:00Z',
    links: [
      { rel: 'describedby', type: 'text/html', href: 'https://docs.openstack.org/' },
      { rel: 'self', href: `${base}/v3/` },
    ],
    'media-types': [
      { base: 'application/json', type: 'application/vnd.openstack.volume+json;version=3' },
    ],
  };
}

export function createVolumeService(ctx: ServiceContext): Service {
  const app = createApp({
    service: 'volume',
    errorStyle: 'nova',
    logger: ctx.logger,
    bodyLimit: ctx.config.http.body_limit,
  });
  app.get('/', async (request, reply) =>
    reply.status(300).send({ versions: [v3(baseUrlOf(request))] }),
  );
  void app.register(
    async (scope) => {
      useMicroversions(scope, {
        serviceType: 'volume',
        min: VOLUME_MIN_VERSION,
        max: VOLUME_MAX_VERSION,
      });
      scope.get('/', async (request) => ({ versions: [v3(baseUrlOf(request))] }));
    },
    { prefix: '/v3' },
  );
  return { name: 'volume', app, close: async () => undefined };
}
