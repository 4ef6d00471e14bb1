/**
 * The instance as the compute domain sees it: Nova's three states (`vm_state`, `task_state`,
 * `power_state`), the status clients see derived from them, and the typed shapes stored as JSON
 * in the instance row (flavor at boot, request spec, network info).
 */
import { fromDbBoolean, fromDbJson } from '../common/db/portable.ts';
import type { InstanceRow } from './db/schema.ts';

export const VM_STATES = [
  'active',
  'building',
  'paused',
  'suspended',
  'stopped',
  'rescued',
  'resized',
  'soft-delete',
  'deleted',
  'error',
  'shelved',
  'shelved_offloaded',
] as const;
export type VmState = (typeof VM_STATES)[number];

/** The flavor an instance was booted with, as Nova embeds it from 2.47. */
export type FlavorSnapshot = {
  flavorid: string;
  name: string;
  vcpus: number;
  memory_mb: number;
  root_gb: number;
  ephemeral_gb: number;
  swap: number;
  description: string | null;
  extra_specs: Record<string, string>;
};

/** One entry of `networks` in a boot request, resolved. */
export type RequestedNetwork = {
  networkId?: string;
  /**
   * The network's name and MTU as the API saw them when it checked the request, so the build
   * does not ask for them again (a server's addresses are keyed by network name).
   */
  network?: { name: string; mtu: number };
  portId?: string;
  fixedIp?: string;
  tag?: string;
};

export type RequestSpec = {
  /** 'auto' and 'none' as the API takes them, else one entry per interface. */
  networks: 'auto' | 'none' | RequestedNetwork[];
  /** Security group ids for the instance's new ports; none means the project's default. */
  securityGroups: string[];
  /** The names the request gave, as the server view shows them. */
  securityGroupNames?: string[];
  availabilityZone: string | null;
  /** Scheduler hints: `same_host`, `different_host`, `group`. */
  hints: { sameHost?: string[]; differentHost?: string[]; group?: string };
  /** The host a build must go to; a `force`d one skips the filters (Nova's forced host). */
  destination?: { host: string; force: boolean };
  /** Hosts a build must not go to again (they failed it). */
  ignoreHosts: string[];
  /** The image's properties the filters look at (`hw_*`, `img_*`, `os_type`…). */
  imageProperties: Record<string, string>;
};

/** One port of the instance and its addresses, as last read from the network service. */
export type Vif = {
  portId: string;
  networkId: string;
  networkName: string;
  macAddress: string;
  ips: { address: string; version: 4 | 6; type: 'fixed' | 'floating' }[];
  /** Whether the instance made the port (and so deletes it) or the user brought it. */
  ownedByInstance: boolean;
  mtu: number;
};

export type Instance = {
  row: InstanceRow;
  flavor: FlavorSnapshot;
  requestSpec: RequestSpec;
  networkInfo: Vif[];
};

export function instanceOf(row: InstanceRow): Instance {
  return {
    row,
    flavor: fromDbJson(row.flavor) as FlavorSnapshot,
    requestSpec: fromDbJson(row.request_spec) as RequestSpec,
    networkInfo: fromDbJson(row.network_info) as Vif[],
  };
}

/**
 * The status clients see, from `vm_state` and `task_state` as Nova's API maps them: the task
 * wins when it has a status of its own (REBOOT, RESIZE, …), else the state's default.
 */
const STATE_STATUS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  building: { default: 'BUILD' },
  active: {
    default: 'ACTIVE',
    rebooting: 'REBOOT',
    reboot_pending: 'REBOOT',
    reboot_started: 'REBOOT',
    rebooting_hard: 'HARD_REBOOT',
    reboot_pending_hard: 'HARD_REBOOT',
    reboot_started_hard: 'HARD_REBOOT',
    update_password: 'PASSWORD',
    rebuilding: 'REBUILD',
    rebuild_block_device_mapping: 'REBUILD',
    rebuild_spawning: 'REBUILD',
    migrating: 'MIGRATING',
    resize_prep: 'RESIZE',
    resize_migrating: 'RESIZE',
    resize_migrated: 'RESIZE',
    resize_finish: 'RESIZE',
  },
  stopped: {
    default: 'SHUTOFF',
    resize_prep: 'RESIZE',
    resize_migrating: 'RESIZE',
    resize_migrated: 'RESIZE',
    resize_finish: 'RESIZE',
    rebuilding: 'REBUILD',
    rebuild_block_device_mapping: 'REBUILD',
    rebuild_spawning: 'REBUILD',
  },
  resized: { default: 'VERIFY_RESIZE', resize_reverting: 'REVERT_RESIZE' },
  paused: { default: 'PAUSED', migrating: 'MIGRATING' },
  suspended: { default: 'SUSPENDED' },
  rescued: { default: 'RESCUE' },
  error: {
    default: 'ERROR',
    rebuilding: 'REBUILD',
    rebuild_block_device_mapping: 'REBUILD',
    rebuild_spawning: 'REBUILD',
  },
  deleted: { default: 'DELETED' },
  'soft-delete': { default: 'SOFT_DELETED' },
  shelved: { default: 'SHELVED' },
  shelved_offloaded: { default: 'SHELVED_OFFLOADED' },
};

export function statusOf(vmState: string, taskState: string | null): string {
  const map = STATE_STATUS[vmState];
  if (map === undefined) return 'UNKNOWN';
  return (taskState !== null ? map[taskState] : undefined) ?? map['default'] ?? 'UNKNOWN';
}

/** The `vm_state`s a status filter selects (`status=SHUTOFF` → stopped), as Nova inverts it. */
export function vmStatesOf(
  status: string,
): { vmStates: string[]; taskStates?: string[] } | undefined {
  const vmStates: string[] = [];
  const taskStates = new Set<string>();
  let defaultHit = false;
  for (const [vm, map] of Object.entries(STATE_STATUS)) {
    for (const [task, s] of Object.entries(map)) {
      if (s !== status) continue;
      if (task === 'default') {
        vmStates.push(vm);
        defaultHit = true;
      } else {
        if (!vmStates.includes(vm)) vmStates.push(vm);
        taskStates.add(task);
      }
    }
  }
  if (vmStates.length === 0) return undefined;
  return defaultHit ? { vmStates } : { vmStates, taskStates: [...taskStates] };
}

export function isLocked(row: InstanceRow): boolean {
  return fromDbBoolean(row.locked);
}
