/** `/v2/images`: create, list, show, JSON-patch update, delete, deactivate/reactivate. */
import Type from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { App } from '../../common/http/app.ts';
import { UnsupportedMediaTypeError } from '../../common/errors.ts';
import { forbidden, invalid } from '../errors.ts';
import {
  checkBaseValue,
  checkProperty,
  checkWritableKey,
  WRITABLE,
  type WritableFields,
} from '../image-fields.ts';
import { listImages } from '../image-list.ts';
import type { Image, NewImage } from '../images.ts';
import { authorize, imageTarget, loadImage, viewerOf, type ApiDeps } from './context.ts';
import { applyPatch, parsePatch, PATCH_V20, PATCH_V21 } from './image-patch.ts';
import { nextLink, parseListQuery } from './image-query.ts';
import { imageView } from './views.ts';

export const ImageParams = Type.Object({ image_id: Type.String({ maxLength: 1024 }) });

/** Reads a create body: base attributes checked, the rest extra properties. */
function newImageOf(body: unknown): NewImage {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalid('Request body must be a JSON object.');
  const input: Record<string, unknown> = {};
  const properties: Record<string, string> = {};
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    if (key === 'id') {
      if (typeof value !== 'string')
        throw invalid(
          "Provided object does not match schema 'image': the id must be a string (id)",
        );
      input['id'] = value;
    } else if (WRITABLE.has(key)) input[key] = checkBaseValue(key, value);
    else {
      checkWritableKey(key);
      properties[key] = checkProperty(key, value);
    }
  }
  return { ...(input as Partial<WritableFields>), properties };
}

/** Glance checks the visibility a change asks for against its own rule. */
function authorizeVisibility(
  request: FastifyRequest,
  deps: ApiDeps,
  image: Pick<Image, 'owner' | 'visibility' | 'id'>,
  visibility: string,
): void {
  const target = imageTarget({ ...image, visibility: image.visibility } as Image);
  if (visibility === 'public') authorize(request, deps, 'publicize_image', target);
  if (visibility === 'community') authorize(request, deps, 'communitize_image', target);
}

export function imageRoutes(app: App, deps: ApiDeps): void {
  const { images } = deps;

  app.post('/v2/images', async (request, reply) => {
    const viewer = viewerOf(request, deps);
    const input = newImageOf(request.body);
    const owner = input.owner !== undefined ? input.owner : (viewer.projectId ?? null);
    const target = {
      project_id: owner ?? undefined,
      owner: owner ?? undefined,
      visibility: input.visibility ?? 'shared',
    };
    authorize(request, deps, 'add_image', target);
    if (input.visibility !== undefined)
      authorizeVisibility(
        request,
        deps,
        { id: '', owner, visibility: input.visibility },
        input.visibility,
      );
    const image = await images.create(viewer, input);
    reply.header('openstack-image-import-methods', deps.data.importMethods().join(','));
    if (deps.stores.multiple)
      reply.header('openstack-image-store-ids', deps.stores.ids().join(','));
    return reply
      .status(201)
      .header('location', `/v2/images/${image.id}`)
      .send(imageView(image, deps.stores));
  });

  app.get('/v2/images', async (request) => {
    authorize(request, deps, 'get_images', {});
    const query = request.query as Record<string, unknown>;
    const list = parseListQuery(query, deps.config);
    const found = await listImages(deps.db, images, viewerOf(request, deps), list);
    const last = found[found.length - 1];
    return {
      images: found.map((image) => imageView(image, deps.stores)),
      first: '/v2/images',
      schema: '/v2/schemas/images',
      ...(last !== undefined && found.length === list.limit
        ? { next: nextLink(query, last.id) }
        : {}),
    };
  });

  const load = (request: FastifyRequest, id: string): Promise<Image> =>
    loadImage(request, deps, id);

  app.get('/v2/images/:image_id', { schema: { params: ImageParams } }, async (request) =>
    imageView(await load(request, request.params.image_id), deps.stores),
  );

  app.patch('/v2/images/:image_id', { schema: { params: ImageParams } }, async (request) => {
    const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== PATCH_V21 && type !== PATCH_V20)
      throw new UnsupportedMediaTypeError(
        `Unsupported Content-Type: use ${PATCH_V21} or ${PATCH_V20}.`,
        'image.unsupported_media_type',
      );
    const ops = parsePatch(request.body, type === PATCH_V20);
    const current = await load(request, request.params.image_id);
    authorize(request, deps, 'modify_image', imageTarget(current));
    const next = applyPatch(current, ops);
    if (next.visibility !== current.visibility)
      authorizeVisibility(request, deps, current, next.visibility);
    if (next.owner !== current.owner && !viewerOf(request, deps).isAdmin)
      throw forbidden("You are not permitted to modify 'owner' on this image.");
    return imageView(await images.update(current, next), deps.stores);
  });

  app.delete(
    '/v2/images/:image_id',
    { schema: { params: ImageParams } },
    async (request, reply) => {
      const image = await load(request, request.params.image_id);
      authorize(request, deps, 'delete_image', imageTarget(image));
      await deps.data.deleteData(await images.delete(image));
      return reply.status(204).send();
    },
  );

  app.post(
    '/v2/images/:image_id/actions/deactivate',
    { schema: { params: ImageParams } },
    async (request, reply) => {
      const image = await load(request, request.params.image_id);
      authorize(request, deps, 'deactivate', imageTarget(image));
      await images.deactivate(image);
      return reply.status(204).send();
    },
  );

  app.post(
    '/v2/images/:image_id/actions/reactivate',
    { schema: { params: ImageParams } },
    async (request, reply) => {
      const image = await load(request, request.params.image_id);
      authorize(request, deps, 'reactivate', imageTarget(image));
      await images.reactivate(image);
      return reply.status(204).send();
    },
  );
}
