/** `/v2.0/{resources}/{id}/tags[/{tag}]` for networks, subnets, ports and security groups. */
import type { FastifyRequest } from 'fastify';
import Type from 'typebox';
import type { App } from '../../common/http/app.ts';
import { NotFoundError } from '../../common/errors.ts';
import { invalidInput, notFound } from '../errors.ts';
import type { Viewer } from '../standard.ts';
import { checkTag, TAGGED, tagResourceName, type Tags } from '../tags.ts';
import { authorize, viewerOf, type ApiDeps } from './context.ts';

const TagParams = Type.Object({ id: Type.String({ maxLength: 255, pattern: '^[^\\u0000]*$' }) });
const OneTagParams = Type.Object({
  id: Type.String({ maxLength: 255, pattern: '^[^\\u0000]*$' }),
  tag: Type.String({ maxLength: 1024 }),
});

type Owner = (viewer: Viewer, id: string) => Promise<{ project_id: string }>;

/**
 * upstream's validate_tags: a dict with `tags`, a list of unique strings of at most 255 characters.
 * @throws BadRequestError (400) InvalidInput.
 */
function tagsBody(body: unknown): string[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || !('tags' in body))
    throw invalidInput('Invalid tags body');
  const tags = (body as Record<string, unknown>)['tags'];
  if (!Array.isArray(tags)) throw invalidInput(`'${JSON.stringify(tags)}' is not a list`);
  const seen = new Set<unknown>();
  const dups: unknown[] = [];
  for (const t of tags as unknown[]) {
    if (seen.has(t) && !dups.includes(t)) dups.push(t);
    seen.add(t);
  }
  if (dups.length > 0)
    throw invalidInput(`Duplicate items in the list: '${dups.map(String).join(', ')}'`);
  for (const t of tags as unknown[]) checkTag(t);
  return tags as string[];
}

/** A parent that is missing (or hidden) is upstream's TagResourceNotFound. */
function parentNotFound(collection: string, id: string): NotFoundError {
  return new NotFoundError(
    `Resource ${tagResourceName(collection)} ${id} could not be found.`,
    'network.not_found',
    { details: { type: 'TagResourceNotFound' } },
  );
}

export function tagRoutes(app: App, deps: ApiDeps, tags: Tags): void {
  const owners: Readonly<Record<string, { owner: Owner; rule: string }>> = {
    networks: {
      owner: async (v, id) => (await deps.networks.get(v, id)).row,
      rule: 'update_network',
    },
    subnets: { owner: async (v, id) => (await deps.subnets.get(v, id)).row, rule: 'update_subnet' },
    ports: { owner: async (v, id) => (await deps.ports.get(v, id)).row, rule: 'update_port' },
    'security-groups': {
      owner: async (v, id) => (await deps.groups.get(v, id)).row,
      rule: 'update_security_group',
    },
    routers: {
      owner: async (v, id) => (await deps.routers.get(v, id)).row,
      rule: 'update_router',
    },
    floatingips: {
      owner: async (v, id) => (await deps.floatingIps.get(v, id)).row,
      rule: 'update_floatingip',
    },
    subnetpools: {
      owner: async (v, id) => (await deps.subnetPools.get(v, id)).row,
      rule: 'update_subnetpool',
    },
  };
  for (const collection of Object.keys(TAGGED)) {
    const { owner, rule } = owners[collection] as { owner: Owner; rule: string };
    const base = `/v2.0/${collection}/:id/tags`;
    const load = async (
      request: FastifyRequest<{ Params: { id: string } }>,
      write: boolean,
    ): Promise<void> => {
      const viewer = viewerOf(request, deps);
      const row = await owner(viewer, request.params.id).catch((err: unknown) => {
        throw err instanceof NotFoundError ? parentNotFound(collection, request.params.id) : err;
      });
      if (write)
        authorize(request, deps, rule, {
          project_id: row.project_id,
          network_project_id: row.project_id,
        });
    };
    app.get(base, { schema: { params: TagParams } }, async (request) => {
      await load(request, false);
      return { tags: await tags.list(collection, request.params.id) };
    });
    // Both answer with the request's tags, as upstream echoes the body.
    app.put(base, { schema: { params: TagParams } }, async (request) => {
      const wanted = tagsBody(request.body);
      await load(request, true);
      await tags.set(collection, request.params.id, wanted, true);
      return { tags: wanted };
    });
    app.post(base, { schema: { params: TagParams } }, async (request) => {
      const wanted = tagsBody(request.body);
      await load(request, true);
      await tags.set(collection, request.params.id, wanted, false);
      return { tags: wanted };
    });
    app.delete(base, { schema: { params: TagParams } }, async (request, reply) => {
      await load(request, true);
      await tags.clear(collection, request.params.id);
      return reply.status(204).send();
    });
    app.get(`${base}/:tag`, { schema: { params: OneTagParams } }, async (request, reply) => {
      checkTag(request.params.tag);
      await load(request, false);
      const have = await tags.list(collection, request.params.id);
      if (!have.includes(request.params.tag))
        throw notFound('tag', request.params.tag, `Tag ${request.params.tag} could not be found.`);
      return reply.status(204).send();
    });
    app.put(`${base}/:tag`, { schema: { params: OneTagParams } }, async (request, reply) => {
      checkTag(request.params.tag);
      await load(request, true);
      await tags.set(collection, request.params.id, [request.params.tag], false);
      return reply.status(201).send();
    });
    app.delete(`${base}/:tag`, { schema: { params: OneTagParams } }, async (request, reply) => {
      checkTag(request.params.tag);
      await load(request, true);
      await tags.remove(collection, request.params.id, request.params.tag);
      return reply.status(204).send();
    });
  }
}
