/** `/v3/users`: CRUD, self-service password change, a user's projects and groups. */
import Type from 'typebox';
import type { App } from '../../common/http/app.ts';
import type { User } from '../users.ts';
import { allowed, authorize, callerOf, scopedDomain, type ApiDeps } from './context.ts';
import { listLinks, queryBool, v3Url, extrasOf } from './links.ts';
import { projectView, userView } from './views.ts';

const Name = Type.String({ minLength: 1, maxLength: 255, pattern: '\\S' });
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const Password = Type.String({ minLength: 1, maxLength: 4096 });
const Options = Type.Object(
  {
    ignore_lockout_failure_attempts: Type.Optional(Type.Boolean()),
    ignore_password_expiry: Type.Optional(Type.Boolean()),
    ignore_change_password_upon_first_use: Type.Optional(Type.Boolean()),
    lock_password: Type.Optional(Type.Boolean()),
    multi_factor_auth_enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const KNOWN = new Set([
  'name',
  'domain_id',
  'password',
  'enabled',
  'default_project_id',
  'description',
  'email',
  'options',
  'id',
  'federated',
]);

const CreateBody = Type.Object({
  user: Type.Object({
    name: Name,
    domain_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    password: Type.Optional(Type.Union([Password, Type.Null()])),
    enabled: Type.Optional(Type.Boolean()),
    default_project_id: Type.Optional(Nullable(Type.String({ maxLength: 64 }))),
    description: Type.Optional(Nullable(Type.String({ maxLength: 65535 }))),
    email: Type.Optional(Nullable(Type.String({ maxLength: 255 }))),
    options: Type.Optional(Options),
  }),
});

const UpdateBody = Type.Object({
  user: Type.Object(
    {
      name: Type.Optional(Name),
      password: Type.Optional(Type.Union([Password, Type.Null()])),
      enabled: Type.Optional(Type.Boolean()),
      default_project_id: Type.Optional(Nullable(Type.String({ maxLength: 64 }))),
      description: Type.Optional(Nullable(Type.String({ maxLength: 65535 }))),
      email: Type.Optional(Nullable(Type.String({ maxLength: 255 }))),
      options: Type.Optional(Options),
    },
    { minProperties: 1 },
  ),
});

const PasswordBody = Type.Object({
  user: Type.Object(
    { password: Password, original_password: Password },
    { additionalProperties: false },
  ),
});

const IdParams = Type.Object({ user_id: Type.String({ minLength: 1, maxLength: 64 }) });
const ListQuery = Type.Object({
  domain_id: Type.Optional(Type.String()),
  name: Type.Optional(Type.String()),
  enabled: Type.Optional(Type.String()),
});

function target(u: Pick<User, 'id' | 'domain_id'>) {
  return { user: { id: u.id, domain_id: u.domain_id }, domain_id: u.domain_id };
}

export function userRoutes(app: App, deps: ApiDeps): void {
  const { users, resources, roles, groups } = deps.identity;

  app.post('/v3/users', { schema: { body: CreateBody } }, async (request, reply) => {
    const body = request.body.user;
    const caller = await authorize(request, deps, 'identity:create_user', {
      user: { domain_id: body.domain_id ?? null },
      domain_id: body.domain_id ?? null,
    });
    const domainId =
      body.domain_id ??
      (caller.data.scope.kind === 'domain'
        ? caller.data.scope.domain.id
        : caller.data.user.domain_id);
    await resources.getDomain(domainId);
    const user = await users.create({ ...body, domain_id: domainId, extra: extrasOf(body, KNOWN) });
    return reply.status(201).send({ user: userView(request, user) });
  });

  app.get('/v3/users', { schema: { querystring: ListQuery } }, async (request) => {
    const q = request.query;
    const domainId = q.domain_id ?? scopedDomain(await callerOf(request, deps));
    const caller = await authorize(request, deps, 'identity:list_users', {
      domain_id: domainId ?? null,
    });
    const list = await users.list({
      domain_id: domainId,
      name: q.name,
      enabled: queryBool(q.enabled),
    });
    return {
      users: list
        .filter((u) => allowed(deps, caller, 'identity:get_user', target(u)))
        .map((u) => userView(request, u)),
      links: listLinks(request),
    };
  });

  app.get('/v3/users/:user_id', { schema: { params: IdParams } }, async (request) => {
    const user = await users.get(request.params.user_id);
    await authorize(request, deps, 'identity:get_user', target(user));
    return { user: userView(request, user) };
  });

  app.patch(
    '/v3/users/:user_id',
    { schema: { params: IdParams, body: UpdateBody } },
    async (request) => {
      const current = await users.get(request.params.user_id);
      await authorize(request, deps, 'identity:update_user', target(current));
      const body = request.body.user as Record<string, unknown> & typeof request.body.user;
      const extra = extrasOf(body, KNOWN);
      const user = await users.update(current.id, {
        ...body,
        ...(Object.keys(extra).length > 0 ? { extra } : {}),
      });
      return { user: userView(request, user) };
    },
  );

  app.delete('/v3/users/:user_id', { schema: { params: IdParams } }, async (request, reply) => {
    const current = await users.get(request.params.user_id);
    await authorize(request, deps, 'identity:delete_user', target(current));
    await users.delete(current.id);
    return reply.status(204).send();
  });

  // Self-service, like Keystone: no token needed (a user whose password expired must be able to
  // change it); the original password is the proof.
  app.post(
    '/v3/users/:user_id/password',
    { schema: { params: IdParams, body: PasswordBody } },
    async (request, reply) => {
      await users.changeOwnPassword(
        request.params.user_id,
        request.body.user.original_password,
        request.body.user.password,
      );
      return reply.status(204).send();
    },
  );

  app.get('/v3/users/:user_id/projects', { schema: { params: IdParams } }, async (request) => {
    const user = await users.get(request.params.user_id);
    await authorize(request, deps, 'identity:list_user_projects', target(user));
    const projects = [];
    for (const project of await resources.listProjects()) {
      const ancestors = (await resources.parents(project)).map((p) => p.id);
      const ids = await roles.effectiveRoleIds(user.id, {
        kind: 'project',
        id: project.id,
        domain_id: project.domain_id,
        ancestors,
      });
      if (ids.length > 0) projects.push(projectView(request, project));
    }
    return { projects, links: listLinks(request) };
  });

  app.get('/v3/users/:user_id/groups', { schema: { params: IdParams } }, async (request) => {
    const user = await users.get(request.params.user_id);
    await authorize(request, deps, 'identity:list_groups_for_user', {
      ...target(user),
      user_id: user.id,
    });
    const list = await groups.groupsOf(user.id);
    return {
      groups: list.map((g) => ({
        id: g.id,
        name: g.name,
        domain_id: g.domain_id,
        description: g.description,
        links: { self: v3Url(request, `/groups/${g.id}`) },
      })),
      links: listLinks(request),
    };
  });
}
