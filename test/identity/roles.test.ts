import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { identityHarness, type Harness } from './harness.ts';
import {
  assertKeystoneError,
  del,
  mkDomain,
  mkProject,
  mkRole,
  mkUser,
  put,
  raw,
  roleId,
  tokenOf,
  validate,
} from './rbac-builders.ts';

const BASE = 'http://localhost:80/v3';

type RoleBody = {
  role: {
    id: string;
    name: string;
    domain_id: string | null;
    description: string | null;
    options: Record<string, unknown>;
    links: { self: string };
  };
};
type Brief = { id: string; name: string; links: { self: string } };

const brief = (id: string, name: string): Brief => ({
  id,
  name,
  links: { self: `${BASE}/roles/${id}` },
});

/** A user who is only a reader on a project, and their token. */
async function readerToken(h: Harness): Promise<string> {
  const project = await mkProject(h, 'readers');
  const user = await mkUser(h, 'rita');
  await put(h, `/v3/projects/${project}/users/${user}/roles/${await roleId(h, 'reader')}`);
  return tokenOf(h, 'rita', { project: { id: project } });
}

describe('identity: roles', () => {
  it('creates, shows, updates, lists and deletes a role', async (t) => {
    const h = await identityHarness(t);
    const created = await h.call('POST', '/v3/roles', h.adminToken, {
      role: { name: 'Developer', description: 'My new role' },
    });
    assert.equal(created.status, 201);
    const role = created.json<RoleBody>().role;
    assert.deepEqual(role, {
      id: role.id,
      name: 'Developer',
      domain_id: null,
      description: 'My new role',
      options: {},
      links: { self: `${BASE}/roles/${role.id}` },
    });
    const shown = await h.call('GET', `/v3/roles/${role.id}`, h.adminToken);
    assert.deepEqual(shown.json<RoleBody>().role, role);

    const patched = await h.call('PATCH', `/v3/roles/${role.id}`, h.adminToken, {
      role: { name: 'Dev', description: null },
    });
    assert.equal(patched.status, 200);
    assert.equal(patched.json<RoleBody>().role.name, 'Dev');
    assert.equal(patched.json<RoleBody>().role.description, null);

    const listed = await h.call('GET', '/v3/roles', h.adminToken);
    assert.deepEqual(
      listed
        .json<{ roles: { name: string }[] }>()
        .roles.map((r) => r.name)
        .sort(),
      ['Dev', 'admin', 'member', 'reader', 'service'],
    );
    assert.deepEqual(listed.json<{ links: unknown }>().links, {
      self: `${BASE}/roles`,
      previous: null,
      next: null,
    });

    assert.equal((await h.call('DELETE', `/v3/roles/${role.id}`, h.adminToken)).status, 204);
    const gone = await h.call('GET', `/v3/roles/${role.id}`, h.adminToken);
    assert.equal(assertKeystoneError(gone, 404), `Could not find role: ${role.id}.`);
  });

  it('filters by name and keeps domain-specific roles apart', async (t) => {
    const h = await identityHarness(t);
    const d = await mkDomain(h, 'acme');
    const local = await mkRole(h, 'member', d); // same name as the global one: fine
    const cases: { name: string; query: string; expect: string[] }[] = [
      { name: 'by name', query: '?name=member', expect: [await roleId(h, 'member')] },
      { name: 'unknown name', query: '?name=nope', expect: [] },
      { name: 'by domain', query: `?domain_id=${d}`, expect: [local] },
      { name: 'by domain and name', query: `?domain_id=${d}&name=reader`, expect: [] },
    ];
    for (const c of cases) {
      const res = await h.call('GET', `/v3/roles${c.query}`, h.adminToken);
      assert.equal(res.status, 200, c.name);
      assert.deepEqual(
        res.json<{ roles: { id: string }[] }>().roles.map((r) => r.id),
        c.expect,
        c.name,
      );
    }
    const shown = await h.call('GET', `/v3/roles/${local}`, h.adminToken);
    assert.equal(shown.json<RoleBody>().role.domain_id, d);
  });

  it('protects immutable roles until the option is turned off', async (t) => {
    const h = await identityHarness(t);
    const created = await h.call('POST', '/v3/roles', h.adminToken, {
      role: { name: 'locked', options: { immutable: true } },
    });
    const id = created.json<RoleBody>().role.id;
    assert.deepEqual(created.json<RoleBody>().role.options, { immutable: true });
    assertKeystoneError(
      await h.call('PATCH', `/v3/roles/${id}`, h.adminToken, { role: { name: 'x' } }),
      403,
    );
    assertKeystoneError(await h.call('DELETE', `/v3/roles/${id}`, h.adminToken), 403);
    const unlocked = await h.call('PATCH', `/v3/roles/${id}`, h.adminToken, {
      role: { options: { immutable: null } },
    });
    assert.deepEqual(unlocked.json<RoleBody>().role.options, {});
    await del(h, `/v3/roles/${id}`);
  });

  it('answers conflicts and refused updates in Keystone’s shape', async (t) => {
    const h = await identityHarness(t);
    const id = await mkRole(h, 'ops');
    const d = await mkDomain(h, 'acme');
    const cases: { name: string; method: string; url: string; body: unknown; status: number }[] = [
      {
        name: 'duplicate',
        method: 'POST',
        url: '/v3/roles',
        body: { role: { name: 'ops' } },
        status: 409,
      },
      {
        name: 'rename onto another',
        method: 'PATCH',
        url: `/v3/roles/${id}`,
        body: { role: { name: 'admin' } },
        status: 409,
      },
      {
        name: 'move domain',
        method: 'PATCH',
        url: `/v3/roles/${id}`,
        body: { role: { domain_id: d } },
        status: 400,
      },
      {
        name: 'change id',
        method: 'PATCH',
        url: `/v3/roles/${id}`,
        body: { role: { id: 'other' } },
        status: 400,
      },
      {
        name: 'unknown domain',
        method: 'POST',
        url: '/v3/roles',
        body: { role: { name: 'x', domain_id: 'nope' } },
        status: 404,
      },
      {
        name: 'patch unknown',
        method: 'PATCH',
        url: '/v3/roles/nope',
        body: { role: { name: 'y' } },
        status: 404,
      },
      {
        name: 'delete unknown',
        method: 'DELETE',
        url: '/v3/roles/nope',
        body: undefined,
        status: 404,
      },
    ];
    for (const c of cases) {
      assertKeystoneError(await h.call(c.method, c.url, h.adminToken, c.body), c.status, c.name);
    }
  });

  it('rejects malformed bodies with 400', async (t) => {
    const h = await identityHarness(t);
    const id = await mkRole(h, 'ops');
    const bodies: { name: string; method: 'POST' | 'PATCH'; body: unknown }[] = [
      { name: 'no role', method: 'POST', body: {} },
      { name: 'role not an object', method: 'POST', body: { role: 'admin' } },
      { name: 'no name', method: 'POST', body: { role: { description: 'x' } } },
      { name: 'name a number', method: 'POST', body: { role: { name: 42 } } },
      { name: 'blank name', method: 'POST', body: { role: { name: '   ' } } },
      { name: 'name too long', method: 'POST', body: { role: { name: 'n'.repeat(256) } } },
      {
        name: 'unknown option',
        method: 'POST',
        body: { role: { name: 'x', options: { foo: true } } },
      },
      {
        name: 'option not boolean',
        method: 'POST',
        body: { role: { name: 'x', options: { immutable: 'yes' } } },
      },
      {
        name: 'description a list',
        method: 'POST',
        body: { role: { name: 'x', description: [] } },
      },
      { name: 'body an array', method: 'POST', body: [] },
      { name: 'empty patch', method: 'PATCH', body: { role: {} } },
      { name: 'patch name too long', method: 'PATCH', body: { role: { name: 'n'.repeat(256) } } },
    ];
    for (const b of bodies) {
      const url = b.method === 'POST' ? '/v3/roles' : `/v3/roles/${id}`;
      assertKeystoneError(await h.call(b.method, url, h.adminToken, b.body), 400, b.name);
    }
    assertKeystoneError(await raw(h, 'POST', '/v3/roles', '{"role": {"name": '), 400, 'bad JSON');
    assertKeystoneError(await raw(h, 'PATCH', `/v3/roles/${id}`, 'nope'), 400, 'bad JSON');
  });

  it('forbids a reader to write roles or implications', async (t) => {
    const h = await identityHarness(t);
    const token = await readerToken(h);
    const id = await mkRole(h, 'ops');
    const member = await roleId(h, 'member');
    for (const [method, url, body] of [
      ['POST', '/v3/roles', { role: { name: 'x' } }],
      ['PATCH', `/v3/roles/${id}`, { role: { name: 'y' } }],
      ['DELETE', `/v3/roles/${id}`, undefined],
      ['PUT', `/v3/roles/${id}/implies/${member}`, undefined],
      ['DELETE', `/v3/roles/${member}/implies/${await roleId(h, 'reader')}`, undefined],
    ] as const) {
      assertKeystoneError(await h.call(method, url, token, body), 403, `${method} ${url}`);
    }
  });
});

