/**
 * The image data store interface (Glance's glance_store drivers). Stores hold opaque bytes
 * addressed by a location URI; image metadata lives in the image service's database.
 */
import type { Readable } from 'node:stream';

export type PutOptions = {
  /** Refuse (ImageTooLargeError) once more than this many bytes arrived. */
  maxBytes: number;
  /** When given, a different final size is an ImageSizeMismatchError. */
  expectedSize?: number;
  /** Abort the upload from outside (e.g. the request was cancelled). */
  signal?: AbortSignal;
};

export type PutResult = {
  /** Where the data lives, e.g. `file:///var/lib/tstack/images/<id>`. */
  location: string;
  size: number;
  /** MD5 of the data, lowercase hex (Glance's `checksum`). */
  checksum: string;
  osHashAlgo: 'sha512';
  /** SHA-512 of the data, lowercase hex (Glance's `os_hash_value`). */
  osHashValue: string;
};

/** An inclusive byte range, as in `Range: bytes=start-end`. */
export type ByteRange = { start?: number; end?: number };

export type GetResult = {
  stream: Readable;
  /** Size of the whole image. */
  size: number;
  /** First and last byte (inclusive) the stream carries. */
  start: number;
  end: number;
};

export interface ImageStore {
  /**
   * Streams `source` into the store, hashing as it goes; memory use does not depend on the size.
   * Either the whole image is stored or nothing is. Throws ImageTooLargeError,
   * ImageSizeMismatchError, UploadAbortedError, ImageDataExistsError.
   */
  put(imageId: string, source: Readable, options: PutOptions): Promise<PutResult>;
  /** Reads the data, or one inclusive range of it. Throws ImageDataNotFoundError,
   * RangeNotSatisfiableError, InvalidImageLocationError. */
  get(location: string, range?: ByteRange): Promise<GetResult>;
  /** Deletes the data; deleting what is already gone succeeds. */
  delete(location: string): Promise<void>;
  exists(location: string): Promise<boolean>;
}
