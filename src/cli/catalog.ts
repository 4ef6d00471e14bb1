/**
 * What bootstrap registers in the catalog for the services this configuration runs: one entry
 * per service (block storage twice, as `block-storage` and `volumev3`, for old and new clients),
 * with the endpoint URL clients need and the service user the service authenticates as.
 */
import type { ServiceName } from '../common/config/schema.ts';
import type { CatalogRegistration } from '../identity/service.ts';
import { urlHost } from './clouds.ts';
import type { TstackConfig } from './config.ts';

type Entry = Omit<CatalogRegistration, 'url'> & { path: string };

const ENTRIES: Readonly<Record<ServiceName, readonly Entry[]>> = {
  identity: [{ type: 'identity', name: 'keystone', description: 'Identity', path: '/v3' }],
  compute: [
    { type: 'compute', name: 'nova', description: 'Compute', path: '/v2.1', serviceUser: 'nova' },
  ],
  placement: [
    {
      type: 'placement',
      name: 'placement',
      description: 'Placement',
      path: '',
      serviceUser: 'placement',
    },
  ],
  image: [{ type: 'image', name: 'glance', description: 'Image', path: '', serviceUser: 'glance' }],
  network: [
    { type: 'network', name: 'neutron', description: 'Network', path: '', serviceUser: 'neutron' },
  ],
  volume: [
    {
      type: 'block-storage',
      name: 'cinder',
      description: 'Block storage',
      path: '/v3',
      serviceUser: 'cinder',
    },
    { type: 'volumev3', name: 'cinderv3', description: 'Block storage (v3)', path: '/v3' },
  ],
  object: [
    {
      type: 'object-store',
      name: 'swift',
      description: 'Object storage',
      path: '/v1/AUTH_$(project_id)s',
      serviceUser: 'swift',
    },
  ],
  orchestration: [
    {
      type: 'orchestration',
      name: 'heat',
      description: 'Orchestration',
      path: '/v1/$(project_id)s',
      serviceUser: 'heat',
    },
  ],
  telemetry: [
    {
      type: 'metric',
      name: 'telemetry',
      description: 'Metrics',
      path: '',
      serviceUser: 'telemetry',
    },
  ],
  dashboard: [],
};

export function catalogRegistrations(
  config: TstackConfig,
  services: readonly ServiceName[],
): CatalogRegistration[] {
  const host = urlHost(config.public_host);
  return services.flatMap((name) =>
    ENTRIES[name].map(({ path, ...entry }) => ({
      ...entry,
      url: `http://${host}:${config.services[name].port}${path}`,
    })),
  );
}

/** The user a service authenticates as (bootstrap creates it), if it has one. */
export function serviceUserOf(service: ServiceName): string | undefined {
  return ENTRIES[service].find((e) => e.serviceUser !== undefined)?.serviceUser;
}
