import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import type { DatabaseHandle } from '../../../src/common/db/database.ts';
import { MigrationError, currentVersion, migrate } from '../../../src/common/db/migrate.ts';
import type { Migration } from '../../../src/common/db/migrate.ts';
import { columnType } from '../../../src/common/db/portable.ts';
import { forEachDialect, freshDatabase } from '../../helpers/databases.ts';

const TIMEOUT = { timeout: 15_000 };
const CLOCK = () => new Date('2024-05-01T12:00:00.000Z');

type Applied = { service: string; version: number; name: string; applied_at: string };

/** A migration that creates table `t<version>`; without `if not exists`, so running it twice fails. */
function createTable(version: number, name = `create_t${version}`): Migration {
  return {
    version,
    name,
    up: async (db) => {
      await db.schema
        .createTable(`t${version}`)
        .addColumn('id', columnType.uuid, (c) => c.primaryKey())
        .execute();
    },
  };
}

const V1_V2 = [createTable(1), createTable(2)];

async function recorded(handle: DatabaseHandle<unknown>): Promise<Applied[]> {
  const { rows } = await sql<Applied>`
    select service, version, name, applied_at from tstack_migrations order by service, version`.execute(
    handle.db,
  );
  return rows;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

forEachDialect('migrate', (dialect) => {
  test('applies pending migrations in order and records them', TIMEOUT, async (t) => {
    const handle = await (await freshDatabase(t, dialect)).open();
    assert.equal(await currentVersion(handle, 'compute'), 0);
    const result = await migrate(handle, 'compute', V1_V2, { now: CLOCK });
    assert.deepEqual(result, {
      from: 0,
      to: 2,
      applied: [
        { version: 1, name: 'create_t1' },
        { version: 2, name: 'create_t2' },
      ],
    });
    assert.equal(await currentVersion(handle, 'compute'), 2);
    assert.deepEqual(await recorded(handle), [
      { service: 'compute', version: 1, name: 'create_t1', applied_at: '2024-05-01T12:00:00.000Z' },
      { service: 'compute', version: 2, name: 'create_t2', applied_at: '2024-05-01T12:00:00.000Z' },
    ]);
  });

  test('a second run applies nothing, a later one only what is new', TIMEOUT, async (t) => {
    const handle = await (await freshDatabase(t, dialect)).open();
    await migrate(handle, 'compute', V1_V2);
    assert.deepEqual(await migrate(handle, 'compute', V1_V2), { from: 2, to: 2, applied: [] });
    const later = await migrate(handle, 'compute', [...V1_V2, createTable(3)]);
    assert.deepEqual(later, { from: 2, to: 3, applied: [{ version: 3, name: 'create_t3' }] });
  });

  test('keeps each service to its own versions', TIMEOUT, async (t) => {
    const handle = await (await freshDatabase(t, dialect)).open();
    await migrate(handle, 'compute', V1_V2);
    await migrate(handle, 'image', [createTable(5)]);
    assert.equal(await currentVersion(handle, 'compute'), 2);
    assert.equal(await currentVersion(handle, 'image'), 5);
    assert.equal(await currentVersion(handle, 'network'), 0);
  });

  test('two processes migrating at once apply each migration once', TIMEOUT, async (t) => {
    const fresh = await freshDatabase(t, dialect);
    const [first, second] = await Promise.all([fresh.open(), fresh.open()]);
    const migrations = [createTable(1), createTable(2), createTable(3)];
    const results = await Promise.all([
      migrate(first, 'compute', migrations),
      migrate(second, 'compute', migrations),
    ]);
    const applied = results.flatMap((r) => r.applied.map((m) => m.version)).sort();
    assert.deepEqual(applied, [1, 2, 3]);
    assert.deepEqual(
      (await recorded(first)).map((row) => row.version),
      [1, 2, 3],
    );
  });

  test('a migrator waits for the lock and gives up after its timeout', TIMEOUT, async (t) => {
    const fresh = await freshDatabase(t, dialect);
    const [holder, waiter] = await Promise.all([fresh.open(), fresh.open()]);
    const started = deferred();
    const release = deferred();
    const slow: Migration = {
      version: 1,
      name: 'slow',
      up: async (db) => {
        started.resolve();
        await release.promise;
        await db.schema.createTable('slow').addColumn('id', 'integer').execute();
      },
    };
    const holding = migrate(holder, 'compute', [slow]);
    await started.promise;
    await assert.rejects(
      migrate(waiter, 'compute', [slow], { lockTimeoutMs: 200 }),
      (err: unknown) => {
        assert.ok(err instanceof MigrationError);
        assert.match(
          err.message,
          /^another process held the migration lock of this database for 200 ms; /,
        );
        return true;
      },
    );
    release.resolve();
    assert.deepEqual((await holding).applied, [{ version: 1, name: 'slow' }]);
    assert.deepEqual((await migrate(waiter, 'compute', [slow])).applied, []);
  });

  test('refuses a database newer than the code', TIMEOUT, async (t) => {
    const handle = await (await freshDatabase(t, dialect)).open();
    await migrate(handle, 'compute', [...V1_V2, createTable(3)]);
    await assert.rejects(
      migrate(handle, 'compute', V1_V2),
      new MigrationError(
        'the compute database is at schema version 3, newer than this tstack knows (2); ' +
          'run the tstack release that migrated it, or a later one',
      ),
    );
  });

  test('refuses a recorded migration the code names differently', TIMEOUT, async (t) => {
    const handle = await (await freshDatabase(t, dialect)).open();
    await migrate(handle, 'compute', V1_V2);
    await assert.rejects(migrate(handle, 'compute', [createTable(1), createTable(2, 'renamed')]), {
      name: 'MigrationError',
      message:
        /^compute migration 2 is recorded as 'create_t2' but this tstack calls it 'renamed'; /,
    });
  });

  test('a failing migration names itself and is not recorded', TIMEOUT, async (t) => {
    const handle = await (await freshDatabase(t, dialect)).open();
    await migrate(handle, 'compute', [createTable(1)]);
    const failing: Migration = {
      version: 3,
      name: 'broken',
      up: async (db) => {
        await db.schema.createTable('t3').addColumn('id', 'integer').execute();
        await sql`select * from no_such_table`.execute(db);
      },
    };
    await assert.rejects(
      migrate(handle, 'compute', [createTable(1), createTable(2), failing]),
      (err: unknown) => {
        assert.ok(err instanceof MigrationError);
        assert.match(err.message, /^compute migration 3 \(broken\) failed: .*no_such_table.*; /);
        return true;
      },
    );
    // PostgreSQL rolls back the failed migration alone, SQLite the whole run, and MariaDB keeps
    // what ran before the failure (its DDL commits at once).
    const expected = { sqlite: 1, postgres: 2, mysql: 2 }[dialect];
    assert.equal(await currentVersion(handle, 'compute'), expected);
  });

  test('rejects a list that is not strictly increasing', TIMEOUT, async (t) => {
    const handle = await (await freshDatabase(t, dialect)).open();
    await assert.rejects(migrate(handle, 'compute', [createTable(2), createTable(1)]), {
      message: 'compute migrations: version 1 must be an integer above 2',
    });
  });
});
