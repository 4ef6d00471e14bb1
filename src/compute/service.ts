/**
 * Compute (Nova v2.1): version discovery, microversion negotiation, flavors, key pairs and
 * servers, plus the workers behind servers that this process runs: a conductor (scheduling and
 * the task sweep) and one compute agent per hypervisor the composition root hands in.
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
import type { ImageClient } from '../image/client.ts';
import type { NetworkClient } from '../network/client.ts';
import type { PlacementClient } from '../placement/client.ts';
import { ComputeAgent } from './agent/compute-agent.ts';
import { instanceActionRoutes } from './api/instance-actions.ts';
import { interfaceRoutes } from './api/interfaces.ts';
import { serverActionRoutes } from './api/server-actions.ts';
import { REBUILD_ACTIONS } from './api/server-rebuild.ts';
import { SHELVE_ACTIONS } from './api/server-shelve.ts';
import { aggregateRoutes } from './api/aggregates.ts';
import { availabilityZoneRoutes } from './api/availability-zones.ts';
import { migrationRoutes } from './api/migrations.ts';
import { quotaRoutes } from './api/quota-sets.ts';
import { tenantUsageRoutes } from './api/tenant-usage.ts';
import { serverGroupRoutes } from './api/server-groups.ts';
import { serverMetadataRoutes } from './api/server-metadata.ts';
import { serverTagRoutes } from './api/server-tags.ts';
import { serverRoutes } from './api/servers.ts';
import { serviceRoutes } from './api/services.ts';
import { Conductor } from './conductor/conductor.ts';
import { Hosts } from './hosts.ts';
import { Instances } from './instances.ts';
import { instanceNotifier } from './notifier.ts';
import { Aggregates } from './aggregates.ts';
import { Quotas } from './quotas.ts';
import { Scheduler } from './scheduler/scheduler.ts';
import { ServerGroups } from './server-groups.ts';
import { Tasks } from './tasks.ts';
import type { VirtDriver } from './virt/driver.ts';
import type { Logger } from '../common/logging.ts';

/** Builds the test guest image (`tstack image build-test`). */
export { buildTestImage, defaultTestImageCache, testImageName } from './virt/qemu/test-image.ts';
/** The QEMU hypervisors' parts, for the composition root. */
export { QemuDriver } from './virt/qemu/qemu-driver.ts';
export { BaseImageCache } from './virt/qemu/image-cache.ts';
export { chooseAccel } from './virt/qemu/kvm-probe.ts';

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

/** The services compute calls, built by the composition root. */
export type ComputeNeighbours = {
  placement: PlacementClient;
  network: NetworkClient;
  images: ImageClient;
};

/** A hypervisor this process runs an agent for. */
export type ComputeHost = { host: string; driver: VirtDriver };

export type ComputeService = Service & {
  readonly conductor: Conductor | undefined;
  readonly agents: readonly ComputeAgent[];
  /** Resolves once every agent has registered and reported its inventory. */
  readonly agentsReady: Promise<void>;
};

/**
 * Starts an agent, retrying while its neighbours are not there yet (at the first `tstack up`,
 * the service users exist only after bootstrap; in a scale-out, placement may start later).
 */
async function startWithRetry(agent: ComputeAgent, logger: Logger, closed: () => boolean) {
  for (let attempt = 1; !closed(); attempt++) {
    try {
      await agent.start();
      return;
    } catch (err) {
      if (attempt === 1 || attempt % 30 === 0)
        logger.warn({ err, host: agent.host, attempt }, 'compute agent cannot start yet; retrying');
      await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 100 * attempt)));
    }
  }
}

