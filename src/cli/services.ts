/** The composition root's list of services: name → migrations and factory. */
import type { ServiceName } from '../common/config/schema.ts';
import type { ServiceDefinition } from '../common/service.ts';
import type { TstackConfig } from './config.ts';
import { computeHostsFor, computeNeighboursFor } from './compute-parts.ts';
import { COMPUTE_MIGRATIONS, createComputeService } from '../compute/service.ts';
import { createDashboardService } from '../dashboard/service.ts';
import { createIdentityService, IDENTITY_MIGRATIONS } from '../identity/service.ts';
import { createImageService, IMAGE_MIGRATIONS } from '../image/service.ts';
import { createNetworkService, NETWORK_MIGRATIONS } from '../network/service.ts';
import { createObjectService } from '../object/service.ts';
import { createOrchestrationService } from '../orchestration/service.ts';
import { createPlacementService, PLACEMENT_MIGRATIONS } from '../placement/service.ts';
import { createTelemetryService } from '../telemetry/service.ts';
import { createVolumeService } from '../volume/service.ts';

/** Placeholders have no tables yet; each service's issue adds its migrations here. */
export function serviceDefinitions(
  config: TstackConfig,
): Readonly<Record<ServiceName, ServiceDefinition>> {
  return {
    identity: {
      migrations: IDENTITY_MIGRATIONS,
      create: (ctx) => createIdentityService(ctx, config.identity),
    },
    placement: {
      migrations: PLACEMENT_MIGRATIONS,
      create: (ctx) => createPlacementService(ctx, config.placement),
    },
    image: { migrations: IMAGE_MIGRATIONS, create: (ctx) => createImageService(ctx, config.image) },
    network: {
      migrations: NETWORK_MIGRATIONS,
      create: (ctx) => createNetworkService(ctx, config.network),
    },
    volume: { migrations: [], create: createVolumeService },
    compute: {
      migrations: COMPUTE_MIGRATIONS,
      create: async (ctx) => {
        const neighbours = computeNeighboursFor(config, ctx.auth);
        return createComputeService(
          ctx,
          config.compute,
          neighbours,
          await computeHostsFor(config, neighbours.images),
        );
      },
    },
    object: { migrations: [], create: createObjectService },
    orchestration: { migrations: [], create: createOrchestrationService },
    telemetry: { migrations: [], create: createTelemetryService },
    dashboard: { migrations: [], create: createDashboardService },
  };
}

/** The path of each service's endpoint as the catalog will list it (ARCHITECTURE.md §10). */
export const ENDPOINT_PATHS: Readonly<Record<ServiceName, string>> = {
  identity: '/v3',
  placement: '',
  image: '',
  network: '',
  volume: '/v3',
  compute: '/v2.1',
  object: '/v1',
  orchestration: '/v1',
  telemetry: '',
  dashboard: '',
};
