/** `/v2.0/networks`: create, list, show, update, delete. */
import Type from 'typebox';
import type { App } from '../../common/http/app.ts';
import { badRequest, invalidInput } from '../errors.ts';
import { NETWORK_LIST, type NetworkChanges, type NetworkInput } from '../networks.ts';
import { requiredRevision, SYSTEM } from '../standard.ts';
import {
  authorize,
  bool,
  checkKeys,
  ifMatch,
  int,
  owningProject,
  str,
  strList,
  unwrap,
  viewerOf,
  type ApiDeps,
  type AttributeSpec,
  type Body,
} from './context.ts';
import { listAnswer, listQueryOf, showAnswer } from './lists.ts';
import { networkView } from './views.ts';

export const IdParams = Type.Object({
  id: Type.String({ maxLength: 255, pattern: '^[^\\u0000]*$' }),
});

const ATTRIBUTES: AttributeSpec = {
  post: new Set([
    'name',
    'description',
    'admin_state_up',
    'shared',
    'router:external',
    'mtu',
    'port_security_enabled',
    'availability_zone_hints',
    'is_default',
    'provider:network_type',
    'provider:physical_network',
    'provider:segmentation_id',
    'project_id',
    'tenant_id',
  ]),
  put: new Set([
    'name',
    'description',
    'admin_state_up',
    'shared',
    'router:external',
    'mtu',
    'port_security_enabled',
    'is_default',
  ]),
  readOnly: new Set([
    'id',
    'status',
    'subnets',
    'availability_zones',
    'ipv4_address_scope',
    'ipv6_address_scope',
    'tags',
    'created_at',
    'updated_at',
    'revision_number',
    'provider:network_type',
    'provider:physical_network',
    'provider:segmentation_id',
    'project_id',
    'tenant_id',
    'availability_zone_hints',
  ]),
};

/** Attributes whose own policy rule applies when they are set to something but their default. */
const DEFAULTS: Readonly<Record<string, unknown>> = {
  shared: false,
  'router:external': false,
  is_default: false,
  'provider:network_type': undefined,
  'provider:physical_network': undefined,
  'provider:segmentation_id': undefined,
};

function guarded(attrs: Body): string[] {
  return Object.keys(DEFAULTS).filter((k) => attrs[k] !== undefined && attrs[k] !== DEFAULTS[k]);
}

/** upstream's availability_zone_hints check: the joined list fits 255 characters. */
export function checkHints(hints: string[]): string[] {
  if (hints.join(',').length > 255)
    throw invalidInput('Too many availability_zone_hints specified');
  return hints;
}

function changesOf(attrs: Body): NetworkChanges {
  const out: NetworkChanges = {};
  const name = str(attrs, 'name');
  if (name !== undefined) out.name = name;
  const description = str(attrs, 'description');
  if (description !== undefined) out.description = description;
  const up = bool(attrs, 'admin_state_up');
  if (up !== undefined) out.adminStateUp = up;
  const shared = bool(attrs, 'shared');
  if (shared !== undefined) out.shared = shared;
  const external = bool(attrs, 'router:external');
  if (external !== undefined) out.external = external;
  const mtu = int(attrs, 'mtu');
  if (mtu !== undefined && mtu !== 0) {
    if (mtu < 68 || mtu > 65535)
      throw badRequest(`Invalid input for mtu. Reason: '${mtu}' is not in range 68 through 65535.`);
    out.mtu = mtu;
  }
  const security = bool(attrs, 'port_security_enabled');
  if (security !== undefined) out.portSecurityEnabled = security;
  return out;
}

export function networkRoutes(app: App, deps: ApiDeps): void {
  const { networks } = deps;

  app.post('/v2.0/networks', async (request, reply) => {
    const viewer = viewerOf(request, deps);
    const attrs = unwrap(request.body, 'network');
    checkKeys(attrs, ATTRIBUTES, 'POST');
    const projectId = owningProject(attrs, viewer);
    authorize(request, deps, 'create_network', { project_id: projectId }, guarded(attrs));
    const input: NetworkInput = { projectId, ...changesOf(attrs) };
    const hints = strList(attrs, 'availability_zone_hints');
    if (hints !== undefined) input.availabilityZoneHints = checkHints(hints);
    const type = str(attrs, 'provider:network_type');
    if (type !== undefined) input.networkType = type;
    if (attrs['provider:physical_network'] !== undefined)
      input.physicalNetwork =
        attrs['provider:physical_network'] === null
          ? null
          : (str(attrs, 'provider:physical_network', 64) ?? null);
    const segment = int(attrs, 'provider:segmentation_id');
    if (segment !== undefined) input.segmentationId = segment;
    const network = await deps.quotas.within(
      projectId,
      'network',
      () => networks.create(input),
      (created) => networks.delete(SYSTEM, created.row.id),
    );
    const view = networkView(network, viewer.isAdmin);
    deps.notify('network.create.end', { network: view });
    return reply.status(201).send({ network: view });
  });

  app.get('/v2.0/networks', async (request) => {
    const viewer = viewerOf(request, deps);
    const list = listQueryOf(request, NETWORK_LIST);
    const found = await networks.list(viewer, list);
    return listAnswer(
      request,
      'networks',
      found.map((n) => networkView(n, viewer.isAdmin)),
      list,
    );
  });

  app.get('/v2.0/networks/:id', { schema: { params: IdParams } }, async (request) => {
    const viewer = viewerOf(request, deps);
    const network = await networks.get(viewer, request.params.id);
    return showAnswer(request, 'network', networkView(network, viewer.isAdmin));
  });

  app.put('/v2.0/networks/:id', { schema: { params: IdParams } }, async (request) => {
    const viewer = viewerOf(request, deps);
    const attrs = unwrap(request.body, 'network');
    checkKeys(attrs, ATTRIBUTES, 'PUT');
    const current = await networks.get(viewer, request.params.id);
    authorize(
      request,
      deps,
      'update_network',
      { project_id: current.row.project_id },
      guarded(attrs),
    );
    const network = await networks.update(
      viewer,
      request.params.id,
      changesOf(attrs),
      requiredRevision(ifMatch(request)),
    );
    const view = networkView(network, viewer.isAdmin);
    deps.notify('network.update.end', { network: view });
    return { network: view };
  });

  app.delete('/v2.0/networks/:id', { schema: { params: IdParams } }, async (request, reply) => {
    const viewer = viewerOf(request, deps);
    const current = await networks.get(viewer, request.params.id);
    authorize(request, deps, 'delete_network', { project_id: current.row.project_id });
    await networks.delete(viewer, request.params.id, requiredRevision(ifMatch(request)));
    deps.notify('network.delete.end', { network_id: request.params.id });
    return reply.status(204).send();
  });
}
