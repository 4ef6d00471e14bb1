/**
 * `GET /allocation_candidates` on upstream Placement's shared-storage fixture: two compute nodes
 * (cn1 with SSE traits and no disk, cn2 with disk), two sharing storage providers in their
 * aggregate, and under each compute node two NUMA nodes with one SR-IOV PF each. The expected
 * candidates are those upstream's functional tests (allocation-candidates.yaml, granular.yaml,
 * same-subtree tests) describe.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-return --
   response bodies are untyped JSON these tests assert on field by field. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { firstError, placementHarness, type Harness } from './harness.ts';

type Fixture = Record<
  'cn1' | 'cn2' | 'ss' | 'ss2' | 'numa1_1' | 'numa1_2' | 'numa2_1' | 'numa2_2',
  string
> &
  Record<'pf1_1' | 'pf1_2' | 'pf2_1' | 'pf2_2' | 'agg', string>;

async function sharedStorage(h: Harness): Promise<Fixture> {
  const agg = randomUUID();
  const compute = {
    VCPU: { total: 24, allocation_ratio: 16 },
    MEMORY_MB: { total: 131072, allocation_ratio: 1.5 },
  };
  const disk = { total: 2000, reserved: 100 };
  const cn1 = await h.provider('cn1', {
    inventory: compute,
    traits: ['HW_CPU_X86_SSE', 'HW_CPU_X86_SSE2'],
    aggregates: [agg],
  });
  const cn2 = await h.provider('cn2', {
    inventory: { ...compute, DISK_GB: disk },
    aggregates: [agg],
  });
  const shared = {
    inventory: { DISK_GB: disk },
    traits: ['MISC_SHARES_VIA_AGGREGATE'],
    aggregates: [agg],
  };
  const ss = await h.provider('ss', shared);
  const ss2 = await h.provider('ss2', shared);
  const out: Record<string, string> = { cn1, cn2, ss, ss2, agg };
  for (const [cn, n] of [
    [cn1, 1],
    [cn2, 2],
  ] as const)
    for (const m of [1, 2]) {
      const numa = await h.provider(`numa${n}_${m}`, { parent: cn });
      out[`numa${n}_${m}`] = numa;
      out[`pf${n}_${m}`] = await h.provider(`pf${n}_${m}`, {
        parent: numa,
        inventory: { SRIOV_NET_VF: 8 },
      });
    }
  return out as Fixture;
}

/** The allocation requests as sorted `provider=RC:n` lists, for order-free comparison. */
function shapes(body: any, names: Record<string, string>): string[] {
  const byUuid = new Map(Object.entries(names).map(([k, v]) => [v, k]));
  return body.allocation_requests
    .map((r: any) =>
      Object.entries(r.allocations)
        .map(
          ([uuid, a]: [string, any]) =>
            `${byUuid.get(uuid)}(${Object.entries(a.resources)
              .map(([rc, n]) => `${rc}:${String(n)}`)
              .join(',')})`,
        )
        .sort()
        .join('+'),
    )
    .sort();
}

