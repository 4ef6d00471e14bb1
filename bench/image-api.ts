/**
 * Image data through the API: `node bench/image-api.ts [--size-mib N] [--json]` (default 1024)
 * starts the image target in its own process, writes an N MiB file, and times
 *   - `cp` of that file on the same disk (and the same copy plus an fsync, as the store does),
 *   - `PUT /v2/images/{id}/file` streaming the file (MD5, SHA-512, fsync in the server),
 *   - `GET /v2/images/{id}/file` streaming into a file on the same disk,
 * (with curl as the client) printing MB/s, the ratio to `cp`, and the server's RSS growth (sampled every 20 ms) during
 * each transfer. Targets: ≥ 80 % of `cp`, RSS growth < 64 MiB. Checks the checksum the server
 * recorded and the bytes downloaded. Removes its files and stops the target.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createWriteStream,
  mkdtempSync,
  openSync,
  closeSync,
  fsyncSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '1024' },
    json: { type: 'boolean', default: false },
  },
});
const sizeMib = Math.min(Math.max(1, Math.floor(Number(values['size-mib']) || 1024)), 16384);
const bytes = sizeMib * 1024 * 1024;
const dir = mkdtempSync(join(process.env['TSTACK_BENCH_DIR'] ?? tmpdir(), 'ts-bench-image-api-'));

function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** Runs `work`, sampling `pid`'s RSS; returns seconds and the peak growth in MiB. */
async function measured(
  pid: number,
  work: () => Promise<void>,
): Promise<{ s: number; rssGrowthMib: number }> {
  const base = rssKiB(pid);
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, rssKiB(pid))), 20);
  const started = process.hrtime.bigint();
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  const s = Number(process.hrtime.bigint() - started) / 1e9;
  peak = Math.max(peak, rssKiB(pid));
  return { s, rssGrowthMib: +((peak - base) / 1024).toFixed(1) };
}

/** Writes the source file (varied, non-zero bytes) and returns its MD5. */
async function writeSource(path: string): Promise<string> {
  const md5 = createHash('md5');
  const block = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < block.length; i++) block[i] = (i * 31 + 7) & 0xff;
  const out = createWriteStream(path);
  for (let i = 0; i < sizeMib; i++) {
    const chunk = Buffer.from(block);
    chunk.writeUInt32BE(i, 0);
    md5.update(chunk);
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) =>
    out.end((err?: Error | null) => (err ? reject(err) : resolve())),
  );
  return md5.digest('hex');
}

function timeCp(from: string, to: string, fsync: boolean): number {
  // Start cold-ish each time: write back what earlier steps left dirty.
  spawnSync('sync');
  const started = process.hrtime.bigint();
  const cp = spawnSync('cp', [from, to]);
  if (cp.status !== 0) throw new Error(`cp failed: ${cp.stderr.toString()}`);
  if (fsync) {
    const fd = openSync(to, 'r');
    fsyncSync(fd);
    closeSync(fd);
  }
  const s = Number(process.hrtime.bigint() - started) / 1e9;
  rmSync(to);
  return s;
}

