/**
 * Runs a suite against every dialect, each test in a database of its own: a temporary SQLite
 * file, or a freshly created database on the local PostgreSQL and MariaDB servers, dropped after
 * the test whether it passed or not.
 *
 * The servers are found at their standard local ports, or at `TSTACK_TEST_POSTGRES_URL` and
 * `TSTACK_TEST_MYSQL_URL` (an admin URL: a user that may create and drop databases). A server
 * that does not answer fails the suite, with the command that starts it: a skipped dialect
 * would hide exactly the portability bugs these suites exist to catch.
 */

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe } from 'node:test';
import type { TestContext } from 'node:test';
import { sql } from 'kysely';
import { messageOf } from '../../src/common/errors.ts';
import { openDatabase } from '../../src/common/db/database.ts';
import type { DatabaseHandle, DatabaseOptions } from '../../src/common/db/database.ts';
import type { DialectName } from '../../src/common/db/database-url.ts';

export const DIALECTS: readonly DialectName[] = ['sqlite', 'postgres', 'mysql'];

type ServerDialect = Exclude<DialectName, 'sqlite'>;

const SERVERS: Readonly<
  Record<ServerDialect, { env: string; url: string; product: string; start: string }>
> = {
  postgres: {
    env: 'TSTACK_TEST_POSTGRES_URL',
    url: 'postgresql://postgres@127.0.0.1:5432/postgres',
    product: 'PostgreSQL',
    start: 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
  },
  mysql: {
    env: 'TSTACK_TEST_MYSQL_URL',
    url: 'mysql://root@127.0.0.1:3306/',
    product: 'MariaDB',
    start: 'start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd',
  },
};

/** The admin URL of the test server for `dialect`. */
export function adminUrl(dialect: ServerDialect): string {
  return process.env[SERVERS[dialect].env] || SERVERS[dialect].url;
}

/** `url` pointing at another database on the same server. */
export function withDatabaseName(url: string, name: string): string {
  const match = /^([^:]+:\/\/[^/?]*)(?:\/[^?]*)?(\?.*)?$/.exec(url);
  if (match === null) throw new Error(`not a server URL: ${url}`);
  return `${match[1] ?? ''}/${name}${match[2] ?? ''}`;
}

/** A handle on the admin database; the error says how to start the server when it is down. */
export async function openAdmin(dialect: ServerDialect): Promise<DatabaseHandle<unknown>> {
  const server = SERVERS[dialect];
  try {
    return await openDatabase(adminUrl(dialect), { poolSize: 1, connectTimeoutMs: 3000 });
  } catch (err) {
    throw new Error(
      `the ${server.product} server for the tests is not usable: ${messageOf(err)}. ` +
        `Start it with: ${server.start} (or set ${server.env} to the admin URL of a running server)`,
      { cause: err },
    );
  }
}

const reachable = new Map<ServerDialect, Promise<void>>();

function checkServer(dialect: ServerDialect): Promise<void> {
  let check = reachable.get(dialect);
  if (check === undefined) {
    check = openAdmin(dialect).then((admin) => admin.close());
    reachable.set(dialect, check);
  }
  return check;
}

/** Ends the sessions a failed test left on database `name`, which would block dropping it. */
async function endSessions(admin: DatabaseHandle<unknown>, name: string): Promise<void> {
  if (admin.dialect === 'postgres') {
    await sql`select pg_terminate_backend(pid) from pg_stat_activity
      where datname = ${name} and pid <> pg_backend_pid()`.execute(admin.db);
    return;
  }
  const { rows } = await sql<{ id: number }>`
    select id from information_schema.processlist where db = ${name}`.execute(admin.db);
  for (const { id } of rows) {
    // The session may have ended since the list was read.
    await sql`kill ${sql.lit(id)}`.execute(admin.db).catch(() => undefined);
  }
}

export interface TestDatabase {
  readonly dialect: DialectName;
  /** The URL of this test's own, empty database. */
  readonly url: string;
  /** Opens a handle on it; every handle is closed when the test ends, before the drop. */
  open<DB>(options?: DatabaseOptions): Promise<DatabaseHandle<DB>>;
}

/**
 * Creates an empty database for the running test (`ts_test_<random>` on a server, a temporary
 * file for SQLite) and drops it when the test ends, also when it fails.
 */
export async function freshDatabase(t: TestContext, dialect: DialectName): Promise<TestDatabase> {
  const name = `ts_test_${randomBytes(6).toString('hex')}`;
  const closers: (() => Promise<void>)[] = [];
  let url: string;
  let drop: () => Promise<void>;
  if (dialect === 'sqlite') {
    const dir = await mkdtemp(join(tmpdir(), `${name}_`));
    // An absolute path after `sqlite:///` makes the four slashes SQLAlchemy uses for one.
    url = `sqlite:///${join(dir, 'test.db')}`;
    drop = () => rm(dir, { recursive: true, force: true });
  } else {
    const admin = await openAdmin(dialect);
    try {
      await sql`create database ${sql.id(name)}`.execute(admin.db);
    } finally {
      await admin.close();
    }
    url = withDatabaseName(adminUrl(dialect), name);
    drop = async () => {
      const again = await openAdmin(dialect);
      try {
        await endSessions(again, name);
        await sql`drop database if exists ${sql.id(name)}`.execute(again.db);
      } finally {
        await again.close();
      }
    };
  }
  t.after(async () => {
    // A test that timed out may hold a connection forever, and closing its pool waits for it; the
    // drop below ends such sessions, so wait only briefly here.
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise((resolve) => (timer = setTimeout(resolve, 2000)));
    await Promise.race([Promise.allSettled(closers.map((close) => close())), grace]);
    clearTimeout(timer);
    await drop();
  });
  return {
    dialect,
    url,
    async open<DB>(options?: DatabaseOptions): Promise<DatabaseHandle<DB>> {
      const handle = await openDatabase<DB>(url, options);
      closers.push(() => handle.close());
      return handle;
    },
  };
}

export interface DialectSuiteOptions {
  /** Bound on the whole suite of one dialect. Default 30 s. */
  readonly timeout?: number;
}

/**
 * Defines `fn`'s tests once per dialect, as suites named `<name> [<dialect>]`. Each test of a
 * server dialect first checks (once per process) that the server answers, and fails with how to
 * start it if not: a `before` hook would only mark the tests cancelled.
 */
export function forEachDialect(
  name: string,
  fn: (dialect: DialectName) => void,
  options: DialectSuiteOptions = {},
): void {
  for (const dialect of DIALECTS) {
    describe(`${name} [${dialect}]`, { timeout: options.timeout ?? 30_000 }, () => {
      if (dialect !== 'sqlite') beforeEach(() => checkServer(dialect));
      fn(dialect);
    });
  }
}
