/**
 * Opens a service's database from its `database.url`: SQLite by default (one file per service),
 * PostgreSQL or MariaDB/MySQL when scaled out. The handle carries a Kysely instance whose errors
 * are already classified (see `portable.ts`), and every session is set up so the same query
 * behaves the same on all three: UTC, utf8mb4, strict SQL, case-sensitive text.
 *
 * Opening checks the connection, so a wrong URL or a stopped server fails at start with one line
 * that says what to fix, instead of at the first request with a stack trace.
 */

import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Sqlite from 'better-sqlite3';
import {
  CompiledQuery,
  Kysely,
  MysqlAdapter,
  MysqlDialect,
  PostgresDialect,
  SqliteDialect,
  sql,
} from 'kysely';
import type { Dialect, DialectAdapter } from 'kysely';
import { createPool } from 'mysql2';
import pg from 'pg';
import { StartupError, messageOf } from '../errors.ts';
import { classifyingDialect } from './classifying-dialect.ts';
import { parseDatabaseUrl, redactDatabaseUrl } from './database-url.ts';
import type { DialectName, ServerUrl, SqliteUrl } from './database-url.ts';
import { ConnectionLostError, DatabaseError } from './portable.ts';

export interface DatabaseOptions {
  /** Connections per process to PostgreSQL or MariaDB. Default 10. */
  readonly poolSize?: number;
  /** How long to wait for a server to accept a connection. Default 5000 ms. */
  readonly connectTimeoutMs?: number;
  /** How long a SQLite statement waits for another process's write lock. Default 5000 ms. */
  readonly busyTimeoutMs?: number;
  /** The configuration key named in error messages. Default `database.url`. */
  readonly setting?: string;
  /**
   * Errors of idle pooled connections, e.g. when the server restarts. They are not fatal (the pool
   * drops the connection and the next query opens a new one), so by default they are ignored;
   * pass a logger.
   */
  readonly onIdleError?: (err: Error) => void;
}

export interface DatabaseHandle<DB> {
  readonly db: Kysely<DB>;
  readonly dialect: DialectName;
  /** The URL without its password, for logs and messages. */
  readonly url: string;
  /** Closes every connection. Safe to call twice. */
  close(): Promise<void>;
}

const PRODUCT: Readonly<Record<DialectName, string>> = {
  sqlite: 'SQLite',
  postgres: 'PostgreSQL',
  mysql: 'MariaDB',
};

/**
 * MariaDB/MySQL session settings. Strict mode turns silent truncation into errors, as on
 * PostgreSQL; ONLY_FULL_GROUP_BY rejects the loose GROUP BY that PostgreSQL rejects too;
 * PIPES_AS_CONCAT makes `||` concatenate as elsewhere. ANSI_QUOTES and NO_BACKSLASH_ESCAPES stay
 * off because Kysely's MySQL compiler quotes with backticks and escapes backslashes.
 */
const MYSQL_SQL_MODE = [
  'STRICT_ALL_TABLES',
  'ONLY_FULL_GROUP_BY',
  'ERROR_FOR_DIVISION_BY_ZERO',
  'NO_ZERO_DATE',
  'NO_ZERO_IN_DATE',
  'NO_ENGINE_SUBSTITUTION',
  'PIPES_AS_CONCAT',
].join(',');

const PG_INT8 = 20;
const PG_NUMERIC = 1700;

/**
 * Opens the database at `url` and checks that it answers.
 * @throws StartupError with a one-line message for a bad URL, an unreachable or stopped server,
 *   a missing database or refused credentials.
 */
