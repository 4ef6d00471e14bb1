/** One suite for both stream hashers: the digests equal node:crypto's, whatever the chunking. */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { InlineHasher, WorkerHasher, type StreamHasher } from '../../../src/image/store/hashers.ts';

function expected(data: Buffer) {
  return {
    md5: createHash('md5').update(data).digest('hex'),
    sha512: createHash('sha512').update(data).digest('hex'),
  };
}

/** Feeds `data` in chunks of `size`, waiting whenever the hasher asks to. */
async function hashIn(hasher: StreamHasher, data: Buffer, size: number) {
  const session = hasher.start();
  for (let offset = 0; offset < data.length; offset += size) {
    await session.update(data.subarray(offset, offset + size));
  }
  return session.digest();
}

const implementations: [string, () => StreamHasher][] = [
  ['InlineHasher', () => new InlineHasher()],
  ['WorkerHasher', () => new WorkerHasher()],
];

for (const [name, make] of implementations) {
  describe(name, () => {
    it('hashes nothing, one byte, odd chunkings and more than the in-flight bound', async (t) => {
      const hasher = make();
      t.after(() => hasher.close());
      const big = randomBytes(24 * 1024 * 1024 + 3);
      const cases: [string, Buffer, number][] = [
        ['empty', Buffer.alloc(0), 1],
        ['one byte', Buffer.from([7]), 1],
        ['chunks across batch edges', randomBytes(3 * 1024 * 1024 + 17), 65_537],
        ['24 MiB in 64 KiB chunks', big, 64 * 1024],
        ['24 MiB in one chunk', big, big.length],
      ];
      for (const [label, data, size] of cases) {
        assert.deepEqual(await hashIn(hasher, data, size), expected(data), label);
      }
    });

    it('keeps concurrent sessions apart, and an aborted one harms no other', async (t) => {
      const hasher = make();
      t.after(() => hasher.close());
      const inputs = Array.from({ length: 6 }, (_, i) => randomBytes(1024 * 1024 * (i + 1) + i));
      const dropped = hasher.start();
      await dropped.update(randomBytes(2 * 1024 * 1024));
      dropped.abort();
      const results = await Promise.all(inputs.map((data) => hashIn(hasher, data, 100_000)));
      results.forEach((digests, i) =>
        assert.deepEqual(digests, expected(inputs[i]!), `input ${i}`),
      );
    });
  });
}
