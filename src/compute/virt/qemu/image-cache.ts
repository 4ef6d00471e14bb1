/**
 * The base images guests' disks are overlays on, one file per image in `<root>/base/`, shared by
 * every QEMU host of the machine (as Nova's `_base`). An image is fetched once, checked (a qcow2
 * naming a backing or data file of its own is refused: it could read the host's files), and
 * kept while any guest's overlay uses it. `clean` removes the images no guest uses that nobody
 * fetched for `minAgeMs` (Nova's `remove_unused_original_minimum_age_seconds`).
 */
import { mkdir, readdir, readFile, rename, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import {
  qemuImgInfo,
  type DiskFormat,
  type PrivilegedRunner,
} from '../../../common/privileged/index.ts';

export type QemuImage = { readonly path: string; readonly format: DiskFormat };

/** Writes image `imageId`'s data into `file`; resolves to the image's disk format. */
export type FetchImage = (imageId: string, file: string) => Promise<string>;

/** The image cannot back a guest here (its format, or a backing file of its own). */
export class UnusableImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnusableImageError';
  }
}

/** Hosts' guest folders in the machine folder start with this (see `hostFolder`). */
export const HOST_FOLDER_PREFIX = 'host-';

const BOOTABLE: readonly DiskFormat[] = ['raw', 'qcow2'];
const IMAGE_ID = /^[A-Za-z0-9-]{1,64}$/;

export type BaseImageCacheOptions = {
  /** The machine's QEMU folder: images in `base/`, guests in `host-<digest>/<uuid>/`. */
  readonly root: string;
  readonly fetch: FetchImage;
  readonly runner?: PrivilegedRunner;
};

export class BaseImageCache {
  readonly #o: BaseImageCacheOptions;
  readonly #fetching = new Map<string, Promise<QemuImage>>();
  /** Images handed out and not yet released: a guest is being made on them. */
  readonly #pinned = new Map<string, number>();

  constructor(options: BaseImageCacheOptions) {
    this.#o = options;
  }

  get dir(): string {
    return join(this.#o.root, 'base');
  }

  /**
   * The local file of image `imageId`, fetched when missing, pinned until `release(path)` so a
   * clean cannot take it before the guest's folder refers to it.
   * @throws UnusableImageError for an image no guest can be made on.
   */
  async acquire(imageId: string): Promise<QemuImage> {
    if (!IMAGE_ID.test(imageId)) throw new UnusableImageError(`bad image id ${imageId}`);
    let pending = this.#fetching.get(imageId);
    if (pending === undefined) {
      pending = this.#ensure(imageId).finally(() => this.#fetching.delete(imageId));
      this.#fetching.set(imageId, pending);
    }
    const image = await pending;
    this.#pinned.set(image.path, (this.#pinned.get(image.path) ?? 0) + 1);
    return image;
  }

  release(path: string): void {
    const n = (this.#pinned.get(path) ?? 0) - 1;
    if (n > 0) this.#pinned.set(path, n);
    else this.#pinned.delete(path);
  }

  async #ensure(imageId: string): Promise<QemuImage> {
    for (const format of BOOTABLE) {
      const path = join(this.dir, `${imageId}.${format}`);
      try {
        const now = new Date();
        await utimes(path, now, now);
        return { path, format };
      } catch {
        // Not cached in this format.
      }
    }
    await mkdir(this.dir, { recursive: true });
    const partial = join(this.dir, `${imageId}.download`);
    try {
      const format = await this.#o.fetch(imageId, partial);
      if (!(BOOTABLE as readonly string[]).includes(format))
        throw new UnusableImageError(
          `Image ${imageId} has disk format ${format}; QEMU guests boot raw and qcow2 images.`,
        );
      const info = await qemuImgInfo(partial, {
        format: format as DiskFormat,
        roots: [this.dir],
        ...(this.#o.runner === undefined ? {} : { runner: this.#o.runner }),
      });
      if (info.backingFilename !== undefined || info.dataFile !== undefined)
        throw new UnusableImageError(
          `Image ${imageId} names a file of its own (backing or data file); it is refused.`,
        );
      const path = join(this.dir, `${imageId}.${format}`);
      await rename(partial, path);
      return { path, format: format as DiskFormat };
    } finally {
      await rm(partial, { force: true });
    }
  }

  /** Base image files with the number of guests (of any host of the machine) on each. */
  async references(): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    let files: string[];
    try {
      files = (await readdir(this.dir)).filter((f) => /\.(raw|qcow2)$/.test(f));
    } catch {
      return counts;
    }
    for (const f of files) counts.set(join(this.dir, f), 0);
    const hosts = (await readdir(this.#o.root)).filter((f) => f.startsWith(HOST_FOLDER_PREFIX));
    for (const host of hosts) {
      const folder = join(this.#o.root, host);
      for (const guest of await readdir(folder).catch(() => [])) {
        const path = await readFile(join(folder, guest, 'guest.json'), 'utf8')
          .then((text) => (JSON.parse(text) as { image?: { path?: unknown } }).image?.path)
          .catch(() => undefined);
        if (typeof path === 'string' && counts.has(path))
          counts.set(path, (counts.get(path) ?? 0) + 1);
      }
    }
    return counts;
  }

  /** Removes base images no guest uses and nobody fetched for `minAgeMs`; returns their paths. */
  async clean(minAgeMs: number, now = Date.now()): Promise<string[]> {
    const removed: string[] = [];
    for (const [path, count] of await this.references()) {
      if (count > 0 || this.#pinned.has(path)) continue;
      const used = await stat(path).then(
        (s) => s.mtimeMs,
        () => undefined,
      );
      if (used === undefined || now - used < minAgeMs) continue;
      await rm(path, { force: true });
      removed.push(path);
    }
    return removed;
  }
}
