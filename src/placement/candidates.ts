/**
 * Allocation candidates, computed in memory over a provider snapshot, with upstream Placement's
 * semantics:
 *
 * - The unnumbered group may take each resource class from a different provider of one tree, or
 *   from a sharing provider (trait `MISC_SHARES_VIA_AGGREGATE`) that shares an aggregate with a
 *   provider of that tree; the tree's root is the request's anchor. Its required traits must be
 *   held collectively by the providers a request uses; no provider used may hold a forbidden
 *   one. `member_of` matches a provider or its anchor root.
 * - A numbered group (`resources1`, `resources_X`) is satisfied by one provider that alone has
 *   the capacity, traits and aggregates; a sharing provider may serve any tree it anchors to.
 * - Groups are combined per anchor; `group_policy=isolate` makes numbered groups use distinct
 *   providers; `same_subtree` keeps combinations whose providers for the named groups all sit
 *   under one of them; `root_required` filters anchors by the root's traits. Amounts the
 *   combined request takes from one provider must still fit its capacity and `max_unit`.
 * - Before 1.29, requests using two providers of one tree are left out.
 */
import type { ProviderNode, Snapshot } from './provider-state.ts';
import { fits } from './provider-state.ts';

export const SHARING_TRAIT = 'MISC_SHARES_VIA_AGGREGATE';

export type RequestGroup = {
  /** '' for the unnumbered group. */
  readonly suffix: string;
  /** Resource class id → amount. */
  readonly resources: ReadonlyMap<number, number>;
  /** Each set is an any-of (`in:A,B`); all sets must be met. */
  readonly required: readonly ReadonlySet<number>[];
  readonly forbidden: ReadonlySet<number>;
  /** Each set is an any-of of aggregate ids; an unknown aggregate matches nothing. */
  readonly memberOf: readonly ReadonlySet<number>[];
  readonly forbiddenAggregates: ReadonlySet<number>;
  /** Root id of the `in_tree` provider; null when that provider does not exist. */
  readonly inTree?: number | null;
};

export type CandidateQuery = {
  /** The unnumbered group first, then the numbered ones in request order. */
  readonly groups: readonly RequestGroup[];
  readonly groupPolicy?: 'none' | 'isolate';
  readonly limit?: number;
  readonly rootRequired?: ReadonlySet<number>;
  readonly rootForbidden?: ReadonlySet<number>;
  readonly sameSubtrees?: readonly ReadonlySet<string>[];
  /** 1.29+: requests may use several providers of one tree. */
  readonly nestedAware: boolean;
  readonly randomize?: boolean;
};

export type Part = { readonly rp: ProviderNode; readonly rcId: number; amount: number };

export type AllocationRequest = {
  readonly anchor: number;
  readonly parts: Part[];
  /** Group suffix → uuids of the providers that satisfy it. */
  readonly mappings: Map<string, Set<string>>;
  readonly sameProvider: boolean;
};

export type Candidates = {
  readonly requests: readonly AllocationRequest[];
  /** Providers to summarise, in id order. */
  readonly summaries: readonly ProviderNode[];
};

export function allocationCandidates(snap: Snapshot, query: CandidateQuery): Candidates {
  const anchorOk = anchorFilter(snap, query);
  const index = indexOf(snap);
  const numbered = query.groups.filter((g) => g.suffix !== '').length;
  const seen = new Set<string>();
  const results: AllocationRequest[] = [];
  // Anchors are visited in id order (in random order when the answer is shuffled) and each is
  // worked out on its own, so a `limit` stops the work after the first anchors instead of after
  // all of them.
  const limit = query.limit;
  let roots = index.roots;
  if (query.randomize === true) {
    const shuffled = [...roots];
    shuffle(shuffled);
    roots = shuffled;
  }
  anchors: for (const anchor of roots) {
    if (!anchorOk(anchor)) continue;
    const lists: AllocationRequest[][] = [];
    for (const group of query.groups) {
      const found =
        group.suffix === ''
          ? treeRequests(snap, index, group, anchor)
          : singleProviderRequests(snap, index, group, anchor);
      if (found.length === 0) continue anchors;
      lists.push(found);
    }
    for (const combo of product(lists)) {
      if (query.groupPolicy === 'isolate' && !isolated(combo, numbered)) continue;
      if (!sameSubtree(snap, combo, query.sameSubtrees ?? [])) continue;
      const merged = consolidate(anchor, combo);
      if (exceedsCapacity(merged)) continue;
      if (!query.nestedAware && snap.hasTrees && sharesTree(merged)) continue;
      const key = keyOf(merged);
      if (seen.has(key)) continue;
      seen.add(key);
      results.push(merged);
      if (limit !== undefined && results.length >= limit) break anchors;
    }
  }
  // An anchor may give several requests: they are mixed with the others' too.
  if (query.randomize === true) shuffle(results);
  return { requests: results, summaries: summariesFor(snap, results, query.nestedAware) };
}

