/** `/servers/{id}/tags` (2.26): a server's tags, as a set or one at a time. */
import type { FastifyRequest } from 'fastify';
import type { App } from '../../common/http/app.ts';
import { BadRequestError, NotFoundError } from '../../common/errors.ts';
import { baseUrlOf } from '../../common/http/version-discovery.ts';
import {
  addTag,
  deleteTags,
  isValidTag,
  MAX_TAGS,
  replaceTags,
  tagsOf,
} from '../instance-metadata.ts';
import type { Instance } from '../instance-model.ts';
import {
  atLeast,
  authorize,
  invalidField,
  onlyKeys,
  repr,
  viewerOf,
  type ApiDeps,
  type Body,
} from './context.ts';

type Params = { id: string; tag: string };

/** Before 2.26 these routes do not exist, as Nova answers for a version that lacks them. */
function requireVersion(request: FastifyRequest): void {
  if (!atLeast(request, 26))
    throw new NotFoundError('The resource could not be found.', 'compute.not_found');
}

async function serverFor(
  request: FastifyRequest<{ Params: { id: string } }>,
  deps: ApiDeps,
  rule: string,
): Promise<Instance> {
  requireVersion(request);
  const instance = await deps.instances.get(viewerOf(request, deps), request.params.id);
  authorize(request, deps, `os_compute_api:os-server-tags:${rule}`, {
    project_id: instance.row.project_id,
  });
  return instance;
}

export function serverTagRoutes(app: App, deps: ApiDeps): void {
  const { instances } = deps;

  app.get<{ Params: Params }>('/servers/:id/tags', async (request) => {
    const instance = await serverFor(request, deps, 'index');
    return { tags: await tagsOf(instances, instance.row.uuid) };
  });

  app.put<{ Params: Params }>('/servers/:id/tags', async (request) => {
    requireVersion(request);
    const body = request.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body) || !('tags' in body))
      throw new BadRequestError("'tags' is a required property", 'compute.bad_request');
    onlyKeys(body, ['tags']);
    const tags = (body as Body)['tags'];
    if (!Array.isArray(tags))
      throw invalidField('tags', tags, `${repr(tags)} is not of type 'array'`);
    if (tags.length > MAX_TAGS) throw invalidField('tags', tags, `${repr(tags)} is too long`);
    for (const tag of tags)
      if (!isValidTag(tag))
        throw invalidField(
          'tags',
          tag,
          `${repr(tag)} must be a string of 1 to 60 characters without '/' or ','`,
        );
    const instance = await serverFor(request, deps, 'update_all');
    return { tags: await replaceTags(instances, instance, tags as string[]) };
  });

  app.delete<{ Params: Params }>('/servers/:id/tags', async (request, reply) => {
    const instance = await serverFor(request, deps, 'delete_all');
    await deleteTags(instances, instance, undefined);
    reply.code(204);
    return reply.send();
  });

  app.get<{ Params: Params }>('/servers/:id/tags/:tag', async (request, reply) => {
    const instance = await serverFor(request, deps, 'show');
    const tags = await tagsOf(instances, instance.row.uuid);
    if (!tags.includes(request.params.tag))
      throw new NotFoundError(
        `Server ${instance.row.uuid} has no tag '${request.params.tag}'`,
        'compute.tag_not_found',
      );
    reply.code(204);
    return reply.send();
  });

  app.put<{ Params: Params }>('/servers/:id/tags/:tag', async (request, reply) => {
    const instance = await serverFor(request, deps, 'update');
    const tag = request.params.tag;
    if (!isValidTag(tag))
      throw new BadRequestError(
        `Tag '${tag}' is invalid. It must be a non empty string without characters '/' and ','.`,
        'compute.bad_request',
      );
    const added = await addTag(instances, instance, tag);
    if (added) {
      reply.header(
        'location',
        `${baseUrlOf(request)}/v2.1/servers/${instance.row.uuid}/tags/${encodeURIComponent(tag)}`,
      );
      reply.code(201);
    } else reply.code(204);
    return reply.send();
  });

  app.delete<{ Params: Params }>('/servers/:id/tags/:tag', async (request, reply) => {
    const instance = await serverFor(request, deps, 'delete');
    await deleteTags(instances, instance, request.params.tag);
    reply.code(204);
    return reply.send();
  });
}
