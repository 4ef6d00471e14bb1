/** Errors of the image data stores, rendered by the image API in Glance's shape. */
import {
  ApiError,
  BadRequestError,
  ConflictError,
  NotFoundError,
  PayloadTooLargeError,
} from '../../common/errors.ts';

/** The upload passed `maxBytes` (the image size cap or the remaining quota). */
export class ImageTooLargeError extends PayloadTooLargeError {
  readonly maxBytes: number;
  constructor(maxBytes: number) {
    super(`Image exceeds the storage limit of ${maxBytes} bytes.`, 'image.too_large');
    this.maxBytes = maxBytes;
  }
}

/** The source stopped before its end: a client disconnect, an aborted request, a read error. */
export class UploadAbortedError extends BadRequestError {
  constructor(options?: { cause?: unknown }) {
    super(
      'The image upload was interrupted before all data arrived.',
      'image.upload_aborted',
      options,
    );
  }
}

/** The upload ended with a different number of bytes than the caller announced. */
export class ImageSizeMismatchError extends BadRequestError {
  constructor(expected: number, actual: number) {
    super(
      `Size of uploaded data (${actual} bytes) differs from the expected size (${expected} bytes).`,
      'image.size_mismatch',
    );
  }
}

/** Data for this image id is already stored; image data is written once. */
export class ImageDataExistsError extends ConflictError {
  constructor() {
    super('Image data already exists for this image.', 'image.data_exists');
  }
}

/** No data at this location (deleted, never written, or lost). */
export class ImageDataNotFoundError extends NotFoundError {
  constructor() {
    super('Image data could not be found.', 'image.data_not_found');
  }
}

/** A location this store does not own: another scheme, or a path outside its directory. */
export class InvalidImageLocationError extends BadRequestError {
  constructor(message: string) {
    super(message, 'image.location_invalid');
  }
}

/** A byte range outside the image (HTTP 416, with `Content-Range: bytes * /size`). */
export class RangeNotSatisfiableError extends ApiError {
  constructor(size: number) {
    super(416, 'image.range_not_satisfiable', 'Requested range not satisfiable.', {
      headers: { 'content-range': `bytes */${size}` },
    });
  }
}
