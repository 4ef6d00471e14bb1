/** `/v3/domains`: create, list (filter by name, enabled), show, update, delete. */
import Type from 'typebox';
import type { App } from '../../common/http/app.ts';
import { allowed, authorize, type ApiDeps } from './context.ts';
import { listLinks, queryBool } from './links.ts';
import { domainView } from './views.ts';

const Name = Type.String({ minLength: 1, maxLength: 64, pattern: '\\S' });
const Description = Type.Union([Type.String({ maxLength: 65535 }), Type.Null()]);
const Options = Type.Record(Type.String(), Type.Unknown());

const CreateBody = Type.Object({
  domain: Type.Object(
    {
      id: Type.Optional(Type.String({ pattern: '^[0-9a-f]{32}$' })),
      name: Name,
      description: Type.Optional(Description),
      enabled: Type.Optional(Type.Boolean()),
      options: Type.Optional(Options),
      tags: Type.Optional(Type.Array(Type.String())),
    },
    { additionalProperties: false },
  ),
});

const UpdateBody = Type.Object({
  domain: Type.Object(
    {
      name: Type.Optional(Name),
      description: Type.Optional(Description),
      enabled: Type.Optional(Type.Boolean()),
      options: Type.Optional(Options),
    },
    { additionalProperties: false, minProperties: 1 },
  ),
});

const IdParams = Type.Object({ domain_id: Type.String({ minLength: 1, maxLength: 64 }) });
const ListQuery = Type.Object({
  name: Type.Optional(Type.String()),
  enabled: Type.Optional(Type.String()),
});

export function domainRoutes(app: App, deps: ApiDeps): void {
  const { resources } = deps.identity;

  app.post('/v3/domains', { schema: { body: CreateBody } }, async (request, reply) => {
    await authorize(request, deps, 'identity:create_domain', { domain: request.body.domain });
    const { tags: _tags, ...input } = request.body.domain;
    const domain = await resources.createDomain(input);
    return reply.status(201).send({ domain: domainView(request, domain) });
  });

  app.get('/v3/domains', { schema: { querystring: ListQuery } }, async (request) => {
    const caller = await authorize(request, deps, 'identity:list_domains');
    const domains = await resources.listDomains({
      name: request.query.name,
      enabled: queryBool(request.query.enabled),
    });
    return {
      domains: domains
        .filter((d) => allowed(deps, caller, 'identity:list_domains', { domain_id: d.id }))
        .map((d) => domainView(request, d)),
      links: listLinks(request),
    };
  });

  app.get('/v3/domains/:domain_id', { schema: { params: IdParams } }, async (request) => {
    const domain = await resources.getDomain(request.params.domain_id);
    await authorize(request, deps, 'identity:get_domain', { domain: { id: domain.id } });
    return { domain: domainView(request, domain) };
  });

  app.patch(
    '/v3/domains/:domain_id',
    { schema: { params: IdParams, body: UpdateBody } },
    async (request) => {
      await authorize(request, deps, 'identity:update_domain', {
        domain: { id: request.params.domain_id },
      });
      const domain = await resources.updateDomain(request.params.domain_id, request.body.domain);
      return { domain: domainView(request, domain) };
    },
  );

  app.delete('/v3/domains/:domain_id', { schema: { params: IdParams } }, async (request, reply) => {
    await authorize(request, deps, 'identity:delete_domain', {
      domain: { id: request.params.domain_id },
    });
    await resources.deleteDomain(request.params.domain_id);
    return reply.status(204).send();
  });
}
