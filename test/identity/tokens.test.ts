import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { identityHarness, type Harness } from './harness.ts';

type TokenBody = {
  token: {
    methods: string[];
    user: { id: string; name: string; domain: { id: string; name: string } };
    project?: { id: string; name: string; domain: { id: string; name: string } };
    domain?: { id: string; name: string };
    system?: { all: boolean };
    roles?: { id: string; name: string }[];
    catalog?: { type: string; endpoints: { url: string; interface: string }[] }[];
    audit_ids: string[];
    expires_at: string;
    issued_at: string;
    is_domain?: boolean;
  };
};

const ISO_MICROS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

async function validate(h: Harness, subject: string, query = '') {
  const res = await h.app.inject({
    method: 'GET',
    url: `/v3/auth/tokens${query}`,
    headers: { 'x-auth-token': h.adminToken, 'x-subject-token': subject },
  });
  return {
    status: res.statusCode,
    body: res.statusCode === 200 ? (JSON.parse(res.body) as TokenBody) : undefined,
    raw: res,
  };
}

async function passwordAuth(h: Harness, user: Record<string, unknown>, scope?: unknown) {
  return h.app.inject({
    method: 'POST',
    url: '/v3/auth/tokens',
    payload: {
      auth: {
        identity: { methods: ['password'], password: { user } },
        ...(scope !== undefined ? { scope } : {}),
      },
    },
  });
}

/** A user (password `<name>-pw`) with a project of their own. */
async function member(h: Harness, name: string) {
  const project = (
    await h.call('POST', '/v3/projects', h.adminToken, { project: { name: `${name}-project` } })
  ).json<{ project: { id: string } }>().project;
  const user = (
    await h.call('POST', '/v3/users', h.adminToken, {
      user: { name, password: `${name}-pw`, default_project_id: project.id },
    })
  ).json<{ user: { id: string } }>().user;
  return { project, user };
}

