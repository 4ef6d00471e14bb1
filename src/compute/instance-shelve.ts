/**
 * Unshelving (Nova's `compute.api.unshelve`): a server its host still holds is started there; an
 * offloaded one is scheduled again, optionally into another zone (2.77) or onto a host an admin
 * names (2.91), and spawned from its shelve snapshot.
 */
import { BadRequestError, ConflictError } from '../common/errors.ts';
import { toDbJson } from '../common/db/portable.ts';
import { computeZones, isAvailable, type Aggregates } from './aggregates.ts';
import type { Instance } from './instance-model.ts';
import {
  checkLock,
  checkState,
  requestGuestAction,
  requestWork,
  type ActionDeps,
  type Actor,
} from './server-actions.ts';

export type UnshelveDeps = ActionDeps & { aggregates: Aggregates; defaultAvailabilityZone: string };

/** Where an offloaded server may go: a zone (null unpins it; absent keeps it) and a host. */
export type UnshelveTarget = { zone?: string | null; host?: string };

/**
 * @throws ConflictError (409) for a locked server, one that is not shelved, a zone or host
 *   given for a server that is not offloaded, or a host outside the zone; BadRequestError (400)
 *   for a zone that takes no servers or a host that is not a compute host.
 */
export async function requestUnshelve(
  deps: UnshelveDeps,
  instance: Instance,
  actor: Actor,
  target: UnshelveTarget,
): Promise<void> {
  checkLock(instance, actor);
  checkState(instance, 'unshelve', ['shelved', 'shelved_offloaded']);
  const { row } = instance;
  const zoneGiven = target.zone !== undefined;
  if ((zoneGiven || target.host !== undefined) && row.vm_state !== 'shelved_offloaded')
    throw new ConflictError(
      `Specifying an availability zone or a host when unshelving server "${row.uuid}" with status "${row.vm_state}" is not supported. The server status must be SHELVED_OFFLOADED.`,
      'compute.unshelve_invalid_state',
    );
  const zone = zoneGiven ? (target.zone ?? null) : instance.requestSpec.availabilityZone;
  if (zoneGiven || target.host !== undefined) {
    const zones = await computeZones(deps.hosts, deps.aggregates, deps.defaultAvailabilityZone);
    if (target.zone && !zones.some((z) => z.name === target.zone && isAvailable(z)))
      throw new BadRequestError(
        'The requested availability zone is not available',
        'compute.bad_request',
      );
    const host = target.host;
    if (host !== undefined) {
      const hostZone = zones.find((z) => z.services.some((s) => s.host === host));
      if (hostZone === undefined)
        throw new BadRequestError(
          `Compute host ${host} could not be found.`,
          'compute.host_not_found',
        );
      if (zone !== null && hostZone.name !== zone)
        throw new ConflictError(
          `Host "${host}" is not in the availability zone "${zone}".`,
          'compute.host_not_in_zone',
        );
    }
  }
  if (row.vm_state === 'shelved') {
    await requestGuestAction(deps, instance, actor, 'unshelve');
    return;
  }
  await requestWork(deps, instance, actor, {
    action: 'unshelve',
    change: {
      task_state: 'unshelving',
      request_spec: toDbJson({ ...instance.requestSpec, availabilityZone: zone }),
    },
    expected: { vmState: ['shelved_offloaded'], taskState: [null] },
    task: {
      kind: 'unshelve',
      stage: 'conductor',
      payload: target.host !== undefined ? { host: target.host } : {},
    },
  });
}
