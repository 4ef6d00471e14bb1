/**
 * `/servers`: create (202, then the conductor and an agent take it to ACTIVE or ERROR), list
 * and detail with Nova's filters and paging, show, update and delete.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../common/http/app.ts';
import { BadRequestError, ConflictError, ForbiddenError } from '../../common/errors.ts';
import { baseUrlOf } from '../../common/http/version-discovery.ts';
import { bootServers } from '../boot.ts';
import { INSTANCE_SORT_KEYS, listInstances, type InstanceFilters } from '../instance-list.ts';
import { vmStatesOf } from '../instance-model.ts';
import { requestDelete } from '../server-actions.ts';
import { dispatch } from '../tasks.ts';
import {
  actorOf,
  authorize,
  requestIdOf,
  invalidField,
  last,
  onlyKeys,
  pageOf,
  unwrap,
  viewerOf,
  atLeast,
  MAX_LIMIT,
  type ApiDeps,
  type Query,
} from './context.ts';
import { parseBoot } from './server-create.ts';
import { serverFieldChanges } from './server-fields.schema.ts';
import { serverDetail, serverSummary } from './servers.view.ts';

type IdParams = { id: string };

function regex(field: string, value: string): RegExp {
  try {
    return new RegExp(value);
  } catch {
    throw new BadRequestError(
      `Invalid regular expression for ${field}: ${value}`,
      'compute.bad_request',
    );
  }
}

/** Timestamps as Nova's `changes-since` takes them (ISO 8601), stored form for comparison. */
function timestamp(field: string, value: string): string {
  const t = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`);
  if (Number.isNaN(t)) throw invalidField(field, value, `'${value}' is not a 'date-time'`);
  return new Date(t).toISOString();
}

/** What anyone may filter on, by the microversion that opened it; the rest is for admins. */
const OPEN_FILTERS: readonly [string, number][] = [
  ['reservation_id', 1],
  ['name', 1],
  ['status', 1],
  ['image', 1],
  ['flavor', 1],
  ['ip', 1],
  ['changes-since', 1],
  ['all_tenants', 1],
  ['ip6', 5],
  ['tags', 26],
  ['tags-any', 26],
  ['not-tags', 26],
  ['not-tags-any', 26],
  ['changes-before', 66],
  ['locked', 73],
  ['availability_zone', 83],
  ['key_name', 83],
  ['user_id', 83],
];

const TRUE = /^(1|t|true|on|y|yes)$/i;
const FALSE = /^(0|f|false|off|n|no)$/i;

function strictBool(field: string, value: string): boolean {
  if (TRUE.test(value)) return true;
  if (FALSE.test(value)) return false;
  throw new BadRequestError(
    `Invalid input received: Unrecognized value '${value}', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'`,
    'compute.bad_request',
  );
}

/**
 * The list query as Nova reads it: filters outside the open list are dropped for non-admins
 * (silently, as Nova does), `all_tenants` needs the admin policy.
 */
