/** `/v2.0/ports`: create, list, show, update, delete. */
import type { App } from '../../common/http/app.ts';
import type { FastifyRequest } from 'fastify';
import { ForbiddenError } from '../../common/errors.ts';
import { badRequest, conflict } from '../errors.ts';
import type { FixedIpRequest } from '../ipam.ts';
import { parseAddress, parsePrefix } from '../ip.ts';
import {
  PORT_LIST,
  VNIC_TYPES,
  type DhcpOption,
  type PortChanges,
  type PortInput,
} from '../ports.ts';
import { requiredRevision, SYSTEM } from '../standard.ts';
import {
  allowed,
  authorize,
  bool,
  checkKeys,
  ifMatch,
  owningProject,
  required,
  shown,
  str,
  strList,
  unwrap,
  uuid,
  viewerOf,
  type ApiDeps,
  type AttributeSpec,
  type Body,
} from './context.ts';
import { listAnswer, listQueryOf, showAnswer } from './lists.ts';
import { IdParams } from './networks.ts';
import { portView } from './views.ts';

const WRITABLE = [
  'name',
  'description',
  'admin_state_up',
  'mac_address',
  'fixed_ips',
  'device_id',
  'device_owner',
  'port_security_enabled',
  'security_groups',
  'allowed_address_pairs',
  'extra_dhcp_opts',
  'binding:host_id',
  'binding:vnic_type',
  'binding:profile',
];

const ATTRIBUTES: AttributeSpec = {
  post: new Set([...WRITABLE, 'network_id', 'project_id', 'tenant_id', 'tags']),
  put: new Set(WRITABLE),
  readOnly: new Set([
    'id',
    'status',
    'network_id',
    'project_id',
    'tenant_id',
    'tags',
    'binding:vif_type',
    'binding:vif_details',
    'created_at',
    'updated_at',
    'revision_number',
  ]),
};

function fixedIpsOf(attrs: Body): FixedIpRequest[] | undefined {
  const v = attrs['fixed_ips'];
  if (v === undefined) return undefined;
  if (v === null) return [];
  if (!Array.isArray(v))
    throw badRequest(
      `Invalid input for fixed_ips. Reason: Invalid data format for fixed IP: '${JSON.stringify(v)}'.`,
    );
  return v.map((item: unknown) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item))
      throw badRequest(
        `Invalid input for fixed_ips. Reason: Invalid data format for fixed IP: '${JSON.stringify(item)}'.`,
      );
    const entry = item as Body;
    const out: FixedIpRequest = {};
    const subnet = uuid(entry, 'subnet_id');
    if (subnet !== undefined) out.subnetId = subnet;
    const ip = entry['ip_address'];
    if (ip !== undefined) {
      if (typeof ip !== 'string' || !parseAddress(ip))
        throw badRequest(
          `Invalid input for fixed_ips. Reason: '${shown(ip)}' is not a valid IP address.`,
        );
      out.ipAddress = ip;
    }
    return out;
  });
}

function pairsOf(attrs: Body): { ip_address: string; mac_address?: string }[] | undefined {
  const v = attrs['allowed_address_pairs'];
  if (v === undefined) return undefined;
  if (v === null) return [];
  if (!Array.isArray(v))
    throw badRequest(
      `Invalid input for allowed_address_pairs. Reason: Allowed address pairs must be a list.`,
    );
  return v.map((item: unknown) => {
    const entry = (typeof item === 'object' && item !== null ? item : {}) as Body;
    const ip = entry['ip_address'];
    if (typeof ip !== 'string' || (!parseAddress(ip) && !parsePrefix(ip)))
      throw badRequest(
        `Invalid input for allowed_address_pairs. Reason: AllowedAddressPair must contain ip_address.`,
      );
    const mac = entry['mac_address'];
    if (mac !== undefined && typeof mac !== 'string')
      throw badRequest(
        `Invalid input for allowed_address_pairs. Reason: '${shown(mac)}' is not a valid MAC address.`,
      );
    return { ip_address: ip, ...(mac !== undefined ? { mac_address: mac } : {}) };
  });
}

