/**
 * A read view of every provider (inventory with usage, traits, aggregates, tree links) kept in
 * memory and brought up to date before each read, so allocation candidates and provider listings
 * are computed without a query per provider.
 *
 * Freshness: every write bumps the `placement_state` version in its transaction and stamps each
 * provider it changed with the new version (see `writes.ts`). A read first reads the version;
 * when it moved, the view reloads only the providers stamped after the version it holds, and
 * drops deleted ones. Reading the version before the data means the view is never older than
 * the version it records, so the next read after any commit sees that commit, in this process or
 * another one.
 */
import { sql, type Kysely } from 'kysely';
import type { PlacementDatabase } from './db/schema.ts';

export type Db = Kysely<PlacementDatabase>;

export type InventoryView = {
  readonly total: number;
  readonly reserved: number;
  readonly min_unit: number;
  readonly max_unit: number;
  readonly step_size: number;
  readonly allocation_ratio: number;
  /** floor((total − reserved) × allocation_ratio), as upstream computes it. */
  readonly capacity: number;
  readonly used: number;
};

export type ProviderNode = {
  readonly id: number;
  readonly uuid: string;
  readonly name: string;
  readonly generation: number;
  readonly parentId: number | null;
  readonly rootId: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** By resource class id. */
  readonly inventories: ReadonlyMap<number, InventoryView>;
  readonly traits: ReadonlySet<number>;
  readonly aggregates: ReadonlySet<number>;
};

export type Snapshot = {
  readonly version: number;
  /** In id order. */
  readonly providers: ReadonlyMap<number, ProviderNode>;
  readonly byUuid: ReadonlyMap<string, ProviderNode>;
  /** Providers of each tree, by root id, in id order (the root first). */
  readonly trees: ReadonlyMap<number, readonly ProviderNode[]>;
  /** Members of each aggregate, by aggregate id. */
  readonly aggregateMembers: ReadonlyMap<number, ReadonlySet<number>>;
  readonly aggregateIds: ReadonlyMap<string, number>;
  readonly aggregateUuids: ReadonlyMap<number, string>;
  readonly classIds: ReadonlyMap<string, number>;
  readonly classNames: ReadonlyMap<number, string>;
  readonly traitIds: ReadonlyMap<string, number>;
  readonly traitNames: ReadonlyMap<number, string>;
  /** Whether any provider has a parent (upstream takes simpler paths when none does). */
  readonly hasTrees: boolean;
  /**
   * The same object for every view that has the same providers, trees, aggregates and traits
   * (only usage or inventories differ), so what is worked out from those alone can be kept.
   */
  readonly shape: object;
};

/** Changed entries a view carries over its base map before it copies the whole map. */
const MAX_OVERLAY = 256;

/**
 * A map read as `base` with a few entries replaced, iterated in the base's order: a write that
 * changes one provider makes a new view without copying every provider's entry.
 */
class PatchedMap<K, V> implements ReadonlyMap<K, V> {
  readonly #base: ReadonlyMap<K, V>;
  readonly #changes: ReadonlyMap<K, V>;

  private constructor(base: ReadonlyMap<K, V>, changes: ReadonlyMap<K, V>) {
    this.#base = base;
    this.#changes = changes;
  }

