/**
 * Compute (Nova v2.1): version discovery, microversion negotiation, flavors (with extra specs and
 * access lists) and key pairs. Servers and the agents behind them come with the rest of the issue.
 */
import type { Kysely } from 'kysely';
import { ConflictError } from '../common/errors.ts';
import { createApp, type App } from '../common/http/app.ts';
import { useMicroversions } from '../common/http/microversion.ts';
import { baseUrlOf, type VersionEntry } from '../common/http/version-discovery.ts';
import { PolicyEnforcer } from '../common/policy/enforcer.ts';
import type { Service, ServiceContext } from '../common/service.ts';
import { COMPUTE_MAX_VERSION, COMPUTE_MIN_VERSION } from './api-versions.ts';
import type { ApiDeps } from './api/context.ts';
import { flavorRoutes } from './api/flavors.ts';
import { keyPairRoutes } from './api/keypairs.ts';
import type { ComputeConfig } from './config.ts';
import type { ComputeDatabase } from './db/schema.ts';
import { DEFAULT_FLAVORS, Flavors } from './flavors.ts';
import { KeyPairs } from './keypairs.ts';
import { COMPUTE_POLICY } from './policy.ts';

export { COMPUTE_MIGRATIONS } from './db/migrations.ts';
export { ComputeConfigSchema, type ComputeConfig } from './config.ts';

/** Creates the default flavors when there are none (concurrent starts create them once). */
async function ensureDefaultFlavors(flavors: Flavors): Promise<void> {
  const existing = await flavors.list(
    { projectId: undefined, isAdmin: true },
    { sortKey: 'id', sortDir: 'asc', limit: 1, isPublic: 'all' },
  );
  if (existing.length > 0) return;
  for (const flavor of DEFAULT_FLAVORS)
    await flavors.create(flavor).catch((err: unknown) => {
      // Another process starting at the same time made it first.
      if (!(err instanceof ConflictError)) throw err;
    });
}

function versions(base: string): VersionEntry[] {
  return [
    {
      id: 'v2.0',
      status: 'SUPPORTED',
      version: '',
      min_version: '',
      updated: '2011-01-21T11:33:21Z',
      links: [{ rel: 'self', href: `${base}/v2/` }],
    },
    v21(base),
  ];
}

function v21(base: string): VersionEntry {
  return {
    id: 'v2.1',
    status: 'CURRENT',
    version: COMPUTE_MAX_VERSION,
    min_version: COMPUTE_MIN_VERSION,
    updated: '2013-07-23T11:33:21Z',
    links: [{ rel: 'self', href: `${base}/v2.1/` }],
  };
}

export async function createComputeService(
  ctx: ServiceContext,
  config: ComputeConfig,
): Promise<Service> {
  const db = ctx.database.db as Kysely<ComputeDatabase>;
  const deps: ApiDeps = {
    flavors: new Flavors(db),
    keyPairs: new KeyPairs(db),
    policy: new PolicyEnforcer(COMPUTE_POLICY, { enforceScope: false }),
  };
  if (config.default_flavors) await ensureDefaultFlavors(deps.flavors);
  const app = createApp({
    service: 'compute',
    errorStyle: 'nova',
    logger: ctx.logger,
    requestIdAlias: 'x-compute-request-id',
    bodyLimit: ctx.config.http.body_limit,
  });
  app.get('/', async (request) => ({ versions: versions(baseUrlOf(request)) }));
  void app.register(
    async (v2) => {
      useMicroversions(v2, {
        serviceType: 'compute',
        min: COMPUTE_MIN_VERSION,
        max: COMPUTE_MAX_VERSION,
        legacyHeader: 'x-openstack-nova-api-version',
      });
      v2.get('/', async (request) => {
        const base = baseUrlOf(request);
        return {
          version: {
            ...v21(base),
            links: [
              { rel: 'self', href: `${base}/v2.1/` },
              { rel: 'describedby', type: 'text/html', href: 'http://docs.openstack.org/' },
            ],
            'media-types': [
              {
                base: 'application/json',
                type: 'application/vnd.openstack.compute+json;version=2.1',
              },
            ],
          },
        };
      });
      void v2.register(async (scope) => {
        ctx.auth.protect(scope);
        const api = scope as unknown as App;
        flavorRoutes(api, deps);
        keyPairRoutes(api, deps);
      });
    },
    { prefix: '/v2.1' },
  );
  return { name: 'compute', app, close: async () => undefined };
}
