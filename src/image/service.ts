/** Image (Glance v2). For now: version discovery only. */
import { createApp } from '../common/http/app.ts';
import { baseUrlOf, type VersionEntry } from '../common/http/version-discovery.ts';
import type { Service, ServiceContext } from '../common/service.ts';

/** Glance lists every v2 minor version; the newest is CURRENT. */
const MINORS = 16;

function versions(base: string): VersionEntry[] {
  const out: VersionEntry[] = [];
  for (let minor = MINORS; minor >= 0; minor--) {
    out.push({
      id: `v2.${minor}`,
      status: minor === MINORS ? 'CURRENT' : 'SUPPORTED',
      links: [{ rel: 'self', href: `${base}/v2/` }],
    });
  }
  return out;
}

export function createImageService(ctx: ServiceContext): Service {
  const app = createApp({
    service: 'image',
    errorStyle: 'glance',
    logger: ctx.logger,
    bodyLimit: ctx.config.http.body_limit,
  });
  // The root answers 300 Multiple Choices; /versions answers the same list with 200.
  app.get('/', async (request, reply) =>
    reply.status(300).send({ versions: versions(baseUrlOf(request)) }),
  );
  app.get('/versions', async (request) => ({ versions: versions(baseUrlOf(request)) }));
  return { name: 'image', app, close: async () => undefined };
}