  /** `map` with `changes` (keys it already has) replaced. */
  static of<K, V>(map: ReadonlyMap<K, V>, changes: Iterable<[K, V]>): ReadonlyMap<K, V> {
    if (map instanceof PatchedMap && map.#changes.size < MAX_OVERLAY) {
      const merged = new Map(map.#changes as ReadonlyMap<K, V>);
      for (const [k, v] of changes) merged.set(k, v);
      return new PatchedMap(map.#base as ReadonlyMap<K, V>, merged);
    }
    return new PatchedMap(map instanceof PatchedMap ? new Map(map) : map, new Map(changes));
  }

  get size(): number {
    return this.#base.size;
  }

  get(key: K): V | undefined {
    return this.#changes.get(key) ?? this.#base.get(key);
  }

  has(key: K): boolean {
    return this.#base.has(key);
  }

  *entries(): MapIterator<[K, V]> {
    for (const [k, v] of this.#base) yield [k, this.#changes.get(k) ?? v];
  }

  keys(): MapIterator<K> {
    return this.#base.keys();
  }

  *values(): MapIterator<V> {
    for (const [k, v] of this.#base) yield this.#changes.get(k) ?? v;
  }

  forEach(fn: (value: V, key: K, map: ReadonlyMap<K, V>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) fn.call(thisArg, v, k, this);
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }
}

export function capacityOf(total: number, reserved: number, ratio: number): number {
  return Math.floor((total - reserved) * ratio);
}

/** Whether `amount` of the inventory fits: unit limits, step and free capacity. */
export function fits(inv: InventoryView | undefined, amount: number): boolean {
  return (
    inv !== undefined &&
    amount >= inv.min_unit &&
    amount <= inv.max_unit &&
    amount % inv.step_size === 0 &&
    inv.used + amount <= inv.capacity
  );
}

type MutableNode = {
  -readonly [K in keyof ProviderNode]: ProviderNode[K];
} & {
  inventories: Map<number, InventoryView>;
  traits: Set<number>;
  aggregates: Set<number>;
};

/** Keeps `IN (…)` lists within every engine's parameter limits. */
const CHUNK = 500;

/** Whether `node` sits where `old` did: same provider, tree links, aggregates and traits. */
function sameLinks(old: ProviderNode | undefined, node: ProviderNode): boolean {
  return (
    old !== undefined &&
    old.uuid === node.uuid &&
    old.parentId === node.parentId &&
    old.rootId === node.rootId &&
    sameSet(old.aggregates, node.aggregates) &&
    sameSet(old.traits, node.traits)
  );
}

function sameSet(a: ReadonlySet<number>, b: ReadonlySet<number>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

export class ProviderState {
  readonly #db: Db;
  #nodes = new Map<number, MutableNode>();
  #snapshot: Snapshot | undefined;
  #vocabularyKey = '';
  #classIds = new Map<string, number>();
  #classNames = new Map<number, string>();
  #traitIds = new Map<string, number>();
  #traitNames = new Map<number, string>();
  #aggregateIds = new Map<string, number>();
  #aggregateUuids = new Map<number, string>();
  /** One refresh at a time; concurrent readers share it. */
  #refreshing: Promise<Snapshot> | undefined;

  constructor(db: Db) {
    this.#db = db;
  }

  /** The view as of now (at least as new as every write committed before the call). */
  async current(): Promise<Snapshot> {
    const row = await this.#db
      .selectFrom('placement_state')
      .select('version')
      .where('id', '=', 1)
      .executeTakeFirstOrThrow();
    const version = Number(row.version);
    if (this.#snapshot?.version === version) return this.#snapshot;
    // A refresh already under way may have read an older version; wait for it, then check again.
    while (this.#refreshing) {
      const snap = await this.#refreshing;
      if (snap.version >= version) return snap;
    }
    this.#refreshing = this.#refresh(version);
    try {
      return await this.#refreshing;
    } finally {
      this.#refreshing = undefined;
    }
  }

  /**
   * Resource class ids by name, as of now, without bringing the providers up to date: what a
   * claim needs, which would otherwise pay for re-reading every provider after each write.
   */
  async classIds(): Promise<ReadonlyMap<string, number>> {
    await this.#refreshVocabulary();
    return this.#classIds;
  }

  async #refresh(version: number): Promise<Snapshot> {
    await this.#refreshVocabulary();
    const since = this.#snapshot?.version;
    const rows = await this.#db
      .selectFrom('resource_providers')
      .select([
        'id',
        'uuid',
        'name',
        'generation',
        'changed_version',
        'parent_provider_id',
        'root_provider_id',
        'created_at',
        'updated_at',
      ])
      .$if(since !== undefined, (q) => q.where('changed_version', '>', since ?? 0))
      .execute();
    const stale: MutableNode[] = [];
    const before = new Map<number, MutableNode | undefined>();
    for (const row of rows) {
      const old = this.#nodes.get(row.id);
      before.set(row.id, old);
      const node: MutableNode = {
        id: row.id,
        uuid: row.uuid,
        name: row.name,
        generation: row.generation,
        parentId: row.parent_provider_id,
        rootId: row.root_provider_id,
        createdAt: row.created_at,
        updatedAt: row.updated_at,
        inventories: old?.inventories ?? new Map(),
        traits: old?.traits ?? new Set(),
        aggregates: old?.aggregates ?? new Set(),
      };
      this.#nodes.set(row.id, node);
      stale.push(node);
    }
    const dropped = since !== undefined && (await this.#dropDeleted());
    await this.#reload(stale, since === undefined);
    const previous = this.#snapshot;
    const sameShape =
      previous !== undefined &&
      !dropped &&
      stale.every((node) => sameLinks(before.get(node.id), node));
    this.#snapshot = sameShape ? this.#patch(previous, version, stale) : this.#index(version);
    return this.#snapshot;
  }

  /**
   * Deletions leave no stamp: a count that disagrees with the view says some happened.
   * @returns whether any provider was dropped.
   */
  async #dropDeleted(): Promise<boolean> {
    const { n } = await this.#db
      .selectFrom('resource_providers')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    if (Number(n) === this.#nodes.size) return false;
    const ids = new Set(
      (await this.#db.selectFrom('resource_providers').select('id').execute()).map((r) => r.id),
    );
    let dropped = false;
    for (const id of [...this.#nodes.keys()])
      if (!ids.has(id)) dropped = this.#nodes.delete(id) || dropped;
    return dropped;
  }

  /** Resource classes, traits and aggregates: small tables, re-read only when they changed. */
  async #refreshVocabulary(): Promise<void> {
    // One round trip: this runs before every claim.
    const { rows } = await sql<Record<string, unknown>>`
      select
        (select count(*) from resource_classes) as classes,
        (select max(id) from resource_classes) as class_top,
        (select max(updated_at) from resource_classes) as class_changed,
        (select count(*) from traits) as traits,
        (select max(id) from traits) as trait_top,
        (select count(*) from placement_aggregates) as aggregates,
        (select max(id) from placement_aggregates) as aggregate_top`.execute(this.#db);
    const key = JSON.stringify(Object.values(rows[0] ?? {}).map(String));
    if (key === this.#vocabularyKey) return;
    const [classRows, traitRows, aggregateRows] = await Promise.all([
      this.#db.selectFrom('resource_classes').select(['id', 'name']).execute(),
      this.#db.selectFrom('traits').select(['id', 'name']).execute(),
      this.#db.selectFrom('placement_aggregates').select(['id', 'uuid']).execute(),
    ]);
    this.#classIds = new Map(classRows.map((r) => [r.name, r.id]));
    this.#classNames = new Map(classRows.map((r) => [r.id, r.name]));
    this.#traitIds = new Map(traitRows.map((r) => [r.name, r.id]));
    this.#traitNames = new Map(traitRows.map((r) => [r.id, r.name]));
    this.#aggregateIds = new Map(aggregateRows.map((r) => [r.uuid, r.id]));
    this.#aggregateUuids = new Map(aggregateRows.map((r) => [r.id, r.uuid]));
    this.#vocabularyKey = key;
  }

  /** Re-reads inventories, usage, traits and aggregates of `nodes` (`all`: of every node). */
  async #reload(nodes: MutableNode[], all: boolean): Promise<void> {
    if (nodes.length === 0) return;
    for (const node of nodes) {
      node.inventories = new Map();
      node.traits = new Set();
      node.aggregates = new Set();
    }
    const groups = all ? [undefined] : chunks(nodes.map((n) => n.id));
    for (const ids of groups) {
      const [inventories, usages, traits, aggregates] = await Promise.all([
        this.#db
          .selectFrom('inventories')
          .selectAll()
          .$if(ids !== undefined, (q) => q.where('resource_provider_id', 'in', ids ?? []))
          .execute(),
        this.#db
          .selectFrom('allocations')
          .select((eb) => [
            'resource_provider_id',
            'resource_class_id',
            eb.fn.sum<number>('used').as('used'),
          ])
          .$if(ids !== undefined, (q) => q.where('resource_provider_id', 'in', ids ?? []))
          .groupBy(['resource_provider_id', 'resource_class_id'])
          .execute(),
        this.#db
          .selectFrom('resource_provider_traits')
          .select(['resource_provider_id', 'trait_id'])
          .$if(ids !== undefined, (q) => q.where('resource_provider_id', 'in', ids ?? []))
          .execute(),
        this.#db
          .selectFrom('resource_provider_aggregates')
          .select(['resource_provider_id', 'aggregate_id'])
          .$if(ids !== undefined, (q) => q.where('resource_provider_id', 'in', ids ?? []))
          .execute(),
      ]);
      const used = new Map<string, number>();
      for (const u of usages)
        used.set(`${u.resource_provider_id}:${u.resource_class_id}`, Number(u.used));
      for (const inv of inventories) {
        this.#nodes.get(inv.resource_provider_id)?.inventories.set(inv.resource_class_id, {
          total: inv.total,
          reserved: inv.reserved,
          min_unit: inv.min_unit,
          max_unit: inv.max_unit,
          step_size: inv.step_size,
          allocation_ratio: Number(inv.allocation_ratio),
          capacity: capacityOf(inv.total, inv.reserved, Number(inv.allocation_ratio)),
          used: used.get(`${inv.resource_provider_id}:${inv.resource_class_id}`) ?? 0,
        });
      }
      for (const t of traits) this.#nodes.get(t.resource_provider_id)?.traits.add(t.trait_id);
      for (const a of aggregates)
        this.#nodes.get(a.resource_provider_id)?.aggregates.add(a.aggregate_id);
    }
  }

  /**
   * The previous view with `changed` swapped in, for the common write (usage or inventory of
   * providers that already existed, with the same tree, aggregates and traits): the maps are
   * read through the changed entries instead of copied, and the shape stays the same.
   */
  #patch(previous: Snapshot, version: number, changed: readonly ProviderNode[]): Snapshot {
    const trees = new Map<number, ProviderNode[]>();
    for (const node of changed) {
      const tree = trees.get(node.rootId) ?? previous.trees.get(node.rootId) ?? [];
      trees.set(
        node.rootId,
        tree.map((member) => (member.id === node.id ? node : member)),
      );
    }
    return {
      ...previous,
      ...this.#vocabulary(),
      version,
      providers: PatchedMap.of(
        previous.providers,
        changed.map((node) => [node.id, node]),
      ),
      byUuid: PatchedMap.of(
        previous.byUuid,
        changed.map((node) => [node.uuid, node]),
      ),
      trees: PatchedMap.of(previous.trees, trees),
    };
  }

  #index(version: number): Snapshot {
    const byUuid = new Map<string, ProviderNode>();
    const trees = new Map<number, ProviderNode[]>();
    const aggregateMembers = new Map<number, Set<number>>();
    let hasTrees = false;
    const ordered = [...this.#nodes.values()].sort((a, b) => a.id - b.id);
    for (const node of ordered) {
      byUuid.set(node.uuid, node);
      if (node.parentId !== null) hasTrees = true;
      let tree = trees.get(node.rootId);
      if (!tree) trees.set(node.rootId, (tree = []));
      tree.push(node);
      for (const agg of node.aggregates) {
        let members = aggregateMembers.get(agg);
        if (!members) aggregateMembers.set(agg, (members = new Set()));
        members.add(node.id);
      }
    }
    return {
      version,
      // A copy in id order: a later refresh must not change the view a request is still reading,
      // and listings come out in a stable order on every engine.
      providers: new Map(ordered.map((node) => [node.id, node])),
      byUuid,
      trees,
      aggregateMembers,
      ...this.#vocabulary(),
      hasTrees,
      shape: {},
    };
  }

  #vocabulary() {
    return {
      aggregateIds: this.#aggregateIds,
      aggregateUuids: this.#aggregateUuids,
      classIds: this.#classIds,
      classNames: this.#classNames,
      traitIds: this.#traitIds,
      traitNames: this.#traitNames,
    };
  }
}
