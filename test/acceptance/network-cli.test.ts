/**
 * The network service through the real `openstack` CLI against `tstack up`: the extensions the
 * CLI relies on; networks with a description, an MTU and tags, listed by name and by tag, updated
 * and deleted; a network shared by the admin; subnets with a range, no gateway, an allocation pool,
 * DNS servers and no DHCP; ports with a fixed IP, and the subnet they keep from being deleted;
 * security groups and their rules, a duplicate rule refused; and, for a member of another
 * project, what they may not see or do and the network quota set on their project.
 *
 * The cases run one after the other against one cloud (each CLI run costs a Python start-up, and
 * the file stays within two minutes); each names its networks with its own prefix and deletes
 * what it made. Every address is in 198.18.0.0/15, the benchmarking range.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  column,
  ID,
  sorted,
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

describe('openstack CLI: networks', { timeout: 180_000 }, () => {
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
  /**
   * The names starting with `prefix` in `network list ARGS`, sorted: each case names its networks
   * with its own prefix, so that one case's leftovers do not fail the next.
   */
  const networkNames = async (prefix: string, args: string[] = [], env?: CliEnv) =>
    sorted(
      column(await json<Row[]>(['network', 'list', ...args], env)).filter((n) =>
        String(n).startsWith(prefix),
      ),
    );

  it('extension list --network names the extensions the CLI relies on; extension show', async () => {
    const aliases = column(await json<Row[]>(['extension', 'list', '--network']), 'Alias');
    for (const alias of [
      'security-group',
      'quotas',
      'quota_details',
      'standard-attr-tag',
      'net-mtu-writable',
      'project-id',
    ])
      assert.ok(aliases.includes(alias), `${alias} is listed`);
    const mtu = await json(['extension', 'show', 'net-mtu-writable']);
    assert.equal(mtu['alias'], 'net-mtu-writable');
    assert.equal(mtu['name'], 'Network MTU (writable)');
  });

  it('network create with --description, --mtu and --tag; list by --name and --tags; show, set, delete', async () => {
    const created = await json([
      'network',
      'create',
      '--description',
      'the first network',
      '--mtu',
      '1400',
      '--tag',
      'alpha',
      '--tag',
      'beta',
      'tag-a',
    ]);
    const id = String(created['id']);
    assert.match(id, UUID);
    assert.equal(created['name'], 'tag-a');
    assert.equal(created['description'], 'the first network');
    assert.equal(created['mtu'], 1400);
    assert.equal(created['shared'], false);
    assert.equal(created['status'], 'ACTIVE');
    assert.equal(created['admin_state_up'], true);
    assert.deepEqual(created['subnets'], []);
    assert.deepEqual(sorted(created['tags']), ['alpha', 'beta']);
    assert.match(String(created['project_id']), ID);
    await ok(['network', 'create', '--tag', 'beta', 'tag-b']);

    assert.deepEqual(await json<Row[]>(['network', 'list', '--name', 'tag-a']), [
      { ID: id, Name: 'tag-a', Subnets: [] },
    ]);
    assert.deepEqual(await networkNames('tag-', ['--tags', 'beta']), ['tag-a', 'tag-b']);
    assert.deepEqual(
      await networkNames('tag-', ['--tags', 'alpha,beta']),
      ['tag-a'],
      'all the tags',
    );
    assert.deepEqual(await networkNames('tag-', ['--any-tags', 'alpha,gamma']), ['tag-a']);
    assert.deepEqual(await networkNames('tag-', ['--not-tags', 'alpha']), ['tag-b']);

    // The CLI set the tags after the create it printed, which counted as a revision.
    const comparable = ({ revision_number: _, updated_at: __, ...rest }: Row) => ({
      ...rest,
      tags: sorted(rest['tags']),
    });
    assert.deepEqual(comparable(await json(['network', 'show', id])), comparable(created));

    assert.equal(
      await ok([
        'network',
        'set',
        '--name',
        'tag-a2',
        '--description',
        'renamed',
        '--mtu',
        '1300',
        '--tag',
        'gamma',
        id,
      ]),
      '',
    );
    const updated = await json(['network', 'show', 'tag-a2']);
    assert.equal(updated['id'], id);
    assert.equal(updated['description'], 'renamed');
    assert.equal(updated['mtu'], 1300);
    assert.deepEqual(sorted(updated['tags']), ['alpha', 'beta', 'gamma'], '--tag adds');
    await ok(['network', 'set', '--no-tag', '--tag', 'delta', id]);
    assert.deepEqual((await json(['network', 'show', id]))['tags'], ['delta']);

    assert.equal(await ok(['network', 'delete', id, 'tag-b']), '');
    assert.match(await fails(['network', 'show', id]), new RegExp(`No Network found for ${id}`));
  });

  it('network create --share by the admin; list --share and --no-share; set --no-share', async () => {
    const shared = await json(['network', 'create', '--share', 'share-on']);
    assert.equal(shared['shared'], true);
    await ok(['network', 'create', 'share-off']);
    assert.deepEqual(await networkNames('share-', ['--share']), ['share-on']);
    assert.deepEqual(await networkNames('share-', ['--no-share']), ['share-off']);

    await ok(['network', 'set', '--no-share', 'share-on']);
    assert.equal((await json(['network', 'show', 'share-on']))['shared'], false);
    assert.deepEqual(await networkNames('share-', ['--share']), []);
    await ok(['network', 'delete', 'share-on', 'share-off']);
  });

  it('subnet create, list --network, set --dns-nameserver; port create with a fixed IP, list, show, set, delete; subnet delete refused while a port uses it', async () => {
    const network = String((await json(['network', 'create', 'net-ports']))['id']);
    const plain = await json([
      'subnet',
      'create',
      '--network',
      'net-ports',
      '--subnet-range',
      '198.18.1.0/24',
      '--gateway',
      'none',
      '--allocation-pool',
      'start=198.18.1.10,end=198.18.1.20',
      '--dns-nameserver',
      '198.18.0.53',
      '--no-dhcp',
      'sub-a',
    ]);
    const subnet = String(plain['id']);
    assert.match(subnet, UUID);
    assert.equal(plain['network_id'], network);
    assert.equal(plain['cidr'], '198.18.1.0/24');
    assert.equal(plain['ip_version'], 4);
    assert.equal(plain['gateway_ip'], null);
    assert.deepEqual(plain['allocation_pools'], [{ start: '198.18.1.10', end: '198.18.1.20' }]);
    assert.deepEqual(plain['dns_nameservers'], ['198.18.0.53']);
    assert.equal(plain['enable_dhcp'], false);

    // Without options: the first address is the gateway, the rest of the range the pool.
    const defaults = await json([
      'subnet',
      'create',
      '--network',
      network,
      '--subnet-range',
      '198.18.2.0/24',
      'sub-b',
    ]);
    assert.equal(defaults['gateway_ip'], '198.18.2.1');
    assert.deepEqual(defaults['allocation_pools'], [{ start: '198.18.2.2', end: '198.18.2.254' }]);
    assert.equal(defaults['enable_dhcp'], true);
    assert.deepEqual(defaults['dns_nameservers'], []);

    await ok(['network', 'create', 'net-empty']);
    const subnets = await json<Row[]>(['subnet', 'list', '--network', 'net-ports']);
    assert.deepEqual(
      [...subnets].sort((a, b) => String(a['Name']).localeCompare(String(b['Name']))),
      [
        { ID: subnet, Name: 'sub-a', Network: network, Subnet: '198.18.1.0/24' },
        { ID: defaults['id'], Name: 'sub-b', Network: network, Subnet: '198.18.2.0/24' },
      ],
    );
    assert.deepEqual(await json<Row[]>(['subnet', 'list', '--network', 'net-empty']), []);
    assert.deepEqual(
      sorted((await json(['network', 'show', network]))['subnets']),
      sorted([subnet, defaults['id']]),
    );

    // The CLI sends the new server first, then the ones the subnet had; their order is kept.
    assert.equal(await ok(['subnet', 'set', '--dns-nameserver', '198.18.0.54', 'sub-a']), '');
    assert.deepEqual((await json(['subnet', 'show', subnet]))['dns_nameservers'], [
      '198.18.0.54',
      '198.18.0.53',
    ]);

    const port = await json([
      'port',
      'create',
      '--network',
      'net-ports',
      '--fixed-ip',
      'subnet=sub-a,ip-address=198.18.1.15',
      'port-a',
    ]);
    const portId = String(port['id']);
    assert.match(portId, UUID);
    assert.equal(port['network_id'], network);
    assert.deepEqual(port['fixed_ips'], [{ subnet_id: subnet, ip_address: '198.18.1.15' }]);
    assert.match(String(port['mac_address']), /^fa:16:3e(:[0-9a-f]{2}){3}$/);
    assert.equal(port['status'], 'DOWN', 'no device is bound to it');
    assert.equal(port['device_owner'], '');
    const adminGroups = await json<Row[]>(['security', 'group', 'list', '--project', 'admin']);
    assert.deepEqual(
      port['security_group_ids'],
      adminGroups.filter((g) => g['Name'] === 'default').map((g) => g['ID']),
      "the project's default security group",
    );

    // Given only the subnet, the port gets a free address of its pool.
    const other = await json([
      'port',
      'create',
      '--network',
      network,
      '--fixed-ip',
      'subnet=sub-a',
      'port-b',
    ]);
    const [allocated] = other['fixed_ips'] as Row[];
    assert.equal(allocated?.['subnet_id'], subnet);
    const address = ipv4(allocated?.['ip_address']);
    assert.ok(
      address >= ipv4('198.18.1.10') && address <= ipv4('198.18.1.20'),
      `${String(allocated?.['ip_address'])} is in the pool`,
    );
    assert.notEqual(allocated?.['ip_address'], '198.18.1.15');

    const listed = await json<Row[]>(['port', 'list', '--network', 'net-ports']);
    assert.deepEqual(sorted(column(listed)), ['port-a', 'port-b']);
    const row = listed.find((r) => r['ID'] === portId);
    assert.deepEqual(row, {
      ID: portId,
      Name: 'port-a',
      'MAC Address': port['mac_address'],
      'Fixed IP Addresses': port['fixed_ips'],
      Status: 'DOWN',
    });

    assert.equal(await ok(['port', 'set', '--name', 'port-a2', 'port-a']), '');
    const shown = await json(['port', 'show', portId]);
    assert.equal(shown['name'], 'port-a2');
    assert.deepEqual(shown['fixed_ips'], port['fixed_ips']);
    assert.equal(shown['mac_address'], port['mac_address']);

    const refused = await fails(['subnet', 'delete', 'sub-a']);
    assert.match(refused, /409/);
    assert.match(
      refused,
      new RegExp(
        `Unable to complete operation on subnet ${subnet}: One or more ports have an IP allocation from this subnet\\.`,
      ),
    );
    assert.equal((await json(['subnet', 'show', subnet]))['id'], subnet, 'still there');

    assert.equal(await ok(['port', 'delete', 'port-a2', String(other['id'])]), '');
    assert.deepEqual(await json<Row[]>(['port', 'list', '--network', network]), []);
    assert.equal(await ok(['subnet', 'delete', 'sub-a', 'sub-b']), '');
    assert.deepEqual(await json<Row[]>(['subnet', 'list', '--network', network]), []);
    await ok(['network', 'delete', network, 'net-empty']);
  });

  it('security group create, list, show; rule create; a duplicate rule refused (409); rule list; delete', async () => {
    const group = await json([
      'security',
      'group',
      'create',
      '--description',
      'ssh from the lab',
      'sg-ssh',
    ]);
    const id = String(group['id']);
    assert.match(id, UUID);
    assert.equal(group['name'], 'sg-ssh');
    assert.equal(group['description'], 'ssh from the lab');
    assert.equal(group['stateful'], true);
    // A new group lets everything out, over IPv4 and IPv6.
    const egress = (group['rules'] as Row[]).map((r) => [r['direction'], r['ethertype']]);
    assert.deepEqual(egress.sort(), [
      ['egress', 'IPv4'],
      ['egress', 'IPv6'],
    ]);

    const groups = await json<Row[]>(['security', 'group', 'list']);
    assert.deepEqual(
      groups.filter((g) => g['ID'] === id),
      [
        {
          ID: id,
          Name: 'sg-ssh',
          Description: 'ssh from the lab',
          Project: group['project_id'],
          Tags: [],
        },
      ],
    );
    const shown = await json(['security', 'group', 'show', 'sg-ssh']);
    assert.equal(shown['id'], id);
    assert.equal((shown['rules'] as Row[]).length, 2);

    const ssh = [
      'security',
      'group',
      'rule',
      'create',
      '--protocol',
      'tcp',
      '--dst-port',
      '22',
      '--remote-ip',
      '198.18.0.0/16',
      'sg-ssh',
    ];
    const rule = await json(ssh);
    assert.match(String(rule['id']), UUID);
    assert.equal(rule['security_group_id'], id);
    assert.equal(rule['direction'], 'ingress');
    assert.equal(rule['ether_type'], 'IPv4');
    assert.equal(rule['protocol'], 'tcp');
    assert.equal(rule['port_range_min'], 22);
    assert.equal(rule['port_range_max'], 22);
    assert.equal(rule['remote_ip_prefix'], '198.18.0.0/16');

    const duplicate = await fails(ssh);
    assert.match(duplicate, /409/);
    assert.match(
      duplicate,
      new RegExp(`Security group rule already exists\\. Rule id is ${String(rule['id'])}\\.`),
    );

    const rules = await json<Row[]>(['security', 'group', 'rule', 'list', 'sg-ssh']);
    assert.equal(rules.length, 3, 'the two egress rules and the new one');
    assert.deepEqual(
      rules.find((r) => r['ID'] === rule['id']),
      {
        ID: rule['id'],
        'IP Protocol': 'tcp',
        Ethertype: 'IPv4',
        'IP Range': '198.18.0.0/16',
        'Port Range': '22:22',
        Direction: 'ingress',
        'Remote Security Group': null,
        'Remote Address Group': null,
      },
    );

    assert.equal(await ok(['security', 'group', 'delete', 'sg-ssh']), '');
    assert.ok(!column(await json<Row[]>(['security', 'group', 'list']), 'ID').includes(id));
    assert.match(
      await fails(['security', 'group', 'show', id]),
      new RegExp(`No SecurityGroup found for ${id}`),
    );
  });

  describe('another project', () => {
    let member: CliEnv;
    let projectId: string;
    before(async () => {
      ({ env: member, projectId } = await otherProjectMember(cloud, 'net'));
    });

    it("a member sees neither the admin's private network by list nor by id, but sees a shared one", async () => {
      const hidden = String((await json(['network', 'create', 'vis-hidden']))['id']);
      const shared = String((await json(['network', 'create', '--share', 'vis-shared']))['id']);

      assert.deepEqual(await networkNames('vis-', [], member), ['vis-shared']);
      assert.match(
        await fails(['network', 'show', hidden], member),
        new RegExp(`No Network found for ${hidden}`),
      );
      assert.match(
        await fails(
          ['subnet', 'create', '--network', hidden, '--subnet-range', '198.18.9.0/24', 'x'],
          member,
        ),
        new RegExp(`No Network found for ${hidden}`),
      );
      assert.equal((await json(['network', 'show', shared], member))['name'], 'vis-shared');

      // Neutron names the rules it checked (`rule:delete_network is disallowed by policy`); only
      // the part of the message that does not depend on their wording is checked here.
      const shareRefused = await fails(['network', 'create', '--share', 'vis-mine'], member);
      assert.match(shareRefused, /403/);
      assert.match(shareRefused, /is disallowed by policy/);
      const deleteRefused = await fails(['network', 'delete', shared], member);
      assert.match(deleteRefused, /403/);
      assert.match(deleteRefused, /is disallowed by policy/);
      assert.deepEqual(await networkNames('vis-'), ['vis-hidden', 'vis-shared'], 'nothing changed');

      await ok(['network', 'delete', hidden, shared]);
    });

    it('quota set --networks 1 for the project: quota list --network shows it, the second network is refused', async () => {
      assert.deepEqual(
        column(await json<Row[]>(['quota', 'list', '--network']), 'Project ID'),
        [],
        'every project has the default quotas',
      );
      assert.equal(await ok(['quota', 'set', '--networks', '1', 'net-other']), '');
      const changed = await json<Row[]>(['quota', 'list', '--network']);
      assert.deepEqual(column(changed, 'Project ID'), [projectId]);
      assert.equal(changed[0]?.['Networks'], 1);
      assert.equal(changed[0]?.['Subnets'], 100, 'the other quotas keep their defaults');

      const first = await json(['network', 'create', 'quota-net'], member);
      assert.equal(first['project_id'], projectId);
      const refused = await fails(['network', 'create', 'quota-extra'], member);
      assert.match(refused, /409/);
      assert.match(refused, /Quota exceeded for resources: \['network'\]\./);

      const detail = await json<Row[]>([
        'quota',
        'list',
        '--network',
        '--detail',
        '--project',
        'net-other',
      ]);
      assert.deepEqual(
        detail.find((r) => r['Resource'] === 'networks'),
        { Resource: 'networks', 'In Use': 1, Reserved: 0, Limit: 1 },
      );
      assert.deepEqual(await networkNames('quota-', [], member), ['quota-net']);
      assert.deepEqual(await networkNames('', ['--project', 'net-other']), ['quota-net']);

      await ok(['quota', 'set', '--networks', '100', 'net-other']);
      assert.deepEqual(await json<Row[]>(['quota', 'list', '--network']), [], 'back to defaults');
      await ok(['network', 'delete', 'quota-net']);
    });
  });
});
