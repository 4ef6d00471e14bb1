/**
 * The host side of a move, one step per task hand-over, as Nova's compute manager splits it.
 * Resize and cold migration: the source shuts its guest down (`resize_source`), the destination
 * starts the guest with the new flavor and owns the instance (`resize_dest`, then
 * VERIFY_RESIZE); a confirm destroys the source guest and drops the allocations the migration
 * kept (`confirm_source`); a revert destroys the destination guest (`revert_dest`) and brings
 * the source guest back with the old flavor (`revert_source`). Live migration: the destination
 * prepares a guest, the source hands its own over, the destination takes the instance
 * (`live_*`). Evacuation: the destination makes the guest again (`evacuate_dest`). Each step
 * first checks that the instance is still where the step expects it, so a repeated message
 * does nothing twice.
 */
import type { Logger } from '../../common/logging.ts';
import type { MessageBus } from '../../common/messaging/bus.ts';
import type { Instance, VmState } from '../instance-model.ts';
import {
  flavorColumns,
  flavorOfColumn,
  migrationOf,
  setMigration,
  type Migration,
  type MoveStep,
} from '../instance-moves.ts';
import { bindPorts } from '../instance-network.ts';
import type { Expected, StateChange } from '../instances.ts';
import { abandonMove, type WorkerDeps } from '../lifecycle.ts';
import { dispatch, type Task } from '../tasks.ts';
import {
  canMigrate,
  canPause,
  GuestNotFoundError,
  POWER_STATE,
  type VirtDriver,
} from '../virt/driver.ts';
import { guestSpecOf } from './guest-spec.ts';

export type MoveContext = WorkerDeps & {
  host: string;
  driver: VirtDriver;
  bus: MessageBus;
  log: Logger;
  publisher: string;
};

/** The task state each step expects the instance to hold. */
const EXPECTED: Readonly<Record<MoveStep, string | null>> = {
  schedule: 'resize_prep',
  resize_source: 'resize_migrating',
  resize_dest: 'resize_migrated',
  confirm_source: null,
  revert_dest: 'resize_reverting',
  revert_source: 'resize_reverting',
  live_dest_prepare: 'migrating',
  live_source_run: 'migrating',
  live_dest_finish: 'migrating',
  evacuate_dest: 'rebuilding',
};

async function finish(ctx: MoveContext, task: Task): Promise<void> {
  await ctx.instances.db.transaction().execute((trx) => ctx.tasks.finish(trx, task.id));
}

async function handOver(
  ctx: MoveContext,
  task: Task,
  host: string,
  step: MoveStep,
  change: StateChange,
  expected: string,
  event: string,
  start: Date,
): Promise<void> {
  const moved = await ctx.instances.db.transaction().execute(async (trx) => {
    const ok = await ctx.instances.update(
      task.instanceUuid,
      change,
      { taskState: [expected] },
      trx,
    );
    if (!ok) return false;
    await ctx.instances.recordEvent(trx, task.instanceUuid, task.requestId, {
      event,
      host: ctx.host,
      result: 'Success',
      start,
    });
    return ctx.tasks.handOver(trx, task.id, ctx.host, {
      stage: 'host',
      host,
      payload: { ...task.payload, step },
    });
  });
  if (moved) await dispatch(ctx.bus, { id: task.id, stage: 'host', host }, task.requestId);
}

/**
 * Ends a move on this host in one transaction: the instance changes (only if it still is in the
 * expected states), the migration gets its final status, the action its event, the task ends.
 */
async function settle(
  ctx: MoveContext,
  task: Task,
  m: Migration,
  end: { change: StateChange; expected: Expected; status: string; event: string; start: Date },
): Promise<void> {
  await ctx.instances.db.transaction().execute(async (trx) => {
    const ok = await ctx.instances.update(task.instanceUuid, end.change, end.expected, trx);
    if (ok) {
      await setMigration(trx, m.uuid, { status: end.status }, ctx.instances.now());
      await ctx.instances.recordEvent(trx, task.instanceUuid, task.requestId, {
        event: end.event,
        host: ctx.host,
        result: 'Success',
        start: end.start,
      });
    }
    await ctx.tasks.finish(trx, task.id);
  });
}

/** Powers a guest off, when the host has it. */
async function powerOffIfThere(driver: VirtDriver, uuid: string): Promise<void> {
  try {
    await driver.powerOff(uuid, 60_000);
  } catch (err) {
    if (!(err instanceof GuestNotFoundError)) throw err;
  }
}

/** Runs the step the task names; a task whose instance moved on is finished untouched. */
export async function runMoveStep(ctx: MoveContext, task: Task, instance: Instance): Promise<void> {
  const step = task.payload['step'] as MoveStep;
  const migrationUuid = task.payload['migration'];
  const migration =
    typeof migrationUuid === 'string'
      ? await migrationOf(ctx.instances.db, migrationUuid)
      : undefined;
  if (
    migration === undefined ||
    instance.row.deleted === 1 ||
    !(step in EXPECTED) ||
    instance.row.task_state !== EXPECTED[step]
  ) {
    await finish(ctx, task);
    return;
  }
  try {
    await STEPS[step](ctx, task, instance, migration);
  } catch (err) {
    ctx.log.warn({ err, instance: instance.row.uuid, step }, 'move step failed');
    await abandonMove(
      ctx,
      task,
      instance,
      migration,
      err instanceof Error ? err.message : String(err),
    );
  }
}

