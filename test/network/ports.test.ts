/**
 * Ports over HTTP: addresses from IPAM (automatic, by subnet, by address, SLAAC), concurrent
 * creates that never share an address, MACs, security groups, bindings and who sees them,
 * updates of addresses, and isolation between projects.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call --
   response bodies are untyped JSON these tests assert on field by field. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { networkHarness, neutronError } from './harness.ts';

describe('network: ports', () => {
  it('gives 200 concurrent creates on a /24 distinct addresses, then fails the 254th with IpAddressGenerationFailure', async (t) => {
    const h = await networkHarness(t);
    const net = await h.network('n');
    const sub = await h.subnet(net.id, '198.18.0.0/24');
    const create = (): Promise<{ status: number; body: any }> =>
      h.call('POST', '/v2.0/ports', { body: { port: { network_id: net.id } } });
    const first = await Promise.all(Array.from({ length: 200 }, create));
    assert.ok(
      first.every((r) => r.status === 201),
      JSON.stringify(first.find((r) => r.status !== 201)?.body),
    );
    const rest = await Promise.all(Array.from({ length: 55 }, create));
    const ok = [...first, ...rest].filter((r) => r.status === 201);
    // 198.18.0.2 … .254: 253 addresses in the pool.
    assert.equal(ok.length, 253);
    const addresses = ok.map((r) => r.body.port.fixed_ips[0].ip_address as string);
    assert.equal(new Set(addresses).size, 253);
    assert.ok(
      addresses.every(
        (a) =>
          /^198\.18\.0\.(\d+)$/.test(a) &&
          !['198.18.0.0', '198.18.0.1', '198.18.0.255'].includes(a),
      ),
    );
    assert.equal(new Set(ok.map((r) => r.body.port.mac_address as string)).size, 253);
    const failed = rest.filter((r) => r.status !== 201);
    assert.equal(failed.length, 2);
    for (const f of failed) {
      assert.equal(f.status, 409);
      assert.deepEqual(f.body.NeutronError, {
        type: 'IpAddressGenerationFailure',
        message: `No more IP addresses available on network ${net.id}.`,
        detail: '',
      });
    }
    const listed = await h.call('GET', `/v2.0/ports?fixed_ips=subnet_id=${sub.id}&fields=id`);
    assert.equal(listed.body.ports.length, 253);
  });

  it('allocates by subnet, by address, and on SLAAC subnets from the MAC', async (t) => {
    const h = await networkHarness(t);
    const net = await h.network('n');
    const v4 = await h.subnet(net.id, '198.18.0.0/24');
    const v6 = await h.subnet(net.id, '2001:db8::/64', {
      ipv6_ra_mode: 'slaac',
      ipv6_address_mode: 'slaac',
    });
    const port = await h.port(net.id, {
      fixed_ips: [{ ip_address: '198.18.0.10' }],
      mac_address: 'FA:16:3E:11:22:33',
    });
    assert.equal(port.mac_address, 'fa:16:3e:11:22:33');
    assert.deepEqual(port.fixed_ips, [
      { subnet_id: v4.id, ip_address: '198.18.0.10' },
      { subnet_id: v6.id, ip_address: '2001:db8::f816:3eff:fe11:2233' },
    ]);
    const taken = await h.call('POST', '/v2.0/ports', {
      body: {
        port: { network_id: net.id, fixed_ips: [{ subnet_id: v4.id, ip_address: '198.18.0.10' }] },
      },
    });
    assert.equal(taken.status, 409);
    assert.deepEqual(neutronError(taken), {
      type: 'IpAddressAlreadyAllocated',
      message: `IP address 198.18.0.10 already allocated in subnet ${v4.id}`,
      detail: '',
    });
    const outside = await h.call('POST', '/v2.0/ports', {
      body: {
        port: { network_id: net.id, fixed_ips: [{ subnet_id: v4.id, ip_address: '198.18.1.10' }] },
      },
    });
    assert.equal(outside.status, 400);
    assert.equal(
      neutronError(outside).message,
      'IP address 198.18.1.10 is not a valid IP for the specified subnet.',
    );
    const nowhere = await h.call('POST', '/v2.0/ports', {
      body: { port: { network_id: net.id, fixed_ips: [{ ip_address: '198.18.9.9' }] } },
    });
    assert.equal(neutronError(nowhere).type, 'HTTPBadRequest');
    const mac = await h.call('POST', '/v2.0/ports', {
      body: { port: { network_id: net.id, mac_address: 'fa:16:3e:11:22:33' } },
    });
    assert.equal(mac.status, 409);
    assert.equal(neutronError(mac).type, 'MacAddressInUse');
    const bare = await h.port(net.id, { fixed_ips: [] });
    assert.deepEqual(bare.fixed_ips, []);
    // Changing fixed_ips keeps a listed address and frees the others.
    const moved = await h.call('PUT', `/v2.0/ports/${port.id}`, {
      body: { port: { fixed_ips: [{ subnet_id: v4.id, ip_address: '198.18.0.11' }] } },
    });
    assert.equal(moved.status, 200, moved.text);
    assert.equal(moved.body.port.fixed_ips[0].ip_address, '198.18.0.11');
    const reuse = await h.port(net.id, { fixed_ips: [{ ip_address: '198.18.0.10' }] });
    assert.equal(reuse.fixed_ips[0].ip_address, '198.18.0.10');
    const byAddress = await h.call('GET', '/v2.0/ports?fixed_ips=ip_address%3D198.18.0.11');
    assert.deepEqual(
      byAddress.body.ports.map((p: { id: string }) => p.id),
      [port.id],
    );
    const substr = await h.call('GET', '/v2.0/ports?fixed_ips=ip_address_substr%3D0.1');
    assert.equal(substr.body.ports.length, 2);
  });

  it('puts ports in the default group, and none for network-owned ports or without port security', async (t) => {
    const h = await networkHarness(t);
    const p1 = h.token('p1');
    const net = await h.network('n', {}, p1);
    await h.subnet(net.id, '198.18.0.0/24', {}, p1);
    // The DHCP port first: it takes the lowest free address, which a random pick could take.
    const dhcp = await h.port(net.id, { device_owner: 'network:dhcp' }, p1);
    assert.deepEqual(dhcp.security_groups, []);
    assert.equal(dhcp.fixed_ips[0].ip_address, '198.18.0.2');
    const port = await h.port(net.id, {}, p1);
    const groups = (await h.call('GET', '/v2.0/security-groups', { token: p1 })).body
      .security_groups;
    assert.equal(groups.length, 1);
    assert.equal(groups[0].name, 'default');
    assert.deepEqual(port.security_groups, [groups[0].id]);
    const open = await h.port(net.id, { port_security_enabled: false }, p1);
    assert.deepEqual(open.security_groups, []);
    const conflict = await h.call('POST', '/v2.0/ports', {
      token: p1,
      body: {
        port: { network_id: net.id, port_security_enabled: false, security_groups: [groups[0].id] },
      },
    });
    assert.equal(conflict.status, 400);
    assert.equal(
      neutronError(conflict).message,
      'Port security must be enabled and port must have an IP address in order to use security groups.',
    );
    const unknown = await h.call('POST', '/v2.0/ports', {
      token: p1,
      body: {
        port: { network_id: net.id, security_groups: ['00000000-0000-0000-0000-000000000000'] },
      },
    });
    assert.equal(unknown.status, 404);
    assert.equal(
      neutronError(unknown).message,
      'Security group 00000000-0000-0000-0000-000000000000 does not exist',
    );
    const inUse = await h.call('DELETE', `/v2.0/security-groups/${groups[0].id}`, { token: p1 });
    assert.equal(inUse.status, 409);
  });

  it('shows and sets bindings for admins only', async (t) => {
    const h = await networkHarness(t);
    const p1 = h.token('p1');
    const net = await h.network('n', { shared: true });
    const mine = await h.port(net.id, { 'binding:vnic_type': 'normal' }, p1);
    assert.equal(mine['binding:host_id'], undefined);
    assert.equal(mine['binding:vnic_type'], 'normal');
    assert.equal(mine.status, 'DOWN');
    const denied = await h.call('PUT', `/v2.0/ports/${mine.id}`, {
      token: p1,
      body: { port: { 'binding:host_id': 'h1' } },
    });
    assert.equal(denied.status, 403);
    const bound = await h.call('PUT', `/v2.0/ports/${mine.id}`, {
      body: { port: { 'binding:host_id': 'h1', device_id: 'vm-1', device_owner: 'compute:nova' } },
    });
    assert.equal(bound.status, 200, bound.text);
    assert.equal(bound.body.port['binding:host_id'], 'h1');
    assert.equal(bound.body.port['binding:vif_type'], 'tap');
    assert.deepEqual(bound.body.port['binding:vif_details'], {
      connectivity: 'l2',
      port_filter: true,
    });
    const byDevice = await h.call('GET', '/v2.0/ports?device_id=vm-1', { token: p1 });
    assert.equal(byDevice.body.ports.length, 1);
    assert.equal(byDevice.body.ports[0]['binding:host_id'], undefined);
    // A member may not pick addresses or MACs on a network it does not own.
    const pick = await h.call('POST', '/v2.0/ports', {
      token: p1,
      body: { port: { network_id: net.id, mac_address: 'fa:16:3e:00:00:01' } },
    });
    assert.equal(pick.status, 403);
  });

  it('keeps ports of other projects private', async (t) => {
    const h = await networkHarness(t);
    const p1 = h.token('p1');
    const p2 = h.token('p2');
    const shared = await h.network('shared', { shared: true });
    await h.subnet(shared.id, '198.18.0.0/24');
    const mine = await h.port(shared.id, { name: 'mine' }, p1);
    const theirs = await h.port(shared.id, { name: 'theirs' }, p2);
    const listed = (await h.call('GET', '/v2.0/ports', { token: p1 })).body.ports.map(
      (p: { name: string }) => p.name,
    );
    assert.deepEqual(listed, ['mine']);
    assert.equal((await h.call('GET', `/v2.0/ports/${theirs.id}`, { token: p1 })).status, 404);
    assert.equal(
      (
        await h.call('PUT', `/v2.0/ports/${theirs.id}`, {
          token: p1,
          body: { port: { name: 'x' } },
        })
      ).status,
      404,
    );
    assert.equal((await h.call('DELETE', `/v2.0/ports/${theirs.id}`, { token: p1 })).status, 404);
    // The network's owner (admin here) sees both.
    assert.equal((await h.call('GET', '/v2.0/ports')).body.ports.length, 2);
    assert.equal((await h.call('DELETE', `/v2.0/ports/${mine.id}`, { token: p1 })).status, 204);
  });
});
