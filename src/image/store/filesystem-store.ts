/**
 * Glance's filesystem store: one file per image in a directory, named by image id, addressed as
 * `file:///dir/<id>`. Uploads stream into a temporary file in the same directory while MD5 and
 * SHA-512 are computed, are fsynced, then linked into place atomically (never overwriting), so a
 * reader sees a whole image or none. A crash leaves at most a temp file, which
 * `removeOrphans` sweeps at startup.
 */
import { randomUUID } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { link, open, readdir, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  ImageDataExistsError,
  ImageDataNotFoundError,
  ImageSizeMismatchError,
  ImageTooLargeError,
  InvalidImageLocationError,
  RangeNotSatisfiableError,
  UploadAbortedError,
} from './errors.ts';
import { InlineHasher, type StreamHasher } from './hashers.ts';
import type { ByteRange, GetResult, ImageStore, PutOptions, PutResult } from './image-store.ts';

// Glance image ids are UUIDs; only such names (and our temp files) are ever created or swept.
const UUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
const ID_PATTERN = new RegExp(`^${UUID}$`);
const TEMP_PATTERN = new RegExp(`^\\.${UUID}\\.${UUID}\\.tmp$`);
const WRITE_CHUNK = 1024 * 1024;
// Large reads: fewer thread-pool round trips and socket writes per image.
const READ_CHUNK = 1024 * 1024;

export type RemoveOrphansOptions = {
  /** Leave files younger than this alone (an upload in flight, a location not yet recorded);
   * default one hour. */
  minAgeMs?: number;
  /** The current time (injected clock); default now. */
  now?: Date;
};

export type FilesystemStoreOptions = {
  /** How uploads are hashed (default: on the calling thread). */
  hasher?: StreamHasher;
};

export class FilesystemStore implements ImageStore {
  readonly dir: string;
  readonly #hasher: StreamHasher;

  /** `dir` must exist; it is resolved to an absolute path once. */
  constructor(dir: string, options: FilesystemStoreOptions = {}) {
    this.dir = resolve(dir);
    this.#hasher = options.hasher ?? new InlineHasher();
  }

  locationOf(imageId: string): string {
    return pathToFileURL(this.#pathOf(imageId)).href;
  }

  #pathOf(imageId: string): string {
    if (!ID_PATTERN.test(imageId)) throw new InvalidImageLocationError('Invalid image id.');
    return join(this.dir, imageId);
  }