export async function openDatabase<DB>(
  url: string,
  options: DatabaseOptions = {},
): Promise<DatabaseHandle<DB>> {
  const setting = options.setting ?? 'database.url';
  const parsed = parseDatabaseUrl(url, setting);
  const shown = redactDatabaseUrl(url);
  const dialect =
    parsed.dialect === 'sqlite'
      ? sqliteDialect(parsed, options, setting)
      : parsed.dialect === 'postgres'
        ? postgresDialect(parsed, options)
        : mysqlDialect(parsed, options);
  const db = new Kysely<DB>({ dialect: classifyingDialect(dialect, parsed.dialect) });
  try {
    await sql`select 1`.execute(db);
  } catch (err) {
    await db.destroy().catch(() => undefined);
    throw connectError(
      err,
      parsed.dialect,
      parsed.dialect === 'sqlite' ? undefined : parsed,
      shown,
      setting,
    );
  }
  let closed: Promise<void> | undefined;
  return {
    db,
    dialect: parsed.dialect,
    url: shown,
    close: () => (closed ??= db.destroy()),
  };
}

function sqliteDialect(url: SqliteUrl, options: DatabaseOptions, setting: string): Dialect {
  const file = url.path === ':memory:' ? url.path : resolve(url.path);
  let database: Sqlite.Database | undefined;
  try {
    if (file !== ':memory:') makeDirectory(dirname(file));
    database = new Sqlite(file, { timeout: options.busyTimeoutMs ?? 5000 });
    // WAL lets readers go on while one writer writes; NORMAL sync is safe under WAL (a power cut
    // can lose the last commits, never corrupt the file). SQLite ignores foreign keys unless told.
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = NORMAL');
    database.pragma('foreign_keys = ON');
    // LIKE is case-sensitive on PostgreSQL and on MariaDB's binary collation; make it so here.
    database.pragma('case_sensitive_like = ON');
  } catch (err) {
    database?.close();
    throw new StartupError(
      `cannot open the SQLite database ${file} (${oneLine(messageOf(err))}); check that its ` +
        `directory is writable and the file is a SQLite database, or fix ${setting}`,
      { cause: err },
    );
  }
  return new SqliteDialect({ database: withStatementCache(database) });
}

/** Statements kept per connection; past that the cache starts over (hot paths use a few dozen). */
const STATEMENT_CACHE_SIZE = 512;

/**
 * better-sqlite3 compiles SQL on every `prepare`, which costs more than running a small indexed
 * query; Kysely prepares each query anew, so keep compiled statements by their SQL text.
 */
function withStatementCache(database: Sqlite.Database) {
  const cache = new Map<string, Sqlite.Statement>();
  return {
    close: () => database.close(),
    prepare: (sql: string) => {
      let statement = cache.get(sql);
      if (statement === undefined) {
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.clear();
        statement = database.prepare(sql);
        cache.set(sql, statement);
      }
      return statement;
    },
  };
}

function postgresDialect(url: ServerUrl, options: DatabaseOptions): Dialect {
  // int8 (count(*), bigint) and numeric (sum, avg) arrive as strings by default; the other two
  // drivers return numbers, so make PostgreSQL do the same. Per pool, not pg's global parsers.
  const types = new pg.TypeOverrides();
  types.setTypeParser(PG_INT8, 'text', Number);
  types.setTypeParser(PG_NUMERIC, 'text', Number);
  const pool = new pg.Pool({
    host: url.socket ?? url.host,
    port: url.port,
    user: url.user,
    password: url.password,
    database: url.database,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    idleTimeoutMillis: 30_000,
    application_name: 'tstack',
    options: '-c TimeZone=UTC',
    ssl:
      url.sslmode === undefined || url.sslmode === 'disable'
        ? false
        : { rejectUnauthorized: url.sslmode === 'verify-full' },
    types,
  });
  // A connection the server drops (a restart, a killed session) emits 'error', which would crash
  // the process without a listener: the pool listens only while a connection is idle, so every
  // connection gets its own. The query in flight fails with the error either way.
  pool.on('error', (err) => options.onIdleError?.(err));
  pool.on('connect', (client) => client.on('error', (err) => options.onIdleError?.(err)));
  return new PostgresDialect({ pool });
}

