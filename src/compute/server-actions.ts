/**
 * Requests that change a server after it exists. Each writes the desired change (a task state
 * and a task row) in one transaction and then tells the worker; the task row is what makes the
 * change happen even if the message is lost. Changes that need no worker (lock, reset-state)
 * are written here directly.
 */
import { ConflictError, NotFoundError } from '../common/errors.ts';
import type { MessageBus } from '../common/messaging/bus.ts';
import { GUEST_ACTIONS, type GuestActionName } from './guest-actions.ts';
import type { Hosts } from './hosts.ts';
import type { Instance } from './instance-model.ts';
import type { Db, Expected, Instances, StateChange } from './instances.ts';
import { callHost } from './host-rpc.ts';
import { dispatch, type NewTask, type Tasks } from './tasks.ts';

export type ActionDeps = { instances: Instances; tasks: Tasks; hosts: Hosts; bus: MessageBus };

export type Actor = { requestId: string; projectId: string; userId: string; isAdmin: boolean };

/** @throws ConflictError (409) when the instance is locked and the caller is not an admin. */
export function checkLock(instance: Instance, actor: Actor): void {
  if (instance.row.locked === 1 && !actor.isAdmin)
    throw new ConflictError(`Instance ${instance.row.uuid} is locked`, 'compute.instance_locked');
}

/** Nova's refusal of an action the instance's state does not allow. */
export function invalidState(action: string, instance: Instance): ConflictError {
  const { row } = instance;
  return new ConflictError(
    row.task_state !== null
      ? `Cannot '${action}' instance ${row.uuid} while it is in task_state ${row.task_state}`
      : `Cannot '${action}' instance ${row.uuid} while it is in vm_state ${row.vm_state}`,
    'compute.instance_invalid_state',
  );
}

/**
 * @throws ConflictError (409) unless the instance is in one of `vmStates` with a task state in
 *   `taskStates` (null: no task), worded as Nova's `check_instance_state`.
 */
export function checkState(
  instance: Instance,
  action: string,
  vmStates: readonly string[],
  taskStates: readonly (string | null)[] = [null],
): void {
  const { row } = instance;
  if (!vmStates.includes(row.vm_state))
    throw new ConflictError(
      `Cannot '${action}' instance ${row.uuid} while it is in vm_state ${row.vm_state}`,
      'compute.instance_invalid_state',
    );
  if (!taskStates.includes(row.task_state)) throw invalidState(action, instance);
}

/**
 * Deletes a server: its host's agent destroys the guest, or the conductor finishes the delete
 * when it never reached a host. Deleting twice is allowed and does the work once.
 * @throws ConflictError (409) for a locked instance (admins may delete it).
 */
export async function requestDelete(
  deps: ActionDeps,
  instance: Instance,
  actor: Actor,
): Promise<void> {
  checkLock(instance, actor);
  const uuid = instance.row.uuid;
  const host = instance.row.host;
  const pending = await deps.tasks.pendingOf(uuid);
  if (pending.some((t) => t.kind === 'delete')) return;
  // A host that is down cannot destroy its guest: the conductor completes the delete, and the
  // agent's reconcile destroys the guest when the host comes back (Nova's local delete).
  const service = host === null ? undefined : await deps.hosts.service(host, 'nova-compute');
  const hostUp = service !== undefined && deps.hosts.isUp(service);
  const stage = hostUp ? ('host' as const) : ('conductor' as const);
  const ids = await deps.instances.db.transaction().execute(async (trx) => {
    await deps.instances.update(uuid, { task_state: 'deleting' }, {}, trx);
    await deps.instances.startAction(trx, {
      uuids: [uuid],
      requestId: actor.requestId,
      action: 'delete',
      projectId: actor.projectId,
      userId: actor.userId,
    });
    return deps.tasks.add(trx, [
      { instanceUuid: uuid, kind: 'delete', stage, host, requestId: actor.requestId },
    ]);
  });
  await dispatch(deps.bus, { id: ids[0] as string, stage, host }, actor.requestId);
}

/**
 * Asks the instance's host to stop, start, reboot, pause, unpause, suspend or resume it: the task
 * state is set (only if the instance is still in a state the action may start from, so two
 * racing requests cannot both pass) together with the action record and the host task.
 * @throws ConflictError (409) for a locked instance, a state the action cannot start from, or
 *   an instance that has no host.
 */
export async function requestGuestAction(
  deps: ActionDeps,
  instance: Instance,
  actor: Actor,
  name: GuestActionName,
  options: {
    /** More for the agent (a rescue image…); the instance's state before is always there. */
    payload?: Record<string, string>;
    /** Columns the request changes with the task state (a rebuild's image, name…). */
    change?: StateChange;
    /** All of the server's metadata after the request (a rebuild may replace it). */
    metadata?: Readonly<Record<string, string>>;
  } = {},
): Promise<void> {
  const spec = GUEST_ACTIONS[name];
  checkLock(instance, actor);
  checkState(instance, spec.action, spec.from, spec.fromTask);
  const { uuid, host } = instance.row;
  if (host === null)
    throw new ConflictError(`Instance ${uuid} is not ready`, 'compute.instance_not_ready');
  await requestWork(deps, instance, actor, {
    action: spec.action,
    change: { ...options.change, task_state: spec.taskState },
    expected: { vmState: spec.from, taskState: spec.fromTask },
    ...(options.metadata !== undefined
      ? { within: (trx: Db) => replaceMetadata(trx, uuid, options.metadata ?? {}) }
      : {}),
    task: {
      kind: 'action',
      stage: 'host',
      host,
      payload: { ...options.payload, action: name, oldVmState: instance.row.vm_state },
    },
  });
}

