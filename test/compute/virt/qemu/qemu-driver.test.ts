/**
 * The QEMU driver on real guests (the test image, under TCG): the promises every driver keeps,
 * then what only a real guest shows, each asserted on the guest's serial console: the config
 * drive's hostname, key and user-data, a clean ACPI power-off, suspend and resume from saved
 * memory, rescue, snapshots, resizes and migrations between two hosts of one machine, tap
 * devices on a bridge, and nothing left behind by a destroy. Every QEMU process here is this
 * test's own, ended by destroy (by its pid at worst); every link it makes is named `ts-…`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  GuestDeviceError,
  POWER_STATE,
  type GuestSpec,
} from '../../../../src/compute/virt/driver.ts';
import { READY_MARKER } from '../../../../src/compute/virt/qemu/guest-init.ts';
import { bridgeName, NIC_SLOTS, tapName } from '../../../../src/compute/virt/qemu/guest-nics.ts';
import {
  BaseImageCache,
  UnusableImageError,
} from '../../../../src/compute/virt/qemu/image-cache.ts';
import { hostFolder, QemuDriver } from '../../../../src/compute/virt/qemu/qemu-driver.ts';
import { testImagePath } from '../../../helpers/guest-image.ts';
import { driverConformance, guestSpec, testVif } from '../driver-conformance.ts';

const BOOT_WAIT_MS = 60_000;
const POWER_BUTTON = 'tstack-test: power button: powering off';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function linkExists(name: string): boolean {
  try {
    execFileSync('ip', ['link', 'show', 'dev', name], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

function occurrences(text: string, what: string): number {
  return text.split(what).length - 1;
}

type Machine = {
  root: string;
  /** Local image files the cache fetches from, by image id. */
  files: Map<string, { path: string; format: string }>;
  cache: BaseImageCache;
  host: (name: string) => QemuDriver;
  /** Waits until the guest's console shows `what` `count` times. */
  console: (driver: QemuDriver, uuid: string, what: string, count: number) => Promise<string>;
  cleanup: () => Promise<void>;
};

