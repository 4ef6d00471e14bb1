import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ErrorStyle } from '../../../src/common/http/error-shapes.ts';
import { ServiceUnavailableError } from '../../../src/common/errors.ts';
import type { FakeIdentityClient } from '../../../src/identity/fake-identity-client.ts';
import { IDENTITY_URI, buildHarness, whoami } from './builders.ts';

const MESSAGE = 'The request you have made requires authentication.';
const CHALLENGE = `Keystone uri="${IDENTITY_URI}"`;

/** The 401 body each service style renders. */
const UNAUTHORIZED_BODIES: Record<'nova' | 'neutron' | 'keystone', (type: string) => unknown> = {
  nova: () => ({ unauthorized: { code: 401, message: MESSAGE } }),
  neutron: (type) => ({ NeutronError: { type, message: MESSAGE, detail: '' } }),
  keystone: () => ({ error: { code: 401, title: 'Unauthorized', message: MESSAGE } }),
};

describe('requests without a valid token get a 401 in the service shape', () => {
  const cases: {
    name: string;
    headers: (identity: FakeIdentityClient) => Record<string, string>;
    type: string;
  }[] = [
    { name: 'no token', headers: () => ({}), type: 'TokenMissing' },
    { name: 'a blank token', headers: () => ({ 'x-auth-token': '   ' }), type: 'TokenMissing' },
    {
      name: 'an unknown token',
      headers: () => ({ 'x-auth-token': 'gAAAAABnot-a-token' }),
      type: 'TokenInvalid',
    },
    {
      name: 'a revoked token',
      headers: (identity) => {
        const token = identity.issueToken();
        identity.revokeToken(token);
        return { 'x-auth-token': token };
      },
      type: 'TokenInvalid',
    },
    {
      name: 'a service token alone',
      headers: (identity) => ({ 'x-service-token': identity.issueToken({ roles: ['service'] }) }),
      type: 'TokenMissing',
    },
  ];
  for (const style of ['nova', 'neutron', 'keystone'] as const) {
    for (const c of cases) {
      it(`${style}: ${c.name}`, async () => {
        const { app, identity } = buildHarness({ style });
        const res = await whoami(app, c.headers(identity));
        assert.equal(res.status, 401);
        assert.equal(res.headers['www-authenticate'], CHALLENGE);
        assert.deepEqual(res.body, UNAUTHORIZED_BODIES[style](c.type));
      });
    }
  }

  it('leaves routes outside the scope public, as version discovery is', async () => {
    const { app } = buildHarness();
    const res = await app.inject({ method: 'GET', url: '/' });
    assert.equal(res.statusCode, 200);
  });
});

