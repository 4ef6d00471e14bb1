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

type World = { D: string; P: string; U: string; G: string; R: string };

async function world(h: Harness): Promise<World> {
  const D = await mkDomain(h, 'acme');
  const P = await mkProject(h, 'web', { domainId: D });
  const U = await mkUser(h, 'alice', D);
  const G = await mkGroup(h, 'devs', D);
  const R = await mkRole(h, 'operator');
  return { D, P, U, G, R };
}

type Family = {
  name: string;
  /** The URL of one grant of role `w.R`. */
  grant: (w: World) => string;
  /** The list of roles of the same actor on the same target, if Keystone has one. */
  list?: (w: World) => string;
};

const FAMILIES: Family[] = [
  {
    name: 'user on project',
    grant: (w) => `/v3/projects/${w.P}/users/${w.U}/roles/${w.R}`,
    list: (w) => `/v3/projects/${w.P}/users/${w.U}/roles`,
  },
  {
    name: 'group on project',
    grant: (w) => `/v3/projects/${w.P}/groups/${w.G}/roles/${w.R}`,
    list: (w) => `/v3/projects/${w.P}/groups/${w.G}/roles`,
  },
  {
    name: 'user on domain',
    grant: (w) => `/v3/domains/${w.D}/users/${w.U}/roles/${w.R}`,
    list: (w) => `/v3/domains/${w.D}/users/${w.U}/roles`,
  },
  {
    name: 'group on domain',
    grant: (w) => `/v3/domains/${w.D}/groups/${w.G}/roles/${w.R}`,
    list: (w) => `/v3/domains/${w.D}/groups/${w.G}/roles`,
  },
  {
    name: 'user on system',
    grant: (w) => `/v3/system/users/${w.U}/roles/${w.R}`,
    list: (w) => `/v3/system/users/${w.U}/roles`,
  },
  {
    name: 'group on system',
    grant: (w) => `/v3/system/groups/${w.G}/roles/${w.R}`,
    list: (w) => `/v3/system/groups/${w.G}/roles`,
  },
  {
    name: 'user inherited from domain',
    grant: (w) => `/v3/OS-INHERIT/domains/${w.D}/users/${w.U}/roles/${w.R}/inherited_to_projects`,
    list: (w) => `/v3/OS-INHERIT/domains/${w.D}/users/${w.U}/roles/inherited_to_projects`,
  },
  {
    name: 'group inherited from domain',
    grant: (w) => `/v3/OS-INHERIT/domains/${w.D}/groups/${w.G}/roles/${w.R}/inherited_to_projects`,
    list: (w) => `/v3/OS-INHERIT/domains/${w.D}/groups/${w.G}/roles/inherited_to_projects`,
  },
  {
    name: 'user inherited from project',
    grant: (w) => `/v3/OS-INHERIT/projects/${w.P}/users/${w.U}/roles/${w.R}/inherited_to_projects`,
  },
  {
    name: 'group inherited from project',
    grant: (w) => `/v3/OS-INHERIT/projects/${w.P}/groups/${w.G}/roles/${w.R}/inherited_to_projects`,
  },
];

