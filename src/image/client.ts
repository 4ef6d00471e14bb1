/**
 * The image client other services use (type-only; `src/cli` builds it): image records over the
 * Glance v2 HTTP API. A lookup for a user passes the user's token, so an image the user cannot
 * see is "not found" for them.
 */
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

export interface ImageClient {
  /** The image, or undefined when it does not exist or the caller cannot see it. */
  getImage(id: string, as?: AsUser): Promise<ImageSummary | undefined>;
}

export class HttpImageClient implements ImageClient {
  readonly #http: JsonClient;

  constructor(options: Omit<JsonClientOptions, 'service'>) {
    this.#http = new JsonClient({ ...options, service: 'image' });
  }

  async getImage(id: string, as: AsUser = {}): Promise<ImageSummary | undefined> {
    const reply = await this.#http.request('GET', `/v2/images/${encodeURIComponent(id)}`, {
      ...as,
      expect: [200, 404],
    });
    return reply.status === 404 ? undefined : (reply.body as ImageSummary);
  }
}
