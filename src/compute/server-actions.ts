/**
 * Requests that change a server after it exists. Each writes the desired change (a task state
 * and a task row) in one transaction and then tells the worker; the task row is what makes the
 * change happen even if the message is lost.
 */
import { ConflictError } from '../common/errors.ts';
import type { MessageBus } from '../common/messaging/bus.ts';
import type { Hosts } from './hosts.ts';
import type { Instance } from './instance-model.ts';
import type { Instances } from './instances.ts';
import { dispatch, type Tasks } from './tasks.ts';

export type ActionDeps = { instances: Instances; tasks: Tasks; hosts: Hosts; bus: MessageBus };

export type Actor = { requestId: string; projectId: string; userId: string; isAdmin: boolean };

/** @throws ConflictError (409) when the instance is locked and the caller is not an admin. */
export function checkLock(instance: Instance, actor: Actor): void {
  if (instance.row.locked === 1 && !actor.isAdmin)
    throw new ConflictError(`Instance ${instance.row.uuid} is locked`, 'compute.instance_locked');
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
