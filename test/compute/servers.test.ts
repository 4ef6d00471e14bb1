/**
 * Servers end to end in one process: the API, the conductor and scheduler, placement claims,
 * ports through the network API, agents on fake hypervisors.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return --
   response bodies are untyped JSON these tests assert on field by field. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { missingNotifications, serversHarness, type ServersHarness } from './harness.ts';

async function boot(h: ServersHarness, server: Record<string, unknown>, token?: string) {
  return h.call('POST', '/v2.1/servers', {
    body: { server: { name: 'vm', imageRef: h.imageId, flavorRef: '1', ...server } },
    ...(token !== undefined ? { token } : {}),
  });
}

const active = (s: any) => s?.status === 'ACTIVE' || s?.status === 'ERROR';
const gone = (s: any) => s === undefined;

describe('servers', () => {
  it('boots to ACTIVE with a port on the network, a placement claim and notifications', async (t) => {
    const h = await serversHarness(t);
    const created = await boot(h, { networks: [{ uuid: h.networkId }], metadata: { role: 'web' } });
    assert.equal(created.status, 202, created.text);
    const id = created.body.server.id;
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.equal(created.body.server.adminPass.length, 12);
    assert.deepEqual(created.body.server.security_groups, [{ name: 'default' }]);
    assert.match(String(created.headers['location']), new RegExp(`/v2.1/servers/${id}$`));
    const server = await h.waitFor(id, active);
    assert.equal(server.status, 'ACTIVE', JSON.stringify(server.fault));
    assert.equal(server['OS-EXT-STS:vm_state'], 'active');
    assert.equal(server['OS-EXT-STS:task_state'], null);
    assert.equal(server['OS-EXT-STS:power_state'], 1);
    assert.match(server['OS-SRV-USG:launched_at'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
    assert.match(server.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.deepEqual(server.metadata, { role: 'web' });
    assert.deepEqual(server.flavor, { id: '1', links: server.flavor.links });
    const host = server['OS-EXT-SRV-ATTR:host'];
    assert.ok(['host-1', 'host-2'].includes(host));
    assert.equal(server.hostId.length, 56);
    const addrs = server.addresses.shared;
    assert.equal(addrs.length, 1);
    assert.match(addrs[0].addr, /^198\.18\.0\.\d+$/);
    assert.equal(addrs[0]['OS-EXT-IPS:type'], 'fixed');
    // The port is the instance's, bound to its host.
    const ports = await h.neighbour('network', 'GET', `/v2.0/ports?device_id=${id}`);
    assert.equal(ports.body.ports.length, 1);
    assert.equal(ports.body.ports[0]['binding:host_id'], host);
    assert.equal(ports.body.ports[0].device_owner, 'compute:nova');
    assert.equal(ports.body.ports[0].fixed_ips[0].ip_address, addrs[0].addr);
    // m1.tiny is claimed on the host's provider.
    const allocations = await h.neighbour('placement', 'GET', `/allocations/${id}`);
    const claimed: any[] = Object.values(allocations.body.allocations);
    assert.equal(claimed.length, 1);
    assert.deepEqual(claimed[0].resources, { VCPU: 1, MEMORY_MB: 512, DISK_GB: 1 });
    // Its guest runs on the fake hypervisor of that host.
    const driver = h.drivers.find((d) => d.calls.includes(`spawn ${id}`));
    assert.ok(driver);
    assert.equal((await driver.getInfo(id))?.powerState, 1);
    const events = h.notifications.map((n) => n.event_type);
    assert.ok(events.includes('compute.instance.create.end'), events.join());

    const deleted = await h.call('DELETE', `/v2.1/servers/${id}`);
    assert.equal(deleted.status, 204, deleted.text);
    await h.waitFor(id, gone);
    assert.equal(
      (await h.neighbour('network', 'GET', `/v2.0/ports?device_id=${id}`)).body.ports.length,
      0,
    );
    assert.deepEqual(
      (await h.neighbour('placement', 'GET', `/allocations/${id}`)).body.allocations,
      {},
    );
    assert.equal(await driver.getInfo(id), undefined);
    assert.deepEqual(await missingNotifications(h, ['delete.end']), []);
    assert.equal((await h.call('GET', `/v2.1/servers/${id}`)).status, 404);
  });

  it('lists, filters and pages servers, newest first', async (t) => {
    const h = await serversHarness(t);
    const ids: string[] = [];
    for (const name of ['alpha', 'beta', 'gamma']) {
      const r = await boot(h, { name, networks: [{ uuid: h.networkId }] });
      assert.equal(r.status, 202, r.text);
      ids.push(r.body.server.id);
    }
    for (const id of ids) await h.waitFor(id, active);
    const all = await h.call('GET', '/v2.1/servers');
    assert.deepEqual(
      all.body.servers.map((s: any) => s.name),
      ['gamma', 'beta', 'alpha'],
    );
    assert.deepEqual(Object.keys(all.body.servers[0]).sort(), ['id', 'links', 'name']);
    const page = await h.call('GET', '/v2.1/servers/detail?limit=2');
    assert.equal(page.body.servers.length, 2);
    const next = new URL(page.body.servers_links[0].href);
    assert.equal(next.searchParams.get('marker'), page.body.servers[1].id);
    const rest = await h.call(
      'GET',
      `/v2.1/servers/detail?limit=2&marker=${next.searchParams.get('marker')}`,
    );
    assert.deepEqual(
      rest.body.servers.map((s: any) => s.name),
      ['alpha'],
    );
    assert.equal(rest.body.servers_links, undefined);
    const byName = await h.call('GET', '/v2.1/servers?name=^(al|ga)');
    assert.deepEqual(byName.body.servers.map((s: any) => s.name).sort(), ['alpha', 'gamma']);
    const byStatus = await h.call(
      'GET',
      '/v2.1/servers/detail?status=active&all_tenants=False&deleted=False',
    );
    assert.equal(byStatus.body.servers.length, 3);
    assert.deepEqual((await h.call('GET', '/v2.1/servers?status=SHUTOFF')).body.servers, []);
    assert.deepEqual((await h.call('GET', '/v2.1/servers?status=BOGUS')).body.servers, []);
    assert.equal(
      (await h.call('GET', '/v2.1/servers?status=BOGUS', { version: '2.38' })).status,
      400,
    );
    const asc = await h.call('GET', '/v2.1/servers?sort_key=display_name&sort_dir=asc');
    assert.deepEqual(
      asc.body.servers.map((s: any) => s.name),
      ['alpha', 'beta', 'gamma'],
    );
    const bad = await h.call('GET', '/v2.1/servers?marker=00000000-0000-0000-0000-000000000000');
    assert.equal(bad.status, 400);
    assert.match(bad.body.badRequest.message, /marker \[.*\] not found/);
    // An admin sees deleted servers when asking for them.
    await h.call('DELETE', `/v2.1/servers/${ids[0]}`);
    await h.waitFor(ids[0] as string, gone);
    const deleted = await h.call('GET', '/v2.1/servers/detail?deleted=true');
    assert.deepEqual(
      deleted.body.servers.map((s: any) => [s.name, s.status]),
      [['alpha', 'DELETED']],
    );
  });

  it('keeps projects apart', async (t) => {
    const h = await serversHarness(t);
    const alice = h.token('alice', 'project-a');
    const bob = h.token('bob', 'project-b');
    const mine = await boot(h, { networks: [{ uuid: h.networkId }] }, alice);
    assert.equal(mine.status, 202, mine.text);
    const id = mine.body.server.id;
    await h.waitFor(id, active);
    assert.equal((await h.call('GET', '/v2.1/servers', { token: bob })).body.servers.length, 0);
    assert.equal((await h.call('GET', `/v2.1/servers/${id}`, { token: bob })).status, 404);
    assert.equal(
      (await h.call('PUT', `/v2.1/servers/${id}`, { token: bob, body: { server: { name: 'x' } } }))
        .status,
      404,
    );
    assert.equal((await h.call('DELETE', `/v2.1/servers/${id}`, { token: bob })).status, 404);
    const sneaky = await h.call('GET', '/v2.1/servers/detail?all_tenants=1', { token: bob });
    assert.equal(sneaky.status, 403);
    // Admin-only filters are ignored for others, not errors.
    const ignored = await h.call('GET', '/v2.1/servers/detail?host=host-1&project_id=project-a', {
      token: bob,
    });
    assert.deepEqual(ignored.body.servers, []);
    const own = await h.call('GET', `/v2.1/servers/${id}`, { token: alice });
    assert.equal(own.status, 200);
    assert.equal(own.body.server['OS-EXT-SRV-ATTR:host'], undefined, 'admin-only attribute shown');
    const everyone = await h.call('GET', '/v2.1/servers/detail?all_tenants=1');
    assert.deepEqual(
      everyone.body.servers.map((s: any) => s.tenant_id),
      ['project-a'],
    );
    const renamed = await h.call('PUT', `/v2.1/servers/${id}`, {
      token: alice,
      body: { server: { name: 'renamed' } },
      version: '2.19',
    });
    assert.equal(renamed.status, 200, renamed.text);
    assert.equal(renamed.body.server.name, 'renamed');
  });

  it('refuses bad requests with the message Nova gives', async (t) => {
    const h = await serversHarness(t, { hosts: [{ hostname: 'host-1' }] });
    const cases: [string, Record<string, unknown>, number, RegExp, string?][] = [
      ['unknown flavor', { flavorRef: '999' }, 400, /Flavor 999 could not be found/],
      [
        'unknown image',
        { imageRef: '00000000-0000-0000-0000-000000000000' },
        400,
        /Can not find requested image/,
      ],
      ['no image', { imageRef: undefined }, 400, /Missing imageRef attribute/],
      [
        'unknown network',
        { networks: [{ uuid: '00000000-0000-0000-0000-000000000000' }] },
        400,
        /Network 00000000-0000-0000-0000-000000000000 could not be found/,
      ],
      ['unknown key', { key_name: 'nope' }, 400, /Invalid key_name provided/],
      ['bad name', { name: ' padded' }, 400, /invalid 'name' value/],
      ['unknown field', { bogus: 1 }, 400, /'bogus' was unexpected/],
      [
        'description before 2.19',
        { description: 'd', networks: [] },
        400,
        /'description' was unexpected/,
        '2.18',
      ],
      [
        'networks required from 2.37',
        { networks: undefined },
        400,
        /'networks' is a required property/,
        '2.37',
      ],
      ['min over max', { min_count: 3, max_count: 2 }, 400, /min_count must be <= max_count/],
      ['bad user data', { user_data: '%%%' }, 400, /valid base 64/],
      [
        'over the instance quota',
        { min_count: 11 },
        403,
        /Quota exceeded for instances: Requested 11, but already used 0 of 10 instances/,
      ],
    ];
    for (const [name, server, status, message, version = '2.37'] of cases) {
      const r = await h.call('POST', '/v2.1/servers', {
        body: {
          server: { name: 'vm', imageRef: h.imageId, flavorRef: '1', networks: 'none', ...server },
        },
        version,
      });
      assert.equal(r.status, status, `${name}: ${r.text}`);
      const fault = Object.values(r.body)[0] as any;
      assert.match(fault.message, message, name);
      assert.equal(fault.code, status, name);
    }
    assert.deepEqual((await h.call('GET', '/v2.1/servers')).body.servers, []);
  });

  it('fails a build no host can take with a fault naming why', async (t) => {
    const h = await serversHarness(t, {
      hosts: [{ hostname: 'host-1', vcpus: 2, memoryMb: 4096 }],
    });
    const user = h.token('u', 'p');
    const r = await boot(h, { flavorRef: '5', networks: [] }, user);
    assert.equal(r.status, 202, r.text);
    await h.waitFor(r.body.server.id, active);
    const server = (await h.call('GET', `/v2.1/servers/${r.body.server.id}`, { token: user })).body
      .server;
    assert.equal(server.status, 'ERROR');
    assert.equal(server.fault.code, 500);
    assert.match(
      server.fault.message,
      /^No valid host was found\. There are not enough hosts available/,
    );
    assert.equal(server.fault.details, undefined, 'details of a 500 are for admins');
    const asAdmin = (await h.call('GET', `/v2.1/servers/${server.id}`)).body.server;
    assert.match(asAdmin.fault.details, /no host has 8 VCPU/);
    // A disabled host is removed by the ComputeFilter, and the fault says so.
    const disabled = await h.call('PUT', '/v2.1/os-services/disable', {
      body: { host: 'host-1', binary: 'nova-compute' },
    });
    assert.equal(disabled.status, 200, disabled.text);
    assert.deepEqual(disabled.body.service, {
      host: 'host-1',
      binary: 'nova-compute',
      status: 'disabled',
    });
    const small = await boot(h, { networks: [] }, user);
    await h.waitFor(small.body.server.id, active);
    const refused = (await h.call('GET', `/v2.1/servers/${small.body.server.id}`)).body.server;
    assert.equal(refused.status, 'ERROR');
    assert.match(refused.fault.message, /ComputeFilter removed 1/);
  });

  it('sends a build that fails on one host to another, and gives up after max_attempts', async (t) => {
    const h = await serversHarness(t, {
      hosts: [
        {
          hostname: 'host-1',
          failSpawn: (s) =>
            s.hostname.startsWith('doomed') || s.hostname.startsWith('picky')
              ? 'no luck here'
              : undefined,
        },
        {
          hostname: 'host-2',
          failSpawn: (s) => (s.hostname.startsWith('doomed') ? 'nor here' : undefined),
        },
      ],
      compute: { max_attempts: 2 },
    });
    const picky = await boot(h, { name: 'picky', networks: [{ uuid: h.networkId }] });
    const ok = await h.waitFor(picky.body.server.id, active);
    assert.equal(ok.status, 'ACTIVE', JSON.stringify(ok.fault));
    assert.equal(ok['OS-EXT-SRV-ATTR:host'], 'host-2');
    const doomed = await boot(h, { name: 'doomed', networks: [{ uuid: h.networkId }] });
    const failed = await h.waitFor(doomed.body.server.id, active);
    assert.equal(failed.status, 'ERROR');
    assert.match(failed.fault.message, /Exceeded maximum number of retries/);
    // Nothing of the failed attempts is left behind.
    const ports = await h.neighbour('network', 'GET', `/v2.0/ports?device_id=${failed.id}`);
    assert.equal(ports.body.ports.length, 0);
    const allocations = await h.neighbour('placement', 'GET', `/allocations/${failed.id}`);
    assert.deepEqual(allocations.body.allocations, {});
    for (const d of h.drivers) assert.equal(await d.getInfo(failed.id), undefined);
  });
});
