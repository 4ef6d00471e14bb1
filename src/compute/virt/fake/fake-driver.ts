/**
 * The fake virt driver, as Nova has one: guests are records in memory with realistic power-state
 * transitions, so one process can run many hosts for scale tests and benchmarks. Tests inject
 * delays and failures; every call is recorded.
 */
import {
  GuestBuildError,
  GuestDeviceError,
  GuestNotFoundError,
  POWER_STATE,
  type ConsoleDriver,
  type GuestInfo,
  type GuestSpec,
  type HostResources,
  type PausingDriver,
  type PowerState,
  type DiskImage,
  type InterfaceDriver,
  type Vif,
  type RescuingDriver,
  type SnapshottingDriver,
  type SuspendingDriver,
} from '../driver.ts';

export type FakeDriverOptions = {
  hostname: string;
  vcpus?: number;
  memoryMb?: number;
  localGb?: number;
  /** How long a spawn takes (default 0). */
  spawnDelayMs?: number;
  /** Decides whether a spawn fails: a message to fail with, or undefined to succeed. */
  failSpawn?: (spec: GuestSpec) => string | undefined;
  /** Decides whether an action on a guest fails (`pause`, `power_off`, …): a message, or undefined. */
  failAction?: (call: string, uuid: string) => string | undefined;
  /** How many interfaces a guest takes at most, as QEMU's PCIe slots (default: no limit). */
  maxNics?: number;
};

type FakeGuest = {
  spec: GuestSpec;
  powerState: PowerState;
  console: string[];
  /** The image a rescue booted it from, while rescued. */
  rescueImage?: string;
};