async function startTarget(): Promise<{
  pid: number;
  url: string;
  token: string;
  /** SIGTERM, resolved once the target has exited (and removed its own data). */
  stop: () => Promise<void>;
}> {
  const script = fileURLToPath(new URL('targets/image.ts', import.meta.url));
  const child = spawn(process.execPath, [script], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, TSTACK_BENCH_DIR: dir },
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('image target did not start in 20 s')), 20_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (/listening \S+/.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`image target exited with ${code}`)));
  });
  const url = /listening (\S+)/.exec(out)?.[1] ?? '';
  const token = /^token (\S+)$/m.exec(out)?.[1] ?? '';
  return {
    pid: child.pid ?? 0,
    url,
    token,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * One transfer with curl, a client that costs the machine little, so the figures are the
 * server's. Returns the HTTP status.
 */
function curl(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('curl', ['-sS', '-w', '%{http_code}', ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('exit', () => resolve(Number(out)));
  });
}

async function main(): Promise<void> {
  const target = await startTarget();
  try {
    const source = join(dir, 'source.raw');
    console.log(`writing a ${sizeMib} MiB source file…`);
    const md5 = await writeSource(source);
    // The median of three: the page cache and the disk make single runs vary.
    const median = (runs: number[]) => runs.sort((a, b) => a - b)[1] ?? 0;
    const cp = median([0, 1, 2].map(() => timeCp(source, join(dir, 'copy.raw'), false)));
    const cpSync = median([0, 1, 2].map(() => timeCp(source, join(dir, 'copy.raw'), true)));
    const auth = { 'x-auth-token': target.token };
    const create = async (name: string): Promise<string> => {
      const res = await fetch(new URL('/v2/images', target.url), {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ name, disk_format: 'raw', container_format: 'bare' }),
      });
      return ((await res.json()) as { id: string }).id;
    };
    const id = await create('bench');
    // A small upload first starts the hash threads: their one-time cost is reported apart
    // from what an upload itself needs.
    const rssCold = rssKiB(target.pid);
    await fetch(new URL(`/v2/images/${await create('warm-up')}/file`, target.url), {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/octet-stream' },
      body: new Uint8Array(4 * 1024 * 1024),
    });
    const threadsMib = +((rssKiB(target.pid) - rssCold) / 1024).toFixed(1);
    spawnSync('sync');
    const put = await measured(target.pid, async () => {
      const status = await curl([
        '-o',
        '/dev/null',
        '-T',
        source,
        '-H',
        `x-auth-token: ${target.token}`,
        '-H',
        'content-type: application/octet-stream',
        new URL(`/v2/images/${id}/file`, target.url).href,
      ]);
      if (status !== 204) throw new Error(`upload answered ${status}`);
    });
    const shown = (await (
      await fetch(new URL(`/v2/images/${id}`, target.url), { headers: auth })
    ).json()) as {
      checksum: string;
      size: number;
    };
    if (shown.checksum !== md5 || shown.size !== bytes)
      throw new Error('the server recorded other data');
    spawnSync('sync');
    const saved = join(dir, 'saved.raw');
    const get = await measured(target.pid, async () => {
      const status = await curl([
        '-o',
        saved,
        '-H',
        `x-auth-token: ${target.token}`,
        new URL(`/v2/images/${id}/file`, target.url).href,
      ]);
      if (status !== 200) throw new Error(`download answered ${status}`);
    });
    if (statSync(saved).size !== bytes) throw new Error('the download is short');
    const mbps = (s: number) => +(bytes / 1e6 / s).toFixed(0);
    const figures = {
      benchmark: 'image-api',
      size_mib: sizeMib,
      cp_mb_s: mbps(cp),
      cp_fsync_mb_s: mbps(cpSync),
      upload_mb_s: mbps(put.s),
      upload_vs_cp: +(cp / put.s).toFixed(2),
      upload_vs_cp_fsync: +(cpSync / put.s).toFixed(2),
      upload_rss_growth_mib: put.rssGrowthMib,
      hash_threads_rss_mib: threadsMib,
      download_mb_s: mbps(get.s),
      download_vs_cp: +(cp / get.s).toFixed(2),
      download_rss_growth_mib: get.rssGrowthMib,
      node: process.version,
    };
    console.log(
      `image data through the API, ${sizeMib} MiB, one disk (${dir.split('/').slice(0, -1).join('/') || '/'}):`,
    );
    console.log(`  cp          ${figures.cp_mb_s} MB/s (cp + fsync ${figures.cp_fsync_mb_s} MB/s)`);
    console.log(
      `  upload      ${figures.upload_mb_s} MB/s  = ${Math.round(figures.upload_vs_cp * 100)} % of cp, ${Math.round(figures.upload_vs_cp_fsync * 100)} % of cp + fsync; RSS +${put.rssGrowthMib} MiB (+${threadsMib} MiB once for the hash threads)`,
    );
    console.log(
      `  download    ${figures.download_mb_s} MB/s  = ${Math.round(figures.download_vs_cp * 100)} % of cp; RSS +${get.rssGrowthMib} MiB`,
    );
    if (values.json) console.log(JSON.stringify(figures));
  } finally {
    await target.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
