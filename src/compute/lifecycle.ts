/**
 * The state changes the conductor and the agents share: finishing a delete (ports released,
 * placement allocations removed, the row soft-deleted) and failing a build (ERROR with a fault).
 * Each is idempotent, so a task run twice ends in the same place.
 */
import type { Logger } from '../common/logging.ts';
import type { NetworkClient } from '../network/client.ts';
import type { PlacementClient } from '../placement/client.ts';
import type { ImageClient } from '../image/client.ts';
import { toDbTimestamp } from '../common/db/portable.ts';
import type { Instance } from './instance-model.ts';
import { releasePorts } from './instance-network.ts';
import type { Instances, StateChange } from './instances.ts';
import type { InstanceNotifier } from './notifier.ts';
import type { ServerGroups } from './server-groups.ts';
import type { Task, Tasks } from './tasks.ts';
import { flavorColumns, flavorOfColumn, setMigration, type Migration } from './instance-moves.ts';

export type WorkerDeps = {
  instances: Instances;
  tasks: Tasks;
  placement: PlacementClient;
  network: NetworkClient;
  images: ImageClient;
  notify: InstanceNotifier;
  groups: ServerGroups;
  logger: Logger;
};

/**
 * Releases what the instance holds outside the compute database and soft-deletes it; every
 * pending task of the instance is finished with it. The guest itself is the agent's to destroy
 * before (or the reconcile loop's, when the host was down).
 */
export async function completeDelete(
  deps: WorkerDeps,
  instance: Instance,
  task: Task,
  publisher: string,
): Promise<void> {
  await releasePortsAndClaims(deps, instance, task.requestId);
  // A shelved server's disk lives on only in its snapshot, which goes with it (as in Nova).
  const shelved = instance.row.shelved_image_id;
  if (shelved !== null) await deps.images.deleteImage(shelved).catch(() => undefined);
  const now = toDbTimestamp(deps.instances.now());
  const uuid = instance.row.uuid;
  await deps.instances.db.transaction().execute(async (trx) => {
    await deps.instances.update(
      uuid,
      {
        vm_state: 'deleted',
        task_state: null,
        power_state: 0,
        deleted: 1,
        deleted_at: now,
        terminated_at: now,
      },
      {},
      trx,
    );
    await deps.tasks.finishAllOf(trx, uuid);
    await deps.instances.recordEvent(trx, uuid, task.requestId, {
      event: 'compute_terminate_instance',
      host: instance.row.host,
      result: 'Success',
      start: deps.instances.now(),
    });
  });
  const after = await deps.instances.row(uuid);
  if (after !== undefined) deps.notify(publisher, 'delete.end', after.row);
}

export async function releasePortsAndClaims(
  deps: Pick<WorkerDeps, 'network' | 'placement' | 'instances'>,
  instance: Instance,
  requestId: string,
): Promise<void> {
  await releasePorts(deps.network, instance, requestId);
  await deps.placement.deleteAllocations(instance.row.uuid);
  // A move in progress keeps the source's allocations under its migration: they go too.
  const moves = await deps.instances.db
    .selectFrom('migrations')
    .select('uuid')
    .where('instance_uuid', '=', instance.row.uuid)
    .where('status', 'not in', ['confirmed', 'reverted', 'error', 'completed', 'done'])
    .execute();
  for (const m of moves) await deps.placement.deleteAllocations(m.uuid);
}

/** ERROR with a fault; the task ends. Allocations stay with the instance until it is deleted. */
export async function failBuild(
  deps: WorkerDeps,
  instance: Instance,
  task: Task,
  fault: { code: number; message: string; details?: string },
  publisher: string,
): Promise<void> {
  const uuid = instance.row.uuid;
  await deps.instances.db.transaction().execute(async (trx) => {
    const changed = await deps.instances.update(
      uuid,
      { vm_state: 'error', task_state: null },
      { vmState: ['building'] },
      trx,
    );
    if (changed) await deps.instances.addFault(uuid, fault.code, fault.message, fault.details, trx);
    await deps.tasks.finish(trx, task.id);
    await deps.instances.recordEvent(trx, uuid, task.requestId, {
      event: 'compute__do_build_and_run_instance',
      host: instance.row.host,
      result: 'Error',
      start: deps.instances.now(),
      details: fault.message,
    });
  });
  const after = await deps.instances.row(uuid);
  if (after !== undefined)
    deps.notify(publisher, 'create.error', after.row, { message: fault.message });
}

/**
 * An action that could not be done: the instance keeps its state, its task state is cleared,
 * and a fault and the action's event say why. The task ends.
 */
export async function failAction(
  deps: WorkerDeps,
  instance: Instance,
  task: Task,
  failure: {
    event: string;
    host: string | null;
    /** The task state the action held; cleared only if it still holds it. */
    taskState: string;
    message: string;
    publisher: string;
    notify: string;
    /** Columns the failure changes besides the task state (an unshelve that lost its host). */
    change?: StateChange;
  },
): Promise<void> {
  const uuid = instance.row.uuid;
  await deps.instances.db.transaction().execute(async (trx) => {
    const changed = await deps.instances.update(
      uuid,
      { ...failure.change, task_state: null },
      { taskState: [failure.taskState] },
      trx,
    );
    if (changed) {
      await deps.instances.addFault(uuid, 500, failure.message, '', trx);
      await deps.instances.recordEvent(trx, uuid, task.requestId, {
        event: failure.event,
        host: failure.host,
        result: 'Error',
        start: deps.instances.now(),
        details: failure.message,
      });
    }
    await deps.tasks.finish(trx, task.id);
  });
  const after = await deps.instances.row(uuid);
  if (after !== undefined)
    deps.notify(failure.publisher, `${failure.notify}.error`, after.row, {
      message: failure.message,
    });
}

/**
 * Gives up a move that failed on a host: the instance goes back to its source host and old
 * flavor with its allocations there, keeps a fault, and the migration ends in `error`.
 */
export async function abandonMove(
  deps: WorkerDeps & { host: string | null; publisher: string },
  task: Task,
  instance: Instance,
  m: Migration,
  message: string,
): Promise<void> {
  const uuid = instance.row.uuid;
  const owner = { projectId: instance.row.project_id, userId: instance.row.user_id };
  if (Object.keys(await deps.placement.allocationsOf(m.uuid)).length > 0) {
    await deps.placement.deleteAllocations(uuid);
    await deps.placement.moveAllocations(m.uuid, uuid, owner);
  }
  const old = flavorOfColumn(instance.row.old_flavor) ?? instance.flavor;
  await deps.instances.db.transaction().execute(async (trx) => {
    await deps.instances.update(
      uuid,
      {
        ...flavorColumns(old),
        host: m.source_compute,
        node: m.source_node,
        vm_state: task.payload['oldVmState'] === 'stopped' ? 'stopped' : 'active',
        task_state: null,
        old_flavor: null,
        new_flavor: null,
      },
      {},
      trx,
    );
    await setMigration(trx, m.uuid, { status: 'error' }, deps.instances.now());
    await deps.instances.addFault(uuid, 500, message, '', trx);
    await deps.instances.recordEvent(trx, uuid, task.requestId, {
      event: 'compute_resize_instance',
      host: deps.host,
      result: 'Error',
      start: deps.instances.now(),
      details: message,
    });
    await deps.tasks.finish(trx, task.id);
  });
  const after = await deps.instances.row(uuid);
  if (after !== undefined) deps.notify(deps.publisher, 'resize.error', after.row, { message });
}
