/**
 * Resource providers and what hangs off them: inventories, traits, aggregates. Every change is
 * a transaction that moves the provider to its next generation (compare-and-swap on the
 * generation the caller read, when it names one) and bumps the state version.
 */
import { randomUUID } from 'node:crypto';
import { DuplicateKeyError, toDbTimestamp } from '../common/db/portable.ts';
import { CODES, badRequest, conflict, notFound, providerNotFound } from './errors.ts';
import type { Db } from './provider-state.ts';
import { markChanged, nextGeneration, write, type Trx } from './writes.ts';

export type ProviderRow = {
  id: number;
  uuid: string;
  name: string;
  generation: number;
  parent_provider_id: number | null;
  root_provider_id: number;
};

export type InventoryInput = {
  total: number;
  reserved: number;
  min_unit: number;
  max_unit: number;
  step_size: number;
  allocation_ratio: number;
};

/** Upstream's integer ceiling for inventory fields. */
export const MAX_INT = 2147483647;

export const INVENTORY_DEFAULTS: Omit<InventoryInput, 'total'> = {
  reserved: 0,
  min_unit: 1,
  max_unit: MAX_INT,
  step_size: 1,
  allocation_ratio: 1.0,
};

/** A resource class as the caller named it and as the database knows it. */
export type ClassRef = { id: number; name: string };

const PROVIDER_COLUMNS = [
  'id',
  'uuid',
  'name',
  'generation',
  'parent_provider_id',
  'root_provider_id',
] as const;

export async function providerByUuid(db: Db | Trx, uuid: string): Promise<ProviderRow> {
  const row = await db
    .selectFrom('resource_providers')
    .select(PROVIDER_COLUMNS)
    .where('uuid', '=', uuid)
    .executeTakeFirst();
  if (!row) throw providerNotFound(uuid);
  return row;
}

export class Providers {
  readonly #db: Db;
  readonly #now: () => Date;

  constructor(db: Db, now: () => Date = () => new Date()) {
    this.#db = db;
    this.#now = now;
  }

  /**
   * @throws ConflictError (409) for a name or uuid already taken; BadRequestError (400) for a
   *   parent that does not exist.
   */
  async create(input: { name: string; uuid?: string; parentUuid?: string }): Promise<ProviderRow> {
    const uuid = input.uuid ?? randomUUID();
    const at = toDbTimestamp(this.#now());
    try {
      return await write(this.#db, async (trx) => {
        let parent: ProviderRow | undefined;
        if (input.parentUuid !== undefined) {
          parent = await trx
            .selectFrom('resource_providers')
            .select(PROVIDER_COLUMNS)
            .where('uuid', '=', input.parentUuid)
            .executeTakeFirst();
          if (!parent)
            throw badRequest(
              `Unable to create resource provider "${input.name}", ${uuid}: parent provider UUID does not exist.`,
            );
        }
        const inserted = await trx
          .insertInto('resource_providers')
          .values({
            uuid,
            name: input.name,
            generation: 0,
            parent_provider_id: parent?.id ?? null,
            root_provider_id: parent?.root_provider_id ?? 0,
            created_at: at,
            updated_at: at,
          })
          .returning('id')
          .executeTakeFirstOrThrow();
        markChanged(trx, [inserted.id]);
        const rootId = parent?.root_provider_id ?? inserted.id;
        if (!parent)
          await trx
            .updateTable('resource_providers')
            .set({ root_provider_id: rootId })
            .where('id', '=', inserted.id)
            .execute();
        return {
          id: inserted.id,
          uuid,
          name: input.name,
          generation: 0,
          parent_provider_id: parent?.id ?? null,
          root_provider_id: rootId,
        };
      });
    } catch (err) {
      throw duplicateProvider(err, input.name, uuid);
    }
  }

