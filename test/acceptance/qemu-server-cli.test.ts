/**
 * Real VMs through the real `openstack` CLI: `tstack up` with two QEMU hypervisors on this
 * machine (TCG here), the built test image, a key pair, user-data and a config drive. Every
 * step is checked on the guest's serial console (`openstack console log show`), not only on the
 * API: the marker line the guest prints when it is up, the power button it answers, the number
 * of times it booted. At the end no QEMU process, guest folder or tap device is left.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { READY_MARKER } from '../../src/compute/virt/qemu/guest-init.ts';
import { bridgeName, tapName } from '../../src/compute/virt/qemu/guest-nics.ts';
import { qemuPidsOf } from '../helpers/process.ts';
import { SERVER_CREATE, startCloud, type Cloud, type Row } from './harness.ts';

const POWER_BUTTON = 'tstack-test: power button: powering off';
const KEY =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHRzdGFja3Rlc3RrZXlvbmx5b25lb25lb25lb25l acceptance@tstack';
/** QEMU under TCG boots in seconds; a loaded CI machine gets a generous bound. */
const STEP_MS = 120_000;

function count(text: string, what: string): number {
  return text.split(what).length - 1;
}

describe('openstack CLI: real VMs on QEMU', { timeout: 900_000 }, () => {
  let cloud: Cloud;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ts-qemu-cli-'));
    cloud = await startCloud({ qemuHosts: 2, env: { TSTACK_COMPUTE__QEMU_HOST_NAME: 'ts-qemu' } });
  });
  after(async () => {
    await cloud?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** `server show` until `done` holds. */
  const until = async (name: string, done: (s: Row) => boolean): Promise<Row> => {
    const end = Date.now() + STEP_MS;
    for (;;) {
      const shown = await cloud.json(['server', 'show', name]);
      if (done(shown)) return shown;
      if (shown['status'] === 'ERROR') throw new Error(`${name}: ERROR ${JSON.stringify(shown)}`);
      if (Date.now() > end) throw new Error(`${name} never got there: ${JSON.stringify(shown)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };
  const status = (name: string, want: string) =>
    until(name, (s) => s['status'] === want && s['OS-EXT-STS:task_state'] === null);
  /** The console once it shows `what` `n` times. */
  const consoleWith = async (name: string, what: string, n: number): Promise<string> => {
    const end = Date.now() + STEP_MS;
    for (;;) {
      const text = await cloud.ok(['console', 'log', 'show', name]);
      if (count(text, what) >= n) return text;
      if (Date.now() > end) throw new Error(`${name} never showed ${what} ${n} times:\n${text}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };
  const host = async (name: string) =>
    String((await cloud.json(['server', 'show', name]))['OS-EXT-SRV-ATTR:host']);

  it('creates a real VM with a key, user-data and a config drive; the console shows them', async () => {
    const hypervisors = await cloud.json<Row[]>(['hypervisor', 'list']);
    assert.deepEqual(
      hypervisors.map((h) => [h['Hypervisor Hostname'], h['Hypervisor Type']]).sort(),
      [
        ['ts-qemu', 'QEMU'],
        ['ts-qemu-2', 'QEMU'],
      ],
    );
    const shown = await cloud.json(['hypervisor', 'show', 'ts-qemu']);
    assert.equal((shown['cpu_info'] as Row)['accel'] !== undefined, true, JSON.stringify(shown));

    const keyFile = join(dir, 'k.pub');
    writeFileSync(keyFile, `${KEY}\n`);
    await cloud.ok(['keypair', 'create', '--public-key', keyFile, 'k']);
    const userData = join(dir, 'u.sh');
    writeFileSync(userData, '#!/bin/sh\necho "user-data ran on $(hostname)"\n');
    const created = await cloud.json([
      ...SERVER_CREATE,
      '--key-name',
      'k',
      '--user-data',
      userData,
      '--config-drive',
      'true',
      '--network',
      'private',
      '--wait',
      'vm1',
    ]);
    assert.equal(created['status'], 'ACTIVE');
    const console = await consoleWith('vm1', READY_MARKER, 1);
    assert.match(console, /tstack-test: ready hostname=vm1 keys=1 source=config-drive/);
    assert.match(console, /user-data ran on vm1/);
    assert.match(console, /tstack-test: ssh keys installed: 1/);
    assert.match(console, /tstack-test: ssh server listening on port 22/);
  });

  it('stop/start, reboot soft and hard, pause/unpause, suspend/resume, on the console', async () => {
    await cloud.ok(['server', 'stop', 'vm1']);
    await status('vm1', 'SHUTOFF');
    await consoleWith('vm1', POWER_BUTTON, 1);
    await cloud.ok(['server', 'start', 'vm1']);
    await status('vm1', 'ACTIVE');
    await consoleWith('vm1', READY_MARKER, 2);
    await cloud.ok(['server', 'reboot', 'vm1']);
    await status('vm1', 'ACTIVE');
    // A soft reboot asks the guest to power off first.
    await consoleWith('vm1', POWER_BUTTON, 2);
    await consoleWith('vm1', READY_MARKER, 3);
    await cloud.ok(['server', 'reboot', '--hard', 'vm1']);
    await status('vm1', 'ACTIVE');
    await consoleWith('vm1', READY_MARKER, 4);
    await cloud.ok(['server', 'pause', 'vm1']);
    assert.equal((await status('vm1', 'PAUSED'))['OS-EXT-STS:power_state'], 3);
    await cloud.ok(['server', 'unpause', 'vm1']);
    await status('vm1', 'ACTIVE');
    await cloud.ok(['server', 'suspend', 'vm1']);
    assert.equal((await status('vm1', 'SUSPENDED'))['OS-EXT-STS:power_state'], 7);
    await cloud.ok(['server', 'resume', 'vm1']);
    await status('vm1', 'ACTIVE');
    // Resumed from its saved memory: no fifth boot, and the running guest still answers.
    await cloud.ok(['server', 'stop', 'vm1']);
    await status('vm1', 'SHUTOFF');
    const console = await consoleWith('vm1', POWER_BUTTON, 3);
    assert.equal(count(console, READY_MARKER), 4, console);
    await cloud.ok(['server', 'start', 'vm1']);
    await status('vm1', 'ACTIVE');
    await consoleWith('vm1', READY_MARKER, 5);
  });

  it('snapshots the server into an image a new server boots from', async () => {
    const image = await cloud.json([
      'server',
      'image',
      'create',
      '--name',
      'vm1-snap',
      '--wait',
      'vm1',
    ]);
    assert.equal(image['status'], 'active');
    await cloud.ok([
      'server',
      'create',
      '--image',
      'vm1-snap',
      '--flavor',
      'm1.tiny',
      '--config-drive',
      'true',
      '--wait',
      'vm2',
    ]);
    assert.match(await consoleWith('vm2', READY_MARKER, 1), /ready hostname=vm2 /);
    await cloud.ok(['server', 'delete', '--wait', 'vm2']);
  });

  it('rescues and unrescues, rebuilds; all booted, as the console shows', async () => {
    await cloud.ok(['server', 'rescue', '--image', 'tstack-test', 'vm1']);
    await status('vm1', 'RESCUE');
    await consoleWith('vm1', READY_MARKER, 6);
    await cloud.ok(['server', 'unrescue', 'vm1']);
    await status('vm1', 'ACTIVE');
    await consoleWith('vm1', READY_MARKER, 7);
    await cloud.ok(['server', 'rebuild', '--image', 'tstack-test', '--wait', 'vm1']);
    await status('vm1', 'ACTIVE');
    // A new disk from the image, and the config drive made again: user-data runs once more.
    const console = await consoleWith('vm1', READY_MARKER, 1);
    assert.match(console, /user-data ran on vm1/);
  });

  it('re-adopts the running guest after tstack up is killed with SIGKILL and started again', async () => {
    const before = qemuPidsOf(cloud.dataDir);
    assert.equal(before.length, 1);
    const seen = await cloud.ok(['console', 'log', 'show', 'vm1']);
    const [markers, buttons] = [count(seen, READY_MARKER), count(seen, POWER_BUTTON)];
    await cloud.killAndRestart();
    // The guest ran on through the restart, in the same process.
    assert.deepEqual(qemuPidsOf(cloud.dataDir), before);
    assert.equal((await status('vm1', 'ACTIVE'))['OS-EXT-STS:power_state'], 1);
    await cloud.ok(['server', 'stop', 'vm1']);
    await status('vm1', 'SHUTOFF');
    const console = await consoleWith('vm1', POWER_BUTTON, buttons + 1);
    assert.equal(count(console, READY_MARKER), markers, console);
    await cloud.ok(['server', 'start', 'vm1']);
    await status('vm1', 'ACTIVE');
    await consoleWith('vm1', READY_MARKER, markers + 1);
  });

  it('plugs interfaces into the running guest and one out again, as the console shows', async () => {
    const id = String((await cloud.json(['server', 'show', 'vm1']))['id']);
    const ports = async () => cloud.json<Row[]>(['port', 'list', '--server', 'vm1']);
    const [first] = await ports();
    await cloud.ok(['server', 'add', 'network', 'vm1', 'private']);
    const added = (await ports()).find((p) => p['ID'] !== first?.['ID']);
    assert.ok(added !== undefined);
    await consoleWith('vm1', `tstack-test: nic added eth1 ${String(added['MAC Address'])}`, 1);

    await cloud.ok(['port', 'create', '--network', 'private', 'p2']);
    await cloud.ok(['server', 'add', 'port', 'vm1', 'p2']);
    const p2 = await cloud.json(['port', 'show', 'p2']);
    assert.equal(p2['device_id'], id);
    await consoleWith('vm1', `tstack-test: nic added eth2 ${String(p2['mac_address'])}`, 1);

    await cloud.ok(['server', 'remove', 'port', 'vm1', String(added['ID'])]);
    await consoleWith('vm1', 'tstack-test: nic removed eth1', 1);
    assert.deepEqual((await ports()).map((p) => p['ID']).sort(), [first?.['ID'], p2['id']].sort());
    // The port the server made for it went with it; p2 stays with the guest from here on.
    await cloud.fails(['port', 'show', String(added['ID'])]);
  });

  it('resizes and confirms; migrates cold and live between the two hypervisors', async () => {
    const seen = await cloud.ok(['console', 'log', 'show', 'vm1']);
    const [markers, buttons] = [count(seen, READY_MARKER), count(seen, POWER_BUTTON)];
    await cloud.ok(['server', 'resize', '--flavor', 'm1.small', 'vm1']);
    await status('vm1', 'VERIFY_RESIZE');
    await cloud.ok(['server', 'resize', 'confirm', 'vm1']);
    const resized = await status('vm1', 'ACTIVE');
    assert.match(String(resized['flavor']), /m1\.small/);
    // The resized guest booted once more, from its own disk.
    await consoleWith('vm1', READY_MARKER, markers + 1);

    const before = await host('vm1');
    await cloud.ok(['server', 'migrate', 'vm1']);
    await status('vm1', 'VERIFY_RESIZE');
    await cloud.ok(['server', 'resize', 'confirm', 'vm1']);
    await status('vm1', 'ACTIVE');
    const after = await host('vm1');
    assert.notEqual(after, before, 'cold migration moved it');
    // The console's history moved along; the guest booted again on the other host.
    await consoleWith('vm1', READY_MARKER, markers + 2);

    await cloud.ok(['server', 'migrate', '--live-migration', 'vm1']);
    await status('vm1', 'ACTIVE');
    assert.equal(await host('vm1'), before, 'live migration moved it back');
    // It kept running through the move: no new boot, and it answers the power button there.
    await cloud.ok(['server', 'stop', 'vm1']);
    await status('vm1', 'SHUTOFF');
    const console = await consoleWith('vm1', POWER_BUTTON, buttons + 1);
    assert.equal(count(console, READY_MARKER), markers + 2, console);
  });

  it('deletes, leaving no QEMU process, guest folder or tap device', async () => {
    const ports = await cloud.json<Row[]>(['port', 'list', '--server', 'vm1']);
    assert.equal(ports.length, 2, 'its own port and p2');
    const network = String((await cloud.json(['network', 'show', 'private']))['id']);
    const links = [
      bridgeName(network),
      ...['ts-qemu', 'ts-qemu-2'].flatMap((h) => ports.map((p) => tapName(h, String(p['ID'])))),
    ];
    await cloud.ok(['server', 'start', 'vm1']);
    await status('vm1', 'ACTIVE');
    const running = tapName(await host('vm1'), String(ports[0]?.['ID']));
    assert.ok(execFileSync('ip', ['-br', 'link'], { encoding: 'utf8' }).includes(running));
    await cloud.ok(['server', 'delete', '--wait', 'vm1']);
    const end = Date.now() + 10_000;
    while (qemuPidsOf(cloud.dataDir).length > 0 && Date.now() < end)
      await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(qemuPidsOf(cloud.dataDir), []);
    const qemuDir = join(cloud.dataDir, 'qemu');
    for (const folder of readdirSync(qemuDir).filter((f) => f.startsWith('host-')))
      assert.deepEqual(
        readdirSync(join(qemuDir, folder)).filter((f) => f !== 'host.name'),
        [],
        folder,
      );
    const present = execFileSync('ip', ['-br', 'link'], { encoding: 'utf8' });
    for (const link of links) assert.ok(!present.includes(link), `${link} is still there`);
    // The port the user brought is theirs again, unbound.
    assert.equal((await cloud.json(['port', 'show', 'p2']))['device_id'], '');
  });
});
