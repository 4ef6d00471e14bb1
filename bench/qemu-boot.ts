/**
 * Benchmark: real VMs from `POST /servers` to the guest's marker line on its serial console.
 * Starts `tstack up` in a temporary data directory on free loopback ports with one QEMU
 * hypervisor (the accelerator it probes: KVM where guests run on it, else TCG), then boots the
 * test image with a config drive on m1.tiny, talking to the compute API as a client would and
 * reading the console through `os-getConsoleOutput` every 50 ms.
 *
 *   node bench/qemu-boot.ts [--sequential 10] [--concurrent 5]
 *
 * Prints: the accelerator and why; p50/p99 of POST → marker over `--sequential` boots one at a
 * time (each server deleted before the next); the total for `--concurrent` boots at once; the
 * resident memory of the `tstack up` process (every service and the agent) before and after,
 * and of each guest's QEMU process. Every process and file it made goes at the end.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SERVICE_NAMES } from '../src/common/config/schema.ts';
import { READY_MARKER } from '../src/compute/virt/qemu/guest-init.ts';
import { HttpIdentityClient } from '../src/identity/client.ts';
import { freePort } from '../test/helpers/ports.ts';
import { qemuPidsOf } from '../test/helpers/process.ts';

const { values: args } = parseArgs({
  options: {
    sequential: { type: 'string', default: '10' },
    concurrent: { type: 'string', default: '5' },
  },
});
const bounded = (v: string | undefined, max: number) => Math.min(Math.max(Number(v) || 1, 1), max);
const SEQUENTIAL = bounded(args.sequential, 50);
const CONCURRENT = bounded(args.concurrent, 10);
const BOOT_TIMEOUT_MS = 120_000;

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Math.round(Number(/(\d+)/.exec(line ?? '')?.[1] ?? 0) / 1024);
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;

const dataDir = mkdtempSync(join(tmpdir(), 'ts-bench-qemu-'));
const ports = Object.fromEntries(
  await Promise.all(SERVICE_NAMES.map(async (n) => [n, await freePort()] as const)),
);
const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'], HOME: process.env['HOME'] };
for (const n of SERVICE_NAMES) env[`TSTACK_SERVICES__${n.toUpperCase()}__PORT`] = String(ports[n]);
const bin = fileURLToPath(new URL('../bin/tstack', import.meta.url));
const up = spawn(bin, ['up', '--data-dir', dataDir], { env, stdio: ['ignore', 'pipe', 'inherit'] });
let upOut = '';
up.stdout.on('data', (d: Buffer) => (upOut += d.toString()));

async function cleanup(): Promise<void> {
  if (up.exitCode === null) {
    up.kill('SIGTERM');
    await new Promise((resolve) => up.once('exit', resolve));
  }
  for (const pid of qemuPidsOf(dataDir)) process.kill(pid, 'SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
}

try {
  const readyBy = Date.now() + 120_000;
  while (!upOut.includes('ready.')) {
    if (up.exitCode !== null || Date.now() > readyBy) throw new Error(`tstack up: ${upOut}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const identity = `http://127.0.0.1:${ports['identity']}/v3`;
  const compute = `http://127.0.0.1:${ports['compute']}/v2.1`;
  const token = await new HttpIdentityClient({
    url: identity,
    username: 'admin',
    password: 'admin',
    projectName: 'admin',
  }).serviceToken();
  const headers = {
    'x-auth-token': token,
    'content-type': 'application/json',
    'openstack-api-version': 'compute 2.93',
  };
  const call = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const { 'content-type': _, ...bare } = headers;
    const res = await fetch(`${compute}${path}`, {
      method,
      ...(body === undefined ? { headers: bare } : { headers, body: JSON.stringify(body) }),
    });
    if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    const text = await res.text();
    return text === '' ? undefined : (JSON.parse(text) as unknown);
  };
  const image = (await (
    await fetch(`http://127.0.0.1:${ports['image']}/v2/images?name=tstack-test`, { headers })
  ).json()) as { images: { id: string }[] };
  const flavors = (await call('GET', '/flavors')) as { flavors: { id: string; name: string }[] };
  const tiny = flavors.flavors.find((f) => f.name === 'm1.tiny')?.id;
  // cpu_info left the hypervisor view at 2.88.
  const details = await fetch(`${compute}/os-hypervisors/detail`, {
    headers: { 'x-auth-token': token, 'openstack-api-version': 'compute 2.87' },
  });
  const hypervisor = (await details.json()) as {
    hypervisors: { cpu_info: { accel?: string; accel_reason?: string } }[];
  };
  const cpu = hypervisor.hypervisors[0]?.cpu_info;
  console.log(`accelerator: ${cpu?.accel ?? '?'} (${cpu?.accel_reason ?? '?'})`);

  /** POST → marker in ms; the server's id. */
  const boot = async (name: string): Promise<{ ms: number; id: string }> => {
    const start = performance.now();
    const created = (await call('POST', '/servers', {
      server: {
        name,
        imageRef: image.images[0]?.id,
        flavorRef: tiny,
        networks: 'auto',
        config_drive: true,
      },
    })) as { server: { id: string } };
    const id = created.server.id;
    for (;;) {
      const out = (await call('POST', `/servers/${id}/action`, {
        'os-getConsoleOutput': { length: 5 },
      }).catch(() => ({ output: '' }))) as { output?: string };
      if ((out.output ?? '').includes(READY_MARKER)) return { ms: performance.now() - start, id };
      if (performance.now() - start > BOOT_TIMEOUT_MS) throw new Error(`${name} did not boot`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const remove = async (id: string): Promise<void> => {
    await call('DELETE', `/servers/${id}`);
    for (;;) {
      const res = await fetch(`${compute}/servers/${id}`, { headers });
      await res.text();
      if (res.status === 404) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  const rssBefore = rssMb(up.pid ?? 0);
  const times: number[] = [];
  const guestRss: number[] = [];
  for (let i = 0; i < SEQUENTIAL; i++) {
    const { ms, id } = await boot(`seq-${i}`);
    times.push(ms);
    for (const pid of qemuPidsOf(dataDir)) guestRss.push(rssMb(pid));
    await remove(id);
  }
  times.sort((a, b) => a - b);
  console.log(
    `sequential: ${SEQUENTIAL} boots, POST → marker p50 ${(percentile(times, 50) / 1000).toFixed(2)} s, p99 ${(percentile(times, 99) / 1000).toFixed(2)} s`,
  );

  const start = performance.now();
  const together = await Promise.all(
    Array.from({ length: CONCURRENT }, (_, i) => boot(`con-${i}`)),
  );
  const total = performance.now() - start;
  const each = together.map((t) => t.ms).sort((a, b) => a - b);
  console.log(
    `concurrent: ${CONCURRENT} boots at once, all at the marker after ${(total / 1000).toFixed(2)} s (fastest ${(each[0]! / 1000).toFixed(2)} s)`,
  );
  const concurrentRss = qemuPidsOf(dataDir).map(rssMb);
  for (const { id } of together) await remove(id);
  const rssAfter = rssMb(up.pid ?? 0);
  guestRss.sort((a, b) => a - b);
  console.log(
    `memory: tstack up (every service and the agent) ${rssBefore} MB before, ${rssAfter} MB after; ` +
      `one guest's QEMU (m1.tiny, 512 MB guest RAM) p50 ${percentile(guestRss, 50)} MB; ` +
      `${CONCURRENT} guests at once ${concurrentRss.reduce((a, b) => a + b, 0)} MB`,
  );
} finally {
  await cleanup();
}
