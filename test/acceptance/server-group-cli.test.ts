/**
 * Server groups, aggregates, zones and quotas through the real `openstack` CLI against
 * `tstack up --fake-hosts 3`:
 * three servers of an anti-affinity group land on three hosts and a fourth finds no host; an
 * affinity group keeps its servers together; `quota set`, `quota list --compute` and
 * the 403 past a quota;
 * another project sees none of the groups.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  SERVER_CREATE,
  showUntil,
  startCloud,
  type CliEnv,
  type Cloud,
  type Row,
  otherProjectMember,
} from './harness.ts';

describe('openstack CLI: server groups, aggregates and quotas', { timeout: 240_000 }, () => {
  let cloud: Cloud;
  let member: CliEnv;
  before(async () => {
    cloud = await startCloud({ upArgs: ['--fake-hosts', '3'] });
    member = (await otherProjectMember(cloud, 'grp')).env;
  });
  after(async () => {
    await cloud?.stop();
  });

  /** Each server once it is no longer building, in order. */
  async function settle(names: readonly string[]): Promise<Row[]> {
    const out: Row[] = [];
    for (const name of names)
      out.push(await showUntil(cloud, name, (s) => s['status'] !== 'BUILD'));
    return out;
  }

  const create = (name: string, group: string) =>
    cloud.ok([...SERVER_CREATE, '--network', 'private', '--hint', `group=${group}`, name]);

  it('anti-affinity spreads three servers over three hosts; affinity keeps two together', async () => {
    assert.equal((await cloud.json<Row[]>(['hypervisor', 'list'])).length, 3);
    const group = await cloud.json([
      'server',
      'group',
      'create',
      '--policy',
      'anti-affinity',
      'spread',
    ]);
    assert.equal(group['name'], 'spread');
    assert.deepEqual(group['policies'] ?? [group['policy']], ['anti-affinity']);
    const id = String(group['id']);
    for (const name of ['grp-a', 'grp-b', 'grp-c']) await create(name, id);
    const servers = await settle(['grp-a', 'grp-b', 'grp-c']);
    assert.deepEqual(
      servers.map((s) => s['status']),
      ['ACTIVE', 'ACTIVE', 'ACTIVE'],
    );
    const hosts = new Set(servers.map((s) => s['OS-EXT-SRV-ATTR:host']));
    assert.equal(hosts.size, 3, JSON.stringify([...hosts]));
    const shown = await cloud.json(['server', 'group', 'show', 'spread']);
    assert.equal((shown['members'] as string[]).length, 3);
    // A fourth member has no host left.
    await create('grp-d', id);
    const [fourth] = await settle(['grp-d']);
    assert.equal(fourth?.['status'], 'ERROR');
    assert.match(JSON.stringify(fourth?.['fault']), /ServerGroupAntiAffinityFilter removed 3/);

    const together = await cloud.json([
      'server',
      'group',
      'create',
      '--policy',
      'affinity',
      'pack',
    ]);
    await create('grp-e', String(together['id']));
    await create('grp-f', String(together['id']));
    const packed = await settle(['grp-e', 'grp-f']);
    assert.equal(packed[0]?.['OS-EXT-SRV-ATTR:host'], packed[1]?.['OS-EXT-SRV-ATTR:host']);

    // Another project sees none of the groups and cannot use them.
    assert.deepEqual(await cloud.json<Row[]>(['server', 'group', 'list'], { env: member }), []);
    await cloud.fails(['server', 'group', 'show', id], { env: member });
    assert.equal((await cloud.json<Row[]>(['server', 'group', 'list'])).length, 2);

    await cloud.ok([
      'server',
      'delete',
      '--wait',
      'grp-a',
      'grp-b',
      'grp-c',
      'grp-d',
      'grp-e',
      'grp-f',
    ]);
    await cloud.ok(['server', 'group', 'delete', 'spread', 'pack']);
    assert.deepEqual(await cloud.json<Row[]>(['server', 'group', 'list']), []);
  });

  it('aggregate with a zone, availability zone list, boot into the zone or onto a host, hypervisor show', async () => {
    const agg = await cloud.json(['aggregate', 'create', '--zone', 'az-east', 'rack-east']);
    assert.equal(agg['availability_zone'], 'az-east');
    await cloud.ok(['aggregate', 'add', 'host', 'rack-east', 'fake-host-2']);
    await cloud.ok(['aggregate', 'set', '--property', 'tier=gold', 'rack-east']);
    const shown = await cloud.json(['aggregate', 'show', 'rack-east']);
    assert.deepEqual(shown['hosts'], ['fake-host-2']);
    assert.match(JSON.stringify(shown['properties']), /tier.*gold/);
    const zones = await cloud.json<Row[]>(['availability', 'zone', 'list', '--compute']);
    assert.deepEqual([...new Set(zones.map((z) => z['Zone Name']))].sort(), [
      'az-east',
      'internal',
      'nova',
    ]);
    await cloud.ok([
      ...SERVER_CREATE,
      '--network',
      'private',
      '--availability-zone',
      'az-east',
      'az-1',
    ]);
    const [placed] = await settle(['az-1']);
    assert.equal(placed?.['OS-EXT-SRV-ATTR:host'], 'fake-host-2');
    assert.equal(placed?.['OS-EXT-AZ:availability_zone'], 'az-east');
    const hv = await cloud.json(['hypervisor', 'show', 'fake-host-2']);
    assert.equal(hv['hypervisor_hostname'], 'fake-host-2');
    assert.match(JSON.stringify(hv['aggregates']), /rack-east/);
    // An admin forces a host through the zone, or requests one with --host (2.74).
    await cloud.ok([
      ...SERVER_CREATE,
      '--network',
      'private',
      '--availability-zone',
      'az-east:fake-host-2',
      'az-2',
    ]);
    await cloud.ok([
      '--os-compute-api-version',
      '2.74',
      ...SERVER_CREATE,
      '--network',
      'private',
      '--host',
      'fake-host-3',
      'az-3',
    ]);
    const [forced, requested] = await settle(['az-2', 'az-3']);
    assert.equal(forced?.['OS-EXT-SRV-ATTR:host'], 'fake-host-2');
    assert.equal(forced?.['OS-EXT-AZ:availability_zone'], 'az-east');
    assert.equal(requested?.['OS-EXT-SRV-ATTR:host'], 'fake-host-3');
    await cloud.ok(['server', 'delete', '--wait', 'az-1', 'az-2', 'az-3']);
    await cloud.ok(['aggregate', 'remove', 'host', 'rack-east', 'fake-host-2']);
    await cloud.ok(['aggregate', 'delete', 'rack-east']);
    assert.deepEqual(await cloud.json<Row[]>(['aggregate', 'list']), []);
  });

  it('server resize --confirm, migrate and --revert, migrate --live-migration, evacuate, migration list', async () => {
    await cloud.ok([...SERVER_CREATE, '--network', 'private', 'mv-1']);
    const [before] = await settle(['mv-1']);
    const source = before?.['OS-EXT-SRV-ATTR:host'];
    await cloud.ok(['server', 'resize', '--flavor', 'm1.small', 'mv-1']);
    const verify = async (): Promise<Row> => {
      for (let i = 0; i < 200; i++) {
        const s = await cloud.json(['server', 'show', 'mv-1']);
        if (s['OS-EXT-STS:task_state'] === null && s['status'] !== 'RESIZE') return s;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error('mv-1 did not settle');
    };
    const resized = await verify();
    assert.equal(resized['status'], 'VERIFY_RESIZE');
    await cloud.ok(['server', 'resize', '--confirm', 'mv-1']);
    for (let i = 0; i < 200; i++) {
      const s = await cloud.json(['server', 'show', 'mv-1']);
      if (s['status'] === 'ACTIVE') {
        assert.equal(s['flavor'], 'm1.small (2)');
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const here = (await cloud.json(['server', 'show', 'mv-1']))['OS-EXT-SRV-ATTR:host'];
    await cloud.ok(['server', 'migrate', 'mv-1']);
    const migrated = await verify();
    assert.equal(migrated['status'], 'VERIFY_RESIZE');
    assert.notEqual(migrated['OS-EXT-SRV-ATTR:host'], here);
    await cloud.ok(['server', 'resize', '--revert', 'mv-1']);
    const reverted = await verify();
    assert.equal(reverted['status'], 'ACTIVE');
    assert.equal(reverted['OS-EXT-SRV-ATTR:host'], here);
    await cloud.ok(['server', 'migrate', '--live-migration', 'mv-1']);
    const live = await verify();
    assert.equal(live['status'], 'ACTIVE');
    const liveHost = String(live['OS-EXT-SRV-ATTR:host']);
    assert.notEqual(liveHost, here);
    // Its host goes down: the server is evacuated to another.
    await cloud.ok([
      '--os-compute-api-version',
      '2.11',
      'compute',
      'service',
      'set',
      '--down',
      liveHost,
      'nova-compute',
    ]);
    // python3-openstackclient 6.0.0 sends the evacuation, then fails to print the result
    // ("'TupleWithMeta' object has no attribute 'to_dict'", fixed upstream later): the request
    // is what this checks, by the server's new host.
    const evac = await cloud.openstack(['server', 'evacuate', 'mv-1']);
    assert.ok(
      evac.code === 0 || /'TupleWithMeta' object has no attribute 'to_dict'/.test(evac.stderr),
      evac.stderr,
    );
    const evacuated = await verify();
    assert.equal(evacuated['status'], 'ACTIVE');
    assert.notEqual(evacuated['OS-EXT-SRV-ATTR:host'], liveHost);
    await cloud.ok([
      '--os-compute-api-version',
      '2.11',
      'compute',
      'service',
      'set',
      '--up',
      liveHost,
      'nova-compute',
    ]);
    const migrations = await cloud.json<Row[]>(['server', 'migration', 'list', '--server', 'mv-1']);
    assert.deepEqual(
      migrations.map((m) => m['Status']),
      ['done', 'completed', 'reverted', 'confirmed'],
    );
    assert.equal(migrations[3]?.['Source Compute'], source);
    await cloud.ok(['server', 'delete', '--wait', 'mv-1']);
  });

  it('quota show/set, and a boot past the quota is refused with 403', async () => {
    // `quota show` also asks the block-storage service, which does not answer quotas yet; the
    // compute part is what `quota list --compute` shows.
    const computeQuota = async (): Promise<Record<string, unknown>> => {
      const rows = await cloud.json<Row[]>([
        'quota',
        'list',
        '--compute',
        '--detail',
        '--project',
        'grp-other',
      ]);
      return Object.fromEntries(rows.map((r) => [String(r['Resource']), r['Limit']]));
    };
    const shown = await computeQuota();
    assert.equal(shown['instances'], 10);
    assert.equal(shown['cores'], 20);
    await cloud.ok(['quota', 'set', '--instances', '1', '--cores', '8', 'grp-other']);
    const changed = await computeQuota();
    assert.equal(changed['instances'], 1);
    assert.equal(changed['cores'], 8);
    await cloud.ok(['network', 'create', 'grp-net'], { env: member });
    await cloud.ok(
      ['subnet', 'create', '--network', 'grp-net', '--subnet-range', '198.18.1.0/24', 'grp-subnet'],
      { env: member },
    );
    const boot = (name: string) =>
      cloud.openstack([...SERVER_CREATE, '--network', 'grp-net', name], { env: member });
    const first = await boot('quota-1');
    assert.equal(first.code, 0, first.stderr);
    const refused = await boot('quota-2');
    assert.notEqual(refused.code, 0);
    assert.match(
      refused.stderr,
      /Quota exceeded for instances: Requested 1, but already used 1 of 1 instances.*HTTP 403/,
    );
    // A member cannot raise its own quota.
    await cloud.fails(['quota', 'set', '--instances', '5', 'grp-other'], { env: member });
    await cloud.ok(['server', 'delete', '--wait', 'quota-1'], { env: member });
  });
});
