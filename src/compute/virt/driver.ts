/**
 * The virt driver interface the compute agent drives: a small core every driver implements, and
 * capability interfaces a driver opts into (checked with the type guards below). Every method is
 * idempotent: spawning a guest that runs, or destroying one that is gone, succeeds and changes
 * nothing. Drivers import only this file, `virt/errors.ts` and `common/privileged`.
 */

/** Nova's power states, by their wire numbers. */
export const POWER_STATE = {
  NOSTATE: 0,
  RUNNING: 1,
  PAUSED: 3,
  SHUTDOWN: 4,
  CRASHED: 6,
  SUSPENDED: 7,
} as const;
export type PowerState = (typeof POWER_STATE)[keyof typeof POWER_STATE];

/** One network interface of a guest, as the network service made it. */
export type Vif = {
  portId: string;
  networkId: string;
  macAddress: string;
  addresses: readonly string[];
  mtu: number;
};

/** Everything a driver needs to start a guest. */
export type GuestSpec = {
  uuid: string;
  name: string;
  hostname: string;
  vcpus: number;
  memoryMb: number;
  rootGb: number;
  ephemeralGb: number;
  swapMb: number;
  imageId: string;
  vifs: readonly Vif[];
  userData: string | null;
  /** The key pair's name and public key (`public_keys` of the guest's metadata). */
  keyName: string | null;
  keyData: string | null;
  metadata: Readonly<Record<string, string>>;
  configDrive: boolean;
};

export type GuestInfo = { powerState: PowerState };

/** What the host offers, reported to placement as inventory. */
export type HostResources = {
  hypervisorHostname: string;
  hypervisorType: string;
  hypervisorVersion: number;
  hostIp: string;
  vcpus: number;
  memoryMb: number;
  localGb: number;
  cpuInfo: Readonly<Record<string, unknown>>;
};

export interface VirtDriver {
  hostResources(): Promise<HostResources>;
  /**
   * Creates and starts the guest; a guest that exists already is left as it is.
   * @throws GuestBuildError when the guest cannot be made on this host (the build goes elsewhere).
   */
  spawn(spec: GuestSpec): Promise<void>;
  /** Stops and removes the guest and everything it holds on the host; none is fine. */
  destroy(uuid: string): Promise<void>;
  /** The guest's state, or undefined when the host has no such guest. */
  getInfo(uuid: string): Promise<GuestInfo | undefined>;
  /** The uuids of every guest on the host. */
  listInstances(): Promise<string[]>;
  /** Shuts the guest down (gracefully within `timeoutMs`, then forcibly). */
  powerOff(uuid: string, timeoutMs: number): Promise<void>;
  powerOn(uuid: string): Promise<void>;
  reboot(uuid: string, hard: boolean): Promise<void>;
}

export interface PausingDriver extends VirtDriver {
  pause(uuid: string): Promise<void>;
  unpause(uuid: string): Promise<void>;
}

export interface SuspendingDriver extends VirtDriver {
  suspend(uuid: string): Promise<void>;
  resume(uuid: string): Promise<void>;
}

export interface RescuingDriver extends VirtDriver {
  /** Boots the guest from `imageId` with its own disk attached second (Nova's rescue). */
  rescue(uuid: string, imageId: string): Promise<void>;
  /** Boots the guest from its own disk again. */
  unrescue(uuid: string): Promise<void>;
}

/** A guest's root disk, as an image service takes it. */
export type DiskImage = { diskFormat: string; data: Uint8Array };

export interface SnapshottingDriver extends VirtDriver {
  /** A copy of the guest's root disk as it is now (the guest keeps running). */
  snapshot(uuid: string): Promise<DiskImage>;
}

export interface InterfaceDriver extends VirtDriver {
  /**
   * Gives the guest another interface: plugged in while it runs, and kept for its next start
   * either way. One it has already is fine.
   * @throws GuestDeviceError when the guest cannot take it (no free slot, a state that forbids
   *   it, the hypervisor refused); GuestNotFoundError for a guest the host lacks.
   */
  attachInterface(uuid: string, vif: Vif): Promise<void>;
  /**
   * Takes the interface of `portId` away: unplugged while the guest runs, and gone from its next
   * start either way. One the guest does not have is fine.
   * @throws GuestNotFoundError for a guest the host lacks.
   */
  detachInterface(uuid: string, portId: string): Promise<void>;
}

export interface ConsoleDriver extends VirtDriver {
  /** The guest's serial console output; the last `lines` lines when given. */
  consoleOutput(uuid: string, lines?: number): Promise<string>;
}

/**
 * Moves a guest between hosts whose drivers reach each other's disks (QEMU hosts of one
 * machine; the fake's hosts). `host` is the other agent's host name.
 */
export interface MigratingDriver extends VirtDriver {
  /**
   * Makes the guest of `spec` here, shut off, from the shut-off guest `spec.uuid` of `source`:
   * its disk copied and grown to `spec.rootGb`. The source guest stays as it is, so a revert
   * can go back to it. With `source` this host, the old guest is kept aside until
   * `confirmResize` or `revertResize`.
   */
  spawnFrom(spec: GuestSpec, source: string): Promise<void>;
  /** Drops the guest a same-host resize kept aside; none is fine. */
  confirmResize(uuid: string): Promise<void>;
  /** Ends the resized guest here and brings back the one a same-host resize kept aside. */
  revertResize(uuid: string): Promise<void>;
  /** Readies a guest here to receive the running (or paused) guest `spec.uuid` of `source`. */
  prepareIncoming(spec: GuestSpec, source: string): Promise<void>;
  /**
   * Sends the guest to `dest` (readied there with `prepareIncoming`) while it runs; once it
   * runs there, it is gone here.
   */
  migrateLive(uuid: string, dest: string): Promise<void>;
}

/** A driver that keeps images on the host for its guests' disks. */
export interface ImageCachingDriver extends VirtDriver {
  /** Removes cached images no guest uses that nobody needed for `minAgeMs`; returns them. */
  cleanImageCache(minAgeMs: number): Promise<string[]>;
}

export function cachesImages(driver: VirtDriver): driver is ImageCachingDriver {
  return 'cleanImageCache' in driver;
}

export function canMigrate(driver: VirtDriver): driver is MigratingDriver {
  return 'spawnFrom' in driver && 'migrateLive' in driver;
}

export function canPause(driver: VirtDriver): driver is PausingDriver {
  return 'pause' in driver && 'unpause' in driver;
}

export function canSuspend(driver: VirtDriver): driver is SuspendingDriver {
  return 'suspend' in driver && 'resume' in driver;
}

export function canRescue(driver: VirtDriver): driver is RescuingDriver {
  return 'rescue' in driver && 'unrescue' in driver;
}

export function canSnapshot(driver: VirtDriver): driver is SnapshottingDriver {
  return 'snapshot' in driver;
}

export function canPlug(driver: VirtDriver): driver is InterfaceDriver {
  return 'attachInterface' in driver && 'detachInterface' in driver;
}

export function hasConsole(driver: VirtDriver): driver is ConsoleDriver {
  return 'consoleOutput' in driver;
}

/** The guest cannot be built on this host; another host may succeed. */
export class GuestBuildError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GuestBuildError';
  }
}

/** The guest cannot take or give up a device now; the message says why. */
export class GuestDeviceError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GuestDeviceError';
  }
}

/** The driver has no such guest. */
export class GuestNotFoundError extends Error {
  constructor(uuid: string) {
    super(`no guest ${uuid} on this host`);
    this.name = 'GuestNotFoundError';
  }
}
