/**
 * The QEMU virt driver: one `qemu-system-x86_64` per guest, daemonized so it outlives the agent,
 * driven over its QMP socket. The machine's QEMU folder (`root`) holds the base images every
 * host shares (`base/`, see `BaseImageCache`) and one folder per host and guest,
 * `host-<digest of the host name>/<uuid>/`, with what the driver needs to find the guest again
 * after a restart: `guest.json` (the spec it was made from and its state: rescued, suspended),
 * `disk.qcow2` (an overlay on the base image), `disk.eph0` and `disk.swap` (the flavor's
 * ephemeral and swap disks), `config.iso` (the config drive), `console.log` (the serial
 * console), `qmp.sock` and `qemu.pid`.
 *
 * Interfaces are plugged in and out of a running guest over QMP (`netdev_add` and `device_add`
 * into a free PCIe root port; `device_del`, which the guest completes through ACPI), and the
 * guest's file keeps the list for its next start.
 *
 * A guest "exists" while its folder does; it runs while the process in `qemu.pid` is alive and
 * is the QEMU named after it (`-name guest=<uuid>`), so a reused pid is never mistaken for it.
 */
import { createHash } from 'node:crypto';
import {
  copyFile,
  link,
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  statfs,
  writeFile,
} from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import {
  flag,
  macAddress,
  pathIn,
  PrivilegedRunner,
  qemuImgConvert,
  qemuImgCreate,
  qemuImgCreateOverlay,
  qemuImgInfo,
  qemuImgResize,
  type Arg,
} from '../../../common/privileged/index.ts';
import {
  GuestBuildError,
  GuestDeviceError,
  GuestNotFoundError,
  POWER_STATE,
  type ConsoleDriver,
  type DiskImage,
  type GuestInfo,
  type GuestSpec,
  type HostResources,
  type ImageCachingDriver,
  type InterfaceDriver,
  type MigratingDriver,
  type PausingDriver,
  type PowerState,
  type RescuingDriver,
  type SnapshottingDriver,
  type SuspendingDriver,
  type Vif,
} from '../driver.ts';
import { buildConfigDrive, configDriveFiles } from './config-drive.ts';
import { assignSlots, plugTaps, tapName, unplugTaps, type NicSlots } from './guest-nics.ts';
import { HOST_FOLDER_PREFIX, type BaseImageCache, type QemuImage } from './image-cache.ts';
import type { Accel } from './kvm-probe.ts';
import { qmp, QmpError } from './qmp.ts';
import { nicIds, qemuCommand, type LaunchMode } from './qemu-command.ts';

export type QemuDriverOptions = {
  readonly hostname: string;
  /** The machine's QEMU folder, shared by its QEMU hosts (see the file's comment). */
  readonly root: string;
  /** The base image cache of `root`. */
  readonly images: BaseImageCache;
  /** `kvm` only where a probe showed guests run on it (see `chooseAccel`); default TCG. */
  readonly accel?: Accel;
  readonly runner?: PrivilegedRunner;
  /** How long a soft reboot waits for the guest to power itself off before it is reset. */
  readonly softRebootTimeoutMs?: number;
};

type GuestFile = {
  spec: GuestSpec;
  image: QemuImage;
  /** Disks after the root disk: `disk.eph0`, `disk.swap`. */
  extraDisks: string[];
  /** The base image of the rescue disk, while rescued. */
  rescue?: QemuImage;
  /** The guest's memory is saved in its root disk (a suspend); it resumes from there. */
  suspended?: boolean;
  /** The slot of each NIC (a guest made before slots had them in the order of its vifs). */
  nics?: NicSlots;
};

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;
/** How long to wait for a QEMU process to go after `quit` or a kill. */
const EXIT_WAIT_MS = 10_000;
/** How long a live migration may take. */
const MIGRATION_TIMEOUT_MS = 300_000;
/** The name of the VM state a suspend saves in the root disk. */
const SUSPEND_STATE = 'tstack-suspend';
/** How long an unplugged NIC may take to leave a running guest (the guest ejects it). */
const UNPLUG_WAIT_MS = 10_000;
/** A unix socket path is at most 107 bytes. */
const MAX_SOCKET_PATH = 107;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HOSTNAME = /^[A-Za-z0-9][A-Za-z0-9.-]{0,254}$/;