describe('identity: grants', () => {
  for (const f of FAMILIES) {
    it(`grants, checks, lists and revokes: ${f.name}`, async (t) => {
      const h = await identityHarness(t);
      const w = await world(h);
      const url = f.grant(w);
      assert.equal((await h.call('HEAD', url, h.adminToken)).status, 404, 'before');
      await put(h, url);
      await put(h, url); // granting twice is fine
      assert.equal((await h.call('HEAD', url, h.adminToken)).status, 204);
      assert.equal((await h.call('GET', url, h.adminToken)).status, 204);
      if (f.list) {
        const res = await h.call('GET', f.list(w), h.adminToken);
        assert.equal(res.status, 200);
        const body = res.json<{ roles: { id: string; name: string; links: { self: string } }[] }>();
        assert.deepEqual(
          body.roles.map((r) => [r.id, r.name, r.links.self]),
          [[w.R, 'operator', `${BASE}/roles/${w.R}`]],
        );
      }
      // The assignment listing links back to this very URL.
      const listed = await h.call('GET', `/v3/role_assignments?role.id=${w.R}`, h.adminToken);
      assert.deepEqual(
        listed
          .json<{ role_assignments: { links: { assignment: string } }[] }>()
          .role_assignments.map((a) => a.links.assignment),
        [`${BASE}${url.slice('/v3'.length)}`],
      );
      await del(h, url);
      const again = await h.call('DELETE', url, h.adminToken);
      assert.match(
        assertKeystoneError(again, 404, 'revoke twice'),
        /^Could not find role assignment/,
      );
      assertKeystoneError(await h.call('GET', url, h.adminToken), 404, 'after');
      assert.equal((await h.call('HEAD', url, h.adminToken)).status, 404, 'after');
    });
  }

  it('keeps direct and inherited grants apart', async (t) => {
    const h = await identityHarness(t);
    const w = await world(h);
    await put(h, `/v3/OS-INHERIT/domains/${w.D}/users/${w.U}/roles/${w.R}/inherited_to_projects`);
    const direct = await h.call('GET', `/v3/domains/${w.D}/users/${w.U}/roles`, h.adminToken);
    assert.deepEqual(direct.json<{ roles: unknown[] }>().roles, []);
    assertKeystoneError(
      await h.call('GET', `/v3/domains/${w.D}/users/${w.U}/roles/${w.R}`, h.adminToken),
      404,
    );
  });

  const unknown: { name: string; url: (w: World) => string; message: RegExp }[] = [
    {
      name: 'role',
      url: (w) => `/v3/projects/${w.P}/users/${w.U}/roles/nope`,
      message: /^Could not find role: nope\.$/,
    },
    {
      name: 'user',
      url: (w) => `/v3/projects/${w.P}/users/nope/roles/${w.R}`,
      message: /^Could not find user: nope\.$/,
    },
    {
      name: 'group',
      url: (w) => `/v3/domains/${w.D}/groups/nope/roles/${w.R}`,
      message: /^Could not find group: nope\.$/,
    },
    {
      name: 'project',
      url: (w) => `/v3/projects/nope/users/${w.U}/roles/${w.R}`,
      message: /^Could not find project: nope\.$/,
    },
    {
      name: 'domain',
      url: (w) => `/v3/OS-INHERIT/domains/nope/users/${w.U}/roles/${w.R}/inherited_to_projects`,
      message: /^Could not find domain: nope\.$/,
    },
    {
      name: 'system actor',
      url: (w) => `/v3/system/users/nope/roles/${w.R}`,
      message: /^Could not find user: nope\.$/,
    },
  ];
  for (const c of unknown) {
    it(`answers 404 for an unknown ${c.name} on PUT, GET and list`, async (t) => {
      const h = await identityHarness(t);
      const w = await world(h);
      for (const method of ['PUT', 'GET']) {
        const message = assertKeystoneError(await h.call(method, c.url(w), h.adminToken), 404);
        assert.match(message, c.message, method);
      }
    });
  }

  it('lets a grant of a user that is gone be revoked, but not invented', async (t) => {
    const h = await identityHarness(t);
    const w = await world(h);
    await put(h, `/v3/projects/${w.P}/users/${w.U}/roles/${w.R}`);
    assertKeystoneError(
      await h.call('DELETE', `/v3/projects/${w.P}/users/ghost/roles/${w.R}`, h.adminToken),
      404,
    );
  });

  it('rejects domain-specific roles outside their domain and on the system', async (t) => {
    const h = await identityHarness(t);
    const w = await world(h);
    const local = await mkRole(h, 'local', w.D);
    const elsewhere = await mkProject(h, 'elsewhere');
    await put(h, `/v3/projects/${w.P}/users/${w.U}/roles/${local}`);
    assertKeystoneError(
      await h.call('PUT', `/v3/projects/${elsewhere}/users/${w.U}/roles/${local}`, h.adminToken),
      403,
    );
    assertKeystoneError(
      await h.call('PUT', `/v3/system/users/${w.U}/roles/${local}`, h.adminToken),
      400,
    );
  });

  it('gives the roles to tokens, and revoking takes them away', async (t) => {
    const h = await identityHarness(t);
    const w = await world(h);
    const child = await mkProject(h, 'child', { domainId: w.D, parentId: w.P });
    const member = await roleId(h, 'member');
    const cases: {
      name: string;
      grant: (user: string) => string;
      scope: Parameters<Harness['token']>[1];
      roles: string[];
    }[] = [
      {
        name: 'direct on project',
        grant: (u) => `/v3/projects/${w.P}/users/${u}/roles/${member}`,
        scope: { project: { id: w.P } },
        roles: ['member', 'reader'],
      },
      {
        name: 'inherited from the parent project',
        grant: (u) =>
          `/v3/OS-INHERIT/projects/${w.P}/users/${u}/roles/${w.R}/inherited_to_projects`,
        scope: { project: { id: child } },
        roles: ['operator'],
      },
      {
        name: 'direct on domain',
        grant: (u) => `/v3/domains/${w.D}/users/${u}/roles/${w.R}`,
        scope: { domain: { id: w.D } },
        roles: ['operator'],
      },
      {
        name: 'system',
        grant: (u) => `/v3/system/users/${u}/roles/${member}`,
        scope: { system: { all: true } },
        roles: ['member', 'reader'],
      },
    ];
    // One user per case: a revocation must not catch the next case's token.
    for (const [i, c] of cases.entries()) {
      const user = await mkUser(h, `user-${i}`, w.D);
      await put(h, c.grant(user));
      const token = await tokenOf(h, `user-${i}`, c.scope, w.D);
      assert.deepEqual(await validate(h, token), { status: 200, roles: c.roles }, c.name);
      await del(h, c.grant(user));
      assert.equal((await validate(h, token)).status, 404, `${c.name}: revoked`);
    }
  });

  it('revoking a group grant invalidates its members’ tokens', async (t) => {
    const h = await identityHarness(t);
    const w = await world(h);
    await put(h, `/v3/groups/${w.G}/users/${w.U}`);
    const grant = `/v3/projects/${w.P}/groups/${w.G}/roles/${w.R}`;
    await put(h, grant);
    const token = await tokenOf(h, 'alice', { project: { id: w.P } }, w.D);
    assert.deepEqual(await validate(h, token), { status: 200, roles: ['operator'] });
    await del(h, grant);
    assert.equal((await validate(h, token)).status, 404);
  });

  it('forbids readers and members to grant, check or list', async (t) => {
    const h = await identityHarness(t);
    const w = await world(h);
    const reader = await roleId(h, 'reader');
    await put(h, `/v3/projects/${w.P}/users/${w.U}/roles/${reader}`);
    const token = await tokenOf(h, 'alice', { project: { id: w.P } }, w.D);
    for (const [method, url] of [
      ['PUT', `/v3/projects/${w.P}/users/${w.U}/roles/${w.R}`],
      ['DELETE', `/v3/projects/${w.P}/users/${w.U}/roles/${reader}`],
      ['GET', `/v3/projects/${w.P}/users/${w.U}/roles`],
      ['PUT', `/v3/system/users/${w.U}/roles/${w.R}`],
      ['GET', `/v3/system/users/${w.U}/roles`],
      ['PUT', `/v3/OS-INHERIT/domains/${w.D}/users/${w.U}/roles/${w.R}/inherited_to_projects`],
    ] as const) {
      assertKeystoneError(await h.call(method, url, token), 403, `${method} ${url}`);
    }
  });

  it('rejects bad input with 4xx in Keystone’s shape', async (t) => {
    const h = await identityHarness(t);
    const w = await world(h);
    const long = 'x'.repeat(300);
    const cases: { name: string; send: () => ReturnType<Harness['call']>; status: number }[] = [
      {
        name: 'long role id',
        send: () =>
          h.call('PUT', `/v3/projects/${w.P}/users/${w.U}/roles/${'x'.repeat(80)}`, h.adminToken),
        status: 400,
      },
      {
        name: 'malformed JSON body',
        send: () => raw(h, 'PUT', `/v3/projects/${w.P}/users/${w.U}/roles/${w.R}`, '{"x":'),
        status: 400,
      },
      {
        name: 'no token',
        send: () => h.call('PUT', `/v3/projects/${w.P}/users/${w.U}/roles/${w.R}`, undefined),
        status: 401,
      },
      {
        name: 'POST on a grant',
        send: () => h.call('POST', `/v3/projects/${w.P}/users/${w.U}/roles/${w.R}`, h.adminToken),
        status: 405,
      },
    ];
    for (const c of cases) assertKeystoneError(await c.send(), c.status, c.name);
    for (const [method, url] of [
      ['PUT', `/v3/projects/${w.P}/users/${w.U}/roles/${long}`],
      ['GET', `/v3/projects/${long}/users/${w.U}/roles`],
      ['GET', `/v3/system/users/${long}/roles`],
    ] as const) {
      assertKeystoneError(await h.call(method, url, h.adminToken), 400, `huge id: ${url}`);
    }
  });
});
