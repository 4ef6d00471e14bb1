/**
 * Benchmark runner: `node bench/run.ts <name> [--duration s] [--connections n]` starts the named
 * target in its own process, loads it with autocannon for a bounded time (at each of the
 * scenario's connection counts, unless --connections names one) and prints requests/s,
 * p50/p99 latency and the target's resident memory; `--url URL [--pid PID]` loads a server that is
 * already running instead. Figures go to stdout as text and, with --json, as one JSON line that a
 * later run can be compared with.
 */
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { bcryptCeiling, IDENTITY_SCENARIOS, type Prepared } from './identity-scenarios.ts';
import { IMAGE_SCENARIOS } from './image-scenarios.ts';
import { NETWORK_SCENARIOS } from './network-scenarios.ts';
import { PLACEMENT_SCENARIOS } from './placement-scenarios.ts';

type Target = {
  script: string;
  /** `token` is what the target printed as `token <t>`, if anything. */
  prepare: (base: string, token?: string) => Promise<Prepared>;
  /** Figures measured besides the load, e.g. the bcrypt ceiling. */
  extra?: () => Promise<Record<string, number>>;
  /** Connection counts to load it at, one after the other (default 32). */
  connections?: readonly number[];
  /** Environment of the target's process, beside this one's. */
  env?: Record<string, string>;
};

const TARGETS: Readonly<Record<string, Target>> = {
  'http-empty': {
    script: 'targets/http-empty.ts',
    prepare: async () => ({
      method: 'GET',
      path: '/',
      headers: {},
      about: 'http kit, one empty JSON route',
    }),
  },
  ...Object.fromEntries(
    Object.entries(IDENTITY_SCENARIOS).map(([name, prepare]) => [
      name,
      {
        script: 'targets/identity.ts',
        prepare,
        ...(name === 'identity-token-issue'
          ? {
              extra: async () => ({
                bcrypt_ceiling_per_s: +(await bcryptCeiling(12, 5)).toFixed(1),
              }),
            }
          : {}),
      },
    ]),
  ),
  ...Object.fromEntries(
    Object.entries(IMAGE_SCENARIOS).map(([name, prepare]) => [
      name,
      { script: 'targets/image.ts', prepare },
    ]),
  ),
  ...Object.fromEntries(
    Object.entries(PLACEMENT_SCENARIOS).map(([name, scenario]) => [
      name,
      { script: 'targets/placement.ts', ...scenario },
    ]),
  ),
  ...Object.fromEntries(
    Object.entries(NETWORK_SCENARIOS).map(([name, scenario]) => [
      name,
      { script: 'targets/network.ts', ...scenario },
    ]),
  ),
};

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string' },
    url: { type: 'string' },
    pid: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});

const duration = Math.min(Math.max(Number(values.duration), 1), 120);
const connectionsOption =
  values.connections === undefined
    ? undefined
    : [Math.min(Math.max(Number(values.connections), 1), 1024)];
const name = positionals[0];

function memoryKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

async function startTarget(
  script: string,
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; url: string; token?: string }> {
  const path = fileURLToPath(new URL(script, import.meta.url));
  const child = spawn(process.execPath, [path], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  let out = '';
  // Targets seed their data before listening: 10,000 placement providers take a few seconds.
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`${script} did not start in 120 s`));
    }, 120_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening (\S+)/.exec(out);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  const token = /^token (\S+)$/m.exec(out)?.[1];
  return { child, url, ...(token !== undefined ? { token } : {}) };
}

/** One bounded load at `connections`, then its figures, printed. */
async function load(
  url: string,
  request: Omit<Prepared, 'about' | 'path'>,
  connections: number,
  pid: number | undefined,
  about: string,
  extra: Record<string, number>,
): Promise<void> {
  const { after, maxRequests, ...options } = request;
  const rssBefore = pid === undefined ? undefined : memoryKiB(pid, 'VmRSS');
  // A short warm-up so the JIT does not count against the figures: a bounded number of
  // requests on one connection, so a slow endpoint (bcrypt) has no queue left over from it.
  await autocannon({ url, connections: 1, amount: 20, timeout: 60, ...options });
  const result = await autocannon({
    url,
    connections,
    duration,
    timeout: 60,
    ...(maxRequests !== undefined
      ? { maxOverallRequests: Math.max(maxRequests, connections) }
      : {}),
    ...options,
  });
  const rssAfter = pid === undefined ? undefined : memoryKiB(pid, 'VmRSS');
  const peak = pid === undefined ? undefined : memoryKiB(pid, 'VmHWM');
  const checked = after ? await after() : {};
  const figures = {
    benchmark: name ?? url,
    about,
    connections,
    duration_s: result.duration,
    requests: result.requests.total,
    errors: result.errors + result.non2xx + result.timeouts,
    rps: +(result.requests.total / result.duration).toFixed(1),
    latency_ms: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
    },
    rss_mib: {
      before: rssBefore === undefined ? null : +(rssBefore / 1024).toFixed(1),
      after: rssAfter === undefined ? null : +(rssAfter / 1024).toFixed(1),
      peak: peak === undefined ? null : +(peak / 1024).toFixed(1),
    },
    node: process.version,
    ...extra,
    ...checked,
  };
  console.log(`${figures.benchmark}: ${about}`);
  console.log(
    `  ${connections} connections, ${figures.duration_s} s, ${figures.requests} requests, ${figures.errors} errors`,
  );
  console.log(`  throughput  ${figures.rps} req/s`);
  console.log(
    `  latency     p50 ${figures.latency_ms.p50} ms  p90 ${figures.latency_ms.p90} ms  p99 ${figures.latency_ms.p99} ms  max ${figures.latency_ms.max} ms`,
  );
  for (const [key, value] of Object.entries({ ...extra, ...checked }))
    console.log(`  ${key}  ${value}`);
  console.log(
    `  memory      RSS ${figures.rss_mib.before ?? '?'} → ${figures.rss_mib.after ?? '?'} MiB, peak ${figures.rss_mib.peak ?? '?'} MiB`,
  );
  if (values.json) console.log(JSON.stringify(figures));
}

async function main(): Promise<void> {
  let url = values.url;
  let pid = values.pid === undefined ? undefined : Number(values.pid);
  let child: ChildProcess | undefined;
  let about = 'external server';
  let request: Omit<Prepared, 'about' | 'path'> = { method: 'GET', headers: {} };
  let extra: Record<string, number> = {};
  let connections: readonly number[] = connectionsOption ?? [32];
  if (url === undefined) {
    const target = name === undefined ? undefined : TARGETS[name];
    if (target === undefined) {
      console.error(
        `usage: node bench/run.ts <${Object.keys(TARGETS).join('|')}> [--duration s] [--connections n] [--json]`,
      );
      console.error(
        '       node bench/run.ts --url URL [--pid PID] [--duration s] [--connections n]',
      );
      process.exitCode = 2;
      return;
    }
    const started = await startTarget(target.script, target.env);
    child = started.child;
    pid = child.pid;
    connections = connectionsOption ?? target.connections ?? [32];
    try {
      const {
        path,
        about: described,
        ...prepared
      } = await target.prepare(started.url, started.token);
      url = new URL(path, started.url).toString();
      about = described;
      request = prepared;
      if (target.extra) extra = await target.extra();
    } catch (err) {
      if (child.exitCode === null) child.kill('SIGTERM');
      throw err;
    }
  }
  try {
    for (const n of connections) await load(url, request, n, pid, about, extra);
  } finally {
    if (child?.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGTERM');
  }
}

await main();
