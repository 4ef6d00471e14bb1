import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import {
  ConnectionLostError,
  DeadlockError,
  DuplicateKeyError,
  ForeignKeyError,
  withRetry,
} from '../../../src/common/db/portable.ts';
import { forEachDialect, freshDatabase } from '../../helpers/databases.ts';
import { CREATED_AT, openWithSchema } from './fixture-schema.ts';
import type { Tables } from './fixture-schema.ts';

const TIMEOUT = { timeout: 15_000 };
const SERVER_UUID = '6f1c4f3e-1b1a-4c1e-9a57-2f0e1c9d0a11';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Asserts that `promise` fails with a DuplicateKeyError on `columns` (and `constraint`, where told). */
async function assertDuplicate(
  promise: Promise<unknown>,
  dialect: string,
  columns: readonly string[],
  constraint: Record<string, string | undefined>,
): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof DuplicateKeyError, `expected a DuplicateKeyError, got ${String(err)}`);
    assert.deepEqual(err.columns, columns);
    assert.equal(err.constraint, constraint[dialect]);
    assert.equal(err.retryable, false);
    return true;
  });
}

forEachDialect('error classification', (dialect) => {
  test('a duplicate key is a DuplicateKeyError naming its columns', TIMEOUT, async (t) => {
    const { db } = await openWithSchema(await freshDatabase(t, dialect), ['admin']);
    const server = { uuid: SERVER_UUID, project_id: 1, name: 'vm' };
    await db.insertInto('servers').values(server).execute();
    await assertDuplicate(
      db
        .insertInto('servers')
        .values({ ...server, uuid: SERVER_UUID.replace('6f', '7f') })
        .execute(),
      dialect,
      ['project_id', 'name'],
      { postgres: 'uq_servers_project_name', mysql: 'uq_servers_project_name' },
    );
    await assertDuplicate(
      db
        .insertInto('servers')
        .values({ ...server, name: 'other' })
        .execute(),
      dialect,
      ['uuid'],
      { postgres: 'servers_pkey', mysql: 'PRIMARY' },
    );
    // An update too, where MariaDB's error names neither table nor columns.
    await db.insertInto('projects').values({ name: 'demo', created_at: CREATED_AT }).execute();
    await assertDuplicate(
      db.updateTable('projects').set({ name: 'admin' }).where('name', '=', 'demo').execute(),
      dialect,
      ['name'],
      { postgres: 'uq_projects_name', mysql: 'uq_projects_name' },
    );
  });

  test('a foreign key violation is a ForeignKeyError', TIMEOUT, async (t) => {
    const { db } = await openWithSchema(await freshDatabase(t, dialect), ['admin']);
    const constraint = dialect === 'sqlite' ? undefined : 'fk_servers_project';
    const check = (err: unknown): boolean => {
      assert.ok(err instanceof ForeignKeyError, `expected a ForeignKeyError, got ${String(err)}`);
      assert.equal(err.constraint, constraint);
      return true;
    };
    await assert.rejects(
      db.insertInto('servers').values({ uuid: SERVER_UUID, project_id: 42, name: 'vm' }).execute(),
      check,
    );
    await db
      .insertInto('servers')
      .values({ uuid: SERVER_UUID, project_id: 1, name: 'vm' })
      .execute();
    await assert.rejects(db.deleteFrom('projects').where('id', '=', 1).execute(), check);
  });

  if (dialect === 'sqlite') {
    test(
      'a writer locked out is a DeadlockError, and withRetry gets through',
      TIMEOUT,
      async (t) => {
        const fresh = await freshDatabase(t, dialect);
        const holder = await openWithSchema(fresh, ['a', 'b']);
        // No busy wait: better-sqlite3 would spend it blocking this very process, holder included.
        const other = await fresh.open<Tables>({ busyTimeoutMs: 0 });
        const holding = deferred();
        const tried = deferred();
        const held = holder.db.transaction().execute(async (trx) => {
          await trx.updateTable('projects').set({ notes: 'holder' }).where('id', '=', 1).execute();
          holding.resolve();
          await tried.promise;
        });
        await holding.promise;
        const write = (db: Kysely<Tables>) =>
          db.updateTable('projects').set({ notes: 'other' }).where('id', '=', 2).execute();
        await assert.rejects(write(other.db), DeadlockError);
        let attempts = 0;
        const retried = withRetry(
          async () => {
            attempts++;
            try {
              return await other.db.transaction().execute(write);
            } finally {
              tried.resolve();
            }
          },
          { sleep: () => held },
        );
        await Promise.all([held, retried]);
        assert.equal(attempts, 2);
      },
    );
  } else {
    /** One transaction of a pair that locks rows 1 and 2 in opposite orders. */
    async function crossUpdate(
      db: Kysely<Tables>,
      first: number,
      mine: { resolve: () => void },
      theirs: Promise<void>,
    ): Promise<void> {
      await db.transaction().execute(async (trx) => {
        await trx
          .updateTable('projects')
          .set({ notes: `${first}` })
          .where('id', '=', first)
          .execute();
        mine.resolve();
        await theirs;
        await trx
          .updateTable('projects')
          .set({ notes: `${first}` })
          .where('id', '=', 3 - first)
          .execute();
      });
    }

    test('a deadlock is a DeadlockError, and withRetry gets through', TIMEOUT, async (t) => {
      const { db } = await openWithSchema(await freshDatabase(t, dialect), ['a', 'b']);
      let [one, two] = [deferred(), deferred()];
      const outcomes = await Promise.allSettled([
        crossUpdate(db, 1, one, two.promise),
        crossUpdate(db, 2, two, one.promise),
      ]);
      const failures = outcomes.flatMap((o): unknown[] =>
        o.status === 'rejected' ? [o.reason] : [],
      );
      assert.equal(failures.length, 1, 'exactly one transaction is chosen as the victim');
      assert.ok(failures[0] instanceof DeadlockError, String(failures[0]));
      assert.equal(failures[0].retryable, true);

      [one, two] = [deferred(), deferred()];
      let attempts = 0;
      const retry = { sleep: async () => undefined };
      await Promise.all([
        withRetry(() => (attempts++, crossUpdate(db, 1, one, two.promise)), retry),
        withRetry(() => (attempts++, crossUpdate(db, 2, two, one.promise)), retry),
      ]);
      // At least one retry; a retry can win the lock race and deadlock once more (seen here).
      assert.ok(attempts >= 3, `attempts: ${attempts}`);
    });

    test(
      'a killed session is a ConnectionLostError, and the next query reconnects',
      TIMEOUT,
      async (t) => {
        const { db } = await openWithSchema(await freshDatabase(t, dialect));
        await assert.rejects(
          db.connection().execute(async (conn) => {
            if (dialect === 'postgres') {
              await sql`select pg_terminate_backend(pg_backend_pid())`.execute(conn);
              return;
            }
            const { rows } = await sql<{ id: number }>`select connection_id() as id`.execute(conn);
            await sql`kill ${sql.lit(rows[0]?.id ?? 0)}`.execute(conn);
            await sql`select 1`.execute(conn);
          }),
          ConnectionLostError,
        );
        const { rows } = await sql<{ one: number }>`select 1 as one`.execute(db);
        assert.deepEqual(rows, [{ one: 1 }]);
      },
    );
  }
});
