/** `GET /allocation_candidates` (1.10+): request parsing by microversion, and the response. */
import type { FastifyRequest } from 'fastify';
import type { App } from '../../common/http/app.ts';
import {
  allocationCandidates,
  type AllocationRequest,
  type CandidateQuery,
  type RequestGroup,
} from '../candidates.ts';
import { CODES, badRequest } from '../errors.ts';
import type { Snapshot } from '../provider-state.ts';
import {
  all,
  atLeast,
  authorize,
  classRef,
  isUuid,
  normalUuid,
  single,
  traitIdsOf,
  type ApiDeps,
} from './context.ts';
import { onlyKnown, parseMemberOf, parseRequired, parseResources } from './query.ts';

type Query = Record<string, string | string[] | undefined>;

const GROUP_KEYS = ['resources', 'required', 'member_of', 'in_tree'] as const;
type GroupKey = (typeof GROUP_KEYS)[number];

/** `resources`, `resources1`, `resources_X` (1.33) → [key, suffix]. */
const groupKey = (suffix: string): RegExp => new RegExp(`^(${GROUP_KEYS.join('|')})(${suffix})?$`);
/** Numbered suffixes, then (1.33) any of up to 64 letters, digits, `_` and `-`. */
const NUMBERED_KEY = groupKey('[1-9][0-9]*');
const NAMED_KEY = groupKey('[a-zA-Z0-9_-]{1,64}');

function groupKeyOf(request: FastifyRequest, key: string): [GroupKey, string] | undefined {
  const m = (atLeast(request, 33) ? NAMED_KEY : NUMBERED_KEY).exec(key);
  if (!m) return undefined;
  const name = m[1] as GroupKey;
  const s = m[2] ?? '';
  if (s !== '' && !atLeast(request, 25)) return undefined;
  if (name === 'in_tree' && !atLeast(request, 31)) return undefined;
  if (name === 'required' && !atLeast(request, 17)) return undefined;
  if (name === 'member_of' && !atLeast(request, 21)) return undefined;
  return [name, s];
}

type RawGroup = Partial<Record<GroupKey, string[]>>;

/** The request as the candidate search takes it. @throws BadRequestError (400). */
export function parseCandidateQuery(
  request: FastifyRequest,
  snap: Snapshot,
  randomize: boolean,
): { query: CandidateQuery; requested: Set<number> } {
  const q = request.query as Query;
  const wide = new Set<string>();
  if (atLeast(request, 16)) wide.add('limit');
  if (atLeast(request, 25)) wide.add('group_policy');
  if (atLeast(request, 35)) wide.add('root_required');
  if (atLeast(request, 36)) wide.add('same_subtree');
  onlyKnown(q, (k) => wide.has(k) || groupKeyOf(request, k) !== undefined);

  const raw = new Map<string, RawGroup>();
  for (const key of Object.keys(q)) {
    const parsed = groupKeyOf(request, key);
    if (!parsed) continue;
    const [name, suffix] = parsed;
    let group = raw.get(suffix);
    if (!group) raw.set(suffix, (group = {}));
    group[name] = all(q, key);
  }
  if (!atLeast(request, 25) && raw.get('')?.resources === undefined)
    throw badRequest("Invalid query string parameters: 'resources' is a required property");

  // A repeated limit takes the first, as upstream does.
  const limitText = all(q, 'limit')[0];
  let limit: number | undefined;
  if (limitText !== undefined) {
    if (!/^[1-9][0-9]*$/.test(limitText))
      throw badRequest(
        `Invalid query string parameters: Failed validating 'pattern' in schema: '${limitText}' does not match '^[1-9][0-9]*$'`,
      );
    limit = Number(limitText);
  }
  const policy = all(q, 'group_policy')[0];
  if (policy !== undefined && policy !== 'none' && policy !== 'isolate')
    throw badRequest(
      `Invalid query string parameters: '${policy}' is not one of ['none', 'isolate']`,
    );

  const sameSubtrees: Set<string>[] = [];
  for (const value of all(q, 'same_subtree')) {
    const suffixes = new Set(value.split(',').map((s) => s.trim()));
    if (suffixes.has(''))
      throw badRequest(
        'Empty string (unsuffixed group) can not be specified in `same_subtree` ',
        CODES.badQueryValue,
      );
    sameSubtrees.push(suffixes);
  }

  const groups: RequestGroup[] = [];
  const requested = new Set<number>();
  const ordered = [...raw.keys()].sort((a, b) => (a === '' ? -1 : b === '' ? 1 : 0));
  for (const suffix of ordered) {
    const group = parseGroup(request, snap, suffix, raw.get(suffix) ?? {});
    for (const rc of group.resources.keys()) requested.add(rc);
    groups.push(group);
  }
  checkGroups(request, groups, raw, sameSubtrees);
  if (
    policy === undefined &&
    groups.filter((g) => g.suffix !== '' && g.resources.size > 0).length > 1
  )
    throw badRequest(
      'The "group_policy" parameter is required when specifying more than one "resources{N}" parameter.',
    );

  let rootRequired: Set<number> | undefined;
  let rootForbidden: Set<number> | undefined;
  const root = single(q, 'root_required');
  if (root !== undefined) {
    const traits = parseRequired([root], {
      allowForbidden: true,
      allowAnyOf: false,
      key: 'root_required',
    });
    const ids = traitIdsOf(snap, [...traits.required.flat(), ...traits.forbidden]);
    rootRequired = new Set(traits.required.flat().map((n) => ids.get(n) ?? -1));
    rootForbidden = new Set(traits.forbidden.map((n) => ids.get(n) ?? -1));
  }
  return {
    query: {
      groups,
      ...(policy !== undefined ? { groupPolicy: policy } : {}),
      ...(limit !== undefined ? { limit } : {}),
      ...(rootRequired ? { rootRequired } : {}),
      ...(rootForbidden ? { rootForbidden } : {}),
      sameSubtrees,
      nestedAware: atLeast(request, 29),
      randomize,
    },
    requested,
  };
}

