/**
 * Placement on SQLite, PostgreSQL and MariaDB: the same API flow, including claims that race
 * on one provider (where PostgreSQL and MariaDB run them truly in parallel, unlike SQLite).
 */
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument --
   response bodies are untyped JSON these tests assert on field by field. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { forEachDialect, freshDatabase } from '../helpers/databases.ts';
import { placementHarness } from './harness.ts';

forEachDialect('placement: schema and queries', (dialect) => {
  it('runs providers, inventory, racing claims, candidates, reshaper and deletes', async (t) => {
    const fresh = await freshDatabase(t, dialect);
    const h = await placementHarness(t, { databaseUrl: fresh.url });
    const agg = randomUUID();
    const cn = await h.provider('cn', {
      inventory: { VCPU: { total: 5, allocation_ratio: 1.5 }, MEMORY_MB: 4096 },
      traits: ['HW_CPU_X86_AVX2', 'CUSTOM_RACK_A'],
      aggregates: [agg],
    });
    const ss = await h.provider('ss', {
      inventory: { DISK_GB: 100 },
      traits: ['MISC_SHARES_VIA_AGGREGATE'],
      aggregates: [agg],
    });
    const child = await h.provider('child', { parent: cn, inventory: { SRIOV_NET_VF: 4 } });
    const candidates = await h.call(
      'GET',
      '/allocation_candidates?resources=VCPU:1,DISK_GB:10&resources1=SRIOV_NET_VF:1&required=CUSTOM_RACK_A',
    );
    assert.equal(candidates.status, 200, candidates.text);
    assert.equal(candidates.body.allocation_requests.length, 1);
    assert.deepEqual(
      Object.keys(candidates.body.allocation_requests[0].allocations).sort(),
      [cn, ss, child].sort(),
    );
    // floor(5 × 1.5) = 7 VCPUs: 24 racing claims of one give exactly 7.
    const claims = await Promise.all(
      Array.from({ length: 24 }, () =>
        h.call('PUT', `/allocations/${randomUUID()}`, {
          body: {
            allocations: { [cn]: { resources: { VCPU: 1 } }, [ss]: { resources: { DISK_GB: 10 } } },
            project_id: 'p',
            user_id: 'u',
            consumer_generation: null,
            consumer_type: 'INSTANCE',
          },
        }),
      ),
    );
    assert.equal(claims.filter((c) => c.status === 204).length, 7);
    assert.ok(claims.every((c) => c.status === 204 || c.status === 409));
    const usages = await h.call('GET', `/resource_providers/${cn}/usages`);
    assert.deepEqual(usages.body.usages, { VCPU: 7, MEMORY_MB: 0 });
    const project = await h.call('GET', '/usages?project_id=p');
    assert.deepEqual(project.body.usages, {
      INSTANCE: { consumer_count: 7, VCPU: 7, DISK_GB: 70 },
    });
    const list = await h.call('GET', '/resource_providers?resources=VCPU:1');
    assert.equal(list.body.resource_providers.length, 0);
    const traits = await h.call('GET', '/traits?associated=true&name=startswith:CUSTOM_');
    assert.deepEqual(traits.body.traits, ['CUSTOM_RACK_A']);
    const inUse = await h.call('DELETE', `/resource_providers/${ss}`);
    assert.equal(inUse.status, 409);
    assert.equal((await h.call('DELETE', `/resource_providers/${child}`)).status, 204);
  });

  it('shows a second process every write of the first, deletes included', async (t) => {
    const fresh = await freshDatabase(t, dialect);
    const a = await placementHarness(t, { databaseUrl: fresh.url });
    const b = await placementHarness(t, { databaseUrl: fresh.url });
    const names = async (): Promise<string[]> => {
      const listed = (await b.call('GET', '/resource_providers')).body as {
        resource_providers: { name: string }[];
      };
      return listed.resource_providers.map((rp) => rp.name).sort();
    };
    const one = await a.provider('one', { inventory: { VCPU: 4 } });
    await a.provider('two', { inventory: { VCPU: 4 } });
    assert.deepEqual(await names(), ['one', 'two']);
    // An inventory change, then a claim, each seen by the other process's candidates.
    const inv = await a.call('PUT', `/resource_providers/${one}/inventories/VCPU`, {
      body: { resource_provider_generation: 1, total: 16 },
    });
    assert.equal(inv.status, 200, inv.text);
    const big = await b.call('GET', '/allocation_candidates?resources=VCPU:8');
    assert.deepEqual(Object.keys(big.body.provider_summaries), [one]);
    const claim = await a.call('PUT', `/allocations/${randomUUID()}`, {
      body: {
        allocations: { [one]: { resources: { VCPU: 10 } } },
        project_id: 'p',
        user_id: 'u',
        consumer_generation: null,
        consumer_type: 'INSTANCE',
      },
    });
    assert.equal(claim.status, 204, claim.text);
    const after = await b.call('GET', '/allocation_candidates?resources=VCPU:8');
    assert.equal(after.body.allocation_requests.length, 0);
    // A delete and a create in between two reads leave the count as it was.
    const two = (await b.call('GET', '/resource_providers?name=two')).body as {
      resource_providers: { uuid: string }[];
    };
    const gone = await a.call('DELETE', `/resource_providers/${two.resource_providers[0]?.uuid}`);
    assert.equal(gone.status, 204);
    await a.provider('three');
    assert.deepEqual(await names(), ['one', 'three']);
  });
});