describe('the request context', () => {
  const cases: {
    name: string;
    issue: (identity: FakeIdentityClient) => string;
    context: Record<string, unknown>;
    credentials: Record<string, unknown>;
  }[] = [
    {
      name: 'a project-scoped token',
      issue: (identity) =>
        identity.issueToken({
          userId: 'u1',
          userName: 'alice',
          project: { id: 'p1', name: 'demo', domain: { id: 'd1', name: 'Dom' } },
          roles: ['member', 'reader'],
          isAdminProject: false,
        }),
      context: {
        userId: 'u1',
        userName: 'alice',
        userDomainId: 'default',
        projectId: 'p1',
        projectName: 'demo',
        projectDomainId: 'd1',
        projectDomainName: 'Dom',
        roles: ['member', 'reader'],
        isAdminProject: false,
      },
      credentials: {
        user_id: 'u1',
        user_domain_id: 'default',
        project_id: 'p1',
        project_domain_id: 'd1',
        roles: ['member', 'reader'],
        is_admin_project: false,
      },
    },
    {
      name: 'a domain-scoped token',
      issue: (identity) =>
        identity.issueToken({ userId: 'u2', domain: { id: 'd2', name: 'Two' }, roles: ['admin'] }),
      context: { userId: 'u2', domainId: 'd2', domainName: 'Two', roles: ['admin'] },
      credentials: { user_id: 'u2', user_domain_id: 'default', domain_id: 'd2', roles: ['admin'] },
    },
    {
      name: 'a system-scoped token',
      issue: (identity) => identity.issueToken({ userId: 'u3', system: true, roles: ['reader'] }),
      context: { userId: 'u3', systemScope: 'all', roles: ['reader'] },
      credentials: { user_id: 'u3', system_scope: 'all', roles: ['reader'] },
    },
    {
      name: 'an unscoped token',
      issue: (identity) => identity.issueToken({ userId: 'u4', unscoped: true, roles: [] }),
      context: { userId: 'u4', roles: [] },
      credentials: { user_id: 'u4', roles: [] },
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const { app, identity } = buildHarness();
      const token = c.issue(identity);
      const res = await whoami(app, { 'x-auth-token': token });
      assert.equal(res.status, 200);
      const { context, credentials } = res.who();
      for (const [key, value] of Object.entries(c.context)) {
        assert.deepEqual(context[key], value, key);
      }
      const info = identity.tokenInfo(token);
      assert.deepEqual(
        context['roleIds'],
        info?.roles.map((r) => r.id),
      );
      assert.deepEqual(context['auditIds'], info?.auditIds);
      // Scope fields the token does not have are absent, never guessed.
      const scoped = ['project_id', 'domain_id', 'system_scope'].filter((k) => k in credentials);
      assert.deepEqual(
        scoped,
        ['project_id', 'domain_id', 'system_scope'].filter((k) => k in c.credentials),
      );
      for (const [key, value] of Object.entries(c.credentials)) {
        assert.deepEqual(credentials[key], value, key);
      }
      assert.ok(!JSON.stringify(res.body).includes(token), 'the token is never serialised');
    });
  }

  it('carries the request id and the caller’s global request id', async () => {
    const { app, identity } = buildHarness();
    const global = 'req-11111111-2222-3333-4444-555555555555';
    const res = await whoami(app, {
      'x-auth-token': identity.issueToken(),
      'x-openstack-request-id': global,
    });
    const { context } = res.who();
    assert.equal(context['requestId'], res.headers['x-openstack-request-id']);
    assert.equal(context['globalRequestId'], global);
  });

  it('accepts the legacy X-Storage-Token and trims whitespace around a token', async () => {
    const { app, identity } = buildHarness();
    const token = identity.issueToken({ userId: 'swift-user' });
    const variants: Record<string, string>[] = [
      { 'x-storage-token': token },
      { 'x-auth-token': ` ${token} ` },
    ];
    for (const headers of variants) {
      const res = await whoami(app, headers);
      assert.equal(res.status, 200);
      assert.equal(res.who().context['userId'], 'swift-user');
    }
  });
});

describe('when identity cannot answer', () => {
  for (const style of ['nova', 'neutron'] satisfies ErrorStyle[]) {
    it(`${style}: answers 503, not 401 or 500, and recovers once identity is back`, async () => {
      const { app, identity } = buildHarness({ style });
      const token = identity.issueToken();
      identity.failValidations();
      const res = await whoami(app, { 'x-auth-token': token });
      assert.equal(res.status, 503);
      assert.equal(res.headers['www-authenticate'], undefined);
      assert.match(JSON.stringify(res.body), /identity service is unreachable/);
      identity.failValidations(null);
      assert.equal((await whoami(app, { 'x-auth-token': token })).status, 200);
    });
  }

  it('passes a service-unavailable error from the client through as is', async () => {
    const { app, identity } = buildHarness();
    identity.failValidations(new ServiceUnavailableError('Identity is restarting.'));
    const res = await whoami(app, { 'x-auth-token': identity.issueToken() });
    assert.equal(res.status, 503);
    assert.deepEqual(res.body, {
      serviceUnavailable: { code: 503, message: 'Identity is restarting.' },
    });
  });
});
