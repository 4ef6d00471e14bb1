/**
 * Routers, floating IPs and port forwardings over HTTP: a gateway on an external network,
 * interfaces on project subnets, floating IPs reaching ports through the router, and the rules
 * that keep them consistent, with upstream's errors; isolation between projects.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call --
   response bodies are untyped JSON these tests assert on field by field. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { networkHarness, neutronError, type Harness } from './harness.ts';

type Topology = { ext: any; extSubnet: any; net: any; subnet: any; router: any; member: string };

/** An external network, a project network and a router joining them, as `p1`. */
async function topology(h: Harness): Promise<Topology> {
  const member = h.token('p1');
  const ext = await h.network('public', {
    'router:external': true,
    'provider:network_type': 'flat',
    'provider:physical_network': 'physnet1',
  });
  const extSubnet = await h.subnet(ext.id, '198.19.0.0/24', { enable_dhcp: false });
  const net = await h.network('private', {}, member);
  const subnet = await h.subnet(net.id, '198.18.0.0/24', {}, member);
  const created = await h.call('POST', '/v2.0/routers', {
    token: member,
    body: { router: { name: 'r1', external_gateway_info: { network_id: ext.id } } },
  });
  assert.equal(created.status, 201, created.text);
  return { ext, extSubnet, net, subnet, router: created.body.router, member };
}

