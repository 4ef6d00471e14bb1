/**
 * `X-Service-Token`, as keystonemiddleware treats it: a present one must be valid; one with a
 * service role lets an expired user token through (a long operation started for the user).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FakeIdentityClient } from '../../../src/identity/fake-identity-client.ts';
import { buildHarness, whoami, type HarnessOptions } from './builders.ts';

type Tokens = { user?: string; service?: string };

describe('service tokens', () => {
  const valid = (identity: FakeIdentityClient) => identity.issueToken({ userId: 'user' });
  const expired = (identity: FakeIdentityClient) => {
    const token = valid(identity);
    identity.expireToken(token);
    return token;
  };
  const service = (identity: FakeIdentityClient, roles = ['service']) =>
    identity.issueToken({ userId: 'nova', userName: 'nova', project: { id: 'svc' }, roles });

  const cases: {
    name: string;
    tokens: (identity: FakeIdentityClient) => Tokens;
    options?: HarnessOptions;
    status: number;
    serviceRoles?: string[];
  }[] = [
    {
      name: 'a valid user token with a valid service token',
      tokens: (i) => ({ user: valid(i), service: service(i) }),
      status: 200,
      serviceRoles: ['service'],
    },
    {
      name: 'an expired user token with a service-role service token',
      tokens: (i) => ({ user: expired(i), service: service(i) }),
      status: 200,
      serviceRoles: ['service'],
    },
    {
      name: 'an expired user token without a service token',
      tokens: (i) => ({ user: expired(i) }),
      status: 401,
    },
    {
      name: 'an invalid service token, even with a valid user token',
      tokens: (i) => ({ user: valid(i), service: 'not-a-token' }),
      status: 401,
    },
    {
      name: 'an expired service token',
      tokens: (i) => {
        const s = service(i);
        i.expireToken(s);
        return { user: valid(i), service: s };
      },
      status: 401,
    },
    {
      name: 'a revoked user token, even with a service token',
      tokens: (i) => {
        const user = valid(i);
        i.revokeToken(user);
        return { user, service: service(i) };
      },
      status: 401,
    },
    {
      name: 'a service token without a service role (roles required by default)',
      tokens: (i) => ({ user: valid(i), service: service(i, ['member']) }),
      status: 401,
    },
    {
      name: 'a service token without a service role, roles not required',
      tokens: (i) => ({ user: valid(i), service: service(i, ['member']) }),
      options: { auth: { serviceTokenRolesRequired: false } },
      status: 200,
      serviceRoles: ['member'],
    },
    {
      name: 'an expired user token with a service token lacking the role, roles not required',
      tokens: (i) => ({ user: expired(i), service: service(i, ['member']) }),
      options: { auth: { serviceTokenRolesRequired: false } },
      status: 401,
    },
    {
      name: 'a configured service role',
      tokens: (i) => ({ user: expired(i), service: service(i, ['Operator']) }),
      options: { auth: { serviceTokenRoles: ['operator'] } },
      status: 200,
      serviceRoles: ['Operator'],
    },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const { app, identity } = buildHarness(c.options);
      const tokens = c.tokens(identity);
      const headers: Record<string, string> = {};
      if (tokens.user !== undefined) headers['x-auth-token'] = tokens.user;
      if (tokens.service !== undefined) headers['x-service-token'] = tokens.service;
      const res = await whoami(app, headers);
      assert.equal(res.status, c.status, JSON.stringify(res.body));
      if (c.status !== 200) {
        assert.ok(res.headers['www-authenticate']);
        return;
      }
      const { context, credentials } = res.who();
      assert.equal(context['userId'], 'user');
      assert.deepEqual(context['service'], {
        userId: 'nova',
        userName: 'nova',
        userDomainId: 'default',
        projectId: 'svc',
        projectDomainId: 'default',
        roles: c.serviceRoles,
      });
      assert.equal(credentials['service_user_id'], 'nova');
      assert.equal(credentials['service_project_id'], 'svc');
      assert.deepEqual(credentials['service_roles'], c.serviceRoles);
    });
  }

  it('asks identity for an expired user token only on behalf of a service', async () => {
    const { app, identity } = buildHarness();
    const user = valid(identity);
    await whoami(app, { 'x-auth-token': user });
    await whoami(app, { 'x-auth-token': user, 'x-service-token': service(identity) });
    assert.deepEqual(
      identity.validations.map((v) => v.allowExpired),
      [false, false, true],
    );
  });

  it('has no service caller without a service token', async () => {
    const { app, identity } = buildHarness();
    const res = await whoami(app, { 'x-auth-token': valid(identity) });
    const { context, credentials } = res.who();
    assert.equal(context['service'], undefined);
    assert.equal(credentials['service_user_id'], undefined);
  });
});
