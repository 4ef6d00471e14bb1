/**
 * Resource providers and what hangs off them (inventories, traits, aggregates, resource classes),
 * version by version, with their errors in placement's error shape and the policy that keeps
 * them to admins and services.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-return --
   response bodies are untyped JSON these tests assert on field by field. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { firstError, placementHarness, type Harness } from './harness.ts';

async function generation(h: Harness, rp: string): Promise<number> {
  return (await h.call('GET', `/resource_providers/${rp}`)).body.generation;
}

describe('placement: resource providers', () => {
  it('creates, shows, renames and deletes, with the response shape of each version', async (t) => {
    const h = await placementHarness(t);
    const uuid = randomUUID();
    const old = await h.call('POST', '/resource_providers', {
      version: '1.19',
      body: { name: 'cn1', uuid },
    });
    assert.equal(old.status, 201);
    assert.equal(old.headers['location'], `/resource_providers/${uuid}`);
    assert.equal(old.text, '');
    const shown = await h.call('GET', `/resource_providers/${uuid}`);
    assert.equal(shown.status, 200);
    assert.deepEqual(
      shown.body.links.map((l: any) => l.rel),
      ['self', 'inventories', 'usages', 'aggregates', 'traits', 'allocations'],
    );
    assert.equal(shown.body.root_provider_uuid, uuid);
    assert.equal(shown.body.parent_provider_uuid, null);
    const v10 = await h.call('GET', `/resource_providers/${uuid}`, { version: '1.0' });
    assert.deepEqual(Object.keys(v10.body).sort(), ['generation', 'links', 'name', 'uuid']);
    const renamed = await h.call('PUT', `/resource_providers/${uuid}`, {
      body: { name: 'cn1-new' },
    });
    assert.equal(renamed.status, 200);
    assert.equal(renamed.body.name, 'cn1-new');
    const dupName = await h.call('POST', '/resource_providers', { body: { name: 'cn1-new' } });
    assert.equal(dupName.status, 409);
    assert.equal(firstError(dupName).code, 'placement.duplicate_name');
    const dupUuid = await h.call('POST', '/resource_providers', { body: { name: 'x', uuid } });
    assert.equal(dupUuid.status, 409);
    assert.match(firstError(dupUuid).detail, /uuid/);
    assert.equal((await h.call('DELETE', `/resource_providers/${uuid}`)).status, 204);
    const gone = await h.call('GET', `/resource_providers/${uuid}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.errors[0].title, 'Not Found');
    assert.equal(typeof gone.body.errors[0].request_id, 'string');
  });

  it('builds trees: parent and root links, in_tree, re-parenting rules and deletion order', async (t) => {
    const h = await placementHarness(t);
    const root = await h.provider('root');
    const child = await h.provider('child', { parent: root });
    const grandchild = await h.provider('grandchild', { parent: child });
    const other = await h.provider('other');
    const shown = await h.call('GET', `/resource_providers/${grandchild}`);
    assert.equal(shown.body.parent_provider_uuid, child);
    assert.equal(shown.body.root_provider_uuid, root);
    const tree = await h.call('GET', `/resource_providers?in_tree=${child}`);
    assert.deepEqual(
      tree.body.resource_providers.map((p: any) => p.name),
      ['root', 'child', 'grandchild'],
    );
    // Moving a child needs 1.37; a loop is refused even then.
    const early = await h.call('PUT', `/resource_providers/${child}`, {
      version: '1.36',
      body: { name: 'child', parent_provider_uuid: other },
    });
    assert.equal(early.status, 400);
    const loop = await h.call('PUT', `/resource_providers/${root}`, {
      body: { name: 'root', parent_provider_uuid: grandchild },
    });
    assert.equal(loop.status, 400);
    assert.match(firstError(loop).detail, /loop/);
    const moved = await h.call('PUT', `/resource_providers/${child}`, {
      body: { name: 'child', parent_provider_uuid: other },
    });
    assert.equal(moved.status, 200, moved.text);
    assert.equal(
      (await h.call('GET', `/resource_providers/${grandchild}`)).body.root_provider_uuid,
      other,
    );
    const parentGone = await h.call('DELETE', `/resource_providers/${other}`);
    assert.equal(parentGone.status, 409);
    assert.equal(firstError(parentGone).code, 'placement.resource_provider.cannot_delete_parent');
    const missingParent = await h.call('POST', '/resource_providers', {
      body: { name: 'orphan', parent_provider_uuid: randomUUID() },
    });
    assert.equal(missingParent.status, 400);
  });

  it('filters lists by name, uuid, resources, required traits and member_of', async (t) => {
    const h = await placementHarness(t);
    const agg = randomUUID();
    const big = await h.provider('big', {
      inventory: { VCPU: 64, MEMORY_MB: 65536 },
      traits: ['HW_CPU_X86_AVX2'],
      aggregates: [agg],
    });
    await h.provider('small', { inventory: { VCPU: 2, MEMORY_MB: 1024 } });
    const names = async (query: string, version = '1.39') => {
      const r = await h.call('GET', `/resource_providers?${query}`, { version });
      assert.equal(r.status, 200, r.text);
      return r.body.resource_providers.map((p: any) => p.name);
    };
    assert.deepEqual(await names('name=small'), ['small']);
    assert.deepEqual(await names(`uuid=${big}`), ['big']);
    assert.deepEqual(await names('resources=VCPU:4,MEMORY_MB:2048'), ['big']);
    assert.deepEqual(await names('required=HW_CPU_X86_AVX2'), ['big']);
    assert.deepEqual(await names('required=!HW_CPU_X86_AVX2'), ['small']);
    assert.deepEqual(await names(`member_of=in:${agg},${randomUUID()}`), ['big']);
    assert.deepEqual(await names(`member_of=!${agg}`), ['small']);
    const tooEarly = await h.call('GET', '/resource_providers?required=HW_CPU_X86_AVX2', {
      version: '1.17',
    });
    assert.equal(tooEarly.status, 400);
    assert.match(firstError(tooEarly).detail, /'required' was unexpected/);
    const badTrait = await h.call('GET', '/resource_providers?required=CUSTOM_NOPE');
    assert.equal(badTrait.status, 400);
    const badClass = await h.call('GET', '/resource_providers?resources=NOPE:1');
    assert.equal(badClass.status, 400);
  });
});

describe('placement: inventories', () => {
  it('replaces, adds, updates and deletes inventory under generation checks', async (t) => {
    const h = await placementHarness(t);
    const rp = await h.provider('cn');
    const put = await h.call('PUT', `/resource_providers/${rp}/inventories`, {
      body: {
        resource_provider_generation: 0,
        inventories: {
          VCPU: { total: 8, allocation_ratio: 2 },
          MEMORY_MB: { total: 1024, reserved: 512 },
        },
      },
    });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.body.resource_provider_generation, 1);
    assert.deepEqual(put.body.inventories.VCPU, {
      allocation_ratio: 2,
      max_unit: 2147483647,
      min_unit: 1,
      reserved: 0,
      step_size: 1,
      total: 8,
    });
    const stale = await h.call('PUT', `/resource_providers/${rp}/inventories`, {
      body: { resource_provider_generation: 0, inventories: {} },
    });
    assert.equal(stale.status, 409);
    assert.equal(firstError(stale).code, 'placement.concurrent_update');
    const added = await h.call('POST', `/resource_providers/${rp}/inventories`, {
      body: { resource_class: 'DISK_GB', total: 100, resource_provider_generation: 1 },
    });
    assert.equal(added.status, 201, added.text);
    assert.equal(added.headers['location'], `/resource_providers/${rp}/inventories/DISK_GB`);
    const one = await h.call('GET', `/resource_providers/${rp}/inventories/DISK_GB`);
    assert.equal(one.body.total, 100);
    const updated = await h.call('PUT', `/resource_providers/${rp}/inventories/DISK_GB`, {
      body: { total: 200, resource_provider_generation: 2 },
    });
    assert.equal(updated.status, 200, updated.text);
    assert.equal(updated.body.total, 200);
    // Reserved may equal total only from 1.26.
    const gen = await generation(h, rp);
    const equal = { total: 10, reserved: 10, resource_provider_generation: gen };
    const before = await h.call('PUT', `/resource_providers/${rp}/inventories/DISK_GB`, {
      version: '1.25',
      body: equal,
    });
    assert.equal(before.status, 400);
    assert.match(firstError(before).detail, /greater than or equal to total/);
    const after = await h.call('PUT', `/resource_providers/${rp}/inventories/DISK_GB`, {
      version: '1.26',
      body: equal,
    });
    assert.equal(after.status, 200, after.text);
    assert.equal(
      (await h.call('DELETE', `/resource_providers/${rp}/inventories/DISK_GB`)).status,
      204,
    );
    assert.equal(
      (await h.call('GET', `/resource_providers/${rp}/inventories/DISK_GB`)).status,
      404,
    );
    for (const bad of [
      { resource_provider_generation: 0, inventories: { VCPU: { total: 0 } } },
      { resource_provider_generation: 0, inventories: { VCPU: { total: 'eight' } } },
      { resource_provider_generation: 0, inventories: { VCPU: { total: 8, allocation_ratio: 0 } } },
      { inventories: {} },
    ]) {
      const r = await h.call('PUT', `/resource_providers/${rp}/inventories`, { body: bad });
      assert.equal(r.status, 400, JSON.stringify(bad));
      assert.match(firstError(r).detail, /JSON does not validate/);
    }
    const unknown = await h.call('PUT', `/resource_providers/${rp}/inventories`, {
      body: {
        resource_provider_generation: await generation(h, rp),
        inventories: { CUSTOM_NOPE: { total: 1 } },
      },
    });
    assert.equal(unknown.status, 400);
    assert.match(firstError(unknown).detail, /CUSTOM_NOPE/);
  });

  it('refuses to remove inventory that allocations use', async (t) => {
    const h = await placementHarness(t);
    const rp = await h.provider('cn', { inventory: { VCPU: 8, MEMORY_MB: 1024 } });
    const consumer = randomUUID();
    await h.call('PUT', `/allocations/${consumer}`, {
      body: {
        allocations: { [rp]: { resources: { VCPU: 1 } } },
        project_id: 'p',
        user_id: 'u',
        consumer_generation: null,
        consumer_type: 'INSTANCE',
      },
    });
    for (const [method, url, body] of [
      ['DELETE', `/resource_providers/${rp}/inventories/VCPU`, undefined],
      ['DELETE', `/resource_providers/${rp}/inventories`, undefined],
      [
        'PUT',
        `/resource_providers/${rp}/inventories`,
        {
          resource_provider_generation: await generation(h, rp),
          inventories: { MEMORY_MB: { total: 1024 } },
        },
      ],
    ] as const) {
      const r = await h.call(method, url, body !== undefined ? { body } : {});
      assert.equal(r.status, 409, `${method} ${url}`);
      assert.equal(firstError(r).code, 'placement.inventory.inuse');
    }
    const inUse = await h.call('DELETE', `/resource_providers/${rp}`);
    assert.equal(inUse.status, 409);
    assert.equal(firstError(inUse).code, 'placement.resource_provider.inuse');
    // Freeing the allocation lets both go.
    await h.call('DELETE', `/allocations/${consumer}`);
    assert.equal((await h.call('DELETE', `/resource_providers/${rp}/inventories`)).status, 204);
    assert.equal((await h.call('DELETE', `/resource_providers/${rp}`)).status, 204);
  });
});

describe('placement: traits, aggregates and resource classes', () => {
  it('manages custom traits and provider traits', async (t) => {
    const h = await placementHarness(t);
    const rp = await h.provider('cn');
    const standard = await h.call('GET', '/traits?name=startswith:HW_CPU_X86_AVX');
    assert.ok(standard.body.traits.includes('HW_CPU_X86_AVX2'));
    assert.equal((await h.call('PUT', '/traits/CUSTOM_GOLD')).status, 201);
    assert.equal((await h.call('PUT', '/traits/CUSTOM_GOLD')).status, 204);
    assert.equal((await h.call('GET', '/traits/CUSTOM_GOLD')).status, 204);
    const invalid = await h.call('PUT', '/traits/GOLD');
    assert.equal(invalid.status, 400);
    assert.match(firstError(invalid).detail, /CUSTOM_/);
    const set = await h.call('PUT', `/resource_providers/${rp}/traits`, {
      body: { traits: ['CUSTOM_GOLD', 'HW_CPU_X86_AVX2'], resource_provider_generation: 0 },
    });
    assert.equal(set.status, 200, set.text);
    assert.deepEqual(set.body, {
      traits: ['CUSTOM_GOLD', 'HW_CPU_X86_AVX2'],
      resource_provider_generation: 1,
    });
    const associated = await h.call('GET', '/traits?associated=true');
    assert.deepEqual(associated.body.traits, ['CUSTOM_GOLD', 'HW_CPU_X86_AVX2']);
    const inUse = await h.call('DELETE', '/traits/CUSTOM_GOLD');
    assert.equal(inUse.status, 409);
    assert.equal((await h.call('DELETE', '/traits/HW_CPU_X86_AVX2')).status, 400);
    const unknown = await h.call('PUT', `/resource_providers/${rp}/traits`, {
      body: { traits: ['CUSTOM_NOPE'], resource_provider_generation: 1 },
    });
    assert.equal(unknown.status, 400);
    assert.match(firstError(unknown).detail, /No such trait\(s\): CUSTOM_NOPE/);
    assert.equal((await h.call('DELETE', `/resource_providers/${rp}/traits`)).status, 204);
    assert.equal((await h.call('DELETE', '/traits/CUSTOM_GOLD')).status, 204);
    assert.equal((await h.call('GET', '/traits/CUSTOM_GOLD')).status, 404);
    assert.equal((await h.call('GET', '/traits', { version: '1.5' })).status, 404);
  });

  it('sets aggregates as a list before 1.19 and with a generation after', async (t) => {
    const h = await placementHarness(t);
    const rp = await h.provider('cn');
    const [a, b] = [randomUUID(), randomUUID()];
    const old = await h.call('PUT', `/resource_providers/${rp}/aggregates`, {
      version: '1.1',
      body: [a],
    });
    assert.equal(old.status, 200, old.text);
    assert.deepEqual(old.body, { aggregates: [a] });
    // Before 1.19 the generation stays as it was, as upstream leaves it.
    const gen = await generation(h, rp);
    assert.equal(gen, 0);
    const shown = await h.call('GET', `/resource_providers/${rp}/aggregates`, { version: '1.1' });
    assert.deepEqual(shown.body, { aggregates: [a] });
    const stale = await h.call('PUT', `/resource_providers/${rp}/aggregates`, {
      body: { aggregates: [a, b], resource_provider_generation: gen + 1 },
    });
    assert.equal(stale.status, 409);
    const now = await h.call('PUT', `/resource_providers/${rp}/aggregates`, {
      body: { aggregates: [a, b], resource_provider_generation: gen },
    });
    assert.equal(now.status, 200, now.text);
    assert.deepEqual(now.body.aggregates, [a, b].sort());
    assert.equal(now.body.resource_provider_generation, gen + 1);
    const bad = await h.call('PUT', `/resource_providers/${rp}/aggregates`, {
      body: { aggregates: ['not-a-uuid'], resource_provider_generation: gen + 1 },
    });
    assert.equal(bad.status, 400);
    assert.equal(
      (await h.call('GET', `/resource_providers/${rp}/aggregates`, { version: '1.0' })).status,
      404,
    );
  });

  it('creates, renames (1.2–1.6), ensures (1.7) and deletes custom resource classes', async (t) => {
    const h = await placementHarness(t);
    const list = await h.call('GET', '/resource_classes');
    assert.equal(list.body.resource_classes[0].name, 'VCPU');
    assert.equal(
      (await h.call('POST', '/resource_classes', { body: { name: 'CUSTOM_FPGA' } })).status,
      201,
    );
    const dup = await h.call('POST', '/resource_classes', { body: { name: 'CUSTOM_FPGA' } });
    assert.equal(dup.status, 409);
    const notCustom = await h.call('POST', '/resource_classes', { body: { name: 'FPGA2' } });
    assert.equal(notCustom.status, 400);
    const renamed = await h.call('PUT', '/resource_classes/CUSTOM_FPGA', {
      version: '1.6',
      body: { name: 'CUSTOM_FPGA2' },
    });
    assert.equal(renamed.status, 200, renamed.text);
    assert.equal((await h.call('PUT', '/resource_classes/CUSTOM_FPGA2')).status, 204);
    assert.equal((await h.call('PUT', '/resource_classes/CUSTOM_NEW')).status, 201);
    const rp = await h.provider('cn', { inventory: { CUSTOM_NEW: 1 } });
    assert.equal((await h.call('DELETE', '/resource_classes/CUSTOM_NEW')).status, 409);
    assert.equal((await h.call('DELETE', '/resource_classes/VCPU')).status, 400);
    assert.equal((await h.call('DELETE', `/resource_providers/${rp}`)).status, 204);
    assert.equal((await h.call('DELETE', '/resource_classes/CUSTOM_NEW')).status, 204);
    assert.equal((await h.call('GET', '/resource_classes/CUSTOM_NEW')).status, 404);
  });
});

describe('placement: access', () => {
  it('keeps every resource type to admins and services; a project member gets 403', async (t) => {
    const h = await placementHarness(t);
    const rp = await h.provider('cn', { inventory: { VCPU: 4 } });
    const member = h.token('tenant', ['member', 'reader']);
    const service = h.token('service', ['service']);
    const consumer = randomUUID();
    const reads = [
      '/resource_providers',
      `/resource_providers/${rp}`,
      `/resource_providers/${rp}/inventories`,
      `/resource_providers/${rp}/inventories/VCPU`,
      `/resource_providers/${rp}/usages`,
      `/resource_providers/${rp}/aggregates`,
      `/resource_providers/${rp}/traits`,
      `/resource_providers/${rp}/allocations`,
      '/traits',
      '/resource_classes',
      `/allocations/${consumer}`,
      '/usages?project_id=tenant',
      '/allocation_candidates?resources=VCPU:1',
    ];
    for (const url of reads) {
      const denied = await h.call('GET', url, { token: member });
      assert.equal(denied.status, 403, url);
      assert.equal(denied.body.errors[0].status, 403);
      assert.equal((await h.call('GET', url, { token: service })).status, 200, url);
    }
    const writes: Array<[string, string, unknown]> = [
      ['POST', '/resource_providers', { name: 'mine' }],
      ['DELETE', `/resource_providers/${rp}`, undefined],
      ['PUT', '/traits/CUSTOM_MINE', undefined],
      ['POST', '/resource_classes', { name: 'CUSTOM_MINE' }],
      [
        'PUT',
        `/allocations/${consumer}`,
        {
          allocations: {},
          project_id: 'tenant',
          user_id: 'u',
          consumer_generation: null,
          consumer_type: 'INSTANCE',
        },
      ],
      ['POST', '/reshaper', { inventories: {}, allocations: {} }],
    ];
    for (const [method, url, body] of writes) {
      const r = await h.call(method, url, {
        token: member,
        ...(body !== undefined ? { body } : {}),
      });
      assert.equal(r.status, 403, `${method} ${url}`);
    }
    assert.equal((await h.call('GET', `/resource_providers/${rp}`)).status, 200);
    const anonymous = await h.call('GET', '/resource_providers', { token: null });
    assert.equal(anonymous.status, 401);
    // The root version document needs no token.
    const root = await h.call('GET', '/', { token: null });
    assert.equal(root.status, 200);
    assert.equal(root.body.versions[0].max_version, '1.39');
  });
});
