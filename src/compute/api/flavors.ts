/**
 * `/flavors` with `os-extra_specs` and `os-flavor-access`: the fields each microversion shows
 * (description from 2.55, extra specs from 2.61, `swap` 0 instead of "" from 2.75).
 */
import type { FastifyRequest } from 'fastify';
import Type from 'typebox';
import type { App } from '../../common/http/app.ts';
import { baseUrlOf } from '../../common/http/version-discovery.ts';
import { BadRequestError, NotFoundError } from '../../common/errors.ts';
import {
  FLAVOR_SORT_KEYS,
  type Flavor,
  type FlavorInput,
  type FlavorListQuery,
} from '../flavors.ts';
import {
  atLeast,
  authorize,
  invalidField,
  onlyKeys,
  unwrap,
  viewerOf,
  type ApiDeps,
  type Body,
  last,
  pageOf,
  type Query,
  MAX_LIMIT,
} from './context.ts';

const FlavorParams = Type.Object({ id: Type.String({ maxLength: 255 }) });
const SpecParams = Type.Object({
  id: Type.String({ maxLength: 255 }),
  key: Type.String({ maxLength: 255 }),
});

type View = Record<string, unknown>;

function links(request: FastifyRequest, flavorid: string): { href: string; rel: string }[] {
  const base = baseUrlOf(request);
  return [
    { href: `${base}/v2.1/flavors/${flavorid}`, rel: 'self' },
    { href: `${base}/flavors/${flavorid}`, rel: 'bookmark' },
  ];
}

function fullView(request: FastifyRequest, f: Flavor): View {
  const r = f.row;
  return {
    id: r.flavorid,
    name: r.name,
    ram: r.memory_mb,
    disk: r.root_gb,
    swap: r.swap === 0 && !atLeast(request, 75) ? '' : r.swap,
    'OS-FLV-EXT-DATA:ephemeral': r.ephemeral_gb,
    'OS-FLV-DISABLED:disabled': r.disabled !== 0,
    vcpus: r.vcpus,
    'os-flavor-access:is_public': r.is_public !== 0,
    rxtx_factor: r.rxtx_factor,
    links: links(request, r.flavorid),
    ...(atLeast(request, 55) ? { description: r.description } : {}),
    ...(atLeast(request, 61) ? { extra_specs: { ...f.extraSpecs } } : {}),
  };
}

function summaryView(request: FastifyRequest, f: Flavor): View {
  return {
    id: f.row.flavorid,
    name: f.row.name,
    links: links(request, f.row.flavorid),
    ...(atLeast(request, 55) ? { description: f.row.description } : {}),
  };
}

const TRUE = new Set(['1', 't', 'true', 'on', 'y', 'yes']);
const FALSE = new Set(['0', 'f', 'false', 'off', 'n', 'no']);

function listQuery(request: FastifyRequest, isAdmin: boolean): FlavorListQuery {
  const query = request.query as Query;
  const out: FlavorListQuery = { sortKey: 'flavorid', sortDir: 'asc' };
  const sortKey = last(query, 'sort_key');
  if (sortKey !== undefined) {
    if (FLAVOR_SORT_KEYS[sortKey] === undefined)
      throw new BadRequestError(
        `Invalid input for query parameters sort_key. Value: ${sortKey}. '${sortKey}' is not one of ${JSON.stringify(Object.keys(FLAVOR_SORT_KEYS))}`,
        'compute.bad_request',
      );
    out.sortKey = sortKey;
  }
  const sortDir = last(query, 'sort_dir');
  if (sortDir !== undefined) {
    if (sortDir !== 'asc' && sortDir !== 'desc')
      throw new BadRequestError(
        `Invalid input for query parameters sort_dir. Value: ${sortDir}. '${sortDir}' is not one of ['asc', 'desc']`,
        'compute.bad_request',
      );
    out.sortDir = sortDir;
  }
  for (const [param, field, label] of [
    ['minRam', 'minRam', 'minRam'],
    ['minDisk', 'minDisk', 'minDisk'],
  ] as const) {
    const v = last(query, param);
    if (v === undefined) continue;
    if (!/^\d+$/.test(v) || Number(v) > 2 ** 31 - 1)
      throw new BadRequestError(`Invalid ${label} filter [${v}]`, 'compute.bad_request');
    out[field] = Number(v);
  }
  Object.assign(out, pageOf(query));
  // Admins only: absent means public ones and their own project's private ones, `none` all.
  const isPublic = last(query, 'is_public');
  if (!isAdmin) out.isPublic = undefined;
  else if (isPublic === undefined) out.isPublic = undefined;
  else if (isPublic.toLowerCase() === 'none') out.isPublic = 'all';
  else if (TRUE.has(isPublic.toLowerCase())) out.isPublic = true;
  else if (FALSE.has(isPublic.toLowerCase())) out.isPublic = false;
  else throw new BadRequestError(`Invalid is_public filter [${isPublic}]`, 'compute.bad_request');
  return out;
}