export class QemuDriver
  implements
    PausingDriver,
    SuspendingDriver,
    RescuingDriver,
    SnapshottingDriver,
    ConsoleDriver,
    MigratingDriver,
    ImageCachingDriver,
    InterfaceDriver
{
  readonly #o: QemuDriverOptions;
  readonly #runner: PrivilegedRunner;
  readonly #roots: readonly string[];
  #version: number | undefined;

  constructor(options: QemuDriverOptions) {
    if (!HOSTNAME.test(options.hostname))
      throw new Error(`QEMU driver: bad host name ${JSON.stringify(options.hostname)}`);
    this.#o = options;
    this.#runner = options.runner ?? new PrivilegedRunner();
    this.#roots = [options.root];
  }

  get hostname(): string {
    return this.#o.hostname;
  }

  #hostDir(host: string = this.#o.hostname): string {
    return hostFolder(this.#o.root, host);
  }

  #dir(uuid: string, host?: string): string {
    if (!UUID.test(uuid)) throw new GuestNotFoundError(uuid);
    return join(this.#hostDir(host), uuid);
  }

  #path(uuid: string, file: string): Arg {
    return pathIn(join(this.#dir(uuid), file), this.#roots);
  }

  #qemuImg() {
    return { roots: this.#roots, runner: this.#runner };
  }

  async hostResources(): Promise<HostResources> {
    const dir = this.#hostDir();
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'host.name'), `${this.#o.hostname}\n`);
    const socket = join(dir, '00000000-0000-0000-0000-000000000000', 'migrate.sock');
    if (Buffer.byteLength(socket) > MAX_SOCKET_PATH)
      throw new Error(
        `QEMU driver: guests' sockets under ${dir} would be longer than ${MAX_SOCKET_PATH} bytes; choose a shorter data directory`,
      );
    const fs = await statfs(dir);
    return {
      hypervisorHostname: this.#o.hostname,
      hypervisorType: 'QEMU',
      hypervisorVersion: await this.#qemuVersion(),
      hostIp: '127.0.0.1',
      vcpus: os.cpus().length,
      memoryMb: Math.floor(os.totalmem() / MIB),
      localGb: Math.floor((fs.blocks * fs.bsize) / GIB),
      cpuInfo: {
        arch: 'x86_64',
        accel: this.#o.accel?.accel ?? 'tcg',
        accel_reason: this.#o.accel?.reason ?? 'the default',
      },
    };
  }

  /** Nova's encoding of the version: major × 1,000,000 + minor × 1,000 + micro. */
  async #qemuVersion(): Promise<number> {
    if (this.#version === undefined) {
      const { stdout } = await this.#runner.run('qemu-system-x86_64', [flag('--version')]);
      const [major = 0, minor = 0, micro = 0] = (/version (\d+)\.(\d+)\.(\d+)/.exec(stdout) ?? [])
        .slice(1)
        .map(Number);
      this.#version = major * 1_000_000 + minor * 1000 + micro;
    }
    return this.#version;
  }

  async spawn(spec: GuestSpec): Promise<void> {
    if ((await this.#pid(spec.uuid)) !== undefined) return;
    await this.#building(spec.uuid, async () => {
      let guest = await this.#guest(spec.uuid);
      if (guest === undefined) {
        const image = await this.#o.images.acquire(spec.imageId);
        try {
          await this.#makeDisks(spec, async (disk) =>
            qemuImgCreateOverlay(
              disk,
              image.path,
              image.format,
              spec.rootGb > 0 ? spec.rootGb * GIB : undefined,
              this.#qemuImg(),
            ),
          );
          guest = await this.#save(spec.uuid, {
            spec,
            image,
            extraDisks: extraDisks(spec),
            nics: assignSlots(spec.vifs),
          });
        } finally {
          this.#o.images.release(image.path);
        }
      }
      await this.#launch(guest);
    });
  }

  /** Runs a step that makes a guest, as a GuestBuildError when it fails. */
  async #building(uuid: string, fn: () => Promise<void>): Promise<void> {
    try {
      await mkdir(this.#dir(uuid), { recursive: true });
      await fn();
    } catch (err) {
      throw new GuestBuildError(
        `QEMU could not start guest ${uuid}: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
  }

  /** The root disk (made by `root`), the ephemeral and swap disks and the config drive. */
  async #makeDisks(spec: GuestSpec, root: (disk: string) => Promise<void>): Promise<void> {
    const dir = this.#dir(spec.uuid);
    await root(join(dir, 'disk.qcow2'));
    if (spec.ephemeralGb > 0)
      await qemuImgCreate(join(dir, 'disk.eph0'), 'qcow2', spec.ephemeralGb * GIB, this.#qemuImg());
    if (spec.swapMb > 0)
      await qemuImgCreate(join(dir, 'disk.swap'), 'qcow2', spec.swapMb * MIB, this.#qemuImg());
    if (spec.configDrive)
      await buildConfigDrive(configDriveFiles(spec), {
        path: join(dir, 'config.iso'),
        roots: this.#roots,
        runner: this.#runner,
      });
  }

  /** Writes the guest's file (whole or not at all); a folder without it is a spawn cut short. */
  async #save(uuid: string, guest: GuestFile): Promise<GuestFile> {
    const file = join(this.#dir(uuid), 'guest.json');
    await writeFile(`${file}.new`, JSON.stringify(guest));
    await rename(`${file}.new`, file);
    return guest;
  }

  async #guest(uuid: string): Promise<GuestFile | undefined> {
    return readGuest(this.#dir(uuid));
  }

  async #launch(guest: GuestFile, mode: Partial<LaunchMode> = {}): Promise<void> {
    const { spec } = guest;
    const args = qemuCommand(
      spec,
      {
        at: (file) => this.#path(spec.uuid, file),
        extraDisks: guest.extraDisks,
        configDrive: spec.configDrive,
        rescue: guest.rescue !== undefined,
        nics: nicsOf(guest),
      },
      { accel: this.#o.accel?.accel ?? 'tcg', hostname: this.#o.hostname, ...mode },
    );
    await this.#runner.run('qemu-system-x86_64', args, { timeoutMs: 60_000 });
    await plugTaps(this.#o.hostname, spec.vifs, this.#runner);
  }

  /** The pid of the guest's QEMU while it runs (checked against its command line). */
  async #pid(uuid: string): Promise<number | undefined> {
    let pid: number;
    try {
      pid = Number((await readFile(join(this.#dir(uuid), 'qemu.pid'), 'utf8')).trim());
    } catch {
      return undefined;
    }
    if (!Number.isInteger(pid) || pid <= 1) return undefined;
    try {
      const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
      return cmdline.includes(`guest=${uuid}`) && cmdline.includes(this.#path(uuid, 'qemu.pid'))
        ? pid
        : undefined;
    } catch {
      return undefined;
    }
  }

  async #qmp<T = unknown>(
    uuid: string,
    command: string,
    args?: Record<string, unknown>,
    timeoutMs?: number,
  ): Promise<T> {
    return qmp<T>(join(this.#dir(uuid), 'qmp.sock'), command, args, timeoutMs);
  }

  /** A human monitor command (QMP has no savevm in this QEMU); its printed error, if any, thrown. */
  async #hmp(uuid: string, line: string): Promise<void> {
    const out = await this.#qmp<string>(
      uuid,
      'human-monitor-command',
      { 'command-line': line },
      MIGRATION_TIMEOUT_MS,
    );
    if (/error/i.test(out)) throw new Error(`QEMU: ${line}: ${out.trim()}`);
  }

  /** Waits for the guest's QEMU to exit; true when it did within `ms`. */
  async #exited(uuid: string, ms: number): Promise<boolean> {
    const until = Date.now() + ms;
    while ((await this.#pid(uuid)) !== undefined) {
      if (Date.now() >= until) return false;
      await sleep(50);
    }
    return true;
  }

  /** Ends the guest's QEMU at once: `quit`, then SIGKILL to its pid. */
  async #stop(uuid: string): Promise<void> {
    if ((await this.#pid(uuid)) === undefined) return;
    await this.#qmp(uuid, 'quit').catch((err: unknown) => {
      // QEMU closes the socket as it quits, sometimes before its answer.
      if (!(err instanceof QmpError)) throw err;
    });
    if (await this.#exited(uuid, EXIT_WAIT_MS)) return;
    const pid = await this.#pid(uuid);
    if (pid !== undefined) process.kill(pid, 'SIGKILL');
    await this.#exited(uuid, EXIT_WAIT_MS);
  }

  async destroy(uuid: string): Promise<void> {
    await this.#stop(uuid);
    const guest = await this.#guest(uuid);
    await rm(this.#dir(uuid), { recursive: true, force: true });
    await rm(this.#setAside(uuid), { recursive: true, force: true });
    if (guest !== undefined) await unplugTaps(this.#o.hostname, guest.spec.vifs, this.#runner);
  }

  async getInfo(uuid: string): Promise<GuestInfo | undefined> {
    const guest = await this.#guest(uuid);
    if (guest === undefined) return undefined;
    if ((await this.#pid(uuid)) === undefined)
      return {
        powerState: guest.suspended === true ? POWER_STATE.SUSPENDED : POWER_STATE.SHUTDOWN,
      };
    const status = await this.#qmp<{ status: string }>(uuid, 'query-status').catch(() => undefined);
    return { powerState: powerStateOf(status?.status) };
  }

  async listInstances(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.#hostDir());
    } catch {
      return [];
    }
    const out: string[] = [];
    for (const name of names)
      if (UUID.test(name) && (await this.#guest(name)) !== undefined) out.push(name);
    return out;
  }

  async powerOff(uuid: string, timeoutMs: number): Promise<void> {
    await this.#known(uuid);
    if ((await this.#pid(uuid)) === undefined) return;
    if (timeoutMs > 0) {
      await this.#qmp(uuid, 'system_powerdown').catch(() => undefined);
      if (await this.#exited(uuid, timeoutMs)) return;
    }
    await this.#stop(uuid);
  }

  async powerOn(uuid: string): Promise<void> {
    const guest = await this.#known(uuid);
    if ((await this.#pid(uuid)) !== undefined) return;
    if (guest.suspended === true) return this.resume(uuid);
    await this.#launch(guest);
  }

  async reboot(uuid: string, hard: boolean): Promise<void> {
    const guest = await this.#known(uuid);
    if ((await this.#pid(uuid)) === undefined) return this.powerOn(uuid);
    if (!hard) {
      // As Nova's libvirt driver: ask the guest to power off, start it again; a guest that
      // does not go in time is reset.
      await this.#qmp(uuid, 'system_powerdown').catch(() => undefined);
      if (await this.#exited(uuid, this.#o.softRebootTimeoutMs ?? 60_000))
        return this.#launch(guest);
    }
    await this.#qmp(uuid, 'system_reset');
    await this.#qmp(uuid, 'cont');
  }

  async pause(uuid: string): Promise<void> {
    await this.#running(uuid);
    await this.#qmp(uuid, 'stop');
  }

  async unpause(uuid: string): Promise<void> {
    await this.#running(uuid);
    await this.#qmp(uuid, 'cont');
  }

  /** Saves the guest's memory into its root disk and ends its QEMU (libvirt's managed save). */
  async suspend(uuid: string): Promise<void> {
    const guest = await this.#known(uuid);
    if (guest.suspended === true) return;
    await this.#running(uuid);
    await this.#qmp(uuid, 'stop');
    await this.#hmp(uuid, `savevm ${SUSPEND_STATE}`);
    await this.#save(uuid, { ...guest, suspended: true });
    await this.#stop(uuid);
  }

  /** Starts the guest from the memory a suspend saved, then drops the saved state. */
  async resume(uuid: string): Promise<void> {
    const guest = await this.#known(uuid);
    if ((await this.#pid(uuid)) !== undefined) {
      await this.#qmp(uuid, 'cont');
      return;
    }
    if (guest.suspended !== true) return this.#launch(guest);
    await this.#launch(guest, { loadvm: SUSPEND_STATE });
    await this.#hmp(uuid, `delvm ${SUSPEND_STATE}`);
    await this.#save(uuid, { ...guest, suspended: false });
  }

  /** Boots the guest from a fresh disk of `imageId`, its own disk attached second. */
  async rescue(uuid: string, imageId: string): Promise<void> {
    const guest = await this.#known(uuid);
    if (guest.rescue !== undefined && (await this.#pid(uuid)) !== undefined) return;
    await this.#stop(uuid);
    const image = await this.#o.images.acquire(imageId);
    try {
      await rm(join(this.#dir(uuid), 'rescue.qcow2'), { force: true });
      await qemuImgCreateOverlay(
        join(this.#dir(uuid), 'rescue.qcow2'),
        image.path,
        image.format,
        undefined,
        this.#qemuImg(),
      );
      const rescued = await this.#save(uuid, { ...guest, rescue: image, suspended: false });
      await this.#launch(rescued);
    } finally {
      this.#o.images.release(image.path);
    }
  }

  async unrescue(uuid: string): Promise<void> {
    const guest = await this.#known(uuid);
    await this.#stop(uuid);
    const { rescue: _, ...own } = guest;
    await this.#save(uuid, own);
    await rm(join(this.#dir(uuid), 'rescue.qcow2'), { force: true });
    await this.#launch(own);
  }

  /**
   * The root disk as one qcow2 with no backing file. A running guest is paused while it is
   * copied (QEMU drains its disk I/O on `stop`), so the copy is consistent, and then goes on.
   */
  async snapshot(uuid: string): Promise<DiskImage> {
    await this.#known(uuid);
    const dir = this.#dir(uuid);
    const copy = join(dir, 'snapshot.qcow2');
    const status =
      (await this.#pid(uuid)) === undefined
        ? undefined
        : (await this.#qmp<{ status: string }>(uuid, 'query-status')).status;
    if (status === 'running') await this.#qmp(uuid, 'stop');
    try {
      await qemuImgConvert(join(dir, 'disk.qcow2'), 'qcow2', copy, 'qcow2', {
        ...this.#qemuImg(),
        forceShare: status !== undefined,
      });
      return { diskFormat: 'qcow2', data: await readFile(copy) };
    } finally {
      if (status === 'running') await this.#qmp(uuid, 'cont');
      await rm(copy, { force: true });
    }
  }

  async spawnFrom(spec: GuestSpec, source: string): Promise<void> {
    const uuid = spec.uuid;
    let from = this.#dir(uuid, source);
    if (source === this.#o.hostname) {
      from = this.#setAside(uuid);
      // The old guest is kept aside, unless an earlier try did so already.
      if (!(await exists(from))) {
        await this.#stop(uuid);
        await rename(this.#dir(uuid), from);
      }
    }
    if ((await this.#guest(uuid)) !== undefined) return;
    const old = await readGuest(from);
    if (old === undefined) throw new GuestBuildError(`no guest ${uuid} on host ${source} to move`);
    await this.#building(uuid, async () => {
      const dir = this.#dir(uuid);
      await copyFile(join(from, 'console.log'), join(dir, 'console.log')).catch(() => undefined);
      await this.#makeDisks(spec, async (disk) => {
        await copyFile(join(from, 'disk.qcow2'), disk);
        const info = await qemuImgInfo(disk, { ...this.#qemuImg(), format: 'qcow2' });
        if (spec.rootGb * GIB > info.virtualSize)
          await qemuImgResize(disk, 'qcow2', spec.rootGb * GIB, this.#qemuImg());
      });
      if (old.extraDisks.includes('disk.eph0') && spec.ephemeralGb > 0)
        await copyFile(join(from, 'disk.eph0'), join(dir, 'disk.eph0'));
      await this.#save(uuid, {
        spec,
        image: old.image,
        extraDisks: extraDisks(spec),
        nics: assignSlots(spec.vifs),
      });
    });
  }

  /** Where a same-host resize keeps the old guest. */
  #setAside(uuid: string): string {
    return `${this.#dir(uuid)}_resize`;
  }

  async confirmResize(uuid: string): Promise<void> {
    await rm(this.#setAside(uuid), { recursive: true, force: true });
  }

  async revertResize(uuid: string): Promise<void> {
    const aside = this.#setAside(uuid);
    if (!(await exists(aside))) return this.destroy(uuid);
    await this.#stop(uuid);
    await rm(this.#dir(uuid), { recursive: true, force: true });
    await rename(aside, this.#dir(uuid));
  }

  async prepareIncoming(spec: GuestSpec, source: string): Promise<void> {
    const uuid = spec.uuid;
    if ((await this.#pid(uuid)) !== undefined) return;
    const from = this.#dir(uuid, source);
    const old = await readGuest(from);
    if (old === undefined) throw new GuestBuildError(`no guest ${uuid} on host ${source} to move`);
    await this.#building(uuid, async () => {
      const dir = this.#dir(uuid);
      // Both QEMUs open the same disks (shared storage); the destination takes them over only
      // when the migration ends, as QEMU's image locking lets it.
      for (const disk of [
        'disk.qcow2',
        ...old.extraDisks,
        ...(spec.configDrive ? ['config.iso'] : []),
      ]) {
        await rm(join(dir, disk), { force: true });
        await link(join(from, disk), join(dir, disk));
      }
      await copyFile(join(from, 'console.log'), join(dir, 'console.log')).catch(() => undefined);
      // The same devices in the same places as the source, or QEMU cannot take its state.
      const guest = await this.#save(uuid, {
        spec,
        image: old.image,
        extraDisks: old.extraDisks,
        nics: assignSlots(spec.vifs, nicsOf(old)),
      });
      await rm(join(dir, 'migrate.sock'), { force: true });
      await this.#launch(guest, { incoming: 'migrate.sock' });
    });
  }

  async migrateLive(uuid: string, dest: string): Promise<void> {
    await this.#running(uuid);
    const socket = pathIn(join(this.#dir(uuid, dest), 'migrate.sock'), this.#roots);
    await this.#qmp(uuid, 'migrate', { uri: `unix:${socket}` });
    const until = Date.now() + MIGRATION_TIMEOUT_MS;
    for (;;) {
      const { status, 'error-desc': error } = await this.#qmp<{
        status?: string;
        'error-desc'?: string;
      }>(uuid, 'query-migrate');
      if (status === 'completed') break;
      if (status === 'failed' || status === 'cancelled')
        throw new Error(
          `live migration of ${uuid} to ${dest} ${status}: ${error ?? 'no reason given'}`,
        );
      if (Date.now() > until) {
        await this.#qmp(uuid, 'migrate_cancel').catch(() => undefined);
        throw new Error(`live migration of ${uuid} to ${dest} did not end in time`);
      }
      await sleep(50);
    }
    // The guest runs there now; here only its old QEMU and folder are left.
    await this.#stop(uuid);
    await rm(this.#dir(uuid), { recursive: true, force: true });
  }

  async attachInterface(uuid: string, vif: Vif): Promise<void> {
    let guest = await this.#known(uuid);
    if (guest.suspended === true || guest.rescue !== undefined)
      throw new GuestDeviceError(
        `guest ${uuid} is ${guest.suspended === true ? 'suspended' : 'rescued'}`,
      );
    try {
      macAddress(vif.macAddress);
    } catch (err) {
      throw new GuestDeviceError(`bad MAC address ${vif.macAddress}`, { cause: err });
    }
    const running = (await this.#pid(uuid)) !== undefined;
    const present = running
      ? await this.#nicSlotsInUse(uuid).catch((err: unknown) => {
          throw new GuestDeviceError(`QEMU did not answer: ${String(err)}`, { cause: err });
        })
      : new Set<number>();
    let slot = nicsOf(guest)[vif.portId];
    if (slot === undefined) {
      // Kept first, so the guest's next start has it whatever happens below.
      const vifs = [...guest.spec.vifs, vif];
      const nics = assignSlots(vifs, nicsOf(guest), present);
      guest = await this.#save(uuid, { ...guest, spec: { ...guest.spec, vifs }, nics });
      slot = nics[vif.portId] ?? 0;
    }
    if (!running || present.has(slot)) return;
    const ids = nicIds(slot);
    try {
      await this.#qmp(uuid, 'netdev_add', {
        type: 'tap',
        id: ids.netdev,
        ifname: tapName(this.#o.hostname, vif.portId),
        script: 'no',
        downscript: 'no',
      }).catch(unlessDuplicate);
      await this.#qmp(uuid, 'device_add', {
        driver: 'virtio-net-pci',
        id: ids.device,
        netdev: ids.netdev,
        mac: vif.macAddress,
        bus: ids.port,
      });
    } catch (err) {
      await this.#qmp(uuid, 'netdev_del', { id: ids.netdev }).catch(() => undefined);
      await this.#save(uuid, withoutNic(guest, vif.portId));
      throw new GuestDeviceError(
        `QEMU refused the NIC: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
    await plugTaps(this.#o.hostname, [vif], this.#runner);
  }

  async detachInterface(uuid: string, portId: string): Promise<void> {
    const guest = await this.#known(uuid);
    const vif = guest.spec.vifs.find((v) => v.portId === portId);
    if (vif === undefined) return;
    const slot = nicsOf(guest)[portId];
    // Unplugged first, so a retry after a crash finds the NIC still listed and unplugs again.
    if (slot !== undefined && (await this.#pid(uuid)) !== undefined) await this.#unplug(uuid, slot);
    await this.#save(uuid, withoutNic(guest, portId));
    await unplugTaps(this.#o.hostname, [vif], this.#runner);
  }

  /**
   * Asks the guest to let the NIC in `slot` go and closes its tap at once; waits for the guest
   * to eject it while it runs. A paused guest (or one that does not answer) ejects it later: the
   * slot stays busy until then (`#nicSlotsInUse`).
   */
  async #unplug(uuid: string, slot: number): Promise<void> {
    const ids = nicIds(slot);
    await this.#qmp(uuid, 'device_del', { id: ids.device }).catch(unlessNotFound);
    await this.#qmp(uuid, 'netdev_del', { id: ids.netdev }).catch(unlessNotFound);
    const { status } = await this.#qmp<{ status: string }>(uuid, 'query-status');
    if (status !== 'running') return;
    const until = Date.now() + UNPLUG_WAIT_MS;
    while ((await this.#nicSlotsInUse(uuid)).has(slot) && Date.now() < until) await sleep(50);
  }

  /** The slots of the running guest that hold a NIC device. */
  async #nicSlotsInUse(uuid: string): Promise<Set<number>> {
    const children = await this.#qmp<{ name: string }[]>(uuid, 'qom-list', {
      path: '/machine/peripheral',
    });
    const slots = new Set<number>();
    for (const { name } of children) {
      const found = /^nic(\d+)$/.exec(name);
      if (found !== null) slots.add(Number(found[1]));
    }
    return slots;
  }

  async cleanImageCache(minAgeMs: number): Promise<string[]> {
    return this.#o.images.clean(minAgeMs);
  }

  async consoleOutput(uuid: string, lines?: number): Promise<string> {
    await this.#known(uuid);
    let text: string;
    try {
      text = await readFile(join(this.#dir(uuid), 'console.log'), 'utf8');
    } catch {
      return '';
    }
    text = text.replaceAll('\r', '');
    if (lines === undefined) return text;
    const all = text.split('\n');
    if (all.at(-1) === '') all.pop();
    return all.slice(-lines).join('\n') + (all.length > 0 ? '\n' : '');
  }

  async #known(uuid: string): Promise<GuestFile> {
    const guest = await this.#guest(uuid);
    if (guest === undefined) throw new GuestNotFoundError(uuid);
    return guest;
  }

  async #running(uuid: string): Promise<void> {
    await this.#known(uuid);
    if ((await this.#pid(uuid)) === undefined) throw new GuestNotFoundError(uuid);
  }
}

/**
 * The folder of `host`'s guests in the machine folder `root`: `host-<digest>`, short, so the
 * sockets in it stay within their length limit.
 */
export function hostFolder(root: string, host: string): string {
  if (!HOSTNAME.test(host)) throw new Error(`bad host name ${JSON.stringify(host)}`);
  const digest = createHash('sha256').update(host).digest('hex').slice(0, 8);
  return join(root, `${HOST_FOLDER_PREFIX}${digest}`);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function readGuest(dir: string): Promise<GuestFile | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, 'guest.json'), 'utf8')) as GuestFile;
  } catch {
    return undefined;
  }
}

