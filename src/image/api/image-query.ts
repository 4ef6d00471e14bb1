/** Reads `GET /v2/images` query parameters the way Glance does; anything malformed is a 400. */
import { invalid } from '../errors.ts';
import {
  SORT_KEYS,
  type ImageFilter,
  type ListRequest,
  type Sort,
  type SortKey,
  type TimeFilter,
} from '../image-list.ts';
import type { ImageConfig } from '../config.ts';

type Query = Readonly<Record<string, unknown>>;

/** Parameters that are not extra-property filters. */
const RESERVED = new Set([
  'limit',
  'marker',
  'sort',
  'sort_key',
  'sort_dir',
  'name',
  'id',
  'status',
  'visibility',
  'owner',
  'tag',
  'member_status',
  'size_min',
  'size_max',
  'created_at',
  'updated_at',
  'os_hidden',
  'protected',
  'disk_format',
  'container_format',
  'checksum',
  'os_hash_value',
]);

function all(query: Query, name: string): string[] {
  const v = query[name];
  if (v === undefined) return [];
  const list = Array.isArray(v) ? (v as unknown[]) : [v];
  return list.map((x) => (typeof x === 'string' ? x : JSON.stringify(x)));
}

function last(query: Query, name: string): string | undefined {
  const values = all(query, name);
  return values[values.length - 1];
}

/** `in:a,b` lists alternatives; a plain value is one. */
function oneOf(query: Query, name: string): string[] | undefined {
  const v = last(query, name);
  if (v === undefined) return undefined;
  if (v.startsWith('in:'))
    return v
      .slice(3)
      .split(',')
      .map((s) => s.replace(/^"|"$/g, ''));
  return [v];
}

function bool(query: Query, name: string): boolean | undefined {
  const v = last(query, name);
  if (v === undefined) return undefined;
  const lower = v.toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(lower)) return true;
  if (['false', '0', 'no', 'off'].includes(lower)) return false;
  throw invalid(`Invalid value '${v.slice(0, 100)}' for the ${name} filter: it must be a boolean.`);
}

function integer(query: Query, name: string): number | undefined {
  const v = last(query, name);
  if (v === undefined) return undefined;
  if (!/^\d{1,15}$/.test(v.trim()))
    throw invalid(
      `Invalid value '${v.slice(0, 100)}' for the ${name} filter: it must be a non-negative integer.`,
    );
  return Number(v);
}

const TIME_OPS = ['gt', 'gte', 'lt', 'lte', 'eq', 'neq'] as const;

function times(query: Query, name: string): TimeFilter[] | undefined {
  const values = all(query, name);
  if (values.length === 0) return undefined;
  return values.map((raw) => {
    const at = raw.indexOf(':');
    const op = at > 0 ? raw.slice(0, at) : '';
    if (!(TIME_OPS as readonly string[]).includes(op))
      throw invalid(
        `Invalid operator in ${name} filter '${raw.slice(0, 100)}': use one of gt, gte, lt, lte, eq, neq followed by ':'.`,
      );
    const date = new Date(raw.slice(at + 1));
    if (!/^\d{4}-\d{2}-\d{2}/.test(raw.slice(at + 1)) || Number.isNaN(date.getTime()))
      throw invalid(`Invalid time format in ${name} filter: '${raw.slice(at + 1, at + 101)}'.`);
    return { op: op as TimeFilter['op'], value: date.toISOString() };
  });
}

function enumOf<T extends string>(
  query: Query,
  name: string,
  allowed: readonly T[],
): T | undefined {
  const v = last(query, name);
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v))
    throw invalid(
      `Invalid ${name} value: ${v.slice(0, 100)}. It must be one of: ${allowed.join(', ')}.`,
    );
  return v as T;
}

function sortKey(key: string): SortKey {
  if (!SORT_KEYS.has(key))
    throw invalid(
      `Invalid sort key: ${key.slice(0, 100)}. It must be one of the following: ${[...SORT_KEYS].join(', ')}.`,
    );
  return key as SortKey;
}

function sortDir(dir: string): 'asc' | 'desc' {
  if (dir !== 'asc' && dir !== 'desc')
    throw invalid(`Invalid sort direction: ${dir.slice(0, 100)}`);
  return dir;
}

function sorts(query: Query): Sort[] {
  const sort = last(query, 'sort');
  const keys = all(query, 'sort_key');
  const dirs = all(query, 'sort_dir');
  if (sort !== undefined) {
    if (keys.length > 0 || dirs.length > 0)
      throw invalid('The sort parameter cannot be combined with sort_key or sort_dir.');
    return sort.split(',').map((part) => {
      const [k = '', d = 'desc'] = part.trim().split(':');
      return { key: sortKey(k), dir: sortDir(d) };
    });
  }
  if (dirs.length > 1 && dirs.length !== keys.length)
    throw invalid('The number of sort_dir values must match the number of sort_key values.');
  const keyList = keys.length > 0 ? keys : ['created_at'];
  return keyList.map((k, i) => ({
    key: sortKey(k),
    dir: sortDir(dirs[dirs.length > 1 ? i : 0] ?? 'desc'),
  }));
}

export function parseListQuery(query: Query, config: ImageConfig): ListRequest {
  const limitRaw = last(query, 'limit');
  let limit = config.limit_param_default;
  if (limitRaw !== undefined) {
    if (!/^\d{1,9}$/.test(limitRaw.trim())) throw invalid('limit param must be an integer');
    limit = Number(limitRaw);
  }
  limit = Math.min(limit, config.api_limit_max);
  const properties: Record<string, string> = {};
  for (const key of Object.keys(query)) {
    if (RESERVED.has(key)) continue;
    const v = last(query, key);
    if (v !== undefined) properties[key] = v;
  }
  const filter: ImageFilter = {
    name: oneOf(query, 'name'),
    id: oneOf(query, 'id'),
    status: oneOf(query, 'status'),
    disk_format: oneOf(query, 'disk_format'),
    container_format: oneOf(query, 'container_format'),
    owner: last(query, 'owner'),
    visibility: enumOf(query, 'visibility', ['public', 'private', 'shared', 'community', 'all']),
    member_status: enumOf(query, 'member_status', ['accepted', 'pending', 'rejected', 'all']),
    tags: all(query, 'tag'),
    size_min: integer(query, 'size_min'),
    size_max: integer(query, 'size_max'),
    created_at: times(query, 'created_at'),
    updated_at: times(query, 'updated_at'),
    os_hidden: bool(query, 'os_hidden'),
    protected: bool(query, 'protected'),
    properties,
  };
  const marker = last(query, 'marker');
  return { filter, sort: sorts(query), limit, marker: marker === '' ? undefined : marker };
}

/** Glance's `next`: the request's own parameters with the new marker. */
export function nextLink(query: Query, lastId: string): string {
  const params = new URLSearchParams();
  for (const key of Object.keys(query)) {
    if (key === 'marker') continue;
    for (const v of all(query, key)) params.append(key, v);
  }
  params.append('marker', lastId);
  return `/v2/images?${params.toString()}`;
}
