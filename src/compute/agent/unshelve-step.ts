/**
 * The host's part of unshelving an offloaded server, once the conductor has placed it here: the
 * server's ports are bound to this host, the guest is spawned from the shelve snapshot, and the
 * snapshot goes (Nova's `unshelve_instance`). When the guest cannot be made here the server goes
 * back to no host, shelved and offloaded, with a fault; its allocation here is removed.
 */
import { UpstreamStatusError } from '../../common/http/json-client.ts';
import { toDbTimestamp } from '../../common/db/portable.ts';
import type { Logger } from '../../common/logging.ts';
import type { Instance } from '../instance-model.ts';
import { bindPorts } from '../instance-network.ts';
import { failAction, type WorkerDeps } from '../lifecycle.ts';
import type { Task } from '../tasks.ts';
import { GuestBuildError, POWER_STATE, type VirtDriver } from '../virt/driver.ts';
import { guestSpecOf } from './guest-spec.ts';

export type UnshelveContext = WorkerDeps & {
  host: string;
  driver: VirtDriver;
  log: Logger;
  publisher: string;
};

const EVENT = 'compute_unshelve_instance';

export async function unshelveHere(
  ctx: UnshelveContext,
  task: Task,
  instance: Instance,
): Promise<void> {
  const { instances, tasks, driver } = ctx;
  const { row } = instance;
  const uuid = row.uuid;
  if (
    row.deleted === 1 ||
    row.vm_state !== 'shelved_offloaded' ||
    row.host !== ctx.host ||
    (row.task_state !== 'unshelving' && row.task_state !== 'spawning')
  ) {
    await instances.db.transaction().execute((trx) => tasks.finish(trx, task.id));
    return;
  }
  const start = instances.now();
  ctx.notify(ctx.publisher, 'unshelve.start', row);
  await instances.update(uuid, { task_state: 'spawning' }, { taskState: ['unshelving'] });
  let vifs;
  try {
    vifs = await bindPorts(ctx.network, instance, ctx.host, task.requestId);
    await driver.spawn({ ...guestSpecOf(instance, vifs), imageId: row.shelved_image_id ?? '' });
  } catch (err) {
    if (!(err instanceof GuestBuildError || err instanceof UpstreamStatusError)) throw err;
    ctx.log.warn({ err, instance: uuid }, 'unshelve failed here');
    await driver.destroy(uuid);
    await ctx.placement.deleteAllocations(uuid);
    await failAction(ctx, instance, task, {
      event: EVENT,
      host: ctx.host,
      taskState: 'spawning',
      message: err.message,
      publisher: ctx.publisher,
      notify: 'unshelve',
      change: { host: null, node: null },
    });
    return;
  }
  // The snapshot has served its purpose once the guest runs from it; it goes before the server
  // is recorded active, as Nova deletes it, so an active server has none left.
  if (row.shelved_image_id !== null)
    await ctx.images.deleteImage(row.shelved_image_id).catch(() => undefined);
  await instances.db.transaction().execute(async (trx) => {
    const changed = await instances.update(
      uuid,
      {
        vm_state: 'active',
        task_state: null,
        power_state: POWER_STATE.RUNNING,
        launched_at: toDbTimestamp(instances.now()),
        networkInfo: vifs,
        shelved_image_id: null,
        shelved_at: null,
        shelved_host: null,
      },
      { vmState: ['shelved_offloaded'], taskState: ['spawning'] },
      trx,
    );
    await tasks.finish(trx, task.id);
    if (changed)
      await instances.recordEvent(trx, uuid, task.requestId, {
        event: EVENT,
        host: ctx.host,
        result: 'Success',
        start,
      });
  });
  const after = await instances.row(uuid);
  if (after !== undefined) ctx.notify(ctx.publisher, 'unshelve.end', after.row);
}
