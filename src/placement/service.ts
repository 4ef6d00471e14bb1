/** Placement: resource providers, inventories, traits, allocations and allocation candidates. */
import type { FastifyInstance } from 'fastify';
import { createApp, type App } from '../common/http/app.ts';
import { useMicroversions } from '../common/http/microversion.ts';
import { PolicyEnforcer } from '../common/policy/enforcer.ts';
import type { Service, ServiceContext } from '../common/service.ts';
import { Allocations } from './allocations.ts';
import { allocationCandidateRoutes } from './api/allocation-candidates.ts';
import { aggregateRoutes } from './api/aggregates.ts';
import { allocationRoutes } from './api/allocations.ts';
import { atLeast, type ApiDeps } from './api/context.ts';
import { inventoryRoutes } from './api/inventories.ts';
import { reshaperRoutes } from './api/reshaper.ts';
import { resourceClassRoutes } from './api/resource-classes.ts';
import { resourceProviderRoutes } from './api/resource-providers.ts';
import { traitRoutes } from './api/traits.ts';
import { usageRoutes } from './api/usages.ts';
import type { PlacementConfig } from './config.ts';
import { PLACEMENT_POLICY } from './policy.ts';
import { ProviderState, type Db } from './provider-state.ts';
import { Providers } from './providers.ts';
import { Vocabulary } from './vocabulary.ts';

export { PLACEMENT_MIGRATIONS } from './db/migrations.ts';
export { PlacementConfigSchema, type PlacementConfig } from './config.ts';

export const PLACEMENT_MIN_VERSION = '1.0';
export const PLACEMENT_MAX_VERSION = '1.39';

export type PlacementServiceOptions = { now?: () => Date };

export async function createPlacementService(
  ctx: ServiceContext,
  config: PlacementConfig,
  options: PlacementServiceOptions = {},
): Promise<Service> {
  const db = ctx.database.db as Db;
  const now = options.now ?? (() => new Date());
  const vocabulary = new Vocabulary(db, now);
  await vocabulary.sync();
  const deps: ApiDeps = {
    state: new ProviderState(db),
    providers: new Providers(db, now),
    allocations: new Allocations(db, now),
    vocabulary,
    policy: new PolicyEnforcer(PLACEMENT_POLICY, { enforceScope: false }),
    config,
  };
  const app = createApp({
    service: 'placement',
    errorStyle: 'placement',
    logger: ctx.logger,
    requestIdAlias: 'openstack-request-id',
    bodyLimit: ctx.config.http.body_limit,
  });
  void app.register(async (scope) => {
    useMicroversions(scope, {
      serviceType: 'placement',
      min: PLACEMENT_MIN_VERSION,
      max: PLACEMENT_MAX_VERSION,
    });
    // Placement's root is the version document itself, with an empty self link as upstream has.
    scope.get('/', async () => ({
      versions: [
        {
          id: 'v1.0',
          max_version: PLACEMENT_MAX_VERSION,
          min_version: PLACEMENT_MIN_VERSION,
          status: 'CURRENT',
          links: [{ rel: 'self', href: '' }],
        },
      ],
    }));
    void scope.register(async (api: FastifyInstance) => {
      ctx.auth.protect(api);
      cacheHeaders(api);
      const routes = api as unknown as App;
      resourceProviderRoutes(routes, deps);
      inventoryRoutes(routes, deps);
      aggregateRoutes(routes, deps);
      traitRoutes(routes, deps);
      resourceClassRoutes(routes, deps);
      allocationRoutes(routes, deps);
      usageRoutes(routes, deps);
      allocationCandidateRoutes(routes, deps);
      reshaperRoutes(routes, deps);
    });
  });
  return { name: 'placement', app, close: async () => undefined };
}

/** 1.15+: GET answers say they may not be cached and when they were made. */
function cacheHeaders(scope: FastifyInstance): void {
  scope.addHook('onSend', async (request, reply, payload) => {
    if (request.method === 'GET' && reply.statusCode === 200 && atLeast(request, 15)) {
      void reply.header('cache-control', 'no-cache');
      void reply.header('last-modified', new Date().toUTCString());
    }
    return payload;
  });
}
