import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { identityHarness, type Harness } from './harness.ts';

type Project = {
  id: string;
  name: string;
  parent_id: string;
  domain_id: string;
  tags: string[];
  enabled: boolean;
};
type User = { id: string; name: string; email?: string; enabled: boolean };

async function createProject(h: Harness, body: Record<string, unknown>): Promise<Project> {
  const res = await h.call('POST', '/v3/projects', h.adminToken, { project: body });
  assert.equal(res.status, 201, JSON.stringify(res.json()));
  return res.json<{ project: Project }>().project;
}

async function passwordStatus(h: Harness, name: string, password: string): Promise<number> {
  const res = await h.app.inject({
    method: 'POST',
    url: '/v3/auth/tokens',
    payload: {
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name, domain: { id: 'default' }, password } },
        },
      },
    },
  });
  return res.statusCode;
}

describe('identity: projects', () => {
  it('builds a hierarchy and shows parents and subtree as lists and ids', async (t) => {
    const h = await identityHarness(t);
    const top = await createProject(h, { name: 'top', tags: ['a', 'b'] });
    const mid = await createProject(h, { name: 'mid', parent_id: top.id });
    const leaf = await createProject(h, { name: 'leaf', parent_id: mid.id });
    assert.equal(top.parent_id, 'default');
    assert.equal(leaf.domain_id, 'default');
    const parents = (
      await h.call('GET', `/v3/projects/${leaf.id}?parents_as_list`, h.adminToken)
    ).json<{ project: { parents: { project: Project }[] } }>();
    assert.deepEqual(
      parents.project.parents.map((p) => p.project.name),
      ['mid', 'top'],
    );
    const subtree = (
      await h.call('GET', `/v3/projects/${top.id}?subtree_as_ids`, h.adminToken)
    ).json<{ project: { subtree: unknown } }>();
    assert.deepEqual(subtree.project.subtree, { [mid.id]: { [leaf.id]: null } });
    const del = await h.call('DELETE', `/v3/projects/${mid.id}`, h.adminToken);
    assert.equal(del.status, 403, 'not a leaf');
    assert.equal((await h.call('DELETE', `/v3/projects/${leaf.id}`, h.adminToken)).status, 204);
    assert.equal((await h.call('GET', `/v3/projects/${leaf.id}`, h.adminToken)).status, 404);
  });

  it('filters by tags the way Keystone does', async (t) => {
    const h = await identityHarness(t);
    await createProject(h, { name: 'p1', tags: ['x', 'y'] });
    await createProject(h, { name: 'p2', tags: ['x'] });
    await createProject(h, { name: 'p3', tags: ['z'] });
    const names = async (q: string) =>
      (await h.call('GET', `/v3/projects?${q}`, h.adminToken))
        .json<{ projects: Project[] }>()
        .projects.map((p) => p.name)
        .sort();
    assert.deepEqual(await names('tags=x,y'), ['p1']);
    assert.deepEqual(await names('tags-any=y,z'), ['p1', 'p3']);
    assert.deepEqual(await names('not-tags-any=x'), ['admin', 'p3', 'service']);
    assert.deepEqual(await names('name=p2'), ['p2']);
  });

  it('tags API: add, check, replace, remove', async (t) => {
    const h = await identityHarness(t);
    const p = await createProject(h, { name: 'tagged' });
    assert.equal((await h.call('PUT', `/v3/projects/${p.id}/tags/red`, h.adminToken)).status, 201);
    assert.equal((await h.call('GET', `/v3/projects/${p.id}/tags/red`, h.adminToken)).status, 204);
    assert.equal((await h.call('GET', `/v3/projects/${p.id}/tags/blue`, h.adminToken)).status, 404);
    const replaced = await h.call('PUT', `/v3/projects/${p.id}/tags`, h.adminToken, {
      tags: ['one', 'two'],
    });
    assert.deepEqual(replaced.json<{ tags: string[] }>().tags, ['one', 'two']);
    assert.equal(
      (await h.call('DELETE', `/v3/projects/${p.id}/tags/one`, h.adminToken)).status,
      204,
    );
    assert.deepEqual(
      (await h.call('GET', `/v3/projects/${p.id}/tags`, h.adminToken)).json<{ tags: string[] }>()
        .tags,
      ['two'],
    );
  });

  it('a duplicate name in a domain is a 409; the same name in another domain is fine', async (t) => {
    const h = await identityHarness(t);
    await createProject(h, { name: 'dup' });
    const again = await h.call('POST', '/v3/projects', h.adminToken, { project: { name: 'dup' } });
    assert.equal(again.status, 409);
    assert.match(
      again.json<{ error: { message: string } }>().error.message,
      /Duplicate entry found with name dup at domain ID default/,
    );
    const domain = (
      await h.call('POST', '/v3/domains', h.adminToken, { domain: { name: 'other' } })
    ).json<{ domain: { id: string } }>().domain;
    await createProject(h, { name: 'dup', domain_id: domain.id });
  });

  it('a domain must be disabled before it is deleted', async (t) => {
    const h = await identityHarness(t);
    const d = (
      await h.call('POST', '/v3/domains', h.adminToken, { domain: { name: 'gone' } })
    ).json<{ domain: { id: string } }>().domain;
    assert.equal((await h.call('DELETE', `/v3/domains/${d.id}`, h.adminToken)).status, 403);
    assert.equal(
      (await h.call('PATCH', `/v3/domains/${d.id}`, h.adminToken, { domain: { enabled: false } }))
        .status,
      200,
    );
    assert.equal((await h.call('DELETE', `/v3/domains/${d.id}`, h.adminToken)).status, 204);
  });
});

