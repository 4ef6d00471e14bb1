/** The composition root's list of services: name → factory. */
import type { ServiceName } from '../common/config/schema.ts';
import type { ServiceFactory } from '../common/service.ts';
import { createComputeService } from '../compute/service.ts';
import { createDashboardService } from '../dashboard/service.ts';
import { createIdentityService } from '../identity/service.ts';
import { createImageService } from '../image/service.ts';
import { createNetworkService } from '../network/service.ts';
import { createObjectService } from '../object/service.ts';
import { createOrchestrationService } from '../orchestration/service.ts';
import { createPlacementService } from '../placement/service.ts';
import { createTelemetryService } from '../telemetry/service.ts';
import { createVolumeService } from '../volume/service.ts';

export const SERVICE_FACTORIES: Readonly<Record<ServiceName, ServiceFactory>> = {
  identity: createIdentityService,
  placement: createPlacementService,
  image: createImageService,
  network: createNetworkService,
  volume: createVolumeService,
  compute: createComputeService,
  object: createObjectService,
  orchestration: createOrchestrationService,
  telemetry: createTelemetryService,
  dashboard: createDashboardService,
};

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