/** Roots allowed by `root_required`, or undefined when it was not given. */
function anchorFilter(snap: Snapshot, query: CandidateQuery): (rootId: number) => boolean {
  const required = query.rootRequired ?? new Set<number>();
  const forbidden = query.rootForbidden ?? new Set<number>();
  if (required.size === 0 && forbidden.size === 0) return () => true;
  return (rootId) => {
    const root = snap.providers.get(rootId);
    if (!root || root.parentId !== null) return false;
    for (const t of required) if (!root.traits.has(t)) return false;
    for (const t of forbidden) if (root.traits.has(t)) return false;
    return true;
  };
}

type AnchorIndex = {
  /** Root ids in id order: every anchor a request can have. */
  readonly roots: readonly number[];
  /**
   * Per anchor, the providers a request anchored there may use, in id order: the tree's own,
   * then (merged by id) sharing providers of other trees that share an aggregate with it.
   */
  readonly members: (anchor: number) => readonly ProviderNode[];
};

/** What depends on the providers' shape alone: the anchors, and who shares with whom. */
type ShapeIndex = {
  readonly roots: readonly number[];
  /** Per anchor, the ids of sharing providers of other trees it may use. */
  readonly sharedTo: ReadonlyMap<number, readonly number[]>;
};

/**
 * Worked out once per shape (a write that only moves usage keeps the shape), and the per-view
 * index once per snapshot: snapshots are immutable, and many requests read each one.
 */
const shapes = new WeakMap<object, ShapeIndex>();
const indexes = new WeakMap<Snapshot, AnchorIndex>();

function indexOf(snap: Snapshot): AnchorIndex {
  let index = indexes.get(snap);
  if (!index) {
    let shape = shapes.get(snap.shape);
    if (!shape) shapes.set(snap.shape, (shape = shapeIndex(snap)));
    indexes.set(snap, (index = anchorIndex(snap, shape)));
  }
  return index;
}

function shapeIndex(snap: Snapshot): ShapeIndex {
  const roots = [...snap.trees.keys()].sort((a, b) => a - b);
  const sharedTo = new Map<number, number[]>();
  const trait = snap.traitIds.get(SHARING_TRAIT);
  if (trait !== undefined) {
    for (const rp of snap.providers.values()) {
      if (!rp.traits.has(trait)) continue;
      const anchors = new Set<number>();
      for (const agg of rp.aggregates)
        for (const member of snap.aggregateMembers.get(agg) ?? [])
          anchors.add(snap.providers.get(member)?.rootId ?? member);
      anchors.delete(rp.rootId);
      for (const anchor of anchors) {
        let list = sharedTo.get(anchor);
        if (!list) sharedTo.set(anchor, (list = []));
        list.push(rp.id);
      }
    }
  }
  return { roots, sharedTo };
}

/** The shape's index read with this snapshot's providers (their usage as of this view). */
function anchorIndex(snap: Snapshot, shape: ShapeIndex): AnchorIndex {
  const merged = new Map<number, readonly ProviderNode[]>();
  const members = (anchor: number): readonly ProviderNode[] => {
    const tree = snap.trees.get(anchor) ?? [];
    const shared = shape.sharedTo.get(anchor);
    if (!shared) return tree;
    let all = merged.get(anchor);
    if (!all) {
      const others = shared.flatMap((id) => snap.providers.get(id) ?? []);
      merged.set(anchor, (all = [...tree, ...others].sort((a, b) => a.id - b.id)));
    }
    return all;
  };
  return { roots: shape.roots, members };
}

function hasAll(have: ReadonlySet<number>, sets: readonly ReadonlySet<number>[]): boolean {
  for (const anyOf of sets) {
    let hit = false;
    for (const t of anyOf)
      if (have.has(t)) {
        hit = true;
        break;
      }
    if (!hit) return false;
  }
  return true;
}

