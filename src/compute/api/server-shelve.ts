/**
 * `shelve`, `shelveOffload` and `unshelve` (202, no body). A shelve snapshots the server into
 * an image named `<server>-shelved` that the caller's project owns; the unshelve body grew a
 * zone in 2.77 and a host in 2.91, as Nova's schemas define it.
 */
import type { FastifyRequest } from 'fastify';
import { requestUnshelve, type UnshelveTarget } from '../instance-shelve.ts';
import { requestGuestAction } from '../server-actions.ts';
import { atLeast, authorize, invalidField, onlyKeys, repr } from './context.ts';
import {
  ACCEPTED,
  objectValue,
  type ActionHandler,
  type ServerActionTable,
} from './server-actions.ts';
import { requestSnapshot } from './server-rebuild.ts';

const shelve: ActionHandler = async (ctx) => {
  const { request, deps, instance } = ctx;
  authorize(request, deps, 'os_compute_api:os-shelve:shelve', {
    project_id: instance.row.project_id,
  });
  await requestSnapshot(ctx, 'shelve', `${instance.row.display_name}-shelved`, {});
  return ACCEPTED;
};

const shelveOffload: ActionHandler = async ({ request, deps, instance, actor }) => {
  authorize(request, deps, 'os_compute_api:os-shelve:shelve_offload', {
    project_id: instance.row.project_id,
  });
  await requestGuestAction(deps, instance, actor, 'shelve_offload');
  return ACCEPTED;
};

/**
 * The target of an unshelve. Before 2.77 the value is not looked at; 2.77 takes null or
 * `{availability_zone: name}`; 2.91 also takes a null zone (unpin) and `host`.
 * @throws BadRequestError (400) for a body its version does not take.
 */
function unshelveTarget(request: FastifyRequest, value: unknown): UnshelveTarget {
  if (!atLeast(request, 77) || value === null) return {};
  const body = objectValue('unshelve', value);
  const v291 = atLeast(request, 91);
  onlyKeys(body, v291 ? ['availability_zone', 'host'] : ['availability_zone'], 'unshelve');
  const target: UnshelveTarget = {};
  const zone = body['availability_zone'];
  if (zone === undefined) {
    if (!v291) throw invalidField('unshelve', body, "'availability_zone' is a required property");
  } else if (zone === null && v291) target.zone = null;
  else if (typeof zone !== 'string' || zone.trim().length === 0 || zone.length > 255)
    throw invalidField(
      'availability_zone',
      zone,
      `${repr(zone)} is not a name of 1 to 255 characters`,
    );
  else target.zone = zone;
  const host = body['host'];
  if (host !== undefined) {
    if (typeof host !== 'string' || host.length === 0 || host.length > 255)
      throw invalidField('host', host, `${repr(host)} is not a host name`);
    target.host = host;
  }
  return target;
}

const unshelve: ActionHandler = async ({ request, deps, instance, actor, value }) => {
  const target = unshelveTarget(request, value);
  const owner = { project_id: instance.row.project_id };
  authorize(request, deps, 'os_compute_api:os-shelve:unshelve', owner);
  if (target.host !== undefined)
    authorize(request, deps, 'os_compute_api:os-shelve:unshelve_to_host', owner);
  await requestUnshelve(deps, instance, actor, target);
  return ACCEPTED;
};

export const SHELVE_ACTIONS: ServerActionTable = { shelve, shelveOffload, unshelve };
