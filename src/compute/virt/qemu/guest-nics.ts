/**
 * A guest's network interfaces on the host: one tap device per port, on one Linux bridge per
 * network (no address, no uplink: the network data plane adds DHCP, routing and security
 * groups). QEMU makes each tap itself (`-netdev tap,ifname=…`) and it goes when QEMU does; the
 * driver puts it on its bridge once QEMU runs, and removes a bridge left with no port.
 *
 * Names are `ts-` and a digest: a bridge's of its network id, so every host of the machine
 * shares it; a tap's of its host and port, so the source and destination of a live migration
 * on one machine never clash.
 *
 * Inside the guest each NIC sits on a PCIe root port of its own, its slot, so one can be
 * plugged in or out while the guest runs. A NIC keeps its slot for the guest's life: the two
 * ends of a live migration must have the same devices at the same places.
 */
import { createHash } from 'node:crypto';
import {
  bridgePorts,
  deleteLink,
  ensureBridge,
  linkExists,
  plugIntoBridge,
  type PrivilegedRunner,
} from '../../../common/privileged/index.ts';
import { GuestDeviceError, type Vif } from '../driver.ts';

/** How many NICs a guest takes: it starts with this many PCIe root ports for them. */
export const NIC_SLOTS = 8;

/** A guest's NICs: the slot of each, by port id. */
export type NicSlots = Readonly<Record<string, number>>;

/**
 * Slots for `vifs`: each keeps its slot in `kept`, the others take the lowest free ones, in
 * order, passing over those in `busy` (slots whose device has not yet gone).
 * @throws GuestDeviceError when there are more NICs than slots.
 */
export function assignSlots(
  vifs: readonly Vif[],
  kept: NicSlots = {},
  busy: ReadonlySet<number> = new Set(),
): NicSlots {
  const out: Record<string, number> = {};
  for (const vif of vifs) {
    const slot = kept[vif.portId];
    if (slot !== undefined) out[vif.portId] = slot;
  }
  const taken = new Set([...busy, ...Object.values(out)]);
  for (const vif of vifs) {
    if (out[vif.portId] !== undefined) continue;
    let slot = 0;
    while (taken.has(slot)) slot++;
    if (slot >= NIC_SLOTS)
      throw new GuestDeviceError(`no free slot for another NIC (${NIC_SLOTS} at most)`);
    out[vif.portId] = slot;
    taken.add(slot);
  }
  return out;
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 11);
}

export function bridgeName(networkId: string): string {
  return `ts-n${digest(networkId)}`;
}

export function tapName(hostname: string, portId: string): string {
  return `ts-t${digest(`${hostname}/${portId}`)}`;
}

/**
 * Bridge changes of this process, one at a time per bridge: otherwise one guest's cleanup could
 * see an empty bridge and delete it just as another guest's tap goes on it.
 */
const bridgeLocks = new Map<string, Promise<void>>();

async function onBridge(bridge: string, fn: () => Promise<void>): Promise<void> {
  const before = bridgeLocks.get(bridge) ?? Promise.resolve();
  const run = before.then(fn, fn);
  const tail = run.catch(() => undefined);
  bridgeLocks.set(bridge, tail);
  try {
    await run;
  } finally {
    if (bridgeLocks.get(bridge) === tail) bridgeLocks.delete(bridge);
  }
}

/** Puts each running guest's taps on their networks' bridges (made when missing). */
export async function plugTaps(
  hostname: string,
  vifs: readonly Vif[],
  runner: PrivilegedRunner | undefined,
): Promise<void> {
  const options = runner === undefined ? {} : { runner };
  for (const vif of vifs) {
    const bridge = bridgeName(vif.networkId);
    await onBridge(bridge, async () => {
      await ensureBridge(bridge, options);
      await plugIntoBridge(tapName(hostname, vif.portId), bridge, vif.mtu, options);
    });
  }
}

/**
 * Removes what a stopped guest leaves: a tap QEMU did not take with it, and the bridges of its
 * networks that no longer hold a port.
 */
export async function unplugTaps(
  hostname: string,
  vifs: readonly Vif[],
  runner: PrivilegedRunner | undefined,
): Promise<void> {
  const options = runner === undefined ? {} : { runner };
  for (const vif of vifs) await deleteLink(tapName(hostname, vif.portId), options);
  for (const bridge of new Set(vifs.map((v) => bridgeName(v.networkId))))
    await onBridge(bridge, async () => {
      if ((await linkExists(bridge, options)) && (await bridgePorts(bridge, options)).length === 0)
        await deleteLink(bridge, options);
    });
}