function hasAny(have: ReadonlySet<number>, bad: ReadonlySet<number>): boolean {
  for (const t of bad) if (have.has(t)) return true;
  return false;
}

const NO_AGGREGATES: ReadonlySet<number> = new Set();

function aggregatesOf(snap: Snapshot, id: number): ReadonlySet<number> {
  return snap.providers.get(id)?.aggregates ?? NO_AGGREGATES;
}

/**
 * Whether `rp` may serve `group` for a request anchored at `anchor` as far as `in_tree` and
 * aggregates go. A provider of the anchor's tree passes `member_of` when it or the root is a
 * member; a sharing provider from another tree must be a member itself.
 */
function placeable(snap: Snapshot, group: RequestGroup, rp: ProviderNode, anchor: number): boolean {
  if (group.inTree === null) return false;
  if (group.inTree !== undefined && rp.rootId !== group.inTree) return false;
  const own = rp.rootId === anchor;
  if (group.memberOf.length > 0) {
    if (!hasAll(rp.aggregates, group.memberOf)) {
      if (!own || !hasAll(aggregatesOf(snap, anchor), group.memberOf)) return false;
    }
  }
  if (group.forbiddenAggregates.size > 0) {
    if (hasAny(rp.aggregates, group.forbiddenAggregates)) return false;
    if (hasAny(aggregatesOf(snap, anchor), group.forbiddenAggregates)) return false;
  }
  return true;
}

/** The unnumbered group under one anchor: every way its providers can serve it together. */
function treeRequests(
  snap: Snapshot,
  index: AnchorIndex,
  group: RequestGroup,
  anchor: number,
): AllocationRequest[] {
  if (group.inTree !== undefined && group.inTree !== anchor) return [];
  const members = index.members(anchor);
  const rcIds = [...group.resources.keys()].sort((a, b) => a - b);
  const lists: { rp: ProviderNode; rc: number }[][] = [];
  for (const rc of rcIds) {
    const amount = group.resources.get(rc) ?? 0;
    const list: { rp: ProviderNode; rc: number }[] = [];
    for (const rp of members)
      if (fits(rp.inventories.get(rc), amount) && placeable(snap, group, rp, anchor))
        list.push({ rp, rc });
    if (list.length === 0) return [];
    lists.push(list);
  }
  const found: AllocationRequest[] = [];
  for (const choice of product(lists)) {
    const used = new Set(choice.map((c) => c.rp));
    const traits = new Set<number>();
    let bad = false;
    for (const rp of used) {
      if (hasAny(rp.traits, group.forbidden)) bad = true;
      for (const t of rp.traits) traits.add(t);
    }
    if (bad || !hasAll(traits, group.required)) continue;
    found.push({
      anchor,
      parts: choice.map((c) => ({
        rp: c.rp,
        rcId: c.rc,
        amount: group.resources.get(c.rc) ?? 0,
      })),
      mappings: new Map([[group.suffix, new Set([...used].map((rp) => rp.uuid))]]),
      sameProvider: false,
    });
  }
  return found;
}

/** A numbered group under one anchor: each provider that alone satisfies it. */
function singleProviderRequests(
  snap: Snapshot,
  index: AnchorIndex,
  group: RequestGroup,
  anchor: number,
): AllocationRequest[] {
  const out: AllocationRequest[] = [];
  for (const rp of index.members(anchor)) {
    if (group.inTree !== undefined && rp.rootId !== group.inTree) continue;
    if (!hasAll(rp.traits, group.required) || hasAny(rp.traits, group.forbidden)) continue;
    if (!hasAll(rp.aggregates, group.memberOf) || hasAny(rp.aggregates, group.forbiddenAggregates))
      continue;
    let ok = true;
    for (const [rcId, amount] of group.resources)
      if (!fits(rp.inventories.get(rcId), amount)) {
        ok = false;
        break;
      }
    if (!ok) continue;
    out.push({
      anchor,
      parts: [...group.resources].map(([rcId, amount]) => ({ rp, rcId, amount })),
      mappings: new Map([[group.suffix, new Set([rp.uuid])]]),
      sameProvider: true,
    });
  }
  return out;
}