/** A machine folder with the test image as image `tstack-test`, and QEMU hosts on it. */
async function makeMachine(): Promise<Machine> {
  const root = mkdtempSync(join(tmpdir(), 'ts-qemu-'));
  const files = new Map([['tstack-test', { path: await testImagePath(), format: 'qcow2' }]]);
  const cache = new BaseImageCache({
    root,
    fetch: async (id, file) => {
      const found = files.get(id);
      if (found === undefined) throw new Error(`no image ${id}`);
      copyFileSync(found.path, file);
      return found.format;
    },
  });
  const drivers: QemuDriver[] = [];
  return {
    root,
    files,
    cache,
    host: (hostname) => {
      const driver = new QemuDriver({ hostname, root, images: cache, softRebootTimeoutMs: 20_000 });
      drivers.push(driver);
      return driver;
    },
    console: async (driver, uuid, what, count) => {
      const until = Date.now() + BOOT_WAIT_MS;
      for (;;) {
        const text = await driver.consoleOutput(uuid);
        if (occurrences(text, what) >= count) return text;
        if (Date.now() > until)
          throw new Error(`guest ${uuid} never showed ${what} ${count} times:\n${text}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    cleanup: async () => {
      for (const driver of drivers)
        for (const uuid of await driver.listInstances()) await driver.destroy(uuid);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

driverConformance('qemu', async () => {
  const machine = await makeMachine();
  const driver = machine.host('qemu-test');
  // Each boot appends one marker line: wait for one more than was seen before.
  const seen = new Map<string, number>();
  return {
    driver,
    imageId: 'tstack-test',
    settled: async (uuid) => {
      const n = (seen.get(uuid) ?? 0) + 1;
      await machine.console(driver, uuid, READY_MARKER, n);
      seen.set(uuid, n);
    },
    cleanup: machine.cleanup,
  };
});

describe('qemu driver: what the guest shows', { timeout: 600_000 }, () => {
  let m: Machine;
  let a: QemuDriver;
  let b: QemuDriver;
  before(async () => {
    m = await makeMachine();
    a = m.host('ts-host-a');
    b = m.host('ts-host-b');
  });
  after(() => m.cleanup());
  const ready = (d: QemuDriver, uuid: string, n = 1) => m.console(d, uuid, READY_MARKER, n);
  const state = async (d: QemuDriver, uuid: string) => (await d.getInfo(uuid))?.powerState;

  it('boots with a config drive: hostname, key and user-data, then powers off cleanly', async () => {
    const script = '#!/bin/sh\necho "hello from user-data on $(hostname)"\n';
    const spec = guestSpec('tstack-test', {
      hostname: 'cd-guest',
      configDrive: true,
      keyName: 'k1',
      keyData: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHRzdGFja3Rlc3RrZXlvbmx5b25lb25lb25lb25l k@t',
      userData: Buffer.from(script).toString('base64'),
    });
    await a.spawn(spec);
    const console = await ready(a, spec.uuid);
    assert.match(console, /tstack-test: cloud data from config-drive/, console);
    assert.match(console, /hello from user-data on cd-guest/);
    assert.match(console, /tstack-test: ready hostname=cd-guest keys=1 source=config-drive/);
    await a.powerOff(spec.uuid, 30_000);
    assert.equal(await state(a, spec.uuid), POWER_STATE.SHUTDOWN);
    // The guest went down by itself on the power button, not by QEMU being ended.
    assert.match(await a.consoleOutput(spec.uuid), new RegExp(POWER_BUTTON));
    await a.destroy(spec.uuid);
  });

  it('suspends a guest to disk with no process left, and resumes it where it was', async () => {
    const spec = guestSpec('tstack-test');
    await a.spawn(spec);
    await ready(a, spec.uuid);
    const pid = Number(readFileSync(join(guestDir(m, 'ts-host-a', spec.uuid), 'qemu.pid'), 'utf8'));
    await a.suspend(spec.uuid);
    assert.equal(await state(a, spec.uuid), POWER_STATE.SUSPENDED);
    await waitGone(pid);
    await a.resume(spec.uuid);
    assert.equal(await state(a, spec.uuid), POWER_STATE.RUNNING);
    // The same guest goes on: no second boot, and its acpid (started at boot) still answers.
    await a.powerOff(spec.uuid, 30_000);
    const console = await a.consoleOutput(spec.uuid);
    assert.equal(occurrences(console, READY_MARKER), 1, console);
    assert.equal(occurrences(console, POWER_BUTTON), 1, console);
    await a.destroy(spec.uuid);
  });

  it('rescues a guest from another disk with its own disk attached, and unrescues it', async () => {
    const spec = guestSpec('tstack-test', { hostname: 'to-rescue' });
    await a.spawn(spec);
    await ready(a, spec.uuid);
    await a.rescue(spec.uuid, 'tstack-test');
    await ready(a, spec.uuid, 2);
    const cmdline = qemuCmdline(m, 'ts-host-a', spec.uuid);
    assert.ok(
      cmdline.indexOf('rescue.qcow2') < cmdline.indexOf('/disk.qcow2'),
      'the rescue disk comes first',
    );
    await a.unrescue(spec.uuid);
    await ready(a, spec.uuid, 3);
    assert.ok(!qemuCmdline(m, 'ts-host-a', spec.uuid).includes('rescue.qcow2'));
    await a.destroy(spec.uuid);
  });

  it('snapshots a guest into an image another guest boots from', async () => {
    const spec = guestSpec('tstack-test');
    await a.spawn(spec);
    await ready(a, spec.uuid);
    const disk = await a.snapshot(spec.uuid);
    assert.equal(disk.diskFormat, 'qcow2');
    const file = join(m.root, 'snapshot-1.qcow2');
    writeFileSync(file, disk.data);
    // One self-contained image: the base image is copied in, not referred to.
    assert.equal(qemuImgInfo(file)['backing-filename'], undefined);
    assert.equal(await state(a, spec.uuid), POWER_STATE.RUNNING);
    m.files.set('snapshot-1', { path: file, format: 'qcow2' });
    const fromSnapshot = guestSpec('snapshot-1', { hostname: 'from-snapshot' });
    await a.spawn(fromSnapshot);
    await ready(a, fromSnapshot.uuid);
    await a.destroy(fromSnapshot.uuid);
    await a.destroy(spec.uuid);
  });

  it('resizes on its host: a bigger disk, the old guest kept for a revert, dropped by a confirm', async () => {
    const spec = guestSpec('tstack-test', { rootGb: 1 });
    await a.spawn(spec);
    await ready(a, spec.uuid);
    await a.powerOff(spec.uuid, 30_000);
    const bigger = { ...spec, rootGb: 2, memoryMb: 192 };
    await a.spawnFrom(bigger, 'ts-host-a');
    await a.spawnFrom(bigger, 'ts-host-a');
    const dir = guestDir(m, 'ts-host-a', spec.uuid);
    assert.equal(qemuImgInfo(join(dir, 'disk.qcow2'))['virtual-size'], 2 * 1024 ** 3);
    await a.powerOn(spec.uuid);
    await ready(a, spec.uuid, 2);
    assert.ok(qemuCmdline(m, 'ts-host-a', spec.uuid).includes('192'));
    await a.revertResize(spec.uuid);
    assert.equal(qemuImgInfo(join(dir, 'disk.qcow2'))['virtual-size'], 1024 ** 3);
    await a.powerOn(spec.uuid);
    await ready(a, spec.uuid, 2);
    await a.powerOff(spec.uuid, 30_000);
    await a.spawnFrom(bigger, 'ts-host-a');
    assert.ok(existsSync(`${dir}_resize`));
    await a.confirmResize(spec.uuid);
    assert.ok(!existsSync(`${dir}_resize`));
    await a.destroy(spec.uuid);
  });

  it('migrates a shut-off guest to another host with its disk, and the source stays until deleted', async () => {
    const spec = guestSpec('tstack-test');
    await a.spawn(spec);
    await ready(a, spec.uuid);
    await a.powerOff(spec.uuid, 30_000);
    await b.spawnFrom(spec, 'ts-host-a');
    assert.equal(await state(b, spec.uuid), POWER_STATE.SHUTDOWN);
    assert.equal(await state(a, spec.uuid), POWER_STATE.SHUTDOWN);
    await b.powerOn(spec.uuid);
    // The console's history came along; the guest booted a second time, on b.
    await ready(b, spec.uuid, 2);
    await a.destroy(spec.uuid);
    assert.equal(await state(b, spec.uuid), POWER_STATE.RUNNING);
    await b.destroy(spec.uuid);
  });

  it('live-migrates a running guest to another host over a local socket', async () => {
    const spec = guestSpec('tstack-test', { hostname: 'traveller' });
    await a.spawn(spec);
    await ready(a, spec.uuid);
    await b.prepareIncoming(spec, 'ts-host-a');
    await a.migrateLive(spec.uuid, 'ts-host-b');
    assert.equal(await a.getInfo(spec.uuid), undefined);
    assert.equal(await state(b, spec.uuid), POWER_STATE.RUNNING);
    // The same guest runs on: it does not boot again, and its acpid answers the power button.
    await b.powerOff(spec.uuid, 30_000);
    const console = await b.consoleOutput(spec.uuid);
    assert.equal(occurrences(console, READY_MARKER), 1, console);
    assert.equal(occurrences(console, POWER_BUTTON), 1, console);
    await b.destroy(spec.uuid);
  });

  it('puts a tap per port on a bridge per network, and leaves no process, file or link behind', async () => {
    const vif = (n: number) => ({
      portId: `port-${n}-${spec.uuid}`,
      networkId: `net-${spec.uuid}`,
      macAddress: `fa:16:3e:00:00:0${n}`,
      addresses: [],
      mtu: 1450,
    });
    // With a config drive the guest does not wait for a DHCP lease that cannot come yet.
    const spec: GuestSpec = guestSpec('tstack-test', { configDrive: true });
    const withNics = { ...spec, vifs: [vif(1), vif(2)] };
    await a.spawn(withNics);
    const bridge = bridgeName(withNics.vifs[0]?.networkId ?? '');
    const taps = withNics.vifs.map((v) => tapName('ts-host-a', v.portId));
    const ports = JSON.parse(
      execFileSync('ip', ['-j', 'link', 'show', 'master', bridge], { encoding: 'utf8' }),
    ) as { ifname: string; mtu: number; address: string }[];
    assert.deepEqual(ports.map((p) => p.ifname).sort(), [...taps].sort());
    assert.ok(ports.every((p) => p.mtu === 1450));
    const console = await ready(a, spec.uuid);
    assert.match(console, /network eth0 pending/, 'the guest has a NIC (no DHCP server yet)');
    const dir = guestDir(m, 'ts-host-a', spec.uuid);
    const pid = Number(readFileSync(join(dir, 'qemu.pid'), 'utf8'));
    await a.destroy(spec.uuid);
    await waitGone(pid);
    assert.ok(!existsSync(dir));
    for (const link of [...taps, bridge]) assert.ok(!linkExists(link), `${link} is still there`);
  });

  it('plugs NICs into a running guest and out, keeps them for its next start and through a live migration', async () => {
    const net = `net-${Date.now()}`;
    const [v1, v2, v3, v4] = [1, 2, 3, 4].map((n) => testVif(n, { networkId: net }));
    assert.ok(v1 && v2 && v3 && v4);
    const spec = guestSpec('tstack-test', { configDrive: true, vifs: [v1] });
    const bridge = bridgeName(net);
    const onBridge = () =>
      (
        JSON.parse(
          execFileSync('ip', ['-j', 'link', 'show', 'master', bridge], { encoding: 'utf8' }),
        ) as { ifname: string }[]
      )
        .map((p) => p.ifname)
        .sort();
    const taps = (host: string, ...vifs: { portId: string }[]) =>
      vifs.map((v) => tapName(host, v.portId)).sort();
    await a.spawn(spec);
    await ready(a, spec.uuid);

    await a.attachInterface(spec.uuid, v2);
    await a.attachInterface(spec.uuid, v2);
    await m.console(a, spec.uuid, `tstack-test: nic added eth1 ${v2.macAddress}`, 1);
    assert.deepEqual(onBridge(), taps('ts-host-a', v1, v2));
    await a.detachInterface(spec.uuid, v2.portId);
    const removed = await m.console(a, spec.uuid, 'tstack-test: nic removed eth1', 1);
    assert.equal(occurrences(removed, 'tstack-test: nic added'), 1, 'one NIC for two attaches');
    assert.deepEqual(onBridge(), taps('ts-host-a', v1));
    await a.detachInterface(spec.uuid, v2.portId);

    // Paused, the guest takes the NIC when it goes on, and lets it go the same way.
    await a.pause(spec.uuid);
    await a.attachInterface(spec.uuid, v2);
    await a.unpause(spec.uuid);
    await m.console(a, spec.uuid, `tstack-test: nic added eth1 ${v2.macAddress}`, 2);
    await a.pause(spec.uuid);
    await a.detachInterface(spec.uuid, v2.portId);
    await a.unpause(spec.uuid);
    await m.console(a, spec.uuid, 'tstack-test: nic removed eth1', 2);
    assert.deepEqual(onBridge(), taps('ts-host-a', v1));

    // Shut off, the guest takes a NIC for its next start; its slot is the one v2 left.
    await a.powerOff(spec.uuid, 30_000);
    await a.attachInterface(spec.uuid, v3);
    await a.powerOn(spec.uuid);
    await ready(a, spec.uuid, 2);
    const cmdline = qemuCmdline(m, 'ts-host-a', spec.uuid);
    assert.match(cmdline, new RegExp(`ifname=${tapName('ts-host-a', v3.portId)}.*bus=nicslot1`));
    assert.deepEqual(onBridge(), taps('ts-host-a', v1, v3));

    // A NIC plugged in while it runs travels with it: the destination puts it in the same slot
    // whatever order the vifs come in, or QEMU could not take the guest's state.
    await a.attachInterface(spec.uuid, v4);
    await m.console(a, spec.uuid, `tstack-test: nic added eth2 ${v4.macAddress}`, 1);
    await b.prepareIncoming({ ...spec, vifs: [v4, v3, v1] }, 'ts-host-a');
    await a.migrateLive(spec.uuid, 'ts-host-b');
    assert.equal(await state(b, spec.uuid), POWER_STATE.RUNNING);
    assert.deepEqual(onBridge(), taps('ts-host-b', v1, v3, v4));
    await b.detachInterface(spec.uuid, v4.portId);
    const after = await m.console(b, spec.uuid, 'tstack-test: nic removed eth2', 1);
    assert.equal(occurrences(after, READY_MARKER), 2, 'no boot since the power-on');
    await b.destroy(spec.uuid);
    assert.ok(!linkExists(bridge), `${bridge} is still there`);
  });

  it(`takes ${NIC_SLOTS} NICs at most, and keeps a running guest's as they were when QEMU refuses one`, async () => {
    const spec = guestSpec('tstack-test', { configDrive: true });
    await a.spawn(spec);
    await a.powerOff(spec.uuid, 0);
    const net = `net-${spec.uuid}`;
    const vifs = Array.from({ length: NIC_SLOTS + 1 }, (_, n) => testVif(n, { networkId: net }));
    for (const vif of vifs.slice(0, NIC_SLOTS)) await a.attachInterface(spec.uuid, vif);
    await assert.rejects(
      a.attachInterface(spec.uuid, vifs[NIC_SLOTS] ?? vifs[0]!),
      (err: Error) => err instanceof GuestDeviceError && /8 at most/.test(err.message),
    );
    for (const vif of vifs.slice(1, NIC_SLOTS)) await a.detachInterface(spec.uuid, vif.portId);
    await a.powerOn(spec.uuid);
    // QEMU cannot make the tap (a link has its name): the attach fails, and the guest's NICs
    // stay as they were, for this start and the next.
    const bad = testVif(9, { networkId: net });
    const squatter = tapName('ts-host-a', bad.portId);
    execFileSync('ip', ['link', 'add', squatter, 'type', 'bridge']);
    try {
      await assert.rejects(
        a.attachInterface(spec.uuid, bad),
        (err: Error) => err instanceof GuestDeviceError && /QEMU refused the NIC/.test(err.message),
      );
    } finally {
      execFileSync('ip', ['link', 'del', squatter]);
    }
    await a.powerOff(spec.uuid, 0);
    await a.powerOn(spec.uuid);
    const cmdline = qemuCmdline(m, 'ts-host-a', spec.uuid);
    assert.equal(occurrences(cmdline, 'virtio-net-pci'), 1, cmdline);
    assert.ok(!cmdline.includes(squatter));
    await a.destroy(spec.uuid);
  });

  it('keeps base images while guests use them and cleans them after; refuses a backing file', async () => {
    const spec = guestSpec('tstack-test');
    await a.spawn(spec);
    const base = [...(await m.cache.references())].find(([path]) => path.includes('tstack-test'));
    assert.equal(base?.[1], 1, 'one guest on the base image');
    const unused = await m.cache.clean(0);
    assert.ok(!unused.some((p) => p.includes('tstack-test')), 'a used image stays');
    await a.destroy(spec.uuid);
    const removed = await m.cache.clean(0);
    assert.ok(
      removed.some((p) => p.includes('tstack-test')),
      String(removed),
    );

    const evil = join(m.root, 'evil.qcow2');
    execFileSync('qemu-img', [
      'create',
      '-q',
      '-f',
      'qcow2',
      '-F',
      'raw',
      '-b',
      '/etc/hostname',
      evil,
    ]);
    m.files.set('evil', { path: evil, format: 'qcow2' });
    await assert.rejects(m.cache.acquire('evil'), UnusableImageError);
    m.files.set('iso', { path: evil, format: 'iso' });
    await assert.rejects(m.cache.acquire('iso'), /boot raw and qcow2/);
  });
});

function guestDir(m: Machine, host: string, uuid: string): string {
  return join(hostFolder(m.root, host), uuid);
}

function qemuCmdline(m: Machine, host: string, uuid: string): string {
  const pid = readFileSync(join(guestDir(m, host, uuid), 'qemu.pid'), 'utf8').trim();
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
}

function qemuImgInfo(file: string): Record<string, unknown> {
  return JSON.parse(
    execFileSync('qemu-img', ['info', '-U', '--output=json', '-f', 'qcow2', file], {
      encoding: 'utf8',
    }),
  ) as Record<string, unknown>;
}

/** An ended QEMU stays a zombie until init reaps it, a moment later. */
async function waitGone(pid: number): Promise<void> {
  const until = Date.now() + 5000;
  while (alive(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  assert.equal(alive(pid), false, `process ${pid} is still there`);
}
