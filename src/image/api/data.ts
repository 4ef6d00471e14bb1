/**
 * Image data: `PUT /v2/images/{id}/file` streams the upload into a store (queued → saving →
 * active, back to queued if anything fails, never a partial image), `PUT .../stage` into the
 * staging area for a `glance-direct` import, and `GET .../file` streams it back with
 * `Content-MD5` and byte ranges. Memory stays flat whatever the size.
 */
import type { FastifyRequest } from 'fastify';
import Type from 'typebox';
import type { App } from '../../common/http/app.ts';
import { ForbiddenError, UnsupportedMediaTypeError } from '../../common/errors.ts';
import type { Readable } from 'node:stream';
import { invalid } from '../errors.ts';
import type { ImageStatus } from '../image-fields.ts';
import type { Image } from '../images.ts';
import { authorize, imageTarget, loadImage, viewerOf, type ApiDeps } from './context.ts';

const ImageParams = Type.Object({ image_id: Type.String({ minLength: 1, maxLength: 64 }) });

/** The size a client announced (`Content-Length`, or `x-openstack-image-size` for staging). */
function announcedSize(request: FastifyRequest, header: string): number | undefined {
  const raw = request.headers[header];
  if (raw === undefined) return undefined;
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined || !/^\d+$/.test(value.trim()))
    throw invalid(`${header} must be a non-negative integer, got '${String(value)}'.`);
  return Number(value);
}

/** Image data is `application/octet-stream`; anything else is a 415, as in Glance. */
function octetStream(request: FastifyRequest): Readable {
  const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/octet-stream')
    throw new UnsupportedMediaTypeError(
      `Unsupported Content-Type '${type ?? ''}': image data must be application/octet-stream.`,
      'image.unsupported_media_type',
    );
  return request.body as Readable;
}

/** `X-Image-Meta-Store`: the store an upload goes to (Glance multi-store). */
export function storeHeader(request: FastifyRequest): string | undefined {
  const raw = request.headers['x-image-meta-store'];
  return Array.isArray(raw) ? raw[0] : raw;
}

/** `bytes=a-b`, `bytes=a-`, `bytes=-n`; anything else (several ranges too) means the whole image. */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | undefined {
  const m = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  return { start, end };
}

export function dataRoutes(app: App, deps: ApiDeps): void {
  const { data } = deps;
  const load = (request: FastifyRequest<{ Params: { image_id: string } }>): Promise<Image> =>
    loadImage(request, deps, request.params.image_id);

  app.put(
    '/v2/images/:image_id/file',
    { schema: { params: ImageParams } },
    async (request, reply) => {
      const image = await load(request);
      authorize(request, deps, 'upload_image', imageTarget(image));
      const storeId = storeHeader(request);
      await data.upload(image, octetStream(request), {
        ...optional('expectedSize', announcedSize(request, 'content-length')),
        ...optional('storeId', storeId),
      });
      return reply.status(204).send();
    },
  );

  app.get(
    '/v2/images/:image_id/file',
    { schema: { params: ImageParams } },
    async (request, reply) => {
      const image = await load(request);
      authorize(request, deps, 'download_image', imageTarget(image));
      if (image.status === 'deactivated' && !viewerOf(request, deps).isAdmin) {
        throw new ForbiddenError(
          'The requested image has been deactivated. Image data download is forbidden.',
          'image.deactivated',
        );
      }
      const withData: readonly ImageStatus[] = ['active', 'deactivated'];
      if (!withData.includes(image.status) || image.locations.length === 0)
        return reply.status(204).send();
      const range = parseRange(request.headers.range, image.size ?? 0);
      const body = await data.open(image, range);
      reply.header('content-type', 'application/octet-stream');
      if (image.checksum) reply.header('content-md5', image.checksum);
      reply.header('content-length', String(body.end - body.start + 1));
      if (range) {
        reply.status(206).header('content-range', `bytes ${body.start}-${body.end}/${body.size}`);
      }
      return reply.send(body.stream);
    },
  );

  app.put(
    '/v2/images/:image_id/stage',
    { schema: { params: ImageParams } },
    async (request, reply) => {
      const image = await load(request);
      // Glance: staging has no rule of its own; it needs what changing the image needs.
      authorize(request, deps, 'modify_image', imageTarget(image));
      await data.stage(image, octetStream(request), {
        ...optional('expectedSize', announcedSize(request, 'x-openstack-image-size')),
      });
      return reply.status(204).send();
    },
  );
}

/** `{key: value}` when value is defined, `{}` otherwise (exactOptionalPropertyTypes). */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]?: V });
}