describe('identity: implied roles', () => {
  it('creates, shows, checks, lists and deletes an inference rule', async (t) => {
    const h = await identityHarness(t);
    const ops = await mkRole(h, 'ops');
    const member = await roleId(h, 'member');
    const url = `/v3/roles/${ops}/implies/${member}`;
    const expected = {
      role_inference: { prior_role: brief(ops, 'ops'), implies: brief(member, 'member') },
      links: { self: `${BASE}${url.slice(3)}` },
    };
    const created = await h.call('PUT', url, h.adminToken);
    assert.equal(created.status, 201);
    assert.deepEqual(created.json(), expected);
    assert.deepEqual((await h.call('GET', url, h.adminToken)).json(), expected);
    assert.equal((await h.call('HEAD', url, h.adminToken)).status, 204);

    const listed = await h.call('GET', `/v3/roles/${ops}/implies`, h.adminToken);
    assert.deepEqual(listed.json(), {
      role_inference: { prior_role: brief(ops, 'ops'), implies: [brief(member, 'member')] },
      links: { self: `${BASE}/roles/${ops}/implies` },
    });

    const all = await h.call('GET', '/v3/role_inferences', h.adminToken);
    const rules = all
      .json<{ role_inferences: { prior_role: Brief; implies: Brief[] }[] }>()
      .role_inferences.map((r) => [r.prior_role.name, r.implies.map((i) => i.name)] as const)
      .sort();
    assert.deepEqual(rules, [
      ['admin', ['member']],
      ['member', ['reader']],
      ['ops', ['member']],
    ]);

    await del(h, url);
    assertKeystoneError(await h.call('GET', url, h.adminToken), 404, 'after delete');
    assert.equal((await h.call('HEAD', url, h.adminToken)).status, 404);
    assertKeystoneError(await h.call('DELETE', url, h.adminToken), 404, 'delete twice');
  });

  it('refuses rules Keystone refuses', async (t) => {
    const h = await identityHarness(t);
    const d = await mkDomain(h, 'acme');
    const local = await mkRole(h, 'local', d);
    const ops = await mkRole(h, 'ops');
    const [admin, member, reader] = [
      await roleId(h, 'admin'),
      await roleId(h, 'member'),
      await roleId(h, 'reader'),
    ];
    const cases: { name: string; prior: string; implied: string; status: number }[] = [
      { name: 'a cycle (member implies reader)', prior: reader, implied: member, status: 403 },
      { name: 'implying admin', prior: ops, implied: admin, status: 403 },
      { name: 'a domain-specific implied role', prior: ops, implied: local, status: 403 },
      { name: 'itself', prior: ops, implied: ops, status: 400 },
      { name: 'an unknown prior role', prior: 'nope', implied: ops, status: 404 },
      { name: 'an unknown implied role', prior: ops, implied: 'nope', status: 404 },
    ];
    for (const c of cases) {
      const res = await h.call('PUT', `/v3/roles/${c.prior}/implies/${c.implied}`, h.adminToken);
      assertKeystoneError(res, c.status, c.name);
    }
    // A domain-specific role may imply global ones.
    assert.equal(
      (await h.call('PUT', `/v3/roles/${local}/implies/${member}`, h.adminToken)).status,
      201,
    );
  });

  it('puts implied roles in tokens: admin implies member implies reader', async (t) => {
    const h = await identityHarness(t);
    const d = await mkDomain(h, 'acme');
    const user = await mkUser(h, 'alice', d);
    const ops = await mkRole(h, 'ops');
    const local = await mkRole(h, 'local', d);
    for (const [prior, implied] of [
      [ops, await roleId(h, 'member')],
      [local, ops],
    ]) {
      const res = await h.call('PUT', `/v3/roles/${prior}/implies/${implied}`, h.adminToken);
      assert.equal(res.status, 201);
    }
    const cases: { name: string; role: string; roles: string[] }[] = [
      { name: 'admin', role: await roleId(h, 'admin'), roles: ['admin', 'member', 'reader'] },
      { name: 'a new role implying member', role: ops, roles: ['member', 'ops', 'reader'] },
      {
        name: 'a domain-specific role implying ops',
        role: local,
        roles: ['member', 'ops', 'reader'],
      },
    ];
    for (const c of cases) {
      const project = await mkProject(h, `p-${c.role}`, { domainId: d });
      await put(h, `/v3/projects/${project}/users/${user}/roles/${c.role}`);
      const token = await tokenOf(h, 'alice', { project: { id: project } }, d);
      const got = await validate(h, token);
      // Domain-specific roles only imply; a token never carries one.
      assert.deepEqual(got, { status: 200, roles: c.roles }, c.name);
    }
  });

  it('deleting a role invalidates the tokens that carried it', async (t) => {
    const h = await identityHarness(t);
    const p = await mkProject(h, 'web');
    const user = await mkUser(h, 'alice');
    const ops = await mkRole(h, 'ops');
    await put(h, `/v3/projects/${p}/users/${user}/roles/${ops}`);
    const token = await tokenOf(h, 'alice', { project: { id: p } });
    assert.deepEqual(await validate(h, token), { status: 200, roles: ['ops'] });
    await del(h, `/v3/roles/${ops}`);
    assert.equal((await validate(h, token)).status, 404);
  });
});