function parseGroup(
  request: FastifyRequest,
  snap: Snapshot,
  suffix: string,
  raw: RawGroup,
): RequestGroup {
  const one = (key: GroupKey): string | undefined => {
    const values = raw[key];
    if (values === undefined) return undefined;
    if (values.length > 1)
      throw badRequest(
        `Query parameter '${key}${suffix}' may be specified only once.`,
        CODES.duplicateQueryParam,
      );
    return values[0];
  };
  const resources = new Map<number, number>();
  const text = one('resources');
  if (text !== undefined)
    for (const [name, amount] of parseResources(text, `resources${suffix}`))
      resources.set(
        classRef(snap.classIds, name, 'Invalid resource class in resources parameter').id,
        amount,
      );
  const requiredValues = atLeast(request, 39)
    ? (raw.required ?? [])
    : [one('required')].filter((v) => v !== undefined);
  const traits = parseRequired(requiredValues, {
    allowForbidden: atLeast(request, 22),
    allowAnyOf: atLeast(request, 39),
    key: `required${suffix}`,
  });
  const ids = traitIdsOf(snap, [...traits.required.flat(), ...traits.forbidden]);
  const memberValues = atLeast(request, 24)
    ? (raw.member_of ?? [])
    : [one('member_of')].filter((v) => v !== undefined);
  const aggs = parseMemberOf(memberValues, {
    allowForbidden: atLeast(request, 32),
    key: `member_of${suffix}`,
  });
  const aggId = (u: string): number => snap.aggregateIds.get(u) ?? -1;
  const inTreeText = one('in_tree');
  let inTree: number | null | undefined;
  if (inTreeText !== undefined) {
    if (!isUuid(inTreeText))
      throw badRequest(
        `Invalid query string parameters: Expected 'in_tree${suffix}' parameter to be a format of uuid. Got: ${inTreeText}`,
        CODES.badQueryValue,
      );
    inTree = snap.byUuid.get(normalUuid(inTreeText))?.rootId ?? null;
  }
  return {
    suffix,
    resources: new Map([...resources].sort((a, b) => a[0] - b[0])),
    required: traits.required.map((set) => new Set(set.map((n) => ids.get(n) ?? -1))),
    forbidden: new Set(traits.forbidden.map((n) => ids.get(n) ?? -1)),
    memberOf: aggs.memberOf.map((set) => new Set(set.map(aggId))),
    forbiddenAggregates: new Set(aggs.forbidden.map(aggId)),
    ...(inTree !== undefined ? { inTree } : {}),
  };
}