function filtersOf(
  request: FastifyRequest,
  deps: ApiDeps,
  isAdmin: boolean,
  detail: boolean,
): { filters: InstanceFilters; empty: boolean } {
  const query = request.query as Query;
  const open = new Set(OPEN_FILTERS.filter(([, v]) => atLeast(request, v)).map(([k]) => k));
  const get = (key: string): string | undefined =>
    isAdmin || open.has(key) ? last(query, key) : undefined;
  const allTenants = get('all_tenants');
  const everyProject =
    allTenants !== undefined && (allTenants === '' || strictBool('all_tenants', allTenants));
  if (everyProject)
    authorize(
      request,
      deps,
      `os_compute_api:servers:${detail ? 'detail' : 'index'}:get_all_tenants`,
      { project_id: request.auth.projectId ?? '' },
    );
  const project = get('project_id') ?? get('tenant_id');
  const deleted = get('deleted');
  const filters: InstanceFilters = {
    deleted: deleted !== undefined && TRUE.test(deleted) ? 'deleted' : 'live',
    ...(everyProject
      ? project !== undefined
        ? { projectId: project }
        : {}
      : { projectId: request.auth.projectId ?? '' }),
  };
  let empty = false;
  const status = last(query, 'status');
  if (status !== undefined) {
    if (status.toUpperCase() === 'DELETED') {
      if (!isAdmin)
        throw new ForbiddenError(
          'Only administrators may list deleted instances',
          'compute.policy',
        );
      filters.deleted = 'deleted';
    } else {
      const states = vmStatesOf(status.toUpperCase());
      if (states === undefined) {
        if (atLeast(request, 38))
          throw new BadRequestError('Invalid status value', 'compute.bad_request');
        empty = true;
      } else {
        filters.vmStates = states.vmStates;
        if (states.taskStates !== undefined) filters.taskStates = states.taskStates;
      }
    }
  }
  const name = get('name');
  if (name !== undefined) filters.name = regex('name', name);
  const image = get('image');
  if (image !== undefined) filters.imageRef = image.replace(/^.*\//, '');
  const flavor = get('flavor');
  if (flavor !== undefined) filters.flavorId = flavor.replace(/^.*\//, '');
  const host = get('host');
  if (host !== undefined) filters.host = host;
  const node = get('node');
  if (node !== undefined) filters.node = node;
  const userId = get('user_id');
  if (userId !== undefined) filters.userId = userId;
  const reservation = get('reservation_id');
  if (reservation !== undefined) filters.reservationId = reservation;
  const since = get('changes-since');
  if (since !== undefined) filters.changesSince = timestamp('changes-since', since);
  const before = get('changes-before');
  if (before !== undefined) filters.changesBefore = timestamp('changes-before', before);
  if (
    filters.changesSince !== undefined &&
    filters.changesBefore !== undefined &&
    filters.changesBefore < filters.changesSince
  )
    throw new BadRequestError(
      'The value of changes-since must be less than or equal to changes-before.',
      'compute.bad_request',
    );
  // What changed includes what was deleted, unless the caller said otherwise.
  if ((since !== undefined || before !== undefined) && deleted === undefined)
    filters.deleted = 'any';
  const ip = get('ip') ?? get('ip6');
  if (ip !== undefined) filters.ip = regex('ip', ip.replace(/[.]/g, '\\.'));
  const locked = get('locked');
  if (locked !== undefined) filters.locked = strictBool('locked', locked);
  const az = get('availability_zone');
  if (az !== undefined) filters.availabilityZone = az;
  const keyName = get('key_name');
  if (keyName !== undefined) filters.keyName = keyName;
  const tags = get('tags');
  if (tags !== undefined) filters.tags = tags.split(',');
  return { filters, empty };
}

function sortOf(
  request: FastifyRequest,
  isAdmin: boolean,
): { key: keyof typeof INSTANCE_SORT_KEYS; dir: 'asc' | 'desc' } {
  const query = request.query as Query;
  const key = last(query, 'sort_key') ?? 'created_at';
  const dir = last(query, 'sort_dir') ?? 'desc';
  if (INSTANCE_SORT_KEYS[key] === undefined)
    throw new BadRequestError(
      `Invalid input for query parameters sort_key. Value: ${key}. '${key}' is not one of [${Object.keys(
        INSTANCE_SORT_KEYS,
      )
        .map((k) => `'${k}'`)
        .join(', ')}]`,
      'compute.bad_request',
    );
  if ((key === 'host' || key === 'node') && !isAdmin)
    throw new ForbiddenError(`Only administrators can sort servers by ${key}`, 'compute.policy');
  if (dir !== 'asc' && dir !== 'desc')
    throw new BadRequestError(
      "Invalid input received: Unknown sort direction, must be 'desc' or 'asc'",
      'compute.bad_request',
    );
  return { key, dir };
}

async function list(request: FastifyRequest, deps: ApiDeps, detail: boolean) {
  const viewer = viewerOf(request, deps);
  authorize(
    request,
    deps,
    detail ? 'os_compute_api:servers:detail' : 'os_compute_api:servers:index',
    {
      project_id: request.auth.projectId ?? '',
    },
  );
  const { filters, empty } = filtersOf(request, deps, viewer.isAdmin, detail);
  const { key, dir } = sortOf(request, viewer.isAdmin);
  const page = pageOf(request.query as Query);
  const limit = page.limit ?? MAX_LIMIT;
  const found = empty
    ? []
    : await listInstances(deps.instances.db, filters, {
        sortKey: INSTANCE_SORT_KEYS[key] as never,
        sortDir: dir,
        limit,
        ...(page.marker !== undefined ? { marker: page.marker } : {}),
      });
  const details = await deps.instances.details(found);
  const servers = details.map((i) =>
    detail ? serverDetail(request, i, { isAdmin: viewer.isAdmin }) : serverSummary(request, i),
  );
  const out: Record<string, unknown> = { servers };
  const lastOne = found.at(-1);
  if (lastOne !== undefined && found.length === limit) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(request.query as Query))
      if (k !== 'marker' && v !== undefined) for (const one of [v].flat()) params.append(k, one);
    params.set('limit', String(limit));
    params.set('marker', lastOne.row.uuid);
    out['servers_links'] = [
      {
        rel: 'next',
        href: `${baseUrlOf(request)}/v2.1/servers${detail ? '/detail' : ''}?${params.toString()}`,
      },
    ];
  }
  return out;
}

