/**
 * The scheduler asks placement for a random sample of candidates first and for all of them only
 * when no host of the sample passes the filters: boots spread over hosts, and a host the sample
 * missed is still found.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-return --
   response bodies are untyped JSON these tests assert on field by field. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serversHarness, settled, type ServersHarness } from '../harness.ts';

const HOSTS = ['host-1', 'host-2', 'host-3', 'host-4'];

/** Boots `n` servers at once; returns the host of each, failing on any that is not ACTIVE. */
async function boot(h: ServersHarness, n: number): Promise<string[]> {
  const created = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      h.call('POST', '/v2.1/servers', {
        body: {
          server: { name: `s${i}`, imageRef: h.imageId, flavorRef: '1', networks: 'none' },
        },
        version: '2.37',
      }),
    ),
  );
  const hosts: string[] = [];
  for (const r of created) {
    assert.equal(r.status, 202, r.text);
    const server = await h.waitFor(r.body.server.id, settled);
    assert.equal(server.status, 'ACTIVE', JSON.stringify(server.fault));
    hosts.push(server['OS-EXT-SRV-ATTR:host']);
  }
  return hosts;
}

describe('scheduler: sampled candidates', () => {
  it('spreads boots over a random sample of one host each time', async (t) => {
    const h = await serversHarness(t, {
      hosts: HOSTS.map((hostname) => ({ hostname })),
      compute: { placement_sample: 1 },
    });
    const used = new Set(await boot(h, 8));
    // Placement shuffles its candidates: a sample of one is not always the same host.
    assert.ok(used.size > 1, `every boot went to ${[...used].join()}`);
  });

  it('asks for every candidate when no host of the sample passes the filters', async (t) => {
    const h = await serversHarness(t, {
      hosts: HOSTS.map((hostname) => ({ hostname })),
      compute: { placement_sample: 1 },
    });
    for (const host of HOSTS.slice(1)) {
      const r = await h.call('PUT', '/v2.1/os-services/disable', {
        body: { host, binary: 'nova-compute' },
      });
      assert.equal(r.status, 200, r.text);
    }
    // Three samples in four hold a disabled host; every boot still finds host-1.
    assert.deepEqual(await boot(h, 6), Array(6).fill('host-1'));
  });

  it('places a server on the host an admin forces (no filters) or requests (filters)', async (t) => {
    const h = await serversHarness(t, {
      hosts: HOSTS.slice(0, 3).map((hostname) => ({ hostname })),
    });
    const disabled = await h.call('PUT', '/v2.1/os-services/disable', {
      body: { host: 'host-3', binary: 'nova-compute' },
    });
    assert.equal(disabled.status, 200, disabled.text);
    const member = h.token('alice', 'project-a');
    const create = (server: Record<string, unknown>, version = '2.74', token = h.admin) =>
      h.call('POST', '/v2.1/servers', {
        body: {
          server: { name: 'vm', imageRef: h.imageId, flavorRef: '1', networks: 'none', ...server },
        },
        version,
        token,
      });
    const placed = async (server: Record<string, unknown>) => {
      const r = await create(server);
      assert.equal(r.status, 202, r.text);
      return h.waitFor(r.body.server.id, settled);
    };
    // zone:host forces the host past the ComputeFilter, and the server is in the zone.
    const forced = await placed({ availability_zone: 'nova:host-3' });
    assert.equal(forced.status, 'ACTIVE', JSON.stringify(forced.fault));
    assert.equal(forced['OS-EXT-SRV-ATTR:host'], 'host-3');
    assert.equal(forced['OS-EXT-AZ:availability_zone'], 'nova');
    const byNode = await placed({ availability_zone: '::host-2' });
    assert.equal(byNode['OS-EXT-SRV-ATTR:host'], 'host-2');
    // 2.74's host and hypervisor_hostname go through the filters.
    assert.equal((await placed({ host: 'host-2' }))['OS-EXT-SRV-ATTR:host'], 'host-2');
    assert.equal(
      (await placed({ hypervisor_hostname: 'host-1' }))['OS-EXT-SRV-ATTR:host'],
      'host-1',
    );
    const refused = await placed({ host: 'host-3' });
    assert.equal(refused.status, 'ERROR');
    assert.match(refused.fault.message, /ComputeFilter removed 1/);

    const cases: [string, Record<string, unknown>, string, string, number, string][] = [
      [
        'a member forcing a host',
        { availability_zone: 'nova:host-2' },
        '2.37',
        member,
        403,
        "Policy doesn't allow os_compute_api:servers:create:forced_host to be performed.",
      ],
      [
        'a member requesting a host',
        { host: 'host-2' },
        '2.74',
        member,
        403,
        "Policy doesn't allow compute:servers:create:requested_destination to be performed.",
      ],
      [
        'a host that is not a compute host',
        { host: 'host-9' },
        '2.74',
        h.admin,
        400,
        'Compute host host-9 could not be found.',
      ],
      [
        'a node that is not on the host',
        { host: 'host-1', hypervisor_hostname: 'host-2' },
        '2.74',
        h.admin,
        400,
        'Compute host host-1 could not be found.',
      ],
      [
        'both ways at once',
        { availability_zone: 'nova:host-1', host: 'host-1' },
        '2.74',
        h.admin,
        400,
        'One mechanism with host and/or hypervisor_hostname and another mechanism with zone:host:node are mutually exclusive.',
      ],
      [
        'a zone that does not parse',
        { availability_zone: 'a:b:c:d' },
        '2.37',
        h.admin,
        400,
        'Invalid input received: Unable to parse availability_zone',
      ],
      [
        'a host before 2.74',
        { host: 'host-1' },
        '2.73',
        h.admin,
        400,
        "Additional properties are not allowed ('host' was unexpected)",
      ],
    ];
    for (const [name, server, version, token, status, message] of cases) {
      const r = await create(server, version, token);
      assert.equal(r.status, status, `${name}: ${r.text}`);
      assert.equal((Object.values(r.body)[0] as any).message, message, name);
    }
  });
});