/** Upstream's rules on groups without resources, by version. */
function checkGroups(
  request: FastifyRequest,
  groups: readonly RequestGroup[],
  raw: Map<string, RawGroup>,
  sameSubtrees: readonly Set<string>[],
): void {
  const resourceless = groups.filter((g) => g.resources.size === 0).map((g) => g.suffix);
  if (atLeast(request, 36)) {
    if (resourceless.length === groups.length)
      throw badRequest(
        'There must be at least one resources or resources[$S] parameter.',
        CODES.missingQueryValue,
      );
    const inSubtree = new Set(sameSubtrees.flatMap((s) => [...s]));
    const bad = resourceless.filter((s) => !inSubtree.has(s));
    if (bad.length > 0)
      throw badRequest(
        `Resourceless suffixed group request should be specified in \`same_subtree\` query param: bad group(s) - [${bad.map((s) => `'${s}'`).join(', ')}].`,
        CODES.badQueryValue,
      );
    const missing = [...inSubtree].filter((s) => !raw.has(s));
    if (missing.length > 0)
      throw badRequest(
        `Real suffixes should be specified in \`same_subtree\`: [${missing.map((s) => `'${s}'`).join(', ')}] not found in [${[...raw.keys()].map((s) => `'${s}'`).join(', ')}].`,
        CODES.badQueryValue,
      );
    return;
  }
  const orphanTraits = groups.filter((g) => g.resources.size === 0 && raw.get(g.suffix)?.required);
  if (orphanTraits.length > 0)
    throw badRequest(
      `All traits parameters must be associated with resources.  Found the following orphaned traits keys: ${orphanTraits.map((g) => `required${g.suffix}`).join(', ')}`,
    );
  const orphanAggs = groups.filter((g) => g.resources.size === 0 && raw.get(g.suffix)?.member_of);
  if (orphanAggs.length > 0)
    throw badRequest(
      `All member_of parameters must be associated with resources. Found the following orphaned member_of keys: ${orphanAggs.map((g) => `member_of${g.suffix}`).join(', ')}`,
    );
  if (resourceless.length > 0) throw badRequest('All request groups must specify resources.');
  if (groups.length === 0)
    throw badRequest('At least one request group (`resources` or `resources{$S}`) is required.');
}

function requestView(
  request: FastifyRequest,
  snap: Snapshot,
  ar: AllocationRequest,
): Record<string, unknown> {
  const byProvider = new Map<string, Record<string, number>>();
  for (const p of [...ar.parts].sort((a, b) => a.rcId - b.rcId)) {
    let resources = byProvider.get(p.rp.uuid);
    if (!resources) byProvider.set(p.rp.uuid, (resources = {}));
    resources[snap.classNames.get(p.rcId) ?? String(p.rcId)] = p.amount;
  }
  if (!atLeast(request, 12))
    return {
      allocations: [...byProvider].map(([uuid, resources]) => ({
        resource_provider: { uuid },
        resources,
      })),
    };
  const allocations: Record<string, unknown> = {};
  for (const [uuid, resources] of byProvider) allocations[uuid] = { resources };
  if (!atLeast(request, 34)) return { allocations };
  const mappings: Record<string, string[]> = {};
  for (const [suffix, uuids] of ar.mappings) mappings[suffix] = [...uuids].sort();
  return { allocations, mappings };
}

export function allocationCandidateRoutes(app: App, deps: ApiDeps): void {
  app.get(
    '/allocation_candidates',
    { config: { microversion: { min: '1.10' } } },
    async (request) => {
      authorize(request, deps, 'allocation_candidates:list');
      const snap = await deps.state.current();
      const { query, requested } = parseCandidateQuery(
        request,
        snap,
        deps.config.randomize_allocation_candidates,
      );
      const found = allocationCandidates(snap, query);
      const summaries: Record<string, unknown> = {};
      for (const rp of found.summaries) {
        const resources: Record<string, { capacity: number; used: number }> = {};
        for (const [rcId, inv] of [...rp.inventories].sort((a, b) => a[0] - b[0])) {
          if (!atLeast(request, 27) && !requested.has(rcId)) continue;
          resources[snap.classNames.get(rcId) ?? String(rcId)] = {
            capacity: inv.capacity,
            used: inv.used,
          };
        }
        const summary: Record<string, unknown> = { resources };
        if (atLeast(request, 17))
          summary['traits'] = [...rp.traits].map((t) => snap.traitNames.get(t) ?? '').sort();
        if (atLeast(request, 29)) {
          summary['parent_provider_uuid'] =
            rp.parentId === null ? null : (snap.providers.get(rp.parentId)?.uuid ?? null);
          summary['root_provider_uuid'] = snap.providers.get(rp.rootId)?.uuid ?? rp.uuid;
        }
        summaries[rp.uuid] = summary;
      }
      return {
        allocation_requests: found.requests.map((r) => requestView(request, snap, r)),
        provider_summaries: summaries,
      };
    },
  );
}
