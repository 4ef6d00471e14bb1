/**
 * What keeps a query portable across SQLite, PostgreSQL and MariaDB/MySQL: typed errors that
 * mean the same on all three, a retry loop for transactions the server aborted, and column-type
 * conventions. Every table in tstack follows these conventions:
 *
 * - **Ids**: UUIDs as `varchar(36)`, lower case with dashes, the way OpenStack renders them;
 *   other string keys (Keystone's 32-hex ids, resource class names) as `varchar(64)`; names as
 *   `varchar(255)`, OpenStack's limit. Integer surrogate keys use `autoIncrementPrimaryKey()`.
 * - **Timestamps**: `varchar(24)` holding `Date.toISOString()` (`2024-05-01T12:00:00.000Z`), made
 *   by `toDbTimestamp()`. The fixed-width UTC form sorts and compares as text the same on all
 *   three, reads the same in any SQL shell, needs no conversion for the API, and avoids three
 *   drivers' different native date types (`Date`, string, none). The time comes from the caller's
 *   clock, never from SQL `now()`, so tests can inject it.
 * - **Booleans**: `smallint` holding 0 or 1 (`toDbBoolean`/`fromDbBoolean`). better-sqlite3
 *   cannot bind `true`, PostgreSQL's `boolean` comes back as `true` and MariaDB's as `1`; an
 *   integer is the one thing all three store, compare and return alike.
 * - **JSON**: text holding `JSON.stringify` output (`toDbJson`/`fromDbJson`), `text` (64 KiB on
 *   MariaDB) or `longTextType()` when it can grow; no `json` columns, whose types and operators
 *   differ on every engine.
 * - **Integers**: `integer`; `bigint` and `count(*)` come back as JS numbers on all three (the
 *   PostgreSQL driver is told to parse int8 and numeric), so values stay below 2^53.
 *
 * Query rules the tests hold us to: `insert … returning` works on all three (MariaDB ≥ 10.5) but
 * `update … returning` does not work on MariaDB, so re-select; text comparison, `LIKE` and unique
 * keys are case-sensitive everywhere (MariaDB tables use a binary collation, SQLite runs with
 * `case_sensitive_like`); `||` concatenates everywhere (MariaDB runs with `PIPES_AS_CONCAT`);
 * avoid `/` on integers (MariaDB returns a decimal) and SQL-side date functions; every selected
 * column is grouped or aggregated (MariaDB runs with `ONLY_FULL_GROUP_BY`, like PostgreSQL).
 */

import { sql } from 'kysely';
import type { ColumnDataType, ColumnDefinitionBuilderCallback, RawBuilder } from 'kysely';
import type { DialectName } from './database-url.ts';

/** Column types shared by all three dialects; see the header for why each was chosen. */
export const columnType = {
  uuid: 'varchar(36)',
  key: 'varchar(64)',
  name: 'varchar(255)',
  timestamp: 'varchar(24)',
  boolean: 'smallint',
  integer: 'integer',
  bigint: 'bigint',
  text: 'text',
  json: 'text',
} as const satisfies Record<string, ColumnDataType>;

/** Text that may exceed MariaDB's 64 KiB `text`: `mediumtext` (16 MiB) there, `text` elsewhere. */
export function longTextType(dialect: DialectName): ColumnDataType | RawBuilder<unknown> {
  return dialect === 'mysql' ? sql`mediumtext` : 'text';
}

/**
 * An `integer` primary key the database numbers: an identity column on PostgreSQL, auto_increment
 * on MariaDB, `integer primary key autoincrement` on SQLite (which, like the other two, never
 * reuses the number of a deleted row). Use with `addColumn('id', 'integer', …)`.
 */
export function autoIncrementPrimaryKey(dialect: DialectName): ColumnDefinitionBuilderCallback {
  return dialect === 'postgres'
    ? (column) => column.primaryKey().generatedByDefaultAsIdentity()
    : (column) => column.primaryKey().autoIncrement();
}

export function toDbTimestamp(date: Date): string {
  return date.toISOString();
}

export function fromDbTimestamp(value: string): Date {
  return new Date(value);
}

export function toDbBoolean(value: boolean): 0 | 1 {
  return value ? 1 : 0;
}

export function fromDbBoolean(value: number): boolean {
  return value !== 0;
}

export function toDbJson(value: unknown): string {
  return JSON.stringify(value);
}

/** The parsed value; its shape is the caller's to check, as with any input. */
export function fromDbJson(value: string): unknown {
  return JSON.parse(value);
}

/** A driver error the kit recognised. `cause` holds the driver's own error. */
export class DatabaseError extends Error {
  /** Whether running the whole transaction again may succeed. */
  readonly retryable: boolean = false;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A unique or primary key already holds the value. `columns` is reported by all three dialects
 * (match on it); `constraint` only by PostgreSQL and MariaDB (MariaDB calls a primary key
 * `PRIMARY`).
 */
export class DuplicateKeyError extends DatabaseError {
  readonly constraint: string | undefined;
  readonly columns: readonly string[] | undefined;

  constructor(
    message: string,
    options: {
      constraint?: string | undefined;
      columns?: readonly string[] | undefined;
      cause?: unknown;
    },
  ) {
    super(message, { cause: options.cause });
    this.constraint = options.constraint;
    this.columns = options.columns;
  }
}

/**
 * A foreign key was violated: the parent row is missing, or a deleted row is still referenced.
 * `constraint` is known on PostgreSQL and MariaDB; SQLite does not say which key failed.
 */
export class ForeignKeyError extends DatabaseError {
  readonly constraint: string | undefined;

