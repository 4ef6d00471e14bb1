/**
 * The `qemu-system-x86_64` command line of one guest, from its spec and its folder's files.
 * Every value is a validated `Arg`; option lists go through `qemuOptions`, which escapes commas.
 */
import {
  byteSize,
  flag,
  macAddress,
  phrase,
  prefixed,
  qemuOptions,
  type Arg,
} from '../../../common/privileged/index.ts';
import type { GuestSpec } from '../driver.ts';
import { NIC_SLOTS, tapName, type NicSlots } from './guest-nics.ts';

/** QEMU's ids for the NIC in `slot`: its root port, its device and its network backend. */
export function nicIds(slot: number): { port: string; device: string; netdev: string } {
  return { port: `nicslot${slot}`, device: `nic${slot}`, netdev: `net${slot}` };
}

export type GuestFiles = {
  /** The path `file` of the guest's folder as a validated argument. */
  at: (file: string) => Arg;
  /** Disk files besides the root disk, in the order the guest sees them (vdb, vdc, …). */
  extraDisks: readonly string[];
  configDrive: boolean;
  /** A rescue disk booted first, the guest's own disk second (Nova's rescue). */
  rescue: boolean;
  /** The slot of each of `spec.vifs`. */
  nics: NicSlots;
};

export type LaunchMode = {
  accel: 'tcg' | 'kvm';
  hostname: string;
  /** Resume from the VM state saved in the root disk under this name (a suspend). */
  loadvm?: string;
  /** Wait for a live migration on this socket of the folder instead of booting. */
  incoming?: string;
};

function drive(file: Arg, format: 'qcow2' | 'raw', readonly = false): Arg[] {
  const pairs: [string, Arg][] = [
    ['file', file],
    ['format', flag(format)],
    ['if', flag('virtio')],
  ];
  if (readonly) pairs.push(['readonly', flag('on')]);
  return [flag('-drive'), qemuOptions(pairs)];
}

export function qemuCommand(spec: GuestSpec, files: GuestFiles, mode: LaunchMode): Arg[] {
  const { at } = files;
  const args: Arg[] = [
    flag('-name'),
    qemuOptions([['guest', flag(spec.uuid)]]),
    flag('-machine'),
    qemuOptions([['accel', flag(mode.accel)]], flag('q35')),
    // KVM runs the host's CPU model; TCG emulates QEMU's default one.
    ...(mode.accel === 'kvm' ? [flag('-cpu'), flag('host')] : []),
    flag('-m'),
    byteSize(spec.memoryMb),
    flag('-smp'),
    byteSize(spec.vcpus),
    flag('-nodefaults'),
    flag('-no-user-config'),
    flag('-display'),
    flag('none'),
    // What cloud-init looks for to know it runs on OpenStack.
    flag('-smbios'),
    qemuOptions(
      [
        ['manufacturer', flag('tstack')],
        ['product', phrase('OpenStack Compute')],
        ['uuid', flag(spec.uuid)],
      ],
      flag('type=1'),
    ),
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
  ];
  if (files.rescue) args.push(...drive(at('rescue.qcow2'), 'qcow2'));
  args.push(...drive(at('disk.qcow2'), 'qcow2'));
  for (const disk of files.extraDisks) args.push(...drive(at(disk), 'qcow2'));
  if (files.configDrive) args.push(...drive(at('config.iso'), 'raw', true));
  if (spec.vifs.length === 0) args.push(flag('-nic'), flag('none'));
  for (let slot = 0; slot < NIC_SLOTS; slot++)
    args.push(
      flag('-device'),
      qemuOptions(
        [
          ['id', flag(nicIds(slot).port)],
          ['chassis', byteSize(slot + 1)],
        ],
        flag('pcie-root-port'),
      ),
    );
  for (const vif of spec.vifs) {
    const slot = files.nics[vif.portId];
    if (slot === undefined) throw new Error(`NIC of port ${vif.portId} has no slot`);
    const ids = nicIds(slot);
    args.push(
      flag('-netdev'),
      qemuOptions(
        [
          ['id', flag(ids.netdev)],
          ['ifname', flag(tapName(mode.hostname, vif.portId))],
          ['script', flag('no')],
          ['downscript', flag('no')],
        ],
        flag('tap'),
      ),
      flag('-device'),
      qemuOptions(
        [
          ['id', flag(ids.device)],
          ['netdev', flag(ids.netdev)],
          ['mac', macAddress(vif.macAddress)],
          ['bus', flag(ids.port)],
        ],
        flag('virtio-net-pci'),
      ),
    );
  }
  if (mode.loadvm !== undefined) args.push(flag('-loadvm'), flag(mode.loadvm));
  if (mode.incoming !== undefined)
    args.push(flag('-incoming'), prefixed('unix:', at(mode.incoming)));
  // The parent exits once the guest is set up; the guest lives on in the background.
  args.push(flag('-daemonize'), flag('-pidfile'), at('qemu.pid'));
  return args;
}
