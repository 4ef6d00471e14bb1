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

const NONE: Candidates = { requests: [], summaries: [] };

export function allocationCandidates(snap: Snapshot, query: CandidateQuery): Candidates {
  const anchorOk = anchorFilter(snap, query);
  const sharing = sharingProviders(snap);
  const perGroup: Map<number, AllocationRequest[]>[] = [];
  for (const group of query.groups) {
    const found =
      group.suffix === ''
        ? treeRequests(snap, group, sharing, anchorOk)
        : singleProviderRequests(snap, group, sharing, anchorOk);
    if (found.size === 0) return NONE;
    perGroup.push(found);
  }
  const numbered = query.groups.filter((g) => g.suffix !== '').length;
  const seen = new Set<string>();
  const results: AllocationRequest[] = [];
  const limit = query.randomize === true ? undefined : query.limit;
  const first = perGroup[0] ?? new Map<number, AllocationRequest[]>();
  outer: for (const anchor of [...first.keys()].sort((a, b) => a - b)) {
    const lists = perGroup.map((m) => m.get(anchor));
    if (lists.some((l) => l === undefined)) continue;
    for (const combo of product(lists as AllocationRequest[][])) {
      if (query.groupPolicy === 'isolate' && !isolated(combo, numbered)) continue;
      if (!sameSubtree(snap, combo, query.sameSubtrees ?? [])) continue;
      const merged = consolidate(anchor, combo);
      if (exceedsCapacity(merged)) continue;
      if (!query.nestedAware && snap.hasTrees && sharesTree(merged)) continue;
      const key = keyOf(merged);
      if (seen.has(key)) continue;
      seen.add(key);
      results.push(merged);
      if (limit !== undefined && results.length >= limit) break outer;
    }
  }
  let requests = results;
  if (query.randomize === true) {
    shuffle(requests);
    if (query.limit !== undefined) requests = requests.slice(0, query.limit);
  }
  return { requests, summaries: summariesFor(snap, requests, query.nestedAware) };
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

type Sharing = { readonly anchors: ReadonlyMap<number, readonly number[]> };

/** Each sharing provider with the roots it anchors to (trees sharing an aggregate with it). */
function sharingProviders(snap: Snapshot): Sharing {
  const anchors = new Map<number, number[]>();
  const trait = snap.traitIds.get(SHARING_TRAIT);
  if (trait === undefined) return { anchors };
  for (const rp of snap.providers.values()) {
    if (!rp.traits.has(trait)) continue;
    const roots = new Set<number>();
    for (const agg of rp.aggregates)
      for (const member of snap.aggregateMembers.get(agg) ?? [])
        roots.add(snap.providers.get(member)?.rootId ?? member);
    anchors.set(
      rp.id,
      [...roots].sort((a, b) => a - b),
    );
  }
  return { anchors };
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

function inAggregates(snap: Snapshot, id: number, memberOf: RequestGroup['memberOf']): boolean {
  return hasAll(snap.providers.get(id)?.aggregates ?? new Set(), memberOf);
}

function inForbidden(snap: Snapshot, id: number, bad: ReadonlySet<number>): boolean {
  return hasAny(snap.providers.get(id)?.aggregates ?? new Set(), bad);
}

function providersOf(snap: Snapshot, group: RequestGroup): Iterable<ProviderNode> {
  if (group.inTree === undefined) return snap.providers.values();
  if (group.inTree === null) return [];
  return snap.trees.get(group.inTree) ?? [];
}

/** The unnumbered group: per anchor, every way its providers (and sharing ones) can serve it. */
function treeRequests(
  snap: Snapshot,
  group: RequestGroup,
  sharing: Sharing,
  anchorOk: (rootId: number) => boolean,
): Map<number, AllocationRequest[]> {
  // anchor → class → providers, built class by class and narrowed to anchors having them all.
  let byAnchor: Map<number, Map<number, ProviderNode[]>> | undefined;
  const candidates = [...providersOf(snap, group)];
  for (const [rcId, amount] of group.resources) {
    const here = new Map<number, Map<number, ProviderNode[]>>();
    const add = (rp: ProviderNode, anchor: number): void => {
      if (byAnchor && !byAnchor.has(anchor)) return;
      if (!anchorOk(anchor)) return;
      if (group.memberOf.length > 0) {
        if (
          !inAggregates(snap, rp.id, group.memberOf) &&
          !inAggregates(snap, anchor, group.memberOf)
        )
          return;
      }
      if (group.forbiddenAggregates.size > 0) {
        if (
          inForbidden(snap, rp.id, group.forbiddenAggregates) ||
          inForbidden(snap, anchor, group.forbiddenAggregates)
        )
          return;
      }
      let classes = here.get(anchor);
      if (!classes) here.set(anchor, (classes = new Map<number, ProviderNode[]>()));
      let list = classes.get(rcId);
      if (!list) classes.set(rcId, (list = []));
      if (!list.includes(rp)) list.push(rp);
    };
    for (const rp of candidates) {
      if (!fits(rp.inventories.get(rcId), amount)) continue;
      add(rp, rp.rootId);
      if (group.inTree !== undefined) continue;
      const anchors = sharing.anchors.get(rp.id);
      if (!anchors) continue;
      if (group.memberOf.length > 0 && !inAggregates(snap, rp.id, group.memberOf)) continue;
      for (const anchor of anchors) add(rp, anchor);
    }
    if (byAnchor) {
      for (const [anchor, classes] of byAnchor) {
        const more = here.get(anchor);
        if (!more) byAnchor.delete(anchor);
        else for (const [rc, list] of more) classes.set(rc, list);
      }
    } else byAnchor = here;
    if (byAnchor.size === 0) return new Map();
  }
  const out = new Map<number, AllocationRequest[]>();
  const rcIds = [...group.resources.keys()].sort((a, b) => a - b);
  for (const [anchor, classes] of byAnchor ?? []) {
    const lists = rcIds.map((rc) => (classes.get(rc) ?? []).map((rp) => ({ rp, rc })));
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
    if (found.length > 0) out.set(anchor, found);
  }
  return out;
}

/** A numbered group: each provider that alone satisfies it, under each anchor it can serve. */
function singleProviderRequests(
  snap: Snapshot,
  group: RequestGroup,
  sharing: Sharing,
  anchorOk: (rootId: number) => boolean,
): Map<number, AllocationRequest[]> {
  const out = new Map<number, AllocationRequest[]>();
  const push = (anchor: number, request: AllocationRequest): void => {
    let list = out.get(anchor);
    if (!list) out.set(anchor, (list = []));
    list.push(request);
  };
  for (const rp of providersOf(snap, group)) {
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
    const make = (anchor: number): AllocationRequest => ({
      anchor,
      parts: [...group.resources].map(([rcId, amount]) => ({ rp, rcId, amount })),
      mappings: new Map([[group.suffix, new Set([rp.uuid])]]),
      sameProvider: true,
    });
    if (anchorOk(rp.rootId)) push(rp.rootId, make(rp.rootId));
    for (const anchor of sharing.anchors.get(rp.id) ?? []) {
      if (anchor === rp.rootId || !anchorOk(anchor)) continue;
      push(anchor, make(anchor));
    }
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