  /**
   * Renames and (1.37) re-parents. `parentUuid` undefined leaves the parent; null un-parents.
   * @throws BadRequestError (400) for a re-parent the version does not allow or a loop.
   */
  async update(
    uuid: string,
    input: { name: string; parentUuid?: string | null },
    allowReparent: boolean,
  ): Promise<ProviderRow> {
    try {
      return await write(this.#db, async (trx) => {
        const rp = await providerByUuid(trx, uuid);
        let parentId = rp.parent_provider_id;
        let rootId = rp.root_provider_id;
        if (input.parentUuid !== undefined) {
          const parent =
            input.parentUuid === null ? undefined : await this.#parentFor(trx, input.parentUuid);
          const newParentId = parent?.id ?? null;
          if (newParentId !== rp.parent_provider_id) {
            // Adopting an orphan is allowed from 1.14; moving or orphaning a child only from 1.37.
            if (!allowReparent && rp.parent_provider_id !== null)
              throw badRequest(
                newParentId === null
                  ? 'un-parenting a provider is not currently allowed.'
                  : 're-parenting a provider is not currently allowed.',
              );
            if (parent && (await this.#inSubtree(trx, rp.id, parent.id)))
              throw badRequest('creating loop in the provider tree is not allowed.');
            parentId = newParentId;
            rootId = parent?.root_provider_id ?? rp.id;
            await this.#setSubtreeRoot(trx, rp.id, rootId);
          }
        }
        await trx
          .updateTable('resource_providers')
          .set({
            name: input.name,
            parent_provider_id: parentId,
            root_provider_id: rootId,
            updated_at: toDbTimestamp(this.#now()),
          })
          .where('id', '=', rp.id)
          .execute();
        const generation = await nextGeneration(trx, rp, rp.generation, false);
        return {
          ...rp,
          name: input.name,
          parent_provider_id: parentId,
          root_provider_id: rootId,
          generation,
        };
      });
    } catch (err) {
      throw duplicateProvider(err, input.name, uuid);
    }
  }

  async #parentFor(trx: Trx, uuid: string): Promise<ProviderRow> {
    const parent = await trx
      .selectFrom('resource_providers')
      .select(PROVIDER_COLUMNS)
      .where('uuid', '=', uuid)
      .executeTakeFirst();
    if (!parent) throw badRequest(`parent provider UUID ${uuid} does not exist.`);
    return parent;
  }

  /** Whether `candidate` is `id` or one of its descendants. */
  async #inSubtree(trx: Trx, id: number, candidate: number): Promise<boolean> {
    return (await this.#subtree(trx, id)).includes(candidate);
  }

  async #subtree(trx: Trx, id: number): Promise<number[]> {
    const out = [id];
    for (let i = 0; i < out.length; i++) {
      const children = await trx
        .selectFrom('resource_providers')
        .select('id')
        .where('parent_provider_id', '=', out[i] ?? -1)
        .execute();
      out.push(...children.map((c) => c.id));
    }
    return out;
  }

