/** `/v2.0/subnetpools`: create, list, show, update, delete. */
import type { App } from '../../common/http/app.ts';
import { badRequest } from '../errors.ts';
import { requiredRevision } from '../standard.ts';
import {
  SUBNET_POOL_LIST,
  type SubnetPool,
  type SubnetPoolChanges,
  type SubnetPoolInput,
} from '../subnet-pools.ts';
import {
  authorize,
  bool,
  checkKeys,
  ifMatch,
  int,
  owningProject,
  required,
  str,
  strList,
  unwrap,
  viewerOf,
  type ApiDeps,
  type AttributeSpec,
  type Body,
} from './context.ts';
import { listAnswer, listQueryOf, showAnswer } from './lists.ts';
import { IdParams } from './networks.ts';
import type { View } from './views.ts';
import { standardView } from '../standard.ts';

const ATTRIBUTES: AttributeSpec = {
  post: new Set([
    'name',
    'description',
    'prefixes',
    'default_prefixlen',
    'min_prefixlen',
    'max_prefixlen',
    'default_quota',
    'is_default',
    'shared',
    'address_scope_id',
    'project_id',
    'tenant_id',
  ]),
  put: new Set([
    'name',
    'description',
    'prefixes',
    'default_prefixlen',
    'min_prefixlen',
    'max_prefixlen',
    'default_quota',
    'is_default',
    'address_scope_id',
  ]),
  readOnly: new Set([
    'id',
    'ip_version',
    'shared',
    'tags',
    'created_at',
    'updated_at',
    'revision_number',
    'project_id',
    'tenant_id',
  ]),
};

/**
 * Upstream shows the prefix lengths as strings, except in the answer to an update (its
 * update path skips the conversion); clients cope with both, so both are kept.
 */
function poolView(pool: SubnetPool, lengthsAsText: boolean): View {
  const r = pool.row;
  const length = (n: number): string | number => (lengthsAsText ? String(n) : n);
  return {
    ...standardView(r, pool.tags),
    prefixes: [...pool.prefixes],
    ip_version: r.ip_version,
    default_prefixlen: length(r.default_prefixlen),
    min_prefixlen: length(r.min_prefixlen),
    max_prefixlen: length(r.max_prefixlen),
    default_quota: r.default_quota,
    is_default: r.is_default !== 0,
    shared: r.shared !== 0,
    address_scope_id: r.address_scope_id,
  };
}

function changesOf(attrs: Body): SubnetPoolChanges {
  const out: SubnetPoolChanges = {};
  const name = str(attrs, 'name');
  if (name !== undefined) {
    if (name.trim() === '')
      throw badRequest("Invalid input for name. Reason: '' Blank strings are not permitted.");
    out.name = name;
  }
  const description = str(attrs, 'description');
  if (description !== undefined) out.description = description;
  const prefixes = strList(attrs, 'prefixes');
  if (prefixes !== undefined) out.prefixes = prefixes;
  for (const [key, field] of [
    ['default_prefixlen', 'defaultPrefixlen'],
    ['min_prefixlen', 'minPrefixlen'],
    ['max_prefixlen', 'maxPrefixlen'],
  ] as const) {
    const v = int(attrs, key);
    if (v !== undefined) {
      if (v < 0)
        throw badRequest(`Invalid input for ${key}. Reason: '${v}' should be non-negative.`);
      out[field] = v;
    }
  }
  if (attrs['default_quota'] === null) out.defaultQuota = null;
  else {
    const quota = int(attrs, 'default_quota');
    if (quota !== undefined) out.defaultQuota = quota;
  }
  const isDefault = bool(attrs, 'is_default');
  if (isDefault !== undefined) out.isDefault = isDefault;
  if (attrs['address_scope_id'] !== undefined)
    out.addressScopeId =
      attrs['address_scope_id'] === null ? null : (str(attrs, 'address_scope_id') ?? null);
  return out;
}

export function subnetPoolRoutes(app: App, deps: ApiDeps): void {
  const pools = deps.subnetPools;

  app.post('/v2.0/subnetpools', async (request, reply) => {
    const viewer = viewerOf(request, deps);
    const attrs = unwrap(request.body, 'subnetpool');
    checkKeys(attrs, ATTRIBUTES, 'POST');
    const projectId = owningProject(attrs, viewer);
    const shared = bool(attrs, 'shared');
    const guarded = [
      ...(shared === true ? ['shared'] : []),
      ...(attrs['is_default'] !== undefined ? ['is_default'] : []),
    ];
    authorize(request, deps, 'create_subnetpool', { project_id: projectId }, guarded);
    const changes = changesOf(attrs);
    const input: SubnetPoolInput = {
      ...changes,
      projectId,
      name: required(changes.name, 'name'),
      prefixes: required(changes.prefixes, 'prefixes'),
      ...(shared !== undefined ? { shared } : {}),
    };
    await deps.quotas.check(projectId, 'subnetpool');
    const pool = await pools.create(input);
    const view = poolView(pool, true);
    deps.notify('subnetpool.create.end', { subnetpool: view });
    return reply.status(201).send({ subnetpool: view });
  });

  app.get('/v2.0/subnetpools', async (request) => {
    const viewer = viewerOf(request, deps);
    const list = listQueryOf(request, SUBNET_POOL_LIST);
    const found = await pools.list(viewer, list);
    return listAnswer(
      request,
      'subnetpools',
      found.map((p) => poolView(p, true)),
      list,
    );
  });

  app.get('/v2.0/subnetpools/:id', { schema: { params: IdParams } }, async (request) => {
    const pool = await pools.get(viewerOf(request, deps), request.params.id);
    return showAnswer(request, 'subnetpool', poolView(pool, true));
  });

  app.put('/v2.0/subnetpools/:id', { schema: { params: IdParams } }, async (request) => {
    const viewer = viewerOf(request, deps);
    const attrs = unwrap(request.body, 'subnetpool');
    checkKeys(attrs, ATTRIBUTES, 'PUT');
    const current = await pools.get(viewer, request.params.id);
    authorize(
      request,
      deps,
      'update_subnetpool',
      { project_id: current.row.project_id },
      attrs['is_default'] !== undefined ? ['is_default'] : [],
    );
    const pool = await pools.update(
      viewer,
      request.params.id,
      changesOf(attrs),
      requiredRevision(ifMatch(request)),
    );
    const view = poolView(pool, false);
    deps.notify('subnetpool.update.end', { subnetpool: view });
    return { subnetpool: view };
  });

  app.delete('/v2.0/subnetpools/:id', { schema: { params: IdParams } }, async (request, reply) => {
    const viewer = viewerOf(request, deps);
    const current = await pools.get(viewer, request.params.id);
    authorize(request, deps, 'delete_subnetpool', { project_id: current.row.project_id });
    await pools.delete(viewer, request.params.id, requiredRevision(ifMatch(request)));
    deps.notify('subnetpool.delete.end', { subnetpool_id: request.params.id });
    return reply.status(204).send();
  });
}
