/**
 * Listing as Neutron's API layer does it for every collection: filters on attributes (a repeated
 * filter is an any-of), tag filters, `fields=`, sorting by `sort_key`/`sort_dir` pairs, and marker
 * pagination with `limit` and `page_reverse`. Filters and sorting run in SQL; the marker becomes
 * a keyset condition on the sort keys, with the id as the last key so the order is total.
 */
import { sql, type Expression, type Kysely, type SqlBool } from 'kysely';
import type { NetworkDatabase } from './db/schema.ts';
import { badRequest, invalidInput } from './errors.ts';
import { BadRequestError } from '../common/errors.ts';

export type AttrKind = 'string' | 'int' | 'bool';

/** A wire attribute stored in one column, which filters and sorting can use. */
export type Attr = {
  readonly column: string;
  readonly kind: AttrKind;
  /** Nullable columns can be filtered on, not sorted by. */
  readonly nullable?: boolean;
};

export type ListSpec = {
  readonly attrs: Readonly<Record<string, Attr>>;
  /** Filters the resource handles itself (e.g. a port's `fixed_ips`). */
  readonly special?: ReadonlySet<string>;
  /** The `tags` table's resource type, when the resource has tags. */
  readonly tagType?: string;
};

export type TagFilters = {
  readonly all: readonly string[];
  readonly any: readonly string[];
  readonly notAll: readonly string[];
  readonly notAny: readonly string[];
};

export type Sort = { readonly attr: string; readonly column: string; readonly dir: 'asc' | 'desc' };

export type ListQuery = {
  /** Column → the values any of which matches (already converted). */
  readonly filters: ReadonlyMap<string, readonly (string | number)[]>;
  readonly special: ReadonlyMap<string, readonly string[]>;
  readonly tags: TagFilters;
  readonly sorts: readonly Sort[];
  readonly limit: number | undefined;
  readonly marker: string | undefined;
  readonly pageReverse: boolean;
  /** Attributes to return; undefined for all. */
  readonly fields: readonly string[] | undefined;
};

const PAGING = new Set(['limit', 'marker', 'page_reverse', 'sort_key', 'sort_dir', 'fields']);
const TAG_FILTERS = new Set(['tags', 'tags-any', 'not-tags', 'not-tags-any']);

function values(raw: unknown): string[] {
  if (raw === undefined || raw === null) return [];
  const list: unknown[] = Array.isArray(raw) ? (raw as unknown[]) : [raw];
  const out = list.map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
  if (out.some((v) => v.includes('\u0000')))
    throw badRequest('Query values may not contain NUL characters');
  return out;
}

/** The database columns are 32-bit. */
const INT_MAX = 2 ** 31 - 1;

/** neutron-lib's convert_to_boolean. */
export function toBoolean(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 0 || value === 1) return value === 1;
  if (typeof value === 'string') {
    const lower = value.toLowerCase();
    if (lower === 'true' || lower === '1') return true;
    if (lower === 'false' || lower === '0') return false;
  }
  const shown = typeof value === 'string' ? value : JSON.stringify(value);
  throw invalidInput(`'${shown}' cannot be converted to boolean`);
}

function convert(attr: Attr, name: string, value: string): string | number {
  if (attr.kind === 'bool') return toBoolean(value) ? 1 : 0;
  if (attr.kind === 'int') {
    if (!/^-?\d+$/.test(value.trim()) || Math.abs(Number(value)) > INT_MAX)
      throw badRequest(`Invalid input for ${name}. Reason: '${value}' is not an integer.`);
    return Number(value);
  }
  return value;
}

/**
 * Reads the query string of a list request.
 * @throws BadRequestError (400) for a filter on an unknown attribute, a bad value, a sort key
 *   that cannot be sorted, unpaired sort keys and directions, or a bad limit.
 */