  constructor(message: string, options: { constraint?: string | undefined; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.constraint = options.constraint;
  }
}

/**
 * The server aborted the statement so that another transaction could go on: a deadlock, a
 * serialization failure, a lock wait timeout, or SQLite's "database is locked". Retry the whole
 * transaction (`withRetry`).
 */
export class DeadlockError extends DatabaseError {
  override readonly retryable: boolean = true;
}

/**
 * The connection broke or could not be made. Not retried by `withRetry`: a commit in flight may
 * or may not have happened, so only the caller knows whether running it again is safe.
 */
export class ConnectionLostError extends DatabaseError {}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

const MYSQL_LOST_CODES = new Set(['PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT']);

/** Server shutdown, connection killed (which mysql2 has no code name for), gone away, lost. */
const MYSQL_LOST_ERRNOS = new Set([1053, 1927, 2006, 2013]);

const PG_LOST_MESSAGES = [
  'Connection terminated',
  'connection error and is not queryable',
  'timeout exceeded when trying to connect',
];

function field(err: unknown, name: string): unknown {
  return typeof err === 'object' && err !== null
    ? (err as Record<string, unknown>)[name]
    : undefined;
}

function text(err: unknown, name: string): string | undefined {
  const value = field(err, name);
  return typeof value === 'string' ? value : undefined;
}

function networkCode(err: unknown): string | undefined {
  // A refused connection to a name with two addresses arrives as an AggregateError.
  const inner: unknown = err instanceof AggregateError ? (err.errors as unknown[])[0] : undefined;
  const code = text(err, 'code') ?? text(inner, 'code');
  return code !== undefined && NETWORK_CODES.has(code) ? code : undefined;
}

/**
 * Maps a driver error to a `DatabaseError` subclass, or returns it unchanged when it is none of
 * those (a syntax error is a bug, and stays the driver's error).
 */
export function classifyDatabaseError(err: unknown, dialect: DialectName): unknown {
  if (err instanceof DatabaseError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const code = text(err, 'code');
  const lost = (): ConnectionLostError => new ConnectionLostError(message, { cause: err });
  if (networkCode(err) !== undefined) return lost();
  switch (dialect) {
    case 'postgres': {
      const constraint = text(err, 'constraint');
      if (code === '23505') {
        const columns = /^Key \((.*?)\)=/.exec(text(err, 'detail') ?? '')?.[1]?.split(', ');
        return new DuplicateKeyError(message, { constraint, columns, cause: err });
      }
      if (code === '23503') return new ForeignKeyError(message, { constraint, cause: err });
      if (code === '40001' || code === '40P01' || code === '55P03') {
        return new DeadlockError(message, { cause: err });
      }
      if (code?.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03')
        return lost();
      if (code === undefined && PG_LOST_MESSAGES.some((m) => message.includes(m))) return lost();
      return err;
    }
    case 'mysql': {
      if (code === 'ER_DUP_ENTRY') {
        // MariaDB: "for key 'uq_x'"; MySQL 8: "for key 't.uq_x'".
        const key = /for key '(?:[^'.]*\.)?([^']*)'$/.exec(message)?.[1];
        return new DuplicateKeyError(message, { constraint: key, cause: err });
      }
      if (code === 'ER_NO_REFERENCED_ROW_2' || code === 'ER_ROW_IS_REFERENCED_2') {
        const constraint = /CONSTRAINT `([^`]*)`/.exec(message)?.[1];
        return new ForeignKeyError(message, { constraint, cause: err });
      }
      if (code === 'ER_LOCK_DEADLOCK' || code === 'ER_LOCK_WAIT_TIMEOUT') {
        return new DeadlockError(message, { cause: err });
      }
      const errno = field(err, 'errno');
      if (
        (code !== undefined && MYSQL_LOST_CODES.has(code)) ||
        (typeof errno === 'number' && MYSQL_LOST_ERRNOS.has(errno)) ||
        field(err, 'fatal') === true
      ) {
        return lost();
      }
      return err;
    }
    case 'sqlite': {
      if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        // "UNIQUE constraint failed: t.a, t.b"
        const list = /constraint failed: (.*)$/.exec(message)?.[1];
        const columns = list?.split(', ').map((c) => c.slice(c.lastIndexOf('.') + 1));
        return new DuplicateKeyError(message, { columns, cause: err });
      }
      if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY')
        return new ForeignKeyError(message, { cause: err });
      if (code?.startsWith('SQLITE_BUSY') || code?.startsWith('SQLITE_LOCKED')) {
        return new DeadlockError(message, { cause: err });
      }
      return err;
    }
  }
}

export interface RetryOptions {
  /** Tries in all, the first included. Default 5. */
  readonly attempts?: number;
  /** The first wait; each later one doubles, with jitter, up to one second. Default 20 ms. */
  readonly baseDelayMs?: number;
  /** Injected in tests; defaults to a timer. */
  readonly sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `fn` again while it fails with a retryable `DatabaseError` (a deadlock or serialization
 * failure). `fn` must be a whole transaction, e.g. `() => db.transaction().execute(…)`: the
 * server has already rolled back the failed attempt, so running only the last statement again
 * would lose the earlier ones. The last error is rethrown when the attempts run out.
 */
export async function withRetry<T>(fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 5;
  const base = options.baseDelayMs ?? 20;
  const sleep = options.sleep ?? defaultSleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof DatabaseError && err.retryable) || attempt >= attempts) throw err;
      // Jitter keeps two transactions that deadlocked from colliding again in lockstep.
      const delay = Math.min(1000, base * 2 ** (attempt - 1)) * (0.5 + Math.random());
      await sleep(Math.round(delay));
    }
  }
}
