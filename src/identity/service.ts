/** Identity (Keystone v3). For now: version discovery only; the API arrives with its issue. */
import { createApp } from '../common/http/app.ts';
import { baseUrlOf, type VersionEntry } from '../common/http/version-discovery.ts';
import type { Service, ServiceContext } from '../common/service.ts';

function v3(base: string): VersionEntry {
  return {
    id: 'v3.14',
    status: 'stable',
    updated: '2020-04-07T00:00:00Z',
    links: [{ rel: 'self', href: `${base}/v3/` }],
    'media-types': [
      { base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' },
    ],
  };
}

export function createIdentityService(ctx: ServiceContext): Service {
  const app = createApp({
    service: 'identity',
    errorStyle: 'keystone',
    logger: ctx.logger,
    bodyLimit: ctx.config.http.body_limit,
  });
  // Keystone answers its root with 300 Multiple Choices, the list wrapped in `values`.
  app.get('/', async (request, reply) =>
    reply.status(300).send({ versions: { values: [v3(baseUrlOf(request))] } }),
  );
  app.get('/v3', async (request) => ({ version: v3(baseUrlOf(request)) }));
  return { name: 'identity', app, close: async () => undefined };
}
