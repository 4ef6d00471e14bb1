/**
 * Runs one guest action (`GUEST_ACTIONS`) through the host's virt driver. A driver without the
 * capability an action needs (pause, suspend) refuses it with a message the fault carries.
 */
import type { GuestActionName } from '../guest-actions.ts';
import type { Instance, VmState } from '../instance-model.ts';
import type { ImageClient } from '../../image/client.ts';
import { canPause, canRescue, canSnapshot, canSuspend, type VirtDriver } from '../virt/driver.ts';
import { guestSpecOf } from './guest-spec.ts';

/** How long a stop waits for the guest to shut down by itself (Nova's `shutdown_timeout`). */
const SHUTDOWN_TIMEOUT_MS = 60_000;

export class UnsupportedActionError extends Error {
  constructor(action: string, driver: string) {
    super(`The ${driver} driver cannot ${action} a guest.`);
    this.name = 'UnsupportedActionError';
  }
}

/**
 * Does the action; returns the `vm_state` it ends in when that is not the table's (a rebuild of
 * a stopped server ends stopped).
 */
export async function runGuestAction(
  driver: VirtDriver,
  driverName: string,
  instance: Instance,
  name: GuestActionName,
  payload: Readonly<Record<string, unknown>>,
  images: ImageClient,
): Promise<VmState | void> {
  const uuid = instance.row.uuid;
  switch (name) {
    case 'stop':
      return driver.powerOff(uuid, SHUTDOWN_TIMEOUT_MS);
    case 'start':
      return driver.powerOn(uuid);
    case 'reboot_soft':
      return driver.reboot(uuid, false);
    case 'reboot_hard':
      return driver.reboot(uuid, true);
    case 'pause':
    case 'unpause':
      if (!canPause(driver)) throw new UnsupportedActionError(name, driverName);
      return name === 'pause' ? driver.pause(uuid) : driver.unpause(uuid);
    case 'suspend':
    case 'resume':
      if (!canSuspend(driver)) throw new UnsupportedActionError(name, driverName);
      return name === 'suspend' ? driver.suspend(uuid) : driver.resume(uuid);
    case 'rescue': {
      if (!canRescue(driver)) throw new UnsupportedActionError(name, driverName);
      const image = payload['rescueImage'];
      return driver.rescue(uuid, typeof image === 'string' ? image : instance.row.image_ref);
    }
    case 'unrescue':
      if (!canRescue(driver)) throw new UnsupportedActionError(name, driverName);
      return driver.unrescue(uuid);
    case 'rebuild':
      await driver.destroy(uuid);
      await driver.spawn(guestSpecOf(instance, instance.networkInfo));
      if (payload['oldVmState'] === 'stopped') {
        await driver.powerOff(uuid, SHUTDOWN_TIMEOUT_MS);
        return 'stopped';
      }
      return undefined;
    case 'snapshot': {
      const image = String(payload['imageId']);
      try {
        if (!canSnapshot(driver)) throw new UnsupportedActionError(name, driverName);
        const disk = await driver.snapshot(uuid);
        await images.uploadImage(image, disk.data);
      } catch (err) {
        // The queued image would never become active: it goes, as Nova deletes it.
        await images.deleteImage(image).catch(() => undefined);
        throw err;
      }
      return instance.row.vm_state as VmState;
    }
  }
}
