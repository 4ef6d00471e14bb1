/**
 * The QEMU virt driver: one `qemu-system-x86_64` per guest, daemonized so it outlives the agent,
 * driven over its QMP socket. Each guest has a folder `<instancesDir>/<uuid>/` holding what the
 * driver needs to find it again after a restart: `guest.json` (the spec it was made from),
 * `disk.qcow2` (an overlay on the cached base image), `config.iso` (the config drive, when
 * asked for), `console.log` (the serial console), `qmp.sock` and `qemu.pid`.
 *
 * A guest "exists" while its folder does; it runs while the process in `qemu.pid` is alive and
 * is the QEMU named after it (`-name guest=<uuid>`), so a reused pid is never mistaken for it.
 * Networking is not plugged yet (the guest has no NIC): tap devices on bridges come with the
 * data-plane step of #8.
 */
import { mkdir, readdir, readFile, rm, statfs, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import {
  byteSize,
  flag,
  pathIn,
  PrivilegedRunner,
  qemuImgConvert,
  qemuImgCreateOverlay,
  qemuOptions,
  type Arg,
  type DiskFormat,
} from '../../../common/privileged/index.ts';
import {
  GuestBuildError,
  GuestNotFoundError,
  POWER_STATE,
  type ConsoleDriver,
  type DiskImage,
  type GuestInfo,
  type GuestSpec,
  type HostResources,
  type PausingDriver,
  type PowerState,
  type SnapshottingDriver,
} from '../driver.ts';
import { buildConfigDrive } from './config-drive.ts';
import { qmp, QmpError } from './qmp.ts';

export type QemuImage = { readonly path: string; readonly format: DiskFormat };

export type QemuDriverOptions = {
  readonly hostname: string;
  /** Guests' folders go here. */
  readonly instancesDir: string;
  /** A local file of image `imageId` (fetched and cached by the caller). */
  readonly image: (imageId: string) => Promise<QemuImage>;
  /** Folders image files may be in. */
  readonly imageRoots: readonly string[];
  /** `kvm` only where a probe showed guests run on it (see the notes on this machine kind). */
  readonly accel?: 'tcg' | 'kvm';
  readonly runner?: PrivilegedRunner;
  /** How long a soft reboot waits for the guest to power itself off before it is reset. */
  readonly softRebootTimeoutMs?: number;
};

type GuestFile = { spec: GuestSpec; image: QemuImage };

const GIB = 1024 ** 3;
/** How long to wait for a QEMU process to go after `quit` or a kill. */
const EXIT_WAIT_MS = 10_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class QemuDriver implements PausingDriver, SnapshottingDriver, ConsoleDriver {
  readonly #o: QemuDriverOptions;
  readonly #runner: PrivilegedRunner;
  #version: number | undefined;

  constructor(options: QemuDriverOptions) {
    this.#o = options;
    this.#runner = options.runner ?? new PrivilegedRunner();
  }

  #dir(uuid: string): string {
    if (!UUID.test(uuid)) throw new GuestNotFoundError(uuid);
    return join(this.#o.instancesDir, uuid);
  }

  #path(uuid: string, file: string): Arg {
    return pathIn(join(this.#dir(uuid), file), [this.#o.instancesDir]);
  }

  async hostResources(): Promise<HostResources> {
    await mkdir(this.#o.instancesDir, { recursive: true });
    const fs = await statfs(this.#o.instancesDir);
    return {
      hypervisorHostname: this.#o.hostname,
      hypervisorType: 'QEMU',
      hypervisorVersion: await this.#qemuVersion(),
      hostIp: '127.0.0.1',
      vcpus: os.cpus().length,
      memoryMb: Math.floor(os.totalmem() / 1024 / 1024),
      localGb: Math.floor((fs.blocks * fs.bsize) / GIB),
      cpuInfo: { arch: 'x86_64', accel: this.#o.accel ?? 'tcg' },
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
    const dir = this.#dir(spec.uuid);
    if ((await this.#pid(spec.uuid)) !== undefined) return;
    try {
      await mkdir(dir, { recursive: true });
      let guest = await this.#guest(spec.uuid);
      if (guest === undefined) {
        const image = await this.#o.image(spec.imageId);
        guest = { spec, image };
        await qemuImgCreateOverlay(
          join(dir, 'disk.qcow2'),
          image.path,
          image.format,
          spec.rootGb > 0 ? spec.rootGb * GIB : undefined,
          { roots: [this.#o.instancesDir, ...this.#o.imageRoots], runner: this.#runner },
        );
        if (spec.configDrive)
          await buildConfigDrive(configDriveFiles(spec), {
            path: join(dir, 'config.iso'),
            roots: [this.#o.instancesDir],
            runner: this.#runner,
          });
        // Written last: a folder without it is a spawn cut short, made again next time.
        await writeFile(join(dir, 'guest.json'), JSON.stringify(guest));
      }
      await this.#launch(guest);
    } catch (err) {
      throw new GuestBuildError(
        `QEMU could not start guest ${spec.uuid}: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
  }

  async #guest(uuid: string): Promise<GuestFile | undefined> {
    try {
      return JSON.parse(await readFile(join(this.#dir(uuid), 'guest.json'), 'utf8')) as GuestFile;
    } catch {
      return undefined;
    }
  }

  async #launch(guest: GuestFile): Promise<void> {
    const { spec } = guest;
    const at = (file: string) => this.#path(spec.uuid, file);
    const args: Arg[] = [
      flag('-name'),
      qemuOptions([['guest', flag(spec.uuid)]]),
      flag('-machine'),
      qemuOptions([['accel', flag(this.#o.accel ?? 'tcg')]], flag('q35')),
      flag('-m'),
      byteSize(spec.memoryMb),
      flag('-smp'),
      byteSize(spec.vcpus),
      flag('-nodefaults'),
      flag('-no-user-config'),
      flag('-display'),
      flag('none'),
      flag('-nic'),
      flag('none'),
      flag('-chardev'),
      qemuOptions(
        [
          ['id', flag('console')],
          ['path', at('console.log')],
          ['append', flag('on')],
        ],
        flag('file'),
      ),
      flag('-serial'),
      flag('chardev:console'),
      flag('-chardev'),
      qemuOptions(
        [
          ['id', flag('qmp')],
          ['path', at('qmp.sock')],
          ['server', flag('on')],
          ['wait', flag('off')],
        ],
        flag('socket'),
      ),
      flag('-mon'),
      qemuOptions([
        ['chardev', flag('qmp')],
        ['mode', flag('control')],
      ]),
      flag('-drive'),
      qemuOptions([
        ['file', at('disk.qcow2')],
        ['format', flag('qcow2')],
        ['if', flag('virtio')],
      ]),
    ];
    if (spec.configDrive)
      args.push(
        flag('-drive'),
        qemuOptions([
          ['file', at('config.iso')],
          ['format', flag('raw')],
          ['if', flag('virtio')],
          ['readonly', flag('on')],
        ]),
      );
    // The parent exits once the guest is set up; the guest lives on in the background.
    args.push(flag('-daemonize'), flag('-pidfile'), at('qemu.pid'));
    await this.#runner.run('qemu-system-x86_64', args, { timeoutMs: 60_000 });
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
      return cmdline.includes(`guest=${uuid}`) ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  async #qmp<T = unknown>(
    uuid: string,
    command: string,
    args?: Record<string, unknown>,
  ): Promise<T> {
    return qmp<T>(join(this.#dir(uuid), 'qmp.sock'), command, args);
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
    await rm(this.#dir(uuid), { recursive: true, force: true });
  }

  async getInfo(uuid: string): Promise<GuestInfo | undefined> {
    if ((await this.#guest(uuid)) === undefined) return undefined;
    if ((await this.#pid(uuid)) === undefined) return { powerState: POWER_STATE.SHUTDOWN };
    const status = await this.#qmp<{ status: string }>(uuid, 'query-status').catch(() => undefined);
    return { powerState: powerStateOf(status?.status) };
  }

  async listInstances(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.#o.instancesDir);
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
    if ((await this.#pid(uuid)) === undefined) await this.#launch(guest);
  }

  async reboot(uuid: string, hard: boolean): Promise<void> {
    const guest = await this.#known(uuid);
    if ((await this.#pid(uuid)) === undefined) return this.#launch(guest);
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
        roots: [this.#o.instancesDir, ...this.#o.imageRoots],
        runner: this.#runner,
        forceShare: status !== undefined,
      });
      return { diskFormat: 'qcow2', data: await readFile(copy) };
    } finally {
      if (status === 'running') await this.#qmp(uuid, 'cont');
      await rm(copy, { force: true });
    }
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

/** The config drive's files as Nova lays them out (`openstack/latest/…`). */
function configDriveFiles(spec: GuestSpec): Record<string, string> {
  const keys: Record<string, string> = {};
  if (spec.keyData !== null) keys['key'] = spec.keyData;
  const meta = {
    uuid: spec.uuid,
    name: spec.name,
    hostname: spec.hostname,
    launch_index: 0,
    availability_zone: null,
    meta: spec.metadata,
    public_keys: keys,
    keys: Object.entries(keys).map(([name, data]) => ({ name, type: 'ssh', data })),
    project_id: null,
    devices: [],
  };
  const files: Record<string, string> = {
    'openstack/latest/meta_data.json': JSON.stringify(meta),
    'openstack/latest/network_data.json': JSON.stringify({ links: [], networks: [], services: [] }),
  };
  if (spec.userData !== null)
    files['openstack/latest/user_data'] = Buffer.from(spec.userData, 'base64').toString('utf8');
  return files;
}
