/**
 * `/v3/roles` (global and domain-specific roles), implied roles
 * (`/v3/roles/{prior_role_id}/implies[/{implied_role_id}]`) and `/v3/role_inferences`.
 */
import Type from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { App } from '../../common/http/app.ts';
import { invalid } from '../errors.ts';
import type { Role } from '../roles.ts';
import { authorize, type ApiDeps } from './context.ts';
import { listLinks, selfLinks } from './links.ts';

const Id = Type.String({ minLength: 1, maxLength: 64 });
const Name = Type.String({ minLength: 1, maxLength: 255, pattern: '\\S' });
const Description = Type.Union([Type.String({ maxLength: 65535 }), Type.Null()]);
const Options = Type.Object(
  { immutable: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])) },
  { additionalProperties: false },
);

const CreateBody = Type.Object({
  role: Type.Object({
    name: Name,
    domain_id: Type.Optional(Type.Union([Id, Type.Null()])),
    description: Type.Optional(Description),
    options: Type.Optional(Options),
  }),
});

const UpdateBody = Type.Object({
  role: Type.Object(
    {
      id: Type.Optional(Type.String()),
      name: Type.Optional(Name),
      domain_id: Type.Optional(Type.Union([Type.String(), Type.Null()])),
      description: Type.Optional(Description),
      options: Type.Optional(Options),
    },
    { minProperties: 1 },
  ),
});

const RoleParams = Type.Object({ role_id: Id });
const ImpliedParams = Type.Object({ role_id: Id, implied_role_id: Id });
const ListQuery = Type.Object({
  name: Type.Optional(Type.String()),
  domain_id: Type.Optional(Type.String()),
});

export function roleView(request: FastifyRequest, r: Role) {
  return {
    id: r.id,
    name: r.name,
    domain_id: r.domain_id,
    description: r.description,
    options: r.options,
    links: selfLinks(request, `/roles/${r.id}`),
  };
}

/** A role as the implied-role API shows it: id, name, link. */
function briefRole(request: FastifyRequest, r: Role) {
  return { id: r.id, name: r.name, links: selfLinks(request, `/roles/${r.id}`) };
}

function target(r: Role) {
  return { role: { id: r.id, domain_id: r.domain_id }, domain_id: r.domain_id };
}

/** Domain-specific roles have their own rules (`identity:get_domain_role` …). */
function ruleFor(action: 'get' | 'update' | 'delete', r: Pick<Role, 'domain_id'>): string {
  return r.domain_id === null ? `identity:${action}_role` : `identity:${action}_domain_role`;
}

/** Options as given; on update a `null` clears an option, as Keystone's resource options do. */
function options(
  given: Record<string, boolean | null | undefined> | undefined,
  dropNull: boolean,
): Record<string, unknown> | undefined {
  if (given === undefined) return undefined;
  return Object.fromEntries(
    Object.entries(given).filter(([, v]) => v !== undefined && (v !== null || !dropNull)),
  );
}