function* product<T>(lists: readonly (readonly T[])[]): Generator<T[]> {
  if (lists.some((l) => l.length === 0)) return;
  const index = lists.map(() => 0);
  for (;;) {
    yield lists.map((l, i) => l[index[i] ?? 0] as T);
    let i = lists.length - 1;
    while (i >= 0) {
      index[i] = (index[i] ?? 0) + 1;
      if ((index[i] ?? 0) < (lists[i]?.length ?? 0)) break;
      index[i] = 0;
      i--;
    }
    if (i < 0) return;
  }
}

function isolated(combo: readonly AllocationRequest[], numbered: number): boolean {
  const providers = new Set<string>();
  for (const r of combo) {
    if (!r.sameProvider) continue;
    for (const uuids of r.mappings.values()) for (const u of uuids) providers.add(u);
  }
  return providers.size === numbered;
}

function sameSubtree(
  snap: Snapshot,
  combo: readonly AllocationRequest[],
  subtrees: readonly ReadonlySet<string>[],
): boolean {
  for (const suffixes of subtrees) {
    const uuids = new Set<string>();
    for (const r of combo)
      for (const [suffix, set] of r.mappings)
        if (suffixes.has(suffix)) for (const u of set) uuids.add(u);
    if (uuids.size <= 1) continue;
    // Some provider of the set must be an ancestor (or self) of every other one.
    const ancestorSets = [...uuids].map((u) => ancestorsOf(snap, u));
    const common = ancestorSets.reduce((a, b) => new Set([...a].filter((x) => b.has(x))));
    if (![...uuids].some((u) => common.has(u))) return false;
  }
  return true;
}

function ancestorsOf(snap: Snapshot, uuid: string): Set<string> {
  const out = new Set<string>();
  let node = snap.byUuid.get(uuid);
  while (node) {
    out.add(node.uuid);
    node = node.parentId === null ? undefined : snap.providers.get(node.parentId);
  }
  return out;
}

function consolidate(anchor: number, combo: readonly AllocationRequest[]): AllocationRequest {
  const parts = new Map<string, Part>();
  const mappings = new Map<string, Set<string>>();
  for (const r of combo) {
    for (const p of r.parts) {
      const key = `${p.rp.id}:${p.rcId}`;
      const have = parts.get(key);
      if (have) have.amount += p.amount;
      else parts.set(key, { rp: p.rp, rcId: p.rcId, amount: p.amount });
    }
    for (const [suffix, uuids] of r.mappings) {
      let set = mappings.get(suffix);
      if (!set) mappings.set(suffix, (set = new Set()));
      for (const u of uuids) set.add(u);
    }
  }
  return { anchor, parts: [...parts.values()], mappings, sameProvider: false };
}

function exceedsCapacity(request: AllocationRequest): boolean {
  for (const p of request.parts) {
    const inv = p.rp.inventories.get(p.rcId);
    if (!inv || inv.used + p.amount > inv.capacity || p.amount > inv.max_unit) return true;
  }
  return false;
}

/** Two providers of one tree in one request (left out before 1.29). */
function sharesTree(request: AllocationRequest): boolean {
  const byRoot = new Map<number, number>();
  for (const p of request.parts) {
    const other = byRoot.get(p.rp.rootId);
    if (other !== undefined && other !== p.rp.id) return true;
    byRoot.set(p.rp.rootId, p.rp.id);
  }
  return false;
}

function keyOf(request: AllocationRequest): string {
  const parts = request.parts.map((p) => `${p.rp.id}:${p.rcId}:${p.amount}`).sort();
  const mappings = [...request.mappings].map(([s, u]) => `${s}=${[...u].sort().join(',')}`).sort();
  return `${parts.join(';')}|${mappings.join(';')}`;
}

function shuffle<T>(items: T[]): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
}

/** 1.29+: every provider of each tree a request uses; before: the providers used. */
function summariesFor(
  snap: Snapshot,
  requests: readonly AllocationRequest[],
  nestedAware: boolean,
): ProviderNode[] {
  const ids = new Set<number>();
  for (const r of requests)
    for (const p of r.parts) {
      if (!nestedAware) ids.add(p.rp.id);
      else for (const rp of snap.trees.get(p.rp.rootId) ?? []) ids.add(rp.id);
    }
  return [...ids]
    .sort((a, b) => a - b)
    .map((id) => snap.providers.get(id))
    .filter((rp): rp is ProviderNode => rp !== undefined);
}