export function parseListQuery(
  query: Readonly<Record<string, unknown>>,
  spec: ListSpec,
): ListQuery {
  const filters = new Map<string, (string | number)[]>();
  const special = new Map<string, string[]>();
  const tag = (name: string): string[] =>
    values(query[name])
      .flatMap((v) => v.split(','))
      .filter((t) => t !== '');
  for (const [key, raw] of Object.entries(query)) {
    if (PAGING.has(key) || TAG_FILTERS.has(key)) continue;
    if (spec.special?.has(key)) {
      special.set(key, values(raw));
      continue;
    }
    const attr = spec.attrs[key];
    if (!attr) throw badRequest(`['${key}'] is invalid attribute for filtering`);
    const converted = values(raw).map((v) => convert(attr, key, v));
    filters.set(attr.column, [...(filters.get(attr.column) ?? []), ...converted]);
  }
  const keys = values(query['sort_key']);
  const dirs = values(query['sort_dir']);
  if (keys.length !== dirs.length && dirs.length > 0)
    throw badRequest('The number of sort_keys and sort_dirs must be same');
  const sorts: Sort[] = keys.map((key, i) => {
    const attr = spec.attrs[key];
    if (!attr || attr.nullable === true)
      throw badRequest(`['${key}'] is invalid attribute for sort_keys`);
    const dir = dirs[i] ?? 'asc';
    if (dir !== 'asc' && dir !== 'desc')
      throw badRequest(
        `['${dir}'] is invalid value for sort_dirs, valid value is 'asc' and 'desc'`,
      );
    return { attr: key, column: attr.column, dir };
  });
  if (!sorts.some((s) => s.column === 'id'))
    sorts.push({ attr: 'id', column: 'id', dir: sorts[0]?.dir ?? 'asc' });
  const limitText = values(query['limit']).at(-1);
  let limit: number | undefined;
  if (limitText !== undefined && limitText !== '') {
    if (!/^\d+$/.test(limitText))
      throw new BadRequestError(
        `Bad limit request: Limit must be an integer 0 or greater and not '${limitText}'.`,
        'network.bad_request',
        { details: { type: 'BadRequest' } },
      );
    // Past every engine's row counts; also keeps the number an integer literal in SQL.
    limit = Math.min(Number(limitText), INT_MAX);
    if (limit === 0) limit = undefined;
  }
  const fields = values(query['fields'])
    .flatMap((f) => f.split(','))
    .filter((f) => f !== '');
  const pageReverse = values(query['page_reverse']).at(-1);
  return {
    filters,
    special,
    tags: {
      all: tag('tags'),
      any: tag('tags-any'),
      notAll: tag('not-tags'),
      notAny: tag('not-tags-any'),
    },
    sorts,
    limit,
    marker: values(query['marker']).at(-1) || undefined,
    pageReverse: pageReverse !== undefined && toBoolean(pageReverse),
    fields: fields.length > 0 ? fields : undefined,
  };
}

/** The SQL conditions of the filters and tag filters on `table`. */
export function filterConditions(
  table: string,
  query: ListQuery,
  tagType: string | undefined,
): Expression<SqlBool>[] {
  const out: Expression<SqlBool>[] = [];
  for (const [column, wanted] of query.filters) {
    if (wanted.length === 0) continue;
    out.push(sql<SqlBool>`${sql.ref(`${table}.${column}`)} in (${sql.join(wanted)})`);
  }
  if (tagType !== undefined) {
    const hasTag = (tag: string): Expression<SqlBool> =>
      sql<SqlBool>`exists (select 1 from tags where tags.resource_type = ${tagType} and tags.resource_id = ${sql.ref(`${table}.id`)} and tags.tag = ${tag})`;
    const all = (tags: readonly string[]): Expression<SqlBool> =>
      sql<SqlBool>`(${sql.join(tags.map(hasTag), sql` and `)})`;
    const any = (tags: readonly string[]): Expression<SqlBool> =>
      sql<SqlBool>`(${sql.join(tags.map(hasTag), sql` or `)})`;
    const { tags } = query;
    if (tags.all.length > 0) out.push(all(tags.all));
    if (tags.any.length > 0) out.push(any(tags.any));
    if (tags.notAll.length > 0) out.push(sql<SqlBool>`not ${all(tags.notAll)}`);
    if (tags.notAny.length > 0) out.push(sql<SqlBool>`not ${any(tags.notAny)}`);
  }
  return out;
}

/**
 * The keyset condition that starts a page after (or, reversed, before) the marker row, whose
 * sort values are `markerValues` (by column).
 */