function nextLinks(
  request: FastifyRequest,
  path: string,
  found: readonly Flavor[],
  limit: number | undefined,
): { href: string; rel: string }[] {
  const max = Math.min(limit ?? MAX_LIMIT, MAX_LIMIT);
  if (found.length === 0 || found.length !== max) return [];
  const params = new URLSearchParams();
  const query = request.query as Query;
  for (const key of Object.keys(query).sort()) {
    if (key === 'marker') continue;
    const v = query[key];
    for (const one of Array.isArray(v) ? v : [v]) if (one !== undefined) params.append(key, one);
  }
  params.set('marker', found.at(-1)?.row.flavorid ?? '');
  return [{ href: `${baseUrlOf(request)}/v2.1/${path}?${params.toString()}`, rel: 'next' }];
}

/** A count (ram, vcpus, disk, …) as Nova reads it: an integer or a string of digits in range. */
function count(
  body: Body,
  key: string,
  label: string,
  min: number,
  required: boolean,
): number | undefined {
  const v = body[key];
  if (v === undefined) {
    if (required) throw invalidField('flavor', body, `'${key}' is a required property`);
    return undefined;
  }
  const n =
    typeof v === 'number' ? v : typeof v === 'string' && /^[0-9]+$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n))
    throw new BadRequestError(
      `Invalid input received: ${label} must be an integer`,
      'compute.bad_request',
    );
  if (n < min)
    throw new BadRequestError(
      `Invalid input received: ${label} must be >= ${min}`,
      'compute.bad_request',
    );
  if (n > 2147483647)
    throw new BadRequestError(
      `Invalid input received: ${label} must be <= 2147483647`,
      'compute.bad_request',
    );
  return n;
}

const NAME_OK = (name: string): boolean =>
  name.length >= 1 && name.length <= 255 && name.trim() === name && !/[\p{Cc}]/u.test(name);

function flavorInput(request: FastifyRequest, body: Body): FlavorInput {
  const allowed = [
    'name',
    'id',
    'ram',
    'vcpus',
    'disk',
    'OS-FLV-EXT-DATA:ephemeral',
    'swap',
    'rxtx_factor',
    'os-flavor-access:is_public',
    ...(atLeast(request, 55) ? ['description'] : []),
  ];
  onlyKeys(body, allowed, 'flavor');
  const name = body['name'];
  if (typeof name !== 'string') throw invalidField('flavor', body, "'name' is a required property");
  if (!NAME_OK(name))
    throw new BadRequestError(
      "An invalid 'name' value was provided. The name must be: printable characters. Can not start or end with whitespace.",
      'compute.bad_request',
    );
  const input: FlavorInput = {
    name: name.trim(),
    ram: count(body, 'ram', 'ram', 1, true) as number,
    vcpus: count(body, 'vcpus', 'vcpus', 1, true) as number,
    disk: count(body, 'disk', 'disk', 0, true) as number,
  };
  const id = body['id'];
  if (id !== undefined && id !== null && id !== '') {
    if (typeof id !== 'string' && typeof id !== 'number')
      throw invalidField('id', id, "is not of type 'string', 'number', 'null'");
    const text = String(id);
    if (!/^(?! )[a-zA-Z0-9. _-]+(?<! )$/.test(text) || text.length > 255)
      throw invalidField('id', id, `'${text}' does not match '^(?! )[a-zA-Z0-9. _-]+(?<! )$'`);
    input.id = text;
  }
  const ephemeral = count(body, 'OS-FLV-EXT-DATA:ephemeral', 'ephemeral', 0, false);
  if (ephemeral !== undefined) input.ephemeral = ephemeral;
  const swap = count(body, 'swap', 'swap', 0, false);
  if (swap !== undefined) input.swap = swap;
  const rxtx = body['rxtx_factor'];
  if (rxtx !== undefined) {
    const n =
      typeof rxtx === 'number'
        ? rxtx
        : typeof rxtx === 'string' && /^[0-9]+(\.[0-9]+)?$/.test(rxtx)
          ? Number(rxtx)
          : NaN;
    if (!(n > 0) || n > 3.40282e38)
      throw new BadRequestError(
        "Invalid input received: 'rxtx_factor' argument must be a float between 0 and 3.40282e+38",
        'compute.bad_request',
      );
    input.rxtxFactor = n;
  }
  const isPublic = body['os-flavor-access:is_public'];
  if (isPublic !== undefined) {
    const text = typeof isPublic === 'string' ? isPublic.toLowerCase() : '';
    if (typeof isPublic === 'boolean') input.isPublic = isPublic;
    else if (['true', '1', 'on', 'yes'].includes(text)) input.isPublic = true;
    else if (['false', '0', 'off', 'no'].includes(text)) input.isPublic = false;
    else
      throw new BadRequestError(
        'Invalid input received: is_public must be a boolean',
        'compute.bad_request',
      );
  }
  const description = body['description'];
  if (description !== undefined) input.description = descriptionOf(description);
  return input;
}

