/**
 * The conductor's part of a move (resize, cold or live migration, evacuation): the instance's
 * allocations on its source move to the migration (as Nova's conductor does), the scheduler
 * picks a destination and claims the flavor there for the instance, and the task goes to the
 * agent that acts first. When no host fits, the allocations go back and the instance stays
 * where it was, with a fault.
 */
import type { Logger } from '../../common/logging.ts';
import type { MessageBus } from '../../common/messaging/bus.ts';
import type { Instance } from '../instance-model.ts';
import { flavorOfColumn, migrationOf, setMigration, type MoveStep } from '../instance-moves.ts';
import { failAction, type WorkerDeps } from '../lifecycle.ts';
import { NoValidHostError, type Scheduler } from '../scheduler/scheduler.ts';
import { dispatch, type Task } from '../tasks.ts';
import { schedulingRequestOf } from './scheduling-request.ts';

export type MoveSchedulingDeps = WorkerDeps & {
  name: string;
  scheduler: Scheduler;
  bus: MessageBus;
  log: Logger;
  publisher: string;
  /** Nova's `allow_resize_to_same_host` (a cold migration always leaves its host). */
  allowResizeToSameHost: boolean;
};

/** Per kind of move: the task state while it is scheduled, what follows, and who goes first. */
const PLAN: Readonly<
  Record<string, { waiting: string; next: string; step: MoveStep; first: 'source' | 'dest' }>
> = {
  resize: {
    waiting: 'resize_prep',
    next: 'resize_migrating',
    step: 'resize_source',
    first: 'source',
  },
  migration: {
    waiting: 'resize_prep',
    next: 'resize_migrating',
    step: 'resize_source',
    first: 'source',
  },
  'live-migration': {
    waiting: 'migrating',
    next: 'migrating',
    step: 'live_dest_prepare',
    first: 'dest',
  },
  evacuation: { waiting: 'rebuilding', next: 'rebuilding', step: 'evacuate_dest', first: 'dest' },
};

export async function scheduleMove(
  deps: MoveSchedulingDeps,
  task: Task,
  instance: Instance,
): Promise<void> {
  const { instances, tasks, placement } = deps;
  const { row } = instance;
  const uuid = task.payload['migration'];
  const migration = typeof uuid === 'string' ? await migrationOf(instances.db, uuid) : undefined;
  const plan = migration === undefined ? undefined : PLAN[migration.migration_type];
  const flavor = flavorOfColumn(row.new_flavor) ?? instance.flavor;
  if (
    migration === undefined ||
    plan === undefined ||
    row.deleted === 1 ||
    row.task_state !== plan.waiting
  ) {
    await instances.db.transaction().execute((trx) => tasks.finish(trx, task.id));
    return;
  }
  const owner = { projectId: row.project_id, userId: row.user_id };
  // The source's allocations are the migration's until the move is confirmed or reverted.
  await placement.moveAllocations(row.uuid, migration.uuid, owner);
  const source = migration.source_compute ?? '';
  const leave = migration.migration_type !== 'resize' || !deps.allowResizeToSameHost;
  const group = await deps.groups.placementOf(row.uuid);
  let selection;
  try {
    selection = await deps.scheduler.select(
      schedulingRequestOf(instance, {
        flavor,
        ignoreHosts: leave ? [source] : [],
        ...(migration.dest_host !== null ? { onlyHosts: [migration.dest_host] } : {}),
        group,
      }),
    );
  } catch (err) {
    if (!(err instanceof NoValidHostError)) throw err;
    await placement.moveAllocations(migration.uuid, row.uuid, owner);
    await setMigration(instances.db, migration.uuid, { status: 'error' }, instances.now());
    await failAction(deps, instance, task, {
      event: 'conductor_migrate_server',
      host: null,
      taskState: plan.waiting,
      message: err.message,
      publisher: deps.publisher,
      notify: 'resize',
    });
    return;
  }
  const first = plan.first === 'source' ? source : selection.host;
  const handed = await instances.db.transaction().execute(async (trx) => {
    const ok = await instances.update(
      row.uuid,
      { task_state: plan.next },
      { taskState: [plan.waiting] },
      trx,
    );
    if (!ok) return false;
    await setMigration(
      trx,
      migration.uuid,
      { status: 'migrating', dest_compute: selection.host, dest_node: selection.nodename },
      instances.now(),
    );
    return tasks.handOver(trx, task.id, deps.name, {
      stage: 'host',
      host: first,
      payload: { ...task.payload, step: plan.step },
    });
  });
  if (!handed) {
    // Deleted or reset meanwhile: the new claim must not leak, the migration gives its back.
    await placement.deleteAllocations(row.uuid);
    await placement.moveAllocations(migration.uuid, row.uuid, owner);
    return;
  }
  await dispatch(deps.bus, { id: task.id, stage: 'host', host: first }, task.requestId);
}