type Step = (ctx: MoveContext, task: Task, instance: Instance, m: Migration) => Promise<void>;

const resizeSource: Step = async (ctx, task, instance, m) => {
  const start = ctx.instances.now();
  ctx.notify(ctx.publisher, 'resize.start', instance.row);
  await powerOffIfThere(ctx.driver, instance.row.uuid);
  await handOver(
    ctx,
    task,
    m.dest_compute ?? ctx.host,
    'resize_dest',
    { task_state: 'resize_migrated', power_state: POWER_STATE.SHUTDOWN },
    'resize_migrating',
    'compute_resize_instance',
    start,
  );
};

const resizeDest: Step = async (ctx, task, instance, m) => {
  const start = ctx.instances.now();
  const flavor = flavorOfColumn(instance.row.new_flavor) ?? instance.flavor;
  const uuid = instance.row.uuid;
  const vifs = await bindPorts(ctx.network, instance, ctx.host, task.requestId);
  const spec = guestSpecOf(instance, vifs, flavor);
  const stopped = task.payload['oldVmState'] === 'stopped';
  if (canMigrate(ctx.driver)) {
    // The guest's own disk comes along; the source keeps its guest until the confirm.
    await ctx.driver.spawnFrom(spec, m.source_compute ?? ctx.host);
    if (!stopped) await ctx.driver.powerOn(uuid);
  } else {
    // A driver that cannot reach the source's disk starts the guest afresh from its image;
    // on the same host the old guest is replaced, elsewhere it stays shut off until the confirm.
    if (m.source_compute === ctx.host) await ctx.driver.destroy(uuid);
    await ctx.driver.spawn(spec);
    if (stopped) await ctx.driver.powerOff(uuid, 60_000);
  }
  const power = (await ctx.driver.getInfo(uuid))?.powerState ?? POWER_STATE.NOSTATE;
  await settle(ctx, task, m, {
    change: {
      ...flavorColumns(flavor),
      host: ctx.host,
      node: m.dest_node ?? ctx.host,
      vm_state: 'resized',
      task_state: null,
      power_state: power,
      networkInfo: vifs,
    },
    expected: { taskState: ['resize_migrated'] },
    status: 'finished',
    event: 'compute_finish_resize',
    start,
  });
  const after = await ctx.instances.row(uuid);
  if (after !== undefined) ctx.notify(ctx.publisher, 'resize.end', after.row);
};

const confirmSource: Step = async (ctx, task, instance, m) => {
  const start = ctx.instances.now();
  const uuid = instance.row.uuid;
  if (m.source_compute !== m.dest_compute) await ctx.driver.destroy(uuid);
  else if (canMigrate(ctx.driver)) await ctx.driver.confirmResize(uuid);
  await ctx.placement.deleteAllocations(m.uuid);
  await settle(ctx, task, m, {
    change: {
      vm_state: instance.row.power_state === POWER_STATE.SHUTDOWN ? 'stopped' : 'active',
      old_flavor: null,
      new_flavor: null,
    },
    expected: { vmState: ['resized'], taskState: [null] },
    status: 'confirmed',
    event: 'compute_confirm_resize',
    start,
  });
};

const revertDest: Step = async (ctx, task, instance, m) => {
  const start = ctx.instances.now();
  const uuid = instance.row.uuid;
  // On the same host the guest kept aside comes back; elsewhere the source still has it.
  if (m.source_compute === ctx.host && canMigrate(ctx.driver)) await ctx.driver.revertResize(uuid);
  else await ctx.driver.destroy(uuid);
  // The instance gets back the allocations its migration kept on the source.
  await ctx.placement.deleteAllocations(uuid);
  await ctx.placement.moveAllocations(m.uuid, uuid, {
    projectId: instance.row.project_id,
    userId: instance.row.user_id,
  });
  await handOver(
    ctx,
    task,
    m.source_compute ?? ctx.host,
    'revert_source',
    {},
    'resize_reverting',
    'compute_revert_resize',
    start,
  );
};

