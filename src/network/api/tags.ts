/** `/v2.0/{resources}/{id}/tags[/{tag}]` for networks, subnets, ports and security groups. */
import type { FastifyRequest } from 'fastify';
import Type from 'typebox';
import type { App } from '../../common/http/app.ts';
import { invalidInput, notFound } from '../errors.ts';
import type { Viewer } from '../standard.ts';
import { TAGGED, type Tags } from '../tags.ts';
import { authorize, viewerOf, type ApiDeps } from './context.ts';

const TagParams = Type.Object({ id: Type.String({ maxLength: 255 }) });
const OneTagParams = Type.Object({
  id: Type.String({ maxLength: 255 }),
  tag: Type.String({ maxLength: 1024 }),
});

type Owner = (viewer: Viewer, id: string) => Promise<{ project_id: string }>;

function tagsBody(body: unknown): string[] {
  const tags =
    typeof body === 'object' && body !== null
      ? (body as Record<string, unknown>)['tags']
      : undefined;
  if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string'))
    throw invalidInput('Invalid tags body');
  return tags as string[];
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
  };
  for (const collection of Object.keys(TAGGED)) {
    const { owner, rule } = owners[collection] as { owner: Owner; rule: string };
    const base = `/v2.0/${collection}/:id/tags`;
    const load = async (
      request: FastifyRequest<{ Params: { id: string } }>,
      write: boolean,
    ): Promise<void> => {
      const viewer = viewerOf(request, deps);
      const row = await owner(viewer, request.params.id);
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
    app.put(base, { schema: { params: TagParams } }, async (request) => {
      await load(request, true);
      return { tags: await tags.set(collection, request.params.id, tagsBody(request.body), true) };
    });
    app.post(base, { schema: { params: TagParams } }, async (request) => {
      await load(request, true);
      return { tags: await tags.set(collection, request.params.id, tagsBody(request.body), false) };
    });
    app.delete(base, { schema: { params: TagParams } }, async (request, reply) => {
      await load(request, true);
      await tags.clear(collection, request.params.id);
      return reply.status(204).send();
    });
    app.get(`${base}/:tag`, { schema: { params: OneTagParams } }, async (request, reply) => {
      await load(request, false);
      const have = await tags.list(collection, request.params.id);
      if (!have.includes(request.params.tag))
        throw notFound('tag', request.params.tag, `Tag ${request.params.tag} could not be found.`);
      return reply.status(204).send();
    });
    app.put(`${base}/:tag`, { schema: { params: OneTagParams } }, async (request, reply) => {
      await load(request, true);
      await tags.set(collection, request.params.id, [request.params.tag], false);
      return reply.status(201).send();
    });
    app.delete(`${base}/:tag`, { schema: { params: OneTagParams } }, async (request, reply) => {
      await load(request, true);
      await tags.remove(collection, request.params.id, request.params.tag);
      return reply.status(204).send();
    });
  }
}