/** Replaces all of the server's metadata (a rebuild's), inside the caller's transaction. */
async function replaceMetadata(
  trx: Db,
  uuid: string,
  metadata: Readonly<Record<string, string>>,
): Promise<void> {
  await trx.deleteFrom('instance_metadata').where('instance_uuid', '=', uuid).execute();
  const rows = Object.entries(metadata).map(([key, value]) => ({
    instance_uuid: uuid,
    key,
    value,
  }));
  if (rows.length > 0) await trx.insertInto('instance_metadata').values(rows).execute();
}

/**
 * Records a request for work on an instance in one transaction: the change (only if the
 * instance is still as `expected`, so two racing requests cannot both pass), what else the
 * request writes (`within`), the action in its log and the task; then tells the task's worker.
 * @throws ConflictError (409) when the instance changed first, worded for the state it is in.
 */
export async function requestWork(
  deps: ActionDeps,
  instance: Instance,
  actor: Actor,
  work: {
    action: string;
    change: StateChange;
    expected: Expected;
    /** More rows the request writes in the same transaction (a migration, new metadata). */
    within?: (trx: Db) => Promise<void>;
    task: Pick<NewTask, 'kind' | 'stage' | 'host' | 'payload'>;
  },
): Promise<void> {
  const uuid = instance.row.uuid;
  const ids = await deps.instances.db.transaction().execute(async (trx) => {
    const changed = await deps.instances.update(uuid, work.change, work.expected, trx);
    if (!changed) return undefined;
    await work.within?.(trx);
    await deps.instances.startAction(trx, {
      uuids: [uuid],
      requestId: actor.requestId,
      action: work.action,
      projectId: actor.projectId,
      userId: actor.userId,
    });
    return deps.tasks.add(trx, [{ ...work.task, instanceUuid: uuid, requestId: actor.requestId }]);
  });
  if (ids === undefined) {
    // Another request changed it first: refuse with the state it is in now.
    const now = await deps.instances.row(uuid);
    throw invalidState(work.action, now ?? instance);
  }
  const { stage, host = null } = work.task;
  await dispatch(deps.bus, { id: ids[0] as string, stage, host }, actor.requestId);
}

/**
 * Locks the instance against changes by non-admins; `locked_by` says whether its owner or an
 * admin of another project did it (only an admin may undo an admin's lock).
 */
export async function lockInstance(
  deps: ActionDeps,
  instance: Instance,
  actor: Actor,
  reason: string | null,
): Promise<void> {
  const lockedBy = actor.projectId === instance.row.project_id ? 'owner' : 'admin';
  await deps.instances.db.transaction().execute(async (trx) => {
    await deps.instances.update(
      instance.row.uuid,
      { locked: 1, locked_by: lockedBy, locked_reason: reason },
      {},
      trx,
    );
    await startAndFinish(deps, trx, instance, actor, 'lock');
  });
}

/** Whether the caller may lift the lock without the override policy (its own kind of lock). */
export function ownsLock(instance: Instance, actor: Actor): boolean {
  const lockedBy = actor.projectId === instance.row.project_id ? 'owner' : 'admin';
  return instance.row.locked_by === null || instance.row.locked_by === lockedBy;
}

export async function unlockInstance(
  deps: ActionDeps,
  instance: Instance,
  actor: Actor,
): Promise<void> {
  await deps.instances.db.transaction().execute(async (trx) => {
    await deps.instances.update(
      instance.row.uuid,
      { locked: 0, locked_by: null, locked_reason: null },
      {},
      trx,
    );
    await startAndFinish(deps, trx, instance, actor, 'unlock');
  });
}

/** An action the API completes itself: recorded as started and finished at once. */
async function startAndFinish(
  deps: ActionDeps,
  trx: Parameters<Instances['startAction']>[0],
  instance: Instance,
  actor: Actor,
  action: string,
): Promise<void> {
  await deps.instances.startAction(trx, {
    uuids: [instance.row.uuid],
    requestId: actor.requestId,
    action,
    projectId: actor.projectId,
    userId: actor.userId,
    finished: true,
  });
}

/**
 * An admin's repair (`os-resetState`): sets `vm_state` to `active` or `error` and clears the
 * task state. Work still pending for the instance is dropped, so no worker undoes the repair.
 */
export async function resetState(
  deps: ActionDeps,
  instance: Instance,
  actor: Actor,
  state: 'active' | 'error',
): Promise<void> {
  await deps.instances.db.transaction().execute(async (trx) => {
    await startAndFinish(deps, trx, instance, actor, 'resetState');
    await deps.instances.update(instance.row.uuid, { vm_state: state, task_state: null }, {}, trx);
    await deps.tasks.finishAllOf(trx, instance.row.uuid);
  });
}

/**
 * The guest's serial console output, asked of its host's agent; the last `length` lines when
 * given.
 * @throws ConflictError (409) when the instance has no host; NotFoundError (404) when the host
 *   has no console for it; ServiceUnavailableError (503) when the host does not answer.
 */
export async function consoleOutput(
  deps: ActionDeps,
  instance: Instance,
  length: number | undefined,
): Promise<string> {
  const { uuid, host } = instance.row;
  if (host === null)
    throw new ConflictError(`Instance ${uuid} is not ready`, 'compute.instance_not_ready');
  const reply = await callHost(deps.bus, host, 'get_console_output', {
    instance_uuid: uuid,
    ...(length !== undefined ? { length } : {}),
  });
  const output =
    typeof reply === 'object' && reply !== null && !Array.isArray(reply)
      ? reply['output']
      : undefined;
  if (typeof output !== 'string')
    throw new NotFoundError(
      'Guest does not have a console available.',
      'compute.console_not_available',
    );
  return output;
}
