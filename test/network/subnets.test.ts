/**
 * Subnets over HTTP: defaults (gateway, pools) per family, the validation rules and their
 * wording, overlap within a network only, updates, and deletion while addresses are in use.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return --
   response bodies are untyped JSON these tests assert on field by field. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { networkHarness, neutronError } from './harness.ts';

describe('network: subnets', () => {
  it('gives IPv4 and IPv6 subnets upstream defaults', async (t) => {
    const h = await networkHarness(t);
    const net = await h.network('n');
    const v4 = await h.subnet(net.id, '198.18.0.5/24');
    assert.equal(v4.cidr, '198.18.0.0/24');
    assert.equal(v4.gateway_ip, '198.18.0.1');
    assert.deepEqual(v4.allocation_pools, [{ start: '198.18.0.2', end: '198.18.0.254' }]);
    assert.equal(v4.enable_dhcp, true);
    assert.deepEqual(v4.dns_nameservers, []);
    assert.equal(v4['router:external'], false);
    const v6 = await h.subnet(net.id, '2001:db8:0:1::/64');
    assert.equal(v6.gateway_ip, '2001:db8:0:1::');
    assert.deepEqual(v6.allocation_pools, [
      { start: '2001:db8:0:1::1', end: '2001:db8:0:1:ffff:ffff:ffff:ffff' },
    ]);
    const net2 = await h.network('n2');
    const split = await h.subnet(net2.id, '198.18.1.0/24', { gateway_ip: '198.18.1.100' });
    assert.deepEqual(split.allocation_pools, [
      { start: '198.18.1.1', end: '198.18.1.99' },
      { start: '198.18.1.101', end: '198.18.1.254' },
    ]);
    const net3 = await h.network('n3');
    const none = await h.subnet(net3.id, '198.18.2.0/24', { gateway_ip: null });
    assert.equal(none.gateway_ip, null);
    assert.deepEqual(none.allocation_pools, [{ start: '198.18.2.1', end: '198.18.2.254' }]);
    const shown = (await h.call('GET', `/v2.0/networks/${net.id}`)).body.network;
    assert.deepEqual(shown.subnets, [v4.id, v6.id]);
  });

  it('refuses bad subnets with upstream errors', async (t) => {
    const h = await networkHarness(t);
    const net = await h.network('n');
    await h.subnet(net.id, '198.18.0.0/24');
    const cases: {
      name: string;
      body: Record<string, unknown>;
      status: number;
      type: string;
      message: string;
    }[] = [
      {
        name: 'missing ip_version',
        body: { network_id: net.id, cidr: '198.18.9.0/24' },
        status: 400,
        type: 'HTTPBadRequest',
        message: "Failed to parse request. Required attribute 'ip_version' not specified",
      },
      {
        name: 'bad ip_version',
        body: { network_id: net.id, cidr: '198.18.9.0/24', ip_version: 5 },
        status: 400,
        type: 'HTTPBadRequest',
        message: 'Invalid input for ip_version. Reason: 5 is not in valid_values.',
      },
      {
        name: 'family mismatch',
        body: { network_id: net.id, cidr: '2001:db8::/64', ip_version: 4 },
        status: 400,
        type: 'InvalidInput',
        message:
          "Invalid input for operation: cidr '2001:db8::/64' does not match the ip_version '4'.",
      },
      {
        name: 'not a cidr',
        body: { network_id: net.id, cidr: 'nope', ip_version: 4 },
        status: 400,
        type: 'HTTPBadRequest',
        message: "Invalid input for cidr. Reason: 'nope' is not a valid IP subnet.",
      },
      {
        name: 'overlap',
        body: { network_id: net.id, cidr: '198.18.0.128/25', ip_version: 4 },
        status: 400,
        type: 'InvalidInput',
        message: `Invalid input for operation: Requested subnet with cidr: 198.18.0.128/25 for network: ${net.id} overlaps with another subnet.`,
      },
      {
        name: 'pool outside',
        body: {
          network_id: net.id,
          cidr: '198.18.3.0/24',
          ip_version: 4,
          allocation_pools: [{ start: '198.18.3.10', end: '198.18.4.5' }],
        },
        status: 400,
        type: 'HTTPBadRequest',
        message:
          'The allocation pool 198.18.3.10-198.18.4.5 spans beyond the subnet cidr 198.18.3.0/24.',
      },
      {
        name: 'pools overlap',
        body: {
          network_id: net.id,
          cidr: '198.18.3.0/24',
          ip_version: 4,
          allocation_pools: [
            { start: '198.18.3.10', end: '198.18.3.20' },
            { start: '198.18.3.15', end: '198.18.3.30' },
          ],
        },
        status: 409,
        type: 'OverlappingAllocationPools',
        message:
          'Found overlapping allocation pools: 198.18.3.10-198.18.3.20 198.18.3.15-198.18.3.30 for subnet 198.18.3.0/24.',
      },
      {
        name: 'gateway in pool',
        body: {
          network_id: net.id,
          cidr: '198.18.3.0/24',
          ip_version: 4,
          gateway_ip: '198.18.3.15',
          allocation_pools: [{ start: '198.18.3.10', end: '198.18.3.20' }],
        },
        status: 409,
        type: 'GatewayConflictWithAllocationPools',
        message: 'Gateway ip 198.18.3.15 conflicts with allocation pool 198.18.3.10-198.18.3.20.',
      },
      {
        name: 'gateway is broadcast',
        body: {
          network_id: net.id,
          cidr: '198.18.3.0/24',
          ip_version: 4,
          gateway_ip: '198.18.3.255',
        },
        status: 400,
        type: 'InvalidInput',
        message: 'Invalid input for operation: Gateway is not valid on subnet.',
      },
      {
        name: 'too many nameservers',
        body: {
          network_id: net.id,
          cidr: '198.18.3.0/24',
          ip_version: 4,
          dns_nameservers: [
            '198.18.0.1',
            '198.18.0.2',
            '198.18.0.3',
            '198.18.0.4',
            '198.18.0.5',
            '198.18.0.6',
          ],
        },
        status: 400,
        type: 'HTTPBadRequest',
        message:
          'Unable to complete operation for new subnet. The number of DNS nameservers exceeds the limit 5.',
      },
      {
        name: 'duplicate nameserver',
        body: {
          network_id: net.id,
          cidr: '198.18.3.0/24',
          ip_version: 4,
          dns_nameservers: ['198.18.0.1', '198.18.0.1'],
        },
        status: 400,
        type: 'HTTPBadRequest',
        message: "Invalid input for dns_nameservers. Reason: Duplicate nameserver '198.18.0.1'.",
      },
      {
        name: 'ipv6 mode on ipv4',
        body: {
          network_id: net.id,
          cidr: '198.18.3.0/24',
          ip_version: 4,
          ipv6_address_mode: 'slaac',
        },
        status: 400,
        type: 'InvalidInput',
        message:
          'Invalid input for operation: ipv6_address_mode is not valid when ip_version is 4.',
      },
      {
        name: 'modes differ',
        body: {
          network_id: net.id,
          cidr: '2001:db8:1::/64',
          ip_version: 6,
          ipv6_ra_mode: 'slaac',
          ipv6_address_mode: 'dhcpv6-stateful',
        },
        status: 400,
        type: 'InvalidInput',
        message:
          "Invalid input for operation: ipv6_ra_mode set to 'slaac' with ipv6_address_mode set to 'dhcpv6-stateful' is not valid. If both attributes are set, they must be the same value.",
      },
      {
        name: 'slaac not /64',
        body: {
          network_id: net.id,
          cidr: '2001:db8:1::/80',
          ip_version: 6,
          ipv6_address_mode: 'slaac',
        },
        status: 400,
        type: 'InvalidInput',
        message:
          'Invalid input for operation: Invalid CIDR 2001:db8:1::/80 for IPv6 address mode. OpenStack uses the EUI-64 address format, which requires the prefix to be /64.',
      },
      {
        name: 'unknown network',
        body: {
          network_id: '00000000-0000-0000-0000-000000000000',
          cidr: '198.18.3.0/24',
          ip_version: 4,
        },
        status: 404,
        type: 'NetworkNotFound',
        message: 'Network 00000000-0000-0000-0000-000000000000 could not be found.',
      },
      {
        name: 'dhcp on /31',
        body: { network_id: net.id, cidr: '198.18.3.0/31', ip_version: 4 },
        status: 400,
        type: 'InvalidInput',
        message:
          'Invalid input for operation: Subnet has a prefix length that is incompatible with DHCP service enabled.',
      },
    ];
    for (const c of cases) {
      const res = await h.call('POST', '/v2.0/subnets', { body: { subnet: c.body } });
      assert.equal(res.status, c.status, `${c.name}: ${res.text}`);
      assert.deepEqual(neutronError(res), { type: c.type, message: c.message, detail: '' }, c.name);
    }
    // Another network may overlap freely.
    const other = await h.network('other');
    assert.equal((await h.subnet(other.id, '198.18.0.0/24')).cidr, '198.18.0.0/24');
  });

  it('updates pools, gateway and nameservers, and refuses a subnet delete while ports use it', async (t) => {
    const h = await networkHarness(t);
    const net = await h.network('n');
    const sub = await h.subnet(net.id, '198.18.0.0/24');
    const updated = await h.call('PUT', `/v2.0/subnets/${sub.id}`, {
      body: {
        subnet: {
          dns_nameservers: ['198.18.0.53'],
          allocation_pools: [{ start: '198.18.0.10', end: '198.18.0.20' }],
          name: 's',
        },
      },
    });
    assert.equal(updated.status, 200, updated.text);
    assert.deepEqual(updated.body.subnet.dns_nameservers, ['198.18.0.53']);
    assert.deepEqual(updated.body.subnet.allocation_pools, [
      { start: '198.18.0.10', end: '198.18.0.20' },
    ]);
    const readOnly = await h.call('PUT', `/v2.0/subnets/${sub.id}`, {
      body: { subnet: { cidr: '198.18.1.0/24' } },
    });
    assert.equal(neutronError(readOnly).message, 'Cannot update read-only attribute cidr');
    const port = await h.port(net.id);
    const inUse = await h.call('DELETE', `/v2.0/subnets/${sub.id}`);
    assert.equal(inUse.status, 409);
    assert.deepEqual(neutronError(inUse), {
      type: 'SubnetInUse',
      message: `Unable to complete operation on subnet ${sub.id}: One or more ports have an IP allocation from this subnet.`,
      detail: '',
    });
    const netInUse = await h.call('DELETE', `/v2.0/networks/${net.id}`);
    assert.equal(netInUse.status, 409);
    assert.equal(neutronError(netInUse).type, 'NetworkInUse');
    assert.equal((await h.call('DELETE', `/v2.0/ports/${port.id}`)).status, 204);
    assert.equal((await h.call('DELETE', `/v2.0/subnets/${sub.id}`)).status, 204);
    assert.deepEqual((await h.call('GET', `/v2.0/networks/${net.id}`)).body.network.subnets, []);
  });

  it('keeps subnets of other projects private, except on shared networks', async (t) => {
    const h = await networkHarness(t);
    const p1 = h.token('p1');
    const p2 = h.token('p2');
    const own = await h.network('own', {}, p2);
    const ownSubnet = await h.subnet(own.id, '198.18.0.0/24', {}, p2);
    const shared = await h.network('shared', { shared: true });
    const sharedSubnet = await h.subnet(shared.id, '198.18.1.0/24');
    const listed = (await h.call('GET', '/v2.0/subnets', { token: p1 })).body.subnets.map(
      (s: { id: string }) => s.id,
    );
    assert.deepEqual(listed, [sharedSubnet.id]);
    assert.equal((await h.call('GET', `/v2.0/subnets/${ownSubnet.id}`, { token: p1 })).status, 404);
    // p1 may not add a subnet to a network it does not own, shared or not.
    const onShared = await h.call('POST', '/v2.0/subnets', {
      token: p1,
      body: { subnet: { network_id: shared.id, cidr: '198.18.2.0/24', ip_version: 4 } },
    });
    assert.equal(onShared.status, 403);
    const onHidden = await h.call('POST', '/v2.0/subnets', {
      token: p1,
      body: { subnet: { network_id: own.id, cidr: '198.18.2.0/24', ip_version: 4 } },
    });
    assert.equal(onHidden.status, 404);
    assert.equal(
      (await h.call('DELETE', `/v2.0/subnets/${sharedSubnet.id}`, { token: p1 })).status,
      403,
    );
  });

  it('reports IP availability per network and subnet, to admins only', async (t) => {
    const h = await networkHarness(t);
    const net = await h.network('n');
    const v4 = await h.subnet(net.id, '198.18.0.0/24');
    const v6 = await h.subnet(net.id, '2001:db8::/64');
    await h.network('empty');
    await h.port(net.id);
    await h.port(net.id, { device_owner: 'network:dhcp' });
    const shown = await h.call('GET', `/v2.0/network-ip-availabilities/${net.id}`);
    assert.equal(shown.status, 200, shown.text);
    const a = shown.body.network_ip_availability;
    assert.equal(a.network_name, 'n');
    const bySubnet = new Map(a.subnet_ip_availability.map((s: any) => [s.subnet_id, s]));
    assert.deepEqual(bySubnet.get(v4.id), {
      subnet_id: v4.id,
      subnet_name: '',
      cidr: '198.18.0.0/24',
      ip_version: 4,
      total_ips: 253,
      used_ips: 2,
    });
    assert.equal((bySubnet.get(v6.id) as any).total_ips, 2 ** 64 - 1);
    const v4only = await h.call('GET', '/v2.0/network-ip-availabilities?ip_version=4');
    assert.deepEqual(
      v4only.body.network_ip_availabilities.map((n: any) => n.network_name),
      ['n'],
    );
    const member = await h.call('GET', '/v2.0/network-ip-availabilities', { token: h.token('p1') });
    assert.equal(member.status, 403);
    const missing = await h.call(
      'GET',
      '/v2.0/network-ip-availabilities/00000000-0000-0000-0000-000000000000',
    );
    assert.equal(neutronError(missing).type, 'NetworkNotFound');
  });
});
