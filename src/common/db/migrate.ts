/**
 * Versioned schema migrations, one sequence per service, recorded in the `tstack_migrations`
 * table (service, version, name, applied_at). Several services may share one database; each
 * sees only its own rows.
 *
 * `migrate` is safe when several processes start at once against one database (N API processes
 * behind a load balancer): they queue on a lock and each applies only what is still pending.
 * The lock is the engine's own, so a crashed migrator never leaves it held:
 * - PostgreSQL: a session advisory lock (released when the connection ends);
 * - MariaDB/MySQL: GET_LOCK on a name derived from the database (also per session);
 * - SQLite: the whole run is one BEGIN IMMEDIATE transaction, which holds the file's write lock.
 *
 * Atomicity differs, since MariaDB cannot roll back DDL: PostgreSQL applies each migration and its
 * record in one transaction; MariaDB records each migration right after it runs, so a failure
 * leaves only the failed migration's partial changes; SQLite commits the run as a whole.
 * A migration therefore must not open transactions itself, and should keep to one statement per
 * table change where it can.
 */

import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { StartupError, messageOf } from '../errors.ts';
import type { DatabaseHandle } from './database.ts';
import type { DialectName } from './database-url.ts';
import { DeadlockError, columnType, toDbTimestamp } from './portable.ts';

export interface Migration {
  /** Positive, increasing along the list; never reused or renumbered once released. */
  readonly version: number;
  /** Recorded with the version; a different name for a recorded version is an error. */
  readonly name: string;
  /**
   * Changes the schema. The database type is `unknown` on purpose: a migration must not depend on
   * today's table types, so it declares the tables it touches (`db.withTables<T>()`, where T is
   * a type alias: an interface lacks the index signature Kysely asks for) or uses `sql`.
   */
  up(db: Kysely<unknown>, dialect: DialectName): Promise<void>;
}

export interface MigrateOptions {
  /** How long to wait for another process's migration to finish. Default 60 s. */
  readonly lockTimeoutMs?: number;
  /** The clock for `applied_at`. */
  readonly now?: () => Date;
}

export interface MigrateResult {
  /** The version before the run (0 for an empty database). */
  readonly from: number;
  readonly to: number;
  readonly applied: readonly { readonly version: number; readonly name: string }[];
}

/** A migration could not run, or the database does not match the code. */
export class MigrationError extends StartupError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MigrationError';
  }
}

const TABLE = 'tstack_migrations';

// A type alias, not an interface: `withTables` needs an index-signature-compatible type.
type MigrationTables = {
  tstack_migrations: { service: string; version: number; name: string; applied_at: string };
};

/** 'tstack' in ASCII: the PostgreSQL advisory lock key, scoped to the database by PostgreSQL. */
const PG_LOCK_KEY = 0x747374_61636b;

/**
 * Applies the pending migrations of `service` in order.
 * @throws MigrationError when the database is at a version newer than `migrations` know, when a
 *   recorded migration does not match the code, when the lock is not granted in time, or when a
 *   migration fails (its message names it).
 */