export function roleRoutes(app: App, deps: ApiDeps): void {
  const { roles, resources } = deps.identity;

  app.post('/v3/roles', { schema: { body: CreateBody } }, async (request, reply) => {
    const body = request.body.role;
    const domainId = body.domain_id ?? null;
    if (domainId === null) {
      await authorize(request, deps, 'identity:create_role');
    } else {
      await authorize(request, deps, 'identity:create_domain_role', {
        role: { domain_id: domainId },
        domain_id: domainId,
      });
      await resources.getDomain(domainId);
    }
    const role = await roles.create({
      name: body.name,
      domain_id: domainId,
      description: body.description,
      options: options(body.options, true),
    });
    return reply.status(201).send({ role: roleView(request, role) });
  });

  app.get('/v3/roles', { schema: { querystring: ListQuery } }, async (request) => {
    const q = request.query;
    const domainId = q.domain_id !== undefined && q.domain_id !== '' ? q.domain_id : undefined;
    await authorize(
      request,
      deps,
      domainId === undefined ? 'identity:list_roles' : 'identity:list_domain_roles',
      { domain_id: domainId ?? null },
    );
    const list = await roles.list({ name: q.name, domain_id: domainId });
    return { roles: list.map((r) => roleView(request, r)), links: listLinks(request) };
  });

  app.get('/v3/roles/:role_id', { schema: { params: RoleParams } }, async (request) => {
    const role = await roles.get(request.params.role_id);
    await authorize(request, deps, ruleFor('get', role), target(role));
    return { role: roleView(request, role) };
  });

  app.patch(
    '/v3/roles/:role_id',
    { schema: { params: RoleParams, body: UpdateBody } },
    async (request) => {
      const current = await roles.get(request.params.role_id);
      await authorize(request, deps, ruleFor('update', current), target(current));
      const body = request.body.role;
      if (body.id !== undefined && body.id !== current.id) throw invalid('Cannot change ID');
      if (body.domain_id !== undefined && body.domain_id !== current.domain_id)
        throw invalid('Update of `domain_id` is not allowed.');
      const role = await roles.update(current.id, {
        name: body.name,
        description: body.description,
        options: options(body.options, false),
      });
      return { role: roleView(request, role) };
    },
  );

  app.delete('/v3/roles/:role_id', { schema: { params: RoleParams } }, async (request, reply) => {
    const role = await roles.get(request.params.role_id);
    await authorize(request, deps, ruleFor('delete', role), target(role));
    await roles.delete(role.id);
    return reply.status(204).send();
  });

  // ---- implied roles ----

  const implication = (request: FastifyRequest, prior: Role, implied: Role) => ({
    role_inference: { prior_role: briefRole(request, prior), implies: briefRole(request, implied) },
    links: selfLinks(request, `/roles/${prior.id}/implies/${implied.id}`),
  });
  const pair = async (params: { role_id: string; implied_role_id: string }) => ({
    prior: await roles.get(params.role_id),
    implied: await roles.get(params.implied_role_id),
  });
  const pairTarget = (prior: Role, implied: Role) => ({
    prior_role: { id: prior.id, domain_id: prior.domain_id },
    implied_role: { id: implied.id, domain_id: implied.domain_id },
  });

  app.get('/v3/roles/:role_id/implies', { schema: { params: RoleParams } }, async (request) => {
    const prior = await roles.get(request.params.role_id);
    await authorize(request, deps, 'identity:list_implied_roles', {
      prior_role: { id: prior.id, domain_id: prior.domain_id },
    });
    const ids = (await roles.implications(prior.id)).map((r) => r.implied_role_id);
    const implied = await roles.list({ ids });
    return {
      role_inference: {
        prior_role: briefRole(request, prior),
        implies: implied.map((r) => briefRole(request, r)),
      },
      links: selfLinks(request, `/roles/${prior.id}/implies`),
    };
  });

  // HEAD before GET: Fastify would otherwise derive HEAD from GET (a 200, not Keystone's 204).
  app.head(
    '/v3/roles/:role_id/implies/:implied_role_id',
    { schema: { params: ImpliedParams } },
    async (request, reply) => {
      const { prior, implied } = await pair(request.params);
      await authorize(request, deps, 'identity:check_implied_role', pairTarget(prior, implied));
      await roles.getImplication(prior.id, implied.id);
      return reply.status(204).send();
    },
  );

  app.get(
    '/v3/roles/:role_id/implies/:implied_role_id',
    { schema: { params: ImpliedParams } },
    async (request) => {
      const { prior, implied } = await pair(request.params);
      await authorize(request, deps, 'identity:get_implied_role', pairTarget(prior, implied));
      await roles.getImplication(prior.id, implied.id);
      return implication(request, prior, implied);
    },
  );

  app.put(
    '/v3/roles/:role_id/implies/:implied_role_id',
    { schema: { params: ImpliedParams } },
    async (request, reply) => {
      const { prior, implied } = await pair(request.params);
      await authorize(request, deps, 'identity:create_implied_role', pairTarget(prior, implied));
      await roles.imply(prior.id, implied.id);
      return reply.status(201).send(implication(request, prior, implied));
    },
  );

  app.delete(
    '/v3/roles/:role_id/implies/:implied_role_id',
    { schema: { params: ImpliedParams } },
    async (request, reply) => {
      const { prior, implied } = await pair(request.params);
      await authorize(request, deps, 'identity:delete_implied_role', pairTarget(prior, implied));
      await roles.unimply(prior.id, implied.id);
      return reply.status(204).send();
    },
  );

  app.get('/v3/role_inferences', async (request) => {
    await authorize(request, deps, 'identity:list_role_inference_rules');
    const rules = await roles.implications();
    const ids = [...new Set(rules.flatMap((r) => [r.prior_role_id, r.implied_role_id]))];
    const byId = new Map((await roles.list({ ids })).map((r) => [r.id, r]));
    const grouped = new Map<string, Role[]>();
    for (const rule of rules) {
      const implied = byId.get(rule.implied_role_id);
      if (implied === undefined || !byId.has(rule.prior_role_id)) continue;
      grouped.set(rule.prior_role_id, [...(grouped.get(rule.prior_role_id) ?? []), implied]);
    }
    return {
      role_inferences: [...grouped].map(([priorId, implied]) => ({
        prior_role: briefRole(request, byId.get(priorId) as Role),
        implies: implied.map((r) => briefRole(request, r)),
      })),
      links: listLinks(request),
    };
  });
}