describe('identity: users and passwords', () => {
  it('stores extra attributes, filters by name, and hides nothing it was given', async (t) => {
    const h = await identityHarness(t);
    const created = await h.call('POST', '/v3/users', h.adminToken, {
      user: { name: 'ann', password: 'pw', email: 'ann@example.org', team: 'blue' },
    });
    assert.equal(created.status, 201);
    const user = created.json<{ user: User & { team: string; password?: string } }>().user;
    assert.equal(user.email, 'ann@example.org');
    assert.equal(user.team, 'blue');
    assert.equal(user.password, undefined, 'the password is never returned');
    const list = (await h.call('GET', '/v3/users?name=ann', h.adminToken)).json<{ users: User[] }>()
      .users;
    assert.deepEqual(
      list.map((u) => u.id),
      [user.id],
    );
  });

  it('locks a user out after the configured failures, for the configured time', async (t) => {
    const h = await identityHarness(t, {
      identity: { lockout_failure_attempts: 2, lockout_duration: 3600 },
    });
    await h.call('POST', '/v3/users', h.adminToken, { user: { name: 'bob', password: 'right' } });
    assert.equal(await passwordStatus(h, 'bob', 'wrong'), 401);
    assert.equal(await passwordStatus(h, 'bob', 'wrong'), 401);
    assert.equal(
      await passwordStatus(h, 'bob', 'right'),
      401,
      'locked: even the right password fails',
    );
    const id = (await h.call('GET', '/v3/users?name=bob', h.adminToken)).json<{ users: User[] }>()
      .users[0]!.id;
    await h.call('PATCH', `/v3/users/${id}`, h.adminToken, { user: { enabled: true } });
    assert.equal(
      await passwordStatus(h, 'bob', 'right'),
      201,
      'an admin re-enabling lifts the lockout',
    );
  });

  it('a user with ignore_lockout_failure_attempts is never locked out', async (t) => {
    const h = await identityHarness(t, { identity: { lockout_failure_attempts: 1 } });
    await h.call('POST', '/v3/users', h.adminToken, {
      user: { name: 'svc', password: 'right', options: { ignore_lockout_failure_attempts: true } },
    });
    assert.equal(await passwordStatus(h, 'svc', 'wrong'), 401);
    assert.equal(await passwordStatus(h, 'svc', 'right'), 201);
  });

  it('enforces the password regex and the history rule', async (t) => {
    const h = await identityHarness(t, {
      identity: {
        password_regex: '^.{8,}$',
        password_regex_description: 'at least 8 characters',
        unique_last_password_count: 2,
        admin_password: 'admin-password',
      },
    });
    const weak = await h.call('POST', '/v3/users', h.adminToken, {
      user: { name: 'cy', password: 'short' },
    });
    assert.equal(weak.status, 400);
    assert.match(
      weak.json<{ error: { message: string } }>().error.message,
      /at least 8 characters/,
    );
    const ok = await h.call('POST', '/v3/users', h.adminToken, {
      user: { name: 'cy', password: 'long-enough-1' },
    });
    assert.equal(ok.status, 201);
    const id = ok.json<{ user: User }>().user.id;
    const reuse = await h.call('POST', `/v3/users/${id}/password`, undefined, {
      user: { original_password: 'long-enough-1', password: 'long-enough-1' },
    });
    assert.equal(reuse.status, 400);
    const fresh = await h.call('POST', `/v3/users/${id}/password`, undefined, {
      user: { original_password: 'long-enough-1', password: 'long-enough-2' },
    });
    assert.equal(fresh.status, 204);
    const wrongOriginal = await h.call('POST', `/v3/users/${id}/password`, undefined, {
      user: { original_password: 'guess', password: 'long-enough-3' },
    });
    assert.equal(wrongOriginal.status, 401);
  });

  it('enforces a minimum length, counting characters, not bytes', async (t) => {
    const h = await identityHarness(t, {
      identity: { password_min_length: 6, admin_password: 'admin-password' },
    });
    const short = await h.call('POST', '/v3/users', h.adminToken, {
      user: { name: 'gil', password: 'ünï' },
    });
    assert.equal(short.status, 400);
    assert.match(
      short.json<{ error: { message: string } }>().error.message,
      /at least 6 characters/,
    );
    const ok = await h.call('POST', '/v3/users', h.adminToken, {
      user: { name: 'gil', password: 'ünïcöd' },
    });
    assert.equal(ok.status, 201);
  });

  it('deleting a user revokes their tokens and removes them', async (t) => {
    const h = await identityHarness(t);
    const id = (
      await h.call('POST', '/v3/users', h.adminToken, { user: { name: 'dee', password: 'pw' } })
    ).json<{ user: User }>().user.id;
    const token = await h.token({ name: 'dee', password: 'pw' }, 'unscoped');
    assert.equal((await h.call('DELETE', `/v3/users/${id}`, h.adminToken)).status, 204);
    const check = await h.app.inject({
      method: 'GET',
      url: '/v3/auth/tokens',
      headers: { 'x-auth-token': h.adminToken, 'x-subject-token': token },
    });
    assert.equal(check.statusCode, 404);
    assert.equal((await h.call('GET', `/v3/users/${id}`, h.adminToken)).status, 404);
  });
});

