/** `/v3/groups`: CRUD and membership (`/v3/groups/{group_id}/users[/{user_id}]`). */
import Type from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { App } from '../../common/http/app.ts';
import { invalid } from '../errors.ts';
import type { Group } from '../groups.ts';
import type { User } from '../users.ts';
import { allowed, authorize, callerOf, scopedDomain, type ApiDeps } from './context.ts';
import { listLinks, queryBool, selfLinks, extrasOf } from './links.ts';
import { userView } from './views.ts';

const Id = Type.String({ minLength: 1, maxLength: 64 });
const Name = Type.String({ minLength: 1, maxLength: 255, pattern: '\\S' });
const Description = Type.Union([Type.String({ maxLength: 65535 }), Type.Null()]);

const KNOWN = new Set(['id', 'name', 'domain_id', 'description', 'links']);

const CreateBody = Type.Object({
  group: Type.Object({
    name: Name,
    domain_id: Type.Optional(Id),
    description: Type.Optional(Description),
  }),
});

const UpdateBody = Type.Object({
  group: Type.Object(
    {
      id: Type.Optional(Type.String()),
      name: Type.Optional(Name),
      domain_id: Type.Optional(Type.String()),
      description: Type.Optional(Description),
    },
    { minProperties: 1 },
  ),
});

const GroupParams = Type.Object({ group_id: Id });
const MemberParams = Type.Object({ group_id: Id, user_id: Id });
const ListQuery = Type.Object({
  domain_id: Type.Optional(Type.String()),
  name: Type.Optional(Type.String()),
});
const MembersQuery = Type.Object({
  domain_id: Type.Optional(Type.String()),
  name: Type.Optional(Type.String()),
  enabled: Type.Optional(Type.String()),
});

export function groupView(request: FastifyRequest, g: Group) {
  return {
    ...g.extra,
    id: g.id,
    name: g.name,
    domain_id: g.domain_id,
    description: g.description,
    links: selfLinks(request, `/groups/${g.id}`),
  };
}

/** Attributes Keystone does not define are stored and returned as they came. */
function target(g: Pick<Group, 'id' | 'domain_id'>) {
  return { group: { id: g.id, domain_id: g.domain_id }, domain_id: g.domain_id };
}

function memberTarget(g: Group, u: User) {
  return {
    ...target(g),
    user: { id: u.id, domain_id: u.domain_id },
  };
}

/** The domain a domain-scoped token is scoped to, which also bounds what its lists show. */
export function groupRoutes(app: App, deps: ApiDeps): void {
  const { groups, users, resources } = deps.identity;

  app.post('/v3/groups', { schema: { body: CreateBody } }, async (request, reply) => {
    const body = request.body.group as Record<string, unknown> & typeof request.body.group;
    const caller = await callerOf(request, deps);
    // Without a domain, Keystone puts the group in the domain of the caller's token.
    const domainId = body.domain_id ?? scopedDomain(caller) ?? caller.data.user.domain_id;
    await authorize(request, deps, 'identity:create_group', {
      group: { domain_id: domainId },
      domain_id: domainId,
    });
    await resources.getDomain(domainId);
    const group = await groups.create({
      name: body.name,
      domain_id: domainId,
      description: body.description,
      extra: extrasOf(body, KNOWN),
    });
    return reply.status(201).send({ group: groupView(request, group) });
  });

  app.get('/v3/groups', { schema: { querystring: ListQuery } }, async (request) => {
    const q = request.query;
    const caller = await callerOf(request, deps);
    const domainId = q.domain_id ?? scopedDomain(caller);
    await authorize(request, deps, 'identity:list_groups', { domain_id: domainId ?? null });
    const list = await groups.list({ domain_id: domainId, name: q.name });
    return {
      groups: list
        .filter((g) => allowed(deps, caller, 'identity:get_group', target(g)))
        .map((g) => groupView(request, g)),
      links: listLinks(request),
    };
  });

  app.get('/v3/groups/:group_id', { schema: { params: GroupParams } }, async (request) => {
    const group = await groups.get(request.params.group_id);
    await authorize(request, deps, 'identity:get_group', target(group));
    return { group: groupView(request, group) };
  });

  app.patch(
    '/v3/groups/:group_id',
    { schema: { params: GroupParams, body: UpdateBody } },
    async (request) => {
      const current = await groups.get(request.params.group_id);
      await authorize(request, deps, 'identity:update_group', target(current));
      const body = request.body.group as Record<string, unknown> & typeof request.body.group;
      if (body.id !== undefined && body.id !== current.id) throw invalid('Cannot change ID');
      if (body.domain_id !== undefined && body.domain_id !== current.domain_id)
        throw invalid('Cannot change Domain ID');
      const extra = extrasOf(body, KNOWN);
      const group = await groups.update(current.id, {
        name: body.name,
        description: body.description,
        ...(Object.keys(extra).length > 0 ? { extra } : {}),
      });
      return { group: groupView(request, group) };
    },
  );

  app.delete(
    '/v3/groups/:group_id',
    { schema: { params: GroupParams } },
    async (request, reply) => {
      const current = await groups.get(request.params.group_id);
      await authorize(request, deps, 'identity:delete_group', target(current));
      await groups.delete(current.id);
      return reply.status(204).send();
    },
  );

  // ---- membership ----

  app.get(
    '/v3/groups/:group_id/users',
    { schema: { params: GroupParams, querystring: MembersQuery } },
    async (request) => {
      const group = await groups.get(request.params.group_id);
      const caller = await authorize(request, deps, 'identity:list_users_in_group', target(group));
      const q = request.query;
      const list = await users.list({
        ids: await groups.memberIds(group.id),
        domain_id: q.domain_id ?? scopedDomain(caller),
        name: q.name,
        enabled: queryBool(q.enabled),
      });
      return { users: list.map((u) => userView(request, u)), links: listLinks(request) };
    },
  );

  app.get(
    '/v3/groups/:group_id/users/:user_id',
    { schema: { params: MemberParams } },
    async (request, reply) => {
      const group = await groups.get(request.params.group_id);
      const user = await users.get(request.params.user_id);
      await authorize(request, deps, 'identity:check_user_in_group', memberTarget(group, user));
      await groups.checkMember(group.id, user.id);
      return reply.status(204).send();
    },
  );

  app.put(
    '/v3/groups/:group_id/users/:user_id',
    { schema: { params: MemberParams } },
    async (request, reply) => {
      const group = await groups.get(request.params.group_id);
      const user = await users.get(request.params.user_id);
      await authorize(request, deps, 'identity:add_user_to_group', memberTarget(group, user));
      await groups.addMember(group.id, user.id);
      return reply.status(204).send();
    },
  );

  app.delete(
    '/v3/groups/:group_id/users/:user_id',
    { schema: { params: MemberParams } },
    async (request, reply) => {
      const group = await groups.get(request.params.group_id);
      const user = await users.get(request.params.user_id);
      await authorize(request, deps, 'identity:remove_user_from_group', memberTarget(group, user));
      await groups.removeMember(group.id, user.id);
      return reply.status(204).send();
    },
  );
}