function descriptionOf(v: unknown): string | null {
  if (v === null) return null;
  if (typeof v !== 'string' || v.length > 65535 || /[\p{Cc}]/u.test(v))
    throw invalidField('description', v, 'is not a valid description');
  return v;
}

/** Extra spec keys and values as Nova's schema takes them. */
function checkSpecs(specs: Body): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(specs)) {
    if (!/^[a-zA-Z0-9-_:. ]{1,255}$/.test(key))
      throw invalidField(
        'extra_specs',
        specs,
        `Additional properties are not allowed ('${key}' was unexpected)`,
      );
    if (typeof value === 'number') {
      const text = String(value);
      if (text.length > 255)
        throw new BadRequestError(
          `extra_specs value has ${text.length} characters, more than 255.`,
          'compute.bad_request',
        );
      out[key] = text;
    } else if (typeof value === 'string' && value.length <= 255) out[key] = value;
    else
      throw invalidField(key, value, `${JSON.stringify(value)} is not of type 'string', 'number'`);
  }
  return out;
}

export function flavorRoutes(app: App, deps: ApiDeps): void {
  const { flavors } = deps;

  app.get('/flavors', async (request) => {
    const viewer = viewerOf(request, deps);
    const q = listQuery(request, viewer.isAdmin);
    const found = await flavors.list(viewer, q);
    const out: Record<string, unknown> = { flavors: found.map((f) => summaryView(request, f)) };
    const next = nextLinks(request, 'flavors', found, q.limit);
    if (next.length > 0) out['flavors_links'] = next;
    return out;
  });

  app.get('/flavors/detail', async (request) => {
    const viewer = viewerOf(request, deps);
    const q = listQuery(request, viewer.isAdmin);
    const found = await flavors.list(viewer, q);
    const out: Record<string, unknown> = { flavors: found.map((f) => fullView(request, f)) };
    const next = nextLinks(request, 'flavors/detail', found, q.limit);
    if (next.length > 0) out['flavors_links'] = next;
    return out;
  });

  app.get('/flavors/:id', { schema: { params: FlavorParams } }, async (request) => {
    const flavor = await flavors.get(viewerOf(request, deps), request.params.id);
    return { flavor: fullView(request, flavor) };
  });

  app.post('/flavors', async (request) => {
    authorize(request, deps, 'os_compute_api:os-flavor-manage:create', {});
    const body = unwrap(request.body, 'flavor');
    const flavor = await flavors.create(flavorInput(request, body));
    return { flavor: fullView(request, flavor) };
  });

  app.put(
    '/flavors/:id',
    { schema: { params: FlavorParams }, config: { microversion: { min: '2.55' } } },
    async (request) => {
      authorize(request, deps, 'os_compute_api:os-flavor-manage:update', {});
      const body = unwrap(request.body, 'flavor');
      onlyKeys(body, ['description'], 'flavor');
      if (!('description' in body))
        throw invalidField('flavor', body, "'description' is a required property");
      const flavor = await flavors.setDescription(
        request.params.id,
        descriptionOf(body['description']),
      );
      return { flavor: fullView(request, flavor) };
    },
  );

  app.delete('/flavors/:id', { schema: { params: FlavorParams } }, async (request, reply) => {
    authorize(request, deps, 'os_compute_api:os-flavor-manage:delete', {});
    await flavors.delete(request.params.id);
    return reply.status(202).send();
  });

  // Extra specs (the path has an underscore).
  app.get('/flavors/:id/os-extra_specs', { schema: { params: FlavorParams } }, async (request) => {
    const flavor = await flavors.get(viewerOf(request, deps), request.params.id);
    return { extra_specs: { ...flavor.extraSpecs } };
  });

  app.post('/flavors/:id/os-extra_specs', { schema: { params: FlavorParams } }, async (request) => {
    authorize(request, deps, 'os_compute_api:os-flavor-extra-specs:create', {});
    const specs = unwrap(request.body, 'extra_specs');
    await flavors.setExtraSpecs(viewerOf(request, deps), request.params.id, checkSpecs(specs));
    // Nova answers with the request body as it came.
    return { extra_specs: specs };
  });

  app.get(
    '/flavors/:id/os-extra_specs/:key',
    { schema: { params: SpecParams } },
    async (request) => {
      const flavor = await flavors.get(viewerOf(request, deps), request.params.id);
      const value = flavor.extraSpecs[request.params.key];
      if (value === undefined)
        throw new NotFoundError(
          `Flavor ${request.params.id} has no extra specs with key ${request.params.key}.`,
          'compute.flavor_extra_spec_not_found',
        );
      return { [request.params.key]: value };
    },
  );

  app.put(
    '/flavors/:id/os-extra_specs/:key',
    { schema: { params: SpecParams } },
    async (request) => {
      authorize(request, deps, 'os_compute_api:os-flavor-extra-specs:update', {});
      const body = request.body;
      if (
        typeof body !== 'object' ||
        body === null ||
        Array.isArray(body) ||
        Object.keys(body).length !== 1
      )
        throw new BadRequestError(
          'The request body must hold exactly one extra spec',
          'compute.bad_request',
        );
      const specs = checkSpecs(body as Body);
      if (!(request.params.key in specs))
        throw new BadRequestError('Request body and URI mismatch', 'compute.bad_request');
      await flavors.setExtraSpecs(viewerOf(request, deps), request.params.id, specs);
      return body;
    },
  );

  app.delete(
    '/flavors/:id/os-extra_specs/:key',
    { schema: { params: SpecParams } },
    async (request, reply) => {
      authorize(request, deps, 'os_compute_api:os-flavor-extra-specs:delete', {});
      await flavors.deleteExtraSpec(viewerOf(request, deps), request.params.id, request.params.key);
      return reply.status(200).send();
    },
  );

  // Access lists of private flavors.
  const accessView = (flavorid: string, projects: readonly string[]): View => ({
    flavor_access: projects.map((p) => ({ flavor_id: flavorid, tenant_id: p })),
  });

  app.get(
    '/flavors/:id/os-flavor-access',
    { schema: { params: FlavorParams } },
    async (request) => {
      authorize(request, deps, 'os_compute_api:os-flavor-access', {});
      return accessView(request.params.id, await flavors.access(request.params.id));
    },
  );

  app.post('/flavors/:id/action', { schema: { params: FlavorParams } }, async (request) => {
    const body = (
      typeof request.body === 'object' && request.body !== null ? request.body : {}
    ) as Body;
    const [action] = Object.keys(body);
    if (action !== 'addTenantAccess' && action !== 'removeTenantAccess')
      throw new BadRequestError(`There is no such action: ${action ?? ''}`, 'compute.bad_request');
    const args = unwrap(body, action);
    onlyKeys(args, ['tenant'], action);
    const tenant = args['tenant'];
    if (typeof tenant !== 'string' || tenant.length < 1 || tenant.length > 255)
      throw invalidField(action, args, "'tenant' is a required property");
    if (action === 'addTenantAccess') {
      authorize(request, deps, 'os_compute_api:os-flavor-access:add_tenant_access', {});
      return accessView(request.params.id, await flavors.addAccess(request.params.id, tenant));
    }
    authorize(request, deps, 'os_compute_api:os-flavor-access:remove_tenant_access', {});
    return accessView(request.params.id, await flavors.removeAccess(request.params.id, tenant));
  });
}
