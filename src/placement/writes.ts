/**
 * What every placement write does in its transaction: compare-and-swap the generation of each
 * provider it changes (the generation the caller read, or the one read in the transaction), and
 * bump the state version that tells readers their view is stale.
 */
import { sql, type Transaction } from 'kysely';
import { withRetry } from '../common/db/portable.ts';
import type { PlacementDatabase } from './db/schema.ts';
import { CODES, conflict, providerGenerationConflict } from './errors.ts';
import type { Db } from './provider-state.ts';

export type Trx = Transaction<PlacementDatabase>;

/** A provider row changed under a write that did not name a generation: run it again. */
export class ConcurrentUpdate extends Error {}

/**
 * Moves provider `id` from generation `expected` to the next one.
 * @returns the new generation.
 * @throws ConflictError (409, `placement.concurrent_update`) when the caller named the
 *   generation (`callerGeneration`) and it is not current; ConcurrentUpdate otherwise.
 */
export async function nextGeneration(
  trx: Trx,
  provider: { id: number; uuid: string },
  expected: number,
  callerGeneration: boolean,
): Promise<number> {
  const result = await trx
    .updateTable('resource_providers')
    .set({ generation: expected + 1, revision: sql<number>`revision + 1` })
    .where('id', '=', provider.id)
    .where('generation', '=', expected)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) !== 1) {
    if (callerGeneration) throw providerGenerationConflict(provider.uuid);
    throw new ConcurrentUpdate(`provider ${provider.uuid} changed during the write`);
  }
  return expected + 1;
}

/** Marks a change to provider `id` that leaves its generation alone. */
export async function touchProvider(trx: Trx, id: number): Promise<void> {
  await trx
    .updateTable('resource_providers')
    .set({ revision: sql<number>`revision + 1` })
    .where('id', '=', id)
    .execute();
}

/** Tells readers (in every process) that their view is stale. */
export async function bumpVersion(trx: Trx): Promise<void> {
  await trx
    .updateTable('placement_state')
    .set({ version: sql<number>`version + 1` })
    .where('id', '=', 1)
    .execute();
}

/**
 * Runs `fn` in a transaction, again when the database aborted it (deadlock, serialization) or
 * a provider it read changed before it wrote (up to ten times, as upstream retries claims).
 */
export async function write<T>(db: Db, fn: (trx: Trx) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await withRetry(() => db.transaction().execute(fn));
    } catch (err) {
      if (!(err instanceof ConcurrentUpdate) || attempt >= 10) {
        if (err instanceof ConcurrentUpdate)
          throw conflict(
            'Another thread concurrently updated the data. Please retry your update',
            CODES.concurrentUpdate,
          );
        throw err;
      }
    }
  }
}
