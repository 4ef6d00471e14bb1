/**
 * "A revoked token is rejected by another service within the cache TTL": a service built in this
 * test the way every tstack service is (`createApp` + `useTokenAuth`), validating tokens against
 * the identity of a running `tstack up` through `HttpIdentityClient` as a bootstrap service user,
 * with a `TokenCache` on a clock the test moves.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { useTokenAuth } from '../../src/common/auth/token-auth.ts';
import { DEFAULT_TOKEN_CACHE_TTL_MS, TokenCache } from '../../src/common/auth/token-cache.ts';
import { createApp, type App } from '../../src/common/http/app.ts';
import { silentLogger } from '../../src/common/logging.ts';
import { HttpIdentityClient } from '../../src/identity/client.ts';
import { SERVICE_PASSWORD, startCloud, type Cloud } from './harness.ts';

const TTL = DEFAULT_TOKEN_CACHE_TTL_MS;

/** Time that moves only when the test says so; it starts now, so real tokens are not expired. */
class ManualClock {
  #ms = Date.now();
  readonly now = (): number => this.#ms;
  advance(ms: number): void {
    this.#ms += ms;
  }
}

describe('a revoked token at another service', { timeout: 60_000 }, () => {
  let cloud: Cloud;
  let clock: ManualClock;
  let app: App;
  before(async () => {
    cloud = await startCloud({ cli: false });
    clock = new ManualClock();
    const client = new HttpIdentityClient({
      url: cloud.authUrl,
      username: 'nova',
      password: SERVICE_PASSWORD,
      projectName: 'service',
      timeoutMs: 5_000,
    });
    app = createApp({ service: 'compute', errorStyle: 'nova', logger: silentLogger() });
    void app.register(
      async (scope) => {
        useTokenAuth(scope, {
          client,
          cache: new TokenCache({ now: clock.now }),
          wwwAuthenticateUri: cloud.authUrl,
          now: clock.now,
        });
        scope.get('/whoami', async (request) => ({
          user_id: request.auth.userId,
          project_id: request.auth.projectId ?? null,
        }));
      },
      { prefix: '/v2.1' },
    );
    await app.ready();
  });
  after(async () => {
    await app?.close();
    await cloud?.stop();
  });

  const whoami = async (token: string) => {
    const res = await app.inject({
      method: 'GET',
      url: '/v2.1/whoami',
      headers: { 'x-auth-token': token },
    });
    return { status: res.statusCode, headers: res.headers, body: res.json<unknown>() };
  };

  /** What identity itself says about `token` (`GET /v3/auth/tokens`), as admin. */
  const atIdentity = async (token: string): Promise<number> =>
    (await cloud.identity('GET', '/auth/tokens', { token: cloud.adminToken, subjectToken: token }))
      .status;

  const assertRefused = (res: Awaited<ReturnType<typeof whoami>>, why: string): void => {
    assert.equal(res.status, 401, why);
    assert.equal(res.headers['www-authenticate'], `Keystone uri="${cloud.authUrl}"`);
    assert.deepEqual(res.body, {
      unauthorized: { code: 401, message: 'The request you have made requires authentication.' },
    });
  };

  it('is accepted while its cached validation is fresh and refused (401) once the TTL has passed', async () => {
    const token = await cloud.issueToken(cloud.admin);
    const first = await whoami(token);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const { user_id: userId, project_id: projectId } = first.body as Record<string, string>;
    assert.match(userId ?? '', /^[0-9a-f]{32}$/);
    assert.match(projectId ?? '', /^[0-9a-f]{32}$/);

    const revoked = await cloud.identity('DELETE', '/auth/tokens', {
      token: cloud.adminToken,
      subjectToken: token,
    });
    assert.equal(revoked.status, 204);
    assert.equal(await atIdentity(token), 404, 'identity refuses it at once');

    clock.advance(TTL - 1);
    assert.equal((await whoami(token)).status, 200, 'still the cached answer');
    clock.advance(1);
    assertRefused(await whoami(token), 'rejected once the cached answer is TTL old');

    const fresh = await cloud.issueToken(cloud.admin);
    const other = await whoami(fresh);
    assert.equal(other.status, 200, 'other tokens of the same user still work');
    assert.deepEqual(other.body, first.body);
  });

  it('of a disabled user fails at identity at once and at the other service after the TTL', async () => {
    const created = await cloud.identity('POST', '/users', {
      token: cloud.adminToken,
      body: { user: { name: 'dora', password: 'd0ra-secret', domain_id: 'default' } },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const userId = (created.body as { user: { id: string } }).user.id;
    const dora = { username: 'dora', password: 'd0ra-secret' };
    // Dora has no role anywhere yet, so her token is unscoped; services still authenticate it.
    const token = await cloud.issueToken(dora);
    const first = await whoami(token);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.deepEqual(first.body, { user_id: userId, project_id: null });

    const disabled = await cloud.identity('PATCH', `/users/${userId}`, {
      token: cloud.adminToken,
      body: { user: { enabled: false } },
    });
    assert.equal(disabled.status, 200, JSON.stringify(disabled.body));
    assert.equal(await atIdentity(token), 404, 'identity refuses it at once');

    clock.advance(TTL - 1);
    assert.equal((await whoami(token)).status, 200, 'still the cached answer');
    clock.advance(1);
    assertRefused(await whoami(token), 'rejected once the cached answer is TTL old');

    const enabled = await cloud.identity('PATCH', `/users/${userId}`, {
      token: cloud.adminToken,
      body: { user: { enabled: true } },
    });
    assert.equal(enabled.status, 200, JSON.stringify(enabled.body));
    assert.equal(await atIdentity(token), 404, 'enabling the user again revives no old token');
    clock.advance(TTL);
    assertRefused(await whoami(token), 'nor at the other service');
    assert.equal((await whoami(await cloud.issueToken(dora))).status, 200, 'a new token works');
  });
});
