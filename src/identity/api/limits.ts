/**
 * Unified limits: `/v3/registered_limits`, `/v3/limits` and `/v3/limits/model`. Creates take a
 * list and answer 201 with the list made (no `links`, as Keystone). Who sees which limits on a
 * list follows Keystone: admins, services and system readers all; a domain-scoped token its
 * domain's and its projects'; a project-scoped token its project's.
 */
import type { FastifyRequest } from 'fastify';
import Type, { type TSchema } from 'typebox';
import type { App } from '../../common/http/app.ts';
import { invalid } from '../errors.ts';
import type { Limit, RegisteredLimit } from '../limits.ts';
import { authorize, type ApiDeps } from './context.ts';
import { listLinks, selfLinks } from './links.ts';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Ref = Type.String({ minLength: 1, maxLength: 64 });
const RegionId = Type.String({ minLength: 1, maxLength: 255 });
const ResourceName = Type.String({ minLength: 1, maxLength: 255, pattern: '\\S' });
/** A signed 32-bit integer, -1 meaning unlimited (Keystone's range). */
const LimitValue = Type.Integer({ minimum: -1, maximum: 0x7fffffff });
const Description = Nullable(Type.String({ maxLength: 255 }));

const RegisteredLimitCreate = Type.Object(
  {
    service_id: Ref,
    region_id: Type.Optional(Nullable(RegionId)),
    resource_name: ResourceName,
    default_limit: LimitValue,
    description: Type.Optional(Description),
  },
  { additionalProperties: false },
);
const RegisteredLimitsBody = Type.Object(
  { registered_limits: Type.Array(RegisteredLimitCreate, { minItems: 1, maxItems: 1000 }) },
  { additionalProperties: false },
);
const RegisteredLimitPatch = Type.Object(
  {
    registered_limit: Type.Object(
      {
        id: Type.Optional(Type.String({ maxLength: 64 })),
        service_id: Type.Optional(Ref),
        region_id: Type.Optional(Nullable(RegionId)),
        resource_name: Type.Optional(ResourceName),
        default_limit: Type.Optional(LimitValue),
        description: Type.Optional(Description),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

const LimitCreate = Type.Object(
  {
    project_id: Type.Optional(Nullable(Ref)),
    domain_id: Type.Optional(Nullable(Ref)),
    service_id: Ref,
    region_id: Type.Optional(Nullable(RegionId)),
    resource_name: ResourceName,
    resource_limit: LimitValue,
    description: Type.Optional(Description),
  },
  { additionalProperties: false },
);
const LimitsBody = Type.Object(
  { limits: Type.Array(LimitCreate, { minItems: 1, maxItems: 1000 }) },
  { additionalProperties: false },
);
const LimitPatch = Type.Object(
  {
    limit: Type.Object(
      {
        id: Type.Optional(Type.String({ maxLength: 64 })),
        resource_limit: Type.Optional(LimitValue),
        description: Type.Optional(Description),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

const RegisteredQuery = Type.Object({
  service_id: Type.Optional(Type.String()),
  region_id: Type.Optional(Type.String()),
  resource_name: Type.Optional(Type.String()),
});
const LimitQuery = Type.Object({
  service_id: Type.Optional(Type.String()),
  region_id: Type.Optional(Type.String()),
  resource_name: Type.Optional(Type.String()),
  project_id: Type.Optional(Type.String()),
  domain_id: Type.Optional(Type.String()),
});
const RegisteredParams = Type.Object({
  registered_limit_id: Type.String({ minLength: 1, maxLength: 255 }),
});
const LimitParams = Type.Object({ limit_id: Type.String({ minLength: 1, maxLength: 255 }) });

function registeredView(request: FastifyRequest, r: RegisteredLimit) {
  return {
    id: r.id,
    service_id: r.service_id,
    region_id: r.region_id,
    resource_name: r.resource_name,
    default_limit: r.default_limit,
    description: r.description,
    links: selfLinks(request, `/registered_limits/${r.id}`),
  };
}

function limitView(request: FastifyRequest, l: Limit) {
  return {
    id: l.id,
    project_id: l.project_id,
    domain_id: l.domain_id,
    service_id: l.service_id,
    region_id: l.region_id,
    resource_name: l.resource_name,
    resource_limit: l.resource_limit,
    description: l.description,
    links: selfLinks(request, `/limits/${l.id}`),
  };
}

/** The limits store; the API needs it built on the identity database. */
export function limitRoutes(app: App, deps: ApiDeps): void {
  const { limits, resources } = deps.identity;

  // ---- registered limits ----
  app.post(
    '/v3/registered_limits',
    { schema: { body: RegisteredLimitsBody } },
    async (request, reply) => {
      await authorize(request, deps, 'identity:create_registered_limits');
      const made = await limits.createRegistered(request.body.registered_limits);
      return reply
        .status(201)
        .send({ registered_limits: made.map((r) => registeredView(request, r)) });
    },
  );

  app.get(
    '/v3/registered_limits',
    { schema: { querystring: RegisteredQuery } },
    async (request) => {
      await authorize(request, deps, 'identity:list_registered_limits');
      const list = await limits.listRegistered(request.query);
      return {
        registered_limits: list.map((r) => registeredView(request, r)),
        links: listLinks(request),
      };
    },
  );

  app.get(
    '/v3/registered_limits/:registered_limit_id',
    { schema: { params: RegisteredParams } },
    async (request) => {
      await authorize(request, deps, 'identity:get_registered_limit');
      const found = await limits.getRegistered(request.params.registered_limit_id);
      return { registered_limit: registeredView(request, found) };
    },
  );

  app.patch(
    '/v3/registered_limits/:registered_limit_id',
    { schema: { params: RegisteredParams, body: RegisteredLimitPatch } },
    async (request) => {
      await authorize(request, deps, 'identity:update_registered_limit');
      const id = request.params.registered_limit_id;
      const { id: bodyId, ...patch } = request.body.registered_limit;
      if (bodyId !== undefined && bodyId !== id) throwIdMismatch();
      return {
        registered_limit: registeredView(request, await limits.updateRegistered(id, patch)),
      };
    },
  );

  app.delete(
    '/v3/registered_limits/:registered_limit_id',
    { schema: { params: RegisteredParams } },
    async (request, reply) => {
      await authorize(request, deps, 'identity:delete_registered_limit');
      await limits.deleteRegistered(request.params.registered_limit_id);
      return reply.status(204).send();
    },
  );

  // ---- limits ----
  app.get('/v3/limits/model', async (request) => {
    await authorize(request, deps, 'identity:get_limit_model');
    return { model: limits.model() };
  });

  app.post('/v3/limits', { schema: { body: LimitsBody } }, async (request, reply) => {
    await authorize(request, deps, 'identity:create_limits');
    const made = await limits.createLimits(request.body.limits);
    return reply.status(201).send({ limits: made.map((l) => limitView(request, l)) });
  });

  app.get('/v3/limits', { schema: { querystring: LimitQuery } }, async (request) => {
    const caller = await authorize(request, deps, 'identity:list_limits');
    const token = caller.data;
    const roles = new Set(token.roles.map((r) => r.name));
    const superuser = token.scope.kind === 'system' || roles.has('admin') || roles.has('service');
    let visible: { project_ids: string[]; domain_ids: string[] } | undefined;
    if (!superuser) {
      if (token.scope.kind === 'domain') {
        const projects = await resources.listProjects({ domain_id: token.scope.domain.id });
        visible = { project_ids: projects.map((p) => p.id), domain_ids: [token.scope.domain.id] };
      } else if (token.scope.kind === 'project') {
        visible = { project_ids: [token.scope.project.id], domain_ids: [] };
      } else {
        visible = { project_ids: [], domain_ids: [] };
      }
    }
    const list = await limits.listLimits({ ...request.query, visible });
    return { limits: list.map((l) => limitView(request, l)), links: listLinks(request) };
  });

  app.get('/v3/limits/:limit_id', { schema: { params: LimitParams } }, async (request) => {
    const id = request.params.limit_id;
    const found = await limits.findLimit(id);
    // Policy first, on what there is: a non-admin learns nothing from a 404.
    await authorize(request, deps, 'identity:get_limit', found ? { limit: found } : {});
    return { limit: limitView(request, found ?? (await limits.getLimit(id))) };
  });

  app.patch(
    '/v3/limits/:limit_id',
    { schema: { params: LimitParams, body: LimitPatch } },
    async (request) => {
      await authorize(request, deps, 'identity:update_limit');
      const id = request.params.limit_id;
      const { id: bodyId, ...patch } = request.body.limit;
      if (bodyId !== undefined && bodyId !== id) throwIdMismatch();
      return { limit: limitView(request, await limits.updateLimit(id, patch)) };
    },
  );

  app.delete(
    '/v3/limits/:limit_id',
    { schema: { params: LimitParams } },
    async (request, reply) => {
      await authorize(request, deps, 'identity:delete_limit');
      await limits.deleteLimit(request.params.limit_id);
      return reply.status(204).send();
    },
  );
}

function throwIdMismatch(): never {
  throw invalid('Cannot change the id of the entity; the id in the body must match the URL.');
}