function nicsOf(guest: GuestFile): NicSlots {
  return guest.nics ?? Object.fromEntries(guest.spec.vifs.map((v, i) => [v.portId, i]));
}

/** The guest's file without the NIC of `portId`. */
function withoutNic(guest: GuestFile, portId: string): GuestFile {
  const { [portId]: _, ...nics } = nicsOf(guest);
  const vifs = guest.spec.vifs.filter((v) => v.portId !== portId);
  return { ...guest, spec: { ...guest.spec, vifs }, nics };
}

/** QEMU's answer to a second add of a device or backend that is there already. */
function unlessDuplicate(err: unknown): void {
  if (!(err instanceof QmpError && /duplicate/i.test(err.message))) throw err;
}

/** QEMU's answer to a removal of a device or backend that is gone already. */
function unlessNotFound(err: unknown): void {
  if (!(
    err instanceof QmpError &&
    (err.errorClass === 'DeviceNotFound' || /not found/i.test(err.message))
  ))
    throw err;
}

function extraDisks(spec: GuestSpec): string[] {
  return [
    ...(spec.ephemeralGb > 0 ? ['disk.eph0'] : []),
    ...(spec.swapMb > 0 ? ['disk.swap'] : []),
  ];
}

/** QMP's run states as Nova's power states. */
function powerStateOf(status: string | undefined): PowerState {
  switch (status) {
    case 'running':
    case 'debug':
    case 'finish-migrate':
    case 'inmigrate':
    case 'postmigrate':
    case 'prelaunch':
    case 'restore-vm':
    case 'save-vm':
    case 'colo':
      return POWER_STATE.RUNNING;
    case 'paused':
    case 'suspended':
      return POWER_STATE.PAUSED;
    case 'shutdown':
      return POWER_STATE.SHUTDOWN;
    case 'guest-panicked':
    case 'internal-error':
    case 'io-error':
      return POWER_STATE.CRASHED;
    default:
      return POWER_STATE.NOSTATE;
  }
}
