/** `/servers/{id}/metadata`: a server's key/value pairs, all at once or one key at a time. */
import type { FastifyRequest } from 'fastify';
import type { App } from '../../common/http/app.ts';
import { BadRequestError, NotFoundError } from '../../common/errors.ts';
import { deleteMetadataKey, metadataOf, setMetadata } from '../instance-metadata.ts';
import type { Instance } from '../instance-model.ts';
import type { Actor } from '../server-actions.ts';
import { actorOf, authorize, onlyKeys, viewerOf, type ApiDeps, type Body } from './context.ts';
import { parseMetadata } from './server-metadata.schema.ts';

type Params = { id: string; key: string };

/** The body's only key `key`. @throws BadRequestError (400) otherwise. */
function bodyOf(body: unknown, key: string): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || !(key in body))
    throw new BadRequestError(`'${key}' is a required property`, 'compute.bad_request');
  onlyKeys(body as Body, [key]);
  return (body as Body)[key];
}

async function serverFor(
  request: FastifyRequest<{ Params: { id: string } }>,
  deps: ApiDeps,
  rule: string,
): Promise<{ instance: Instance; actor: Actor }> {
  const viewer = viewerOf(request, deps);
  const instance = await deps.instances.get(viewer, request.params.id);
  authorize(request, deps, `os_compute_api:server-metadata:${rule}`, {
    project_id: instance.row.project_id,
  });
  return {
    instance,
    actor: actorOf(request, viewer, instance),
  };
}

async function itemLimit(deps: ApiDeps, instance: Instance): Promise<number> {
  return (await deps.quotas.limitsOf(instance.row.project_id)).metadata_items;
}

export function serverMetadataRoutes(app: App, deps: ApiDeps): void {
  const { instances } = deps;

  app.get<{ Params: Params }>('/servers/:id/metadata', async (request) => {
    const { instance } = await serverFor(request, deps, 'index');
    return { metadata: await metadataOf(instances, instance.row.uuid) };
  });

  /** Merges the body's pairs into the server's (POST) or replaces them all (PUT). */
  const writeAll =
    (rule: 'create' | 'update_all', replace: boolean) =>
    async (request: FastifyRequest<{ Params: Params }>) => {
      const items = parseMetadata('metadata', bodyOf(request.body, 'metadata'));
      const { instance, actor } = await serverFor(request, deps, rule);
      const limit = await itemLimit(deps, instance);
      return { metadata: await setMetadata(instances, instance, actor, items, replace, limit) };
    };
  // Nova answers 200 to the POST, not 201, for compatibility.
  app.post<{ Params: Params }>('/servers/:id/metadata', writeAll('create', false));
  app.put<{ Params: Params }>('/servers/:id/metadata', writeAll('update_all', true));

  app.get<{ Params: Params }>('/servers/:id/metadata/:key', async (request) => {
    const { instance } = await serverFor(request, deps, 'show');
    const metadata = await metadataOf(instances, instance.row.uuid);
    const key = request.params.key;
    if (!Object.hasOwn(metadata, key))
      throw new NotFoundError('Metadata item was not found', 'compute.metadata_not_found');
    return { meta: { [key]: metadata[key] } };
  });

  app.put<{ Params: Params }>('/servers/:id/metadata/:key', async (request) => {
    const meta = parseMetadata('meta', bodyOf(request.body, 'meta'));
    const count = Object.keys(meta).length;
    if (count !== 1)
      throw new BadRequestError(
        `Invalid input for field/attribute meta. Value: ${JSON.stringify(meta)}. ${JSON.stringify(meta)} ${count === 0 ? 'does not have enough properties' : 'has too many properties'}`,
        'compute.bad_request',
      );
    const { instance, actor } = await serverFor(request, deps, 'update');
    if (!Object.hasOwn(meta, request.params.key))
      throw new BadRequestError('Request body and URI mismatch', 'compute.bad_request');
    await setMetadata(instances, instance, actor, meta, false, await itemLimit(deps, instance));
    return { meta };
  });

  app.delete<{ Params: Params }>('/servers/:id/metadata/:key', async (request, reply) => {
    const { instance, actor } = await serverFor(request, deps, 'delete');
    await deleteMetadataKey(instances, instance, actor, request.params.key);
    reply.code(204);
    return reply.send();
  });
}
