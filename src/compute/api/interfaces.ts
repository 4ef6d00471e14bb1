/**
 * `/servers/{id}/os-interface`: a server's interfaces (its ports), attaching one on a network or
 * a port the user brings (200 with the attachment), and detaching one (202).
 */
import type { FastifyRequest } from 'fastify';
import type { App } from '../../common/http/app.ts';
import { BadRequestError, NotFoundError } from '../../common/errors.ts';
import {
  attachInterface,
  detachInterface,
  interfacesOf,
  type AttachedPort,
  type AttachRequest,
} from '../instance-interfaces.ts';
import type { Instance } from '../instance-model.ts';
import type { Actor } from '../server-actions.ts';
import {
  authorize,
  invalidField,
  onlyKeys,
  repr,
  unwrap,
  viewerOf,
  atLeast,
  type ApiDeps,
  actorOf,
} from './context.ts';

type Params = { id: string; port: string };

function view(port: AttachedPort): Record<string, unknown> {
  return {
    net_id: port.network_id,
    port_id: port.id,
    mac_addr: port.mac_address,
    port_state: port.status,
    fixed_ips: port.fixed_ips.map((ip) => ({ subnet_id: ip.subnet_id, ip_address: ip.ip_address })),
  };
}

async function serverFor(
  request: FastifyRequest<{ Params: { id: string } }>,
  deps: ApiDeps,
  rule: string,
): Promise<{ instance: Instance; actor: Actor }> {
  const viewer = viewerOf(request, deps);
  const instance = await deps.instances.get(viewer, request.params.id);
  authorize(request, deps, `os_compute_api:os-attach-interfaces:${rule}`, {
    project_id: instance.row.project_id,
  });
  return {
    instance,
    actor: actorOf(request, viewer, instance),
  };
}

function attachRequestOf(request: FastifyRequest): AttachRequest {
  const body = unwrap(request.body, 'interfaceAttachment');
  onlyKeys(
    body,
    atLeast(request, 49)
      ? ['net_id', 'port_id', 'fixed_ips', 'tag']
      : ['net_id', 'port_id', 'fixed_ips'],
    'interfaceAttachment',
  );
  const out: AttachRequest = {};
  for (const [field, key] of [
    ['net_id', 'networkId'],
    ['port_id', 'portId'],
  ] as const) {
    const v = body[field];
    if (v === undefined) continue;
    if (typeof v !== 'string' || !/^[0-9a-fA-F-]{32,36}$/.test(v))
      throw invalidField(field, v, `${repr(v)} is not a 'uuid'`);
    out[key] = v;
  }
  const ips = body['fixed_ips'];
  if (ips !== undefined) {
    if (!Array.isArray(ips) || ips.length !== 1)
      throw invalidField('fixed_ips', ips, `${JSON.stringify(ips)} must hold one address`);
    const ip = (ips[0] as Record<string, unknown> | undefined)?.['ip_address'];
    if (typeof ip !== 'string')
      throw invalidField('ip_address', ip, `${repr(ip)} is not an address`);
    out.fixedIp = ip;
  }
  if (out.networkId !== undefined && out.portId !== undefined)
    throw new BadRequestError('Must not input both network_id and port_id', 'compute.bad_request');
  if (out.fixedIp !== undefined && out.networkId === undefined)
    throw new BadRequestError(
      'Must input network_id when request IP address',
      'compute.bad_request',
    );
  return out;
}

export function interfaceRoutes(app: App, deps: ApiDeps): void {
  app.get<{ Params: Params }>('/servers/:id/os-interface', async (request) => {
    const { instance } = await serverFor(request, deps, 'list');
    return { interfaceAttachments: (await interfacesOf(deps.network, instance)).map(view) };
  });

  app.get<{ Params: Params }>('/servers/:id/os-interface/:port', async (request) => {
    const { instance } = await serverFor(request, deps, 'show');
    const port = (await interfacesOf(deps.network, instance)).find(
      (p) => p.id === request.params.port,
    );
    if (port === undefined)
      throw new NotFoundError(
        `Instance ${instance.row.uuid} does not have a port with id ${request.params.port}`,
        'compute.port_not_found',
      );
    return { interfaceAttachment: view(port) };
  });

  app.post<{ Params: Params }>('/servers/:id/os-interface', async (request) => {
    const attach = attachRequestOf(request);
    const { instance, actor } = await serverFor(request, deps, 'create');
    return { interfaceAttachment: view(await attachInterface(deps, instance, actor, attach)) };
  });

  app.delete<{ Params: Params }>('/servers/:id/os-interface/:port', async (request, reply) => {
    const { instance, actor } = await serverFor(request, deps, 'delete');
    await detachInterface(deps, instance, actor, request.params.port);
    reply.code(202);
    return reply.send();
  });
}
