/**
 * `/os-aggregates` (admin): host aggregates with their hosts and metadata, and the
 * `availability_zone` that makes their hosts a zone. 2.41 adds the aggregate's uuid.
 */
import type { FastifyRequest } from 'fastify';
import type { App } from '../../common/http/app.ts';
import { BadRequestError } from '../../common/errors.ts';
import type { Aggregate } from '../aggregates.ts';
import {
  atLeast,
  authorize,
  invalidField,
  onlyKeys,
  repr,
  unwrap,
  type ApiDeps,
  type Body,
} from './context.ts';
import { isoMicros } from './servers.view.ts';

function view(request: FastifyRequest, a: Aggregate, full = true): Record<string, unknown> {
  return {
    availability_zone: a.availabilityZone,
    created_at: isoMicros(a.createdAt),
    deleted: false,
    deleted_at: null,
    ...(full ? { hosts: a.hosts, metadata: a.metadata } : {}),
    id: a.id,
    name: a.name,
    updated_at: isoMicros(a.updatedAt),
    ...(atLeast(request, 41) ? { uuid: a.uuid } : {}),
  };
}

/** A name as Nova's `parameter_types.name` takes it. */
function nameOf(field: string, v: unknown): string {
  if (typeof v !== 'string' || v.length < 1 || v.length > 255 || v.trim() !== v)
    throw invalidField(field, v, `${repr(v)} is not a name of 1 to 255 characters`);
  return v;
}

function zoneOf(v: unknown): string | null {
  if (v === null) return null;
  if (typeof v !== 'string' || v.trim().length < 1 || v.length > 255)
    throw invalidField('availability_zone', v, `${repr(v)} is not a name of 1 to 255 characters`);
  return v.trim();
}

function idOf(raw: string): number {
  if (!/^-?\d+$/.test(raw))
    throw new BadRequestError(`id must be an integer, not ${raw}`, 'compute.bad_request');
  return Number(raw);
}

export function aggregateRoutes(app: App, deps: ApiDeps): void {
  const { aggregates } = deps;
  const admin = (request: FastifyRequest, rule: string) =>
    authorize(request, deps, `os_compute_api:os-aggregates:${rule}`, {});
  type Params = { id: string };

  app.get('/os-aggregates', async (request) => {
    admin(request, 'index');
    return { aggregates: (await aggregates.list()).map((a) => view(request, a)) };
  });

  app.post('/os-aggregates', async (request) => {
    admin(request, 'create');
    const body = unwrap(request.body, 'aggregate');
    onlyKeys(body, ['name', 'availability_zone'], 'aggregate');
    if (body['name'] === undefined)
      throw invalidField('aggregate', body, "'name' is a required property");
    const name = nameOf('name', body['name']);
    const zone = body['availability_zone'] === undefined ? null : zoneOf(body['availability_zone']);
    return { aggregate: view(request, await aggregates.create(name, zone), false) };
  });

  app.get<{ Params: Params }>('/os-aggregates/:id', async (request) => {
    admin(request, 'show');
    return { aggregate: view(request, await aggregates.get(idOf(request.params.id))) };
  });

  app.put<{ Params: Params }>('/os-aggregates/:id', async (request) => {
    admin(request, 'update');
    const body = unwrap(request.body, 'aggregate');
    onlyKeys(body, ['name', 'availability_zone'], 'aggregate');
    if (Object.keys(body).length === 0)
      throw invalidField('aggregate', body, '{} does not have enough properties');
    const change: { name?: string; availabilityZone?: string | null } = {};
    if (body['name'] !== undefined) change.name = nameOf('name', body['name']);
    if (body['availability_zone'] !== undefined)
      change.availabilityZone = zoneOf(body['availability_zone']);
    return {
      aggregate: view(request, await aggregates.update(idOf(request.params.id), change)),
    };
  });

  app.delete<{ Params: Params }>('/os-aggregates/:id', async (request, reply) => {
    admin(request, 'delete');
    await aggregates.delete(idOf(request.params.id));
    reply.code(200);
    return reply.send();
  });

  app.post<{ Params: Params }>('/os-aggregates/:id/action', async (request) => {
    const body = request.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new BadRequestError('Malformed request body', 'compute.bad_request');
    const keys = Object.keys(body);
    if (keys.length !== 1)
      throw new BadRequestError('Malformed request body', 'compute.bad_request');
    const action = keys[0] as string;
    const value = (body as Body)[action];
    const inner = (): Body => {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw invalidField(action, value, `${repr(value)} is not of type 'object'`);
      return value as Body;
    };
    const id = () => idOf(request.params.id);
    switch (action) {
      case 'add_host':
      case 'remove_host': {
        admin(request, action);
        const b = inner();
        onlyKeys(b, ['host'], action);
        const host = b['host'];
        if (typeof host !== 'string' || host.length < 1 || host.length > 255)
          throw invalidField('host', host, `${repr(host)} is not a host name`);
        const updated =
          action === 'add_host'
            ? await aggregates.addHost(id(), host)
            : await aggregates.removeHost(id(), host);
        return { aggregate: view(request, updated) };
      }
      case 'set_metadata': {
        admin(request, 'set_metadata');
        const b = inner();
        onlyKeys(b, ['metadata'], action);
        const metadata = b['metadata'];
        if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata))
          throw invalidField('metadata', metadata, `${repr(metadata)} is not of type 'object'`);
        const items: Record<string, string | null> = {};
        for (const [k, v] of Object.entries(metadata as Body)) {
          if (k.length < 1 || k.length > 255)
            throw invalidField('metadata', metadata, `'${k}' is not a key of 1 to 255 characters`);
          if (v !== null && (typeof v !== 'string' || v.length > 255))
            throw invalidField(
              `metadata/${k}`,
              v,
              `${repr(v)} is not a string of at most 255 characters`,
            );
          items[k] = v;
        }
        return { aggregate: view(request, await aggregates.setMetadata(id(), items)) };
      }
      default:
        throw new BadRequestError(`There is no such action: ${action}`, 'compute.bad_request');
    }
  });
}
