/**
 * Server actions through the real `openstack` CLI against `tstack up`: stop/start, reboot (soft
 * and hard), pause/unpause, suspend/resume, lock/unlock, the console log, properties and tags,
 * rebuild, rescue/unrescue, `server image create`, `server add network` / `remove port`, the
 * event log, `server set --state`, `server delete --force`, shelve and unshelve.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  SERVER_CREATE,
  settled,
  showUntil,
  startCloud,
  type CliEnv,
  type Cloud,
  type Row,
  otherProjectMember,
} from './harness.ts';

describe('openstack CLI: server actions', { timeout: 240_000 }, () => {
  let cloud: Cloud;
  let member: CliEnv;
  before(async () => {
    cloud = await startCloud();
    member = (await otherProjectMember(cloud, 'act')).env;
  });
  after(async () => {
    await cloud?.stop();
  });

  it('stop, start, reboot, pause, suspend and their states; the event log', async () => {
    await cloud.ok([...SERVER_CREATE, '--network', 'private', 'act-1']);
    assert.equal((await showUntil(cloud, 'act-1', settled))['status'], 'ACTIVE');
    const steps: [string[], string, number][] = [
      [['server', 'stop', 'act-1'], 'SHUTOFF', 4],
      [['server', 'start', 'act-1'], 'ACTIVE', 1],
      [['server', 'reboot', 'act-1'], 'ACTIVE', 1],
      [['server', 'reboot', '--hard', 'act-1'], 'ACTIVE', 1],
      [['server', 'pause', 'act-1'], 'PAUSED', 3],
      [['server', 'unpause', 'act-1'], 'ACTIVE', 1],
      [['server', 'suspend', 'act-1'], 'SUSPENDED', 7],
      [['server', 'resume', 'act-1'], 'ACTIVE', 1],
    ];
    for (const [args, status, power] of steps) {
      await cloud.ok(args);
      const shown = await showUntil(cloud, 'act-1', settled);
      assert.equal(shown['status'], status, args.join(' '));
      assert.equal(shown['OS-EXT-STS:power_state'], power, args.join(' '));
    }
    // A second start of a running server is refused with Nova's conflict.
    assert.match(
      await cloud.fails(['server', 'start', 'act-1']),
      /Cannot 'start' instance [0-9a-f-]+ while it is in vm_state active \(HTTP 409\)/,
    );
    const events = await cloud.json<Row[]>(['server', 'event', 'list', 'act-1']);
    assert.deepEqual(
      events.map((e) => e['Action']),
      ['resume', 'suspend', 'unpause', 'pause', 'reboot', 'reboot', 'start', 'stop', 'create'],
    );
    const stop = events.find((e) => e['Action'] === 'stop');
    const shown = await cloud.json([
      'server',
      'event',
      'show',
      'act-1',
      String(stop?.['Request ID']),
    ]);
    assert.equal(shown['action'], 'stop');
    assert.match(JSON.stringify(shown['events']), /compute_stop_instance/);
    // Usage counts it for the admin project.
    const count = (v: unknown) => (Array.isArray(v) ? v.length : Number(v));
    const usage = await cloud.json<Row[]>(['usage', 'list']);
    assert.ok(
      usage.some((u) => count(u['Servers']) >= 1 && Number(u['RAM MB-Hours']) > 0),
      JSON.stringify(usage),
    );
    const mine = await cloud.json(['usage', 'show']);
    assert.ok(count(mine['Servers']) >= 1, JSON.stringify(mine));
    // Another project can neither act on it nor read its log.
    await cloud.fails(['server', 'stop', 'act-1'], { env: member });
    await cloud.fails(['server', 'event', 'list', 'act-1'], { env: member });
  });

  it('lock, console log, properties and tags, rebuild, rescue, set --state, delete --force', async () => {
    await cloud.ok([...SERVER_CREATE, '--network', 'private', 'act-2']);
    await showUntil(cloud, 'act-2', settled);
    await cloud.ok([
      '--os-compute-api-version',
      '2.73',
      'server',
      'lock',
      '--reason',
      'audit',
      'act-2',
    ]);
    const locked = await cloud.json([
      '--os-compute-api-version',
      '2.73',
      'server',
      'show',
      'act-2',
    ]);
    assert.equal(locked['locked'], true);
    assert.equal(locked['locked_reason'], 'audit');
    await cloud.ok(['server', 'unlock', 'act-2']);

    await cloud.ok(['server', 'add', 'network', 'act-2', 'private']);
    const ports = await cloud.json<Row[]>(['port', 'list', '--server', 'act-2']);
    assert.equal(ports.length, 2);
    const two = (await cloud.json(['server', 'show', 'act-2']))['addresses'] as Record<
      string,
      string[]
    >;
    assert.equal(two['private']?.length, 2);
    await cloud.ok(['server', 'remove', 'port', 'act-2', String(ports[1]?.['ID'])]);
    assert.equal((await cloud.json<Row[]>(['port', 'list', '--server', 'act-2'])).length, 1);

    const log = await cloud.ok(['console', 'log', 'show', 'act-2']);
    assert.match(log, /fake guest act-2 booted with 1 interface/);

    await cloud.ok(['server', 'set', '--property', 'tier=db', '--property', 'zone=a', 'act-2']);
    await cloud.ok(['server', 'unset', '--property', 'zone', 'act-2']);
    await cloud.ok(['--os-compute-api-version', '2.26', 'server', 'set', '--tag', 'blue', 'act-2']);
    const tagged = await cloud.json([
      '--os-compute-api-version',
      '2.26',
      'server',
      'show',
      'act-2',
    ]);
    assert.deepEqual(tagged['properties'], { tier: 'db' });
    assert.deepEqual(tagged['tags'], ['blue']);

    await cloud.ok(['server', 'rebuild', '--image', 'tstack-test', 'act-2']);
    assert.equal((await showUntil(cloud, 'act-2', settled))['status'], 'ACTIVE');
    await cloud.ok(['server', 'rescue', 'act-2']);
    assert.equal((await showUntil(cloud, 'act-2', settled))['status'], 'RESCUE');
    await cloud.ok(['server', 'unrescue', 'act-2']);
    assert.equal((await showUntil(cloud, 'act-2', settled))['status'], 'ACTIVE');
    const events = await cloud.json<Row[]>(['server', 'event', 'list', 'act-2']);
    assert.deepEqual(
      events.slice(0, 3).map((e) => e['Action']),
      ['unrescue', 'rescue', 'rebuild'],
    );

    const snap = await cloud.json([
      'server',
      'image',
      'create',
      '--name',
      'act-snap',
      '--wait',
      'act-2',
    ]);
    assert.equal(snap['name'], 'act-snap');
    const image = await cloud.json(['image', 'show', 'act-snap']);
    assert.equal(image['status'], 'active');
    assert.match(JSON.stringify(image['properties']), /"image_type": ?"snapshot"/);
    await cloud.ok(['image', 'delete', 'act-snap']);

    await cloud.ok(['server', 'set', '--state', 'error', 'act-2']);
    assert.equal((await cloud.json(['server', 'show', 'act-2']))['status'], 'ERROR');
    await cloud.ok(['server', 'reboot', '--hard', 'act-2']);
    assert.equal((await showUntil(cloud, 'act-2', settled))['status'], 'ACTIVE');

    await cloud.ok(['server', 'delete', '--force', '--wait', 'act-2']);
    assert.ok(!(await cloud.json<Row[]>(['server', 'list'])).some((r) => r['Name'] === 'act-2'));
  });

  it('shelve (offloaded at once), unshelve, shelve --offload and unshelve into a zone', async () => {
    await cloud.ok([...SERVER_CREATE, '--network', 'private', '--wait', 'act-3']);
    await cloud.ok(['server', 'shelve', '--wait', 'act-3']);
    let shown = await cloud.json(['server', 'show', 'act-3']);
    assert.equal(shown['status'], 'SHELVED_OFFLOADED');
    assert.equal(shown['OS-EXT-SRV-ATTR:host'], null);
    const snapshot = await cloud.json(['image', 'show', 'act-3-shelved']);
    assert.equal(snapshot['status'], 'active');
    // Another project sees no such server.
    assert.match(
      await cloud.fails(['server', 'unshelve', 'act-3'], { env: member }),
      /No server with a name or ID of 'act-3' exists/,
    );
    await cloud.ok(['server', 'unshelve', 'act-3']);
    shown = await showUntil(cloud, 'act-3', settled);
    assert.equal(shown['status'], 'ACTIVE');
    assert.ok(shown['OS-EXT-SRV-ATTR:host']);
    assert.match(await cloud.fails(['image', 'show', 'act-3-shelved']), /No Image found/);

    const v277 = ['--os-compute-api-version', '2.77'];
    await cloud.ok([...v277, 'server', 'shelve', '--offload', 'act-3']);
    assert.equal((await showUntil(cloud, 'act-3', settled))['status'], 'SHELVED_OFFLOADED');
    await cloud.ok([...v277, 'server', 'unshelve', '--availability-zone', 'nova', 'act-3']);
    shown = await showUntil(cloud, 'act-3', settled);
    assert.equal(shown['status'], 'ACTIVE');
    assert.equal(shown['OS-EXT-AZ:availability_zone'], 'nova');
    const events = await cloud.json<Row[]>(['server', 'event', 'list', 'act-3']);
    assert.deepEqual(
      events.map((e) => e['Action']),
      ['unshelve', 'shelve', 'unshelve', 'shelve', 'create'],
    );
    await cloud.ok(['server', 'delete', '--wait', 'act-3']);
  });
});