export class FakeDriver
  implements
    PausingDriver,
    SuspendingDriver,
    RescuingDriver,
    SnapshottingDriver,
    InterfaceDriver,
    ConsoleDriver
{
  readonly #options: FakeDriverOptions;
  readonly #guests = new Map<string, FakeGuest>();
  /** Every call, in order: `spawn <uuid>`, `destroy <uuid>`, … */
  readonly calls: string[] = [];

  constructor(options: FakeDriverOptions) {
    this.#options = options;
  }

  async hostResources(): Promise<HostResources> {
    return {
      hypervisorHostname: this.#options.hostname,
      hypervisorType: 'fake',
      hypervisorVersion: 1000,
      hostIp: '127.0.0.1',
      vcpus: this.#options.vcpus ?? 32,
      memoryMb: this.#options.memoryMb ?? 131072,
      localGb: this.#options.localGb ?? 2048,
      cpuInfo: { arch: 'x86_64', model: 'fake', vendor: 'tstack', topology: { cores: 1 } },
    };
  }

  async spawn(spec: GuestSpec): Promise<void> {
    this.calls.push(`spawn ${spec.uuid}`);
    if (this.#guests.has(spec.uuid)) return;
    const delay = this.#options.spawnDelayMs ?? 0;
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    const failure = this.#options.failSpawn?.(spec);
    if (failure !== undefined) throw new GuestBuildError(failure);
    this.#guests.set(spec.uuid, {
      spec,
      powerState: POWER_STATE.RUNNING,
      console: [`fake guest ${spec.hostname} booted with ${spec.vifs.length} interface(s)`],
    });
  }

  async destroy(uuid: string): Promise<void> {
    this.calls.push(`destroy ${uuid}`);
    this.#guests.delete(uuid);
  }

  async getInfo(uuid: string): Promise<GuestInfo | undefined> {
    const guest = this.#guests.get(uuid);
    return guest === undefined ? undefined : { powerState: guest.powerState };
  }

  async listInstances(): Promise<string[]> {
    return [...this.#guests.keys()];
  }

  async powerOff(uuid: string): Promise<void> {
    this.#set(uuid, 'power_off', POWER_STATE.SHUTDOWN);
  }

  async powerOn(uuid: string): Promise<void> {
    this.#set(uuid, 'power_on', POWER_STATE.RUNNING);
  }

  async reboot(uuid: string, hard: boolean): Promise<void> {
    this.#set(uuid, hard ? 'reboot_hard' : 'reboot_soft', POWER_STATE.RUNNING);
  }

  async pause(uuid: string): Promise<void> {
    this.#set(uuid, 'pause', POWER_STATE.PAUSED);
  }

  async unpause(uuid: string): Promise<void> {
    this.#set(uuid, 'unpause', POWER_STATE.RUNNING);
  }

  async suspend(uuid: string): Promise<void> {
    this.#set(uuid, 'suspend', POWER_STATE.SUSPENDED);
  }

  async resume(uuid: string): Promise<void> {
    this.#set(uuid, 'resume', POWER_STATE.RUNNING);
  }

  async rescue(uuid: string, imageId: string): Promise<void> {
    this.#set(uuid, 'rescue', POWER_STATE.RUNNING);
    this.#guest(uuid).rescueImage = imageId;
  }

  async unrescue(uuid: string): Promise<void> {
    this.#set(uuid, 'unrescue', POWER_STATE.RUNNING);
    delete this.#guest(uuid).rescueImage;
  }

  /** A small raw disk that names the guest and the image it came from. */
  async snapshot(uuid: string): Promise<DiskImage> {
    this.calls.push(`snapshot ${uuid}`);
    const failure = this.#options.failAction?.('snapshot', uuid);
    if (failure !== undefined) throw new Error(failure);
    const guest = this.#guest(uuid);
    const data = Buffer.alloc(1024);
    data.write(`fake disk of ${uuid} from image ${guest.spec.imageId}\n`);
    return { diskFormat: 'raw', data };
  }

  async attachInterface(uuid: string, vif: Vif): Promise<void> {
    this.calls.push(`attach_interface ${uuid} ${vif.portId}`);
    const guest = this.#guest(uuid);
    if (guest.spec.vifs.some((v) => v.portId === vif.portId)) return;
    const max = this.#options.maxNics ?? Infinity;
    if (guest.spec.vifs.length >= max)
      throw new GuestDeviceError(`no free slot for another NIC (${max} at most)`);
    guest.spec = { ...guest.spec, vifs: [...guest.spec.vifs, vif] };
  }

  async detachInterface(uuid: string, portId: string): Promise<void> {
    this.calls.push(`detach_interface ${uuid} ${portId}`);
    const guest = this.#guest(uuid);
    guest.spec = { ...guest.spec, vifs: guest.spec.vifs.filter((v) => v.portId !== portId) };
  }

  /** The image a rescued guest runs from (for tests). */
  rescueImageOf(uuid: string): string | undefined {
    return this.#guests.get(uuid)?.rescueImage;
  }

  /** The spec a guest was last made with (for tests). */
  specOf(uuid: string): GuestSpec | undefined {
    return this.#guests.get(uuid)?.spec;
  }

  async consoleOutput(uuid: string, lines?: number): Promise<string> {
    const guest = this.#guest(uuid);
    const out = lines === undefined ? guest.console : guest.console.slice(-lines);
    return out.map((line) => `${line}\n`).join('');
  }

  /** A guest that vanished behind the agent's back (for reconcile tests). */
  forget(uuid: string): void {
    this.#guests.delete(uuid);
  }

  /** Changes a guest's power state behind the agent's back (for reconcile tests). */
  setPowerState(uuid: string, state: PowerState): void {
    this.#guest(uuid).powerState = state;
  }

  #guest(uuid: string): FakeGuest {
    const guest = this.#guests.get(uuid);
    if (guest === undefined) throw new GuestNotFoundError(uuid);
    return guest;
  }

  #set(uuid: string, call: string, state: PowerState): void {
    this.calls.push(`${call} ${uuid}`);
    const failure = this.#options.failAction?.(call, uuid);
    if (failure !== undefined) throw new Error(failure);
    const guest = this.#guest(uuid);
    guest.powerState = state;
    guest.console.push(`${call}: power state ${state}`);
  }
}
