/**
 * `/os-server-groups`: named groups of servers with a placement policy. Before 2.64 the policy
 * is a one-item `policies` list (soft policies from 2.15); from 2.64 it is `policy` with
 * `rules` (`max_server_per_host` for anti-affinity). 2.13 adds the owner's ids.
 */
import type { FastifyRequest } from 'fastify';
import type { App } from '../../common/http/app.ts';
import { BadRequestError, ForbiddenError } from '../../common/errors.ts';
import type { GroupPolicy, GroupRules, ServerGroup } from '../server-groups.ts';
import {
  atLeast,
  authorize,
  invalidField,
  last,
  onlyKeys,
  repr,
  unwrap,
  viewerOf,
  type ApiDeps,
  type Query,
} from './context.ts';

function view(request: FastifyRequest, g: ServerGroup): Record<string, unknown> {
  return {
    id: g.uuid,
    name: g.name,
    ...(atLeast(request, 64)
      ? { policy: g.policy, rules: g.rules }
      : { policies: [g.policy], metadata: {} }),
    members: g.members,
    ...(atLeast(request, 13) ? { project_id: g.projectId, user_id: g.userId } : {}),
  };
}

function policyOf(
  request: FastifyRequest,
  body: Record<string, unknown>,
): { policy: GroupPolicy; rules: GroupRules } {
  const allowed: GroupPolicy[] = atLeast(request, 15)
    ? ['anti-affinity', 'affinity', 'soft-anti-affinity', 'soft-affinity']
    : ['anti-affinity', 'affinity'];
  const oneOf = (field: string, v: unknown): GroupPolicy => {
    if (typeof v !== 'string' || !(allowed as string[]).includes(v))
      throw invalidField(
        field,
        v,
        `${repr(v)} is not one of [${allowed.map((p) => `'${p}'`).join(', ')}]`,
      );
    return v as GroupPolicy;
  };
  if (!atLeast(request, 64)) {
    const policies = body['policies'];
    if (policies === undefined)
      throw invalidField('server_group', body, "'policies' is a required property");
    if (!Array.isArray(policies) || policies.length !== 1)
      throw invalidField(
        'policies',
        policies,
        `${JSON.stringify(policies)} must be a list of exactly one policy`,
      );
    return { policy: oneOf('policies', policies[0]), rules: {} };
  }
  const policy = body['policy'];
  if (policy === undefined)
    throw invalidField('server_group', body, "'policy' is a required property");
  const chosen = oneOf('policy', policy);
  const rawRules = body['rules'];
  const rules: GroupRules = {};
  if (rawRules !== undefined) {
    if (typeof rawRules !== 'object' || rawRules === null || Array.isArray(rawRules))
      throw invalidField('rules', rawRules, `${repr(rawRules)} is not of type 'object'`);
    onlyKeys(rawRules as Record<string, unknown>, ['max_server_per_host'], 'rules');
    const max = (rawRules as Record<string, unknown>)['max_server_per_host'];
    if (max !== undefined) {
      const n = typeof max === 'string' && /^[0-9]+$/.test(max) ? Number(max) : max;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1)
        throw invalidField('max_server_per_host', max, `${repr(max)} is not a positive integer`);
      rules.max_server_per_host = n;
    }
    if (chosen !== 'anti-affinity' && Object.keys(rules).length > 0)
      throw new BadRequestError('Only anti-affinity policy supports rules.', 'compute.bad_request');
  }
  return { policy: chosen, rules };
}

function nonNegative(query: Query, key: string): number | undefined {
  const v = last(query, key);
  if (v === undefined) return undefined;
  if (!/^[0-9]+$/.test(v))
    throw new BadRequestError(
      `Invalid input for query parameters ${key}. Value: ${v}. '${v}' does not match '^[0-9]*$'`,
      'compute.bad_request',
    );
  return Number(v);
}

export function serverGroupRoutes(app: App, deps: ApiDeps): void {
  const { groups } = deps;

  app.post('/os-server-groups', async (request) => {
    const projectId = request.auth.projectId ?? '';
    authorize(request, deps, 'os_compute_api:os-server-groups:create', {
      project_id: projectId,
    });
    const body = unwrap(request.body, 'server_group');
    onlyKeys(
      body,
      atLeast(request, 64) ? ['name', 'policy', 'rules'] : ['name', 'policies'],
      'server_group',
    );
    const name = body['name'];
    if (name === undefined)
      throw invalidField('server_group', body, "'name' is a required property");
    if (typeof name !== 'string' || name.trim().length === 0 || name.length > 255)
      throw invalidField('name', name, `${repr(name)} is not a name of 1 to 255 characters`);
    const { policy, rules } = policyOf(request, body);
    const limit = (await deps.quotas.limitsOf(projectId)).server_groups;
    if (limit >= 0 && (await groups.countOf(projectId)) >= limit)
      throw new ForbiddenError('Quota exceeded, too many server groups.', 'compute.quota_exceeded');
    const group = await groups.create({
      name,
      projectId,
      userId: request.auth.userId,
      policy,
      rules,
    });
    return { server_group: view(request, group) };
  });

  app.get('/os-server-groups', async (request) => {
    const projectId = request.auth.projectId ?? '';
    authorize(request, deps, 'os_compute_api:os-server-groups:index', {
      project_id: projectId,
    });
    const query = request.query as Query;
    let every = false;
    if (query['all_projects'] !== undefined && viewerOf(request, deps).isAdmin) {
      authorize(request, deps, 'os_compute_api:os-server-groups:index:all_projects', {
        project_id: projectId,
      });
      every = true;
    }
    const limit = nonNegative(query, 'limit');
    const offset = nonNegative(query, 'offset');
    const found = await groups.list(every ? undefined : projectId, {
      ...(limit !== undefined ? { limit: Math.min(limit, 1000) } : {}),
      ...(offset !== undefined ? { offset } : {}),
    });
    return { server_groups: found.map((g) => view(request, g)) };
  });

  app.get<{ Params: { id: string } }>('/os-server-groups/:id', async (request) => {
    const group = await groups.get(request.params.id);
    authorize(request, deps, 'os_compute_api:os-server-groups:show', {
      project_id: group.projectId,
    });
    return { server_group: view(request, group) };
  });

  app.delete<{ Params: { id: string } }>('/os-server-groups/:id', async (request, reply) => {
    const group = await groups.get(request.params.id);
    authorize(request, deps, 'os_compute_api:os-server-groups:delete', {
      project_id: group.projectId,
    });
    await groups.delete(group.uuid);
    reply.code(204);
    return reply.send();
  });
}
