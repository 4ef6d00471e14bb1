/**
 * Consumers and their allocations. A write replaces the allocations of one or more consumers in
 * one transaction: it drops their old allocations, checks every new amount against inventory
 * and current usage, inserts, and moves every provider it touched to its next generation with a
 * compare-and-swap on the generation it read. A concurrent claim on the same provider makes the
 * swap fail, and the whole transaction runs again on fresh usage, so capacity is never
 * over-committed however many claims race (SQLite serialises them; PostgreSQL and MariaDB block
 * on the provider row and then see the other claim's generation).
 */
import { toDbTimestamp, DuplicateKeyError } from '../common/db/portable.ts';
import { CODES, badRequest, conflict, notFound } from './errors.ts';
import type { Db } from './provider-state.ts';
import { capacityOf } from './provider-state.ts';
import { providerByUuid } from './providers.ts';
import { ConcurrentUpdate, nextGeneration, write, type Trx } from './writes.ts';

export type ResourceAmount = {
  readonly providerUuid: string;
  readonly rcId: number;
  readonly rcName: string;
  readonly amount: number;
};

export type ConsumerAllocations = {
  readonly consumerUuid: string;
  readonly projectId: string;
  readonly userId: string;
  /** 1.28+: the generation the caller read (null: a new consumer); undefined: not checked. */
  readonly consumerGeneration?: number | null;
  /** 1.38+; undefined keeps the consumer's type. */
  readonly consumerType?: string;
  readonly allocations: readonly ResourceAmount[];
};

export type ConsumerView = {
  uuid: string;
  project_id: string;
  user_id: string;
  generation: number;
  consumer_type: string | null;
};

export type ConsumerAllocationsView = {
  consumer: ConsumerView | undefined;
  /** provider uuid → its generation and the amounts by class name. */
  providers: Map<string, { generation: number; resources: Record<string, number> }>;
};

/** Consumers of allocations written before consumer types (1.38) show as this type. */
export const UNKNOWN_CONSUMER_TYPE = 'unknown';

type ProviderRef = { id: number; uuid: string; generation: number };

export class Allocations {
  readonly #db: Db;
  readonly #now: () => Date;

  constructor(db: Db, now: () => Date = () => new Date()) {
    this.#db = db;
    this.#now = now;
  }

  /**
   * Replaces the allocations of each consumer (an empty list removes them, and the consumer).
   * @throws BadRequestError (400) for an unknown provider or an amount outside the unit limits;
   *   ConflictError (409) for a consumer generation that is not current or an amount beyond
   *   capacity.
   */
  async set(
    consumers: readonly ConsumerAllocations[],
    between?: (trx: Trx) => Promise<void>,
  ): Promise<void> {
    const at = toDbTimestamp(this.#now());
    await write(this.#db, async (trx) => {
      const oldProviders = new Set<number>();
      const existing = new Map<string, ConsumerView & { id: number }>();
      for (const c of consumers) {
        const row = await trx
          .selectFrom('consumers')
          .selectAll()
          .where('uuid', '=', c.consumerUuid)
          .executeTakeFirst();
        checkConsumerGeneration(c, row);
        if (!row) continue;
        existing.set(c.consumerUuid, row);
        const old = await trx
          .selectFrom('allocations')
          .select('resource_provider_id')
          .distinct()
          .where('consumer_id', '=', row.id)
          .execute();
        for (const p of old) oldProviders.add(p.resource_provider_id);
        await trx.deleteFrom('allocations').where('consumer_id', '=', row.id).execute();
      }
      // The reshaper moves inventory here, between dropping and writing allocations.
      if (between) await between(trx);
      // Generations are read before usage, so a claim committed after this read fails the swap.
      const touched = new Map<number, ProviderRef>();
      if (oldProviders.size > 0)
        for (const p of await trx
          .selectFrom('resource_providers')
          .select(['id', 'uuid', 'generation'])
          .where('id', 'in', [...oldProviders])
          .execute())
          touched.set(p.id, p);
      const wanted = await this.#checkCapacity(trx, consumers, touched);
      for (const c of consumers) {
        const row = existing.get(c.consumerUuid);
        if (c.allocations.length === 0) {
          if (row) await trx.deleteFrom('consumers').where('id', '=', row.id).execute();
          continue;
        }
        const consumerId = row
          ? await this.#updateConsumer(trx, row, c, at)
          : await this.#createConsumer(trx, c, at);
        await trx
          .insertInto('allocations')
          .values(
            c.allocations.map((a) => ({
              resource_provider_id: wanted.get(a.providerUuid)?.id ?? -1,
              consumer_id: consumerId,
              resource_class_id: a.rcId,
              used: a.amount,
              created_at: at,
            })),
          )
          .execute();
      }
      for (const p of touched.values()) await nextGeneration(trx, p, p.generation, false);
    });
  }

