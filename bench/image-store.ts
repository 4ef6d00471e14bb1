/**
 * Image store benchmark: `node bench/image-store.ts [--size-mib N] [--json]` (default 1024)
 * streams N MiB of generated data through `FilesystemStore.put` (MD5 + SHA-512 + fsync) and
 * back through `get`, and compares each with a plain streaming copy of the same bytes on the
 * same disk (generated stream → file + fsync, file → discard). Prints MB/s, the ratio to the
 * plain copy and the peak RSS growth over the run. Targets: ≥ 80 % of the plain copy, RSS
 * growth < 64 MiB. Removes its files.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { FilesystemStore } from '../src/image/store/index.ts';

const { values } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '1024' },
    json: { type: 'boolean', default: false },
  },
});
const sizeMib = Math.max(1, Math.floor(Number(values['size-mib']) || 1024));
const CHUNK = 1024 * 1024;

/** N MiB of non-zero data, one pre-filled 1 MiB chunk (varied per chunk) so generation is cheap. */
function generated(mib: number): Readable {
  const block = Buffer.alloc(CHUNK);
  for (let i = 0; i < CHUNK; i++) block[i] = (i * 31 + 7) & 0xff;
  return Readable.from(
    (function* () {
      for (let i = 0; i < mib; i++) {
        const chunk = Buffer.from(block);
        chunk.writeUInt32BE(i, 0);
        yield chunk;
      }
    })(),
  );
}

const discard = () =>
  new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });

let baseline = process.memoryUsage().rss;
let peak = baseline;
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss);
}, 20);

async function timed(run: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await run();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return (sizeMib * CHUNK) / 1e6 / seconds;
}

const dir = mkdtempSync(join(tmpdir(), 'tstack-bench-image-store-'));
try {
  const store = new FilesystemStore(dir);
  const plainPath = join(dir, 'plain-copy');

  // Warm up the code paths (and the disk) on a small image, then measure from a settled RSS.
  const warm = await store.put(randomUUID(), generated(8), { maxBytes: 2 ** 50 });
  await pipeline((await store.get(warm.location)).stream, discard());
  await store.delete(warm.location);
  baseline = process.memoryUsage().rss;
  peak = baseline;

  const plainWrite = await timed(() =>
    pipeline(generated(sizeMib), createWriteStream(plainPath, { flags: 'wx', flush: true })),
  );
  let location = '';
  const storeWrite = await timed(async () => {
    ({ location } = await store.put(randomUUID(), generated(sizeMib), { maxBytes: 2 ** 50 }));
  });
  const plainRead = await timed(() => pipeline(createReadStream(plainPath), discard()));
  const storeRead = await timed(async () =>
    pipeline((await store.get(location)).stream, discard()),
  );
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);

  const figures = {
    sizeMib,
    plainWriteMBps: Math.round(plainWrite),
    storePutMBps: Math.round(storeWrite),
    putRatio: Number((storeWrite / plainWrite).toFixed(2)),
    plainReadMBps: Math.round(plainRead),
    storeGetMBps: Math.round(storeRead),
    getRatio: Number((storeRead / plainRead).toFixed(2)),
    rssGrowthMiB: Number(((peak - baseline) / 2 ** 20).toFixed(1)),
  };
  if (values.json) console.log(JSON.stringify(figures));
  else {
    console.log(`image store, ${sizeMib} MiB`);
    console.log(`  plain copy write  ${figures.plainWriteMBps} MB/s`);
    console.log(
      `  store put         ${figures.storePutMBps} MB/s  (${Math.round(figures.putRatio * 100)} % of plain; md5+sha512+fsync)`,
    );
    console.log(`  plain copy read   ${figures.plainReadMBps} MB/s`);
    console.log(
      `  store get         ${figures.storeGetMBps} MB/s  (${Math.round(figures.getRatio * 100)} % of plain)`,
    );
    console.log(`  peak RSS growth   ${figures.rssGrowthMiB} MiB (target < 64)`);
  }
} finally {
  clearInterval(sampler);
  rmSync(dir, { recursive: true, force: true });
}
