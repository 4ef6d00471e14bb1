/**
 * The QEMU driver on real guests (the test image, under TCG, no network): the promises every
 * driver keeps, then what only a real guest shows: the config drive's hostname, key and
 * user-data on the console, a clean ACPI power-off, and nothing left behind by a destroy.
 * Every QEMU process here is this test's own, ended by destroy (by its pid at worst).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { POWER_STATE } from '../../../../src/compute/virt/driver.ts';
import { READY_MARKER } from '../../../../src/compute/virt/qemu/guest-init.ts';
import { QemuDriver, type QemuImage } from '../../../../src/compute/virt/qemu/qemu-driver.ts';
import { buildTestImage } from '../../../../src/compute/virt/qemu/test-image.ts';
import { driverConformance, guestSpec } from '../driver-conformance.ts';

const BOOT_WAIT_MS = 60_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

type Made = {
  driver: QemuDriver;
  dir: string;
  settled: (uuid: string) => Promise<void>;
  /** Images the driver boots, by id; `tstack-test` is the built test image. */
  images: Map<string, QemuImage>;
};

async function makeDriver(): Promise<Made> {
  const dir = mkdtempSync(join(tmpdir(), 'ts-qemu-driver-'));
  const image = await buildTestImage({ cacheDir: join(dir, 'cache') });
  const images = new Map<string, QemuImage>([
    ['tstack-test', { path: image.path, format: 'qcow2' }],
  ]);
  const driver = new QemuDriver({
    hostname: 'qemu-test',
    instancesDir: join(dir, 'instances'),
    image: async (id) => {
      const found = images.get(id);
      if (found === undefined) throw new Error(`no image ${id}`);
      return found;
    },
    imageRoots: [join(dir, 'cache')],
    softRebootTimeoutMs: 20_000,
  });
  // Each boot appends one marker line: wait for one more than was seen before.
  const seen = new Map<string, number>();
  const settled = async (uuid: string) => {
    const until = Date.now() + BOOT_WAIT_MS;
    for (;;) {
      const markers = (await driver.consoleOutput(uuid)).split(READY_MARKER).length - 1;
      if (markers > (seen.get(uuid) ?? 0)) {
        seen.set(uuid, markers);
        return;
      }
      if (Date.now() > until) throw new Error(`guest ${uuid} did not come up`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  return { driver, dir, settled, images };
}

driverConformance('qemu', async () => {
  const made = await makeDriver();
  return {
    driver: made.driver,
    imageId: 'tstack-test',
    settled: made.settled,
    cleanup: async () => rmSync(made.dir, { recursive: true, force: true }),
  };
});

describe('qemu driver: what the guest shows', { timeout: 300_000 }, () => {
  let made: Made;
  before(async () => {
    made = await makeDriver();
  });
  after(async () => {
    for (const uuid of await made.driver.listInstances()) await made.driver.destroy(uuid);
    rmSync(made.dir, { recursive: true, force: true });
  });

  it('boots with a config drive: hostname, key and user-data, then powers off cleanly', async () => {
    const script = '#!/bin/sh\necho "hello from user-data on $(hostname)"\n';
    const spec = guestSpec('tstack-test', {
      hostname: 'cd-guest',
      configDrive: true,
      keyData: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHRzdGFja3Rlc3RrZXlvbmx5b25lb25lb25lb25l k@t',
      userData: Buffer.from(script).toString('base64'),
    });
    await made.driver.spawn(spec);
    await made.settled(spec.uuid);
    const console = await made.driver.consoleOutput(spec.uuid);
    assert.match(console, /tstack-test: cloud data from config-drive/, console);
    assert.match(console, /hello from user-data on cd-guest/);
    assert.match(console, /tstack-test: ready hostname=cd-guest keys=1 source=config-drive/);
    await made.driver.powerOff(spec.uuid, 30_000);
    assert.equal((await made.driver.getInfo(spec.uuid))?.powerState, POWER_STATE.SHUTDOWN);
    // The guest went down by itself on the power button, not by QEMU being ended.
    assert.match(
      await made.driver.consoleOutput(spec.uuid),
      /tstack-test: power button: powering off/,
    );
  });

  it('snapshots a guest into an image another guest boots from', async () => {
    const spec = guestSpec('tstack-test');
    await made.driver.spawn(spec);
    await made.settled(spec.uuid);
    const disk = await made.driver.snapshot(spec.uuid);
    assert.equal(disk.diskFormat, 'qcow2');
    const file = join(made.dir, 'cache', 'snapshot-1.qcow2');
    writeFileSync(file, disk.data);
    const info = JSON.parse(
      execFileSync('qemu-img', ['info', '--output=json', '-f', 'qcow2', file], {
        encoding: 'utf8',
      }),
    ) as Record<string, unknown>;
    // One self-contained image: the base image is copied in, not referred to.
    assert.equal(info['backing-filename'], undefined);
    assert.equal((await made.driver.getInfo(spec.uuid))?.powerState, POWER_STATE.RUNNING);
    made.images.set('snapshot-1', { path: file, format: 'qcow2' });
    const fromSnapshot = guestSpec('snapshot-1', { hostname: 'from-snapshot' });
    await made.driver.spawn(fromSnapshot);
    await made.settled(fromSnapshot.uuid);
    assert.match(await made.driver.consoleOutput(fromSnapshot.uuid), /tstack-test: ready/);
    await made.driver.destroy(fromSnapshot.uuid);
    await made.driver.destroy(spec.uuid);
  });

  it('leaves no process and no file behind a destroy', async () => {
    const spec = guestSpec('tstack-test');
    await made.driver.spawn(spec);
    const folder = join(made.dir, 'instances', spec.uuid);
    const pid = Number(readFileSync(join(folder, 'qemu.pid'), 'utf8'));
    assert.ok(Number.isInteger(pid) && pid > 1);
    process.kill(pid, 0);
    await made.driver.destroy(spec.uuid);
    // An ended process stays a zombie until init reaps it, a moment later.
    const until = Date.now() + 5000;
    while (alive(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    assert.equal(alive(pid), false, `process ${pid} is still there`);
    assert.throws(() => readFileSync(join(folder, 'guest.json')), { code: 'ENOENT' });
  });
});
