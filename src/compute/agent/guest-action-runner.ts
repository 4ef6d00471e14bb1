/**
 * Runs one guest action (`GUEST_ACTIONS`) through the host's virt driver (and, for a shelve, the
 * image, network and placement services). A driver without the capability an action needs
 * (pause, suspend) refuses it with a message the fault carries.
 */
import { toDbTimestamp } from '../../common/db/portable.ts';
import type { ImageClient } from '../../image/client.ts';
import type { NetworkClient } from '../../network/client.ts';
import type { PlacementClient } from '../../placement/client.ts';
import type { GuestActionName } from '../guest-actions.ts';
import type { Instance, VmState } from '../instance-model.ts';
import { bindPorts } from '../instance-network.ts';
import type { StateChange } from '../instances.ts';
import {
  canPause,
  canRescue,
  canSnapshot,
  canSuspend,
  POWER_STATE,
  type VirtDriver,
} from '../virt/driver.ts';
import { guestSpecOf } from './guest-spec.ts';

/** How long a stop waits for the guest to shut down by itself (Nova's `shutdown_timeout`). */
const SHUTDOWN_TIMEOUT_MS = 60_000;

export class UnsupportedActionError extends Error {
  constructor(action: string, driver: string) {
    super(`The ${driver} driver cannot ${action} a guest.`);
    this.name = 'UnsupportedActionError';
  }
}

/** What an action needs besides the instance: the host's driver and its neighbours. */
export type GuestActionContext = {
  driver: VirtDriver;
  driverName: string;
  images: ImageClient;
  network: NetworkClient;
  placement: PlacementClient;
  host: string;
  requestId: string;
  /** Whether a shelved guest leaves its host at once (Nova's `shelved_offload_time` 0). */
  offloadAtOnce: boolean;
  now: () => Date;
};

/**
 * Where an action ends when that is not the table's `vm_state` (a rebuild of a stopped server
 * ends stopped), and the columns it changes besides the states.
 */
export type GuestActionOutcome = { to?: VmState; change?: StateChange };

/** Does the action. */
export async function runGuestAction(
  ctx: GuestActionContext,
  instance: Instance,
  name: GuestActionName,
  payload: Readonly<Record<string, unknown>>,
): Promise<GuestActionOutcome> {
  const { driver, driverName, images } = ctx;
  const uuid = instance.row.uuid;
  switch (name) {
    case 'stop':
      await driver.powerOff(uuid, SHUTDOWN_TIMEOUT_MS);
      return {};
    case 'start':
      await driver.powerOn(uuid);
      return {};
    case 'reboot_soft':
    case 'reboot_hard':
      await driver.reboot(uuid, name === 'reboot_hard');
      return {};
    case 'pause':
    case 'unpause':
      if (!canPause(driver)) throw new UnsupportedActionError(name, driverName);
      await (name === 'pause' ? driver.pause(uuid) : driver.unpause(uuid));
      return {};
    case 'suspend':
    case 'resume':
      if (!canSuspend(driver)) throw new UnsupportedActionError(name, driverName);
      await (name === 'suspend' ? driver.suspend(uuid) : driver.resume(uuid));
      return {};
    case 'rescue': {
      if (!canRescue(driver)) throw new UnsupportedActionError(name, driverName);
      const image = payload['rescueImage'];
      await driver.rescue(uuid, typeof image === 'string' ? image : instance.row.image_ref);
      return {};
    }
    case 'unrescue':
      if (!canRescue(driver)) throw new UnsupportedActionError(name, driverName);
      await driver.unrescue(uuid);
      return {};
    case 'rebuild':
      await driver.destroy(uuid);
      await driver.spawn(guestSpecOf(instance, instance.networkInfo));
      if (payload['oldVmState'] === 'stopped') {
        await driver.powerOff(uuid, SHUTDOWN_TIMEOUT_MS);
        return { to: 'stopped' };
      }
      return {};
    case 'snapshot':
      await snapshotInto(ctx, instance, String(payload['imageId']), false);
      return { to: instance.row.vm_state as VmState };
    case 'shelve': {
      const image = String(payload['imageId']);
      await snapshotInto(ctx, instance, image, true);
      const shelved: StateChange = {
        shelved_image_id: image,
        shelved_at: toDbTimestamp(ctx.now()),
        shelved_host: ctx.host,
      };
      if (!ctx.offloadAtOnce) return { change: shelved };
      return { to: 'shelved_offloaded', change: { ...shelved, ...(await offload(ctx, instance)) } };
    }
    case 'shelve_offload':
      return { change: await offload(ctx, instance) };
    case 'unshelve': {
      await driver.powerOn(uuid);
      const image = instance.row.shelved_image_id;
      if (image !== null) await images.deleteImage(image).catch(() => undefined);
      return { change: { shelved_image_id: null, shelved_at: null, shelved_host: null } };
    }
  }
}

/**
 * Copies the guest's disk into the queued image `image` (stopping the guest first for a
 * shelve). Done once: when the image is already active a previous run uploaded it, and the guest
 * may be gone since. On failure the queued image goes, as Nova deletes it.
 */
async function snapshotInto(
  ctx: GuestActionContext,
  instance: Instance,
  image: string,
  stopFirst: boolean,
): Promise<void> {
  const { driver, driverName, images } = ctx;
  const uuid = instance.row.uuid;
  if ((await images.getImage(image))?.status === 'active') return;
  try {
    if (!canSnapshot(driver)) throw new UnsupportedActionError('snapshot', driverName);
    if (stopFirst) await driver.powerOff(uuid, SHUTDOWN_TIMEOUT_MS);
    const disk = await driver.snapshot(uuid);
    await images.uploadImage(image, disk.data);
  } catch (err) {
    await images.deleteImage(image).catch(() => undefined);
    throw err;
  }
}

/**
 * Lets a shelved guest go from its host (Nova's shelve offload): the guest is destroyed, its
 * ports are unbound (they stay the server's) and its allocations in placement are removed. The
 * instance keeps no host until it is unshelved. Each step may be repeated.
 */
export async function offload(
  ctx: Pick<GuestActionContext, 'driver' | 'network' | 'placement' | 'requestId'>,
  instance: Instance,
): Promise<StateChange> {
  const uuid = instance.row.uuid;
  await ctx.driver.destroy(uuid);
  const vifs = await bindPorts(ctx.network, instance, '', ctx.requestId);
  await ctx.placement.deleteAllocations(uuid);
  return { host: null, node: null, power_state: POWER_STATE.SHUTDOWN, networkInfo: vifs };
}
