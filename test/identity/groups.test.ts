import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { identityHarness, type Harness } from './harness.ts';
import {
  assertKeystoneError,
  del,
  mkDomain,
  mkGroup,
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

type GroupBody = {
  group: {
    id: string;
    name: string;
    domain_id: string;
    description: string | null;
    links: { self: string };
    [extra: string]: unknown;
  };
};
type GroupList = { groups: GroupBody['group'][]; links: { self: string } };

/** A user who is only a reader on a project, and their token. */
async function readerToken(h: Harness): Promise<string> {
  const project = await mkProject(h, 'readers');
  const user = await mkUser(h, 'rita');
  await put(h, `/v3/projects/${project}/users/${user}/roles/${await roleId(h, 'reader')}`);
  return tokenOf(h, 'rita', { project: { id: project } });
}

describe('identity: groups', () => {
  it('creates, shows, updates and deletes a group, keeping extra attributes', async (t) => {
    const h = await identityHarness(t);
    const created = await h.call('POST', '/v3/groups', h.adminToken, {
      group: { name: 'Contract developers', description: 'Contractors', team: 'blue' },
    });
    assert.equal(created.status, 201);
    const group = created.json<GroupBody>().group;
    assert.deepEqual(group, {
      id: group.id,
      name: 'Contract developers',
      domain_id: 'default', // the domain of the caller
      description: 'Contractors',
      team: 'blue',
      links: { self: `${BASE}/groups/${group.id}` },
    });
    assert.deepEqual(
      (await h.call('GET', `/v3/groups/${group.id}`, h.adminToken)).json<GroupBody>().group,
      group,
    );
    const patched = await h.call('PATCH', `/v3/groups/${group.id}`, h.adminToken, {
      group: { name: 'Contractors', description: null, team: 'red' },
    });
    assert.equal(patched.status, 200);
    assert.deepEqual(patched.json<GroupBody>().group, {
      ...group,
      name: 'Contractors',
      description: null,
      team: 'red',
    });
    await del(h, `/v3/groups/${group.id}`);
    const gone = await h.call('GET', `/v3/groups/${group.id}`, h.adminToken);
    assert.equal(assertKeystoneError(gone, 404), `Could not find group: ${group.id}.`);
  });

  it('lists with filters', async (t) => {
    const h = await identityHarness(t);
    const acme = await mkDomain(h, 'acme');
    const a = await mkGroup(h, 'devs');
    const b = await mkGroup(h, 'ops');
    const c = await mkGroup(h, 'devs', acme); // same name, other domain: fine
    const cases: { name: string; query: string; expect: string[] }[] = [
      { name: 'all', query: '', expect: [a, c, b] },
      { name: 'by domain', query: `?domain_id=${acme}`, expect: [c] },
      { name: 'by name', query: '?name=devs', expect: [a, c] },
      { name: 'by name and domain', query: '?name=devs&domain_id=default', expect: [a] },
      { name: 'nothing', query: '?name=nope', expect: [] },
    ];
    for (const k of cases) {
      const res = await h.call('GET', `/v3/groups${k.query}`, h.adminToken);
      assert.equal(res.status, 200, k.name);
      const body = res.json<GroupList>();
      assert.deepEqual(body.groups.map((g) => g.id).sort(), [...k.expect].sort(), k.name);
      assert.equal(body.links.self, `${BASE}/groups`);
    }
  });

  it('shows a domain reader the groups of their domain only', async (t) => {
    const h = await identityHarness(t);
    const acme = await mkDomain(h, 'acme');
    const mine = await mkGroup(h, 'devs', acme);
    await mkGroup(h, 'elsewhere');
    const carol = await mkUser(h, 'carol', acme);
    await put(h, `/v3/domains/${acme}/users/${carol}/roles/${await roleId(h, 'reader')}`);
    const token = await tokenOf(h, 'carol', { domain: { id: acme } }, acme);
    const res = await h.call('GET', '/v3/groups', token);
    assert.equal(res.status, 200);
    assert.deepEqual(
      res.json<GroupList>().groups.map((g) => g.id),
      [mine],
    );
    assertKeystoneError(await h.call('GET', '/v3/groups?domain_id=default', token), 403);
  });

  it('adds, checks, lists and removes members', async (t) => {
    const h = await identityHarness(t);
    const g = await mkGroup(h, 'devs');
    const alice = await mkUser(h, 'alice');
    const bob = await mkUser(h, 'bob');
    const url = `/v3/groups/${g}/users/${alice}`;
    assert.equal((await h.call('HEAD', url, h.adminToken)).status, 404);
    await put(h, url);
    await put(h, url); // twice is fine
    await put(h, `/v3/groups/${g}/users/${bob}`);
    assert.equal((await h.call('HEAD', url, h.adminToken)).status, 204);
    assert.equal((await h.call('GET', url, h.adminToken)).status, 204);

    const members = await h.call('GET', `/v3/groups/${g}/users`, h.adminToken);
    assert.equal(members.status, 200);
    const users = members.json<{ users: { id: string; name: string; links: { self: string } }[] }>()
      .users;
    assert.deepEqual(
      users.map((u) => [u.name, u.links.self]),
      [
        ['alice', `${BASE}/users/${alice}`],
        ['bob', `${BASE}/users/${bob}`],
      ],
    );
    const byName = await h.call('GET', `/v3/groups/${g}/users?name=bob`, h.adminToken);
    assert.deepEqual(
      byName.json<{ users: { id: string }[] }>().users.map((u) => u.id),
      [bob],
    );
    const ofUser = await h.call('GET', `/v3/users/${alice}/groups`, h.adminToken);
    assert.deepEqual(
      ofUser.json<{ groups: { id: string }[] }>().groups.map((x) => x.id),
      [g],
    );

    await del(h, url);
    assert.equal((await h.call('HEAD', url, h.adminToken)).status, 404);
    const again = await h.call('DELETE', url, h.adminToken);
    assert.equal(assertKeystoneError(again, 404), `User '${alice}' not found in group '${g}'`);
  });

  it('answers 404 for unknown users and groups in membership URLs', async (t) => {
    const h = await identityHarness(t);
    const g = await mkGroup(h, 'devs');
    const u = await mkUser(h, 'alice');
    const cases: { method: string; url: string; message: string }[] = [
      { method: 'PUT', url: `/v3/groups/${g}/users/nope`, message: 'Could not find user: nope.' },
      { method: 'PUT', url: `/v3/groups/nope/users/${u}`, message: 'Could not find group: nope.' },
      { method: 'GET', url: `/v3/groups/${g}/users/nope`, message: 'Could not find user: nope.' },
      {
        method: 'DELETE',
        url: `/v3/groups/nope/users/${u}`,
        message: 'Could not find group: nope.',
      },
      { method: 'GET', url: '/v3/groups/nope/users', message: 'Could not find group: nope.' },
      { method: 'PATCH', url: '/v3/groups/nope', message: 'Could not find group: nope.' },
      { method: 'DELETE', url: '/v3/groups/nope', message: 'Could not find group: nope.' },
    ];
    for (const c of cases) {
      const body = c.method === 'PATCH' ? { group: { name: 'x' } } : undefined;
      const message = assertKeystoneError(await h.call(c.method, c.url, h.adminToken, body), 404);
      assert.equal(message, c.message, `${c.method} ${c.url}`);
    }
  });

  it('gives group roles to members, and leaving the group invalidates their tokens', async (t) => {
    const h = await identityHarness(t);
    const p = await mkProject(h, 'web');
    const g = await mkGroup(h, 'devs');
    const alice = await mkUser(h, 'alice');
    const ops = await mkRole(h, 'ops');
    await put(h, `/v3/projects/${p}/groups/${g}/roles/${ops}`);
    await put(h, `/v3/groups/${g}/users/${alice}`);
    const token = await tokenOf(h, 'alice', { project: { id: p } });
    assert.deepEqual(await validate(h, token), { status: 200, roles: ['ops'] });
    await del(h, `/v3/groups/${g}/users/${alice}`);
    assert.equal((await validate(h, token)).status, 404);
  });

  it('deleting a group invalidates its members’ tokens', async (t) => {
    const h = await identityHarness(t);
    const p = await mkProject(h, 'web');
    const g = await mkGroup(h, 'devs');
    const alice = await mkUser(h, 'alice');
    await put(h, `/v3/projects/${p}/groups/${g}/roles/${await roleId(h, 'member')}`);
    await put(h, `/v3/groups/${g}/users/${alice}`);
    const token = await tokenOf(h, 'alice', { project: { id: p } });
    assert.equal((await validate(h, token)).status, 200);
    await del(h, `/v3/groups/${g}`);
    assert.equal((await validate(h, token)).status, 404);
    const groups = await h.call('GET', `/v3/users/${alice}/groups`, h.adminToken);
    assert.deepEqual(groups.json<{ groups: unknown[] }>().groups, []);
  });

  it('forbids a reader to read or change groups', async (t) => {
    const h = await identityHarness(t);
    const g = await mkGroup(h, 'devs');
    const u = await mkUser(h, 'alice');
    const token = await readerToken(h);
    for (const [method, url, body] of [
      ['POST', '/v3/groups', { group: { name: 'x' } }],
      ['PATCH', `/v3/groups/${g}`, { group: { name: 'y' } }],
      ['DELETE', `/v3/groups/${g}`, undefined],
      ['PUT', `/v3/groups/${g}/users/${u}`, undefined],
      ['DELETE', `/v3/groups/${g}/users/${u}`, undefined],
      ['GET', '/v3/groups', undefined],
      ['GET', `/v3/groups/${g}/users`, undefined],
    ] as const) {
      assertKeystoneError(await h.call(method, url, token, body), 403, `${method} ${url}`);
    }
  });

  it('rejects conflicts and malformed bodies in Keystone’s shape', async (t) => {
    const h = await identityHarness(t);
    const g = await mkGroup(h, 'devs');
    await mkGroup(h, 'ops');
    const acme = await mkDomain(h, 'acme');
    const cases: { name: string; method: 'POST' | 'PATCH'; body: unknown; status: number }[] = [
      { name: 'duplicate', method: 'POST', body: { group: { name: 'devs' } }, status: 409 },
      {
        name: 'rename onto another',
        method: 'PATCH',
        body: { group: { name: 'ops' } },
        status: 409,
      },
      {
        name: 'unknown domain',
        method: 'POST',
        body: { group: { name: 'x', domain_id: 'nope' } },
        status: 404,
      },
      { name: 'move domain', method: 'PATCH', body: { group: { domain_id: acme } }, status: 400 },
      { name: 'change id', method: 'PATCH', body: { group: { id: 'other' } }, status: 400 },
      { name: 'no group', method: 'POST', body: { name: 'x' }, status: 400 },
      { name: 'group a string', method: 'POST', body: { group: 'x' }, status: 400 },
      { name: 'no name', method: 'POST', body: { group: { description: 'x' } }, status: 400 },
      { name: 'name a number', method: 'POST', body: { group: { name: 7 } }, status: 400 },
      { name: 'blank name', method: 'POST', body: { group: { name: ' ' } }, status: 400 },
      {
        name: 'name too long',
        method: 'POST',
        body: { group: { name: 'g'.repeat(256) } },
        status: 400,
      },
      {
        name: 'domain a number',
        method: 'POST',
        body: { group: { name: 'x', domain_id: 1 } },
        status: 400,
      },
      {
        name: 'description an object',
        method: 'POST',
        body: { group: { name: 'x', description: {} } },
        status: 400,
      },
      { name: 'empty patch', method: 'PATCH', body: { group: {} }, status: 400 },
      {
        name: 'patch name too long',
        method: 'PATCH',
        body: { group: { name: 'g'.repeat(256) } },
        status: 400,
      },
    ];
    for (const c of cases) {
      const url = c.method === 'POST' ? '/v3/groups' : `/v3/groups/${g}`;
      assertKeystoneError(await h.call(c.method, url, h.adminToken, c.body), c.status, c.name);
    }
    assertKeystoneError(await raw(h, 'POST', '/v3/groups', '{"group":'), 400, 'bad JSON');
    assertKeystoneError(await raw(h, 'PATCH', `/v3/groups/${g}`, '[1,'), 400, 'bad JSON');
    assertKeystoneError(await h.call('GET', `/v3/groups/${'x'.repeat(65)}`, h.adminToken), 400);
  });
});
