/**
 * Routers and floating IPs through the real `openstack` CLI against `tstack up`: an external flat
 * network made by the admin, and a project network; a router with a gateway on the one and an
 * interface on the other, a second interface on the same subnet refused; a floating IP on the
 * external network, associated with a port and disassociated, and a port forwarding on it; the
 * gateway and interface they keep the router from losing, and the subnet and router its interface
 * keeps from being deleted; taking it all apart; and, for a member of another project, the
 * admin's router and floating IP they may not see or delete.
 *
 * The cases are the steps of one story and run one after the other against one cloud (each CLI run
 * costs a Python start-up, and the file stays within a minute and a half): each step uses what
 * the ones before it made, and the last one deletes what is left. Every address is in
 * 198.18.0.0/15, the benchmarking range: 198.19.0.0/24 is the external network's, 198.18.0.0/24
 * the project network's.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  column,
  ID,
  startCloud,
  type CliEnv,
  type Cloud,
  type Row,
  otherProjectMember,
} from './harness.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** An IPv4 address as a number, to compare it with a pool's bounds. */
function ipv4(address: unknown): number {
  return String(address)
    .split('.')
    .reduce((n, octet) => n * 256 + Number(octet), 0);
}

/** Whether `address` is in the external subnet's pool (198.19.0.1 is its gateway). */
function inPublicPool(address: unknown): boolean {
  const n = ipv4(address);
  return n >= ipv4('198.19.0.2') && n <= ipv4('198.19.0.254');
}

