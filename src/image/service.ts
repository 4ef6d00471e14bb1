/** Image (Glance v2): version discovery and the image metadata API. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kysely } from 'kysely';
import { BadRequestError } from '../common/errors.ts';
import { createApp, type App } from '../common/http/app.ts';
import { baseUrlOf, type VersionEntry } from '../common/http/version-discovery.ts';
import { PolicyEnforcer } from '../common/policy/enforcer.ts';
import type { DiskFormat } from '../common/privileged/args.ts';
import { qemuImgInfo } from '../common/privileged/qemu-img.ts';
import type { Service, ServiceContext } from '../common/service.ts';
import type { ApiDeps } from './api/context.ts';
import { PATCH_V20, PATCH_V21 } from './api/image-patch.ts';
import { dataRoutes, type VirtualSizeProbe } from './api/data.ts';
import { imageRoutes } from './api/images.ts';
import { infoRoutes } from './api/info.ts';
import { memberRoutes } from './api/members.ts';
import { schemaRoutes } from './api/schemas.ts';
import { tagRoutes } from './api/tags.ts';
import type { ImageConfig } from './config.ts';
import type { ImageDatabase } from './db/schema.ts';
import { Images } from './images.ts';
import { Members } from './members.ts';
import { IMAGE_POLICY } from './policy.ts';
import { FilesystemStore } from './store/filesystem-store.ts';

export { IMAGE_MIGRATIONS } from './db/migrations.ts';
export { ImageConfigSchema, type ImageConfig } from './config.ts';

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

/** Where the file store keeps image data: `image.data_dir`, else `<data_dir>/images`. */
export function imageDataDir(dataDir: string, config: ImageConfig): string {
  return config.data_dir ?? join(dataDir, 'images');
}

export type ImageServiceOptions = { now?: () => Date };

export function createImageService(
  ctx: ServiceContext,
  config: ImageConfig,
  options: ImageServiceOptions = {},
): Service {
  const db = ctx.database.db as Kysely<ImageDatabase>;
  const dataDir = imageDataDir(ctx.config.data_dir, config);
  mkdirSync(dataDir, { recursive: true });
  const store = new FilesystemStore(dataDir);
  const virtualSize: VirtualSizeProbe = async (location, diskFormat) => {
    // Only formats whose header tells the guest-visible size; raw is its own size.
    if (diskFormat === null || !['qcow2', 'vmdk', 'vdi', 'vhd', 'vhdx'].includes(diskFormat))
      return undefined;
    const info = await qemuImgInfo(fileURLToPath(location), {
      roots: [dataDir],
      format: diskFormat as DiskFormat,
    }).catch((err: unknown) => {
      ctx.logger.warn({ err, location }, 'qemu-img info failed; virtual_size left unknown');
      return undefined;
    });
    return info?.virtualSize;
  };
  const deps: ApiDeps = {
    store,
    db,
    images: new Images(db, config, options.now),
    members: new Members(db, config, options.now),
    policy: new PolicyEnforcer(IMAGE_POLICY, { enforceScope: false }),
    config,
  };
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
  void app.register(async (scope) => {
    const v2 = scope as unknown as App;
    ctx.auth.protect(scope);
    scope.addContentTypeParser(
      [PATCH_V21, PATCH_V20],
      { parseAs: 'string' },
      (_request, body, done) => {
        try {
          done(null, JSON.parse(body as string) as unknown);
        } catch {
          done(
            new BadRequestError(
              'Malformed request body: the body is not valid JSON.',
              'image.malformed_body',
            ),
            undefined,
          );
        }
      },
    );
    // Image data arrives as a raw stream, handed to the store as it comes (no size limit here:
    // the store enforces the image size cap while it streams).
    scope.addContentTypeParser('application/octet-stream', (_request, payload, done) =>
      done(null, payload),
    );
    imageRoutes(v2, deps);
    dataRoutes(v2, { ...deps, store, virtualSize });
    tagRoutes(v2, deps);
    memberRoutes(v2, deps);
    schemaRoutes(v2);
    infoRoutes(v2);
  });
  return { name: 'image', app, close: async () => undefined };
}