export function serverRoutes(app: App, deps: ApiDeps): void {
  const { instances } = deps;

  app.post('/servers', async (request, reply: FastifyReply) => {
    const projectId = request.auth.projectId;
    authorize(request, deps, 'os_compute_api:servers:create', { project_id: projectId ?? '' });
    if (projectId === undefined)
      throw new BadRequestError(
        'Servers belong to a project: use a project-scoped token.',
        'compute.bad_request',
      );
    const boot = parseBoot(request, request.body);
    if (boot.destination !== undefined)
      authorize(
        request,
        deps,
        boot.destination.force
          ? 'os_compute_api:servers:create:forced_host'
          : 'compute:servers:create:requested_destination',
        { project_id: projectId ?? '' },
      );
    const viewer = viewerOf(request, deps);
    const requestId = requestIdOf(request);
    const result = await bootServers(
      deps,
      {
        projectId,
        userId: request.auth.userId,
        isAdmin: viewer.isAdmin,
        token: request.auth.authToken,
        requestId,
      },
      boot,
    );
    // The agent that builds it sends `create.start`, as Nova's compute manager does.
    for (const taskId of result.taskIds)
      if (!(await dispatch(deps.bus, { id: taskId, stage: 'conductor', host: null }, requestId)))
        request.log.warn({ taskId }, 'conductor not told; the sweep will find the task');
    reply.code(202);
    if (boot.returnReservationId) return { reservation_id: result.reservationId };
    const id = result.uuids[0] as string;
    const self = `${baseUrlOf(request)}/v2.1/servers/${id}`;
    reply.header('location', self);
    return {
      server: {
        id,
        links: [
          { rel: 'self', href: self },
          { rel: 'bookmark', href: `${baseUrlOf(request)}/servers/${id}` },
        ],
        'OS-DCF:diskConfig': 'MANUAL',
        security_groups: (boot.securityGroups.length > 0
          ? [...new Set(boot.securityGroups)]
          : ['default']
        ).map((name) => ({ name })),
        adminPass: result.adminPass,
      },
    };
  });

  app.get('/servers', (request) => list(request, deps, false));
  app.get('/servers/detail', (request) => list(request, deps, true));

  app.get<{ Params: IdParams }>('/servers/:id', async (request) => {
    const viewer = viewerOf(request, deps);
    const instance = await instances.get(viewer, request.params.id);
    authorize(request, deps, 'os_compute_api:servers:show', {
      project_id: instance.row.project_id,
    });
    const [detail] = await instances.details([instance]);
    return {
      server: serverDetail(request, detail as never, {
        isAdmin: viewer.isAdmin,
        single: true,
        serverGroups: (await deps.groups.groupsOf([instance.row.uuid])).get(instance.row.uuid),
      }),
    };
  });

  app.put<{ Params: IdParams }>('/servers/:id', async (request) => {
    const viewer = viewerOf(request, deps);
    const instance = await instances.get(viewer, request.params.id);
    authorize(request, deps, 'os_compute_api:servers:update', {
      project_id: instance.row.project_id,
    });
    const body = unwrap(request.body, 'server');
    const allowed = ['name', 'accessIPv4', 'accessIPv6', 'OS-DCF:diskConfig'];
    if (atLeast(request, 19)) allowed.push('description');
    if (atLeast(request, 90)) allowed.push('hostname');
    onlyKeys(body, allowed);
    const change = serverFieldChanges(body);
    if (Object.keys(change).length > 0 && !(await instances.update(instance.row.uuid, change)))
      throw new ConflictError(
        `Instance ${instance.row.uuid} was deleted meanwhile.`,
        'compute.instance_invalid_state',
      );
    const [detail] = await instances.details([await instances.get(viewer, instance.row.uuid)]);
    return {
      server: serverDetail(request, detail as never, {
        isAdmin: viewer.isAdmin,
        single: true,
        serverGroups: (await deps.groups.groupsOf([instance.row.uuid])).get(instance.row.uuid),
      }),
    };
  });

  app.delete<{ Params: IdParams }>('/servers/:id', async (request, reply) => {
    const viewer = viewerOf(request, deps);
    const instance = await instances.get(viewer, request.params.id);
    authorize(request, deps, 'os_compute_api:servers:delete', {
      project_id: instance.row.project_id,
    });
    await requestDelete(deps, instance, actorOf(request, viewer, instance));
    reply.code(204);
    return reply.send();
  });
}
