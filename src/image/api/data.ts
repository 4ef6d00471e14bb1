/**
 * Image data: `PUT /v2/images/{id}/file` streams the upload into the store (queued → saving →
 * active, back to queued if anything fails, never a partial image) and `GET` streams it back with
 * `Content-MD5` and byte ranges. Memory stays flat whatever the size.
 */
import type { FastifyRequest } from 'fastify';
import Type from 'typebox';
import type { App } from '../../common/http/app.ts';
import { ForbiddenError } from '../../common/errors.ts';
import type { ImageStatus } from '../image-fields.ts';
import type { Image } from '../images.ts';
import type { ImageStore } from '../store/image-store.ts';
import { authorize, imageTarget, viewerOf, type ApiDeps } from './context.ts';

const ImageParams = Type.Object({ image_id: Type.String({ minLength: 1, maxLength: 64 }) });

/** Learns an image's virtual size (qcow2 and friends); undefined when it cannot tell. */
export type VirtualSizeProbe = (
  location: string,
  diskFormat: string | null,
) => Promise<number | undefined>;

export type DataDeps = ApiDeps & { store: ImageStore; virtualSize: VirtualSizeProbe };

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

export function dataRoutes(app: App, deps: DataDeps): void {
  const { images, store } = deps;

  const load = async (
    request: FastifyRequest<{ Params: { image_id: string } }>,
  ): Promise<Image> => {
    const viewer = viewerOf(request, deps);
    const image = await images.get(viewer, request.params.image_id);
    const member = image.visibility === 'shared' ? viewer.projectId : undefined;
    authorize(request, deps, 'get_image', imageTarget(image, member));
    return image;
  };

  app.put(
    '/v2/images/:image_id/file',
    { schema: { params: ImageParams } },
    async (request, reply) => {
      const image = await load(request);
      authorize(request, deps, 'upload_image', imageTarget(image));
      const declared = request.headers['content-length'];
      const expectedSize = declared === undefined ? undefined : Number(declared);
      await images.checkSizeQuota(image.owner, expectedSize ?? 0);
      await images.transition(image.id, ['queued'], 'saving');
      let location: string | undefined;
      try {
        const stored = await store.put(image.id, request.body as NodeJS.ReadableStream as never, {
          maxBytes: deps.config.image_size_cap,
          ...(expectedSize !== undefined && Number.isFinite(expectedSize) ? { expectedSize } : {}),
        });
        location = stored.location;
        // The quota counts what arrived, for uploads that did not say their size up front.
        await images.checkSizeQuota(image.owner, stored.size);
        const virtual = await deps.virtualSize(stored.location, image.disk_format);
        await images.transition(image.id, ['saving'], 'active', {
          size: stored.size,
          virtual_size: virtual ?? (image.disk_format === 'raw' ? stored.size : null),
          checksum: stored.checksum,
          os_hash_algo: stored.osHashAlgo,
          os_hash_value: stored.osHashValue,
          locations: [{ url: stored.location, metadata: {} }],
        });
      } catch (err) {
        if (location !== undefined) await store.delete(location).catch(() => undefined);
        // Glance puts an image whose upload failed back to queued, so the upload can be retried.
        await images.transition(image.id, ['saving'], 'queued').catch(() => undefined);
        throw err;
      }
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
      const location = (image.locations[0] as { url?: string } | undefined)?.url;
      const withData: readonly ImageStatus[] = ['active', 'deactivated'];
      if (!withData.includes(image.status) || location === undefined)
        return reply.status(204).send();
      const range = parseRange(request.headers.range, image.size ?? 0);
      const data = await store.get(location, range);
      reply.header('content-type', 'application/octet-stream');
      if (image.checksum) reply.header('content-md5', image.checksum);
      reply.header('content-length', String(data.end - data.start + 1));
      if (range) {
        reply.status(206).header('content-range', `bytes ${data.start}-${data.end}/${data.size}`);
      }
      return reply.send(data.stream);
    },
  );
}
