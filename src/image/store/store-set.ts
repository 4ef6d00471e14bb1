/**
 * The stores of a deployment by id (Glance's `enabled_backends`): the default `file` store plus any
 * configured ones. Image locations carry their store id in `metadata.store`; a location without
 * one (written before stores had ids) belongs to the default store.
 */
import { ConflictError } from '../../common/errors.ts';
import type { ImageStore } from './image-store.ts';

export type StoreEntry = { id: string; description?: string; store: ImageStore };

/** One place an image's data lives, as `image.locations` holds it. */
export type ImageLocation = { url: string; metadata: { store?: string } & Record<string, unknown> };

export class UnknownStoreError extends ConflictError {
  constructor(id: string) {
    super(
      `Unknown store ${id}: see /v2/info/stores for the stores of this cloud.`,
      'image.unknown_store',
    );
  }
}

export class StoreSet {
  readonly #entries: Map<string, StoreEntry>;
  readonly defaultId: string;

  /** @throws Error when `defaultId` is not among `entries` (the caller turns it into a start-up error). */
  constructor(entries: readonly StoreEntry[], defaultId: string) {
    this.#entries = new Map(entries.map((e) => [e.id, e]));
    if (!this.#entries.has(defaultId))
      throw new Error(`default store ${defaultId} is not configured`);
    this.defaultId = defaultId;
  }

  /** More than one store: Glance's multi-store mode (store ids in views and headers). */
  get multiple(): boolean {
    return this.#entries.size > 1;
  }

  list(): StoreEntry[] {
    return [...this.#entries.values()];
  }

  ids(): string[] {
    return [...this.#entries.keys()];
  }

  /** @throws UnknownStoreError (409, as Glance answers an unknown store). */
  get(id: string): ImageStore {
    const entry = this.#entries.get(id);
    if (!entry) throw new UnknownStoreError(id);
    return entry.store;
  }

  has(id: string): boolean {
    return this.#entries.has(id);
  }

  /** The store a location belongs to, or undefined for one of a store no longer configured. */
  storeOf(location: ImageLocation): ImageStore | undefined {
    return this.#entries.get(storeIdOf(location, this.defaultId))?.store;
  }
}

/** The store id of a location (`metadata.store`, else the default store). */
export function storeIdOf(location: ImageLocation, defaultId: string): string {
  const id = location.metadata.store;
  return typeof id === 'string' ? id : defaultId;
}

/** The well-formed locations of an image (`locations` is JSON from the database). */
export function locationsOf(raw: readonly unknown[]): ImageLocation[] {
  const out: ImageLocation[] = [];
  for (const item of raw) {
    if (typeof item !== 'object' || item === null) continue;
    const { url, metadata } = item as { url?: unknown; metadata?: unknown };
    if (typeof url !== 'string') continue;
    const meta = typeof metadata === 'object' && metadata !== null ? metadata : {};
    out.push({ url, metadata: meta as ImageLocation['metadata'] });
  }
  return out;
}
