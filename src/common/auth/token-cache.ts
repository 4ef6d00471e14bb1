/**
 * The token middleware's memory of recent validations. Asking identity on every request would
 * make it the bottleneck of the whole cloud; remembering too long would keep a revoked token
 * working. So an answer is kept for a short TTL (5 s by default): a revocation reaches every
 * service within that bound. Refusals are kept more briefly still, so a flood of bad tokens costs
 * identity one lookup per token per second, while a token just issued by another node is soon
 * seen. Keys are SHA-256 digests: a raw token never sits in the map or in a heap dump's keys.
 */
import { createHash } from 'node:crypto';
import type { TokenInfo, ValidateOptions } from './token-validator.ts';

export type TokenCacheOptions = {
  /** Most entries kept; the least recently used goes first (default 10 000). */
  maxEntries?: number;
  /** How long an accepted token is trusted without asking identity again (default 5 000 ms). */
  ttlMs?: number;
  /** How long a refused token stays refused without asking again (default 1 000 ms). */
  negativeTtlMs?: number;
  /** Milliseconds since the epoch; tests inject a manual clock. */
  now?: () => number;
};

type Entry = { readonly info: TokenInfo | null; readonly until: number };

export const DEFAULT_TOKEN_CACHE_TTL_MS = 5_000;
export const DEFAULT_NEGATIVE_TTL_MS = 1_000;
export const DEFAULT_MAX_ENTRIES = 10_000;

/** The cache key of a token: its SHA-256, hex. */
export function tokenDigest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export class TokenCache {
  readonly #entries = new Map<string, Entry>();
  readonly #inflight = new Map<string, Promise<TokenInfo | null>>();
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  readonly #negativeTtlMs: number;
  readonly #now: () => number;

  constructor(options: TokenCacheOptions = {}) {
    this.#maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.#ttlMs = options.ttlMs ?? DEFAULT_TOKEN_CACHE_TTL_MS;
    this.#negativeTtlMs = options.negativeTtlMs ?? DEFAULT_NEGATIVE_TTL_MS;
    this.#now = options.now ?? Date.now;
    if (!(this.#maxEntries >= 1)) throw new RangeError('TokenCache maxEntries must be at least 1');
  }

  /**
   * The remembered validation of `token`, or else the result of `load`, remembered. Concurrent
   * calls for the same token and options share one `load` (a burst of requests with a new token
   * costs identity one lookup). A `load` that throws is not remembered: every waiter gets the
   * error and the next call tries again.
   */
  async resolve(
    token: string,
    options: ValidateOptions,
    load: () => Promise<TokenInfo | null>,
  ): Promise<TokenInfo | null> {
    // An allow-expired answer must never serve a request without a service token, so it has a
    // key of its own.
    const key = tokenDigest(token) + (options.allowExpired === true ? ':allow-expired' : '');
    const hit = this.#get(key);
    if (hit !== undefined) return hit.info;
    const pending = this.#inflight.get(key);
    if (pending !== undefined) return pending;
    const loading = (async () => {
      try {
        const info = await load();
        this.#set(key, info, options.allowExpired === true);
        return info;
      } finally {
        this.#inflight.delete(key);
      }
    })();
    this.#inflight.set(key, loading);
    return loading;
  }

  /** Entries held, live or not yet swept. */
  get size(): number {
    return this.#entries.size;
  }

  clear(): void {
    this.#entries.clear();
  }

  #get(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    if (entry.until <= this.#now()) return undefined;
    // Re-inserting moves the key to the end of the Map's order: the most recently used.
    this.#entries.set(key, entry);
    return entry;
  }

  #set(key: string, info: TokenInfo | null, allowExpired: boolean): void {
    const now = this.#now();
    let until = now + (info === null ? this.#negativeTtlMs : this.#ttlMs);
    // A token is never trusted past its own expiry, except when expiry was explicitly allowed.
    if (info !== null && !allowExpired) until = Math.min(until, info.expiresAt.getTime());
    if (until <= now) return;
    this.#entries.delete(key);
    this.#entries.set(key, { info, until });
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
    }
  }
}
