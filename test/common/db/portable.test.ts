import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import {
  ConnectionLostError,
  DeadlockError,
  DuplicateKeyError,
  fromDbBoolean,
  fromDbJson,
  fromDbTimestamp,
  toDbBoolean,
  toDbJson,
  toDbTimestamp,
  withRetry,
} from '../../../src/common/db/portable.ts';
import { forEachDialect, freshDatabase } from '../../helpers/databases.ts';
import { CREATED_AT, openWithSchema } from './fixture-schema.ts';

const TIMEOUT = { timeout: 10_000 };

describe('withRetry', TIMEOUT, () => {
  /** A function that fails with `errors` in turn, then returns 'done'; and the waits it was given. */
  function flaky(errors: readonly Error[]) {
    const waits: number[] = [];
    let calls = 0;
    const fn = async (): Promise<string> => {
      const err = errors[calls++];
      if (err !== undefined) throw err;
      return 'done';
    };
    const sleep = async (ms: number): Promise<void> => {
      waits.push(ms);
    };
    return { fn, sleep, waits, calls: () => calls };
  }

  test('retries a deadlock with growing waits', async () => {
    const { fn, sleep, waits, calls } = flaky([new DeadlockError('a'), new DeadlockError('b')]);
    assert.equal(await withRetry(fn, { sleep, baseDelayMs: 100 }), 'done');
    assert.equal(calls(), 3);
    assert.equal(waits.length, 2);
    assert.ok(waits[0]! >= 50 && waits[0]! <= 150, `first wait ${waits[0]}`);
    assert.ok(waits[1]! >= 100 && waits[1]! <= 300, `second wait ${waits[1]}`);
  });

  test('gives up after its attempts with the last error', async () => {
    const last = new DeadlockError('third');
    const { fn, sleep } = flaky([new DeadlockError('1'), new DeadlockError('2'), last]);
    await assert.rejects(withRetry(fn, { sleep, attempts: 3 }), (err) => err === last);
  });

  const notRetried = [
    { name: 'a duplicate key', err: new DuplicateKeyError('dup', { columns: ['name'] }) },
    { name: 'a lost connection', err: new ConnectionLostError('gone') },
    { name: 'any other error', err: new Error('bug') },
  ];
  for (const { name, err } of notRetried) {
    test(`does not retry ${name}`, async () => {
      const { fn, sleep, calls } = flaky([err]);
      await assert.rejects(withRetry(fn, { sleep }), (thrown) => thrown === err);
      assert.equal(calls(), 1);
    });
  }
});

describe('value conventions', TIMEOUT, () => {
  test('timestamps are fixed-width UTC text that sorts in time order', () => {
    const dates = [
      '2024-02-29T23:59:59.999Z',
      '2023-12-31T00:00:00.000Z',
      '2024-03-01T00:00:00.000Z',
    ].map((s) => new Date(s));
    const stored = dates.map(toDbTimestamp);
    assert.ok(stored.every((s) => s.length === 24));
    assert.deepEqual([...stored].sort(), [stored[1], stored[0], stored[2]]);
    assert.deepEqual(stored.map(fromDbTimestamp), dates);
  });
});

