import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomFromPool } from '../../../src/identity/token/random.ts';

describe('token random pool', () => {
  it('never hands out the same bytes twice, across refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const bytes = randomFromPool(16).toString('hex');
      assert.equal(bytes.length, 32);
      assert.ok(!seen.has(bytes), `repeated after ${i} draws`);
      seen.add(bytes);
    }
  });

  it('returns a copy the caller owns', () => {
    const a = randomFromPool(16);
    const before = Buffer.from(a);
    randomFromPool(16);
    assert.deepEqual(a, before);
  });

  it('refuses more than the pool holds', () => {
    assert.throws(() => randomFromPool(5000), RangeError);
  });
});
