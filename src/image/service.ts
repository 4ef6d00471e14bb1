/** Image (Glance v2): version discovery and the image metadata API. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kysely } from 'kysely';
import { BadRequestError, StartupError } from '../common/errors.ts';
import type { Logger } from '../common/logging.ts';
import { createApp, type App } from '../common/http/app.ts';
import { baseUrlOf, type VersionEntry } from '../common/http/version-discovery.ts';
import { PolicyEnforcer } from '../common/policy/enforcer.ts';
import type { DiskFormat } from '../common/privileged/args.ts';
import { qemuImgInfo } from '../common/privileged/qemu-img.ts';
import type { Service, ServiceContext } from '../common/service.ts';
import type { ApiDeps } from './api/context.ts';
import { PATCH_V20, PATCH_V21 } from './api/image-patch.ts';
import { dataRoutes } from './api/data.ts';
import { importRoutes } from './api/import.ts';
import { imageRoutes } from './api/images.ts';
import { infoRoutes } from './api/info.ts';
import { memberRoutes } from './api/members.ts';
import { schemaRoutes } from './api/schemas.ts';
import { tagRoutes } from './api/tags.ts';
import { FILE_STORE, type ImageConfig } from './config.ts';
import type { ImageDatabase } from './db/schema.ts';
import { ImageData, type VirtualSizeProbe } from './image-data.ts';
import { Images } from './images.ts';
import { Members } from './members.ts';
import { IMAGE_POLICY } from './policy.ts';
import { FilesystemStore } from './store/filesystem-store.ts';
import { WorkerHasher, type StreamHasher } from './store/hashers.ts';
import { locationsOf, StoreSet, type StoreEntry } from './store/store-set.ts';

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

export type ImageServiceOptions = {
  now?: () => Date;
  /** How long a transfer may go without renewing its lease before recovery takes it back. */
  leaseMs?: number;
};

/** The configured stores: `file` in the image data directory, then `image.stores`. */
function openStores(dataDir: string, config: ImageConfig, hasher: StreamHasher): StoreSet {
  const entries: StoreEntry[] = [
    {
      id: FILE_STORE,
      description: 'Local filesystem store',
      store: new FilesystemStore(dataDir, { hasher }),
    },
  ];
  for (const [id, store] of Object.entries(config.stores)) {
    if (id === FILE_STORE)
      throw new StartupError(`config key 'image.stores.${id}': '${id}' is the built-in store`);
    mkdirSync(store.data_dir, { recursive: true });
    entries.push({
      id,
      ...(store.description !== undefined ? { description: store.description } : {}),
      store: new FilesystemStore(store.data_dir, { hasher }),
    });
  }
  if (!entries.some((e) => e.id === config.default_store))
    throw new StartupError(
      `config key 'image.default_store': no store '${config.default_store}'; known: ${entries.map((e) => e.id).join(', ')}`,
    );
  return new StoreSet(entries, config.default_store);
}

export async function createImageService(
  ctx: ServiceContext,
  config: ImageConfig,
  options: ImageServiceOptions = {},
): Promise<Service> {
  const db = ctx.database.db as Kysely<ImageDatabase>;
  const dataDir = imageDataDir(ctx.config.data_dir, config);
  const stagingDir = join(dataDir, '.staging');
  mkdirSync(stagingDir, { recursive: true });
  // Hashing on two threads beside the I/O: uploads go about twice as fast (bench/image-api.ts).
  const hasher = new WorkerHasher();
  const stores = openStores(dataDir, config, hasher);
  const staging = new FilesystemStore(stagingDir, { hasher });
  const roots = [dataDir, ...Object.values(config.stores).map((s) => s.data_dir)];
  const virtualSize: VirtualSizeProbe = async (location, diskFormat) => {
    // Only formats whose header tells the guest-visible size; raw is its own size.
    if (diskFormat === null || !['qcow2', 'vmdk', 'vdi', 'vhd', 'vhdx'].includes(diskFormat))
      return undefined;
    const info = await qemuImgInfo(fileURLToPath(location), {
      roots,
      format: diskFormat as DiskFormat,
    }).catch((err: unknown) => {
      ctx.logger.warn({ err, location }, 'qemu-img info failed; virtual_size left unknown');
      return undefined;
    });
    return info?.virtualSize;
  };
  const images = new Images(db, config, options.now);
  const data = new ImageData({
    images,
    stores,
    staging,
    config,
    virtualSize,
    logger: ctx.logger,
    ...(options.now ? { now: options.now } : {}),
    ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
  });
  const deps: ApiDeps = {
    data,
    stores,
    db,
    images,
    members: new Members(db, config, options.now),
    policy: new PolicyEnforcer(IMAGE_POLICY, { enforceScope: false }),
    config,
  };
  await data.recover();
  const sweep = sweepOrphans(ctx.logger, images, stores, staging);
  const reconcile = setInterval(() => {
    data.recover().catch((err: unknown) => ctx.logger.warn({ err }, 'image recovery failed'));
  }, data.leaseMs);
  reconcile.unref();
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
    dataRoutes(v2, deps);
    importRoutes(v2, deps);
    tagRoutes(v2, deps);
    memberRoutes(v2, deps);
    schemaRoutes(v2);
    infoRoutes(v2, deps);
  });
  return {
    name: 'image',
    app,
    close: async () => {
      clearInterval(reconcile);
      await sweep;
      await data.idle();
      await hasher.close();
    },
  };
}

/**
 * Deletes files no image points to: temp files of uploads a crash cut off, data of images whose
 * record is gone, staged data of images no longer waiting for an import. Runs once at start, in
 * the background; files younger than an hour are left alone (another process may be writing).
 */
async function sweepOrphans(
  logger: Logger,
  images: Images,
  stores: StoreSet,
  staging: FilesystemStore,
): Promise<void> {
  try {
    const all = await images.allLocations();
    const known = all.flatMap((i) => locationsOf(i.locations).map((l) => l.url));
    const staged = all
      .filter((i) => i.status === 'uploading' || i.status === 'importing')
      .map((i) => staging.locationOf(i.id));
    const removed: string[] = [];
    for (const entry of stores.list()) {
      if (entry.store instanceof FilesystemStore)
        removed.push(...(await entry.store.removeOrphans(known)));
    }
    removed.push(...(await staging.removeOrphans(staged)));
    if (removed.length > 0) logger.info({ files: removed }, 'removed orphaned image data');
  } catch (err) {
    logger.warn({ err }, 'image orphan sweep failed');
  }
}