forEachDialect('portable queries', (dialect) => {
  test('insert returning, select, update and delete', TIMEOUT, async (t) => {
    const { db } = await openWithSchema(await freshDatabase(t, dialect));
    const inserted = await db
      .insertInto('projects')
      .values([
        { name: 'admin', created_at: CREATED_AT },
        { name: 'demo', created_at: CREATED_AT },
      ])
      .returning(['id', 'name'])
      .execute();
    assert.deepEqual(inserted, [
      { id: 1, name: 'admin' },
      { id: 2, name: 'demo' },
    ]);
    const updated = await db
      .updateTable('projects')
      .set({ name: 'demo2' })
      .where('id', '=', 2)
      .executeTakeFirst();
    assert.equal(updated.numUpdatedRows, 1n);
    // Compare-and-set code counts matched rows; MariaDB counts only changed ones unless told.
    const unchanged = await db
      .updateTable('projects')
      .set({ name: 'demo2' })
      .where('id', '=', 2)
      .executeTakeFirst();
    assert.equal(unchanged.numUpdatedRows, 1n);
    const deleted = await db.deleteFrom('projects').where('name', '=', 'admin').executeTakeFirst();
    assert.equal(deleted.numDeletedRows, 1n);
    assert.deepEqual(await db.selectFrom('projects').select(['id', 'name', 'enabled']).execute(), [
      { id: 2, name: 'demo2', enabled: 1 },
    ]);
    // A deleted row's id is not reused.
    const next = await db
      .insertInto('projects')
      .values({ name: 'third', created_at: CREATED_AT })
      .returning('id')
      .executeTakeFirstOrThrow();
    assert.equal(next.id, 3);
  });

  test('count and sum are numbers', TIMEOUT, async (t) => {
    const { db } = await openWithSchema(await freshDatabase(t, dialect), ['a', 'b', 'c']);
    const row = await db
      .selectFrom('projects')
      .select((eb) => [
        eb.fn.countAll().as('n'),
        eb.fn.sum('id').as('total'),
        eb.fn.max('id').as('top'),
      ])
      .executeTakeFirstOrThrow();
    assert.deepEqual(row, { n: 3, total: 6, top: 3 });
  });

  test('a transaction commits, and rolls back when it throws', TIMEOUT, async (t) => {
    const { db } = await openWithSchema(await freshDatabase(t, dialect));
    await db.transaction().execute(async (trx) => {
      await trx.insertInto('projects').values({ name: 'kept', created_at: CREATED_AT }).execute();
    });
    await assert.rejects(
      db.transaction().execute(async (trx) => {
        await trx.insertInto('projects').values({ name: 'lost', created_at: CREATED_AT }).execute();
        // The duplicate fails inside the transaction and takes the earlier insert with it.
        await trx.insertInto('projects').values({ name: 'kept', created_at: CREATED_AT }).execute();
      }),
      DuplicateKeyError,
    );
    const names = await db.selectFrom('projects').select('name').execute();
    assert.deepEqual(names, [{ name: 'kept' }]);
  });

  test('timestamps, booleans, JSON and long text round-trip identically', TIMEOUT, async (t) => {
    const { db } = await openWithSchema(await freshDatabase(t, dialect));
    const leap = new Date('2024-02-29T23:59:59.999Z');
    const newYear = new Date('2023-12-31T00:00:00.000Z');
    const extra = { tags: ['a', 'ü'], nested: { ratio: 1.5, none: null, ok: true }, emoji: '🚀' };
    const name = 'Zoë 🚀 \'single\' "double" back\\slash %_';
    const notes = 'x'.repeat(100_000);
    await db
      .insertInto('projects')
      .values([
        {
          name,
          enabled: toDbBoolean(false),
          created_at: toDbTimestamp(leap),
          extra: toDbJson(extra),
          notes,
        },
        {
          name: 'plain',
          enabled: toDbBoolean(true),
          created_at: toDbTimestamp(newYear),
          extra: null,
          notes: null,
        },
      ])
      .execute();
    const rows = await db.selectFrom('projects').selectAll().orderBy('created_at').execute();
    assert.deepEqual(
      rows.map((row) => ({
        name: row.name,
        enabled: fromDbBoolean(row.enabled),
        created_at: fromDbTimestamp(row.created_at),
        extra: row.extra === null ? null : fromDbJson(row.extra),
        notes: row.notes?.length ?? null,
      })),
      [
        { name: 'plain', enabled: true, created_at: newYear, extra: null, notes: null },
        { name, enabled: false, created_at: leap, extra, notes: 100_000 },
      ],
    );
    const enabled = await db
      .selectFrom('projects')
      .select('name')
      .where('enabled', '=', toDbBoolean(true))
      .execute();
    assert.deepEqual(enabled, [{ name: 'plain' }]);
    const before2024 = await db
      .selectFrom('projects')
      .select('name')
      .where('created_at', '<', toDbTimestamp(new Date('2024-01-01T00:00:00Z')))
      .execute();
    assert.deepEqual(before2024, [{ name: 'plain' }]);
  });

  test(
    'text is case-sensitive in comparisons, LIKE and unique keys; || concatenates',
    TIMEOUT,
    async (t) => {
      const { db } = await openWithSchema(await freshDatabase(t, dialect), [
        'Alpha',
        'alpha',
        'alpha ',
      ]);
      const equal = await db
        .selectFrom('projects')
        .select('id')
        .where('name', '=', 'alpha')
        .execute();
      assert.deepEqual(equal, [{ id: 2 }]);
      const like = await db
        .selectFrom('projects')
        .select('id')
        .where('name', 'like', 'al%')
        .orderBy('id')
        .execute();
      assert.deepEqual(like, [{ id: 2 }, { id: 3 }]);
      const { rows } = await sql<{
        v: string;
      }>`select name || '-x' as v from projects where id = 1`.execute(db);
      assert.deepEqual(rows, [{ v: 'Alpha-x' }]);
    },
  );
});