describe('placement: allocation candidates on the shared-storage fixture', () => {
  let h: Harness;
  let f: Fixture;
  // One fixture for the tests below, removed when the suite ends.
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const cleanup of cleanups) await cleanup();
  });
  before(async () => {
    h = await placementHarness({ after: (fn) => cleanups.push(fn) });
    f = await sharedStorage(h);
  });

  const get = (query: string, version = '1.39') =>
    h.call('GET', `/allocation_candidates?${query}`, { version });

  it('combines compute nodes with the sharing providers of their aggregate (1.10)', async () => {
    const r = await get('resources=VCPU:1,MEMORY_MB:1024,DISK_GB:100', '1.10');
    assert.equal(r.status, 200);
    assert.deepEqual(
      r.body.allocation_requests
        .map((a: any) =>
          a.allocations
            .map(
              (x: any) =>
                `${Object.entries(f).find(([, v]) => v === x.resource_provider.uuid)?.[0]}`,
            )
            .sort()
            .join('+'),
        )
        .sort(),
      ['cn1+ss', 'cn1+ss2', 'cn2', 'cn2+ss', 'cn2+ss2'],
    );
    assert.deepEqual(
      Object.keys(r.body.provider_summaries).sort(),
      [f.cn1, f.cn2, f.ss, f.ss2].sort(),
    );
    const cn1 = r.body.provider_summaries[f.cn1].resources;
    assert.deepEqual(cn1.VCPU, { capacity: 384, used: 0 });
    assert.deepEqual(cn1.MEMORY_MB, { capacity: 196608, used: 0 });
    assert.deepEqual(r.body.provider_summaries[f.ss].resources.DISK_GB, {
      capacity: 1900,
      used: 0,
    });
    // 1.10 has no cache headers; 1.15 adds them.
    assert.equal(r.headers['cache-control'], undefined);
    const later = await get('resources=VCPU:1', '1.15');
    assert.equal(later.headers['cache-control'], 'no-cache');
    assert.match(String(later.headers['last-modified']), /^\w+, \d+ \w+ \d{4} [\d:]+ GMT$/);
  });

  it('answers the dict form from 1.12, traits from 1.17, trees and all classes from 1.29', async () => {
    const r = await get('resources=VCPU:1,MEMORY_MB:1024,DISK_GB:100', '1.12');
    assert.deepEqual(shapes(r.body, f), [
      'cn1(VCPU:1,MEMORY_MB:1024)+ss(DISK_GB:100)',
      'cn1(VCPU:1,MEMORY_MB:1024)+ss2(DISK_GB:100)',
      'cn2(VCPU:1,MEMORY_MB:1024)+ss(DISK_GB:100)',
      'cn2(VCPU:1,MEMORY_MB:1024)+ss2(DISK_GB:100)',
      'cn2(VCPU:1,MEMORY_MB:1024,DISK_GB:100)',
    ]);
    assert.equal(r.body.provider_summaries[f.cn1].traits, undefined);
    const v17 = await get('resources=VCPU:1', '1.17');
    assert.deepEqual(v17.body.provider_summaries[f.cn1].traits, [
      'HW_CPU_X86_SSE',
      'HW_CPU_X86_SSE2',
    ]);
    // Before 1.27 only requested classes are summarised; 1.29 lists whole trees with links.
    assert.deepEqual(Object.keys(v17.body.provider_summaries[f.cn2].resources), ['VCPU']);
    const v29 = await get('resources=VCPU:1', '1.29');
    assert.deepEqual(Object.keys(v29.body.provider_summaries[f.cn2].resources), [
      'VCPU',
      'MEMORY_MB',
      'DISK_GB',
    ]);
    assert.equal(Object.keys(v29.body.provider_summaries).length, 10);
    assert.deepEqual(v29.body.provider_summaries[f.pf1_1], {
      resources: { SRIOV_NET_VF: { capacity: 8, used: 0 } },
      traits: [],
      parent_provider_uuid: f.numa1_1,
      root_provider_uuid: f.cn1,
    });
    assert.equal(v29.body.allocation_requests[0].mappings, undefined);
    const v34 = await get('resources=VCPU:1', '1.34');
    assert.deepEqual(v34.body.allocation_requests[0].mappings, { '': [f.cn1] });
  });

  it('takes resources from several providers of a tree only from 1.29', async () => {
    const nested = await get('resources=VCPU:1,SRIOV_NET_VF:4', '1.29');
    assert.deepEqual(shapes(nested.body, f), [
      'cn1(VCPU:1)+pf1_1(SRIOV_NET_VF:4)',
      'cn1(VCPU:1)+pf1_2(SRIOV_NET_VF:4)',
      'cn2(VCPU:1)+pf2_1(SRIOV_NET_VF:4)',
      'cn2(VCPU:1)+pf2_2(SRIOV_NET_VF:4)',
    ]);
    const old = await get('resources=VCPU:1,SRIOV_NET_VF:4', '1.28');
    assert.deepEqual(old.body, { allocation_requests: [], provider_summaries: {} });
  });

  it('satisfies each numbered group from one provider, with isolate and none policies', async () => {
    const isolate = await get(
      'resources1=SRIOV_NET_VF:2&resources2=SRIOV_NET_VF:2&group_policy=isolate',
    );
    assert.equal(isolate.body.allocation_requests.length, 4);
    for (const ar of isolate.body.allocation_requests) {
      assert.notDeepEqual(ar.mappings['1'], ar.mappings['2']);
      assert.equal(Object.keys(ar.allocations).length, 2);
    }
    const none = await get('resources1=SRIOV_NET_VF:2&resources2=SRIOV_NET_VF:2&group_policy=none');
    assert.equal(none.body.allocation_requests.length, 8);
    const same = none.body.allocation_requests.find(
      (ar: any) => Object.keys(ar.allocations).length === 1,
    );
    assert.equal(
      Object.values(same.allocations as Record<string, any>)[0].resources.SRIOV_NET_VF,
      4,
    );
    // 5 + 5 on one PF exceeds its 8 VFs: only the split placements remain.
    const big = await get('resources1=SRIOV_NET_VF:5&resources2=SRIOV_NET_VF:5&group_policy=none');
    assert.equal(big.body.allocation_requests.length, 4);
    const missing = await get('resources1=SRIOV_NET_VF:2&resources2=SRIOV_NET_VF:2');
    assert.equal(missing.status, 400);
    assert.match(firstError(missing).detail, /group_policy/);
    // Arbitrary suffixes from 1.33.
    const named = await get('resources_NET=SRIOV_NET_VF:1&resources=VCPU:1,DISK_GB:10', '1.33');
    assert.equal(named.status, 200);
    assert.ok(named.body.allocation_requests.length > 0);
    const early = await get('resources_NET=SRIOV_NET_VF:1&resources=VCPU:1', '1.32');
    assert.equal(early.status, 400);
  });

  it('applies required, forbidden and any-of traits, member_of, in_tree and root_required', async () => {
    const sse = await get('resources=VCPU:1&required=HW_CPU_X86_SSE');
    assert.deepEqual(shapes(sse.body, f), ['cn1(VCPU:1)']);
    const notSse = await get('resources=VCPU:1&required=!HW_CPU_X86_SSE');
    assert.deepEqual(shapes(notSse.body, f), ['cn2(VCPU:1)']);
    const anyOf = await get('resources=VCPU:1&required=in:HW_CPU_X86_SSE2,HW_CPU_X86_AVX2');
    assert.deepEqual(shapes(anyOf.body, f), ['cn1(VCPU:1)']);
    const oldAnyOf = await get('resources=VCPU:1&required=in:HW_CPU_X86_SSE2', '1.38');
    assert.equal(oldAnyOf.status, 400);
    const member = await get(`resources=VCPU:1&member_of=${f.agg}`);
    assert.equal(member.body.allocation_requests.length, 2);
    const other = await get(`resources=VCPU:1&member_of=${randomUUID()}`);
    assert.equal(other.body.allocation_requests.length, 0);
    const notMember = await get(`resources=VCPU:1&member_of=!${f.agg}`);
    assert.equal(notMember.body.allocation_requests.length, 0);
    // in_tree keeps the request inside one tree: no sharing storage from outside it.
    const tree1 = await get(`resources=VCPU:1,DISK_GB:10&in_tree=${f.numa1_1}`);
    assert.equal(tree1.body.allocation_requests.length, 0);
    const tree2 = await get(`resources=VCPU:1,DISK_GB:10&in_tree=${f.cn2}`);
    assert.deepEqual(shapes(tree2.body, f), ['cn2(VCPU:1,DISK_GB:10)']);
    const rooted = await get('resources=VCPU:1&root_required=HW_CPU_X86_SSE');
    assert.deepEqual(shapes(rooted.body, f), ['cn1(VCPU:1)']);
    const unrooted = await get('resources=VCPU:1&root_required=!HW_CPU_X86_SSE');
    assert.deepEqual(shapes(unrooted.body, f), ['cn2(VCPU:1)']);
    const unknown = await get('resources=VCPU:1&required=CUSTOM_NOPE');
    assert.equal(unknown.status, 400);
    assert.match(firstError(unknown).detail, /No such trait\(s\): CUSTOM_NOPE/);
  });

  it('keeps same_subtree groups under one provider (1.36)', async () => {
    const numa = await h.call('GET', `/resource_providers/${f.numa1_1}`);
    const traitsOf = await h.call('GET', `/resource_providers/${f.numa1_1}/traits`);
    const set = await h.call('PUT', `/resource_providers/${f.numa1_1}/traits`, {
      body: {
        traits: ['HW_NUMA_ROOT'],
        resource_provider_generation: traitsOf.body.resource_provider_generation,
      },
    });
    assert.equal(set.status, 200, set.text);
    assert.equal(numa.status, 200);
    const r = await get(
      'resources1=SRIOV_NET_VF:1&required2=HW_NUMA_ROOT&same_subtree=1,2&group_policy=none',
    );
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.allocation_requests.length, 1);
    assert.deepEqual(r.body.allocation_requests[0], {
      allocations: { [f.pf1_1]: { resources: { SRIOV_NET_VF: 1 } } },
      mappings: { '1': [f.pf1_1], '2': [f.numa1_1] },
    });
    const apart = await get(
      'resources1=SRIOV_NET_VF:1&resources2=SRIOV_NET_VF:1&same_subtree=1,2&group_policy=isolate',
    );
    assert.equal(apart.body.allocation_requests.length, 0);
    const orphan = await get('resources1=SRIOV_NET_VF:1&required2=HW_NUMA_ROOT&group_policy=none');
    assert.equal(orphan.status, 400);
    assert.match(firstError(orphan).detail, /same_subtree/);
  });

  it('limits results and their summaries, and refuses malformed queries', async () => {
    const one = await get('resources=VCPU:1,MEMORY_MB:1024,DISK_GB:100&limit=1', '1.16');
    assert.equal(one.body.allocation_requests.length, 1);
    const used = Object.keys(one.body.allocation_requests[0].allocations);
    assert.deepEqual(Object.keys(one.body.provider_summaries).sort(), [...used].sort());
    const firstWins = await get(
      'resources=VCPU:1,MEMORY_MB:1024,DISK_GB:100&limit=10&limit=1',
      '1.16',
    );
    assert.equal(firstWins.body.allocation_requests.length, 5);
    for (const [query, version, pattern] of [
      ['resources=', '1.10', /Got: empty string/],
      ['', '1.10', /'resources' is a required property/],
      ['resources=MCPU:99', '1.10', /Invalid resource class in resources parameter/],
      ['resources=VCPU:1&limit=5', '1.15', /'limit' was unexpected/],
      ['resources=VCPU:1&limit=0', '1.16', /Failed validating 'pattern'/],
      ['resources=VCPU:1&required=HW_CPU_X86_SSE', '1.16', /'required' was unexpected/],
      ['resources=VCPU:-1', '1.39', /positive integer/],
      ['resources=VCPU:1&member_of=not-a-uuid', '1.39', /valid UUID/],
      [
        'resources=VCPU:1&required=HW_CPU_X86_SSE,!HW_CPU_X86_SSE',
        '1.39',
        /Conflicting required and forbidden/,
      ],
    ] as const) {
      const r = await get(query, version);
      assert.equal(r.status, 400, `${query}: ${r.text}`);
      assert.match(firstError(r).detail, pattern, query);
      assert.equal(firstError(r).status, 400);
    }
    const early = await get('resources=VCPU:1', '1.8');
    assert.equal(early.status, 404);
  });
});

