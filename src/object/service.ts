/** Object storage (Swift v1). For now: the `/info` capabilities document only. */
import { createApp } from '../common/http/app.ts';
import type { Service, ServiceContext } from '../common/service.ts';

export function createObjectService(ctx: ServiceContext): Service {
  const app = createApp({
    service: 'object',
    errorStyle: 'swift',
    logger: ctx.logger,
    requestIdAlias: 'x-trans-id',
    bodyLimit: ctx.config.http.body_limit,
  });
  // Swift has no version document; clients discover capabilities at /info.
  app.get('/info', async () => ({ swift: { version: '2.30.0' } }));
  return { name: 'object', app, close: async () => undefined };
}
