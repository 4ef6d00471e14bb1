/**
 * The middleware with the real HTTP identity client, end to end: a user's token revoked in
 * identity stops working in another service once the cache TTL has passed, and an identity that
 * goes away turns into 503s.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TokenCache } from '../../../src/common/auth/token-cache.ts';
import { useTokenAuth } from '../../../src/common/auth/token-auth.ts';
import { createApp, type App } from '../../../src/common/http/app.ts';
import { silentLogger } from '../../../src/common/logging.ts';
import { HttpIdentityClient } from '../../../src/identity/client.ts';
import { startKeystone, type Keystone } from './local-keystone.ts';

describe('token auth against identity over HTTP', () => {
  let keystone: Keystone;
  let app: App;
  before(async () => {
    keystone = await startKeystone();
    const { clock } = keystone;
    const client = new HttpIdentityClient({
      url: keystone.url,
      username: 'nova',
      password: 'secret',
      now: clock.now,
    });
    app = createApp({ service: 'network', errorStyle: 'neutron', logger: silentLogger() });
    void app.register(
      async (scope) => {
        useTokenAuth(scope, {
          client,
          cache: new TokenCache({ now: clock.now }),
          wwwAuthenticateUri: keystone.url,
          now: clock.now,
        });
        scope.get('/networks', async (request) => ({ project: request.auth.projectId }));
      },
      { prefix: '/v2.0' },
    );
  });
  after(async () => {
    await app.close();
    await keystone.server.close();
  });

  const get = (token: string) =>
    app.inject({ method: 'GET', url: '/v2.0/networks', headers: { 'x-auth-token': token } });

  it('rejects a revoked token within the cache TTL', async () => {
    const token = keystone.backend.issueToken({ project: { id: 'p1' } });
    const first = await get(token);
    assert.equal(first.statusCode, 200);
    assert.deepEqual(first.json(), { project: 'p1' });

    keystone.backend.revokeToken(token);
    keystone.clock.advance(4_999);
    assert.equal((await get(token)).statusCode, 200, 'still cached');
    keystone.clock.advance(1);
    const rejected = await get(token);
    assert.equal(rejected.statusCode, 401);
    assert.equal(rejected.headers['www-authenticate'], `Keystone uri="${keystone.url}"`);
    assert.equal(
      rejected.json<{ NeutronError: { type: string } }>().NeutronError.type,
      'TokenInvalid',
    );
  });

  it('answers 503 while identity is unreachable', async () => {
    const token = keystone.backend.issueToken();
    await keystone.server.close();
    const res = await get(token);
    assert.equal(res.statusCode, 503);
    assert.match(res.body, /identity service is unreachable/);
  });
});