const revertSource: Step = async (ctx, task, instance, m) => {
  const start = ctx.instances.now();
  const uuid = instance.row.uuid;
  const old = flavorOfColumn(instance.row.old_flavor) ?? instance.flavor;
  const vifs = await bindPorts(ctx.network, instance, ctx.host, task.requestId);
  if ((await ctx.driver.getInfo(uuid)) === undefined)
    await ctx.driver.spawn(guestSpecOf(instance, vifs, old));
  const wasStopped = task.payload['oldVmState'] === 'stopped';
  if (wasStopped) await powerOffIfThere(ctx.driver, uuid);
  else await ctx.driver.powerOn(uuid);
  const power = (await ctx.driver.getInfo(uuid))?.powerState ?? POWER_STATE.NOSTATE;
  await settle(ctx, task, m, {
    change: {
      ...flavorColumns(old),
      host: ctx.host,
      node: m.source_node ?? ctx.host,
      vm_state: wasStopped ? 'stopped' : 'active',
      task_state: null,
      power_state: power,
      old_flavor: null,
      new_flavor: null,
      networkInfo: vifs,
    },
    expected: { taskState: ['resize_reverting'] },
    status: 'reverted',
    event: 'compute_finish_revert_resize',
    start,
  });
};

/** Live migration, first on the destination: a guest is made there to receive the source's. */
const liveDestPrepare: Step = async (ctx, task, instance, m) => {
  const start = ctx.instances.now();
  ctx.notify(ctx.publisher, 'live_migration_pre.start', instance.row);
  const spec = guestSpecOf(instance, instance.networkInfo);
  if (canMigrate(ctx.driver)) await ctx.driver.prepareIncoming(spec, m.source_compute ?? '');
  else await ctx.driver.spawn(spec);
  if (task.payload['oldVmState'] === 'paused' && canPause(ctx.driver))
    await ctx.driver.pause(instance.row.uuid);
  await setMigration(ctx.instances.db, m.uuid, { status: 'running' }, ctx.instances.now());
  await handOver(
    ctx,
    task,
    m.source_compute ?? ctx.host,
    'live_source_run',
    {},
    'migrating',
    'compute_pre_live_migration',
    start,
  );
};

/** The source sends its running guest over (the fake driver lets it go) and returns the task. */
const liveSourceRun: Step = async (ctx, task, instance, m) => {
  const start = ctx.instances.now();
  if (canMigrate(ctx.driver))
    await ctx.driver.migrateLive(instance.row.uuid, m.dest_compute ?? ctx.host);
  else await ctx.driver.destroy(instance.row.uuid);
  await handOver(
    ctx,
    task,
    m.dest_compute ?? ctx.host,
    'live_dest_finish',
    {},
    'migrating',
    'compute_live_migration',
    start,
  );
};

/** The destination owns the instance: its ports, the allocations, the host. */
const liveDestFinish: Step = async (ctx, task, instance, m) => {
  await arrive(ctx, task, instance, m, {
    vmState: task.payload['oldVmState'] === 'paused' ? 'paused' : 'active',
    taskState: 'migrating',
    status: 'completed',
    event: 'compute_post_live_migration_at_destination',
    notify: 'live_migration_post',
  });
};

/** Evacuation: the source is down; the guest is made again here from its image. */
const evacuateDest: Step = async (ctx, task, instance, m) => {
  const uuid = instance.row.uuid;
  const vifs = await bindPorts(ctx.network, instance, ctx.host, task.requestId);
  await ctx.driver.spawn(guestSpecOf(instance, vifs));
  const stopped = task.payload['oldVmState'] === 'stopped';
  if (stopped) await ctx.driver.powerOff(uuid, 60_000);
  await arrive(ctx, task, instance, m, {
    vmState: stopped ? 'stopped' : 'active',
    taskState: 'rebuilding',
    status: 'done',
    event: 'compute_rebuild_instance',
    notify: 'evacuate',
  });
};

/**
 * The last step of a live migration or evacuation: ports bound here, the allocations the
 * migration kept on the source dropped, the instance moved to this host.
 */
async function arrive(
  ctx: MoveContext,
  task: Task,
  instance: Instance,
  m: Migration,
  end: { vmState: VmState; taskState: string; status: string; event: string; notify: string },
): Promise<void> {
  const start = ctx.instances.now();
  const uuid = instance.row.uuid;
  const vifs = await bindPorts(ctx.network, instance, ctx.host, task.requestId);
  await ctx.placement.deleteAllocations(m.uuid);
  const power = (await ctx.driver.getInfo(uuid))?.powerState ?? POWER_STATE.NOSTATE;
  await settle(ctx, task, m, {
    change: {
      host: ctx.host,
      node: m.dest_node ?? ctx.host,
      vm_state: end.vmState,
      task_state: null,
      power_state: power,
      networkInfo: vifs,
    },
    expected: { taskState: [end.taskState] },
    status: end.status,
    event: end.event,
    start,
  });
  const after = await ctx.instances.row(uuid);
  if (after !== undefined) ctx.notify(ctx.publisher, `${end.notify}.end`, after.row);
}

const STEPS: Readonly<Record<MoveStep, Step>> = {
  live_dest_prepare: liveDestPrepare,
  live_source_run: liveSourceRun,
  live_dest_finish: liveDestFinish,
  evacuate_dest: evacuateDest,
  // Scheduling is the conductor's; a host given this step has nothing to do.
  schedule: async (ctx, task) => finish(ctx, task),
  resize_source: resizeSource,
  resize_dest: resizeDest,
  confirm_source: confirmSource,
  revert_dest: revertDest,
  revert_source: revertSource,
};