describe('placement: candidates follow usage', () => {
  it('stop offering a provider once it is full, and offer it again when freed', async (t) => {
    const h = await placementHarness(t);
    const rp = await h.provider('small', { inventory: { VCPU: 2 } });
    const candidates = async () =>
      (await h.call('GET', '/allocation_candidates?resources=VCPU:2')).body.allocation_requests
        .length;
    assert.equal(await candidates(), 1);
    const consumer = randomUUID();
    const put = await h.call('PUT', `/allocations/${consumer}`, {
      body: {
        allocations: { [rp]: { resources: { VCPU: 2 } } },
        project_id: 'p',
        user_id: 'u',
        consumer_generation: null,
        consumer_type: 'INSTANCE',
      },
    });
    assert.equal(put.status, 204, put.text);
    assert.equal(await candidates(), 0);
    assert.equal((await h.call('DELETE', `/allocations/${consumer}`)).status, 204);
    assert.equal(await candidates(), 1);
  });
});

describe('placement: the view after many writes', () => {
  it('keeps every usage, the provider order, sharing usage and trait changes', async (t) => {
    // Past 256 writes the view stops reading changed providers over its base and copies it:
    // both ways must give the same answers.
    const h = await placementHarness(t);
    const agg = randomUUID();
    const cns: string[] = [];
    for (let i = 0; i < 4; i++)
      cns.push(await h.provider(`cn${i}`, { inventory: { VCPU: 1000 }, aggregates: [agg] }));
    const disk = await h.provider('disk', {
      inventory: { DISK_GB: 1000 },
      traits: ['MISC_SHARES_VIA_AGGREGATE'],
      aggregates: [agg],
    });
    const writes = 300;
    for (let i = 0; i < writes; i++) {
      const put = await h.call('PUT', `/allocations/${randomUUID()}`, {
        body: {
          allocations: {
            [cns[i % 4] as string]: { resources: { VCPU: 1 } },
            [disk]: { resources: { DISK_GB: 1 } },
          },
          project_id: 'p',
          user_id: 'u',
          consumer_generation: null,
          consumer_type: 'INSTANCE',
        },
      });
      assert.equal(put.status, 204, put.text);
      // Each claim is seen by the next read of candidates.
      if (i % 50 === 0) {
        const found = await h.call('GET', '/allocation_candidates?resources=VCPU:1,DISK_GB:1');
        assert.equal(found.body.provider_summaries[disk].resources.DISK_GB.used, i + 1);
      }
    }
    const found = await h.call('GET', '/allocation_candidates?resources=VCPU:1,DISK_GB:1');
    assert.equal(found.body.allocation_requests.length, 4);
    for (const cn of cns)
      assert.equal(found.body.provider_summaries[cn].resources.VCPU.used, writes / 4);
    assert.equal(found.body.provider_summaries[disk].resources.DISK_GB.used, writes);
    const listed = await h.call('GET', '/resource_providers');
    assert.deepEqual(
      listed.body.resource_providers.map((rp: any) => rp.name),
      ['cn0', 'cn1', 'cn2', 'cn3', 'disk'],
    );
    // A trait change is a new shape: the disk no longer shares, so no candidate has disk.
    const generation = (await h.call('GET', `/resource_providers/${disk}`)).body.generation;
    const cleared = await h.call('PUT', `/resource_providers/${disk}/traits`, {
      body: { resource_provider_generation: generation, traits: [] },
    });
    assert.equal(cleared.status, 200, cleared.text);
    const none = await h.call('GET', '/allocation_candidates?resources=VCPU:1,DISK_GB:1');
    assert.equal(none.body.allocation_requests.length, 0);
  });
});

describe('placement: randomize_allocation_candidates', () => {
  it('shuffles candidates before limit takes the first, so schedulers spread out', async (t) => {
    const h = await placementHarness(t, { randomize: true });
    for (let i = 0; i < 10; i++) await h.provider(`cn${i}`, { inventory: { VCPU: 4 } });
    const picked = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const r = await h.call('GET', '/allocation_candidates?resources=VCPU:1&limit=1');
      assert.equal(r.body.allocation_requests.length, 1);
      picked.add(Object.keys(r.body.allocation_requests[0].allocations)[0] ?? '');
    }
    // Without shuffling every call would return the same first provider.
    assert.ok(picked.size > 1, `always ${[...picked].join()}`);
  });
});
