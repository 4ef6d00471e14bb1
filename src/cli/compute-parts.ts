/**
 * What the composition root gives compute: clients of the services it calls (URLs from the
 * compute section, else this configuration's own endpoints) and the hypervisors this process
 * runs agents for: QEMU's (`compute.qemu_hosts`, real VMs) and the fake driver's
 * (`compute.fake_hosts`).
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import type { ServiceAuth } from '../common/service.ts';
import {
  BaseImageCache,
  chooseAccel,
  QemuDriver,
  testImageName,
  type ComputeHost,
  type ComputeNeighbours,
} from '../compute/service.ts';
import { FakeDriver } from '../compute/virt/fake/fake-driver.ts';
import { HttpImageClient, type ImageClient } from '../image/client.ts';
import { HttpNetworkClient } from '../network/client.ts';
import { HttpPlacementClient } from '../placement/client.ts';
import { urlHost } from './clouds.ts';
import type { TstackConfig } from './config.ts';
import { testImageCache } from './test-image.ts';

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

/** The built test image's path in the guest image cache, when it has been built. */
export function builtTestImage(config: TstackConfig): string | undefined {
  const path = join(testImageCache(config), testImageName());
  return existsSync(path) ? path : undefined;
}

/** The QEMU hosts: one folder, one image cache, one accelerator choice for all of them. */
async function qemuHosts(config: TstackConfig, images: ImageClient): Promise<ComputeHost[]> {
  const { qemu_hosts: count, qemu_host_name: name, qemu_accel: want } = config.compute;
  if (count === 0) return [];
  const root = config.compute.qemu_path ?? join(config.data_dir, 'qemu');
  await mkdir(root, { recursive: true });
  const accel = await chooseAccel(want, {
    image: builtTestImage(config),
    workDir: root,
    cacheFile: join(testImageCache(config), 'kvm-probe.json'),
  });
  const cache = new BaseImageCache({
    root,
    fetch: async (id, file) => (await images.downloadImage(id, file)).disk_format ?? 'raw',
  });
  const first = name ?? os.hostname().split('.')[0] ?? 'localhost';
  return Array.from({ length: count }, (_, i) => {
    const host = i === 0 ? first : `${first}-${i + 1}`;
    return { host, driver: new QemuDriver({ hostname: host, root, images: cache, accel }) };
  });
}

export async function computeHostsFor(
  config: TstackConfig,
  images: ImageClient,
): Promise<ComputeHost[]> {
  const { fake_hosts: count, fake_host_prefix: prefix, fake_host_resources: r } = config.compute;
  const fakes = Array.from({ length: count }, (_, i) => {
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
  return [...(await qemuHosts(config, images)), ...fakes];
}
