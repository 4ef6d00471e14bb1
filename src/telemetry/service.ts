/** Telemetry (metrics, in Gnocchi's shape). For now: version discovery only. */
import { createApp } from '../common/http/app.ts';
import { baseUrlOf } from '../common/http/version-discovery.ts';
import type { Service, ServiceContext } from '../common/service.ts';

export function createTelemetryService(ctx: ServiceContext): Service {
  const app = createApp({
    service: 'telemetry',
    errorStyle: 'keystone',
    logger: ctx.logger,
    bodyLimit: ctx.config.http.body_limit,
  });
  app.get('/', async (request) => ({
    versions: [
      {
        id: 'v1.0',
        status: 'CURRENT',
        updated: '2015-03-19',
        links: [{ href: `${baseUrlOf(request)}/v1/`, rel: 'self' }],
      },
    ],
  }));
  return { name: 'telemetry', app, close: async () => undefined };
}
