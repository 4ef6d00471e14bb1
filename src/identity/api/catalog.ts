/** `/v3/regions`, `/v3/services`, `/v3/endpoints`: the catalog's parts. */
import Type from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { App } from '../../common/http/app.ts';
import type { CatalogService, Endpoint, Region } from '../catalog.ts';
import { authorize, type ApiDeps } from './context.ts';
import { listLinks, queryBool, selfLinks, extrasOf } from './links.ts';

/**
 * Keystone keeps attributes it does not define on regions, services and endpoints (the CLI sends
 * `enabled` on a region, for one) and returns them; they are split off here.
 */
const DEFINED = {
  region: new Set(['id', 'description', 'parent_region_id', 'links']),
  service: new Set(['id', 'type', 'name', 'description', 'enabled', 'links']),
  endpoint: new Set([
    'id',
    'service_id',
    'interface',
    'url',
    'region_id',
    'region',
    'enabled',
    'links',
  ]),
};
const Id = Type.String({ minLength: 1, maxLength: 255 });
const Text = Type.Union([Type.String({ maxLength: 65535 }), Type.Null()]);
const Interface = Type.Union([
  Type.Literal('public'),
  Type.Literal('internal'),
  Type.Literal('admin'),
]);
const Url = Type.String({ minLength: 1, maxLength: 2048, pattern: '^[a-zA-Z][a-zA-Z0-9+.-]*://' });

function regionView(request: FastifyRequest, r: Region) {
  return {
    ...r.extra,
    id: r.id,
    description: r.description,
    parent_region_id: r.parent_region_id,
    links: selfLinks(request, `/regions/${r.id}`),
  };
}

function serviceView(request: FastifyRequest, s: CatalogService) {
  return {
    ...s.extra,
    id: s.id,
    type: s.type,
    name: s.name,
    description: s.description,
    enabled: s.enabled,
    links: selfLinks(request, `/services/${s.id}`),
  };
}

function endpointView(request: FastifyRequest, e: Endpoint) {
  return {
    ...e.extra,
    id: e.id,
    interface: e.interface,
    region: e.region_id,
    region_id: e.region_id,
    service_id: e.service_id,
    url: e.url,
    enabled: e.enabled,
    links: selfLinks(request, `/endpoints/${e.id}`),
  };
}

const RegionBody = Type.Object({
  region: Type.Object(
    {
      id: Type.Optional(Id),
      description: Type.Optional(Type.String({ maxLength: 65535 })),
      parent_region_id: Type.Optional(Type.Union([Id, Type.Null()])),
    },
    {},
  ),
});
const RegionPatch = Type.Object({
  region: Type.Object(
    {
      description: Type.Optional(Type.String({ maxLength: 65535 })),
      parent_region_id: Type.Optional(Type.Union([Id, Type.Null()])),
    },
    { minProperties: 1 },
  ),
});
const ServiceBody = Type.Object({
  service: Type.Object(
    {
      type: Type.String({ minLength: 1, maxLength: 255 }),
      name: Type.Optional(Type.Union([Id, Type.Null()])),
      description: Type.Optional(Text),
      enabled: Type.Optional(Type.Boolean()),
    },
    {},
  ),
});
const ServicePatch = Type.Object({
  service: Type.Object(
    {
      type: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
      name: Type.Optional(Type.Union([Id, Type.Null()])),
      description: Type.Optional(Text),
      enabled: Type.Optional(Type.Boolean()),
    },
    { minProperties: 1 },
  ),
});
const EndpointBody = Type.Object({
  endpoint: Type.Object(
    {
      service_id: Id,
      interface: Interface,
      url: Url,
      region_id: Type.Optional(Type.Union([Id, Type.Null()])),
      region: Type.Optional(Type.Union([Id, Type.Null()])),
      enabled: Type.Optional(Type.Boolean()),
    },
    {},
  ),
});
const EndpointPatch = Type.Object({
  endpoint: Type.Object(
    {
      service_id: Type.Optional(Id),
      interface: Type.Optional(Interface),
      url: Type.Optional(Url),
      region_id: Type.Optional(Type.Union([Id, Type.Null()])),
      region: Type.Optional(Type.Union([Id, Type.Null()])),
      enabled: Type.Optional(Type.Boolean()),
    },
    { minProperties: 1 },
  ),
});

