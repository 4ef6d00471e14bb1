/**
 * The image client other services use (type-only; `src/cli` builds it): image records over the
 * Glance v2 HTTP API. A lookup for a user passes the user's token, so an image the user cannot
 * see is "not found" for them.
 */
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { JsonClient, type JsonClientOptions } from '../common/http/json-client.ts';

export type ImageSummary = {
  id: string;
  name: string | null;
  status: string;
  visibility: string;
  owner: string | null;
  size: number | null;
  min_disk: number;
  min_ram: number;
  disk_format: string | null;
  container_format: string | null;
  /** Every other property (`hw_*`, `os_distro`, …) as the image carries it. */
  [property: string]: unknown;
};

export type AsUser = { token?: string; globalRequestId?: string | undefined };

/** A new image record: Glance's core fields and any extra properties, all strings. */
export type NewImage = {
  name: string;
  disk_format: string;
  container_format: string;
  visibility?: string;
  min_disk?: number;
  min_ram?: number;
  [property: string]: string | number | undefined;
};

export interface ImageClient {
  /** The image, or undefined when it does not exist or the caller cannot see it. */
  getImage(id: string, as?: AsUser): Promise<ImageSummary | undefined>;
  /** Creates an image record (queued, no data yet) owned by the caller's project. */
  createImage(image: NewImage, as?: AsUser): Promise<ImageSummary>;
  /** Uploads the image's data; the image becomes active. */
  uploadImage(id: string, data: Uint8Array, as?: AsUser): Promise<void>;
  /**
   * Streams the image's data into the file `path` (written under a temporary name and renamed
   * when whole); returns the image as it was when its data was checked.
   * @throws ImageDataError when the image has no data, or the data does not match its checksum.
   */
  downloadImage(id: string, path: string, as?: AsUser): Promise<ImageSummary>;
  /** Deletes the image; one that is gone already is fine. */
  deleteImage(id: string, as?: AsUser): Promise<void>;
  /** Where clients find the image (`Location` of Nova's createImage before 2.45). */
  imageUrl(id: string): string;
}

/** The image's data cannot be had: not active, missing, or not what its checksum says. */
export class ImageDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageDataError';
  }
}

export class HttpImageClient implements ImageClient {
  readonly #http: JsonClient;
  readonly #baseUrl: string;

  constructor(options: Omit<JsonClientOptions, 'service'>) {
    this.#http = new JsonClient({ ...options, service: 'image' });
    this.#baseUrl = options.baseUrl;
  }

  async createImage(image: NewImage, as: AsUser = {}): Promise<ImageSummary> {
    const reply = await this.#http.request('POST', '/v2/images', { ...as, body: image });
    return reply.body as ImageSummary;
  }

  async uploadImage(id: string, data: Uint8Array, as: AsUser = {}): Promise<void> {
    await this.#http.request('PUT', `/v2/images/${encodeURIComponent(id)}/file`, {
      ...as,
      raw: { contentType: 'application/octet-stream', data },
    });
  }

  async deleteImage(id: string, as: AsUser = {}): Promise<void> {
    await this.#http.request('DELETE', `/v2/images/${encodeURIComponent(id)}`, {
      ...as,
      expect: [204, 404],
    });
  }

  async downloadImage(id: string, path: string, as: AsUser = {}): Promise<ImageSummary> {
    const image = await this.getImage(id, as);
    if (image === undefined) throw new ImageDataError(`Image ${id} could not be found.`);
    if (image.status !== 'active')
      throw new ImageDataError(`Image ${id} is ${image.status}, not active: it has no data.`);
    const partial = `${path}.part`;
    try {
      const got = await this.#http.download(
        `/v2/images/${encodeURIComponent(id)}/file`,
        createWriteStream(partial),
        as,
      );
      if (typeof image['checksum'] === 'string' && got.md5 !== image['checksum'])
        throw new ImageDataError(
          `Image ${id}'s data has MD5 ${got.md5}, not its checksum ${image['checksum']}.`,
        );
      await rename(partial, path);
      return image;
    } finally {
      await rm(partial, { force: true });
    }
  }

  imageUrl(id: string): string {
    return `${this.#baseUrl}/v2/images/${id}`;
  }

  async getImage(id: string, as: AsUser = {}): Promise<ImageSummary | undefined> {
    const reply = await this.#http.request('GET', `/v2/images/${encodeURIComponent(id)}`, {
      ...as,
      expect: [200, 404],
    });
    return reply.status === 404 ? undefined : (reply.body as ImageSummary);
  }
}
