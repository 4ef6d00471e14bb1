/**
 * What every virt driver promises the agent (see `src/compute/virt/driver.ts`), run against each
 * driver: the fake and QEMU. A driver's own test file calls `driverConformance` with a factory.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  canPause,
  canPlug,
  canSnapshot,
  GuestNotFoundError,
  hasConsole,
  POWER_STATE,
  type GuestSpec,
  type VirtDriver,
  type Vif,
} from '../../../src/compute/virt/driver.ts';

export type DriverUnderTest = {
  driver: VirtDriver;
  /** Image id the driver can boot. */
  imageId: string;
  /** Waits until the guest is up enough to take ACPI and QMP commands (no-op for the fake). */
  settled?: (uuid: string) => Promise<void>;
  cleanup: () => Promise<void>;
};

export function guestSpec(imageId: string, fields: Partial<GuestSpec> = {}): GuestSpec {
  const uuid = randomUUID();
  return {
    uuid,
    name: `guest-${uuid.slice(0, 8)}`,
    hostname: `guest-${uuid.slice(0, 8)}`,
    vcpus: 1,
    memoryMb: 128,
    rootGb: 0,
    ephemeralGb: 0,
    swapMb: 0,
    imageId,
    vifs: [],
    userData: null,
    keyName: null,
    keyData: null,
    metadata: {},
    configDrive: false,
    ...fields,
  };
}

/** An interface on a network of its own (a QEMU host makes a bridge for it, and removes it). */
export function testVif(n: number, fields: Partial<Vif> = {}): Vif {
  const id = randomUUID();
  return {
    portId: id,
    networkId: `net-${id}`,
    macAddress: `fa:16:3e:00:00:${n.toString(16).padStart(2, '0')}`,
    addresses: [],
    mtu: 1500,
    ...fields,
  };
}

export function driverConformance(name: string, make: () => Promise<DriverUnderTest>): void {
  describe(`virt driver conformance: ${name}`, { timeout: 300_000 }, () => {
    let t: DriverUnderTest;
    before(async () => {
      t = await make();
    });
    after(async () => {
      for (const uuid of await t.driver.listInstances()) await t.driver.destroy(uuid);
      await t.cleanup();
    });
    const settled = (uuid: string) => t.settled?.(uuid) ?? Promise.resolve();
    const state = async (uuid: string) => (await t.driver.getInfo(uuid))?.powerState;

    it('reports the host it runs on', async () => {
      const host = await t.driver.hostResources();
      assert.ok(host.vcpus > 0 && host.memoryMb > 0 && host.localGb > 0, JSON.stringify(host));
      assert.ok(host.hypervisorType.length > 0);
    });

    it('spawns a guest once, however often asked, and lists it', async () => {
      const spec = guestSpec(t.imageId);
      await t.driver.spawn(spec);
      await t.driver.spawn(spec);
      assert.equal(await state(spec.uuid), POWER_STATE.RUNNING);
      assert.deepEqual(
        (await t.driver.listInstances()).filter((u) => u === spec.uuid),
        [spec.uuid],
      );
      await t.driver.destroy(spec.uuid);
    });

    it('powers a guest off and on, reboots it both ways, pauses and unpauses it', async () => {
      const spec = guestSpec(t.imageId);
      await t.driver.spawn(spec);
      await settled(spec.uuid);
      await t.driver.powerOff(spec.uuid, 30_000);
      assert.equal(await state(spec.uuid), POWER_STATE.SHUTDOWN);
      await t.driver.powerOff(spec.uuid, 30_000);
      await t.driver.powerOn(spec.uuid);
      assert.equal(await state(spec.uuid), POWER_STATE.RUNNING);
      await t.driver.powerOn(spec.uuid);
      await settled(spec.uuid);
      await t.driver.reboot(spec.uuid, false);
      assert.equal(await state(spec.uuid), POWER_STATE.RUNNING);
      await t.driver.reboot(spec.uuid, true);
      assert.equal(await state(spec.uuid), POWER_STATE.RUNNING);
      if (canPause(t.driver)) {
        await t.driver.pause(spec.uuid);
        assert.equal(await state(spec.uuid), POWER_STATE.PAUSED);
        await t.driver.unpause(spec.uuid);
        assert.equal(await state(spec.uuid), POWER_STATE.RUNNING);
      }
      await t.driver.destroy(spec.uuid);
    });

    it('destroys a guest in any state, twice, and then knows nothing of it', async () => {
      const running = guestSpec(t.imageId);
      const stopped = guestSpec(t.imageId);
      await t.driver.spawn(running);
      await t.driver.spawn(stopped);
      await t.driver.powerOff(stopped.uuid, 0);
      for (const spec of [running, stopped]) {
        await t.driver.destroy(spec.uuid);
        await t.driver.destroy(spec.uuid);
        assert.equal(await t.driver.getInfo(spec.uuid), undefined);
        assert.ok(!(await t.driver.listInstances()).includes(spec.uuid));
        await assert.rejects(t.driver.powerOn(spec.uuid), GuestNotFoundError);
      }
    });

    it('copies a running guest disk, and the guest goes on running', async () => {
      if (!canSnapshot(t.driver)) return;
      const spec = guestSpec(t.imageId);
      await t.driver.spawn(spec);
      await settled(spec.uuid);
      const disk = await t.driver.snapshot(spec.uuid);
      assert.ok(['raw', 'qcow2'].includes(disk.diskFormat), disk.diskFormat);
      assert.ok(disk.data.length > 0);
      assert.equal(await state(spec.uuid), POWER_STATE.RUNNING);
      await t.driver.destroy(spec.uuid);
      await assert.rejects(t.driver.snapshot(spec.uuid), GuestNotFoundError);
    });

    it('plugs an interface into a running guest and out, each once however often asked', async () => {
      if (!canPlug(t.driver)) return;
      const spec = guestSpec(t.imageId);
      const vif = testVif(1);
      await t.driver.spawn(spec);
      await settled(spec.uuid);
      await t.driver.attachInterface(spec.uuid, vif);
      await t.driver.attachInterface(spec.uuid, vif);
      await t.driver.detachInterface(spec.uuid, vif.portId);
      await t.driver.detachInterface(spec.uuid, vif.portId);
      await t.driver.detachInterface(spec.uuid, 'no-such-port');
      assert.equal(await state(spec.uuid), POWER_STATE.RUNNING);
      await t.driver.destroy(spec.uuid);
      await assert.rejects(t.driver.attachInterface(spec.uuid, vif), GuestNotFoundError);
      await assert.rejects(t.driver.detachInterface(spec.uuid, vif.portId), GuestNotFoundError);
    });

    it('shows the console of a guest it has, and refuses one it lacks', async () => {
      if (!hasConsole(t.driver)) return;
      const spec = guestSpec(t.imageId);
      await t.driver.spawn(spec);
      await settled(spec.uuid);
      const all = await t.driver.consoleOutput(spec.uuid);
      assert.ok(all.length > 0);
      const last = await t.driver.consoleOutput(spec.uuid, 1);
      assert.equal(last.split('\n').length, 2, JSON.stringify(last));
      assert.ok(all.endsWith(last));
      await t.driver.destroy(spec.uuid);
      await assert.rejects(t.driver.consoleOutput(spec.uuid), GuestNotFoundError);
    });
  });
}
