/**
 * The middleware's cache seen from outside: what a revocation, an expiry or a flood of requests
 * does to the answers a service gives, with time moved by hand.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildHarness, whoami } from './builders.ts';

/** Lets every pending I/O callback and promise run, so concurrent requests reach the cache. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('a revoked token is rejected by another service within the cache TTL', () => {
  const cases: { name: string; ttlMs?: number; expectedTtl: number }[] = [
    { name: 'the default 5 s TTL', expectedTtl: 5_000 },
    { name: 'a configured 2 s TTL', ttlMs: 2_000, expectedTtl: 2_000 },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const cache = c.ttlMs === undefined ? {} : { ttlMs: c.ttlMs };
      const { app, identity, clock } = buildHarness({ cache });
      const token = identity.issueToken();
      assert.equal((await whoami(app, { 'x-auth-token': token })).status, 200);

      identity.revokeToken(token);
      // Still trusted from the cache just before the TTL runs out: the bounded staleness.
      clock.advance(c.expectedTtl - 1);
      assert.equal((await whoami(app, { 'x-auth-token': token })).status, 200);
      assert.equal(identity.validateCount, 1);

      clock.advance(1);
      const res = await whoami(app, { 'x-auth-token': token });
      assert.equal(res.status, 401);
      assert.equal(identity.validateCount, 2);
    });
  }
});

describe('the cache spares identity', () => {
  it('validates a token once for many requests within the TTL', async () => {
    const { app, identity, clock } = buildHarness();
    const token = identity.issueToken();
    for (let i = 0; i < 5; i++) {
      assert.equal((await whoami(app, { 'x-auth-token': token })).status, 200);
      clock.advance(900);
    }
    assert.equal(identity.validateCount, 1);
  });

  it('remembers a refused token briefly (negative cache), then asks again', async () => {
    const { app, identity, clock } = buildHarness({ cache: { negativeTtlMs: 1_500 } });
    for (let i = 0; i < 3; i++) {
      assert.equal((await whoami(app, { 'x-auth-token': 'bogus' })).status, 401);
    }
    assert.equal(identity.validateCount, 1);
    clock.advance(1_500);
    assert.equal((await whoami(app, { 'x-auth-token': 'bogus' })).status, 401);
    assert.equal(identity.validateCount, 2);
  });

  it('shares one validation among concurrent requests with the same token', async () => {
    const { app, identity } = buildHarness();
    const token = identity.issueToken();
    const release = identity.holdValidations();
    const pending = Array.from({ length: 5 }, () => whoami(app, { 'x-auth-token': token }));
    await settle();
    assert.equal(identity.validateCount, 1);
    release();
    const statuses = (await Promise.all(pending)).map((r) => r.status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200]);
    assert.equal(identity.validateCount, 1);
  });

  it('does not remember an identity outage', async () => {
    const { app, identity } = buildHarness();
    const token = identity.issueToken();
    identity.failValidations();
    assert.equal((await whoami(app, { 'x-auth-token': token })).status, 503);
    identity.failValidations(null);
    assert.equal((await whoami(app, { 'x-auth-token': token })).status, 200);
    assert.equal(identity.validateCount, 2);
  });
});

describe('expiry', () => {
  it('rejects an expired token', async () => {
    const { app, identity } = buildHarness();
    const token = identity.issueToken();
    identity.expireToken(token);
    assert.equal((await whoami(app, { 'x-auth-token': token })).status, 401);
  });

  it('rejects a cached token the moment it expires, even within the TTL', async () => {
    const { app, identity, clock } = buildHarness();
    const token = identity.issueToken({ lifetimeMs: 2_000 });
    assert.equal((await whoami(app, { 'x-auth-token': token })).status, 200);
    clock.advance(1_999);
    assert.equal((await whoami(app, { 'x-auth-token': token })).status, 200);
    clock.advance(1);
    assert.equal((await whoami(app, { 'x-auth-token': token })).status, 401);
  });
});
