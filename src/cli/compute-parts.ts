/**
 * What the composition root gives compute: clients of the services it calls (URLs from the
 * compute section, else this configuration's own endpoints) and the hypervisors this process
 * runs agents for (the fake driver's, per `compute.fake_hosts`).
 */
import type { ServiceAuth } from '../common/service.ts';
import type { ComputeHost, ComputeNeighbours } from '../compute/service.ts';
import { FakeDriver } from '../compute/virt/fake/fake-driver.ts';
import { HttpImageClient } from '../image/client.ts';
import { HttpNetworkClient } from '../network/client.ts';
import { HttpPlacementClient } from '../placement/client.ts';
import { urlHost } from './clouds.ts';
import type { TstackConfig } from './config.ts';

export function computeNeighboursFor(config: TstackConfig, auth: ServiceAuth): ComputeNeighbours {
  const own = (service: 'placement' | 'network' | 'image'): string =>
    `http://${urlHost(config.public_host)}:${config.services[service].port}`;
  const token = () => auth.serviceToken();
  return {
    placement: new HttpPlacementClient({
      baseUrl: (config.compute.placement_url ?? own('placement')).replace(/\/$/, ''),
      token,
    }),
    network: new HttpNetworkClient({
      baseUrl: (config.compute.network_url ?? own('network')).replace(/\/$/, ''),
      token,
    }),
    images: new HttpImageClient({
      baseUrl: (config.compute.image_url ?? own('image')).replace(/\/$/, ''),
      token,
    }),
  };
}

export function computeHostsFor(config: TstackConfig): ComputeHost[] {
  const { fake_hosts: count, fake_host_prefix: prefix, fake_host_resources: r } = config.compute;
  return Array.from({ length: count }, (_, i) => {
    const host = `${prefix}${i + 1}`;
    return {
      host,
      driver: new FakeDriver({
        hostname: host,
        vcpus: r.vcpus,
        memoryMb: r.memory_mb,
        localGb: r.local_gb,
      }),
    };
  });
}