export function afterMarker(
  table: string,
  sorts: readonly Sort[],
  markerValues: Readonly<Record<string, unknown>>,
  reverse: boolean,
): Expression<SqlBool> {
  const ors: Expression<SqlBool>[] = [];
  for (let i = 0; i < sorts.length; i++) {
    const ands: Expression<SqlBool>[] = [];
    for (let j = 0; j < i; j++) {
      const s = sorts[j] as Sort;
      ands.push(sql<SqlBool>`${sql.ref(`${table}.${s.column}`)} = ${markerValues[s.column]}`);
    }
    const s = sorts[i] as Sort;
    const ascending = (s.dir === 'asc') !== reverse;
    const op = ascending ? sql.raw('>') : sql.raw('<');
    ands.push(sql<SqlBool>`${sql.ref(`${table}.${s.column}`)} ${op} ${markerValues[s.column]}`);
    ors.push(sql<SqlBool>`(${sql.join(ands, sql` and `)})`);
  }
  return sql<SqlBool>`(${sql.join(ors, sql` or `)})`;
}

/** `order by` fragments for the sorts (flipped for a reversed page). */
export function orderBy(
  table: string,
  sorts: readonly Sort[],
  reverse: boolean,
): ReturnType<typeof sql.raw>[] {
  return sorts.map((s) => {
    const ascending = (s.dir === 'asc') !== reverse;
    return sql.raw(`${table}.${s.column} ${ascending ? 'asc' : 'desc'}`);
  });
}

/** Keeps only the requested attributes of a view (all when `fields` is undefined). */
export function pick<T extends Record<string, unknown>>(
  view: T,
  fields: readonly string[] | undefined,
): Partial<T> {
  if (fields === undefined) return view;
  const out: Record<string, unknown> = {};
  for (const f of fields) if (f in view) out[f] = view[f];
  return out as Partial<T>;
}

export type PageLinks = { href: string; rel: 'next' | 'previous' }[];

/**
 * Neutron's `<collection>_links`, given only with a `limit`: `next` unless a forward page came
 * back short, `previous` unless a reversed one did (so a first forward page has one too), each
 * repeating the query with the last or first id of the page as the marker.
 */
export function pageLinks(
  url: string,
  query: Readonly<Record<string, unknown>>,
  list: ListQuery,
  ids: readonly string[],
): PageLinks {
  if (list.limit === undefined) return [];
  const link = (marker: string, reverse: boolean): string => {
    const params = new URLSearchParams();
    for (const [key, raw] of Object.entries(query)) {
      if (key === 'marker' || key === 'page_reverse' || key === 'limit') continue;
      for (const v of values(raw)) params.append(key, v);
    }
    params.set('limit', String(list.limit));
    params.set('marker', marker);
    if (reverse) params.set('page_reverse', 'True');
    return `${url}?${params.toString()}`;
  };
  const out: PageLinks = [];
  const first = ids[0] ?? list.marker;
  const last = ids.at(-1) ?? list.marker;
  const short = ids.length < list.limit;
  if (!(short && !list.pageReverse) && last !== undefined)
    out.push({ href: link(last, false), rel: 'next' });
  if (!(short && list.pageReverse) && first !== undefined)
    out.push({ href: link(first, true), rel: 'previous' });
  return out;
}

/**
 * One page of `table` rows matching `conditions` and the query's filters, in the query's order.
 * @throws whatever `missingMarker` returns when the marker names no row.
 */
export async function selectPage<T extends keyof NetworkDatabase>(
  db: Kysely<NetworkDatabase>,
  table: T,
  query: ListQuery,
  conditions: readonly Expression<SqlBool>[],
  options: { tagType?: string | undefined; missingMarker: (id: string) => Error },
): Promise<NetworkDatabase[T][]> {
  const where = [...conditions, ...filterConditions(table, query, options.tagType)];
  if (query.marker !== undefined) {
    const columns = query.sorts.map((s) => sql.ref(`${table}.${s.column}`));
    const { rows } = await sql<
      Record<string, unknown>
    >`select ${sql.join(columns)} from ${sql.table(table)} where ${sql.ref(`${table}.id`)} = ${query.marker}`.execute(
      db,
    );
    const marker = rows[0];
    if (!marker) throw options.missingMarker(query.marker);
    // Column names come back unqualified.
    where.push(afterMarker(table, query.sorts, marker, query.pageReverse));
  }
  const condition = where.length > 0 ? sql`where ${sql.join(where, sql` and `)}` : sql``;
  const limit = query.limit !== undefined ? sql`limit ${sql.lit(query.limit)}` : sql``;
  const { rows } = await sql<
    NetworkDatabase[T]
  >`select ${sql.ref(`${table}`)}.* from ${sql.table(table)} ${condition} order by ${sql.join(orderBy(table, query.sorts, query.pageReverse))} ${limit}`.execute(
    db,
  );
  return query.pageReverse ? rows.reverse() : rows;
}
