/** `/v2.0/routers`: create, list, show, update, delete, add/remove interfaces. */
import type { App } from '../../common/http/app.ts';
import { badRequest } from '../errors.ts';
import type { FixedIpRequest } from '../ipam.ts';
import {
  badRouterRequest,
  ROUTER_LIST,
  type Gateway,
  type RouterChanges,
  type RouterInput,
} from '../routers.ts';
import { requiredRevision, SYSTEM } from '../standard.ts';
import {
  authorize,
  bool,
  checkKeys,
  dictList,
  ifMatch,
  owningProject,
  shown,
  str,
  strList,
  unwrap,
  UUID,
  viewerOf,
  type ApiDeps,
  type AttributeSpec,
  type Body,
} from './context.ts';
import { listAnswer, listQueryOf, showAnswer } from './lists.ts';
import { checkHints, IdParams } from './networks.ts';
import { routerView } from './views.ts';

const ATTRIBUTES: AttributeSpec = {
  post: new Set([
    'name',
    'description',
    'admin_state_up',
    'external_gateway_info',
    'availability_zone_hints',
    'distributed',
    'ha',
    'flavor_id',
    'project_id',
    'tenant_id',
  ]),
  put: new Set([
    'name',
    'description',
    'admin_state_up',
    'external_gateway_info',
    'routes',
    'distributed',
    'ha',
  ]),
  readOnly: new Set([
    'id',
    'status',
    'routes',
    'availability_zones',
    'tags',
    'created_at',
    'updated_at',
    'revision_number',
    'project_id',
    'tenant_id',
    'availability_zone_hints',
    'flavor_id',
  ]),
};

/** `external_gateway_info`: null or `{}` clears; otherwise a network and options. */
function gatewayOf(attrs: Body): Gateway | null | undefined {
  const v = attrs['external_gateway_info'];
  if (v === undefined) return undefined;
  if (v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v))
    throw badRequest(
      `Invalid input for external_gateway_info. Reason: '${shown(v)}' is not a dictionary.`,
    );
  const info = v as Body;
  if (Object.keys(info).length === 0) return null;
  const unknown = Object.keys(info).filter(
    (k) => !['network_id', 'enable_snat', 'external_fixed_ips', 'qos_policy_id'].includes(k),
  );
  if (unknown.length > 0)
    throw badRequest(
      `Invalid input for external_gateway_info. Reason: Unrecognized attribute(s) '${unknown.join(', ')}'.`,
    );
  const networkId = info['network_id'];
  if (typeof networkId !== 'string' || !UUID.test(networkId))
    throw badRequest(
      `Invalid input for external_gateway_info. Reason: '${shown(networkId)}' is not a valid UUID.`,
    );
  const gateway: Gateway = { networkId };
  const snat = bool(info, 'enable_snat');
  if (snat !== undefined) gateway.enableSnat = snat;
  const fixed = dictList(info, 'external_fixed_ips', ['subnet_id', 'ip_address'], 'fixed IP');
  if (fixed !== undefined)
    gateway.fixedIps = fixed.map((f): FixedIpRequest => ({
      ...(f.subnet_id !== undefined ? { subnetId: f.subnet_id } : {}),
      ...(f.ip_address !== undefined ? { ipAddress: f.ip_address } : {}),
    }));
  return gateway;
}

function guarded(gateway: Gateway | null | undefined, attrs: Body): string[] {
  const out: string[] = [];
  if (gateway?.enableSnat !== undefined) out.push('external_gateway_info:enable_snat');
  if (gateway?.fixedIps !== undefined) out.push('external_gateway_info:external_fixed_ips');
  if (attrs['distributed'] === true) out.push('distributed');
  if (attrs['ha'] === true) out.push('ha');
  return out;
}

function changesOf(attrs: Body): RouterChanges {
  const out: RouterChanges = {};
  const name = str(attrs, 'name');
  if (name !== undefined) out.name = name;
  const description = str(attrs, 'description');
  if (description !== undefined) out.description = description;
  const up = bool(attrs, 'admin_state_up');
  if (up !== undefined) out.adminStateUp = up;
  const gateway = gatewayOf(attrs);
  if (gateway !== undefined) out.gateway = gateway;
  const routes =
    attrs['routes'] === null ? [] : dictList(attrs, 'routes', ['destination', 'nexthop'], 'route');
  if (routes !== undefined) out.routes = routes;
  for (const flag of ['distributed', 'ha'])
    if (bool(attrs, flag) === true)
      throw badRouterRequest(`${flag === 'ha' ? 'HA' : 'Distributed'} routers are not supported`);
  return out;
}