function mysqlDialect(url: ServerUrl, options: DatabaseOptions): Dialect {
  const pool = createPool({
    host: url.host,
    port: url.port,
    socketPath: url.socket,
    user: url.user,
    password: url.password,
    database: url.database,
    connectionLimit: options.poolSize ?? 10,
    connectTimeout: options.connectTimeoutMs ?? 5000,
    // The connection's collation governs comparisons between literals; tables get theirs from
    // the database default, which `migrate` sets to a binary collation.
    charset: 'UTF8MB4_BIN',
    timezone: 'Z',
    supportBigNumbers: true,
    bigNumberStrings: false,
    decimalNumbers: true,
  });
  return new MariadbDialect({
    pool,
    onCreateConnection: async (connection) => {
      await connection.executeQuery(
        CompiledQuery.raw(`set session sql_mode = '${MYSQL_SQL_MODE}', time_zone = '+00:00'`),
      );
      // PostgreSQL's default; under MariaDB's REPEATABLE READ a transaction keeps reading an old
      // snapshot and takes gap locks, which behaves (and deadlocks) differently.
      await connection.executeQuery(
        CompiledQuery.raw('set session transaction isolation level read committed'),
      );
    },
  });
}

/**
 * MariaDB (since 10.5) runs `insert … returning` and `delete … returning`, the one portable way to
 * get generated ids back, but Kysely's MySQL adapter drops the returned rows since MySQL cannot.
 * `update … returning` remains unsupported on MariaDB and fails there with a syntax error.
 */
class MariadbAdapter extends MysqlAdapter {
  override get supportsReturning(): boolean {
    return true;
  }
}

class MariadbDialect extends MysqlDialect {
  override createAdapter(): DialectAdapter {
    return new MariadbAdapter();
  }
}

const MISSING_DATABASE = new Set(['3D000', 'ER_BAD_DB_ERROR']);
const LOGIN_REFUSED = new Set([
  '28P01',
  '28000',
  'ER_ACCESS_DENIED_ERROR',
  'ER_DBACCESS_DENIED_ERROR',
  'ER_ACCESS_DENIED_NO_PASSWORD_ERROR',
]);

function connectError(
  err: unknown,
  dialect: DialectName,
  server: ServerUrl | undefined,
  shown: string,
  setting: string,
): StartupError {
  const driverError = err instanceof DatabaseError ? err.cause : err;
  const code =
    typeof driverError === 'object' && driverError !== null
      ? (driverError as { code?: unknown }).code
      : undefined;
  const detail = oneLine(messageOf(driverError));
  const product = PRODUCT[dialect];
  let message: string;
  if (typeof code === 'string' && MISSING_DATABASE.has(code)) {
    const name = server?.database ?? '';
    message =
      `the database '${name}' does not exist on the ${product} server at ${shown}; ` +
      `create it (CREATE DATABASE ${name}) or fix ${setting}`;
  } else if (typeof code === 'string' && LOGIN_REFUSED.has(code)) {
    message =
      `${product} at ${shown} refused the login (${detail}); ` +
      `fix the user or password in ${setting}, or grant that user access`;
  } else if (err instanceof ConnectionLostError) {
    message = `cannot connect to the database at ${shown} (${detail}); start ${product} or fix ${setting}`;
  } else {
    message = `cannot use the database at ${shown} (${detail}); fix ${setting}`;
  }
  return new StartupError(message, { cause: err });
}

/**
 * `mkdir -p`. Node's own recursive mkdir spins forever where mkdir answers ENOENT for a parent
 * that exists (e.g. under /proc); this one fails instead.
 */
function makeDirectory(dir: string): void {
  if (existsSync(dir)) return;
  if (dirname(dir) !== dir) makeDirectory(dirname(dir));
  try {
    mkdirSync(dir);
  } catch (err) {
    // Another process may have made it meanwhile.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
