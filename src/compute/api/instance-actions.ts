/**
 * `/servers/{id}/os-instance-actions`: what was asked of a server and what the workers did about
 * it. From 2.21 the log of a deleted server stays readable; from 2.51 owners see the events
 * (without tracebacks); 2.58 adds paging and `updated_at`, 2.62 the event's host, 2.84 details.
 */
import type { FastifyRequest } from 'fastify';
import type { App } from '../../common/http/app.ts';
import { BadRequestError, NotFoundError } from '../../common/errors.ts';
import { baseUrlOf } from '../../common/http/version-discovery.ts';
import {
  actionWithEvents,
  listActions,
  type ActionEvent,
  type ActionFilters,
  type ActionRecord,
} from '../instance-action-log.ts';
import type { Instance } from '../instance-model.ts';
import { instanceNotFound } from '../instances.ts';
import {
  atLeast,
  authorize,
  pageOf,
  timeQuery,
  viewerOf,
  type ApiDeps,
  type Query,
} from './context.ts';
import { hostIdOf, isoMicros } from './servers.view.ts';

type Params = { id: string; requestId: string };

async function serverOf(
  request: FastifyRequest<{ Params: { id: string } }>,
  deps: ApiDeps,
): Promise<Instance> {
  const viewer = viewerOf(request, deps);
  const found = await deps.instances.row(request.params.id);
  if (
    found === undefined ||
    (found.row.deleted === 1 && !atLeast(request, 21)) ||
    (!viewer.isAdmin && found.row.project_id !== viewer.projectId)
  )
    throw instanceNotFound(request.params.id);
  return found;
}

function actionView(request: FastifyRequest, a: ActionRecord): Record<string, unknown> {
  return {
    action: a.action,
    instance_uuid: a.instance_uuid,
    request_id: a.request_id,
    user_id: a.user_id,
    project_id: a.project_id,
    start_time: isoMicros(a.start_time),
    message: a.message,
    ...(atLeast(request, 58) ? { updated_at: isoMicros(a.updated_at) } : {}),
  };
}

export function instanceActionRoutes(app: App, deps: ApiDeps): void {
  const db = deps.instances.db;

  app.get<{ Params: Params }>('/servers/:id/os-instance-actions', async (request) => {
    const instance = await serverOf(request, deps);
    authorize(request, deps, 'os_compute_api:os-instance-actions:list', {
      project_id: instance.row.project_id,
    });
    const query = request.query as Query;
    const filters: ActionFilters = {};
    if (atLeast(request, 58)) {
      const page = pageOf(query);
      if (page.limit !== undefined) filters.limit = page.limit;
      if (page.marker !== undefined) filters.marker = page.marker;
      const since = timeQuery(query, 'changes-since');
      if (since !== undefined) filters.changesSince = since;
      const before = atLeast(request, 66) ? timeQuery(query, 'changes-before') : undefined;
      if (before !== undefined) filters.changesBefore = before;
      if (since !== undefined && before !== undefined && before < since)
        throw new BadRequestError(
          'The value of changes-since must be less than or equal to changes-before.',
          'compute.bad_request',
        );
    }
    const actions = await listActions(db, instance.row.uuid, filters);
    const out: Record<string, unknown> = {
      instanceActions: actions.map((a) => actionView(request, a)),
    };
    const lastOne = actions.at(-1);
    if (filters.limit !== undefined && lastOne !== undefined && actions.length === filters.limit)
      out['links'] = [
        {
          rel: 'next',
          href: `${baseUrlOf(request)}/v2.1/servers/${instance.row.uuid}/os-instance-actions?limit=${filters.limit}&marker=${lastOne.request_id}`,
        },
      ];
    return out;
  });

  app.get<{ Params: Params }>('/servers/:id/os-instance-actions/:requestId', async (request) => {
    const instance = await serverOf(request, deps);
    const target = { project_id: instance.row.project_id };
    authorize(request, deps, 'os_compute_api:os-instance-actions:show', target);
    const found = await actionWithEvents(db, instance.row.uuid, request.params.requestId);
    if (found === undefined)
      throw new NotFoundError(
        `Action ${request.params.requestId} not found`,
        'compute.action_not_found',
      );
    const can = (rule: string) =>
      deps.policy.enforce(
        `os_compute_api:os-instance-actions:${rule}`,
        target,
        request.auth.toPolicyCredentials(),
      );
    const all = can('events');
    const view = actionView(request, found.action);
    if (all || atLeast(request, 51)) {
      const details = atLeast(request, 84) && can('events:details');
      const project = found.action.project_id || instance.row.project_id;
      view['events'] = found.events.map((e: ActionEvent) => ({
        event: e.event,
        start_time: isoMicros(e.start_time),
        finish_time: isoMicros(e.finish_time),
        result: e.result,
        ...(all ? { traceback: e.traceback } : {}),
        ...(all && atLeast(request, 62) ? { host: e.host ?? '' } : {}),
        ...(atLeast(request, 62) ? { hostId: hostIdOf(project, e.host) } : {}),
        ...(details ? { details: e.details } : {}),
      }));
    }
    return { instanceAction: view };
  });
}
