/** `/v2.0/floatingips/{id}/port_forwardings`: create, list, show, update, delete. */
import Type from 'typebox';
import type { App } from '../../common/http/app.ts';
import { badRequest } from '../errors.ts';
import { FORWARDING_PROTOCOLS, type ForwardingInput } from '../port-forwardings.ts';
import { parseAddress } from '../ip.ts';
import {
  authorize,
  checkKeys,
  required,
  shown,
  str,
  unwrap,
  uuid,
  viewerOf,
  type ApiDeps,
  type AttributeSpec,
  type Body,
} from './context.ts';
import { showAnswer } from './lists.ts';
import { IdParams } from './networks.ts';
import { forwardingView } from './views.ts';

const FORWARDING: AttributeSpec = {
  post: new Set([
    'protocol',
    'internal_ip_address',
    'internal_port',
    'external_port',
    'internal_port_id',
    'internal_port_range',
    'external_port_range',
    'description',
    'project_id',
    'tenant_id',
  ]),
  put: new Set([
    'protocol',
    'internal_ip_address',
    'internal_port',
    'external_port',
    'internal_port_id',
    'internal_port_range',
    'external_port_range',
    'description',
  ]),
  readOnly: new Set(['id']),
};

const ForwardingParams = Type.Object({
  id: Type.String({ maxLength: 255 }),
  forwarding: Type.String({ maxLength: 255 }),
});

/** A port (`external_port`) or range (`external_port_range`, `N:M`), each within 1..65535. */
function portRange(attrs: Body, name: string): [number, number] | undefined {
  const single = attrs[name];
  const range = attrs[`${name}_range`];
  if (single !== undefined && single !== null) {
    const n = typeof single === 'number' ? single : Number(shown(single));
    if (!Number.isInteger(n) || n < 1 || n > 65535)
      throw badRequest(
        `Invalid input for ${name}. Reason: '${shown(single)}' is not a valid port number.`,
      );
    return [n, n];
  }
  if (range !== undefined && range !== null) {
    const m = /^(\d+)(?::(\d+))?$/.exec(shown(range));
    const start = Number(m?.[1]);
    const end = Number(m?.[2] ?? m?.[1]);
    if (!m || start < 1 || end > 65535)
      throw badRequest(
        `Invalid input for ${name}_range. Reason: '${shown(range)}' is not a valid port range.`,
      );
    if (start > end)
      throw badRequest(
        `Invalid input for ${name}_range. Reason: First port in a port range must be lower than the second port.`,
      );
    return [start, end];
  }
  return undefined;
}

function protocolOf(attrs: Body): string | undefined {
  const protocol = str(attrs, 'protocol');
  if (protocol !== undefined && !(FORWARDING_PROTOCOLS as readonly string[]).includes(protocol))
    throw badRequest(`Invalid input for protocol. Reason: ${protocol} is not in valid_values.`);
  return protocol;
}

function internalIp(attrs: Body): string | undefined {
  const v = str(attrs, 'internal_ip_address');
  if (v !== undefined && !parseAddress(v))
    throw badRequest(
      `Invalid input for internal_ip_address. Reason: '${v}' is not a valid IP address.`,
    );
  return v;
}

export function portForwardingRoutes(app: App, deps: ApiDeps): void {
  const forwardings = deps.portForwardings;
  const base = '/v2.0/floatingips/:id/port_forwardings';

  app.get(base, { schema: { params: IdParams } }, async (request) => {
    const found = await forwardings.list(viewerOf(request, deps), request.params.id);
    return { port_forwardings: found.map(forwardingView) };
  });

  app.get(`${base}/:forwarding`, { schema: { params: ForwardingParams } }, async (request) => {
    const found = await forwardings.get(
      viewerOf(request, deps),
      request.params.id,
      request.params.forwarding,
    );
    return showAnswer(request, 'port_forwarding', forwardingView(found));
  });

  app.post(base, { schema: { params: IdParams } }, async (request, reply) => {
    const viewer = viewerOf(request, deps);
    const attrs = unwrap(request.body, 'port_forwarding');
    checkKeys(attrs, FORWARDING, 'POST');
    const fip = await deps.floatingIps.get(viewer, request.params.id);
    authorize(request, deps, 'create_floatingip_port_forwarding', {
      project_id: fip.row.project_id,
    });
    const protocol = required(protocolOf(attrs), 'protocol');
    const input: ForwardingInput = {
      protocol,
      internalPortId: required(uuid(attrs, 'internal_port_id'), 'internal_port_id'),
      internalPort: required(portRange(attrs, 'internal_port'), 'internal_port'),
      externalPort: required(portRange(attrs, 'external_port'), 'external_port'),
    };
    const ip = internalIp(attrs);
    if (ip !== undefined) input.internalIpAddress = ip;
    const description = str(attrs, 'description');
    if (description !== undefined) input.description = description;
    const row = await forwardings.create(viewer, request.params.id, input);
    return reply.status(201).send({ port_forwarding: forwardingView(row) });
  });

  app.delete(
    `${base}/:forwarding`,
    { schema: { params: ForwardingParams } },
    async (request, reply) => {
      const viewer = viewerOf(request, deps);
      const fip = await deps.floatingIps.get(viewer, request.params.id);
      authorize(request, deps, 'delete_floatingip_port_forwarding', {
        project_id: fip.row.project_id,
      });
      await forwardings.delete(viewer, request.params.id, request.params.forwarding);
      return reply.status(204).send();
    },
  );

  app.put(`${base}/:forwarding`, { schema: { params: ForwardingParams } }, async (request) => {
    const viewer = viewerOf(request, deps);
    const attrs = unwrap(request.body, 'port_forwarding');
    checkKeys(attrs, FORWARDING, 'PUT');
    const fip = await deps.floatingIps.get(viewer, request.params.id);
    authorize(request, deps, 'update_floatingip_port_forwarding', {
      project_id: fip.row.project_id,
    });
    const changes: Partial<ForwardingInput> = {};
    const protocol = protocolOf(attrs);
    if (protocol !== undefined) changes.protocol = protocol;
    const port = uuid(attrs, 'internal_port_id');
    if (port !== undefined) changes.internalPortId = port;
    const ip = internalIp(attrs);
    if (ip !== undefined) changes.internalIpAddress = ip;
    const internal = portRange(attrs, 'internal_port');
    if (internal !== undefined) changes.internalPort = internal;
    const external = portRange(attrs, 'external_port');
    if (external !== undefined) changes.externalPort = external;
    const description = str(attrs, 'description');
    if (description !== undefined) changes.description = description;
    const row = await forwardings.update(
      viewer,
      request.params.id,
      request.params.forwarding,
      changes,
    );
    return { port_forwarding: forwardingView(row) };
  });
}