describe('identity: a user without roles sees nothing and changes nothing', () => {
  it('gets 403 on admin APIs and can still read their own user', async (t) => {
    const h = await identityHarness(t);
    const me = (
      await h.call('POST', '/v3/users', h.adminToken, { user: { name: 'eve', password: 'pw' } })
    ).json<{ user: User }>().user;
    const token = await h.token({ name: 'eve', password: 'pw' }, 'unscoped');
    const cases: [string, string, unknown?][] = [
      ['GET', '/v3/projects'],
      ['GET', '/v3/users'],
      ['POST', '/v3/projects', { project: { name: 'mine' } }],
      ['POST', '/v3/users', { user: { name: 'x' } }],
      ['POST', '/v3/domains', { domain: { name: 'x' } }],
      ['POST', '/v3/services', { service: { type: 'x' } }],
      ['GET', '/v3/users/' + 'f'.repeat(32)],
    ];
    for (const [method, url, body] of cases) {
      const res = await h.call(method, url, token, body);
      assert.ok(res.status === 403 || res.status === 404, `${method} ${url}: ${res.status}`);
      if (res.status === 403)
        assert.match(
          res.json<{ error: { message: string } }>().error.message,
          /not authorized to perform the requested action: identity:/,
        );
    }
    assert.equal((await h.call('GET', `/v3/users/${me.id}`, token)).status, 200);
  });
});