function dhcpOptsOf(attrs: Body): DhcpOption[] | undefined {
  const v = attrs['extra_dhcp_opts'];
  if (v === undefined) return undefined;
  if (v === null) return [];
  if (!Array.isArray(v) || v.length > 100)
    throw badRequest(
      `Invalid input for extra_dhcp_opts. Reason: '${JSON.stringify(v)}' is not a list of at most 100 options.`,
    );
  return v.map((item: unknown) => {
    const entry = (typeof item === 'object' && item !== null ? item : {}) as Body;
    const name = entry['opt_name'];
    const value = entry['opt_value'];
    const version = entry['ip_version'] ?? 4;
    if (
      typeof name !== 'string' ||
      name === '' ||
      (value !== null && typeof value !== 'string') ||
      (version !== 4 && version !== 6 && version !== '4' && version !== '6')
    )
      throw badRequest(
        `Invalid input for extra_dhcp_opts. Reason: Invalid data format for extra-dhcp-opt: ${JSON.stringify(item)}.`,
      );
    if (name.length > 64 || (value ?? '').length > 255)
      throw badRequest(
        `Invalid input for extra_dhcp_opts. Reason: Invalid data format for extra-dhcp-opt: ${JSON.stringify(item)}.`,
      );
    return { opt_name: name, opt_value: value ?? '', ip_version: Number(version) };
  });
}

function profileOf(attrs: Body): Record<string, unknown> | undefined {
  const v = attrs['binding:profile'];
  if (v === undefined) return undefined;
  if (v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v))
    throw badRequest(
      `Invalid input for binding:profile. Reason: '${JSON.stringify(v)}' is not a dictionary.`,
    );
  if (JSON.stringify(v).length > 16384)
    throw badRequest('Invalid input for binding:profile. Reason: it is larger than 16 KiB.');
  return v as Record<string, unknown>;
}

function changesOf(attrs: Body): PortChanges {
  const out: PortChanges = {};
  const set = <K extends keyof PortChanges>(key: K, value: PortChanges[K] | undefined): void => {
    if (value !== undefined) out[key] = value;
  };
  set('name', str(attrs, 'name'));
  set('description', str(attrs, 'description'));
  set('adminStateUp', bool(attrs, 'admin_state_up'));
  set('macAddress', str(attrs, 'mac_address'));
  set('fixedIps', fixedIpsOf(attrs));
  set('deviceId', str(attrs, 'device_id'));
  set('deviceOwner', str(attrs, 'device_owner'));
  set('portSecurityEnabled', bool(attrs, 'port_security_enabled'));
  if (attrs['security_groups'] === null) out.securityGroups = [];
  else set('securityGroups', strList(attrs, 'security_groups', 36));
  set('allowedAddressPairs', pairsOf(attrs));
  set('extraDhcpOpts', dhcpOptsOf(attrs));
  set('hostId', str(attrs, 'binding:host_id'));
  const vnic = str(attrs, 'binding:vnic_type');
  if (vnic !== undefined && !(VNIC_TYPES as readonly string[]).includes(vnic))
    throw badRequest(
      `Invalid input for binding:vnic_type. Reason: ${vnic} is not in valid_values.`,
    );
  set('vnicType', vnic);
  set('profile', profileOf(attrs));
  return out;
}

/** Port attributes that need their own policy rule when given. */
function guarded(attrs: Body, changes: PortChanges): string[] {
  const out: string[] = [];
  for (const key of [
    'mac_address',
    'device_owner',
    'port_security_enabled',
    'binding:host_id',
    'binding:profile',
  ])
    if (attrs[key] !== undefined) out.push(key);
  if (changes.fixedIps?.some((f) => f.ipAddress !== undefined)) out.push('fixed_ips:ip_address');
  return out;
}

/**
 * A port that claims to be a router's must name a router of the caller's project (upstream's
 * DeviceIDNotOwnedByProject), or routers would count another project's ports as theirs.
 * @throws ConflictError (409).
 */
async function checkRouterDevice(
  request: FastifyRequest,
  deps: ApiDeps,
  deviceOwner: string,
  deviceId: string,
): Promise<void> {
  const viewer = viewerOf(request, deps);
  if (viewer.isAdmin || !deviceOwner.startsWith('network:router') || deviceId === '') return;
  const owned = await deps.routers.get(viewer, deviceId).then(
    () => true,
    () => false,
  );
  if (!owned)
    throw conflict(
      'DeviceIDNotOwnedByProject',
      `The following device_id ${deviceId} is not owned by your project or matches another projects router.`,
    );
}

