/** Aggregates and availability zones: the admin API, and the scheduler keeping zones and specs. */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return --
   response bodies are untyped JSON these tests assert on field by field. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bootServer, serversHarness, type ServersHarness } from './harness.ts';

const settled = (s: any) => s?.status !== 'BUILD';

const boot = (h: ServersHarness, server: Record<string, unknown>) => bootServer(h, { server });

describe('aggregates and availability zones', () => {
  it('makes a zone of an aggregate’s hosts, and boots into it', async (t) => {
    const h = await serversHarness(t, {
      hosts: [{ hostname: 'h1' }, { hostname: 'h2' }, { hostname: 'h3' }],
    });
    const made = await h.call('POST', '/v2.1/os-aggregates', {
      body: { aggregate: { name: 'rack-2', availability_zone: 'az1' } },
      version: '2.41',
    });
    assert.equal(made.status, 200, made.text);
    const agg = made.body.aggregate;
    assert.equal(agg.availability_zone, 'az1');
    assert.equal(agg.hosts, undefined);
    assert.match(agg.uuid, /^[0-9a-f-]{36}$/);
    assert.match(agg.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
    const added = await h.call('POST', `/v2.1/os-aggregates/${agg.id}/action`, {
      body: { add_host: { host: 'h2' } },
    });
    assert.equal(added.status, 200, added.text);
    assert.deepEqual(added.body.aggregate.hosts, ['h2']);
    assert.deepEqual(added.body.aggregate.metadata, { availability_zone: 'az1' });

    const zones = await h.call('GET', '/v2.1/os-availability-zone', { token: h.token('u', 'p') });
    assert.deepEqual(
      zones.body.availabilityZoneInfo.map((z: any) => [z.zoneName, z.zoneState.available]),
      [
        ['az1', true],
        ['nova', true],
      ],
    );
    const detail = await h.call('GET', '/v2.1/os-availability-zone/detail');
    const az1 = detail.body.availabilityZoneInfo.find((z: any) => z.zoneName === 'az1');
    assert.deepEqual(Object.keys(az1.hosts), ['h2']);
    assert.equal(az1.hosts.h2['nova-compute'].active, true);
    assert.equal(
      (await h.call('GET', '/v2.1/os-availability-zone/detail', { token: h.token('u', 'p') }))
        .status,
      403,
    );
    const hv = (await h.call('GET', '/v2.1/os-hypervisors')).body.hypervisors[0];
    // cpu_info: a JSON string before 2.28, an object until 2.88 dropped it.
    const cpuInfo = async (version: string) =>
      (await h.call('GET', '/v2.1/os-hypervisors/detail', { version })).body.hypervisors[0]
        .cpu_info;
    assert.equal(typeof (await cpuInfo('2.27')), 'string');
    assert.deepEqual(await cpuInfo('2.28'), JSON.parse(await cpuInfo('2.27')));
    assert.equal(typeof (await cpuInfo('2.28')), 'object');
    assert.equal(await cpuInfo('2.88'), undefined);
    const uptime = await h.call('GET', `/v2.1/os-hypervisors/${hv.id}/uptime`);
    assert.equal(uptime.status, 200, uptime.text);
    assert.equal(uptime.body.hypervisor.hypervisor_hostname, hv.hypervisor_hostname);
    assert.match(uptime.body.hypervisor.uptime, / up .*load average: \d+\.\d\d/);
    const services = await h.call('GET', '/v2.1/os-services?binary=nova-compute');
    assert.deepEqual(services.body.services.map((s: any) => [s.host, s.zone]).sort(), [
      ['h1', 'nova'],
      ['h2', 'az1'],
      ['h3', 'nova'],
    ]);

    for (let i = 0; i < 3; i++) {
      const r = await boot(h, { availability_zone: 'az1' });
      assert.equal(r.status, 202, r.text);
      const s = await h.waitFor(r.body.server.id, settled);
      assert.equal(s['OS-EXT-SRV-ATTR:host'], 'h2');
      assert.equal(s['OS-EXT-AZ:availability_zone'], 'az1');
    }
    const plain = await boot(h, {});
    const s = await h.waitFor(plain.body.server.id, settled);
    assert.equal(
      s['OS-EXT-AZ:availability_zone'],
      s['OS-EXT-SRV-ATTR:host'] === 'h2' ? 'az1' : 'nova',
    );
    const unknown = await boot(h, { availability_zone: 'mars' });
    assert.equal(unknown.status, 400);
    assert.equal(
      unknown.body.badRequest.message,
      'The requested availability zone is not available',
    );

    // A host stays in one zone; a non-empty aggregate is not deleted; names are unique.
    const other = await h.call('POST', '/v2.1/os-aggregates', {
      body: { aggregate: { name: 'rack-x', availability_zone: 'az2' } },
    });
    const clash = await h.call('POST', `/v2.1/os-aggregates/${other.body.aggregate.id}/action`, {
      body: { add_host: { host: 'h2' } },
    });
    assert.equal(clash.status, 409);
    assert.match(
      clash.body.conflictingRequest.message,
      /already in availability zone\(s\) \['az1'\]/,
    );
    const cases: [string, string, string, unknown, number, string][] = [
      [
        'duplicate name',
        'POST',
        '/v2.1/os-aggregates',
        { aggregate: { name: 'rack-2' } },
        409,
        'Aggregate rack-2 already exists.',
      ],
      [
        'delete non-empty',
        'DELETE',
        `/v2.1/os-aggregates/${agg.id}`,
        undefined,
        400,
        'Host aggregate is not empty',
      ],
      [
        'unknown host',
        'POST',
        `/v2.1/os-aggregates/${agg.id}/action`,
        { add_host: { host: 'nope' } },
        404,
        'Compute host nope could not be found.',
      ],
      [
        'host twice',
        'POST',
        `/v2.1/os-aggregates/${agg.id}/action`,
        { add_host: { host: 'h2' } },
        409,
        `Aggregate ${agg.id} already has host h2.`,
      ],
      [
        'remove non-member',
        'POST',
        `/v2.1/os-aggregates/${agg.id}/action`,
        { remove_host: { host: 'h1' } },
        404,
        `Cannot remove host h1 in aggregate ${agg.id}`,
      ],
      [
        'unknown aggregate',
        'GET',
        '/v2.1/os-aggregates/999',
        undefined,
        404,
        'Aggregate 999 could not be found.',
      ],
      [
        'internal zone',
        'POST',
        '/v2.1/os-aggregates',
        { aggregate: { name: 'i', availability_zone: 'internal' } },
        400,
        'internal',
      ],
    ];
    for (const [name, method, url, body, status, message] of cases) {
      const r = await h.call(method, url, body !== undefined ? { body } : {});
      assert.equal(r.status, status, `${name}: ${r.text}`);
      assert.ok((Object.values(r.body)[0] as any).message.includes(message), `${name}: ${r.text}`);
    }
    assert.equal(
      (await h.call('GET', '/v2.1/os-aggregates', { token: h.token('u', 'p') })).status,
      403,
    );
    const removed = await h.call('POST', `/v2.1/os-aggregates/${other.body.aggregate.id}/action`, {
      body: { set_metadata: { metadata: { availability_zone: null, tier: 'gold' } } },
    });
    assert.deepEqual(removed.body.aggregate.metadata, { tier: 'gold' });
    assert.equal(
      (await h.call('DELETE', `/v2.1/os-aggregates/${other.body.aggregate.id}`)).status,
      200,
    );
  });

  it('sends a flavor with aggregate extra specs only to hosts of a matching aggregate', async (t) => {
    const h = await serversHarness(t, {
      hosts: [{ hostname: 'h1' }, { hostname: 'h2' }, { hostname: 'h3' }],
    });
    const agg = await h.call('POST', '/v2.1/os-aggregates', {
      body: { aggregate: { name: 'fast' } },
    });
    const id = agg.body.aggregate.id;
    await h.call('POST', `/v2.1/os-aggregates/${id}/action`, {
      body: { add_host: { host: 'h3' } },
    });
    await h.call('POST', `/v2.1/os-aggregates/${id}/action`, {
      body: { set_metadata: { metadata: { ssd: 'true' } } },
    });
    const flavor = await h.call('POST', '/v2.1/flavors', {
      body: { flavor: { name: 'ssd.tiny', ram: 256, vcpus: 1, disk: 1, id: 'ssd' } },
    });
    assert.equal(flavor.status, 200, flavor.text);
    await h.call('POST', '/v2.1/flavors/ssd/os-extra_specs', {
      body: { extra_specs: { 'aggregate_instance_extra_specs:ssd': 'true' } },
    });
    for (let i = 0; i < 3; i++) {
      const r = await boot(h, { flavorRef: 'ssd' });
      const s = await h.waitFor(r.body.server.id, settled);
      assert.equal(s['OS-EXT-SRV-ATTR:host'], 'h3');
    }
    await h.call('POST', `/v2.1/os-aggregates/${id}/action`, {
      body: { set_metadata: { metadata: { ssd: 'false' } } },
    });
    const none = await boot(h, { flavorRef: 'ssd' });
    const failed = await h.waitFor(none.body.server.id, settled);
    assert.equal(failed.status, 'ERROR');
    assert.match(failed.fault.message, /AggregateInstanceExtraSpecsFilter removed 3/);
  });
});
