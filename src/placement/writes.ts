/**
 * What every placement write does in its transaction: compare-and-swap the generation of each
 * provider it changes (the generation the caller read, or the one read in the transaction), then,
 * last, bump the state version that tells readers their view is stale and stamp every provider
 * it changed with that version.
 *
 * Why the stamp lets a reader fetch only what changed: the version row stays locked from the bump
 * to the commit, so versions commit in order. A reader that read version V (committed) can rely
 * on every provider stamped V or lower being committed too, and asks next time only for
 * providers stamped above V.
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
    .set({ generation: expected + 1 })
    .where('id', '=', provider.id)
    .where('generation', '=', expected)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) !== 1) {
    if (callerGeneration) throw providerGenerationConflict(provider.uuid);
    throw new ConcurrentUpdate(`provider ${provider.uuid} changed during the write`);
  }
  markChanged(trx, [provider.id]);
  return expected + 1;
}

/** Providers each open transaction changed, stamped when it ends. */
const changedIn = new WeakMap<Trx, Set<number>>();

/**
 * Records that the transaction changed providers `ids` (rows, inventories, traits, aggregates,
 * allocations), so readers reload them; `nextGeneration` records its provider itself.
 */
export function markChanged(trx: Trx, ids: readonly number[]): void {
  let set = changedIn.get(trx);
  if (!set) changedIn.set(trx, (set = new Set()));
  for (const id of ids) set.add(id);
}

/** Keeps `IN (…)` lists within every engine's parameter limits. */
const CHUNK = 500;

/** Tells readers (in every process) that their view is stale, and which providers changed. */
async function bumpVersion(trx: Trx): Promise<void> {
  await trx
    .updateTable('placement_state')
    .set({ version: sql<number>`version + 1` })
    .where('id', '=', 1)
    .execute();
  const ids = [...(changedIn.get(trx) ?? [])];
  for (let i = 0; i < ids.length; i += CHUNK)
    await trx
      .updateTable('resource_providers')
      .set({ changed_version: sql<number>`(select version from placement_state where id = 1)` })
      .where('id', 'in', ids.slice(i, i + CHUNK))
      .execute();
}

/**
 * Runs `fn` in a transaction, again when the database aborted it (deadlock, serialization) or
 * a provider it read changed before it wrote (up to ten times, as upstream retries claims).
 */
export async function write<T>(db: Db, fn: (trx: Trx) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await withRetry(() =>
        db.transaction().execute(async (trx) => {
          const result = await fn(trx);
          await bumpVersion(trx);
          return result;
        }),
      );
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
