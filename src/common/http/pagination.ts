/**
 * Marker pagination as the OpenStack APIs share it: `limit` and `marker` query parameters, and a
 * `next` link that repeats the query with the last item as the new marker. Services pick the
 * field that carries the links (`servers_links`, `networks_links`, glance's `next`).
 */
import { BadRequestError } from '../errors.ts';

export type PageRequest = {
  /** Items to return: the requested limit capped by the service maximum. */
  limit: number;
  marker: string | undefined;
};

export type PageLink = { href: string; rel: 'next' };

type Query = Readonly<Record<string, unknown>>;

/** A repeated parameter counts by its last value, as webob reads it. */
function single(query: Query, name: string): string | undefined {
  const raw: unknown = query[name];
  const v: unknown = Array.isArray(raw) ? (raw as unknown[])[raw.length - 1] : raw;
  if (v === undefined || v === null) return undefined;
  return typeof v === 'string' || typeof v === 'number' ? String(v) : JSON.stringify(v);
}

/** Reads `limit` and `marker`; a limit that is not a non-negative integer is a 400. */
export function parsePageRequest(query: Query, maxLimit: number): PageRequest {
  const rawLimit = single(query, 'limit');
  let limit = maxLimit;
  if (rawLimit !== undefined) {
    if (!/^\d+$/.test(rawLimit.trim())) {
      throw new BadRequestError(
        `Invalid limit '${rawLimit}': limit must be a non-negative integer.`,
        'common.invalid_limit',
      );
    }
    limit = Math.min(Number(rawLimit), maxLimit);
  }
  const marker = single(query, 'marker');
  return { limit, marker: marker === '' ? undefined : marker };
}

/**
 * The `next` link of a page, or none when the page is the last one: a page shorter than its
 * limit is the last, as upstream decides it (a full page may be followed by an empty one).
 */
export function nextPageLink(
  baseUrl: string,
  query: Query,
  page: PageRequest,
  returned: number,
  lastId: string | undefined,
): PageLink[] {
  if (lastId === undefined || returned < page.limit || page.limit === 0) return [];
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (key === 'marker' || key === 'limit' || value === undefined) continue;
    const values: unknown[] = Array.isArray(value) ? (value as unknown[]) : [value];
    for (const v of values) params.append(key, typeof v === 'string' ? v : JSON.stringify(v));
  }
  params.set('limit', String(page.limit));
  params.set('marker', lastId);
  return [{ href: `${baseUrl}?${params.toString()}`, rel: 'next' }];
}

/**
 * Pages an in-memory, already sorted list (small lists, tests); SQL listings page in the query.
 * An unknown marker is a 400, as upstream answers it.
 */
export function paginate<T>(
  items: readonly T[],
  page: PageRequest,
  idOf: (item: T) => string,
): T[] {
  let start = 0;
  if (page.marker !== undefined) {
    const at = items.findIndex((item) => idOf(item) === page.marker);
    if (at < 0) {
      throw new BadRequestError(
        `Marker ${page.marker} could not be found.`,
        'common.marker_not_found',
      );
    }
    start = at + 1;
  }
  return items.slice(start, start + page.limit);
}