/** The `{subnet_id}` or `{port_id}` body of add/remove_router_interface (not wrapped). */
function interfaceOf(body: unknown): { subnetId?: string; portId?: string } {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw badRequest('Body contains invalid data');
  const b = body as Body;
  const out: { subnetId?: string; portId?: string } = {};
  for (const [key, field] of [
    ['subnet_id', 'subnetId'],
    ['port_id', 'portId'],
  ] as const) {
    const v = b[key];
    if (v === undefined) continue;
    if (typeof v !== 'string' || !UUID.test(v))
      throw badRouterRequest(`'${shown(v)}' is not a valid UUID`);
    out[field] = v;
  }
  return out;
}

export function routerRoutes(app: App, deps: ApiDeps): void {
  const routers = deps.routers;
  const admin = (request: Parameters<typeof viewerOf>[0]): boolean =>
    viewerOf(request, deps).isAdmin;

  app.post('/v2.0/routers', async (request, reply) => {
    const viewer = viewerOf(request, deps);
    const attrs = unwrap(request.body, 'router');
    checkKeys(attrs, ATTRIBUTES, 'POST');
    const projectId = owningProject(attrs, viewer);
    const changes = changesOf(attrs);
    authorize(
      request,
      deps,
      'create_router',
      { project_id: projectId },
      guarded(changes.gateway, attrs),
    );
    const input: RouterInput = { projectId, ...changes };
    const hints = strList(attrs, 'availability_zone_hints');
    if (hints !== undefined) input.availabilityZoneHints = checkHints(hints);
    const router = await deps.quotas.within(
      projectId,
      'router',
      () => routers.create(input),
      (created) => routers.delete(SYSTEM, created.row.id),
    );
    const view = routerView(router, viewer.isAdmin);
    deps.notify('router.create.end', { router: view });
    return reply.status(201).send({ router: view });
  });

  app.get('/v2.0/routers', async (request) => {
    const viewer = viewerOf(request, deps);
    const list = listQueryOf(request, ROUTER_LIST);
    const found = await routers.list(viewer, list);
    return listAnswer(
      request,
      'routers',
      found.map((r) => routerView(r, viewer.isAdmin)),
      list,
    );
  });

  app.get('/v2.0/routers/:id', { schema: { params: IdParams } }, async (request) => {
    const router = await routers.get(viewerOf(request, deps), request.params.id);
    return showAnswer(request, 'router', routerView(router, admin(request)));
  });

  app.put('/v2.0/routers/:id', { schema: { params: IdParams } }, async (request) => {
    const viewer = viewerOf(request, deps);
    const attrs = unwrap(request.body, 'router');
    checkKeys(attrs, ATTRIBUTES, 'PUT');
    const changes = changesOf(attrs);
    const current = await routers.get(viewer, request.params.id);
    authorize(
      request,
      deps,
      'update_router',
      { project_id: current.row.project_id },
      guarded(changes.gateway, attrs),
    );
    const router = await routers.update(
      viewer,
      request.params.id,
      changes,
      requiredRevision(ifMatch(request)),
    );
    const view = routerView(router, viewer.isAdmin);
    deps.notify('router.update.end', { router: view });
    return { router: view };
  });

  app.delete('/v2.0/routers/:id', { schema: { params: IdParams } }, async (request, reply) => {
    const viewer = viewerOf(request, deps);
    const current = await routers.get(viewer, request.params.id);
    authorize(request, deps, 'delete_router', { project_id: current.row.project_id });
    await routers.delete(viewer, request.params.id, requiredRevision(ifMatch(request)));
    deps.notify('router.delete.end', { router_id: request.params.id });
    return reply.status(204).send();
  });

  app.put(
    '/v2.0/routers/:id/add_router_interface',
    { schema: { params: IdParams } },
    async (request) => {
      const viewer = viewerOf(request, deps);
      const current = await routers.get(viewer, request.params.id);
      authorize(request, deps, 'add_router_interface', { project_id: current.row.project_id });
      const info = await deps.routerInterfaces.add(
        viewer,
        request.params.id,
        interfaceOf(request.body),
      );
      deps.notify('router.interface.create', { router_interface: info });
      return info;
    },
  );

  app.put(
    '/v2.0/routers/:id/remove_router_interface',
    { schema: { params: IdParams } },
    async (request) => {
      const viewer = viewerOf(request, deps);
      const current = await routers.get(viewer, request.params.id);
      authorize(request, deps, 'remove_router_interface', { project_id: current.row.project_id });
      const info = await deps.routerInterfaces.remove(
        viewer,
        request.params.id,
        interfaceOf(request.body),
      );
      deps.notify('router.interface.delete', { router_interface: info });
      return info;
    },
  );
}