describe('identity: bad input is a 4xx in Keystone shape, never a 500', () => {
  const cases: {
    name: string;
    method: string;
    url: string;
    body?: unknown;
    raw?: string;
    status: number;
  }[] = [
    { name: 'bad JSON', method: 'POST', url: '/v3/projects', raw: '{"project":', status: 400 },
    {
      name: 'project without name',
      method: 'POST',
      url: '/v3/projects',
      body: { project: {} },
      status: 400,
    },
    {
      name: 'project name too long',
      method: 'POST',
      url: '/v3/projects',
      body: { project: { name: 'x'.repeat(65) } },
      status: 400,
    },
    {
      name: 'project name of wrong type',
      method: 'POST',
      url: '/v3/projects',
      body: { project: { name: 42 } },
      status: 400,
    },
    {
      name: 'project in unknown domain',
      method: 'POST',
      url: '/v3/projects',
      body: { project: { name: 'p', domain_id: 'nope' } },
      status: 404,
    },
    {
      name: 'project under unknown parent',
      method: 'POST',
      url: '/v3/projects',
      body: { project: { name: 'p', parent_id: 'nope' } },
      status: 404,
    },
    {
      name: 'enabled not a boolean',
      method: 'PATCH',
      url: '/v3/domains/default',
      body: { domain: { enabled: 'yes' } },
      status: 400,
    },
    {
      name: 'empty update',
      method: 'PATCH',
      url: '/v3/domains/default',
      body: { domain: {} },
      status: 400,
    },
    {
      name: 'unknown domain field',
      method: 'POST',
      url: '/v3/domains',
      body: { domain: { name: 'd', colour: 'red' } },
      status: 400,
    },
    {
      name: 'user name too long',
      method: 'POST',
      url: '/v3/users',
      body: { user: { name: 'u'.repeat(256) } },
      status: 400,
    },
    {
      name: 'user option unknown',
      method: 'POST',
      url: '/v3/users',
      body: { user: { name: 'u', options: { fly: true } } },
      status: 400,
    },
    { name: 'unknown user', method: 'GET', url: `/v3/users/${'a'.repeat(32)}`, status: 404 },
    {
      name: 'unknown project',
      method: 'PATCH',
      url: `/v3/projects/${'a'.repeat(32)}`,
      body: { project: { name: 'x' } },
      status: 404,
    },
    {
      name: 'endpoint with bad interface',
      method: 'POST',
      url: '/v3/endpoints',
      body: { endpoint: { service_id: 'x', interface: 'secret', url: 'http://x' } },
      status: 400,
    },
    {
      name: 'endpoint with a URL that is not one',
      method: 'POST',
      url: '/v3/endpoints',
      body: { endpoint: { service_id: 'x', interface: 'public', url: 'not a url' } },
      status: 400,
    },
    {
      name: 'endpoint for unknown service',
      method: 'POST',
      url: '/v3/endpoints',
      body: { endpoint: { service_id: 'x', interface: 'public', url: 'http://x' } },
      status: 404,
    },
    {
      name: 'region under unknown parent',
      method: 'POST',
      url: '/v3/regions',
      body: { region: { id: 'r2', parent_region_id: 'nope' } },
      status: 404,
    },
    {
      name: 'auth without methods',
      method: 'POST',
      url: '/v3/auth/tokens',
      body: { auth: { identity: { methods: [] } } },
      status: 400,
    },
    {
      name: 'auth with unknown method',
      method: 'POST',
      url: '/v3/auth/tokens',
      body: { auth: { identity: { methods: ['kerberos'] } } },
      status: 401,
    },
    {
      name: 'auth password method without password',
      method: 'POST',
      url: '/v3/auth/tokens',
      body: { auth: { identity: { methods: ['password'] } } },
      status: 400,
    },
    {
      name: 'auth with a huge password',
      method: 'POST',
      url: '/v3/auth/tokens',
      body: {
        auth: {
          identity: {
            methods: ['password'],
            password: {
              user: { name: 'admin', domain: { id: 'default' }, password: 'x'.repeat(5000) },
            },
          },
        },
      },
      status: 400,
    },
    { name: 'unknown route', method: 'GET', url: '/v3/nothing', status: 404 },
    { name: 'wrong method', method: 'PUT', url: '/v3/projects', body: {}, status: 405 },
  ];
  for (const c of cases) {
    it(c.name, async (t) => {
      const h = await identityHarness(t);
      const res = await h.app.inject({
        method: c.method as 'GET',
        url: c.url,
        headers: { 'x-auth-token': h.adminToken, 'content-type': 'application/json' },
        ...(c.raw !== undefined
          ? { payload: c.raw }
          : c.body !== undefined
            ? { payload: JSON.stringify(c.body) }
            : {}),
      });
      assert.equal(res.statusCode, c.status, res.body);
      const body = JSON.parse(res.body) as {
        error: { code: number; title: string; message: string };
      };
      assert.equal(body.error.code, c.status);
      assert.equal(typeof body.error.title, 'string');
      assert.ok(body.error.message.length > 0);
    });
  }
});

describe('identity: deleting a user or project removes what belonged to it', () => {
  it('credentials go with their user; application credentials and limits with their project', async (t) => {
    const h = await identityHarness(t);
    const user = (
      await h.call('POST', '/v3/users', h.adminToken, { user: { name: 'fay', password: 'pw' } })
    ).json<{
      user: User;
    }>().user;
    const project = await createProject(h, { name: 'fay-project' });
    const cred = await h.call('POST', '/v3/credentials', h.adminToken, {
      credential: {
        user_id: user.id,
        project_id: project.id,
        type: 'ec2',
        blob: JSON.stringify({ access: 'ak', secret: 'sk' }),
      },
    });
    assert.equal(cred.status, 201);
    const credId = cred.json<{ credential: { id: string } }>().credential.id;
    assert.equal((await h.call('DELETE', `/v3/projects/${project.id}`, h.adminToken)).status, 204);
    assert.equal((await h.call('GET', `/v3/credentials/${credId}`, h.adminToken)).status, 404);
    const other = await h.call('POST', '/v3/credentials', h.adminToken, {
      credential: { user_id: user.id, type: 'cert', blob: 'x' },
    });
    assert.equal(other.status, 201);
    assert.equal((await h.call('DELETE', `/v3/users/${user.id}`, h.adminToken)).status, 204);
    const left = await h.call('GET', `/v3/credentials?user_id=${user.id}`, h.adminToken);
    assert.deepEqual(left.json<{ credentials: unknown[] }>().credentials, []);
  });
});
