import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { identityHarness } from './harness.ts';

describe('identity: tokens', () => {
  it('issues a project-scoped token with roles and catalog, and validates it', async (t) => {
    const h = await identityHarness(t);
    const missing = await h.call('GET', '/v3/auth/tokens', h.adminToken, undefined);
    assert.equal(missing.status, 404, 'no subject token is a 404');
    const check = await h.app.inject({
      method: 'GET',
      url: '/v3/auth/tokens',
      headers: { 'x-auth-token': h.adminToken, 'x-subject-token': h.adminToken },
    });
    assert.equal(check.statusCode, 200);
    const body = JSON.parse(check.body) as {
      token: {
        project: { name: string };
        roles: { name: string }[];
        catalog: unknown[];
        methods: string[];
      };
    };
    assert.equal(body.token.project.name, 'admin');
    assert.deepEqual(body.token.roles.map((r) => r.name).sort(), ['admin', 'member', 'reader']);
    assert.deepEqual(body.token.methods, ['password']);
    assert.equal(body.token.catalog.length, 1);
  });
});
