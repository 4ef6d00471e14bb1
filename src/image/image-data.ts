/**
 * Image data (Glance's data path and import flows): direct upload, staging, `glance-direct` and
 * `copy-image` imports, download, deletion, and the recovery of work a crash interrupted.
 *
 * Work in progress renews a lease (the image's `updated_at`) while it streams; `recover` moves
 * images whose lease ran out back to where a client can retry: an upload to `queued`, an import
 * to `uploading` (staged data kept) or `queued`, a copy's lock released with its stores marked
 * failed. The service runs it at start and every lease period.
 */
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Logger } from '../common/logging.ts';
import type { ImageConfig } from './config.ts';
import { conflict, invalid } from './errors.ts';
import type { ImageStatus } from './image-fields.ts';
import { IMPORT_LOCK, type Image, type Images } from './images.ts';
import type { ByteRange, GetResult, ImageStore, PutResult } from './store/image-store.ts';
import type { FilesystemStore } from './store/filesystem-store.ts';
import { ImageDataNotFoundError } from './store/errors.ts';
import { locationsOf, storeIdOf, type ImageLocation, type StoreSet } from './store/store-set.ts';

/** Learns an image's virtual size (qcow2 and friends); undefined when it cannot tell. */
export type VirtualSizeProbe = (
  location: string,
  diskFormat: string | null,
) => Promise<number | undefined>;

export const IMPORTING_TO = 'os_glance_importing_to_stores';
export const FAILED_IMPORT = 'os_glance_failed_import';

export type ImportMethod = 'glance-direct' | 'copy-image';

/** An import request as the API validated its shape. */
export type ImportRequest = {
  method: ImportMethod;
  /** Explicit target stores (`stores`, or the `X-Image-Meta-Store` header). */
  stores?: string[];
  allStores: boolean;
  allStoresMustSucceed: boolean;
};

export type ImageDataOptions = {
  images: Images;
  stores: StoreSet;
  /** Where `glance-direct` stages data before the import. */
  staging: FilesystemStore;
  config: ImageConfig;
  virtualSize: VirtualSizeProbe;
  logger: Logger;
  now?: () => Date;
  /** How long work may go without renewing its lease before `recover` takes it back. */
  leaseMs?: number;
};

/** Statuses in which a transfer is under way. */
const IN_FLIGHT: readonly ImageStatus[] = ['saving', 'importing', 'uploading'];

export class ImageData {
  readonly #images: Images;
  readonly #stores: StoreSet;
  readonly #staging: FilesystemStore;
  readonly #config: ImageConfig;
  readonly #virtualSize: VirtualSizeProbe;
  readonly #logger: Logger;
  readonly #now: () => Date;
  readonly leaseMs: number;
  readonly #running = new Set<Promise<void>>();

  constructor(options: ImageDataOptions) {
    this.#images = options.images;
    this.#stores = options.stores;
    this.#staging = options.staging;
    this.#config = options.config;
    this.#virtualSize = options.virtualSize;
    this.#logger = options.logger;
    this.#now = options.now ?? (() => new Date());
    this.leaseMs = options.leaseMs ?? 60_000;
  }

  /** The import methods this deployment offers: copy-image needs a second store. */
  importMethods(): ImportMethod[] {
    return this.#stores.multiple ? ['glance-direct', 'copy-image'] : ['glance-direct'];
  }