describe('network: routers and floating IPs', () => {
  it('gives a router a gateway and interfaces, and keeps them consistent', async (t) => {
    const h = await networkHarness(t);
    const { ext, extSubnet, net, subnet, router, member } = await topology(h);
    assert.equal(router.external_gateway_info.network_id, ext.id);
    assert.equal(router.external_gateway_info.enable_snat, true);
    assert.equal(router.external_gateway_info.external_fixed_ips[0].subnet_id, extSubnet.id);
    assert.equal(router.status, 'ACTIVE');
    const add = await h.call('PUT', `/v2.0/routers/${router.id}/add_router_interface`, {
      token: member,
      body: { subnet_id: subnet.id },
    });
    assert.equal(add.status, 200, add.text);
    assert.equal(add.body.subnet_id, subnet.id);
    assert.deepEqual(add.body.subnet_ids, [subnet.id]);
    assert.equal(add.body.network_id, net.id);
    const port = (await h.call('GET', `/v2.0/ports/${add.body.port_id}`, { token: member })).body
      .port;
    assert.equal(port.device_owner, 'network:router_interface');
    assert.equal(port.device_id, router.id);
    assert.equal(port.fixed_ips[0].ip_address, '198.18.0.1');
    const twice = await h.call('PUT', `/v2.0/routers/${router.id}/add_router_interface`, {
      token: member,
      body: { subnet_id: subnet.id },
    });
    assert.equal(twice.status, 400);
    assert.equal(
      neutronError(twice).message,
      `Bad router request: Router already has a port on subnet ${subnet.id}.`,
    );
    const direct = await h.call('DELETE', `/v2.0/ports/${port.id}`, { token: member });
    assert.equal(direct.status, 409);
    assert.equal(neutronError(direct).type, 'ServicePortInUse');
    assert.equal(
      (await h.call('DELETE', `/v2.0/subnets/${subnet.id}`, { token: member })).status,
      409,
    );
    const inUse = await h.call('DELETE', `/v2.0/routers/${router.id}`, { token: member });
    assert.equal(inUse.status, 409);
    assert.equal(
      neutronError(inUse).message,
      `Router ${router.id} has ports still attached: ${port.id}`,
    );
    // A member may not choose SNAT; clearing the gateway and detaching free everything.
    const snat = await h.call('PUT', `/v2.0/routers/${router.id}`, {
      token: member,
      body: { router: { external_gateway_info: { network_id: ext.id, enable_snat: false } } },
    });
    assert.equal(snat.status, 403);
    const notExternal = await h.call('PUT', `/v2.0/routers/${router.id}`, {
      token: member,
      body: { router: { external_gateway_info: { network_id: net.id } } },
    });
    assert.equal(notExternal.status, 400);
    assert.equal(
      neutronError(notExternal).message,
      `Bad router request: Network ${net.id} is not an external network.`,
    );
    const removed = await h.call('PUT', `/v2.0/routers/${router.id}/remove_router_interface`, {
      token: member,
      body: { subnet_id: subnet.id },
    });
    assert.equal(removed.status, 200, removed.text);
    const again = await h.call('PUT', `/v2.0/routers/${router.id}/remove_router_interface`, {
      token: member,
      body: { subnet_id: subnet.id },
    });
    assert.equal(again.status, 404);
    assert.equal(
      neutronError(again).message,
      `Router ${router.id} has no interface on subnet ${subnet.id}`,
    );
    const cleared = await h.call('PUT', `/v2.0/routers/${router.id}`, {
      token: member,
      body: { router: { external_gateway_info: {} } },
    });
    assert.equal(cleared.body.router.external_gateway_info, null);
    assert.equal((await h.call('GET', `/v2.0/ports?network_id=${ext.id}`)).body.ports.length, 0);
    assert.equal(
      (await h.call('DELETE', `/v2.0/routers/${router.id}`, { token: member })).status,
      204,
    );
  });

  it('maps a floating IP to a port through the router, and forwards ports', async (t) => {
    const h = await networkHarness(t);
    const { ext, net, subnet, router, member } = await topology(h);
    const vm = await h.port(net.id, { name: 'vm' }, member);
    const unreachable = await h.call('POST', '/v2.0/floatingips', {
      token: member,
      body: { floatingip: { floating_network_id: ext.id, port_id: vm.id } },
    });
    assert.equal(unreachable.status, 404);
    assert.equal(
      neutronError(unreachable).message,
      `External network ${ext.id} is not reachable from subnet ${subnet.id}.  Therefore, cannot associate Port ${vm.id} with a Floating IP.`,
    );
    await h.call('PUT', `/v2.0/routers/${router.id}/add_router_interface`, {
      token: member,
      body: { subnet_id: subnet.id },
    });
    const created = await h.call('POST', '/v2.0/floatingips', {
      token: member,
      body: { floatingip: { floating_network_id: ext.id } },
    });
    assert.equal(created.status, 201, created.text);
    const fip = created.body.floatingip;
    assert.match(fip.floating_ip_address, /^198\.19\.0\.\d+$/);
    assert.equal(fip.port_id, null);
    assert.equal(fip.router_id, null);
    assert.equal(fip.status, 'DOWN');
    assert.equal(fip.port_details, null);
    const set = await h.call('PUT', `/v2.0/floatingips/${fip.id}`, {
      token: member,
      body: { floatingip: { port_id: vm.id } },
    });
    assert.equal(set.status, 200, set.text);
    assert.equal(set.body.floatingip.port_id, vm.id);
    assert.equal(set.body.floatingip.fixed_ip_address, vm.fixed_ips[0].ip_address);
    assert.equal(set.body.floatingip.router_id, router.id);
    assert.equal(set.body.floatingip.port_details.name, 'vm');
    const second = await h.call('POST', '/v2.0/floatingips', {
      token: member,
      body: { floatingip: { floating_network_id: ext.id, port_id: vm.id } },
    });
    assert.equal(second.status, 409);
    assert.equal(neutronError(second).type, 'FloatingIPPortAlreadyAssociated');
    const byAddress = await h.call(
      'GET',
      `/v2.0/floatingips?floating_ip_address=${fip.floating_ip_address}`,
      { token: member },
    );
    assert.deepEqual(
      byAddress.body.floatingips.map((f: { id: string }) => f.id),
      [fip.id],
    );
    const gatewayNeeded = await h.call('PUT', `/v2.0/routers/${router.id}`, {
      token: member,
      body: { router: { external_gateway_info: null } },
    });
    assert.equal(gatewayNeeded.status, 409);
    assert.equal(neutronError(gatewayNeeded).type, 'RouterExternalGatewayInUseByFloatingIp');
    const itfNeeded = await h.call('PUT', `/v2.0/routers/${router.id}/remove_router_interface`, {
      token: member,
      body: { subnet_id: subnet.id },
    });
    assert.equal(itfNeeded.status, 409);
    // Deleting the port lets go of the floating IP.
    assert.equal((await h.call('DELETE', `/v2.0/ports/${vm.id}`, { token: member })).status, 204);
    const released = (await h.call('GET', `/v2.0/floatingips/${fip.id}`, { token: member })).body
      .floatingip;
    assert.equal(released.port_id, null);
    assert.equal(released.router_id, null);
    // Port forwardings to another port.
    const web = await h.port(net.id, { name: 'web' }, member);
    const pf = await h.call('POST', `/v2.0/floatingips/${fip.id}/port_forwardings`, {
      token: member,
      body: {
        port_forwarding: {
          protocol: 'tcp',
          internal_port_id: web.id,
          internal_port: 80,
          external_port: 8080,
        },
      },
    });
    assert.equal(pf.status, 201, pf.text);
    assert.equal(pf.body.port_forwarding.internal_ip_address, web.fixed_ips[0].ip_address);
    assert.equal(pf.body.port_forwarding.external_port_range, '8080:8080');
    const clash = await h.call('POST', `/v2.0/floatingips/${fip.id}/port_forwardings`, {
      token: member,
      body: {
        port_forwarding: {
          protocol: 'tcp',
          internal_port_id: web.id,
          internal_port: 81,
          external_port: 8080,
        },
      },
    });
    assert.equal(clash.status, 400);
    assert.match(neutronError(clash).message, /port collision with the external_port_range/);
    const moved = await h.call(
      'PUT',
      `/v2.0/floatingips/${fip.id}/port_forwardings/${pf.body.port_forwarding.id}`,
      {
        token: member,
        body: { port_forwarding: { external_port: 9090, description: 'web' } },
      },
    );
    assert.equal(moved.status, 200, moved.text);
    assert.equal(moved.body.port_forwarding.external_port, 9090);
    assert.equal(moved.body.port_forwarding.internal_port, 80);
    assert.equal(moved.body.port_forwarding.description, 'web');
    const other = await h.call('POST', `/v2.0/floatingips/${fip.id}/port_forwardings`, {
      token: member,
      body: {
        port_forwarding: {
          protocol: 'tcp',
          internal_port_id: web.id,
          internal_port: 443,
          external_port: 8443,
        },
      },
    });
    assert.equal(other.status, 201, other.text);
    const onto = await h.call(
      'PUT',
      `/v2.0/floatingips/${fip.id}/port_forwardings/${other.body.port_forwarding.id}`,
      {
        token: member,
        body: { port_forwarding: { external_port: 9090 } },
      },
    );
    assert.equal(onto.status, 400);
    assert.equal(
      (
        await h.call(
          'DELETE',
          `/v2.0/floatingips/${fip.id}/port_forwardings/${other.body.port_forwarding.id}`,
          { token: member },
        )
      ).status,
      204,
    );
    const withPf = (await h.call('GET', `/v2.0/floatingips/${fip.id}`, { token: member })).body
      .floatingip;
    assert.equal(withPf.router_id, router.id);
    assert.equal(withPf.port_forwardings.length, 1);
    const busy = await h.call('PUT', `/v2.0/floatingips/${fip.id}`, {
      token: member,
      body: { floatingip: { port_id: web.id } },
    });
    assert.equal(busy.status, 409);
    assert.equal(neutronError(busy).type, 'FipInUseByPortForwarding');
    const list = await h.call('GET', `/v2.0/floatingips/${fip.id}/port_forwardings`, {
      token: member,
    });
    assert.equal(list.body.port_forwardings.length, 1);
    const pfId = pf.body.port_forwarding.id;
    assert.equal(
      (
        await h.call('DELETE', `/v2.0/floatingips/${fip.id}/port_forwardings/${pfId}`, {
          token: member,
        })
      ).status,
      204,
    );
    assert.equal(
      (await h.call('GET', `/v2.0/floatingips/${fip.id}`, { token: member })).body.floatingip
        .router_id,
      null,
    );
    assert.equal(
      (await h.call('DELETE', `/v2.0/floatingips/${fip.id}`, { token: member })).status,
      204,
    );
    assert.equal(
      (await h.call('GET', `/v2.0/ports?device_owner=network:floatingip`)).body.ports.length,
      0,
    );
  });

  it('keeps routers and floating IPs of other projects private', async (t) => {
    const h = await networkHarness(t);
    const { ext, router } = await topology(h);
    const other = h.token('p2');
    const fip = (
      await h.call('POST', '/v2.0/floatingips', {
        token: h.token('p1'),
        body: { floatingip: { floating_network_id: ext.id } },
      })
    ).body.floatingip;
    assert.deepEqual((await h.call('GET', '/v2.0/routers', { token: other })).body.routers, []);
    assert.deepEqual(
      (await h.call('GET', '/v2.0/floatingips', { token: other })).body.floatingips,
      [],
    );
    assert.equal((await h.call('GET', `/v2.0/routers/${router.id}`, { token: other })).status, 404);
    assert.equal(
      (
        await h.call('PUT', `/v2.0/routers/${router.id}`, {
          token: other,
          body: { router: { name: 'x' } },
        })
      ).status,
      404,
    );
    assert.equal(
      (await h.call('DELETE', `/v2.0/floatingips/${fip.id}`, { token: other })).status,
      404,
    );
    const forwardings = await h.call('GET', `/v2.0/floatingips/${fip.id}/port_forwardings`, {
      token: other,
    });
    assert.equal(forwardings.status, 404);
    const forward = await h.call('POST', `/v2.0/floatingips/${fip.id}/port_forwardings`, {
      token: other,
      body: {
        port_forwarding: {
          protocol: 'tcp',
          internal_port_id: '00000000-0000-0000-0000-000000000000',
          internal_port: 22,
          external_port: 2222,
        },
      },
    });
    assert.equal(forward.status, 404);
    const notExternal = await h.network('private2', {}, other);
    const bad = await h.call('POST', '/v2.0/floatingips', {
      token: other,
      body: { floatingip: { floating_network_id: notExternal.id } },
    });
    assert.equal(bad.status, 400);
    assert.equal(
      neutronError(bad).message,
      `Bad floatingip request: Network ${notExternal.id} is not a valid external network.`,
    );
  });
});