  async #setSubtreeRoot(trx: Trx, id: number, rootId: number): Promise<void> {
    const ids = await this.#subtree(trx, id);
    await trx
      .updateTable('resource_providers')
      .set({
        root_provider_id: rootId,
        generation: (eb) => eb('generation', '+', 1),
      })
      .where('id', 'in', ids)
      .where('id', '!=', id)
      .execute();
    markChanged(
      trx,
      ids.filter((other) => other !== id),
    );
  }

  /**
   * @throws ConflictError (409) while the provider has children or allocations.
   */
  async delete(uuid: string): Promise<void> {
    await write(this.#db, async (trx) => {
      const rp = await providerByUuid(trx, uuid);
      const child = await trx
        .selectFrom('resource_providers')
        .select('id')
        .where('parent_provider_id', '=', rp.id)
        .executeTakeFirst();
      if (child)
        throw conflict(
          `Unable to delete parent resource provider ${uuid}: It has child resource providers.`,
          CODES.cannotDeleteParent,
        );
      const allocation = await trx
        .selectFrom('allocations')
        .select('id')
        .where('resource_provider_id', '=', rp.id)
        .executeTakeFirst();
      if (allocation)
        throw conflict(
          `Unable to delete resource provider ${uuid}: Resource provider has allocations.`,
          CODES.providerInUse,
        );
      await trx.deleteFrom('inventories').where('resource_provider_id', '=', rp.id).execute();
      await trx
        .deleteFrom('resource_provider_traits')
        .where('resource_provider_id', '=', rp.id)
        .execute();
      await trx
        .deleteFrom('resource_provider_aggregates')
        .where('resource_provider_id', '=', rp.id)
        .execute();
      await trx.deleteFrom('resource_providers').where('id', '=', rp.id).execute();
    });
  }

  /**
   * Replaces the whole inventory (`generation` as the caller read it). Classes dropped must have
   * no allocations.
   * @returns the provider's new generation.
   */
  async setInventories(
    uuid: string,
    generation: number | undefined,
    inventories: ReadonlyMap<ClassRef, InventoryInput>,
    reservedMayEqualTotal: boolean,
  ): Promise<number> {
    Providers.check(uuid, inventories, reservedMayEqualTotal);
    return write(this.#db, async (trx) => {
      const next = await this.setInventoriesIn(trx, uuid, generation, inventories);
      return next;
    });
  }

  /** `setInventories` inside the caller's transaction (the reshaper's); checks done by it. */
  async setInventoriesIn(
    trx: Trx,
    uuid: string,
    generation: number | undefined,
    inventories: ReadonlyMap<ClassRef, InventoryInput>,
  ): Promise<number> {
    const rp = await providerByUuid(trx, uuid);
    const next = await nextGeneration(
      trx,
      rp,
      generation ?? rp.generation,
      generation !== undefined,
    );
    const keep = [...inventories.keys()].map((rc) => rc.id);
    await this.#refuseInUse(trx, rp, keep);
    const at = toDbTimestamp(this.#now());
    await trx
      .deleteFrom('inventories')
      .where('resource_provider_id', '=', rp.id)
      .$if(keep.length > 0, (q) => q.where('resource_class_id', 'not in', keep))
      .execute();
    const existing = new Set(
      (
        await trx
          .selectFrom('inventories')
          .select('resource_class_id')
          .where('resource_provider_id', '=', rp.id)
          .execute()
      ).map((r) => r.resource_class_id),
    );
    for (const [rc, inv] of inventories)
      await writeInventory(trx, rp.id, rc.id, inv, existing.has(rc.id), at);
    return next;
  }

  /** Checks a reshaper's inventories before its transaction. */
  static check(
    uuid: string,
    inventories: ReadonlyMap<ClassRef, InventoryInput>,
    reservedMayEqualTotal: boolean,
  ): void {
    for (const [rc, inv] of inventories)
      checkInventory(uuid, rc.name, inv, reservedMayEqualTotal, 'update');
  }

  /**
   * Creates (POST) or replaces (PUT) one class's inventory.
   * @returns the provider's new generation.
   * @throws ConflictError (409) when POST finds the class already there.
   */
  async putInventory(
    uuid: string,
    generation: number,
    rc: ClassRef,
    inv: InventoryInput,
    mode: 'create' | 'update',
    reservedMayEqualTotal: boolean,
  ): Promise<number> {
    checkInventory(uuid, rc.name, inv, reservedMayEqualTotal, mode);
    return write(this.#db, async (trx) => {
      const rp = await providerByUuid(trx, uuid);
      const next = await nextGeneration(trx, rp, generation, true);
      const found = await trx
        .selectFrom('inventories')
        .select('resource_class_id')
        .where('resource_provider_id', '=', rp.id)
        .where('resource_class_id', '=', rc.id)
        .executeTakeFirst();
      const at = toDbTimestamp(this.#now());
      if (mode === 'create' && found)
        throw conflict(
          `Unable to create inventory for resource provider ${uuid}: Inventory for '${rc.name}' on resource provider '${uuid}' already exists.`,
        );
      if (mode === 'update' && !found)
        throw badRequest(`No inventory record with resource class for resource provider ${uuid}`);
      await writeInventory(trx, rp.id, rc.id, inv, found !== undefined, at);
      return next;
    });
  }

  /**
   * Deletes one class's inventory (`rc`) or all of it.
   * @throws NotFoundError (404) when that inventory does not exist; ConflictError (409) while
   *   allocations use it.
   */
  async deleteInventory(uuid: string, rc: ClassRef | undefined): Promise<void> {
    await write(this.#db, async (trx) => {
      const rp = await providerByUuid(trx, uuid);
      if (rc) {
        const found = await trx
          .selectFrom('inventories')
          .select('resource_class_id')
          .where('resource_provider_id', '=', rp.id)
          .where('resource_class_id', '=', rc.id)
          .executeTakeFirst();
        if (!found)
          throw notFound(
            `No inventory of class ${rc.name} found for delete on resource provider ${uuid}`,
          );
      }
      const keep = rc
        ? (
            await trx
              .selectFrom('inventories')
              .select('resource_class_id')
              .where('resource_provider_id', '=', rp.id)
              .where('resource_class_id', '!=', rc.id)
              .execute()
          ).map((r) => r.resource_class_id)
        : [];
      await this.#refuseInUse(trx, rp, keep);
      await trx
        .deleteFrom('inventories')
        .where('resource_provider_id', '=', rp.id)
        .$if(rc !== undefined, (q) => q.where('resource_class_id', '=', rc?.id ?? -1))
        .execute();
      await nextGeneration(trx, rp, rp.generation, false);
    });
  }

  /** @throws ConflictError (409, inventory in use) when classes outside `keep` are allocated. */
  async #refuseInUse(trx: Trx, rp: ProviderRow, keep: number[]): Promise<void> {
    const used = await trx
      .selectFrom('allocations')
      .innerJoin('resource_classes', 'resource_classes.id', 'allocations.resource_class_id')
      .select('resource_classes.name')
      .distinct()
      .where('allocations.resource_provider_id', '=', rp.id)
      .$if(keep.length > 0, (q) => q.where('allocations.resource_class_id', 'not in', keep))
      .execute();
    if (used.length > 0)
      throw conflict(
        `update conflict: Inventory for '${used.map((u) => u.name).join(', ')}' on resource provider '${rp.uuid}' in use.`,
        CODES.inventoryInUse,
      );
  }

  /** Replaces the provider's traits. @returns the new generation. */
  async setTraits(uuid: string, generation: number, traitIds: readonly number[]): Promise<number> {
    return write(this.#db, async (trx) => {
      const rp = await providerByUuid(trx, uuid);
      const next = await nextGeneration(trx, rp, generation, true);
      await trx
        .deleteFrom('resource_provider_traits')
        .where('resource_provider_id', '=', rp.id)
        .execute();
      const unique = [...new Set(traitIds)];
      if (unique.length > 0)
        await trx
          .insertInto('resource_provider_traits')
          .values(unique.map((id) => ({ resource_provider_id: rp.id, trait_id: id })))
          .execute();
      return next;
    });
  }

  /** Removes every trait of the provider (no generation check, as upstream). */
  async clearTraits(uuid: string): Promise<void> {
    await write(this.#db, async (trx) => {
      const rp = await providerByUuid(trx, uuid);
      await trx
        .deleteFrom('resource_provider_traits')
        .where('resource_provider_id', '=', rp.id)
        .execute();
      await nextGeneration(trx, rp, rp.generation, false);
    });
  }

  /**
   * Replaces the provider's aggregates, creating aggregates not seen before. `generation`
   * (1.19+) is checked when given. @returns the new generation.
   */
  async setAggregates(
    uuid: string,
    generation: number | undefined,
    aggregates: readonly string[],
  ): Promise<number> {
    const unique = [...new Set(aggregates)];
    return write(this.#db, async (trx) => {
      const rp = await providerByUuid(trx, uuid);
      // Before 1.19 the caller names no generation and upstream leaves it alone.
      let next = rp.generation;
      if (generation !== undefined) next = await nextGeneration(trx, rp, generation, true);
      else markChanged(trx, [rp.id]);
      const ids = await ensureAggregates(trx, unique);
      await trx
        .deleteFrom('resource_provider_aggregates')
        .where('resource_provider_id', '=', rp.id)
        .execute();
      if (ids.length > 0)
        await trx
          .insertInto('resource_provider_aggregates')
          .values(ids.map((id) => ({ resource_provider_id: rp.id, aggregate_id: id })))
          .execute();
      return next;
    });
  }
}

