import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import { openDatabase } from '../../../src/common/db/database.ts';
import { StartupError } from '../../../src/common/errors.ts';
import {
  adminUrl,
  forEachDialect,
  freshDatabase,
  withDatabaseName,
} from '../../helpers/databases.ts';

const TIMEOUT = { timeout: 10_000 };

/** Asserts that opening `url` fails with one StartupError line matching every pattern. */
async function assertOpenFails(
  url: string,
  patterns: readonly RegExp[],
  secret?: string,
): Promise<void> {
  await assert.rejects(openDatabase(url, { connectTimeoutMs: 3000 }), (err: unknown) => {
    assert.ok(err instanceof StartupError, `expected a StartupError, got ${String(err)}`);
    assert.doesNotMatch(err.message, /\n/);
    for (const pattern of patterns) assert.match(err.message, pattern);
    if (secret !== undefined)
      assert.ok(!err.message.includes(secret), 'the message shows the password');
    return true;
  });
}

describe('openDatabase errors', TIMEOUT, () => {
  // Port 1 on loopback: nothing listens there, so the connection is refused at once.
  const unreachable = [
    {
      name: 'PostgreSQL',
      url: 'postgresql://nova:hunter2@127.0.0.1:1/nova',
      patterns: [
        /^cannot connect to the database at postgresql:\/\/nova:\*\*\*@127\.0\.0\.1:1\/nova /,
        /\(connect ECONNREFUSED 127\.0\.0\.1:1\)/,
        /; start PostgreSQL or fix database\.url$/,
      ],
    },
    {
      name: 'MariaDB',
      url: 'mysql+pymysql://nova:hunter2@127.0.0.1:1/nova',
      patterns: [
        /^cannot connect to the database at mysql\+pymysql:\/\/nova:\*\*\*@127\.0\.0\.1:1\/nova /,
        /ECONNREFUSED/,
        /; start MariaDB or fix database\.url$/,
      ],
    },
  ];
  for (const { name, url, patterns } of unreachable) {
    test(`an unreachable ${name} server is one line without the password`, () =>
      assertOpenFails(url, patterns, 'hunter2'));
  }

  test('a bad URL is a StartupError', () =>
    assertOpenFails('mongodb://x/y', [/unknown scheme 'mongodb'/]));

  test('a SQLite file that cannot be created names its path', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'ts_test_'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const blocker = join(dir, 'a-file');
    await writeFile(blocker, '');
    await assertOpenFails(`sqlite:///${join(blocker, 'nova.db')}`, [
      /^cannot open the SQLite database .*a-file\/nova\.db \(.+\); check that its directory is writable .* or fix database\.url$/,
    ]);
  });

  test('a file that is not a SQLite database is named', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'ts_test_'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'notes.txt');
    await writeFile(file, 'not a database, but long enough to have a header '.repeat(4));
    await assertOpenFails(`sqlite:///${file}`, [
      /^cannot open the SQLite database .*notes\.txt \(file is not a database\); /,
    ]);
  });

  test('a SQLite file gets its parent directories', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'ts_test_'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'a', 'b', 'nova.db');
    const handle = await openDatabase(`sqlite:///${file}`);
    await handle.close();
    assert.ok(existsSync(file));
  });

  test('an in-memory SQLite database opens', async () => {
    const handle = await openDatabase('sqlite://');
    assert.equal(handle.dialect, 'sqlite');
    await handle.close();
  });
});

/** Session settings every connection must have, per dialect. */
const SESSION_CHECKS = {
  sqlite: [
    { query: sql<{ v: unknown }>`select foreign_keys as v from pragma_foreign_keys`, want: 1 },
    { query: sql<{ v: unknown }>`select journal_mode as v from pragma_journal_mode`, want: 'wal' },
    { query: sql<{ v: unknown }>`select synchronous as v from pragma_synchronous`, want: 1 },
    { query: sql<{ v: unknown }>`select timeout as v from pragma_busy_timeout`, want: 5000 },
  ],
  postgres: [
    { query: sql<{ v: unknown }>`select current_setting('TimeZone') as v`, want: 'UTC' },
    { query: sql<{ v: unknown }>`select current_setting('server_encoding') as v`, want: 'UTF8' },
  ],
  mysql: [
    { query: sql<{ v: unknown }>`select @@session.time_zone as v`, want: '+00:00' },
    { query: sql<{ v: unknown }>`select @@character_set_connection as v`, want: 'utf8mb4' },
    { query: sql<{ v: unknown }>`select @@session.tx_isolation as v`, want: 'READ-COMMITTED' },
    {
      query: sql<{
        v: unknown;
      }>`select find_in_set('STRICT_ALL_TABLES', @@session.sql_mode) > 0 as v`,
      want: 1,
    },
    {
      query: sql<{
        v: unknown;
      }>`select find_in_set('ONLY_FULL_GROUP_BY', @@session.sql_mode) > 0 as v`,
      want: 1,
    },
  ],
} as const;

forEachDialect('openDatabase', (dialect) => {
  test('opens, answers and closes twice', TIMEOUT, async (t) => {
    const fresh = await freshDatabase(t, dialect);
    const handle = await fresh.open();
    assert.equal(handle.dialect, dialect);
    const { rows } = await sql<{ one: number }>`select 1 as one`.execute(handle.db);
    assert.deepEqual(rows, [{ one: 1 }]);
    await handle.close();
    await handle.close();
  });

  test('sets up every session the same way', TIMEOUT, async (t) => {
    const handle = await (await freshDatabase(t, dialect)).open();
    for (const { query, want } of SESSION_CHECKS[dialect]) {
      const { rows } = await query.execute(handle.db);
      assert.equal(rows[0]?.v, want, query.compile(handle.db).sql);
    }
  });

  // SQLite creates a missing file and has no logins: these cases exist only on servers.
  if (dialect !== 'sqlite') {
    test('names a database that does not exist', { ...TIMEOUT }, async () => {
      const name = `ts_test_missing_${randomBytes(4).toString('hex')}`;
      await assertOpenFails(withDatabaseName(adminUrl(dialect), name), [
        new RegExp(`^the database '${name}' does not exist on the (PostgreSQL|MariaDB) server at `),
        new RegExp(`; create it \\(CREATE DATABASE ${name}\\) or fix database\\.url$`),
      ]);
    });

    test('names a refused login', { ...TIMEOUT }, async () => {
      const url = adminUrl(dialect).replace(/\/\/[^@/]*@/, '//ts_no_such_user:hunter2@');
      await assertOpenFails(
        url,
        [
          /^(PostgreSQL|MariaDB) at .* refused the login \(.+\); fix the user or password in database\.url/,
        ],
        'hunter2',
      );
    });
  }
});
