/**
 * Placement benchmarks over HTTP at microversion 1.39 against a running placement target (which
 * seeds the providers): allocation candidates for a small flavour and for one that fits nowhere
 * (every provider is looked at), and claims for new consumers
 * spread over every provider, after which no provider may be over-committed. Each runs at 1 and
 * 8 connections.
 */
import type autocannon from 'autocannon';
import { randomUUID } from 'node:crypto';
import type { Prepared } from './identity-scenarios.ts';

type Scenario = {
  prepare: (base: string, token?: string) => Promise<Prepared>;
  connections: readonly number[];
  /** For the target's process. */
  env?: Record<string, string>;
};

const VERSION = { 'openstack-api-version': 'placement 1.39' };
const CONNECTIONS = [1, 8];
/** Each load also stops after this many requests. */
const MAX_REQUESTS = 100_000;
const CANDIDATES = '/allocation_candidates?resources=VCPU:1,MEMORY_MB:512,DISK_GB:10&limit=50';
/** More than any seeded provider holds: every provider is looked at and none fits (a full cloud). */
const NO_CANDIDATES = '/allocation_candidates?resources=VCPU:300,MEMORY_MB:512&limit=50';

type Inventory = { total: number; reserved: number; allocation_ratio: number };

async function get<T>(base: string, token: string, path: string): Promise<T> {
  const res = await fetch(new URL(path, base), {
    headers: { 'x-auth-token': token, ...VERSION },
    signal: AbortSignal.timeout(60_000),
  });
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

async function providerUuids(base: string, token: string): Promise<string[]> {
  const body = await get<{ resource_providers: { uuid: string }[] }>(
    base,
    token,
    '/resource_providers',
  );
  return body.resource_providers.map((rp) => rp.uuid);
}

/** `GET path`, which must answer `expected(providers)` allocation requests. */
function candidates(
  path: string,
  expected: (providers: number) => number,
): (base: string, token?: string) => Promise<Prepared> {
  return async (base, token) => {
    if (token === undefined) throw new Error('the placement target prints a token');
    const providers = (await providerUuids(base, token)).length;
    const found = await get<{ allocation_requests: unknown[] }>(base, token, path);
    if (found.allocation_requests.length !== expected(providers))
      throw new Error(`${found.allocation_requests.length} candidates from ${providers} providers`);
    return {
      method: 'GET',
      path,
      headers: { 'x-auth-token': token, ...VERSION },
      maxRequests: MAX_REQUESTS,
      about: `GET ${path} at 1.39, ${providers} providers`,
    };
  };
}

const upTo50 = (providers: number): number => Math.min(50, providers);

/**
 * Usage against capacity on every provider, 16 providers at a time.
 * @returns the providers over capacity, and the VCPU used on all of them.
 */
async function audit(
  base: string,
  token: string,
  uuids: readonly string[],
): Promise<{ over: string[]; vcpus: number }> {
  const over: string[] = [];
  let vcpus = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < uuids.length) {
      const uuid = uuids[next++] ?? '';
      const [{ usages }, { inventories }] = await Promise.all([
        get<{ usages: Record<string, number> }>(base, token, `/resource_providers/${uuid}/usages`),
        get<{ inventories: Record<string, Inventory> }>(
          base,
          token,
          `/resource_providers/${uuid}/inventories`,
        ),
      ]);
      vcpus += usages['VCPU'] ?? 0;
      for (const [rc, used] of Object.entries(usages)) {
        const inv = inventories[rc];
        const capacity = inv ? Math.floor((inv.total - inv.reserved) * inv.allocation_ratio) : 0;
        if (used > capacity) over.push(`${uuid} ${rc} ${used}/${capacity}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return { over, vcpus };
}

/** What a scheduler asks for before each claim: a few hosts to choose among. */
const SCHEDULE = '/allocation_candidates?resources=VCPU:1,MEMORY_MB:256&limit=10';

type Candidates = { allocation_requests: { allocations: Record<string, unknown> }[] };

/**
 * `PUT /allocations/{new uuid}` of VCPU 1, MEMORY_MB 256: `round-robin` on each provider in turn;
 * `schedule` as a scheduler does, on one provider picked at random among those a
 * `GET /allocation_candidates` just before (on the same connection) offered.
 */
function claims(mode: 'round-robin' | 'schedule') {
  return async (base: string, token?: string): Promise<Prepared> => {
    if (token === undefined) throw new Error('the placement target prints a token');
    const uuids = await providerUuids(base, token);
    let next = 0;
    let answered = 0;
    let claimed = 0;
    const statuses = new Map<number, number>();
    const claim = (rp: string): string =>
      JSON.stringify({
        allocations: { [rp]: { resources: { VCPU: 1, MEMORY_MB: 256 } } },
        project_id: 'bench',
        user_id: 'bench',
        consumer_generation: null,
        consumer_type: 'INSTANCE',
      });
    const put: autocannon.Request = {
      method: 'PUT',
      setupRequest: (request, context: { rp?: string }) => {
        next++;
        const rp = mode === 'schedule' ? (context.rp ?? '') : (uuids[next % uuids.length] ?? '');
        return { ...request, path: `/allocations/${randomUUID()}`, body: claim(rp) };
      },
      onResponse: (status) => statuses.set(status, (statuses.get(status) ?? 0) + 1),
    };
    const pick: autocannon.Request = {
      method: 'GET',
      path: SCHEDULE,
      onResponse: (status, body, context: { rp?: string }) => {
        const found = status === 200 ? (JSON.parse(body) as Candidates).allocation_requests : [];
        const chosen = found[Math.floor(Math.random() * found.length)];
        context.rp = Object.keys(chosen?.allocations ?? {})[0];
      },
    };
    return {
      method: 'PUT',
      path: '/allocations',
      headers: { 'x-auth-token': token, 'content-type': 'application/json', ...VERSION },
      maxRequests: MAX_REQUESTS,
      requests: mode === 'schedule' ? [pick, put] : [put],
      about:
        mode === 'schedule'
          ? `GET ${SCHEDULE}, then PUT /allocations/{new uuid} on one of them, at 1.39, over ${uuids.length} providers`
          : `PUT /allocations/{new uuid} at 1.39, VCPU:1,MEMORY_MB:256 over ${uuids.length} providers`,
      // Counts include the warm-up. Every claim answered 204 must be in the usages; so may the
      // claims still unanswered when the load stopped (sent, but their answers never read).
      after: async () => {
        const ok = statuses.get(204) ?? 0;
        const conflicts = statuses.get(409) ?? 0;
        const others = [...statuses].filter(([s]) => s !== 204 && s !== 409);
        for (const count of statuses.values()) answered += count;
        statuses.clear();
        claimed += ok;
        const { over, vcpus } = await audit(base, token, uuids);
        const unanswered = next - answered;
        if (over.length > 0) throw new Error(`over-committed: ${over.slice(0, 10).join(', ')}`);
        if (vcpus < claimed || vcpus > claimed + unanswered)
          throw new Error(
            `${claimed} claims answered 204, ${unanswered} unanswered, ${vcpus} VCPU used`,
          );
        if (others.length > 0) throw new Error(`unexpected answers: ${JSON.stringify(others)}`);
        return {
          claims_204: ok,
          claims_409: conflicts,
          providers_over_capacity: over.length,
          vcpu_used_total: vcpus,
        };
      },
    };
  };
}

export const PLACEMENT_SCENARIOS: Readonly<Record<string, Scenario>> = {
  'placement-candidates': { prepare: candidates(CANDIDATES, upTo50), connections: CONNECTIONS },
  'placement-candidates-10k': {
    prepare: candidates(CANDIDATES, upTo50),
    connections: CONNECTIONS,
    env: { TSTACK_BENCH_PROVIDERS: '10000' },
  },
  'placement-candidates-10k-none': {
    prepare: candidates(NO_CANDIDATES, () => 0),
    connections: CONNECTIONS,
    env: { TSTACK_BENCH_PROVIDERS: '10000' },
  },
  'placement-claims': { prepare: claims('round-robin'), connections: CONNECTIONS },
  // The scheduler's decision on the 1,000 hosts, with placement in its own process as
  // `tstack serve placement` runs it: one pick plus one claim per scheduled server.
  'placement-schedule': { prepare: claims('schedule'), connections: CONNECTIONS },
  'placement-schedule-10k': {
    prepare: claims('schedule'),
    connections: CONNECTIONS,
    env: { TSTACK_BENCH_PROVIDERS: '10000' },
  },
};