/** Updates the (provider, class) inventory row, or inserts it when there is none yet. */
async function writeInventory(
  trx: Trx,
  rpId: number,
  rcId: number,
  inv: InventoryInput,
  exists: boolean,
  at: string,
): Promise<void> {
  if (exists)
    await trx
      .updateTable('inventories')
      .set({ ...inv, updated_at: at })
      .where('resource_provider_id', '=', rpId)
      .where('resource_class_id', '=', rcId)
      .execute();
  else
    await trx
      .insertInto('inventories')
      .values({
        ...inv,
        resource_provider_id: rpId,
        resource_class_id: rcId,
        created_at: at,
        updated_at: at,
      })
      .execute();
}

async function ensureAggregates(trx: Trx, uuids: readonly string[]): Promise<number[]> {
  if (uuids.length === 0) return [];
  const found = await trx
    .selectFrom('placement_aggregates')
    .select(['id', 'uuid'])
    .where('uuid', 'in', uuids)
    .execute();
  const ids = new Map(found.map((r) => [r.uuid, r.id]));
  for (const uuid of uuids) {
    if (ids.has(uuid)) continue;
    const row = await trx
      .insertInto('placement_aggregates')
      .values({ uuid })
      .returning('id')
      .executeTakeFirstOrThrow();
    ids.set(uuid, row.id);
  }
  return uuids.map((u) => ids.get(u) ?? -1);
}

