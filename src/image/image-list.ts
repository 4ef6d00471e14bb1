/**
 * Listing images as Glance's database layer does it: what the caller may see (owner, public,
 * accepted shares; community only when asked), Glance's filters, multi-key sorting and marker
 * paging in SQL. Nullable sort keys sort through `coalesce` so NULLs order the same on SQLite,
 * PostgreSQL and MariaDB, and the marker comparison uses the same expressions.
 */
import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import { toDbBoolean } from '../common/db/portable.ts';
import type { ImageDatabase } from './db/schema.ts';
import { invalid } from './errors.ts';
import { isUuid } from './image-fields.ts';
import type { Db, Image, Images, Viewer } from './images.ts';

export type SortKey =
  | 'name'
  | 'status'
  | 'container_format'
  | 'disk_format'
  | 'size'
  | 'virtual_size'
  | 'id'
  | 'created_at'
  | 'updated_at'
  | 'visibility'
  | 'owner'
  | 'min_disk'
  | 'min_ram'
  | 'protected'
  | 'os_hidden';

export const SORT_KEYS: ReadonlySet<string> = new Set<SortKey>([
  'name',
  'status',
  'container_format',
  'disk_format',
  'size',
  'virtual_size',
  'id',
  'created_at',
  'updated_at',
  'visibility',
  'owner',
  'min_disk',
  'min_ram',
  'protected',
  'os_hidden',
]);

export type Sort = { key: SortKey; dir: 'asc' | 'desc' };

export type TimeFilter = { op: 'gt' | 'gte' | 'lt' | 'lte' | 'eq' | 'neq'; value: string };

export type ImageFilter = {
  /** Values are alternatives (`in:` lists); one value for a plain filter. */
  name?: readonly string[] | undefined;
  id?: readonly string[] | undefined;
  status?: readonly string[] | undefined;
  disk_format?: readonly string[] | undefined;
  container_format?: readonly string[] | undefined;
  owner?: string | undefined;
  visibility?: 'public' | 'private' | 'shared' | 'community' | 'all' | undefined;
  member_status?: 'accepted' | 'pending' | 'rejected' | 'all' | undefined;
  /** All of these tags. */
  tags?: readonly string[] | undefined;
  size_min?: number | undefined;
  size_max?: number | undefined;
  created_at?: readonly TimeFilter[] | undefined;
  updated_at?: readonly TimeFilter[] | undefined;
  os_hidden?: boolean | undefined;
  protected?: boolean | undefined;
  /** Extra properties that must hold exactly these values. */
  properties?: Readonly<Record<string, string>> | undefined;
};

export type ListRequest = {
  filter: ImageFilter;
  sort: readonly Sort[];
  limit: number;
  marker: string | undefined;
};

type Eb = ExpressionBuilder<ImageDatabase, 'image'>;

const NULLABLE_TEXT = new Set(['name', 'container_format', 'disk_format', 'owner']);
const NULLABLE_INT = new Set(['size', 'virtual_size']);

function sortExpr(key: SortKey): Expression<unknown> {
  if (NULLABLE_TEXT.has(key)) return sql`coalesce(${sql.ref(`image.${key}`)}, '')`;
  if (NULLABLE_INT.has(key)) return sql`coalesce(${sql.ref(`image.${key}`)}, -1)`;
  return sql.ref(`image.${key}`);
}

function sortValue(image: Image, key: SortKey): string | number {
  switch (key) {
    case 'protected':
    case 'os_hidden':
      return toDbBoolean(image[key]);
    case 'size':
    case 'virtual_size':
      return image[key] ?? -1;
    default: {
      const v = image[key];
      return v ?? '';
    }
  }
}

const OPS = { gt: '>', gte: '>=', lt: '<', lte: '<=', eq: '=', neq: '<>' } as const;

/** Who may see which rows: the SQL form of `canSee`, narrowed by visibility and member status. */
function access(eb: Eb, viewer: Viewer, f: ImageFilter): Expression<SqlBool> {
  const project = viewer.projectId ?? '';
  const memberStatus = f.member_status ?? 'accepted';
  const shared = eb.and([
    eb('image.visibility', '=', 'shared'),
    eb.exists(
      eb
        .selectFrom('image_member as m')
        .select('m.image_id')
        .whereRef('m.image_id', '=', 'image.id')
        .where('m.member', '=', project)
        .$if(memberStatus !== 'all', (q) => q.where('m.status', '=', memberStatus)),
    ),
  ]);
  const owned = eb('image.owner', '=', project);
  const v = f.visibility;
  if (viewer.isAdmin) {
    if (v === undefined) return eb.or([eb('image.visibility', '<>', 'community'), owned]);
    if (v === 'all') return sql<SqlBool>`1 = 1`;
    if (v === 'shared' && f.member_status !== undefined)
      return eb.or([eb.and([owned, eb('image.visibility', '=', 'shared')]), shared]);
    return eb('image.visibility', '=', v);
  }
  switch (v) {
    case undefined:
      return eb.or([owned, eb('image.visibility', '=', 'public'), shared]);
    case 'all':
      return eb.or([owned, eb('image.visibility', 'in', ['public', 'community']), shared]);
    case 'public':
    case 'community':
      return eb('image.visibility', '=', v);
    case 'private':
      return eb.and([owned, eb('image.visibility', '=', 'private')]);
    case 'shared':
      return eb.or([eb.and([owned, eb('image.visibility', '=', 'shared')]), shared]);
  }
}

