/** Orchestration (Heat v1). For now: version discovery only. */
import { createApp } from '../common/http/app.ts';
import { baseUrlOf } from '../common/http/version-discovery.ts';
import type { Service, ServiceContext } from '../common/service.ts';

export function createOrchestrationService(ctx: ServiceContext): Service {
  const app = createApp({
    service: 'orchestration',
    errorStyle: 'heat',
    logger: ctx.logger,
    bodyLimit: ctx.config.http.body_limit,
  });
  app.get('/', async (request, reply) =>
    reply.status(300).send({
      versions: [
        {
          id: 'v1.0',
          status: 'CURRENT',
          links: [{ href: `${baseUrlOf(request)}/v1/`, rel: 'self' }],
        },
      ],
    }),
  );
  return { name: 'orchestration', app, close: async () => undefined };
}