describe('identity: issuing tokens', () => {
  it('a project-scoped password token carries user, project, roles (with implied ones), catalog and times', async (t) => {
    const h = await identityHarness(t);
    const { status, body } = await validate(h, h.adminToken);
    assert.equal(status, 200);
    const token = body!.token;
    assert.deepEqual(token.methods, ['password']);
    assert.equal(token.user.name, 'admin');
    assert.deepEqual(token.user.domain, { id: 'default', name: 'Default' });
    assert.equal(token.project?.name, 'admin');
    assert.deepEqual(token.project?.domain, { id: 'default', name: 'Default' });
    assert.equal(token.is_domain, false);
    assert.deepEqual(token.roles?.map((r) => r.name).sort(), ['admin', 'member', 'reader']);
    assert.equal(token.catalog?.[0]?.type, 'identity');
    assert.match(token.expires_at, ISO_MICROS);
    assert.match(token.issued_at, ISO_MICROS);
    assert.equal(Date.parse(token.expires_at) - Date.parse(token.issued_at), 3600_000);
    assert.equal(token.audit_ids.length, 1);
  });

  it('answers 201 with X-Subject-Token, and nocatalog leaves the catalog out', async (t) => {
    const h = await identityHarness(t);
    const res = await h.app.inject({
      method: 'POST',
      url: '/v3/auth/tokens?nocatalog',
      payload: {
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: 'admin', domain: { name: 'Default' }, password: 'admin' } },
          },
          scope: { project: { name: 'admin', domain: { name: 'Default' } } },
        },
      },
    });
    assert.equal(res.statusCode, 201);
    assert.match(String(res.headers['x-subject-token']), /^gAAAAA[A-Za-z0-9_-]+$/);
    assert.equal((JSON.parse(res.body) as TokenBody).token.catalog, undefined);
  });

  const scopes: { name: string; scope: unknown; check: (t: TokenBody['token']) => void }[] = [
    { name: 'unscoped', scope: 'unscoped', check: (t) => assert.equal(t.roles, undefined) },
    {
      name: 'domain by name',
      scope: { domain: { name: 'Default' } },
      check: (t) => assert.deepEqual(t.domain, { id: 'default', name: 'Default' }),
    },
    {
      name: 'system all',
      scope: { system: { all: true } },
      check: (t) => assert.deepEqual(t.system, { all: true }),
    },
    {
      name: 'project by id',
      scope: 'PROJECT_ID',
      check: (t) => assert.equal(t.project?.name, 'admin'),
    },
  ];
  for (const c of scopes) {
    it(`scopes to ${c.name}`, async (t) => {
      const h = await identityHarness(t);
      const adminProject = (await validate(h, h.adminToken)).body!.token.project!.id;
      const scope = c.scope === 'PROJECT_ID' ? { project: { id: adminProject } } : c.scope;
      const res = await passwordAuth(
        h,
        { name: 'admin', domain: { id: 'default' }, password: 'admin' },
        scope,
      );
      assert.equal(res.statusCode, 201, res.body);
      c.check((JSON.parse(res.body) as TokenBody).token);
    });
  }

  it('rescoping with the token method keeps the expiry and the audit chain', async (t) => {
    const h = await identityHarness(t);
    const unscoped = await h.token({ name: 'admin', password: 'admin' }, 'unscoped');
    const first = (await validate(h, unscoped)).body!.token;
    const res = await h.app.inject({
      method: 'POST',
      url: '/v3/auth/tokens',
      payload: {
        auth: {
          identity: { methods: ['token'], token: { id: unscoped } },
          scope: { project: { name: 'admin', domain: { id: 'default' } } },
        },
      },
    });
    assert.equal(res.statusCode, 201, res.body);
    const rescoped = (JSON.parse(res.body) as TokenBody).token;
    assert.deepEqual(rescoped.methods, ['password', 'token']);
    assert.equal(rescoped.expires_at, first.expires_at);
    assert.equal(rescoped.audit_ids[1], first.audit_ids[0]);
    assert.equal(rescoped.project?.name, 'admin');
  });

  const failures: {
    name: string;
    user: Record<string, unknown>;
    scope?: unknown;
    status: number;
  }[] = [
    {
      name: 'wrong password',
      user: { name: 'admin', domain: { id: 'default' }, password: 'nope' },
      status: 401,
    },
    {
      name: 'unknown user',
      user: { name: 'nobody', domain: { id: 'default' }, password: 'admin' },
      status: 401,
    },
    {
      name: 'unknown domain',
      user: { name: 'admin', domain: { name: 'Nowhere' }, password: 'admin' },
      status: 401,
    },
    { name: 'unknown user id', user: { id: 'f'.repeat(32), password: 'admin' }, status: 401 },
    { name: 'name without domain', user: { name: 'admin', password: 'admin' }, status: 400 },
    {
      name: 'project the user has no role on',
      user: { name: 'admin', domain: { id: 'default' }, password: 'admin' },
      scope: { project: { name: 'service', domain: { id: 'default' } } },
      status: 401,
    },
    {
      name: 'unknown project',
      user: { name: 'admin', domain: { id: 'default' }, password: 'admin' },
      scope: { project: { id: 'nope' } },
      status: 401,
    },
    {
      name: 'two scopes',
      user: { name: 'admin', domain: { id: 'default' }, password: 'admin' },
      scope: { project: { id: 'x' }, domain: { id: 'default' } },
      status: 400,
    },
  ];
  for (const c of failures) {
    it(`refuses: ${c.name} (${c.status}, Keystone shape, no hint which part was wrong)`, async (t) => {
      const h = await identityHarness(t);
      const res = await passwordAuth(h, c.user, c.scope);
      assert.equal(res.statusCode, c.status, res.body);
      const body = JSON.parse(res.body) as {
        error: { code: number; title: string; message: string };
      };
      assert.equal(body.error.code, c.status);
      if (c.status === 401)
        assert.equal(body.error.message, 'The request you have made requires authentication.');
    });
  }
});

