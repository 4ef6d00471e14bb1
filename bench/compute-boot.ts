/**
 * Benchmark: servers from POST /servers to ACTIVE, the whole path in one process as `tstack up`
 * runs it (SQLite files in a temporary directory, the in-process bus, real placement, network and
 * image services on loopback, a conductor, and agents on fake hypervisors), with a port per
 * server through the network API.
 *
 *   node bench/compute-boot.ts [--hosts 1000] [--boots 1000] [--concurrency 32] [--sequential 50]
 *
 * Prints: the time to start the hosts; p50/p99 per boot for `--sequential` boots one at a time;
 * boots/s, p50/p99 for `--boots` boots at `--concurrency`; p50/p99 of the scheduler's decision
 * (candidates and the claim, one boot at a time and under load); CPU per boot; then deletes every server and prints deletes/s;
 * and the process's resident memory. ACTIVE is seen from the `compute.instance.create.end`
 * notification, so no polling skews the figures.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfigWith } from '../src/common/config/load.ts';
import { withSections } from '../src/common/config/schema.ts';
import { openDatabase } from '../src/common/db/database.ts';
import { migrate, type Migration } from '../src/common/db/migrate.ts';
import { silentLogger } from '../src/common/logging.ts';
import { InMemoryBus } from '../src/common/messaging/in-memory-bus.ts';
import type { Service, ServiceContext } from '../src/common/service.ts';
import {
  COMPUTE_MIGRATIONS,
  ComputeConfigSchema,
  createComputeService,
} from '../src/compute/service.ts';
import { FakeDriver } from '../src/compute/virt/fake/fake-driver.ts';
import { HttpImageClient } from '../src/image/client.ts';
import { createImageService, IMAGE_MIGRATIONS, ImageConfigSchema } from '../src/image/service.ts';
import { HttpNetworkClient } from '../src/network/client.ts';
import {
  createNetworkService,
  NETWORK_MIGRATIONS,
  NetworkConfigSchema,
} from '../src/network/service.ts';
import { HttpPlacementClient, type PlacementClient } from '../src/placement/client.ts';
import {
  createPlacementService,
  PLACEMENT_MIGRATIONS,
  PlacementConfigSchema,
} from '../src/placement/service.ts';
import { FakeIdentityClient } from '../src/identity/fake-identity-client.ts';
import { TokenCache } from '../src/common/auth/token-cache.ts';
import { useTokenAuth } from '../src/common/auth/token-auth.ts';

const { values: args } = parseArgs({
  options: {
    hosts: { type: 'string', default: '1000' },
    boots: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '32' },
    sequential: { type: 'string', default: '50' },
  },
});
const bounded = (v: string | undefined, max: number) => Math.min(Math.max(Number(v) || 1, 1), max);
const HOSTS = bounded(args.hosts, 5000);
const BOOTS = bounded(args.boots, 10_000);
const CONCURRENCY = bounded(args.concurrency, 256);
const SEQUENTIAL = bounded(args.sequential, 1000);

const dir = mkdtempSync(join(process.env['TSTACK_BENCH_DIR'] ?? tmpdir(), 'ts-bench-compute-'));
const config = loadConfigWith(
  withSections({
    compute: ComputeConfigSchema,
    placement: PlacementConfigSchema,
    network: NetworkConfigSchema,
    image: ImageConfigSchema,
  }),
  {
    env: {},
    overrides: {
      data_dir: dir,
      compute: {
        fake_hosts: 0,
        // Heartbeats on, at Nova's default interval, as in a real cloud of this size (about 100
        // service writes a second): without them every host counts as down after a minute.
        sync_power_state_interval: 0,
        quotas: { instances: -1, cores: -1, ram: -1 },
      },
      network: { quotas: { port: -1 } },
    },
  },
);
const identity = new FakeIdentityClient({
  serviceUser: { name: 'bench', roles: ['admin', 'service'] },
});
const cache = new TokenCache({ ttlMs: 60_000, negativeTtlMs: 0 });
const auth = {
  protect: (scope: Parameters<typeof useTokenAuth>[0]) =>
    useTokenAuth(scope, { client: identity, cache, wwwAuthenticateUri: 'http://127.0.0.1/v3' }),
  serviceToken: () => identity.serviceToken(),
};
const bus = new InMemoryBus();
const closers: (() => Promise<void>)[] = [];

async function start(
  name: string,
  migrations: readonly Migration[],
  create: (ctx: ServiceContext) => Promise<Service> | Service,
): Promise<{ service: Service; url: string }> {
  const database = await openDatabase<unknown>(`sqlite:///${join(dir, `${name}.db`)}`);
  await migrate(database, name, migrations);
  const service = await create({ config, logger: silentLogger(), database, bus, auth });
  closers.push(async () => {
    await service.app.close();
    await service.close();
    await database.close();
  });
  await service.app.listen({ host: '127.0.0.1', port: 0 });
  return { service, url: `http://127.0.0.1:${(service.app.server.address() as AddressInfo).port}` };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}
const ms = (n: number) => `${n.toFixed(1)} ms`;
function summary(times: number[]): string {
  const s = [...times].sort((a, b) => a - b);
  return `p50 ${ms(percentile(s, 50))}, p99 ${ms(percentile(s, 99))}`;
}

const admin = identity.issueToken({
  userId: 'bench',
  userName: 'bench',
  project: { id: 'bench', name: 'bench' },
  roles: ['admin', 'member', 'reader'],
});
const headers = {
  'x-auth-token': admin,
  'content-type': 'application/json',
  accept: 'application/json',
};

try {
  const placement = await start('placement', PLACEMENT_MIGRATIONS, (c) =>
    createPlacementService(c, config.placement),
  );
  const network = await start('network', NETWORK_MIGRATIONS, (c) =>
    createNetworkService(c, config.network),
  );
  const image = await start('image', IMAGE_MIGRATIONS, (c) => createImageService(c, config.image));
  const token = () => auth.serviceToken();
  // The scheduler's decision is its one call to candidates plus the claim: timed around them.
  const decisions: number[] = [];
  const candidateTimes: number[] = [];
  const http = new HttpPlacementClient({ baseUrl: placement.url, token });
  const timed: PlacementClient = {
    ensureProvider: (u, n) => http.ensureProvider(u, n),
    setInventory: (u, i) => http.setInventory(u, i),
    allocationsOf: (c) => http.allocationsOf(c),
    deleteAllocations: (c) => http.deleteAllocations(c),
    moveAllocations: (f, t, o) => http.moveAllocations(f, t, o),
    allocationCandidates: async (q) => {
      const t0 = performance.now();
      const found = await http.allocationCandidates(q);
      candidateTimes.push(performance.now() - t0);
      return found;
    },
    claim: async (consumer, claim) => {
      const t0 = performance.now();
      const ok = await http.claim(consumer, claim);
      decisions.push(performance.now() - t0);
      return ok;
    },
  };
  const hostsStarted = performance.now();
  const compute = await start('compute', COMPUTE_MIGRATIONS, (c) =>
    createComputeService(
      c,
      config.compute,
      {
        placement: timed,
        network: new HttpNetworkClient({ baseUrl: network.url, token }),
        images: new HttpImageClient({ baseUrl: image.url, token }),
      },
      Array.from({ length: HOSTS }, (_, i) => {
        const host = `bench-host-${i + 1}`;
        return { host, driver: new FakeDriver({ hostname: host }) };
      }),
    ),
  );
  await (compute.service as unknown as { agentsReady: Promise<void> }).agentsReady;
  console.log(
    `hosts: ${HOSTS} registered with placement in ${ms(performance.now() - hostsStarted)}`,
  );

  const imageId = (
    (await (
      await fetch(`${image.url}/v2/images`, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          name: 'bench',
          disk_format: 'raw',
          container_format: 'bare',
          visibility: 'public',
        }),
      })
    ).json()) as { id: string }
  ).id;
  await fetch(`${image.url}/v2/images/${imageId}/file`, {
    method: 'PUT',
    headers: { ...headers, 'content-type': 'application/octet-stream' },
    body: new Uint8Array(1024),
  });
  const net = (
    (await (
      await fetch(`${network.url}/v2.0/networks`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ network: { name: 'bench' } }),
      })
    ).json()) as { network: { id: string } }
  ).network.id;
  await fetch(`${network.url}/v2.0/subnets`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ subnet: { network_id: net, cidr: '198.18.0.0/16', ip_version: 4 } }),
  });

  const active = new Map<string, () => void>();
  const early = new Set<string>();
  // Builds that ended in ERROR, by fault message: they are counted apart, not as boots done.
  const failed = new Map<string, number>();
  let failures = 0;
  await bus.onNotification(
    { eventType: /^compute\.instance\.create\.(end|error)$/, pool: 'bench-create' },
    (n) => {
      const id = String(n.payload['instance_id']);
      if (n.event_type.endsWith('.error')) {
        failures++;
        const why = String(n.payload['message'] ?? n.payload['fault'] ?? 'no message');
        failed.set(why, (failed.get(why) ?? 0) + 1);
      }
      const done = active.get(id);
      if (done !== undefined) done();
      else early.add(id);
    },
  );
  const computeUrl = compute.url;
  let counter = 0;
  async function bootOne(): Promise<{ id: string; ms: number }> {
    const t0 = performance.now();
    const res = await fetch(`${computeUrl}/v2.1/servers`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        server: {
          name: `b${counter++}`,
          imageRef: imageId,
          flavorRef: '1',
          networks: [{ uuid: net }],
        },
      }),
    });
    const body = (await res.json()) as { server?: { id: string } };
    if (res.status !== 202 || body.server === undefined)
      throw new Error(`boot: ${res.status} ${JSON.stringify(body)}`);
    const id = body.server.id;
    if (!early.delete(id)) await new Promise<void>((resolve) => active.set(id, resolve));
    active.delete(id);
    return { id, ms: performance.now() - t0 };
  }

  const ids: string[] = [];
  const seq: number[] = [];
  for (let i = 0; i < SEQUENTIAL; i++) {
    const r = await bootOne();
    ids.push(r.id);
    seq.push(r.ms);
  }
  console.log(`sequential: ${SEQUENTIAL} boots to ACTIVE one at a time, ${summary(seq)}`);
  console.log(
    `scheduler, one boot at a time: candidates from placement ${summary(candidateTimes)}; claim ${summary(decisions)}`,
  );
  decisions.length = 0;
  candidateTimes.length = 0;

  const times: number[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < BOOTS) {
        next++;
        const r = await bootOne();
        ids.push(r.id);
        times.push(r.ms);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  console.log(
    `concurrent: ${BOOTS} boots at concurrency ${CONCURRENCY}: ${(BOOTS / seconds).toFixed(1)} boots/s, ${summary(times)}`,
  );
  // Every figure above counts a boot that ended in ERROR as done: say how many did, and why.
  console.log(
    `failed builds: ${failures}${[...failed].map(([why, n]) => `; ${n}× ${why}`).join('')}`,
  );
  // Wall time swings with the machine; CPU per boot (every service and the client are in this
  // one process) is the steadier figure to compare between runs.
  console.log(
    `cpu: ${((cpu.user + cpu.system) / 1000 / BOOTS).toFixed(2)} ms per boot (user+system, whole process)`,
  );
  console.log(
    `scheduler at concurrency ${CONCURRENCY}: candidates from placement ${summary(candidateTimes)}; claim ${summary(decisions)}`,
  );

  const detailed = await fetch(`${computeUrl}/v2.1/servers/detail?limit=1000`, { headers });
  await detailed.text();
  const detailTimes: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    await (await fetch(`${computeUrl}/v2.1/servers/detail?limit=1000`, { headers })).text();
    detailTimes.push(performance.now() - t0);
  }
  console.log(
    `servers/detail?limit=1000 with ${ids.length} servers: ${summary(detailTimes)} over 20 (status ${detailed.status})`,
  );

  const gone = new Map<string, () => void>();
  await bus.onNotification(
    { eventType: 'compute.instance.delete.end', pool: 'bench-delete' },
    (n) => gone.get(String(n.payload['instance_id']))?.(),
  );
  const d0 = performance.now();
  let di = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (di < ids.length) {
        const id = ids[di++] as string;
        const done = new Promise<void>((resolve) => gone.set(id, resolve));
        const res = await fetch(`${computeUrl}/v2.1/servers/${id}`, {
          method: 'DELETE',
          headers: { 'x-auth-token': admin },
        });
        if (res.status !== 204) throw new Error(`delete: ${res.status} ${await res.text()}`);
        await done;
      }
    }),
  );
  console.log(
    `deletes: ${ids.length} at concurrency ${CONCURRENCY}: ${(ids.length / ((performance.now() - d0) / 1000)).toFixed(1)} deletes/s`,
  );
  console.log(`memory: rss ${(process.memoryUsage().rss / 1048576).toFixed(0)} MB`);
} finally {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await bus.close();
  rmSync(dir, { recursive: true, force: true });
}