export function portRoutes(app: App, deps: ApiDeps): void {
  const { ports, networks } = deps;
  const admin = (request: Parameters<typeof viewerOf>[0]): boolean =>
    allowed(request, deps, 'get_port:binding:host_id', {});

  app.post('/v2.0/ports', async (request, reply) => {
    const viewer = viewerOf(request, deps);
    const attrs = unwrap(request.body, 'port');
    checkKeys(attrs, ATTRIBUTES, 'POST');
    const networkId = required(uuid(attrs, 'network_id'), 'network_id');
    const projectId = owningProject(attrs, viewer);
    const changes = changesOf(attrs);
    const network = await networks.get(viewer, networkId);
    const owner = changes.deviceOwner ?? '';
    authorize(
      request,
      deps,
      'create_port',
      {
        project_id: projectId,
        network_project_id: network.row.project_id,
        device_owner_prefix: owner.startsWith('network:') ? 'network:' : '',
      },
      guarded(attrs, changes),
    );
    if (!viewer.isAdmin && !network.shared && network.row.project_id !== projectId)
      throw new ForbiddenError(
        `Tenant ${projectId} not allowed to create port on this network`,
        'network.forbidden',
        { details: { type: 'HTTPForbidden' } },
      );
    await checkRouterDevice(request, deps, owner, changes.deviceId ?? '');
    const input: PortInput = { projectId, ...changes };
    const tags = strList(attrs, 'tags');
    if (tags !== undefined) input.tags = tags;
    const port = await deps.quotas.within(
      projectId,
      'port',
      () => ports.create(viewer, network.row, input),
      (created) => ports.delete(SYSTEM, created.row.id),
    );
    const view = portView(port, admin(request));
    deps.notify('port.create.end', { port: portView(port, true) });
    return reply.status(201).send({ port: view });
  });

  app.get('/v2.0/ports', async (request) => {
    const viewer = viewerOf(request, deps);
    const list = listQueryOf(request, PORT_LIST);
    const found = await ports.list(viewer, list);
    const showBinding = admin(request);
    return listAnswer(
      request,
      'ports',
      found.map((p) => portView(p, showBinding)),
      list,
    );
  });

  app.get('/v2.0/ports/:id', { schema: { params: IdParams } }, async (request) => {
    const port = await ports.get(viewerOf(request, deps), request.params.id);
    return showAnswer(request, 'port', portView(port, admin(request)));
  });

  app.put('/v2.0/ports/:id', { schema: { params: IdParams } }, async (request) => {
    const viewer = viewerOf(request, deps);
    const attrs = unwrap(request.body, 'port');
    checkKeys(attrs, ATTRIBUTES, 'PUT');
    const changes = changesOf(attrs);
    const current = await ports.get(viewer, request.params.id);
    const network = await networks.get(
      { projectId: undefined, isAdmin: true },
      current.row.network_id,
    );
    const owner = changes.deviceOwner ?? current.row.device_owner;
    authorize(
      request,
      deps,
      'update_port',
      {
        project_id: current.row.project_id,
        network_project_id: network.row.project_id,
        device_owner_prefix: owner.startsWith('network:') ? 'network:' : '',
      },
      guarded(attrs, changes),
    );
    if (changes.deviceOwner !== undefined || changes.deviceId !== undefined)
      await checkRouterDevice(request, deps, owner, changes.deviceId ?? current.row.device_id);
    if (
      changes.fixedIps !== undefined &&
      current.row.device_owner === 'network:router_interface' &&
      !viewerOf(request, deps).isAdmin
    )
      throw conflict(
        'L3PortIpChangeNotAllowed',
        `Changing the fixed IPs of router interface port ${current.row.id} is not allowed; detach it from the router instead.`,
      );
    const port = await ports.update(
      viewer,
      request.params.id,
      changes,
      requiredRevision(ifMatch(request)),
    );
    deps.notify('port.update.end', { port: portView(port, true) });
    return { port: portView(port, admin(request)) };
  });

  app.delete('/v2.0/ports/:id', { schema: { params: IdParams } }, async (request, reply) => {
    const viewer = viewerOf(request, deps);
    const current = await ports.get(viewer, request.params.id);
    const network = await networks.get(
      { projectId: undefined, isAdmin: true },
      current.row.network_id,
    );
    authorize(request, deps, 'delete_port', {
      project_id: current.row.project_id,
      network_project_id: network.row.project_id,
    });
    await ports.delete(viewer, request.params.id, requiredRevision(ifMatch(request)));
    deps.notify('port.delete.end', {
      port_id: request.params.id,
      network_id: current.row.network_id,
    });
    return reply.status(204).send();
  });
}