export async function createComputeService(
  ctx: ServiceContext,
  config: ComputeConfig,
  neighbours: ComputeNeighbours,
  computeHosts: readonly ComputeHost[] = [],
  options: { now?: () => Date } = {},
): Promise<ComputeService> {
  const db = ctx.database.db as Kysely<ComputeDatabase>;
  const now = options.now ?? (() => new Date());
  const instances = new Instances(db, now);
  const tasks = new Tasks(db, { leaseMs: config.task_lease * 1000, now });
  const hosts = new Hosts(db, { serviceDownTimeMs: config.service_down_time * 1000, now });
  const notify = instanceNotifier(ctx.bus, ctx.logger);
  const groups = new ServerGroups(instances);
  const aggregates = new Aggregates(instances, hosts);
  const deps: ApiDeps = {
    flavors: new Flavors(db),
    keyPairs: new KeyPairs(db),
    instances,
    tasks,
    hosts,
    images: neighbours.images,
    network: neighbours.network,
    bus: ctx.bus,
    quotas: new Quotas(instances, config.quotas),
    groups,
    aggregates,
    defaultAvailabilityZone: config.default_availability_zone,
    policy: new PolicyEnforcer(COMPUTE_POLICY, { enforceScope: false }),
  };
  if (config.default_flavors) await ensureDefaultFlavors(deps.flavors);
  const workers = {
    instances,
    tasks,
    placement: neighbours.placement,
    network: neighbours.network,
    images: neighbours.images,
    notify,
    groups,
    logger: ctx.logger,
  };
  const conductor = config.conductor
    ? new Conductor({
        ...workers,
        name: `conductor-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
        hosts,
        bus: ctx.bus,
        sweepIntervalMs: config.task_sweep_interval * 1000,
        allowResizeToSameHost: config.allow_resize_to_same_host,
        scheduler: new Scheduler({
          placement: neighbours.placement,
          hosts,
          locate: async (uuids) => {
            const rows = await db
              .selectFrom('instances')
              .select(['uuid', 'host'])
              .where('uuid', 'in', [...uuids])
              .where('deleted', '=', 0)
              .execute();
            return new Map(
              rows.filter((r) => r.host !== null).map((r) => [r.uuid, r.host as string]),
            );
          },
          aggregates,
          maxPlacementResults: config.max_placement_results,
          placementSample: config.placement_sample,
          hostCacheMs: config.scheduler_cache_seconds * 1000,
          now: () => now().getTime(),
          defaultAvailabilityZone: config.default_availability_zone,
        }),
      })
    : undefined;
  if (conductor !== undefined) await conductor.start();
  const agents = computeHosts.map(
    ({ host, driver }) =>
      new ComputeAgent({
        ...workers,
        host,
        driver,
        hosts,
        bus: ctx.bus,
        maxAttempts: config.max_attempts,
        ratios: {
          cpu: config.cpu_allocation_ratio,
          ram: config.ram_allocation_ratio,
          disk: config.disk_allocation_ratio,
        },
        reservedHostMemoryMb: config.reserved_host_memory_mb,
        reportIntervalMs: config.report_interval * 1000,
        reconcileIntervalMs: config.sync_power_state_interval * 1000,
        shelvedOffloadTime: config.shelved_offload_time,
        imageCacheMinimumAgeMs: config.image_cache_minimum_age * 1000,
      }),
  );
  let closed = false;
  const agentsReady = Promise.all(
    agents.map((a) => startWithRetry(a, ctx.logger, () => closed)),
  ).then(() => undefined);
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
        serverRoutes(api, deps);
        serverActionRoutes(api, deps, { ...REBUILD_ACTIONS, ...SHELVE_ACTIONS });
        serverMetadataRoutes(api, deps);
        serverTagRoutes(api, deps);
        instanceActionRoutes(api, deps);
        interfaceRoutes(api, deps);
        serverGroupRoutes(api, deps);
        quotaRoutes(api, deps);
        aggregateRoutes(api, deps);
        availabilityZoneRoutes(api, deps);
        migrationRoutes(api, deps);
        tenantUsageRoutes(api, deps);
        serviceRoutes(api, deps);
      });
    },
    { prefix: '/v2.1' },
  );
  return {
    name: 'compute',
    app,
    conductor,
    agents,
    agentsReady,
    close: async () => {
      closed = true;
      await agentsReady;
      await Promise.all(agents.map((a) => a.stop()));
      await conductor?.stop();
    },
  };
}
