/** Allocations, consumers, usages and the reshaper, across the microversions that change them. */
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-return --
   response bodies are untyped JSON these tests assert on field by field. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { firstError, placementHarness, type Harness } from './harness.ts';

function claim(
  rp: string,
  resources: Record<string, number>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    allocations: { [rp]: { resources } },
    project_id: 'project-a',
    user_id: 'user-a',
    consumer_generation: null,
    consumer_type: 'INSTANCE',
    ...extra,
  };
}

async function usage(h: Harness, rp: string): Promise<Record<string, number>> {
  return (await h.call('GET', `/resource_providers/${rp}/usages`)).body.usages;
}

describe('placement: allocations', () => {
  it('claims, reads back, replaces with the consumer generation, and deletes', async (t) => {
    const h = await placementHarness(t);
    const rp = await h.provider('cn', { inventory: { VCPU: 8, MEMORY_MB: 4096 } });
    const c = randomUUID();
    const put = await h.call('PUT', `/allocations/${c}`, {
      body: claim(rp, { VCPU: 2, MEMORY_MB: 512 }),
    });
    assert.equal(put.status, 204, put.text);
    const got = await h.call('GET', `/allocations/${c}`);
    assert.equal(got.body.consumer_generation, 1);
    assert.equal(got.body.consumer_type, 'INSTANCE');
    assert.equal(got.body.project_id, 'project-a');
    assert.deepEqual(got.body.allocations[rp].resources, { VCPU: 2, MEMORY_MB: 512 });
    assert.equal(typeof got.body.allocations[rp].generation, 'number');
    assert.deepEqual(await usage(h, rp), { VCPU: 2, MEMORY_MB: 512 });
    // A stale or missing consumer generation is a 409 the caller can act on.
    const stale = await h.call('PUT', `/allocations/${c}`, { body: claim(rp, { VCPU: 4 }) });
    assert.equal(stale.status, 409);
    assert.equal(firstError(stale).code, 'placement.concurrent_update');
    assert.match(
      firstError(stale).detail,
      /consumer generation conflict - expected 1 but got null/,
    );
    const replaced = await h.call('PUT', `/allocations/${c}`, {
      body: claim(rp, { VCPU: 4 }, { consumer_generation: 1 }),
    });
    assert.equal(replaced.status, 204, replaced.text);
    assert.deepEqual(await usage(h, rp), { VCPU: 4, MEMORY_MB: 0 });
    const byProvider = await h.call('GET', `/resource_providers/${rp}/allocations`);
    assert.deepEqual(byProvider.body.allocations, { [c]: { resources: { VCPU: 4 } } });
    assert.equal((await h.call('DELETE', `/allocations/${c}`)).status, 204);
    assert.deepEqual((await h.call('GET', `/allocations/${c}`)).body, { allocations: {} });
    const again = await h.call('DELETE', `/allocations/${c}`);
    assert.equal(again.status, 404);
    assert.match(firstError(again).detail, /No allocations for consumer/);
    // An empty allocation set (1.28+) removes a consumer's allocations too.
    await h.call('PUT', `/allocations/${c}`, { body: claim(rp, { VCPU: 1 }) });
    const emptied = await h.call('PUT', `/allocations/${c}`, {
      body: { ...claim(rp, {}, { consumer_generation: 1 }), allocations: {} },
    });
    assert.equal(emptied.status, 204, emptied.text);
    assert.deepEqual(await usage(h, rp), { VCPU: 0, MEMORY_MB: 0 });
  });

  it('speaks the list body before 1.12 and needs project and user from 1.8', async (t) => {
    const h = await placementHarness(t);
    const rp = await h.provider('cn', { inventory: { VCPU: 8 } });
    const c = randomUUID();
    const list = { allocations: [{ resource_provider: { uuid: rp }, resources: { VCPU: 1 } }] };
    assert.equal(
      (await h.call('PUT', `/allocations/${c}`, { version: '1.0', body: list })).status,
      204,
    );
    const noProject = await h.call('PUT', `/allocations/${c}`, { version: '1.8', body: list });
    assert.equal(noProject.status, 400);
    assert.match(firstError(noProject).detail, /project_id/);
    const old = await h.call('GET', `/allocations/${c}`, { version: '1.11' });
    assert.deepEqual(Object.keys(old.body), ['allocations']);
    const dict = await h.call('PUT', `/allocations/${c}`, {
      version: '1.12',
      body: { allocations: { [rp]: { resources: { VCPU: 3 } } }, project_id: 'p', user_id: 'u' },
    });
    assert.equal(dict.status, 204, dict.text);
    assert.deepEqual(await usage(h, rp), { VCPU: 3 });
    // 1.38 asks for a consumer type; 1.28 for a consumer generation.
    const noType = await h.call('PUT', `/allocations/${randomUUID()}`, {
      body: {
        allocations: { [rp]: { resources: { VCPU: 1 } } },
        project_id: 'p',
        user_id: 'u',
        consumer_generation: null,
      },
    });
    assert.equal(noType.status, 400);
    assert.match(firstError(noType).detail, /consumer_type/);
  });

  it('refuses amounts beyond capacity or unit limits, and unknown providers and classes', async (t) => {
    const h = await placementHarness(t);
    const rp = await h.provider('cn', {
      inventory: {
        VCPU: { total: 4, reserved: 1, max_unit: 2 },
        DISK_GB: { total: 100, step_size: 10 },
      },
    });
    const cases: Array<[Record<string, number>, number, RegExp]> = [
      [{ VCPU: 3 }, 400, /violate inventory constraints/],
      [{ DISK_GB: 15 }, 400, /violate inventory constraints/],
      [{ MEMORY_MB: 1 }, 409, /Inventory for 'MEMORY_MB' on resource provider .* invalid/],
      [{ CUSTOM_NONE: 1 }, 400, /No such resource class CUSTOM_NONE/],
    ];
    for (const [resources, status, pattern] of cases) {
      const r = await h.call('PUT', `/allocations/${randomUUID()}`, { body: claim(rp, resources) });
      assert.equal(r.status, status, JSON.stringify(resources));
      assert.match(firstError(r).detail, pattern);
    }
    await h.call('PUT', `/allocations/${randomUUID()}`, { body: claim(rp, { VCPU: 2 }) });
    const full = await h.call('PUT', `/allocations/${randomUUID()}`, {
      body: claim(rp, { VCPU: 2 }),
    });
    assert.equal(full.status, 409);
    assert.match(firstError(full).detail, /would exceed the capacity/);
    const ghost = randomUUID();
    const missing = await h.call('PUT', `/allocations/${randomUUID()}`, {
      body: claim(ghost, { VCPU: 1 }),
    });
    assert.equal(missing.status, 400);
    assert.match(firstError(missing).detail, new RegExp(ghost));
    const badUuid = await h.call('PUT', '/allocations/not-a-uuid', {
      body: claim(rp, { VCPU: 1 }),
    });
    assert.equal(badUuid.status, 400);
    const badJson = await h.call('PUT', `/allocations/${randomUUID()}`, {
      body: '{"allocations":',
    });
    assert.equal(badJson.status, 400);
    assert.deepEqual(await usage(h, rp), { VCPU: 2, DISK_GB: 0 });
  });

  it('64 concurrent claims on room for 10 give exactly 10 successes and no over-commit', async (t) => {
    const h = await placementHarness(t);
    const rp = await h.provider('small', { inventory: { VCPU: 10, MEMORY_MB: 65536 } });
    const results = await Promise.all(
      Array.from({ length: 64 }, () =>
        h.call('PUT', `/allocations/${randomUUID()}`, {
          body: claim(rp, { VCPU: 1, MEMORY_MB: 64 }),
        }),
      ),
    );
    const statuses = results.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 204).length, 10);
    assert.equal(statuses.filter((s) => s === 409).length, 54);
    assert.deepEqual(await usage(h, rp), { VCPU: 10, MEMORY_MB: 640 });
  });

  it('moves allocations of several consumers atomically with POST /allocations (1.13)', async (t) => {
    const h = await placementHarness(t);
    const src = await h.provider('src', { inventory: { VCPU: 4 } });
    const dst = await h.provider('dst', { inventory: { VCPU: 4 } });
    const instance = randomUUID();
    const migration = randomUUID();
    await h.call('PUT', `/allocations/${instance}`, { body: claim(src, { VCPU: 2 }) });
    const part = (rp: string | undefined, gen: number | null, type: string) => ({
      allocations: rp ? { [rp]: { resources: { VCPU: 2 } } } : {},
      project_id: 'project-a',
      user_id: 'user-a',
      consumer_generation: gen,
      consumer_type: type,
    });
    // One bad consumer in the batch: nothing is written.
    const bad = await h.call('POST', '/allocations', {
      body: {
        [instance]: part(dst, 1, 'INSTANCE'),
        [migration]: {
          ...part(src, null, 'MIGRATION'),
          allocations: { [src]: { resources: { VCPU: 99 } } },
        },
      },
    });
    assert.equal(bad.status, 409);
    assert.deepEqual(await usage(h, src), { VCPU: 2 });
    assert.deepEqual(await usage(h, dst), { VCPU: 0 });
    const moved = await h.call('POST', '/allocations', {
      body: { [instance]: part(dst, 1, 'INSTANCE'), [migration]: part(src, null, 'MIGRATION') },
    });
    assert.equal(moved.status, 204, moved.text);
    assert.deepEqual(await usage(h, src), { VCPU: 2 });
    assert.deepEqual(await usage(h, dst), { VCPU: 2 });
    const mig = await h.call('GET', `/allocations/${migration}`);
    assert.equal(mig.body.consumer_type, 'MIGRATION');
    const early = await h.call('POST', '/allocations', { version: '1.12', body: {} });
    assert.equal(early.status, 404);
  });

  it('reports usages per project and user, by consumer type from 1.38', async (t) => {
    const h = await placementHarness(t);
    const rp = await h.provider('cn', { inventory: { VCPU: 16, MEMORY_MB: 8192 } });
    await h.call('PUT', `/allocations/${randomUUID()}`, {
      body: claim(rp, { VCPU: 2, MEMORY_MB: 512 }),
    });
    await h.call('PUT', `/allocations/${randomUUID()}`, {
      body: claim(rp, { VCPU: 1 }, { consumer_type: 'MIGRATION' }),
    });
    await h.call('PUT', `/allocations/${randomUUID()}`, {
      body: claim(rp, { VCPU: 4 }, { project_id: 'project-b' }),
    });
    const old = await h.call('GET', '/usages?project_id=project-a', { version: '1.9' });
    assert.deepEqual(old.body.usages, { VCPU: 3, MEMORY_MB: 512 });
    const typed = await h.call('GET', '/usages?project_id=project-a&user_id=user-a');
    assert.deepEqual(typed.body.usages, {
      INSTANCE: { consumer_count: 1, VCPU: 2, MEMORY_MB: 512 },
      MIGRATION: { consumer_count: 1, VCPU: 1 },
    });
    const all = await h.call('GET', '/usages?project_id=project-a&consumer_type=all');
    assert.deepEqual(all.body.usages, { all: { consumer_count: 2, VCPU: 3, MEMORY_MB: 512 } });
    const other = await h.call('GET', '/usages?project_id=project-a&user_id=nobody');
    assert.deepEqual(other.body.usages, {});
    const missing = await h.call('GET', '/usages');
    assert.equal(missing.status, 400);
    assert.match(firstError(missing).detail, /project_id/);
    const early = await h.call('GET', '/usages?project_id=project-a', { version: '1.8' });
    assert.equal(early.status, 404);
  });

  it('reshapes inventory and allocations onto a child provider in one step (1.30)', async (t) => {
    const h = await placementHarness(t);
    const cn = await h.provider('cn', { inventory: { VCPU: 8, VGPU: 4 } });
    const c = randomUUID();
    await h.call('PUT', `/allocations/${c}`, { body: claim(cn, { VCPU: 1, VGPU: 2 }) });
    const gpu = await h.provider('gpu', { parent: cn });
    const gens = async (rp: string) =>
      (await h.call('GET', `/resource_providers/${rp}`)).body.generation as number;
    const body = {
      inventories: {
        [cn]: { resource_provider_generation: await gens(cn), inventories: { VCPU: { total: 8 } } },
        [gpu]: {
          resource_provider_generation: await gens(gpu),
          inventories: { VGPU: { total: 4 } },
        },
      },
      allocations: {
        [c]: {
          allocations: { [cn]: { resources: { VCPU: 1 } }, [gpu]: { resources: { VGPU: 2 } } },
          project_id: 'project-a',
          user_id: 'user-a',
          consumer_generation: 1,
          consumer_type: 'INSTANCE',
        },
      },
    };
    // Moving the VGPU inventory without its allocation would orphan the allocation: refused.
    const alone = await h.call('POST', '/reshaper', { body: { ...body, allocations: {} } });
    assert.equal(alone.status, 409);
    assert.equal(firstError(alone).code, 'placement.inventory.inuse');
    const r = await h.call('POST', '/reshaper', { body });
    assert.equal(r.status, 204, r.text);
    assert.deepEqual(await usage(h, cn), { VCPU: 1 });
    assert.deepEqual(await usage(h, gpu), { VGPU: 2 });
    const again = await h.call('POST', '/reshaper', { body });
    assert.equal(again.status, 409);
  });
});
