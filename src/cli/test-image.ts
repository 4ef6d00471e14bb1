/**
 * The image `tstack up` registers so `openstack server create --image tstack-test` has something
 * to boot: a public qcow2 owned by the admin project, uploaded through the image API like any
 * client would. It is the bootable test guest (`tstack image build-test`), built into the guest
 * image cache on the first start. Where it cannot be built (no Debian package source), an empty
 * qcow2 disk stands in, so the cloud still comes up, and the log says why.
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from '../common/logging.ts';
import { buildTestImage, defaultTestImageCache } from '../compute/service.ts';
import { adminToken, call } from './admin-calls.ts';
import { urlHost } from './clouds.ts';
import type { TstackConfig } from './config.ts';

export const TEST_IMAGE_NAME = 'tstack-test';
const VIRTUAL_SIZE = 512 * 1024 * 1024;

/**
 * An empty qcow2 (version 2) image of `virtualSize` bytes: a header cluster, one refcount table
 * cluster, one refcount block and the L1 table, as the qcow2 specification lays them out.
 */
export function emptyQcow2(virtualSize: number, clusterBits = 16): Buffer {
  const cluster = 2 ** clusterBits;
  // Each L1 entry points to one L2 table, which maps cluster/8 data clusters.
  const l1Size = Math.ceil(virtualSize / (cluster * (cluster / 8)));
  const l1Clusters = Math.max(1, Math.ceil((l1Size * 8) / cluster));
  const clusters = 3 + l1Clusters;
  const out = Buffer.alloc(clusters * cluster);
  out.write('QFI\xfb', 0, 'latin1');
  out.writeUInt32BE(2, 4); // version
  out.writeUInt32BE(clusterBits, 20);
  out.writeBigUInt64BE(BigInt(virtualSize), 24);
  out.writeUInt32BE(0, 32); // no encryption
  out.writeUInt32BE(l1Size, 36);
  out.writeBigUInt64BE(BigInt(3 * cluster), 40); // L1 table offset
  out.writeBigUInt64BE(BigInt(cluster), 48); // refcount table offset
  out.writeUInt32BE(1, 56); // refcount table clusters
  // Refcount table entry 0 points to the refcount block in cluster 2.
  out.writeBigUInt64BE(BigInt(2 * cluster), cluster);
  // Every cluster of the file is in use once (16-bit refcounts).
  for (let i = 0; i < clusters; i++) out.writeUInt16BE(1, 2 * cluster + 2 * i);
  return out;
}

type Json = Record<string, unknown>;

export function testImageCache(config: TstackConfig): string {
  return config.image.test_image_cache ?? defaultTestImageCache();
}

/** The bootable test image's bytes, or an empty disk and why there is no bootable one. */
async function testImageData(
  config: TstackConfig,
): Promise<{ data: Uint8Array; note: string | undefined }> {
  try {
    const built = await buildTestImage({ cacheDir: testImageCache(config) });
    return { data: new Uint8Array(await readFile(built.path)), note: undefined };
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return { data: new Uint8Array(emptyQcow2(VIRTUAL_SIZE)), note: why };
  }
}

/**
 * Makes sure the test image exists and is active; an earlier attempt cut off half-way is
 * replaced. Returns what it did, for the log.
 */
export async function ensureTestImage(config: TstackConfig, logger: Logger): Promise<string> {
  const token = await adminToken(config);
  const base = `http://${urlHost(config.public_host)}:${config.services.image.port}/v2/images`;
  const headers = { 'x-auth-token': token, accept: 'application/json' };
  const listed = (await (
    await call(`${base}?name=${TEST_IMAGE_NAME}`, { headers }, [200])
  ).json()) as { images: Json[] };
  let replaced = false;
  for (const image of listed.images) {
    if (image['status'] === 'active') return `image ${TEST_IMAGE_NAME} present`;
    await call(`${base}/${String(image['id'])}`, { method: 'DELETE', headers }, [204, 404]);
    replaced = true;
  }
  const created = (await (
    await call(
      base,
      {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({
          name: TEST_IMAGE_NAME,
          disk_format: 'qcow2',
          container_format: 'bare',
          visibility: 'public',
          tags: ['tstack'],
          // What Nova's libvirt driver and cloud-init read: a virtio disk and NIC.
          hw_disk_bus: 'virtio',
          hw_vif_model: 'virtio',
        }),
      },
      [201],
    )
  ).json()) as Json;
  const { data, note } = await testImageData(config);
  await call(
    `${base}/${String(created['id'])}/file`,
    {
      method: 'PUT',
      headers: { ...headers, 'content-type': 'application/octet-stream' },
      body: data,
    },
    [204],
  );
  logger.info(
    { image_id: created['id'], bootable: note === undefined },
    'registered the test image',
  );
  if (note !== undefined) logger.warn({ reason: note }, 'the test image is an empty disk');
  const done = `image ${TEST_IMAGE_NAME} ${replaced ? 're-registered' : 'registered'}`;
  return note === undefined
    ? done
    : `${done} as an empty disk (the bootable one could not be built: ${note})`;
}