  /**
   * `PUT /file`: queued → saving → active, streamed into `storeId` (default store). Any failure
   * puts the image back to queued with no data kept.
   */
  async upload(
    image: Image,
    source: Readable,
    options: { expectedSize?: number; storeId?: string },
  ): Promise<void> {
    const storeId = options.storeId ?? this.#stores.defaultId;
    const store = this.#stores.get(storeId);
    await this.#images.checkSizeQuota(image.owner, options.expectedSize ?? 0);
    await this.#images.transition(image.id, ['queued'], 'saving');
    let location: string | undefined;
    try {
      const stored = await this.#leased(image.id, () =>
        store.put(image.id, source, {
          maxBytes: this.#config.image_size_cap,
          ...(options.expectedSize !== undefined ? { expectedSize: options.expectedSize } : {}),
        }),
      );
      location = stored.location;
      // The quota counts what arrived, for uploads that did not say their size up front.
      await this.#images.checkSizeQuota(image.owner, stored.size);
      await this.#activate(image, 'saving', stored, [
        { url: stored.location, metadata: { store: storeId } },
      ]);
    } catch (err) {
      if (location !== undefined) await store.delete(location).catch(() => undefined);
      // Glance puts an image whose upload failed back to queued, so the upload can be retried.
      await this.#images.transition(image.id, ['saving'], 'queued').catch(() => undefined);
      throw err;
    }
  }

  /**
   * `PUT /stage`: queued → uploading with the data in the staging area and `size` set. A failed
   * stage leaves the image queued and nothing staged.
   */
  async stage(image: Image, source: Readable, options: { expectedSize?: number }): Promise<void> {
    await this.#images.checkSizeQuota(image.owner, options.expectedSize ?? 0);
    await this.#images.transition(image.id, ['queued'], 'uploading');
    let location: string | undefined;
    try {
      const staged = await this.#leased(image.id, () =>
        this.#staging.put(image.id, source, {
          maxBytes: this.#config.image_size_cap,
          ...(options.expectedSize !== undefined ? { expectedSize: options.expectedSize } : {}),
        }),
      );
      location = staged.location;
      await this.#images.checkSizeQuota(image.owner, staged.size);
      await this.#images.transition(image.id, ['uploading'], 'uploading', { size: staged.size });
    } catch (err) {
      if (location !== undefined) await this.#staging.delete(location).catch(() => undefined);
      await this.#images.transition(image.id, ['uploading'], 'queued').catch(() => undefined);
      throw err;
    }
  }

  /**
   * `POST /import`: checks the preconditions Glance checks (in its order), takes the import lock
   * and starts the work in the background; the API answers 202 at once.
   * @throws ConflictError (409) for a wrong status, missing formats, an unknown store or a held
   *   lock; BadRequestError (400) for stores that make no sense for the method.
   */
  async startImport(image: Image, request: ImportRequest): Promise<void> {
    const { method } = request;
    if (image.status === 'active' && method !== 'copy-image')
      throw conflict('Image with status active cannot be target for import');
    if (image.status !== 'active' && method === 'copy-image')
      throw conflict('Only images with status active can be targeted for copying');
    if (image.status !== 'uploading' && method === 'glance-direct')
      throw conflict("Image needs to be staged before 'glance-direct' method can be used");
    if (!image.container_format) throw conflict("'container_format' needs to be set before import");
    if (!image.disk_format) throw conflict("'disk_format' needs to be set before import");
    let targets = request.allStores
      ? this.#stores.ids()
      : (request.stores ?? [this.#stores.defaultId]);
    for (const id of targets) this.#stores.get(id);
    targets = [...new Set(targets)];
    if (!request.allStoresMustSucceed && !this.#stores.multiple)
      throw invalid('All_stores_must_succeed can only be set with enabled_backends');
    if (method === 'copy-image') {
      const present = new Set(
        locationsOf(image.locations).map((l) => storeIdOf(l, this.#stores.defaultId)),
      );
      if (request.allStores) targets = targets.filter((id) => !present.has(id));
      else {
        const already = targets.find((id) => present.has(id));
        if (already !== undefined) throw invalid(`Image is already present at store '${already}'`);
      }
      // Everything is already everywhere: nothing to do (Glance answers 202 all the same).
      if (targets.length === 0) return;
    } else {
      await this.#images.checkSizeQuota(image.owner, 0);
    }
    await this.#images.lockImport(image.id, randomUUID());
    try {
      if (method === 'glance-direct')
        await this.#images.transition(image.id, ['uploading'], 'importing');
      await this.#images.setSystemProperties(image.id, {
        [IMPORTING_TO]: targets.join(','),
        [FAILED_IMPORT]: null,
      });
    } catch (err) {
      await this.#images.setSystemProperties(image.id, { [IMPORT_LOCK]: null });
      throw err;
    }
    const work = this.#runImport(image, method, targets, request.allStoresMustSucceed)
      .catch((err: unknown) =>
        this.#logger.error({ err, image_id: image.id }, 'image import failed unexpectedly'),
      )
      .finally(() => this.#running.delete(work));
    this.#running.add(work);
  }

  /** Resolves when no import started by this process is still running. */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.all([...this.#running]);
  }

  async #runImport(
    image: Image,
    method: ImportMethod,
    targets: readonly string[],
    allMustSucceed: boolean,
  ): Promise<void> {
    const existing = locationsOf(image.locations);
    const source =
      method === 'glance-direct'
        ? { store: this.#staging as ImageStore, url: this.#staging.locationOf(image.id) }
        : this.#readable(existing);
    const added: ImageLocation[] = [];
    const failed: string[] = [];
    let pending = [...targets];
    let stored: PutResult | undefined;
    for (const id of targets) {
      try {
        if (source === undefined) throw new ImageDataNotFoundError();
        const result = await this.#leased(image.id, async () => {
          const data = await source.store.get(source.url);
          return this.#stores.get(id).put(image.id, data.stream, {
            maxBytes: this.#config.image_size_cap,
            expectedSize: data.size,
          });
        });
        // A copy must be the same bytes; a corrupt source fails the store, not the image.
        if (method === 'copy-image' && result.checksum !== image.checksum) {
          await this.#stores.get(id).delete(result.location);
          throw new Error(`copy to store ${id} does not match the image checksum`);
        }
        stored ??= result;
        added.push({ url: result.location, metadata: { store: id } });
      } catch (err) {
        this.#logger.warn({ err, image_id: image.id, store: id }, 'import to store failed');
        failed.push(id);
      }
      pending = pending.filter((p) => p !== id);
      await this.#images.setSystemProperties(image.id, {
        [IMPORTING_TO]: pending.join(','),
        ...(failed.length > 0 ? { [FAILED_IMPORT]: failed.join(',') } : {}),
      });
    }
    const succeeded = added.length > 0 && (failed.length === 0 || !allMustSucceed);
    if (!succeeded) {
      // Glance: the data goes from the stores it reached and the image stays as it was.
      for (const loc of added)
        await this.#stores
          .storeOf(loc)
          ?.delete(loc.url)
          .catch(() => undefined);
      if (method === 'glance-direct')
        await this.#images.transition(image.id, ['importing'], 'uploading');
    } else {
      try {
        if (method === 'glance-direct' && stored !== undefined) {
          await this.#activate(image, 'importing', stored, added);
          await this.#staging.delete(this.#staging.locationOf(image.id));
        } else {
          const current = await this.#images.find(image.id);
          if (current === undefined) throw new Error('the image was deleted during the copy');
          await this.#images.setLocations(image.id, [...current.locations, ...added]);
        }
      } catch (err) {
        // The image went away (or moved on) meanwhile: keep no data nobody points to.
        for (const loc of added) await this.#stores.storeOf(loc)?.delete(loc.url);
        throw err;
      }
    }
    await this.#images.setSystemProperties(image.id, { [IMPORT_LOCK]: null, [IMPORTING_TO]: '' });
  }

  /** `from` → active with what storing the data learnt (virtual size asked of qemu-img). */
  async #activate(
    image: Image,
    from: ImageStatus,
    stored: PutResult,
    locations: ImageLocation[],
  ): Promise<void> {
    const virtual = await this.#virtualSize(stored.location, image.disk_format);
    await this.#images.transition(image.id, [from], 'active', {
      size: stored.size,
      // Raw data is its own guest-visible size.
      virtual_size: virtual ?? (image.disk_format === 'raw' ? stored.size : null),
      checksum: stored.checksum,
      os_hash_algo: stored.osHashAlgo,
      os_hash_value: stored.osHashValue,
      locations,
    });
  }

  /** The first location whose store is configured, to read an image's data from. */
  #readable(locations: readonly ImageLocation[]): { store: ImageStore; url: string } | undefined {
    for (const loc of locations) {
      const store = this.#stores.storeOf(loc);
      if (store) return { store, url: loc.url };
    }
    return undefined;
  }

  /** Streams an image's data, or a range of it. @throws ImageDataNotFoundError (404). */
  async open(image: Image, range?: ByteRange): Promise<GetResult> {
    const source = this.#readable(locationsOf(image.locations));
    if (source === undefined) throw new ImageDataNotFoundError();
    return source.store.get(source.url, range);
  }

  /** Deletes an image's data from every store and from staging; missing data is fine. */
  async deleteData(image: Image): Promise<void> {
    for (const loc of locationsOf(image.locations)) {
      await this.#stores.storeOf(loc)?.delete(loc.url);
    }
    await this.#staging.delete(this.#staging.locationOf(image.id));
  }

  /**
   * Takes back work whose lease ran out (a crashed process, a lost request): see the file
   * comment. Returns the ids it changed.
   */
  async recover(): Promise<string[]> {
    const before = new Date(this.#now().getTime() - this.leaseMs);
    const changed: string[] = [];
    for (const image of await this.#images.stalled(IN_FLIGHT, before)) {
      // Staging sets `size` when it completes, so the record alone tells a finished stage from
      // one cut off; the staged file may sit on another host's disk (scale-out), so it is not
      // looked for here.
      const staged = image.size !== null;
      const to: ImageStatus | undefined =
        image.status === 'saving'
          ? 'queued'
          : image.status === 'importing' || image.status === 'uploading'
            ? staged
              ? 'uploading'
              : 'queued'
            : undefined;
      if (to !== undefined && to !== image.status)
        await this.#images.transition(image.id, [image.status], to).catch(() => undefined);
      const importing = image.properties[IMPORTING_TO] ?? '';
      if (image.properties[IMPORT_LOCK] !== undefined || importing !== '') {
        const failed = [image.properties[FAILED_IMPORT], importing].filter((s) => s).join(',');
        await this.#images.setSystemProperties(image.id, {
          [IMPORT_LOCK]: null,
          [IMPORTING_TO]: '',
          ...(failed !== '' ? { [FAILED_IMPORT]: failed } : {}),
        });
      }
      if (to !== image.status || importing !== '') changed.push(image.id);
    }
    if (changed.length > 0)
      this.#logger.info({ images: changed }, 'recovered interrupted image work');
    return changed;
  }

  /** Runs `work`, renewing the image's lease while it goes. */
  async #leased<T>(imageId: string, work: () => Promise<T>): Promise<T> {
    const timer = setInterval(
      () => {
        this.#images
          .touch(imageId)
          .catch((err: unknown) =>
            this.#logger.warn({ err, image_id: imageId }, 'could not renew the image lease'),
          );
      },
      Math.max(1000, this.leaseMs / 3),
    );
    timer.unref();
    try {
      return await work();
    } finally {
      clearInterval(timer);
    }
  }
}