  /** The file a location of this store names; anything else is InvalidImageLocationError. */
  #pathFromLocation(location: string): string {
    let path: string;
    try {
      path = fileURLToPath(location);
    } catch {
      throw new InvalidImageLocationError('Location is not a file:// URI of this store.');
    }
    const name = path.slice(this.dir.length + 1);
    if (!path.startsWith(`${this.dir}/`) || !ID_PATTERN.test(name)) {
      throw new InvalidImageLocationError('Location is outside this store.');
    }
    return path;
  }

  async put(imageId: string, source: Readable, options: PutOptions): Promise<PutResult> {
    const finalPath = this.#pathOf(imageId);
    const tempPath = join(this.dir, `.${imageId}.${randomUUID()}.tmp`);
    const hashing = this.#hasher.start();
    let size = 0;
    const tap = new Transform({
      highWaterMark: WRITE_CHUNK,
      transform(chunk: Buffer, _encoding, callback) {
        size += chunk.length;
        if (size > options.maxBytes) {
          callback(new ImageTooLargeError(options.maxBytes));
          return;
        }
        const wait = hashing.update(chunk);
        if (wait === undefined) callback(null, chunk);
        else wait.then(() => callback(null, chunk), callback);
      },
    });
    const file = await open(
      tempPath,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL,
      0o640,
    );
    let digests;
    try {
      try {
        const sink = fileSink(file);
        await pipeline(source, tap, sink, options.signal ? { signal: options.signal } : {});
        if (options.expectedSize !== undefined && size !== options.expectedSize) {
          throw new ImageSizeMismatchError(options.expectedSize, size);
        }
        digests = await hashing.digest();
      } finally {
        await file.close();
      }
      try {
        await link(tempPath, finalPath);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new ImageDataExistsError();
        throw err;
      }
      await unlink(tempPath);
      await this.#syncDir();
    } catch (err) {
      hashing.abort();
      await rm(tempPath, { force: true });
      throw uploadError(err);
    }
    return {
      location: pathToFileURL(finalPath).href,
      size,
      checksum: digests.md5,
      osHashAlgo: 'sha512',
      osHashValue: digests.sha512,
    };
  }

  /** Makes the new directory entry durable, as the file's own fsync does not. */
  async #syncDir(): Promise<void> {
    const dir = await open(this.dir, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  async get(location: string, range: ByteRange = {}): Promise<GetResult> {
    const path = this.#pathFromLocation(location);
    let file;
    try {
      file = await open(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ImageDataNotFoundError();
      throw err;
    }
    try {
      // Stat the open file, not the path: a concurrent delete cannot change what we stream.
      const { size } = await file.stat();
      const start = range.start ?? 0;
      const end = Math.min(range.end ?? size - 1, size - 1);
      const valid =
        Number.isSafeInteger(start) && Number.isSafeInteger(end) && start >= 0 && start <= end;
      if (!valid && !(size === 0 && range.start === undefined && range.end === undefined)) {
        throw new RangeNotSatisfiableError(size);
      }
      const stream = file.createReadStream({
        start,
        end: Math.max(end, start),
        autoClose: true,
        highWaterMark: READ_CHUNK,
      });
      return { stream, size, start, end };
    } catch (err) {
      await file.close();
      throw err;
    }
  }

  async delete(location: string): Promise<void> {
    await rm(this.#pathFromLocation(location), { force: true });
  }

  async exists(location: string): Promise<boolean> {
    let info: Stats;
    try {
      info = await stat(this.#pathFromLocation(location));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    return info.isFile();
  }

  /**
   * Startup sweep: deletes temp files left by a crash and image files no known location names,
   * if older than `minAgeMs`. Returns the names it removed. Other files are never touched.
   */
  async removeOrphans(
    knownLocations: Iterable<string>,
    options: RemoveOrphansOptions = {},
  ): Promise<string[]> {
    const known = new Set<string>();
    for (const location of knownLocations) {
      try {
        known.add(this.#pathFromLocation(location));
      } catch {
        // Locations of other stores (or other directories) own nothing here.
      }
    }
    const cutoff = (options.now ?? new Date()).getTime() - (options.minAgeMs ?? 3_600_000);
    const removed: string[] = [];
    for (const entry of await readdir(this.dir, { withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const path = join(this.dir, entry.name);
      const orphan =
        TEMP_PATTERN.test(entry.name) || (ID_PATTERN.test(entry.name) && !known.has(path));
      if (!orphan) continue;
      const info = await stat(path).catch(() => undefined);
      if (info === undefined || info.mtimeMs > cutoff) continue;
      await rm(path, { force: true });
      removed.push(entry.name);
    }
    return removed.sort();
  }
}

/** A Writable over an open file that fsyncs before it finishes; the caller closes the file. */
function fileSink(file: FileHandle): Writable {
  const writeAll = async (buffers: Buffer[]) => {
    let pending = buffers;
    while (pending.length > 0) {
      let { bytesWritten } = await file.writev(pending);
      // A short write (rare on regular files) resumes after the bytes that made it.
      const rest: Buffer[] = [];
      for (const b of pending) {
        if (bytesWritten >= b.length) bytesWritten -= b.length;
        else {
          rest.push(b.subarray(bytesWritten));
          bytesWritten = 0;
        }
      }
      pending = rest;
    }
  };
  return new Writable({
    highWaterMark: WRITE_CHUNK,
    writev(chunks, callback) {
      writeAll(chunks.map((c) => c.chunk as Buffer)).then(() => callback(), callback);
    },
    final(callback) {
      file.sync().then(() => callback(), callback);
    },
  });
}

function uploadError(err: unknown): unknown {
  if (
    err instanceof ImageTooLargeError ||
    err instanceof ImageSizeMismatchError ||
    err instanceof ImageDataExistsError
  ) {
    return err;
  }
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  // Disk full or a permission problem is the server's, not the client's.
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EACCES' || code === 'EIO') return err;
  return new UploadAbortedError({ cause: err });
}