export function catalogRoutes(app: App, deps: ApiDeps): void {
  const { catalog } = deps.identity;
  const P = (name: string) => Type.Object({ [name]: Id });

  // ---- regions ----
  app.post('/v3/regions', { schema: { body: RegionBody } }, async (request, reply) => {
    await authorize(request, deps, 'identity:create_region');
    const region = await catalog.createRegion({
      ...request.body.region,
      extra: extrasOf(request.body.region, DEFINED.region),
    });
    return reply.status(201).send({ region: regionView(request, region) });
  });
  app.put(
    '/v3/regions/:region_id',
    { schema: { params: P('region_id'), body: RegionBody } },
    async (request, reply) => {
      await authorize(request, deps, 'identity:create_region');
      const region = await catalog.createRegion({
        ...request.body.region,
        id: request.params['region_id'],
      });
      return reply.status(201).send({ region: regionView(request, region) });
    },
  );
  app.get(
    '/v3/regions',
    { schema: { querystring: Type.Object({ parent_region_id: Type.Optional(Type.String()) }) } },
    async (request) => {
      await authorize(request, deps, 'identity:list_regions');
      const regions = await catalog.listRegions({
        parent_region_id: request.query.parent_region_id,
      });
      return { regions: regions.map((r) => regionView(request, r)), links: listLinks(request) };
    },
  );
  app.get('/v3/regions/:region_id', { schema: { params: P('region_id') } }, async (request) => {
    await authorize(request, deps, 'identity:get_region');
    return {
      region: regionView(request, await catalog.getRegion(request.params['region_id'] as string)),
    };
  });
  app.patch(
    '/v3/regions/:region_id',
    { schema: { params: P('region_id'), body: RegionPatch } },
    async (request) => {
      await authorize(request, deps, 'identity:update_region');
      return {
        region: regionView(
          request,
          await catalog.updateRegion(request.params['region_id'] as string, {
            ...request.body.region,
            extra: extrasOf(request.body.region, DEFINED.region),
          }),
        ),
      };
    },
  );
  app.delete(
    '/v3/regions/:region_id',
    { schema: { params: P('region_id') } },
    async (request, reply) => {
      await authorize(request, deps, 'identity:delete_region');
      await catalog.deleteRegion(request.params['region_id'] as string);
      return reply.status(204).send();
    },
  );

  // ---- services ----
  app.post('/v3/services', { schema: { body: ServiceBody } }, async (request, reply) => {
    await authorize(request, deps, 'identity:create_service');
    const service = await catalog.createService({
      ...request.body.service,
      extra: extrasOf(request.body.service, DEFINED.service),
    });
    return reply.status(201).send({ service: serviceView(request, service) });
  });
  app.get(
    '/v3/services',
    {
      schema: {
        querystring: Type.Object({
          type: Type.Optional(Type.String()),
          name: Type.Optional(Type.String()),
        }),
      },
    },
    async (request) => {
      await authorize(request, deps, 'identity:list_services');
      const services = await catalog.listServices(request.query);
      return { services: services.map((s) => serviceView(request, s)), links: listLinks(request) };
    },
  );
  app.get('/v3/services/:service_id', { schema: { params: P('service_id') } }, async (request) => {
    await authorize(request, deps, 'identity:get_service');
    return {
      service: serviceView(
        request,
        await catalog.getService(request.params['service_id'] as string),
      ),
    };
  });
  app.patch(
    '/v3/services/:service_id',
    { schema: { params: P('service_id'), body: ServicePatch } },
    async (request) => {
      await authorize(request, deps, 'identity:update_service');
      return {
        service: serviceView(
          request,
          await catalog.updateService(request.params['service_id'] as string, {
            ...request.body.service,
            extra: extrasOf(request.body.service, DEFINED.service),
          }),
        ),
      };
    },
  );
  app.delete(
    '/v3/services/:service_id',
    { schema: { params: P('service_id') } },
    async (request, reply) => {
      await authorize(request, deps, 'identity:delete_service');
      await catalog.deleteService(request.params['service_id'] as string);
      return reply.status(204).send();
    },
  );

  // ---- endpoints ----
  app.post('/v3/endpoints', { schema: { body: EndpointBody } }, async (request, reply) => {
    await authorize(request, deps, 'identity:create_endpoint');
    const { region, region_id, ...rest } = request.body.endpoint;
    const endpoint = await catalog.createEndpoint({
      ...rest,
      region_id: region_id ?? region ?? null,
      extra: extrasOf(request.body.endpoint, DEFINED.endpoint),
    });
    return reply.status(201).send({ endpoint: endpointView(request, endpoint) });
  });
  app.get(
    '/v3/endpoints',
    {
      schema: {
        querystring: Type.Object({
          service_id: Type.Optional(Type.String()),
          interface: Type.Optional(Type.String()),
          region_id: Type.Optional(Type.String()),
          enabled: Type.Optional(Type.String()),
        }),
      },
    },
    async (request) => {
      await authorize(request, deps, 'identity:list_endpoints');
      const { enabled, ...filter } = request.query;
      const wanted = queryBool(enabled);
      const endpoints = (await catalog.listEndpoints(filter)).filter(
        (e) => wanted === undefined || e.enabled === wanted,
      );
      return {
        endpoints: endpoints.map((e) => endpointView(request, e)),
        links: listLinks(request),
      };
    },
  );
  app.get(
    '/v3/endpoints/:endpoint_id',
    { schema: { params: P('endpoint_id') } },
    async (request) => {
      await authorize(request, deps, 'identity:get_endpoint');
      return {
        endpoint: endpointView(
          request,
          await catalog.getEndpoint(request.params['endpoint_id'] as string),
        ),
      };
    },
  );
  app.patch(
    '/v3/endpoints/:endpoint_id',
    { schema: { params: P('endpoint_id'), body: EndpointPatch } },
    async (request) => {
      await authorize(request, deps, 'identity:update_endpoint');
      const { region, region_id, ...rest } = request.body.endpoint;
      const regionId = region_id !== undefined ? region_id : region;
      const endpoint = await catalog.updateEndpoint(request.params['endpoint_id'] as string, {
        ...rest,
        ...(regionId !== undefined ? { region_id: regionId } : {}),
        extra: extrasOf(request.body.endpoint, DEFINED.endpoint),
      });
      return { endpoint: endpointView(request, endpoint) };
    },
  );
  app.delete(
    '/v3/endpoints/:endpoint_id',
    { schema: { params: P('endpoint_id') } },
    async (request, reply) => {
      await authorize(request, deps, 'identity:delete_endpoint');
      await catalog.deleteEndpoint(request.params['endpoint_id'] as string);
      return reply.status(204).send();
    },
  );
}