export async function migrate<DB>(
  handle: DatabaseHandle<DB>,
  service: string,
  migrations: readonly Migration[],
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  checkList(service, migrations);
  const now = options.now ?? (() => new Date());
  return await withMigrationLock(handle, options.lockTimeoutMs ?? 60_000, async (db) => {
    if (handle.dialect === 'mysql') await useBinaryCollation(db);
    await db.schema
      .createTable(TABLE)
      .ifNotExists()
      .addColumn('service', columnType.key, (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('name', columnType.name, (c) => c.notNull())
      .addColumn('applied_at', columnType.timestamp, (c) => c.notNull())
      .addPrimaryKeyConstraint('tstack_migrations_pkey', ['service', 'version'])
      .execute();
    const recorded = await db
      .withTables<MigrationTables>()
      .selectFrom(TABLE)
      .select(['version', 'name'])
      .where('service', '=', service)
      .orderBy('version')
      .execute();
    const pending = pendingMigrations(service, migrations, recorded);
    const from = recorded.at(-1)?.version ?? 0;
    for (const migration of pending) {
      await applyOne(handle.dialect, db, service, migration, now);
    }
    const applied = pending.map(({ version, name }) => ({ version, name }));
    return { from, to: pending.at(-1)?.version ?? from, applied };
  });
}

/** The highest version of `service` recorded in the database; 0 when none is. */
export async function currentVersion<DB>(
  handle: DatabaseHandle<DB>,
  service: string,
): Promise<number> {
  const db = untyped(handle);
  if (!(await tableExists(handle.dialect, db))) return 0;
  const row = await db
    .withTables<MigrationTables>()
    .selectFrom(TABLE)
    .select((eb) => eb.fn.max('version').as('version'))
    .where('service', '=', service)
    .executeTakeFirst();
  return row?.version ?? 0;
}

/**
 * The handle's Kysely without the service's table types: migrations must not depend on them, and
 * the bookkeeping table belongs to no service, so it is added with `withTables`.
 */
function untyped<DB>(handle: DatabaseHandle<DB>): Kysely<unknown> {
  return handle.db as unknown as Kysely<unknown>;
}

function checkList(service: string, migrations: readonly Migration[]): void {
  let previous = 0;
  for (const { version, name } of migrations) {
    if (!Number.isSafeInteger(version) || version <= previous) {
      throw new Error(
        `${service} migrations: version ${version} must be an integer above ${previous}`,
      );
    }
    if (name === '') throw new Error(`${service} migration ${version} has no name`);
    previous = version;
  }
}

function pendingMigrations(
  service: string,
  migrations: readonly Migration[],
  recorded: readonly { version: number; name: string }[],
): Migration[] {
  const known = new Map(migrations.map((m) => [m.version, m]));
  const newestKnown = migrations.at(-1)?.version ?? 0;
  const newestRecorded = recorded.at(-1)?.version ?? 0;
  if (newestRecorded > newestKnown) {
    throw new MigrationError(
      `the ${service} database is at schema version ${newestRecorded}, newer than this tstack ` +
        `knows (${newestKnown}); run the tstack release that migrated it, or a later one`,
    );
  }
  for (const row of recorded) {
    const migration = known.get(row.version);
    if (migration?.name !== row.name) {
      throw new MigrationError(
        `${service} migration ${row.version} is recorded as '${row.name}' but this tstack ` +
          `${migration === undefined ? 'has no such migration' : `calls it '${migration.name}'`}; ` +
          `the database was migrated by a different build`,
      );
    }
  }
  const done = new Set(recorded.map((row) => row.version));
  const pending = migrations.filter((m) => !done.has(m.version));
  const skipped = pending.find((m) => m.version < newestRecorded);
  if (skipped !== undefined) {
    throw new MigrationError(
      `${service} migration ${skipped.version} (${skipped.name}) was never applied but ` +
        `${newestRecorded} was; the database was migrated by a different build`,
    );
  }
  return pending;
}

async function applyOne(
  dialect: DialectName,
  db: Kysely<unknown>,
  service: string,
  migration: Migration,
  now: () => Date,
): Promise<void> {
  const run = async (target: Kysely<unknown>): Promise<void> => {
    await migration.up(target, dialect);
    await target
      .withTables<MigrationTables>()
      .insertInto(TABLE)
      .values({
        service,
        version: migration.version,
        name: migration.name,
        applied_at: toDbTimestamp(now()),
      })
      .execute();
  };
  try {
    // SQLite is already inside the run's transaction; MariaDB commits DDL whatever we do.
    if (dialect === 'postgres') await db.transaction().execute(run);
    else await run(db);
  } catch (err) {
    const outcome =
      dialect === 'postgres'
        ? 'it was rolled back'
        : dialect === 'sqlite'
          ? 'this run was rolled back'
          : 'MariaDB cannot roll back DDL, so check what of it was applied before retrying';
    throw new MigrationError(
      `${service} migration ${migration.version} (${migration.name}) failed: ${messageOf(err)}; ${outcome}`,
      { cause: err },
    );
  }
}

async function withMigrationLock<DB, T>(
  handle: DatabaseHandle<DB>,
  timeoutMs: number,
  fn: (db: Kysely<unknown>) => Promise<T>,
): Promise<T> {
  const timeout = Math.max(1, Math.ceil(timeoutMs));
  const busy = (): MigrationError =>
    new MigrationError(
      `another process held the migration lock of this database for ${timeout} ms; ` +
        `wait for it to finish, or stop the process that is stuck migrating`,
    );
  return await untyped(handle)
    .connection()
    .execute(async (db) => {
      switch (handle.dialect) {
        case 'postgres': {
          await sql`set lock_timeout = ${sql.lit(timeout)}`.execute(db);
          try {
            await sql`select pg_advisory_lock(${PG_LOCK_KEY})`.execute(db);
          } catch (err) {
            throw err instanceof DeadlockError ? busy() : err;
          } finally {
            await sql`reset lock_timeout`.execute(db);
          }
          try {
            return await fn(db);
          } finally {
            await sql`select pg_advisory_unlock(${PG_LOCK_KEY})`.execute(db);
          }
        }
        case 'mysql': {
          // Lock names are server-wide, so the database name goes into it (hashed: 64 chars max).
          const name = sql`concat('tstack_migrate.', md5(database()))`;
          const seconds = Math.ceil(timeout / 1000);
          const { rows } = await sql<{
            locked: number | null;
          }>`select get_lock(${name}, ${seconds}) as locked`.execute(db);
          if (rows[0]?.locked !== 1) throw busy();
          try {
            return await fn(db);
          } finally {
            await sql`select release_lock(${name})`.execute(db);
          }
        }
        case 'sqlite':
          return await inSqliteWriteTransaction(db, timeout, busy, fn);
      }
    });
}

/**
 * BEGIN IMMEDIATE, polled without SQLite's busy handler: better-sqlite3 runs the handler on the
 * event loop's thread, so a migrator waiting there would block the very process that holds the
 * lock whenever two handles of one process migrate the same file.
 */
async function inSqliteWriteTransaction<T>(
  db: Kysely<unknown>,
  timeoutMs: number,
  busy: () => MigrationError,
  fn: (db: Kysely<unknown>) => Promise<T>,
): Promise<T> {
  const { rows } = await sql<{ timeout: number }>`pragma busy_timeout`.execute(db);
  const busyTimeout = rows[0]?.timeout ?? 0;
  const deadline = Date.now() + timeoutMs;
  await sql`pragma busy_timeout = 0`.execute(db);
  try {
    for (;;) {
      try {
        await sql`begin immediate`.execute(db);
        break;
      } catch (err) {
        if (!(err instanceof DeadlockError)) throw err;
        if (Date.now() >= deadline) throw busy();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  } finally {
    await sql`pragma busy_timeout = ${sql.lit(busyTimeout)}`.execute(db);
  }
  try {
    const result = await fn(db);
    await sql`commit`.execute(db);
    return result;
  } catch (err) {
    await sql`rollback`.execute(db);
    throw err;
  }
}

/**
 * Tables take their collation from the database default, and MariaDB's default collation is
 * case-insensitive, so `'Foo' = 'foo'` and a unique name would clash where PostgreSQL and SQLite
 * see two values. A binary collation makes MariaDB agree; NO PAD variants also keep trailing
 * spaces significant, as elsewhere. Only tables created afterwards are affected.
 */
async function useBinaryCollation(db: Kysely<unknown>): Promise<void> {
  const preferred = ['utf8mb4_nopad_bin', 'utf8mb4_0900_bin', 'utf8mb4_bin'];
  const available = await sql<{ name: string }>`
    select collation_name as name from information_schema.collations
    where collation_name in (${sql.join(preferred)})`.execute(db);
  const names = new Set(available.rows.map((row) => row.name));
  const chosen = preferred.find((name) => names.has(name));
  const current = await sql<{ name: string }>`
    select default_collation_name as name from information_schema.schemata
    where schema_name = database()`.execute(db);
  if (chosen !== undefined && current.rows[0]?.name !== chosen) {
    await sql`alter database character set utf8mb4 collate ${sql.raw(chosen)}`.execute(db);
  }
}

async function tableExists(dialect: DialectName, db: Kysely<unknown>): Promise<boolean> {
  const query =
    dialect === 'sqlite'
      ? sql<{
          n: number;
        }>`select count(*) as n from sqlite_master where type = 'table' and name = ${TABLE}`
      : sql<{ n: number }>`select count(*) as n from information_schema.tables
          where table_schema = ${dialect === 'postgres' ? sql`current_schema()` : sql`database()`}
          and table_name = ${TABLE}`;
  const { rows } = await query.execute(db);
  return Number(rows[0]?.n ?? 0) > 0;
}
