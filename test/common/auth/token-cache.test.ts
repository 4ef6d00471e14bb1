import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenCache, tokenDigest } from '../../../src/common/auth/token-cache.ts';
import type { TokenInfo } from '../../../src/common/auth/token-validator.ts';
import { ManualClock } from './builders.ts';

function info(expiresAt: number): TokenInfo {
  return {
    methods: ['password'],
    user: { id: 'u', name: 'u', domain: { id: 'default', name: 'Default' } },
    scope: { kind: 'unscoped' },
    roles: [],
    auditIds: ['a'],
    expiresAt: new Date(expiresAt),
    issuedAt: new Date(expiresAt - 3600_000),
    isDomain: false,
    isAdminProject: true,
    catalog: undefined,
  };
}

/** A cache and a loader that answers from `answers` and counts its calls per token. */
function build(options: { maxEntries?: number; ttlMs?: number; negativeTtlMs?: number } = {}) {
  const clock = new ManualClock();
  const cache = new TokenCache({ ...options, now: clock.now });
  const calls = new Map<string, number>();
  const answers = new Map<string, TokenInfo | null>();
  const lookup = (token: string, allowExpired = false) =>
    cache.resolve(token, { allowExpired }, async () => {
      calls.set(token, (calls.get(token) ?? 0) + 1);
      return answers.get(token) ?? null;
    });
  return { clock, cache, calls, answers, lookup };
}

describe('TokenCache lifetimes', () => {
  const HOUR = 3600_000;
  const cases: {
    name: string;
    options?: { ttlMs?: number; negativeTtlMs?: number };
    /** The token's expiry relative to now; null for a refused token. */
    expiresIn: number | null;
    allowExpired?: boolean;
    /** How long the answer is reused. */
    lifetime: number;
  }[] = [
    { name: 'an accepted token, default TTL', expiresIn: HOUR, lifetime: 5_000 },
    { name: 'a refused token, default negative TTL', expiresIn: null, lifetime: 1_000 },
    {
      name: 'configured TTLs',
      options: { ttlMs: 30_000, negativeTtlMs: 2_000 },
      expiresIn: HOUR,
      lifetime: 30_000,
    },
    { name: 'never past the token’s expiry', expiresIn: 1_200, lifetime: 1_200 },
    {
      name: 'an allowed-expired answer keeps the TTL',
      expiresIn: -HOUR,
      allowExpired: true,
      lifetime: 5_000,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const { clock, calls, answers, lookup } = build(c.options);
      answers.set('t', c.expiresIn === null ? null : info(clock.now() + c.expiresIn));
      await lookup('t', c.allowExpired);
      clock.advance(c.lifetime - 1);
      await lookup('t', c.allowExpired);
      assert.equal(calls.get('t'), 1, 'reused within its lifetime');
      clock.advance(1);
      await lookup('t', c.allowExpired);
      assert.equal(calls.get('t'), 2, 'asked again after it');
    });
  }

  it('does not keep an expired token unless expiry was allowed', async () => {
    const { clock, cache, calls, answers, lookup } = build();
    answers.set('t', info(clock.now() - 1));
    await lookup('t');
    await lookup('t');
    assert.equal(calls.get('t'), 2);
    assert.equal(cache.size, 0);
  });

  it('keeps allow-expired answers apart from ordinary ones', async () => {
    const { clock, calls, answers, lookup } = build();
    answers.set('t', info(clock.now() + HOUR));
    await lookup('t', true);
    await lookup('t', false);
    assert.equal(calls.get('t'), 2);
  });
});

describe('TokenCache bounds and sharing', () => {
  it('evicts the least recently used entry past maxEntries', async () => {
    const { clock, cache, calls, answers, lookup } = build({ maxEntries: 3 });
    for (const t of ['a', 'b', 'c', 'd']) answers.set(t, info(clock.now() + 3600_000));
    await lookup('a');
    await lookup('b');
    await lookup('c');
    await lookup('a'); // now b is the least recently used
    await lookup('d');
    assert.equal(cache.size, 3);
    await lookup('a');
    await lookup('c');
    await lookup('d');
    assert.deepEqual([...calls.values()], [1, 1, 1, 1], 'a, c and d stayed');
    await lookup('b');
    assert.equal(calls.get('b'), 2, 'b was evicted');
  });

  it('shares one load among concurrent lookups, and does not keep a failure', async () => {
    const clock = new ManualClock();
    const cache = new TokenCache({ now: clock.now });
    let loads = 0;
    let fail: (err: Error) => void = () => undefined;
    const load = () =>
      new Promise<TokenInfo | null>((_resolve, reject) => {
        loads++;
        fail = reject;
      });
    const pending = [1, 2, 3].map(() => cache.resolve('t', {}, load));
    assert.equal(loads, 1);
    fail(new Error('identity down'));
    for (const p of pending) await assert.rejects(p, /identity down/);
    const answer = info(clock.now() + 3600_000);
    assert.equal(await cache.resolve('t', {}, async () => answer), answer);
  });

  it('keys entries by the token’s SHA-256, never the token', () => {
    assert.equal(
      tokenDigest('secret'),
      '2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b',
    );
  });

  it('refuses a bound below one entry', () => {
    assert.throws(() => new TokenCache({ maxEntries: 0 }), RangeError);
  });
});