describe('openstack CLI: routers and floating IPs', { timeout: 180_000 }, () => {
  let cloud: Cloud;
  before(async () => {
    cloud = await startCloud();
  });
  after(async () => {
    await cloud?.stop();
  });

  const json = <T = Row>(args: readonly string[], env?: CliEnv) =>
    cloud.json<T>(args, env === undefined ? undefined : { env });
  const ok = (args: readonly string[], env?: CliEnv) =>
    cloud.ok(args, env === undefined ? undefined : { env });
  const fails = (args: readonly string[], env?: CliEnv) =>
    cloud.fails(args, env === undefined ? undefined : { env });

  // What the steps make and the later ones use.
  let publicNet = '';
  let publicSubnet = '';
  let privateNet = '';
  let privateSubnet = '';
  let router = '';
  let interfacePort = '';
  let vmPort = '';
  let vmAddress = '';
  let fip = '';
  let fipAddress = '';

  it('network create --external with a flat provider network; a subnet with --no-dhcp; a project network and subnet', async () => {
    const external = await json([
      'network',
      'create',
      'public',
      '--external',
      '--provider-network-type',
      'flat',
      '--provider-physical-network',
      'physnet1',
    ]);
    publicNet = String(external['id']);
    assert.match(publicNet, UUID);
    assert.equal(external['router:external'], true);
    assert.equal(external['provider:network_type'], 'flat');
    assert.equal(external['provider:physical_network'], 'physnet1');
    assert.equal(external['provider:segmentation_id'], null);
    assert.equal(external['shared'], false);

    const sub = await json([
      'subnet',
      'create',
      '--network',
      'public',
      '--subnet-range',
      '198.19.0.0/24',
      '--no-dhcp',
      'public-sub',
    ]);
    publicSubnet = String(sub['id']);
    assert.equal(sub['network_id'], publicNet);
    assert.equal(sub['enable_dhcp'], false);
    assert.equal(sub['gateway_ip'], '198.19.0.1');
    assert.deepEqual(sub['allocation_pools'], [{ start: '198.19.0.2', end: '198.19.0.254' }]);

    privateNet = String((await json(['network', 'create', 'rtr-private']))['id']);
    const own = await json([
      'subnet',
      'create',
      '--network',
      'rtr-private',
      '--subnet-range',
      '198.18.0.0/24',
      'private-sub',
    ]);
    privateSubnet = String(own['id']);
    assert.equal(own['gateway_ip'], '198.18.0.1');

    assert.deepEqual(column(await json<Row[]>(['network', 'list', '--external'])), ['public']);
    // `tstack up`'s own default network `private` is internal too.
    assert.deepEqual(column(await json<Row[]>(['network', 'list', '--internal'])).sort(), [
      'private',
      'rtr-private',
    ]);
  });

  it('router create; router set --external-gateway: the gateway info has the network, SNAT and one external address', async () => {
    const created = await json(['router', 'create', 'r1']);
    router = String(created['id']);
    assert.match(router, UUID);
    assert.equal(created['name'], 'r1');
    assert.equal(created['status'], 'ACTIVE');
    assert.equal(created['admin_state_up'], true);
    assert.equal(created['external_gateway_info'], null);
    assert.deepEqual(created['routes'], []);
    assert.match(String(created['project_id']), ID);

    assert.deepEqual(await json<Row[]>(['router', 'list', '--name', 'r1']), [
      {
        ID: router,
        Name: 'r1',
        Status: 'ACTIVE',
        State: true,
        Project: created['project_id'],
        Distributed: false,
        HA: false,
      },
    ]);

    assert.equal(await ok(['router', 'set', 'r1', '--external-gateway', 'public']), '');
    const shown = await json(['router', 'show', 'r1']);
    const gateway = shown['external_gateway_info'] as Row;
    assert.equal(gateway['network_id'], publicNet);
    assert.equal(gateway['enable_snat'], true);
    const fixed = gateway['external_fixed_ips'] as Row[];
    assert.equal(fixed.length, 1);
    assert.equal(fixed[0]?.['subnet_id'], publicSubnet);
    assert.ok(
      inPublicPool(fixed[0]?.['ip_address']),
      `${String(fixed[0]?.['ip_address'])} is in 198.19.0.0/24 and not its gateway`,
    );
    assert.deepEqual(shown['interfaces_info'], []);
  });

  it('router add subnet: interfaces_info has the subnet gateway address; the same subnet again is refused (400)', async () => {
    assert.equal(await ok(['router', 'add', 'subnet', 'r1', 'private-sub']), '');
    const shown = await json(['router', 'show', 'r1']);
    const interfaces = shown['interfaces_info'] as Row[];
    assert.equal(interfaces.length, 1);
    interfacePort = String(interfaces[0]?.['port_id']);
    assert.match(interfacePort, UUID);
    assert.deepEqual(interfaces, [
      { port_id: interfacePort, ip_address: '198.18.0.1', subnet_id: privateSubnet },
    ]);
    const port = await json(['port', 'show', interfacePort]);
    assert.equal(port['device_owner'], 'network:router_interface');
    assert.equal(port['device_id'], router);
    assert.equal(port['network_id'], privateNet);

    const again = await fails(['router', 'add', 'subnet', 'r1', 'private-sub']);
    assert.match(again, /400/);
    assert.match(
      again,
      new RegExp(`Bad router request: Router already has a port on subnet ${privateSubnet}\\.`),
    );
  });

  it('floating ip create on the external network; set --port, show, list --port; the gateway and interface it needs cannot be removed (409); unset --port', async () => {
    const vm = await json(['port', 'create', '--network', 'rtr-private', 'vm']);
    vmPort = String(vm['id']);
    vmAddress = String((vm['fixed_ips'] as Row[])[0]?.['ip_address']);

    const created = await json(['floating', 'ip', 'create', 'public']);
    fip = String(created['id']);
    fipAddress = String(created['floating_ip_address']);
    assert.match(fip, UUID);
    assert.ok(inPublicPool(fipAddress), `${fipAddress} is in 198.19.0.0/24`);
    assert.equal(created['floating_network_id'], publicNet);
    assert.equal(created['port_id'], null);
    assert.equal(created['fixed_ip_address'], null);
    assert.equal(created['router_id'], null);
    assert.equal(created['status'], 'DOWN');

    assert.equal(await ok(['floating', 'ip', 'set', '--port', 'vm', fip]), '');
    const associated = await json(['floating', 'ip', 'show', fip]);
    assert.equal(associated['port_id'], vmPort);
    assert.equal(associated['fixed_ip_address'], vmAddress);
    assert.equal(associated['router_id'], router);
    assert.equal(associated['status'], 'ACTIVE');
    assert.equal(associated['floating_ip_address'], fipAddress);

    assert.deepEqual(await json<Row[]>(['floating', 'ip', 'list', '--port', 'vm']), [
      {
        ID: fip,
        'Floating IP Address': fipAddress,
        'Fixed IP Address': vmAddress,
        Port: vmPort,
        'Floating Network': publicNet,
        Project: created['project_id'],
      },
    ]);

    const gatewayInUse = await fails(['router', 'unset', '--external-gateway', 'r1']);
    assert.match(gatewayInUse, /409/);
    assert.match(
      gatewayInUse,
      new RegExp(
        `Gateway cannot be updated for router ${router}, since a gateway to external network ${publicNet} is required by one or more floating IPs\\.`,
      ),
    );
    assert.match(
      await fails(['router', 'remove', 'subnet', 'r1', 'private-sub']),
      /409.*Router interface for subnet .* cannot be deleted, as it is required by one or more floating IPs\./,
    );

    assert.equal(await ok(['floating', 'ip', 'unset', '--port', fip]), '');
    const released = await json(['floating', 'ip', 'show', fip]);
    assert.equal(released['port_id'], null);
    assert.equal(released['fixed_ip_address'], null);
    assert.equal(released['router_id'], null);
    assert.equal(released['status'], 'DOWN');
    assert.equal(released['floating_ip_address'], fipAddress, 'the address stays');
    assert.deepEqual(await json<Row[]>(['floating', 'ip', 'list', '--port', 'vm']), []);
  });

  it('floating ip port forwarding create, list, show, delete; the interface it goes through cannot be removed (409)', async () => {
    const created = await json([
      'floating',
      'ip',
      'port',
      'forwarding',
      'create',
      '--internal-ip-address',
      vmAddress,
      '--port',
      'vm',
      '--internal-protocol-port',
      '22',
      '--external-protocol-port',
      '2222',
      '--protocol',
      'tcp',
      '--description',
      'ssh',
      fip,
    ]);
    const id = String(created['id']);
    assert.match(id, UUID);
    // The CLI prints a `name` the API does not have; the rest is the server's answer.
    const { name: _, ...answer } = created;
    assert.deepEqual(answer, {
      id,
      protocol: 'tcp',
      internal_ip_address: vmAddress,
      internal_port_id: vmPort,
      internal_port: 22,
      external_port: 2222,
      description: 'ssh',
    });
    assert.equal(
      (await json(['floating', 'ip', 'show', fip]))['router_id'],
      router,
      'the forwarding goes through the router',
    );
    const interfaceInUse = await fails(['router', 'remove', 'subnet', 'r1', 'private-sub']);
    assert.match(interfaceInUse, /409/);
    assert.match(
      interfaceInUse,
      new RegExp(
        `Router interface for subnet ${privateSubnet} on router ${router} cannot be deleted, as it is required by one or more floating IPs\\.`,
      ),
    );

    assert.deepEqual(await json<Row[]>(['floating', 'ip', 'port', 'forwarding', 'list', fip]), [
      {
        ID: id,
        'Internal Port ID': vmPort,
        'Internal IP Address': vmAddress,
        'Internal Port': 22,
        'External Port': 2222,
        Protocol: 'tcp',
        Description: 'ssh',
      },
    ]);
    assert.deepEqual(
      await json(['floating', 'ip', 'port', 'forwarding', 'show', fip, id]),
      created,
    );

    assert.equal(await ok(['floating', 'ip', 'port', 'forwarding', 'delete', fip, id]), '');
    assert.deepEqual(await json<Row[]>(['floating', 'ip', 'port', 'forwarding', 'list', fip]), []);
    assert.equal((await json(['floating', 'ip', 'show', fip]))['router_id'], null);
  });

  it('subnet delete refused while the router interface holds its gateway (409); router delete refused (409); router remove subnet; router unset --external-gateway', async () => {
    // Only the router's interface is left on the subnet once the port is gone.
    await ok(['port', 'delete', 'vm']);

    const subnetInUse = await fails(['subnet', 'delete', 'private-sub']);
    assert.match(subnetInUse, /409/);
    assert.match(
      subnetInUse,
      new RegExp(
        `Unable to complete operation on subnet ${privateSubnet}: One or more ports have an IP allocation from this subnet\\.`,
      ),
    );

    const routerInUse = await fails(['router', 'delete', 'r1']);
    assert.match(routerInUse, /409/);
    assert.match(
      routerInUse,
      new RegExp(`Router ${router} has ports still attached: ${interfacePort}`),
    );
    assert.equal((await json(['router', 'show', router]))['id'], router, 'still there');

    assert.equal(await ok(['router', 'remove', 'subnet', 'r1', 'private-sub']), '');
    assert.deepEqual((await json(['router', 'show', 'r1']))['interfaces_info'], []);
    assert.match(
      await fails(['port', 'show', interfacePort]),
      new RegExp(`No Port found for ${interfacePort}`),
      'the interface port went with it',
    );

    assert.equal(await ok(['router', 'unset', '--external-gateway', 'r1']), '');
    assert.equal((await json(['router', 'show', 'r1']))['external_gateway_info'], null);
    assert.deepEqual(
      await json<Row[]>(['port', 'list', '--router', 'r1']),
      [],
      'the gateway port is gone',
    );
  });

  it('floating ip delete, router delete; the subnets and networks can go', async () => {
    assert.equal(await ok(['floating', 'ip', 'delete', fip]), '');
    assert.match(
      await fails(['floating', 'ip', 'show', fip]),
      new RegExp(`No FloatingIP found for ${fip}`),
    );
    assert.deepEqual(
      await json<Row[]>(['port', 'list', '--network', 'public']),
      [],
      'the floating IP port is gone',
    );

    assert.equal(await ok(['router', 'delete', 'r1']), '');
    assert.deepEqual(await json<Row[]>(['router', 'list']), []);
    assert.match(
      await fails(['router', 'show', router]),
      new RegExp(`No Router found for ${router}`),
    );

    assert.equal(await ok(['subnet', 'delete', 'private-sub']), '');
    await ok(['network', 'delete', 'rtr-private']);
  });

  describe('another project', () => {
    let member: CliEnv;
    before(async () => {
      member = (await otherProjectMember(cloud, 'rtr')).env;
    });

    it("a member neither sees nor deletes the admin's router and floating IP", async () => {
      const adminRouter = String((await json(['router', 'create', 'iso-r']))['id']);
      await ok(['router', 'set', 'iso-r', '--external-gateway', 'public']);
      const adminFip = String((await json(['floating', 'ip', 'create', 'public']))['id']);

      assert.deepEqual(await json<Row[]>(['router', 'list'], member), []);
      assert.match(
        await fails(['router', 'show', adminRouter], member),
        new RegExp(`No Router found for ${adminRouter}`),
      );
      assert.match(
        await fails(['router', 'delete', adminRouter], member),
        new RegExp(`No Router found for ${adminRouter}`),
      );
      assert.match(
        await fails(['router', 'unset', '--external-gateway', adminRouter], member),
        new RegExp(`No Router found for ${adminRouter}`),
      );

      assert.deepEqual(await json<Row[]>(['floating', 'ip', 'list'], member), []);
      assert.match(
        await fails(['floating', 'ip', 'show', adminFip], member),
        new RegExp(`No FloatingIP found for ${adminFip}`),
      );
      assert.match(
        await fails(['floating', 'ip', 'delete', adminFip], member),
        new RegExp(`No FloatingIP found for ${adminFip}`),
      );

      assert.equal((await json(['router', 'show', adminRouter]))['name'], 'iso-r', 'still there');
      assert.deepEqual(column(await json<Row[]>(['floating', 'ip', 'list']), 'ID'), [adminFip]);

      await ok(['floating', 'ip', 'delete', adminFip]);
      await ok(['router', 'delete', 'iso-r']);
    });

    it('a member may allocate a floating IP on the external network but not choose its gateway address (403)', async () => {
      assert.deepEqual(column(await json<Row[]>(['network', 'list', '--external'], member)), [
        'public',
      ]);
      const own = await json(['floating', 'ip', 'create', 'public'], member);
      assert.ok(inPublicPool(own['floating_ip_address']));
      const projectId = String(own['project_id']);
      assert.deepEqual(
        column(await json<Row[]>(['floating', 'ip', 'list', '--project', projectId]), 'ID'),
        [own['id']],
        'the admin sees it by project',
      );

      await ok(['router', 'create', 'mine'], member);
      const refused = await fails(
        [
          'router',
          'set',
          'mine',
          '--external-gateway',
          'public',
          '--fixed-ip',
          'subnet=public-sub,ip-address=198.19.0.77',
        ],
        member,
      );
      assert.match(refused, /403/);
      assert.match(refused, /is disallowed by policy/);
      assert.equal((await json(['router', 'show', 'mine'], member))['external_gateway_info'], null);

      await ok(['floating', 'ip', 'delete', String(own['id'])], member);
      await ok(['router', 'delete', 'mine'], member);
      await ok(['subnet', 'delete', 'public-sub']);
      await ok(['network', 'delete', 'public']);
      assert.deepEqual(await json<Row[]>(['network', 'list', '--external']), []);
    });
  });
});
