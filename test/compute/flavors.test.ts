/**
 * Flavors over HTTP: the defaults, the fields each microversion shows, admin-only management,
 * extra specs, private flavors and their access lists, listing filters and paging.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return --
   response bodies are untyped JSON these tests assert on field by field. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { computeHarness } from './harness.ts';

describe('compute: flavors', () => {
  it('starts with the upstream defaults, shown per microversion', async (t) => {
    const h = await computeHarness(t);
    const list = await h.call('GET', '/v2.1/flavors/detail');
    assert.deepEqual(
      list.body.flavors.map((f: any) => [f.id, f.name, f.vcpus, f.ram, f.disk]),
      [
        ['1', 'm1.tiny', 1, 512, 1],
        ['2', 'm1.small', 1, 2048, 20],
        ['3', 'm1.medium', 2, 4096, 40],
        ['4', 'm1.large', 4, 8192, 80],
        ['5', 'm1.xlarge', 8, 16384, 160],
      ],
    );
    const old = (await h.call('GET', '/v2.1/flavors/1')).body.flavor;
    assert.equal(old.swap, '');
    assert.equal(old['os-flavor-access:is_public'], true);
    assert.equal(old['OS-FLV-DISABLED:disabled'], false);
    assert.equal(old.rxtx_factor, 1);
    assert.equal(old.description, undefined);
    assert.equal(old.extra_specs, undefined);
    assert.deepEqual(
      old.links.map((l: any) => l.rel),
      ['self', 'bookmark'],
    );
    const at61 = (await h.call('GET', '/v2.1/flavors/1', { version: '2.61' })).body.flavor;
    assert.equal(at61.description, null);
    assert.deepEqual(at61.extra_specs, {});
    assert.equal(at61.swap, '');
    assert.equal((await h.call('GET', '/v2.1/flavors/1', { version: '2.75' })).body.flavor.swap, 0);
    const summary = (await h.call('GET', '/v2.1/flavors', { version: '2.55' })).body.flavors[0];
    assert.deepEqual(Object.keys(summary).sort(), ['description', 'id', 'links', 'name']);
    const missing = await h.call('GET', '/v2.1/flavors/nope');
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, {
      itemNotFound: { code: 404, message: 'Flavor nope could not be found.' },
    });
  });

  it('lets admins create, describe and delete flavors, and refuses members and duplicates', async (t) => {
    const h = await computeHarness(t);
    const member = h.token('u1', 'p1');
    const body = {
      flavor: {
        name: 'tiny2',
        ram: 256,
        vcpus: '1',
        disk: 0,
        id: 10,
        swap: 0,
        'os-flavor-access:is_public': true,
      },
    };
    const denied = await h.call('POST', '/v2.1/flavors', { token: member, body });
    assert.equal(denied.status, 403);
    assert.deepEqual(denied.body, {
      forbidden: {
        code: 403,
        message: "Policy doesn't allow os_compute_api:os-flavor-manage:create to be performed.",
      },
    });
    const created = await h.call('POST', '/v2.1/flavors', { body, version: '2.61' });
    assert.equal(created.status, 200, created.text);
    assert.equal(created.body.flavor.id, '10');
    assert.equal(created.body.flavor.vcpus, 1);
    assert.deepEqual(created.body.flavor.extra_specs, {});
    const cases: {
      name: string;
      flavor: Record<string, unknown>;
      status: number;
      message: RegExp;
    }[] = [
      {
        name: 'same name',
        flavor: { ...body.flavor, id: 11 },
        status: 409,
        message: /^Flavor with name tiny2 already exists\.$/,
      },
      {
        name: 'same id',
        flavor: { ...body.flavor, name: 'other' },
        status: 409,
        message: /^Flavor with ID 10 already exists\.$/,
      },
      {
        name: 'no ram',
        flavor: { name: 'x', vcpus: 1, disk: 1 },
        status: 400,
        message: /'ram' is a required property/,
      },
      {
        name: 'zero vcpus',
        flavor: { name: 'x', ram: 1, vcpus: 0, disk: 1 },
        status: 400,
        message: /^Invalid input received: vcpus must be >= 1$/,
      },
      {
        name: 'padded name',
        flavor: { name: ' x', ram: 1, vcpus: 1, disk: 1 },
        status: 400,
        message: /invalid 'name' value/,
      },
      {
        name: 'unknown field',
        flavor: { name: 'x', ram: 1, vcpus: 1, disk: 1, color: 'red' },
        status: 400,
        message: /Additional properties are not allowed \('color' was unexpected\)/,
      },
    ];
    for (const c of cases) {
      const res = await h.call('POST', '/v2.1/flavors', { body: { flavor: c.flavor } });
      assert.equal(res.status, c.status, `${c.name}: ${res.text}`);
      const fault = Object.values(res.body)[0] as { message: string };
      assert.match(fault.message, c.message, c.name);
    }
    assert.equal(
      (await h.call('PUT', '/v2.1/flavors/10', { body: { flavor: { description: 'd' } } })).status,
      404,
    );
    const described = await h.call('PUT', '/v2.1/flavors/10', {
      body: { flavor: { description: 'small one' } },
      version: '2.55',
    });
    assert.equal(described.body.flavor.description, 'small one');
    assert.equal((await h.call('DELETE', '/v2.1/flavors/10', { token: member })).status, 403);
    assert.equal((await h.call('DELETE', '/v2.1/flavors/10')).status, 202);
    assert.equal((await h.call('GET', '/v2.1/flavors/10')).status, 404);
  });

  it('keeps extra specs and shows private flavors only to projects on the access list', async (t) => {
    const h = await computeHarness(t);
    const p1 = h.token('u1', 'p1');
    const p2 = h.token('u2', 'p2');
    await h.call('POST', '/v2.1/flavors', {
      body: {
        flavor: {
          name: 'secret',
          ram: 64,
          vcpus: 1,
          disk: 0,
          id: 's1',
          'os-flavor-access:is_public': false,
        },
      },
    });
    const specs = await h.call('POST', '/v2.1/flavors/s1/os-extra_specs', {
      body: { extra_specs: { 'hw:cpu_policy': 'shared', 'quota:cpu_shares': 10 } },
    });
    assert.equal(specs.status, 200, specs.text);
    assert.deepEqual(specs.body, {
      extra_specs: { 'hw:cpu_policy': 'shared', 'quota:cpu_shares': 10 },
    });
    assert.deepEqual((await h.call('GET', '/v2.1/flavors/s1/os-extra_specs')).body.extra_specs, {
      'hw:cpu_policy': 'shared',
      'quota:cpu_shares': '10',
    });
    assert.deepEqual((await h.call('GET', '/v2.1/flavors/s1/os-extra_specs/hw:cpu_policy')).body, {
      'hw:cpu_policy': 'shared',
    });
    const mismatch = await h.call('PUT', '/v2.1/flavors/s1/os-extra_specs/hw:cpu_policy', {
      body: { 'hw:numa_nodes': '1' },
    });
    assert.equal(mismatch.body.badRequest.message, 'Request body and URI mismatch');
    assert.equal(
      (await h.call('DELETE', '/v2.1/flavors/s1/os-extra_specs/hw:cpu_policy')).status,
      200,
    );
    const gone = await h.call('GET', '/v2.1/flavors/s1/os-extra_specs/hw:cpu_policy');
    assert.equal(
      gone.body.itemNotFound.message,
      'Flavor s1 has no extra specs with key hw:cpu_policy.',
    );
    assert.equal(
      (
        await h.call('POST', '/v2.1/flavors/s1/os-extra_specs', {
          token: p1,
          body: { extra_specs: { a: 'b' } },
        })
      ).status,
      403,
    );
    // Private: no project sees it until it is on the list.
    assert.equal((await h.call('GET', '/v2.1/flavors/s1', { token: p1 })).status, 404);
    const added = await h.call('POST', '/v2.1/flavors/s1/action', {
      body: { addTenantAccess: { tenant: 'p1' } },
    });
    assert.deepEqual(added.body, { flavor_access: [{ flavor_id: 's1', tenant_id: 'p1' }] });
    const again = await h.call('POST', '/v2.1/flavors/s1/action', {
      body: { addTenantAccess: { tenant: 'p1' } },
    });
    assert.equal(again.status, 409);
    assert.equal((await h.call('GET', '/v2.1/flavors/s1', { token: p1 })).status, 200);
    assert.equal((await h.call('GET', '/v2.1/flavors/s1', { token: p2 })).status, 404);
    const p1List = (await h.call('GET', '/v2.1/flavors', { token: p1 })).body.flavors.map(
      (f: any) => f.id,
    );
    assert.ok(p1List.includes('s1'));
    assert.ok(
      !(await h.call('GET', '/v2.1/flavors', { token: p2 })).body.flavors.some(
        (f: any) => f.id === 's1',
      ),
    );
    assert.deepEqual(
      (await h.call('GET', '/v2.1/flavors?is_public=false')).body.flavors.map((f: any) => f.id),
      ['s1'],
    );
    // An admin's plain list holds public flavors and its own project's private ones only.
    const adminIds = async (q: string): Promise<string[]> =>
      (await h.call('GET', `/v2.1/flavors${q}`)).body.flavors.map((f: any) => f.id);
    assert.ok(!(await adminIds('')).includes('s1'));
    assert.ok((await adminIds('?is_public=none')).includes('s1'));
    const publicAccess = await h.call('POST', '/v2.1/flavors/1/action', {
      body: { addTenantAccess: { tenant: 'p1' } },
    });
    assert.equal(
      publicAccess.body.conflictingRequest.message,
      'Can not add access to a public flavor.',
    );
    const removed = await h.call('POST', '/v2.1/flavors/s1/action', {
      body: { removeTenantAccess: { tenant: 'p1' } },
    });
    assert.deepEqual(removed.body, { flavor_access: [] });
    assert.equal((await h.call('GET', '/v2.1/flavors/s1', { token: p1 })).status, 404);
  });

  it('filters, sorts and pages flavor lists', async (t) => {
    const h = await computeHarness(t);
    const ids = async (q: string): Promise<string[]> =>
      (await h.call('GET', `/v2.1/flavors/detail?${q}`)).body.flavors.map((f: any) => f.id);
    assert.deepEqual(await ids('minRam=4096'), ['3', '4', '5']);
    assert.deepEqual(await ids('minDisk=80&sort_key=memory_mb&sort_dir=desc'), ['5', '4']);
    const page = await h.call('GET', '/v2.1/flavors?limit=2');
    assert.deepEqual(
      page.body.flavors.map((f: any) => f.id),
      ['1', '2'],
    );
    assert.match(page.body.flavors_links[0].href, /\/v2\.1\/flavors\?limit=2&marker=2$/);
    assert.deepEqual(await ids('limit=2&marker=2'), ['3', '4']);
    assert.equal(
      (await h.call('GET', '/v2.1/flavors?minRam=x')).body.badRequest.message,
      'Invalid minRam filter [x]',
    );
    assert.equal((await h.call('GET', '/v2.1/flavors?sort_key=color')).status, 400);
  });
});