  /**
   * Loads the providers named in `consumers` into `touched` and checks each (provider, class)
   * total against inventory and the usage left after the old allocations were dropped.
   */
  async #checkCapacity(
    trx: Trx,
    consumers: readonly ConsumerAllocations[],
    touched: Map<number, ProviderRef>,
  ): Promise<Map<string, ProviderRef>> {
    const byUuid = new Map<string, ProviderRef>();
    const totals = new Map<
      string,
      { rp: ProviderRef; rcId: number; rcName: string; amount: number }
    >();
    for (const c of consumers) {
      for (const a of c.allocations) {
        let rp = byUuid.get(a.providerUuid);
        if (!rp) {
          const row = await trx
            .selectFrom('resource_providers')
            .select(['id', 'uuid', 'generation'])
            .where('uuid', '=', a.providerUuid)
            .executeTakeFirst();
          if (!row)
            throw badRequest(
              `Allocation for resource provider '${a.providerUuid}' that does not exist.`,
            );
          rp = touched.get(row.id) ?? row;
          byUuid.set(a.providerUuid, rp);
          touched.set(rp.id, rp);
        }
        const key = `${rp.id}:${a.rcId}`;
        const total = totals.get(key);
        if (total) total.amount += a.amount;
        else totals.set(key, { rp, rcId: a.rcId, rcName: a.rcName, amount: a.amount });
      }
    }
    // Inventory and usage of every provider named, in two queries whatever their number.
    const ids = [...new Set([...totals.values()].map((t) => t.rp.id))];
    const inventories = await trx
      .selectFrom('inventories')
      .selectAll()
      .where('resource_provider_id', 'in', ids)
      .execute();
    const usages = await trx
      .selectFrom('allocations')
      .select((eb) => [
        'resource_provider_id',
        'resource_class_id',
        eb.fn.sum<number>('used').as('used'),
      ])
      .where('resource_provider_id', 'in', ids)
      .groupBy(['resource_provider_id', 'resource_class_id'])
      .execute();
    const inventoryOf = new Map(
      inventories.map((inv) => [`${inv.resource_provider_id}:${inv.resource_class_id}`, inv]),
    );
    const usedOf = new Map(
      usages.map((u) => [`${u.resource_provider_id}:${u.resource_class_id}`, Number(u.used)]),
    );
    for (const [key, t] of totals) {
      const inv = inventoryOf.get(key);
      const where = `'${t.rcName}' on resource provider '${t.rp.uuid}'`;
      if (!inv) throw conflict(`Unable to allocate inventory: Inventory for ${where} invalid.`);
      if (t.amount < inv.min_unit || t.amount > inv.max_unit || t.amount % inv.step_size !== 0)
        throw badRequest(
          `Unable to allocate inventory: Unable to create allocation for ${where}. The requested amount would violate inventory constraints.`,
        );
      const used = usedOf.get(key) ?? 0;
      if (used + t.amount > capacityOf(inv.total, inv.reserved, Number(inv.allocation_ratio)))
        throw conflict(
          `Unable to allocate inventory: Unable to create allocation for ${where}. The requested amount would exceed the capacity.`,
        );
    }
    return byUuid;
  }

  async #createConsumer(trx: Trx, c: ConsumerAllocations, at: string): Promise<number> {
    try {
      const row = await trx
        .insertInto('consumers')
        .values({
          uuid: c.consumerUuid,
          project_id: c.projectId,
          user_id: c.userId,
          generation: 1,
          consumer_type: c.consumerType ?? null,
          created_at: at,
          updated_at: at,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      return row.id;
    } catch (err) {
      // Another claim created the consumer first: run again and see it.
      if (err instanceof DuplicateKeyError) throw new ConcurrentUpdate(c.consumerUuid);
      throw err;
    }
  }

  async #updateConsumer(
    trx: Trx,
    row: ConsumerView & { id: number },
    c: ConsumerAllocations,
    at: string,
  ): Promise<number> {
    const result = await trx
      .updateTable('consumers')
      .set({
        project_id: c.projectId,
        user_id: c.userId,
        generation: row.generation + 1,
        consumer_type: c.consumerType ?? row.consumer_type,
        updated_at: at,
      })
      .where('id', '=', row.id)
      .where('generation', '=', row.generation)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) throw new ConcurrentUpdate(c.consumerUuid);
    return row.id;
  }

  /** The consumer's allocations, by provider (empty when it has none). */
  async get(consumerUuid: string): Promise<ConsumerAllocationsView> {
    const consumer = await this.#db
      .selectFrom('consumers')
      .select(['uuid', 'project_id', 'user_id', 'generation', 'consumer_type', 'id'])
      .where('uuid', '=', consumerUuid)
      .executeTakeFirst();
    const providers: ConsumerAllocationsView['providers'] = new Map();
    if (!consumer) return { consumer: undefined, providers };
    const rows = await this.#db
      .selectFrom('allocations')
      .innerJoin('resource_providers', 'resource_providers.id', 'allocations.resource_provider_id')
      .innerJoin('resource_classes', 'resource_classes.id', 'allocations.resource_class_id')
      .select([
        'resource_providers.uuid',
        'resource_providers.generation',
        'resource_classes.name',
        'allocations.used',
      ])
      .where('allocations.consumer_id', '=', consumer.id)
      .orderBy('allocations.id')
      .execute();
    for (const r of rows) {
      let entry = providers.get(r.uuid);
      if (!entry) providers.set(r.uuid, (entry = { generation: r.generation, resources: {} }));
      entry.resources[r.name] = (entry.resources[r.name] ?? 0) + r.used;
    }
    const { id: _id, ...view } = consumer;
    return { consumer: view, providers };
  }

  /** @throws NotFoundError (404) when the consumer has no allocations. */
  async delete(consumerUuid: string): Promise<void> {
    const current = await this.get(consumerUuid);
    if (current.providers.size === 0)
      throw notFound(`No allocations for consumer '${consumerUuid}'`);
    const c = current.consumer;
    if (!c) return;
    await this.set([
      {
        consumerUuid,
        projectId: c.project_id,
        userId: c.user_id,
        allocations: [],
      },
    ]);
  }

  /** Allocations against one provider, by consumer uuid. */
  async forProvider(
    uuid: string,
  ): Promise<{ generation: number; consumers: Map<string, Record<string, number>> }> {
    const rp = await providerByUuid(this.#db, uuid);
    const rows = await this.#db
      .selectFrom('allocations')
      .innerJoin('consumers', 'consumers.id', 'allocations.consumer_id')
      .innerJoin('resource_classes', 'resource_classes.id', 'allocations.resource_class_id')
      .select(['consumers.uuid', 'resource_classes.name', 'allocations.used'])
      .where('allocations.resource_provider_id', '=', rp.id)
      .orderBy('allocations.id')
      .execute();
    const consumers = new Map<string, Record<string, number>>();
    for (const r of rows) {
      let resources = consumers.get(r.uuid);
      if (!resources) consumers.set(r.uuid, (resources = {}));
      resources[r.name] = (resources[r.name] ?? 0) + r.used;
    }
    return { generation: rp.generation, consumers };
  }

  /**
   * Usage of a project (and user) by consumer type (`unknown` for consumers without one): class
   * name → amount, and how many consumers. `consumerType` keeps only that type.
   */
  async usages(filter: {
    projectId: string;
    userId?: string;
    consumerType?: string;
  }): Promise<Map<string, { consumers: number; resources: Record<string, number> }>> {
    const rows = await this.#db
      .selectFrom('allocations')
      .innerJoin('consumers', 'consumers.id', 'allocations.consumer_id')
      .innerJoin('resource_classes', 'resource_classes.id', 'allocations.resource_class_id')
      .select([
        'consumers.id as consumer',
        'consumers.consumer_type',
        'resource_classes.name',
        'allocations.used',
      ])
      .where('consumers.project_id', '=', filter.projectId)
      .$if(filter.userId !== undefined, (q) =>
        q.where('consumers.user_id', '=', filter.userId ?? ''),
      )
      .execute();
    const out = new Map<string, { consumers: number; resources: Record<string, number> }>();
    const counted = new Map<string, Set<number>>();
    for (const r of rows) {
      const type = r.consumer_type ?? UNKNOWN_CONSUMER_TYPE;
      if (filter.consumerType !== undefined && filter.consumerType !== type) continue;
      let entry = out.get(type);
      if (!entry) out.set(type, (entry = { consumers: 0, resources: {} }));
      entry.resources[r.name] = (entry.resources[r.name] ?? 0) + r.used;
      let seen = counted.get(type);
      if (!seen) counted.set(type, (seen = new Set()));
      if (!seen.has(r.consumer)) {
        seen.add(r.consumer);
        entry.consumers += 1;
      }
    }
    return out;
  }
}

/** @throws ConflictError (409, concurrent update) when the caller's consumer generation is stale. */
function checkConsumerGeneration(
  c: ConsumerAllocations,
  row: { generation: number } | undefined,
): void {
  if (c.consumerGeneration === undefined) return;
  const actual = row?.generation ?? null;
  if (c.consumerGeneration === actual) return;
  throw conflict(
    row
      ? `consumer generation conflict - expected ${actual} but got ${c.consumerGeneration}`
      : `consumer generation conflict - expected null but got ${c.consumerGeneration}`,
    CODES.concurrentUpdate,
  );
}
