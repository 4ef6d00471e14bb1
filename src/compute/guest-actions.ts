/**
 * The actions a host's agent performs on its guest (power, pause, suspend, shelve…): from which
 * states each may start, the task state it holds while the agent works, and where it ends. The
 * API checks the request against the table, the agent reads its outcome from it, so both agree
 * on every transition (Nova's `check_instance_state` decorators and compute manager).
 */
import type { VmState } from './instance-model.ts';

export const GUEST_ACTION_NAMES = [
  'stop',
  'start',
  'reboot_soft',
  'reboot_hard',
  'pause',
  'unpause',
  'suspend',
  'resume',
  'rescue',
  'unrescue',
  'rebuild',
  'snapshot',
  'shelve',
  'shelve_offload',
  'unshelve',
] as const;
export type GuestActionName = (typeof GUEST_ACTION_NAMES)[number];

export type GuestAction = {
  /** The name in the instance's action log (`os-instance-actions`) and in error messages. */
  action: string;
  /** The `vm_state`s it may start from. */
  from: readonly VmState[];
  /** The task states it may start from (null: none); Nova's default is "no task". */
  fromTask: readonly (string | null)[];
  /** The task state while the agent works on it. */
  taskState: string;
  /** The `vm_state` it ends in. */
  to: VmState;
  /** The event recorded on the action (Nova's compute manager method). */
  event: string;
  /** The notification prefix (`compute.instance.<notify>.start/end`). */
  notify: string;
};

const NO_TASK = [null] as const;

export const GUEST_ACTIONS: Readonly<Record<GuestActionName, GuestAction>> = {
  stop: {
    action: 'stop',
    from: ['active', 'error'],
    fromTask: NO_TASK,
    taskState: 'powering-off',
    to: 'stopped',
    event: 'compute_stop_instance',
    notify: 'power_off',
  },
  start: {
    action: 'start',
    from: ['stopped'],
    fromTask: NO_TASK,
    taskState: 'powering-on',
    to: 'active',
    event: 'compute_start_instance',
    notify: 'power_on',
  },
  reboot_soft: {
    action: 'reboot',
    from: ['active'],
    fromTask: NO_TASK,
    taskState: 'rebooting',
    to: 'active',
    event: 'compute_reboot_instance',
    notify: 'reboot',
  },
  // A hard reboot also rescues a guest stuck in a soft reboot, as Nova allows.
  reboot_hard: {
    action: 'reboot',
    from: ['active', 'stopped', 'paused', 'suspended', 'error'],
    fromTask: [null, 'rebooting', 'reboot_pending', 'reboot_started', 'rebooting_hard'],
    taskState: 'rebooting_hard',
    to: 'active',
    event: 'compute_reboot_instance',
    notify: 'reboot',
  },
  pause: {
    action: 'pause',
    from: ['active'],
    fromTask: NO_TASK,
    taskState: 'pausing',
    to: 'paused',
    event: 'compute_pause_instance',
    notify: 'pause',
  },
  unpause: {
    action: 'unpause',
    from: ['paused'],
    fromTask: NO_TASK,
    taskState: 'unpausing',
    to: 'active',
    event: 'compute_unpause_instance',
    notify: 'unpause',
  },
  suspend: {
    action: 'suspend',
    from: ['active'],
    fromTask: NO_TASK,
    taskState: 'suspending',
    to: 'suspended',
    event: 'compute_suspend_instance',
    notify: 'suspend',
  },
  resume: {
    action: 'resume',
    from: ['suspended'],
    fromTask: NO_TASK,
    taskState: 'resuming',
    to: 'active',
    event: 'compute_resume_instance',
    notify: 'resume',
  },
  rescue: {
    action: 'rescue',
    from: ['active', 'stopped', 'error'],
    fromTask: NO_TASK,
    taskState: 'rescuing',
    to: 'rescued',
    event: 'compute_rescue_instance',
    notify: 'rescue',
  },
  unrescue: {
    action: 'unrescue',
    from: ['rescued'],
    fromTask: NO_TASK,
    taskState: 'unrescuing',
    to: 'active',
    event: 'compute_unrescue_instance',
    notify: 'unrescue',
  },
  // The guest is made again from the (new) image; a stopped server is stopped again after.
  rebuild: {
    action: 'rebuild',
    from: ['active', 'stopped', 'error'],
    fromTask: NO_TASK,
    taskState: 'rebuilding',
    to: 'active',
    event: 'compute_rebuild_instance',
    notify: 'rebuild',
  },
  // The guest's disk is copied into an image; the server stays in its state.
  snapshot: {
    action: 'createImage',
    from: ['active', 'stopped', 'paused', 'suspended'],
    fromTask: NO_TASK,
    taskState: 'image_snapshot',
    to: 'active',
    event: 'compute_snapshot_instance',
    notify: 'snapshot',
  },
  // The guest stops and its disk goes to an image; the host lets it go at once when
  // `shelved_offload_time` is 0 (Nova's default), else after that many seconds or on request.
  shelve: {
    action: 'shelve',
    from: ['active', 'stopped', 'paused', 'suspended'],
    fromTask: NO_TASK,
    taskState: 'shelving',
    to: 'shelved',
    event: 'compute_shelve_instance',
    notify: 'shelve',
  },
  shelve_offload: {
    action: 'shelveOffload',
    from: ['shelved'],
    fromTask: NO_TASK,
    taskState: 'shelving_offloading',
    to: 'shelved_offloaded',
    event: 'compute_shelve_offload_instance',
    notify: 'shelve_offload',
  },
  // Unshelving a server its host still holds starts the guest there; an offloaded one is
  // scheduled and spawned from its snapshot instead (`unshelve` tasks, not this table).
  unshelve: {
    action: 'unshelve',
    from: ['shelved'],
    fromTask: NO_TASK,
    taskState: 'unshelving',
    to: 'active',
    event: 'compute_unshelve_instance',
    notify: 'unshelve',
  },
};

export function isGuestActionName(name: unknown): name is GuestActionName {
  return typeof name === 'string' && (GUEST_ACTION_NAMES as readonly string[]).includes(name);
}
