/**
 * What every Neutron resource shares: who is asking, the standard attributes (`project_id` and its
 * old name `tenant_id`, `description`, `revision_number`, timestamps, `tags`), and the
 * `If-Match: revision_number=N` precondition on updates and deletes.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Expression, type Kysely, type SqlBool } from 'kysely';
import { toDbTimestamp } from '../common/db/portable.ts';
import type { NetworkDatabase } from './db/schema.ts';
import { badRequest, revisionConflict } from './errors.ts';

export type Db = Kysely<NetworkDatabase>;

export type Viewer = {
  /** The token's project; undefined for a token without one (it sees only shared things). */
  readonly projectId: string | undefined;
  readonly isAdmin: boolean;
};

/** The service itself, acting for any project (inside a router or floating IP operation). */
export const SYSTEM: Viewer = { projectId: undefined, isAdmin: true };

export type StandardRow = {
  id: string;
  project_id: string;
  name: string;
  description: string;
  revision_number: number;
  created_at: string;
  updated_at: string;
};

/** Neutron's timestamps: seconds, UTC, `Z`. */
export function timestamp(value: string): string {
  return `${value.slice(0, 19)}Z`;
}

export function standardView(
  row: StandardRow,
  tags: readonly string[] | undefined,
): Record<string, unknown> {
  return {
    id: row.id,
    name: row.name,
    tenant_id: row.project_id,
    project_id: row.project_id,
    description: row.description,
    ...(tags !== undefined ? { tags: [...tags] } : {}),
    created_at: timestamp(row.created_at),
    updated_at: timestamp(row.updated_at),
    revision_number: row.revision_number,
  };
}

export function newId(): string {
  return randomUUID();
}

/** Tags of each resource of `type` among `ids`, sorted. */
export async function tagsOf(
  db: Db,
  type: string,
  ids: readonly string[],
): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await db
      .selectFrom('tags')
      .select(['resource_id', 'tag'])
      .where('resource_type', '=', type)
      .where('resource_id', 'in', ids.slice(i, i + 500))
      .execute();
    for (const r of rows) out.get(r.resource_id)?.push(r.tag);
  }
  for (const list of out.values()) list.sort();
  return out;
}

/**
 * The revision an `If-Match` header requires, or undefined without one.
 * @throws BadRequestError (400) for a header that is not `revision_number=N`.
 */
export function requiredRevision(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const m = /^\s*revision_number=(\d+)\s*$/.exec(header);
  if (!m)
    throw badRequest(`If-Match header must be of the form revision_number=N, not '${header}'`);
  return Number(m[1]);
}

/** @throws the 412 RevisionNumberConstraintFailed when `required` is not `current`. */
export function checkRevision(required: number | undefined, current: number): void {
  if (required !== undefined && required !== current) throw revisionConflict(required, current);
}

/** Keeps `IN (…)` lists within every engine's parameter limits. */
export function chunks<T>(items: readonly T[], size = 500): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * The row `id` of `table` that `visible` (a condition naming the table, or undefined for all)
 * lets the caller see. @throws what `missing` makes when there is none.
 */
export async function visibleRow<T extends keyof NetworkDatabase>(
  db: Db,
  table: T,
  id: string,
  visible: Expression<SqlBool> | undefined,
  missing: (id: string) => Error,
): Promise<NetworkDatabase[T]> {
  const condition = visible === undefined ? sql`` : sql` and ${visible}`;
  const { rows } = await sql<
    NetworkDatabase[T]
  >`select * from ${sql.table(table)} where ${sql.ref(`${table}.id`)} = ${id}${condition}`.execute(
    db,
  );
  const row = rows[0];
  if (row === undefined) throw missing(id);
  return row;
}

/** How many rows of `table` project `projectId` owns (for quotas). */
export async function countOwned(
  db: Db,
  table: keyof NetworkDatabase,
  projectId: string,
): Promise<number> {
  const { rows } = await sql<{
    n: number | string;
  }>`select count(*) as n from ${sql.table(table)} where project_id = ${projectId}`.execute(db);
  return Number(rows[0]?.n ?? 0);
}

/** The tables whose rows carry Neutron's standard attributes (a revision and timestamps). */
export type RevisedTable =
  'networks' | 'subnets' | 'ports' | 'security_groups' | 'routers' | 'floatingips' | 'subnetpools';

/**
 * Writes `set` to row `id` of `table` and moves its revision on, with `updated_at` at `now`: what
 * every change to a resource with standard attributes does.
 */
export async function revise<T extends RevisedTable>(
  db: Db,
  table: T,
  id: string,
  now: Date,
  set: Partial<NetworkDatabase[T]> = {},
): Promise<void> {
  const assignments = Object.entries(set)
    .filter(([, value]) => value !== undefined)
    .map(([column, value]) => sql`${sql.ref(column)} = ${value}`);
  await sql`update ${sql.table(table)} set ${sql.join([
    ...assignments,
    sql`revision_number = revision_number + 1`,
    sql`updated_at = ${toDbTimestamp(now)}`,
  ])} where id = ${id}`.execute(db);
}