function duplicateProvider(err: unknown, name: string, uuid: string): unknown {
  if (!(err instanceof DuplicateKeyError)) return err;
  const onUuid = err.columns?.includes('uuid') === true || (err.constraint ?? '').includes('uuid');
  return onUuid
    ? conflict(`Conflicting resource provider uuid: ${uuid} already exists.`)
    : conflict(`Conflicting resource provider name: ${name} already exists.`, CODES.duplicateName);
}

/** @throws BadRequestError (400) for a reserved amount the inventory cannot hold. */
function checkInventory(
  uuid: string,
  rcName: string,
  inv: InventoryInput,
  reservedMayEqualTotal: boolean,
  mode: 'create' | 'update',
): void {
  const bad = reservedMayEqualTotal ? inv.reserved > inv.total : inv.reserved >= inv.total;
  if (bad) {
    const what = reservedMayEqualTotal ? 'greater than total' : 'greater than or equal to total';
    throw badRequest(
      `Unable to ${mode} inventory for resource provider ${uuid}: Invalid inventory for '${rcName}' on resource provider '${uuid}'. The reserved value is ${what}.`,
    );
  }
  if (inv.min_unit > inv.max_unit)
    throw badRequest(
      `Unable to ${mode} inventory for resource provider ${uuid}: Invalid inventory for '${rcName}' on resource provider '${uuid}'. min_unit ${inv.min_unit} is greater than max_unit ${inv.max_unit}.`,
    );
}
