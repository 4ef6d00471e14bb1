/**
 * The conformance suite every ImageStore passes (STYLE.md: one suite per interface). A store
 * implementation's test file calls `describeImageStore` with a factory for a fresh store.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { buffer } from 'node:stream/consumers';
import { describe, it } from 'node:test';
import {
  ImageDataExistsError,
  ImageDataNotFoundError,
  ImageSizeMismatchError,
  ImageTooLargeError,
  RangeNotSatisfiableError,
  UploadAbortedError,
  type ImageStore,
} from '../../../src/image/store/index.ts';

/** Deterministic, non-repeating bytes of the given length. */
export function bytes(length: number, seed = 1): Buffer {
  const out = Buffer.alloc(length);
  let x = seed * 2654435761;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** A stream of `data` in chunks of `chunk` bytes, failing with `failAfter` bytes sent if set. */
export function chunked(data: Buffer, chunk = 64 * 1024, failAfter?: number): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < data.length; i += chunk) {
        if (failAfter !== undefined && i >= failAfter) throw new Error('source broke');
        yield data.subarray(i, i + chunk);
      }
    })(),
  );
}

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const sha512 = (b: Buffer) => createHash('sha512').update(b).digest('hex');

export function describeImageStore(name: string, makeStore: () => Promise<ImageStore>): void {
  describe(`ImageStore conformance: ${name}`, () => {
    const roundTrips = [
      { name: 'empty image', size: 0 },
      { name: 'one byte', size: 1 },
      { name: 'several chunks, not chunk-aligned', size: 3 * 64 * 1024 + 17 },
      { name: 'a few MiB', size: 5 * 1024 * 1024 + 3 },
    ];
    for (const c of roundTrips) {
      it(`round trip: ${c.name}, hashes match node:crypto`, async () => {
        const store = await makeStore();
        const data = bytes(c.size, c.size + 1);
        const put = await store.put(randomUUID(), chunked(data), { maxBytes: 1 << 30 });
        assert.equal(put.size, c.size);
        assert.equal(put.checksum, md5(data));
        assert.equal(put.osHashAlgo, 'sha512');
        assert.equal(put.osHashValue, sha512(data));
        assert.equal(await store.exists(put.location), true);
        const got = await store.get(put.location);
        assert.equal(got.size, c.size);
        assert.ok((await buffer(got.stream)).equals(data));
      });
    }

    const ranges = [
      { name: 'first byte', range: { start: 0, end: 0 }, want: [0, 0] },
      { name: 'middle', range: { start: 100, end: 1099 }, want: [100, 1099] },
      { name: 'open end', range: { start: 9000 }, want: [9000, 9999] },
      {
        name: 'end past the size is clipped',
        range: { start: 9990, end: 20000 },
        want: [9990, 9999],
      },
      { name: 'last byte', range: { start: 9999, end: 9999 }, want: [9999, 9999] },
    ];
    for (const c of ranges) {
      it(`ranged read: ${c.name}`, async () => {
        const store = await makeStore();
        const data = bytes(10_000, 7);
        const { location } = await store.put(randomUUID(), chunked(data, 4096), { maxBytes: 1e6 });
        const got = await store.get(location, c.range);
        const [start, end] = c.want as [number, number];
        assert.deepEqual([got.start, got.end, got.size], [start, end, 10_000]);
        assert.ok((await buffer(got.stream)).equals(data.subarray(start, end + 1)));
      });
    }

    for (const range of [{ start: 10_000 }, { start: 5, end: 4 }, { start: -1, end: 3 }]) {
      it(`unsatisfiable range ${JSON.stringify(range)} is a 416`, async () => {
        const store = await makeStore();
        const { location } = await store.put(randomUUID(), chunked(bytes(10_000)), {
          maxBytes: 1e6,
        });
        await assert.rejects(store.get(location, range), (err: unknown) => {
          assert.ok(err instanceof RangeNotSatisfiableError);
          assert.equal(err.headers['content-range'], 'bytes */10000');
          return true;
        });
      });
    }

    it('maxBytes exceeded mid-stream: ImageTooLargeError, nothing stored', async () => {
      const store = await makeStore();
      const id = randomUUID();
      await assert.rejects(
        store.put(id, chunked(bytes(1_000_000)), { maxBytes: 300_000 }),
        ImageTooLargeError,
      );
      const again = await store.put(id, chunked(bytes(10)), { maxBytes: 10 });
      assert.equal(again.size, 10);
    });

    it('source error mid-stream: UploadAbortedError', async () => {
      const store = await makeStore();
      await assert.rejects(
        store.put(randomUUID(), chunked(bytes(1_000_000), 65536, 500_000), { maxBytes: 1e7 }),
        UploadAbortedError,
      );
    });

    it('source destroyed without an error (client disconnect): UploadAbortedError', async () => {
      const store = await makeStore();
      const source = new Readable({ read() {} });
      source.push(bytes(1000));
      setImmediate(() => source.destroy());
      await assert.rejects(store.put(randomUUID(), source, { maxBytes: 1e7 }), UploadAbortedError);
    });

    it('aborted by signal: UploadAbortedError', async () => {
      const store = await makeStore();
      const source = new Readable({ read() {} });
      source.push(bytes(1000));
      const controller = new AbortController();
      setImmediate(() => controller.abort());
      const put = store.put(randomUUID(), source, { maxBytes: 1e7, signal: controller.signal });
      await assert.rejects(put, UploadAbortedError);
    });

    it('expectedSize differs: ImageSizeMismatchError', async () => {
      const store = await makeStore();
      await assert.rejects(
        store.put(randomUUID(), chunked(bytes(100)), { maxBytes: 1e6, expectedSize: 101 }),
        ImageSizeMismatchError,
      );
    });

    it('data is written once: a second put for the same id is a conflict', async () => {
      const store = await makeStore();
      const id = randomUUID();
      const first = await store.put(id, Readable.from([Buffer.from('first')]), { maxBytes: 100 });
      await assert.rejects(
        store.put(id, Readable.from([Buffer.from('second')]), { maxBytes: 100 }),
        ImageDataExistsError,
      );
      assert.equal(await text((await store.get(first.location)).stream), 'first');
    });

    it('concurrent puts of different images keep their own bytes and hashes', async () => {
      const store = await makeStore();
      const inputs = Array.from({ length: 8 }, (_, i) => bytes(200_000 + i * 1013, i + 100));
      const puts = await Promise.all(
        inputs.map((data) => store.put(randomUUID(), chunked(data, 8192), { maxBytes: 1e7 })),
      );
      for (const [i, put] of puts.entries()) {
        const data = inputs[i] as Buffer;
        assert.equal(put.checksum, md5(data));
        assert.equal(put.osHashValue, sha512(data));
        assert.ok((await buffer((await store.get(put.location)).stream)).equals(data));
      }
      assert.equal(new Set(puts.map((p) => p.location)).size, inputs.length);
    });

    it('delete is idempotent; get after delete is ImageDataNotFoundError', async () => {
      const store = await makeStore();
      const { location } = await store.put(randomUUID(), chunked(bytes(10)), { maxBytes: 100 });
      await store.delete(location);
      await store.delete(location);
      assert.equal(await store.exists(location), false);
      await assert.rejects(store.get(location), ImageDataNotFoundError);
    });
  });
}
