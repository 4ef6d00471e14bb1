/**
 * Image benchmarks over HTTP against a running image target: each scenario seeds the images it
 * needs (10,000 by default, TSTACK_BENCH_IMAGES to change) and returns what autocannon loads.
 */
import type { Prepared } from './identity-scenarios.ts';

const IMAGES = Math.min(Math.max(Number(process.env['TSTACK_BENCH_IMAGES'] ?? 10_000), 1), 100_000);

/** Creates `count` images (every 10th tagged `t<n%7>`, a third public), 16 requests at a time. */
async function seed(base: string, token: string, count: number): Promise<void> {
  const started = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const res = await fetch(new URL('/v2/images', base), {
        method: 'POST',
        headers: { 'x-auth-token': token, 'content-type': 'application/json' },
        body: JSON.stringify({
          name: `bench-${String(i).padStart(6, '0')}`,
          disk_format: 'qcow2',
          container_format: 'bare',
          visibility: i % 3 === 0 ? 'public' : 'private',
          ...(i % 10 === 0 ? { tags: [`t${i % 7}`] } : {}),
          os_distro: i % 2 === 0 ? 'debian' : 'alpine',
        }),
      });
      if (res.status !== 201)
        throw new Error(`seeding image ${i}: ${res.status} ${await res.text()}`);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  const seconds = (Date.now() - started) / 1000;
  console.log(
    `seeded ${count} images in ${seconds.toFixed(1)} s (${(count / seconds).toFixed(0)} creates/s)`,
  );
}

function list(path: string, about: string) {
  return async (base: string, token?: string): Promise<Prepared> => {
    if (token === undefined) throw new Error('the image target prints a token');
    await seed(base, token, IMAGES);
    return {
      method: 'GET',
      path,
      headers: { 'x-auth-token': token },
      about: `${about}, ${IMAGES} images`,
    };
  };
}

export const IMAGE_SCENARIOS = {
  'image-list': list('/v2/images', 'GET /v2/images (first page of 25)'),
  'image-list-1000': list('/v2/images?limit=1000', 'GET /v2/images?limit=1000'),
  'image-list-filtered': list(
    '/v2/images?tag=t3&os_distro=debian&sort_key=name&sort_dir=desc',
    'GET /v2/images filtered by tag and property, sorted by name',
  ),
} as const;