function conditions(eb: Eb, viewer: Viewer, f: ImageFilter): Expression<SqlBool> {
  const all: Expression<SqlBool>[] = [access(eb, viewer, f)];
  const oneOf = (
    col: 'name' | 'id' | 'status' | 'disk_format' | 'container_format',
    values: readonly string[] | undefined,
  ) => {
    if (values !== undefined) all.push(eb(`image.${col}`, 'in', [...values]));
  };
  oneOf('name', f.name);
  oneOf('id', f.id);
  oneOf('status', f.status);
  oneOf('disk_format', f.disk_format);
  oneOf('container_format', f.container_format);
  if (f.owner !== undefined) all.push(eb('image.owner', '=', f.owner));
  if (f.size_min !== undefined) all.push(eb('image.size', '>=', f.size_min));
  if (f.size_max !== undefined) all.push(eb('image.size', '<=', f.size_max));
  for (const t of f.created_at ?? []) all.push(eb('image.created_at', OPS[t.op], t.value));
  for (const t of f.updated_at ?? []) all.push(eb('image.updated_at', OPS[t.op], t.value));
  // Hidden images stay out of lists unless the caller asks about them.
  all.push(eb('image.os_hidden', '=', toDbBoolean(f.os_hidden ?? false)));
  if (f.protected !== undefined) all.push(eb('image.protected', '=', toDbBoolean(f.protected)));
  for (const tag of f.tags ?? [])
    all.push(
      eb.exists(
        eb
          .selectFrom('image_tag as t')
          .select('t.image_id')
          .whereRef('t.image_id', '=', 'image.id')
          .where('t.value', '=', tag),
      ),
    );
  for (const [name, value] of Object.entries(f.properties ?? {}))
    all.push(
      eb.exists(
        eb
          .selectFrom('image_property as p')
          .select('p.image_id')
          .whereRef('p.image_id', '=', 'image.id')
          .where('p.name', '=', name)
          .where('p.value', '=', value),
      ),
    );
  return eb.and(all);
}

/** Rows after `marker` in the order `sort` (which ends with `id`, so the order is total). */
function after(eb: Eb, sort: readonly Sort[], marker: Image): Expression<SqlBool> {
  const ors: Expression<SqlBool>[] = [];
  for (let i = 0; i < sort.length; i++) {
    const ands: Expression<SqlBool>[] = [];
    for (let j = 0; j < i; j++) {
      const s = sort[j] as Sort;
      ands.push(eb(sortExpr(s.key), '=', sortValue(marker, s.key)));
    }
    const s = sort[i] as Sort;
    ands.push(eb(sortExpr(s.key), s.dir === 'asc' ? '>' : '<', sortValue(marker, s.key)));
    ors.push(eb.and(ands));
  }
  return eb.or(ors);
}

/** Completes a sort with `created_at` and `id`, as Glance does, so paging is stable. */
export function totalSort(sort: readonly Sort[]): Sort[] {
  const out = [...sort];
  const dir = out[0]?.dir ?? 'desc';
  if (!out.some((s) => s.key === 'created_at')) out.push({ key: 'created_at', dir });
  if (!out.some((s) => s.key === 'id')) out.push({ key: 'id', dir });
  return out;
}

/** @throws BadRequestError (400) when the marker is not an image the caller can see. */
export async function listImages(
  db: Db,
  images: Images,
  viewer: Viewer,
  req: ListRequest,
): Promise<Image[]> {
  const sort = totalSort(req.sort);
  let marker: Image | undefined;
  if (req.marker !== undefined) {
    marker = isUuid(req.marker)
      ? await images.get(viewer, req.marker).catch(() => undefined)
      : undefined;
    if (!marker) throw invalid(`Invalid marker. Image ${req.marker} could not be found.`);
  }
  let q = db
    .selectFrom('image')
    .selectAll('image')
    .where((eb) => conditions(eb, viewer, req.filter));
  if (marker) {
    const m = marker;
    q = q.where((eb) => after(eb, sort, m));
  }
  for (const s of sort) q = q.orderBy(sortExpr(s.key), s.dir);
  const rows = await q.limit(req.limit).execute();
  return images.hydrate(rows);
}
