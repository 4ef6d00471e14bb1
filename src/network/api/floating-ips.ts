/** `/v2.0/floatingips` and their `port_forwardings`. */
import type { App } from '../../common/http/app.ts';
import { badRequest } from '../errors.ts';
import { FLOATING_IP_LIST, type FloatingIpInput } from '../floating-ips.ts';
import { parseAddress } from '../ip.ts';
import { requiredRevision, SYSTEM } from '../standard.ts';
import {
  authorize,
  checkKeys,
  ifMatch,
  owningProject,
  required,
  str,
  unwrap,
  uuid,
  viewerOf,
  type ApiDeps,
  type AttributeSpec,
  type Body,
} from './context.ts';
import { listAnswer, listQueryOf, showAnswer } from './lists.ts';
import { IdParams } from './networks.ts';
import { floatingIpView } from './views.ts';

const ATTRIBUTES: AttributeSpec = {
  post: new Set([
    'floating_network_id',
    'floating_ip_address',
    'subnet_id',
    'port_id',
    'fixed_ip_address',
    'description',
    'project_id',
    'tenant_id',
  ]),
  put: new Set(['port_id', 'fixed_ip_address', 'description']),
  readOnly: new Set([
    'id',
    'router_id',
    'status',
    'port_details',
    'port_forwardings',
    'tags',
    'created_at',
    'updated_at',
    'revision_number',
    'floating_network_id',
    'floating_ip_address',
    'project_id',
    'tenant_id',
  ]),
};

function ipAddress(attrs: Body, key: string): string | undefined {
  const v = str(attrs, key);
  if (v !== undefined && !parseAddress(v))
    throw badRequest(`Invalid input for ${key}. Reason: '${v}' is not a valid IP address.`);
  return v;
}

export function floatingIpRoutes(app: App, deps: ApiDeps): void {
  const fips = deps.floatingIps;

  app.post('/v2.0/floatingips', async (request, reply) => {
    const viewer = viewerOf(request, deps);
    const attrs = unwrap(request.body, 'floatingip');
    checkKeys(attrs, ATTRIBUTES, 'POST');
    const networkId = required(uuid(attrs, 'floating_network_id'), 'floating_network_id');
    const projectId = owningProject(attrs, viewer);
    const input: FloatingIpInput = { projectId, floatingNetworkId: networkId };
    const address = ipAddress(attrs, 'floating_ip_address');
    if (address !== undefined) input.floatingIpAddress = address;
    const subnet = uuid(attrs, 'subnet_id');
    if (subnet !== undefined) input.subnetId = subnet;
    const port = attrs['port_id'] === null ? null : uuid(attrs, 'port_id');
    if (port !== undefined) input.portId = port;
    const fixed = ipAddress(attrs, 'fixed_ip_address');
    if (fixed !== undefined) input.fixedIpAddress = fixed;
    const description = str(attrs, 'description');
    if (description !== undefined) input.description = description;
    authorize(
      request,
      deps,
      'create_floatingip',
      { project_id: projectId },
      address !== undefined ? ['floating_ip_address'] : [],
    );
    const fip = await deps.quotas.within(
      projectId,
      'floatingip',
      () => fips.create(viewer, input),
      (created) => fips.delete(SYSTEM, created.row.id),
    );
    const view = floatingIpView(fip);
    deps.notify('floatingip.create.end', { floatingip: view });
    return reply.status(201).send({ floatingip: view });
  });

  app.get('/v2.0/floatingips', async (request) => {
    const viewer = viewerOf(request, deps);
    const list = listQueryOf(request, FLOATING_IP_LIST);
    const found = await fips.list(viewer, list);
    return listAnswer(request, 'floatingips', found.map(floatingIpView), list);
  });

  app.get('/v2.0/floatingips/:id', { schema: { params: IdParams } }, async (request) => {
    const fip = await fips.get(viewerOf(request, deps), request.params.id);
    return showAnswer(request, 'floatingip', floatingIpView(fip));
  });

  app.put('/v2.0/floatingips/:id', { schema: { params: IdParams } }, async (request) => {
    const viewer = viewerOf(request, deps);
    const attrs = unwrap(request.body, 'floatingip');
    checkKeys(attrs, ATTRIBUTES, 'PUT');
    const current = await fips.get(viewer, request.params.id);
    authorize(request, deps, 'update_floatingip', { project_id: current.row.project_id });
    const changes: { portId?: string | null; fixedIpAddress?: string; description?: string } = {};
    const port = attrs['port_id'] === null ? null : uuid(attrs, 'port_id');
    if (port !== undefined) changes.portId = port;
    const fixed = ipAddress(attrs, 'fixed_ip_address');
    if (fixed !== undefined) changes.fixedIpAddress = fixed;
    const description = str(attrs, 'description');
    if (description !== undefined) changes.description = description;
    const fip = await fips.update(
      viewer,
      request.params.id,
      changes,
      requiredRevision(ifMatch(request)),
    );
    const view = floatingIpView(fip);
    deps.notify('floatingip.update.end', { floatingip: view });
    return { floatingip: view };
  });

  app.delete('/v2.0/floatingips/:id', { schema: { params: IdParams } }, async (request, reply) => {
    const viewer = viewerOf(request, deps);
    const current = await fips.get(viewer, request.params.id);
    authorize(request, deps, 'delete_floatingip', { project_id: current.row.project_id });
    await fips.delete(viewer, request.params.id, requiredRevision(ifMatch(request)));
    deps.notify('floatingip.delete.end', { floatingip_id: request.params.id });
    return reply.status(204).send();
  });
}
