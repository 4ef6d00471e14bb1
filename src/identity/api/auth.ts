/**
 * `/v3/auth/*`: issue, validate, check and revoke tokens; the catalog and the projects, domains
 * and system a token's user may scope to.
 */
import type { FastifyRequest } from 'fastify';
import Type from 'typebox';
import type { App } from '../../common/http/app.ts';
import { UnauthorizedError } from '../../common/errors.ts';
import { tokenNotFound } from '../tokens.ts';
import { authorize, callerOf, type ApiDeps } from './context.ts';
import { listLinks, queryBool } from './links.ts';
import { domainView, projectView, tokenView } from './views.ts';

const Name = Type.String({ minLength: 1, maxLength: 255 });
const DomainRef = Type.Object({ id: Type.Optional(Name), name: Type.Optional(Name) });
const UserRef = Type.Object({
  id: Type.Optional(Name),
  name: Type.Optional(Name),
  domain: Type.Optional(DomainRef),
});

const AuthBody = Type.Object({
  auth: Type.Object({
    identity: Type.Object({
      methods: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
        minItems: 1,
        maxItems: 8,
      }),
      password: Type.Optional(
        Type.Object({
          user: Type.Intersect([
            UserRef,
            Type.Object({ password: Type.String({ maxLength: 4096 }) }),
          ]),
        }),
      ),
      token: Type.Optional(Type.Object({ id: Type.String({ minLength: 1, maxLength: 1024 }) })),
      application_credential: Type.Optional(
        Type.Object({
          id: Type.Optional(Name),
          name: Type.Optional(Name),
          secret: Type.String({ maxLength: 4096 }),
          user: Type.Optional(UserRef),
        }),
      ),
    }),
    scope: Type.Optional(
      Type.Union([
        Type.Literal('unscoped'),
        Type.Object({
          project: Type.Optional(
            Type.Object({
              id: Type.Optional(Name),
              name: Type.Optional(Name),
              domain: Type.Optional(DomainRef),
            }),
          ),
          domain: Type.Optional(DomainRef),
          system: Type.Optional(Type.Object({ all: Type.Optional(Type.Boolean()) })),
        }),
      ]),
    ),
  }),
});

const TokenQuery = Type.Object({
  nocatalog: Type.Optional(Type.String()),
  allow_expired: Type.Optional(Type.String()),
});

function subjectToken(headers: Record<string, string | string[] | undefined>): string {
  const value = headers['x-subject-token'];
  const token = Array.isArray(value) ? value[0] : value;
  if (token === undefined || token === '') throw tokenNotFound();
  return token;
}

export function authRoutes(app: App, deps: ApiDeps): void {
  const { identity } = deps;

  app.post(
    '/v3/auth/tokens',
    { schema: { body: AuthBody, querystring: TokenQuery } },
    async (request, reply) => {
      const { auth, scope } = await identity.authenticator.authenticate(request.body.auth);
      const { token, data } = await identity.tokens.issue(auth, scope);
      const catalog =
        queryBool(request.query.nocatalog) === true
          ? undefined
          : await identity.tokens.catalogFor(data);
      return reply.status(201).header('x-subject-token', token).send(tokenView(data, catalog));
    },
  );

  const validate = async (request: FastifyRequest) => {
    const query = request.query as { nocatalog?: string; allow_expired?: string };
    const subject = subjectToken(request.headers);
    await callerOf(request, deps);
    const allowExpired = queryBool(query.allow_expired) === true;
    const data = await identity.tokens.validate(subject, { allowExpired });
    await authorize(request, deps, 'identity:validate_token', { token: { user_id: data.user.id } });
    return { subject, data, nocatalog: queryBool(query.nocatalog) === true };
  };

  // HEAD has its own route below (no body, same checks), so GET does not expose one.
  app.get(
    '/v3/auth/tokens',
    { schema: { querystring: TokenQuery }, exposeHeadRoute: false },
    async (request, reply) => {
      const { subject, data, nocatalog } = await validate(request);
      const catalog = nocatalog ? undefined : await identity.tokens.catalogFor(data);
      return reply.header('x-subject-token', subject).send(tokenView(data, catalog));
    },
  );

  app.head('/v3/auth/tokens', { schema: { querystring: TokenQuery } }, async (request, reply) => {
    const { subject } = await validate(request);
    return reply.status(200).header('x-subject-token', subject).send();
  });

  app.delete('/v3/auth/tokens', async (request, reply) => {
    const subject = subjectToken(request.headers);
    await callerOf(request, deps);
    const data = await identity.tokens.validate(subject);
    await authorize(request, deps, 'identity:revoke_token', { token: { user_id: data.user.id } });
    await identity.tokens.revoke(subject);
    return reply.status(204).send();
  });

  app.get('/v3/auth/catalog', async (request) => {
    const caller = await authorize(request, deps, 'identity:get_auth_catalog');
    if (caller.data.scope.kind === 'unscoped') {
      throw new UnauthorizedError(
        'The service catalog needs a scoped token.',
        'identity.unscoped_catalog',
      );
    }
    return { catalog: await identity.tokens.catalogFor(caller.data), links: listLinks(request) };
  });

  app.get('/v3/auth/projects', async (request) => {
    const caller = await authorize(request, deps, 'identity:get_auth_projects');
    const projects = await identity.resources.listProjects({ enabled: true });
    const visible = [];
    for (const project of projects) {
      const ancestors = (await identity.resources.parents(project)).map((p) => p.id);
      const roles = await identity.roles.effectiveRoleIds(caller.data.user.id, {
        kind: 'project',
        id: project.id,
        domain_id: project.domain_id,
        ancestors,
      });
      if (roles.length > 0) visible.push(projectView(request, project));
    }
    return { projects: visible, links: listLinks(request) };
  });

  app.get('/v3/auth/domains', async (request) => {
    const caller = await authorize(request, deps, 'identity:get_auth_domains');
    const domains = await identity.resources.listDomains({ enabled: true });
    const visible = [];
    for (const domain of domains) {
      const roles = await identity.roles.effectiveRoleIds(caller.data.user.id, {
        kind: 'domain',
        id: domain.id,
      });
      if (roles.length > 0) visible.push(domainView(request, domain));
    }
    return { domains: visible, links: listLinks(request) };
  });

  app.get('/v3/auth/system', async (request) => {
    const caller = await authorize(request, deps, 'identity:get_auth_system');
    const roles = await identity.roles.effectiveRoleIds(caller.data.user.id, { kind: 'system' });
    return { system: roles.length > 0 ? [{ all: true }] : [], links: listLinks(request) };
  });
}
