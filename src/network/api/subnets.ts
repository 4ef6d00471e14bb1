/** `/v2.0/subnets`: create, list, show, update, delete. */
import type { App } from '../../common/http/app.ts';
import { badRequest } from '../errors.ts';
import { requiredRevision, SYSTEM } from '../standard.ts';
import { SUBNET_LIST, type SubnetChanges, type SubnetInput } from '../subnets.ts';
import {
  authorize,
  bool,
  checkKeys,
  dictList,
  ifMatch,
  int,
  nullableStr,
  owningProject,
  required,
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
import { subnetView } from './views.ts';

const ATTRIBUTES: AttributeSpec = {
  post: new Set([
    'name',
    'description',
    'network_id',
    'ip_version',
    'cidr',
    'gateway_ip',
    'allocation_pools',
    'dns_nameservers',
    'host_routes',
    'enable_dhcp',
    'ipv6_ra_mode',
    'ipv6_address_mode',
    'subnetpool_id',
    'prefixlen',
    'use_default_subnetpool',
    'service_types',
    'segment_id',
    'project_id',
    'tenant_id',
  ]),
  put: new Set([
    'name',
    'description',
    'gateway_ip',
    'allocation_pools',
    'dns_nameservers',
    'host_routes',
    'enable_dhcp',
    'service_types',
  ]),
  readOnly: new Set([
    'id',
    'tags',
    'created_at',
    'updated_at',
    'revision_number',
    'router:external',
  ]),
};

function changesOf(attrs: Body): SubnetChanges {
  const out: SubnetChanges = {};
  const name = str(attrs, 'name');
  if (name !== undefined) out.name = name;
  const description = str(attrs, 'description');
  if (description !== undefined) out.description = description;
  const gateway = nullableStr(attrs, 'gateway_ip');
  if (gateway !== undefined) out.gatewayIp = gateway;
  const dhcp = bool(attrs, 'enable_dhcp');
  if (dhcp !== undefined) out.enableDhcp = dhcp;
  const pools = dictList(attrs, 'allocation_pools', ['start', 'end'], 'IP pool');
  if (pools !== undefined) {
    for (const p of pools)
      if (p.start === undefined || p.end === undefined)
        throw badRequest(
          `Invalid input for allocation_pools. Reason: Invalid data format for IP pool: '${JSON.stringify(p)}'.`,
        );
    out.allocationPools = pools;
  }
  const dns = attrs['dns_nameservers'] === null ? [] : strList(attrs, 'dns_nameservers');
  if (dns !== undefined) out.dnsNameservers = dns;
  const routes = dictList(attrs, 'host_routes', ['destination', 'nexthop'], 'host route');
  if (routes !== undefined) {
    for (const r of routes)
      if (r.destination === undefined || r.nexthop === undefined)
        throw badRequest(
          `Invalid input for host_routes. Reason: Invalid data format for hostroute: '${JSON.stringify(r)}'.`,
        );
    const seen = new Set<string>();
    for (const r of routes) {
      const key = `${r.destination}|${r.nexthop}`;
      if (seen.has(key))
        throw badRequest(
          `Invalid input for host_routes. Reason: Duplicate hostroute '${JSON.stringify(r)}'.`,
        );
      seen.add(key);
    }
    out.hostRoutes = routes;
  }
  const types = strList(attrs, 'service_types');
  if (types !== undefined) out.serviceTypes = types;
  return out;
}

export function subnetRoutes(app: App, deps: ApiDeps): void {
  const { subnets, networks } = deps;

  app.post('/v2.0/subnets', async (request, reply) => {
    const viewer = viewerOf(request, deps);
    const attrs = unwrap(request.body, 'subnet');
    checkKeys(attrs, ATTRIBUTES, 'POST');
    const ipVersion = required(int(attrs, 'ip_version'), 'ip_version');
    const networkId = required(uuid(attrs, 'network_id'), 'network_id');
    const projectId = owningProject(attrs, viewer);
    const poolId = attrs['subnetpool_id'] === null ? undefined : uuid(attrs, 'subnetpool_id');
    const prefixlen = int(attrs, 'prefixlen');
    const cidr = str(attrs, 'cidr');
    if (cidr !== undefined && prefixlen !== undefined)
      throw badRequest('Bad subnets request: cidr and prefixlen must not be supplied together.');
    let pool = poolId !== undefined ? await deps.subnetPools.get(viewer, poolId) : undefined;
    if (pool === undefined && bool(attrs, 'use_default_subnetpool') === true) {
      pool = await deps.subnetPools.defaultFor(viewer, ipVersion);
      if (pool === undefined)
        throw badRequest(`Bad subnets request: No default subnetpool found for IPv${ipVersion}.`);
    }
    if (pool === undefined && cidr === undefined)
      throw badRequest(
        'Bad subnets request: a subnetpool must be specified in the absence of a cidr.',
      );
    if (pool !== undefined && pool.row.ip_version !== ipVersion)
      throw badRequest(
        `Invalid input for ip_version. Reason: ${ipVersion} is not the subnet pool's IP version.`,
      );
    const network = await networks.get(viewer, networkId);
    authorize(request, deps, 'create_subnet', {
      project_id: projectId,
      network_project_id: network.row.project_id,
    });
    const allocate = async (): Promise<string> =>
      pool === undefined
        ? (cidr as string)
        : deps.subnetPools.allocate(pool, {
            ...(cidr !== undefined ? { cidr } : {}),
            ...(prefixlen !== undefined ? { prefixlen } : {}),
          });
    const input: SubnetInput = {
      projectId,
      networkId,
      ipVersion,
      cidr: cidr ?? '',
      ...changesOf(attrs),
    };
    if (pool !== undefined) input.subnetpoolId = pool.row.id;
    const ra = nullableStr(attrs, 'ipv6_ra_mode');
    if (ra !== undefined) input.ipv6RaMode = ra;
    const mode = nullableStr(attrs, 'ipv6_address_mode');
    if (mode !== undefined) input.ipv6AddressMode = mode;
    const subnet = await deps.quotas.within(
      projectId,
      'subnet',
      () =>
        pool === undefined
          ? subnets.create(network.row, input)
          : subnets.createFromPool(network.row, input, allocate),
      (created) => subnets.delete(SYSTEM, created.row.id),
    );
    const view = subnetView(subnet);
    deps.notify('subnet.create.end', { subnet: view });
    return reply.status(201).send({ subnet: view });
  });

  app.get('/v2.0/subnets', async (request) => {
    const viewer = viewerOf(request, deps);
    const list = listQueryOf(request, SUBNET_LIST);
    const found = await subnets.list(viewer, list);
    return listAnswer(request, 'subnets', found.map(subnetView), list);
  });

  app.get('/v2.0/subnets/:id', { schema: { params: IdParams } }, async (request) => {
    const subnet = await subnets.get(viewerOf(request, deps), request.params.id);
    return showAnswer(request, 'subnet', subnetView(subnet));
  });

  app.put('/v2.0/subnets/:id', { schema: { params: IdParams } }, async (request) => {
    const viewer = viewerOf(request, deps);
    const attrs = unwrap(request.body, 'subnet');
    checkKeys(attrs, ATTRIBUTES, 'PUT');
    const current = await subnets.get(viewer, request.params.id);
    const network = await networks.get(
      { projectId: undefined, isAdmin: true },
      current.row.network_id,
    );
    authorize(request, deps, 'update_subnet', {
      project_id: current.row.project_id,
      network_project_id: network.row.project_id,
    });
    const subnet = await subnets.update(
      viewer,
      request.params.id,
      changesOf(attrs),
      requiredRevision(ifMatch(request)),
    );
    const view = subnetView(subnet);
    deps.notify('subnet.update.end', { subnet: view });
    return { subnet: view };
  });

  app.delete('/v2.0/subnets/:id', { schema: { params: IdParams } }, async (request, reply) => {
    const viewer = viewerOf(request, deps);
    const current = await subnets.get(viewer, request.params.id);
    const network = await networks.get(
      { projectId: undefined, isAdmin: true },
      current.row.network_id,
    );
    authorize(request, deps, 'delete_subnet', {
      project_id: current.row.project_id,
      network_project_id: network.row.project_id,
    });
    await subnets.delete(viewer, request.params.id, requiredRevision(ifMatch(request)));
    deps.notify('subnet.delete.end', { subnet_id: request.params.id });
    return reply.status(204).send();
  });
}
