/**
 * Servers through the real `openstack` CLI against `tstack up` (one fake hypervisor, the default
 * network `private` in 198.18.0.0/24, the test image): create --wait to ACTIVE, list --long,
 * show, delete --wait; compute services and hypervisors, a disabled host refusing builds with a
 * fault; the quota; and another project that sees none of it.
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

describe('openstack CLI: servers', { timeout: 240_000 }, () => {
  let cloud: Cloud;
  let member: CliEnv;
  before(async () => {
    cloud = await startCloud();
    member = (await otherProjectMember(cloud, 'srv')).env;
  });
  after(async () => {
    await cloud?.stop();
  });

  it('server create --wait reaches ACTIVE on the default network; list --long; show; delete --wait', async () => {
    await cloud.ok(['keypair', 'create', 'srv-key']);
    const portsBefore = (await cloud.json<Row[]>(['port', 'list', '--network', 'private'])).length;
    const created = await cloud.json([
      ...SERVER_CREATE,
      '--network',
      'private',
      '--key-name',
      'srv-key',
      '--property',
      'role=web',
      '--wait',
      'srv-1',
    ]);
    assert.equal(created['status'], 'ACTIVE');
    assert.equal(created['key_name'], 'srv-key');
    const addresses = created['addresses'] as Record<string, string[]>;
    assert.match(String(addresses['private']?.[0]), /^198\.18\.0\.\d+$/);
    assert.equal(created['OS-EXT-SRV-ATTR:host'], 'fake-host-1');
    assert.equal(created['flavor'], 'm1.tiny (1)');
    assert.match(String(created['image']), /^tstack-test \(/);
    const id = String(created['id']);

    const listed = await cloud.json<Row[]>(['server', 'list', '--long']);
    const row = listed.find((r) => r['ID'] === id);
    assert.ok(row, JSON.stringify(listed));
    assert.equal(row['Status'], 'ACTIVE');
    assert.equal(row['Power State'], 1);
    assert.equal(row['Host'], 'fake-host-1');
    assert.equal(row['Flavor Name'], 'm1.tiny');
    assert.equal(row['Image Name'], 'tstack-test');
    assert.deepEqual(row['Properties'], { role: 'web' });

    const shown = await cloud.json(['server', 'show', 'srv-1']);
    assert.equal(shown['id'], id);
    assert.equal(shown['OS-EXT-STS:vm_state'], 'active');
    const port = await cloud.json<Row[]>(['port', 'list', '--server', id]);
    assert.equal(port.length, 1);

    // Another project sees none of it.
    assert.deepEqual(await cloud.json<Row[]>(['server', 'list'], { env: member }), []);
    assert.match(
      await cloud.fails(['server', 'show', id], { env: member }),
      /No server with a name or ID/,
    );
    await cloud.fails(['server', 'delete', id], { env: member });

    await cloud.ok(['server', 'delete', '--wait', 'srv-1']);
    assert.ok(!(await cloud.json<Row[]>(['server', 'list'])).some((r) => r['ID'] === id));
    // The port the server made went with it.
    const portsAfter = await cloud.json<Row[]>(['port', 'list', '--network', 'private']);
    assert.equal(portsAfter.length, portsBefore);
  });

  it('compute service list/set --disable and hypervisor list; a disabled host takes no builds', async () => {
    const services = await cloud.json<Row[]>(['compute', 'service', 'list']);
    const compute = services.find((s) => s['Binary'] === 'nova-compute');
    assert.ok(compute, JSON.stringify(services));
    assert.deepEqual(
      [compute['Host'], compute['Zone'], compute['Status'], compute['State']],
      ['fake-host-1', 'nova', 'enabled', 'up'],
    );
    const hypervisors = await cloud.json<Row[]>(['hypervisor', 'list']);
    assert.deepEqual(
      hypervisors.map((h) => [h['Hypervisor Hostname'], h['Hypervisor Type'], h['State']]),
      [['fake-host-1', 'fake', 'up']],
    );

    await cloud.ok([
      'compute',
      'service',
      'set',
      '--disable',
      '--disable-reason',
      'maintenance',
      'fake-host-1',
      'nova-compute',
    ]);
    const disabled = (await cloud.json<Row[]>(['compute', 'service', 'list', '--long'])).find(
      (s) => s['Binary'] === 'nova-compute',
    );
    assert.equal(disabled?.['Status'], 'disabled');
    await cloud.ok([...SERVER_CREATE, '--network', 'private', 'srv-refused']);
    const refused = await showUntil(cloud, 'srv-refused', (s) => s['status'] !== 'BUILD');
    assert.equal(refused['status'], 'ERROR');
    assert.match(
      JSON.stringify(refused['fault']),
      /No valid host was found.*ComputeFilter removed 1/,
    );
    await cloud.ok(['compute', 'service', 'set', '--enable', 'fake-host-1', 'nova-compute']);
    await cloud.ok(['server', 'delete', 'srv-refused']);
  });

  it('a boot over the instance quota is refused with 403', async () => {
    const err = await cloud.fails([
      ...SERVER_CREATE,
      '--network',
      'private',
      '--min',
      '11',
      '--max',
      '11',
      'srv-many',
    ]);
    assert.match(
      err,
      /Quota exceeded for instances: Requested 11, but already used \d+ of 10 instances.*HTTP 403/,
    );
  });
});