describe('identity: validating and revoking', () => {
  it('HEAD checks a token; DELETE revokes it, after which validation and use fail', async (t) => {
    const h = await identityHarness(t);
    const token = await h.token(
      { name: 'admin', password: 'admin' },
      { project: { name: 'admin', domain: { id: 'default' } } },
    );
    const head = await h.app.inject({
      method: 'HEAD',
      url: '/v3/auth/tokens',
      headers: { 'x-auth-token': h.adminToken, 'x-subject-token': token },
    });
    assert.equal(head.statusCode, 200);
    const del = await h.app.inject({
      method: 'DELETE',
      url: '/v3/auth/tokens',
      headers: { 'x-auth-token': h.adminToken, 'x-subject-token': token },
    });
    assert.equal(del.statusCode, 204);
    assert.equal((await validate(h, token)).status, 404);
    assert.equal((await h.call('GET', '/v3/projects', token)).status, 401);
    assert.equal(
      (await validate(h, h.adminToken)).status,
      200,
      'other tokens of the same user still work',
    );
  });

  it('a tampered or foreign token is not found, and as X-Auth-Token is a 401', async (t) => {
    const h = await identityHarness(t);
    const tampered = `${h.adminToken.slice(0, -2)}AA`;
    assert.equal((await validate(h, tampered)).status, 404);
    assert.equal((await validate(h, 'not-a-token')).status, 404);
    const res = await h.call('GET', '/v3/projects', tampered);
    assert.equal(res.status, 401);
    assert.equal(res.json<{ error: { code: number } }>().error.code, 401);
  });

  it('changing a password revokes the old tokens but not one issued right after', async (t) => {
    const h = await identityHarness(t);
    const m = await member(h, 'pat');
    const before = await h.token({ name: 'pat', password: 'pat-pw' }, 'unscoped');
    const change = await h.call('POST', `/v3/users/${m.user.id}/password`, undefined, {
      user: { original_password: 'pat-pw', password: 'pat-pw2' },
    });
    assert.equal(change.status, 204);
    const after = await h.token({ name: 'pat', password: 'pat-pw2' }, 'unscoped');
    assert.equal((await validate(h, before)).status, 404);
    assert.equal((await validate(h, after)).status, 200, 'same second, later instant: still valid');
    const old = await passwordAuth(h, {
      name: 'pat',
      domain: { id: 'default' },
      password: 'pat-pw',
    });
    assert.equal(old.statusCode, 401);
  });

  it('disabling a user or project invalidates tokens at once', async (t) => {
    const h = await identityHarness(t);
    const m = await member(h, 'sam');
    const token = await h.token({ name: 'sam', password: 'sam-pw' }, 'unscoped');
    assert.equal((await validate(h, token)).status, 200);
    await h.call('PATCH', `/v3/users/${m.user.id}`, h.adminToken, { user: { enabled: false } });
    assert.equal((await validate(h, token)).status, 404);
    assert.equal(
      (await passwordAuth(h, { name: 'sam', domain: { id: 'default' }, password: 'sam-pw' }))
        .statusCode,
      401,
    );
    await h.call('PATCH', `/v3/users/${m.user.id}`, h.adminToken, { user: { enabled: true } });
    assert.equal(
      (await validate(h, token)).status,
      404,
      're-enabling does not bring old tokens back',
    );
  });

  it('a user may validate their own token; another user may not validate it', async (t) => {
    const h = await identityHarness(t);
    await member(h, 'kim');
    await member(h, 'lee');
    const kim = await h.token({ name: 'kim', password: 'kim-pw' }, 'unscoped');
    const lee = await h.token({ name: 'lee', password: 'lee-pw' }, 'unscoped');
    const own = await h.app.inject({
      method: 'GET',
      url: '/v3/auth/tokens',
      headers: { 'x-auth-token': kim, 'x-subject-token': kim },
    });
    assert.equal(own.statusCode, 200);
    const other = await h.app.inject({
      method: 'GET',
      url: '/v3/auth/tokens',
      headers: { 'x-auth-token': lee, 'x-subject-token': kim },
    });
    assert.equal(other.statusCode, 403);
  });
});

describe('identity: /v3/auth discovery', () => {
  it('lists the projects, domains and system a token user can scope to, and the catalog', async (t) => {
    const h = await identityHarness(t);
    const projects = (await h.call('GET', '/v3/auth/projects', h.adminToken)).json<{
      projects: { name: string }[];
    }>();
    assert.deepEqual(
      projects.projects.map((p) => p.name),
      ['admin'],
    );
    const domains = (await h.call('GET', '/v3/auth/domains', h.adminToken)).json<{
      domains: { id: string }[];
    }>();
    assert.deepEqual(
      domains.domains.map((d) => d.id),
      ['default'],
    );
    const system = (await h.call('GET', '/v3/auth/system', h.adminToken)).json<{
      system: unknown[];
    }>();
    assert.deepEqual(system.system, [{ all: true }]);
    const catalog = (await h.call('GET', '/v3/auth/catalog', h.adminToken)).json<{
      catalog: { type: string }[];
    }>();
    assert.deepEqual(
      catalog.catalog.map((c) => c.type),
      ['identity'],
    );
  });
});

describe('identity: expiry', () => {
  it('an expired token is not found, unless allow_expired asks within the window', async (t) => {
    const h = await identityHarness(t, {
      identity: { token_expiration: 60, allow_expired_window: 600 },
    });
    const token = await h.token(
      { name: 'admin', password: 'admin' },
      { project: { name: 'admin', domain: { id: 'default' } } },
    );
    // A fresh admin token to ask with, valid after the clock moves.
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 61_000 });
    let asker = await h.token(
      { name: 'admin', password: 'admin' },
      { project: { name: 'admin', domain: { id: 'default' } } },
    );
    const ask = (query: string) =>
      h.app.inject({
        method: 'GET',
        url: `/v3/auth/tokens${query}`,
        headers: { 'x-auth-token': asker, 'x-subject-token': token },
      });
    assert.equal((await ask('')).statusCode, 404);
    assert.equal((await ask('?allow_expired=1')).statusCode, 200);
    assert.equal(
      (await h.call('GET', '/v3/projects', token)).status,
      401,
      'an expired token authenticates nothing',
    );
    t.mock.timers.setTime(Date.now() + 700_000);
    asker = await h.token(
      { name: 'admin', password: 'admin' },
      { project: { name: 'admin', domain: { id: 'default' } } },
    );
    assert.equal((await ask('?allow_expired=1')).statusCode, 404, 'past the window');
  });
});
