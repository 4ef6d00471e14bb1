/** Dashboard (Horizon's place). For now: a page saying which APIs are up. */
import { createApp } from '../common/http/app.ts';
import type { Service, ServiceContext } from '../common/service.ts';

export function createDashboardService(ctx: ServiceContext): Service {
  const app = createApp({
    service: 'dashboard',
    errorStyle: 'keystone',
    logger: ctx.logger,
    bodyLimit: ctx.config.http.body_limit,
  });
  app.get('/', async (_request, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .send(
        '<!doctype html><html><head><title>tstack</title></head><body><h1>tstack</h1>' +
          '<p>The dashboard is not built yet; use the <code>openstack</code> CLI.</p></body></html>',
      ),
  );
  return { name: 'dashboard', app, close: async () => undefined };
}
