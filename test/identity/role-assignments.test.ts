import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { forEachDialect, freshDatabase } from '../helpers/databases.ts';
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
  roleId,
  tokenOf,
  validate,
} from './rbac-builders.ts';

const BASE = 'http://localhost:80/v3';

type Entry = {
  user?: { id: string; name?: string; domain?: { id: string; name: string } };
  group?: { id: string; name?: string };
  role: { id: string; name?: string };
  scope: {
    project?: { id: string; name?: string; domain?: { id: string; name: string } };
    domain?: { id: string; name?: string };
    system?: { all: true };
    'OS-INHERIT:inherited_to'?: 'projects';
  };
  links: { assignment: string; membership?: string; prior_role?: string };
};
type Listing = { role_assignments: Entry[]; links: { self: string } };

/**
 * The scenario of the api-ref, small: in domain acme, alice is member of project web (member
 * implies reader), in group devs which is auditor on web, and operator on the whole domain
 * (inherited to all its projects: web, its child api, other). bob is a member of project other,
 * carol a reader of the domain.
 */
async function scenario(h: Harness) {
  const D = await mkDomain(h, 'acme');
  const P = await mkProject(h, 'web', { domainId: D });
  const C = await mkProject(h, 'api', { domainId: D, parentId: P });
  const other = await mkProject(h, 'other', { domainId: D });
  const alice = await mkUser(h, 'alice', D);
  const bob = await mkUser(h, 'bob', D);
  const carol = await mkUser(h, 'carol', D);
  const devs = await mkGroup(h, 'devs', D);
  const auditor = await mkRole(h, 'auditor');
  const operator = await mkRole(h, 'operator');
  const member = await roleId(h, 'member');
  const reader = await roleId(h, 'reader');
  await put(h, `/v3/groups/${devs}/users/${alice}`);
  await put(h, `/v3/projects/${P}/users/${alice}/roles/${member}`);
  await put(h, `/v3/projects/${P}/groups/${devs}/roles/${auditor}`);
  await put(
    h,
    `/v3/OS-INHERIT/domains/${D}/users/${alice}/roles/${operator}/inherited_to_projects`,
  );
  await put(h, `/v3/projects/${other}/users/${bob}/roles/${member}`);
  await put(h, `/v3/domains/${D}/users/${carol}/roles/${reader}`);
  return { D, P, C, other, alice, bob, carol, devs, auditor, operator, member, reader };
}

/** What Keystone answers for alice in the scenario, effective and with names. */
async function assertEffectiveListing(h: Harness, s: Scenario): Promise<void> {
  const res = await h.call(
    'GET',
    `/v3/role_assignments?user.id=${s.alice}&effective&include_names=true`,
    h.adminToken,
  );
  assert.equal(res.status, 200);
  const acme = { id: s.D, name: 'acme' };
  const user = { id: s.alice, name: 'alice', domain: acme };
  const web = { id: s.P, name: 'web', domain: acme };
  const api = { id: s.C, name: 'api', domain: acme };
  const other = { id: s.other, name: 'other', domain: acme };
  const inheritedLink = `${BASE}/OS-INHERIT/domains/${s.D}/users/${s.alice}/roles/${s.operator}/inherited_to_projects`;
  const expected: Entry[] = [
    {
      user,
      role: { id: s.member, name: 'member' },
      scope: { project: web },
      links: { assignment: `${BASE}/projects/${s.P}/users/${s.alice}/roles/${s.member}` },
    },
    {
      user,
      role: { id: s.reader, name: 'reader' },
      scope: { project: web },
      links: {
        assignment: `${BASE}/projects/${s.P}/users/${s.alice}/roles/${s.member}`,
        prior_role: `${BASE}/prior_role/${s.reader}/implies/${s.member}`,
      },
    },
    {
      user,
      role: { id: s.auditor, name: 'auditor' },
      scope: { project: web },
      links: {
        assignment: `${BASE}/projects/${s.P}/groups/${s.devs}/roles/${s.auditor}`,
        membership: `${BASE}/groups/${s.devs}/users/${s.alice}`,
      },
    },
    {
      user,
      role: { id: s.operator, name: 'operator' },
      scope: { project: web, 'OS-INHERIT:inherited_to': 'projects' },
      links: { assignment: inheritedLink },
    },
    {
      user,
      role: { id: s.operator, name: 'operator' },
      scope: { project: api, 'OS-INHERIT:inherited_to': 'projects' },
      links: { assignment: inheritedLink },
    },
    {
      user,
      role: { id: s.operator, name: 'operator' },
      scope: { project: other, 'OS-INHERIT:inherited_to': 'projects' },
      links: { assignment: inheritedLink },
    },
  ];
  const body = res.json<Listing>();
  assert.deepEqual(sorted(body.role_assignments), sorted(expected));
  assert.equal(body.links.self, `${BASE}/role_assignments`);
}

/** Entries in a stable order, for comparing sets. */
function sorted(entries: Entry[]): Entry[] {
  const key = (e: Entry) =>
    JSON.stringify([e.user?.id ?? e.group?.id, e.scope, e.role.id, e.links.assignment]);
  return [...entries].sort((a, b) => key(a).localeCompare(key(b)));
}

type Scenario = Awaited<ReturnType<typeof scenario>>;

describe('identity: GET /v3/role_assignments', () => {
  it('effective + include_names expands groups, inheritance and implied roles as Keystone does', async (t) => {
    const h = await identityHarness(t);
    await assertEffectiveListing(h, await scenario(h));
  });

  it('lists assignments as stored without effective', async (t) => {
    const h = await identityHarness(t);
    const s = await scenario(h);
    const res = await h.call('GET', `/v3/role_assignments?user.id=${s.alice}`, h.adminToken);
    assert.equal(res.status, 200);
    assert.deepEqual(
      sorted(res.json<Listing>().role_assignments),
      sorted([
        {
          user: { id: s.alice },
          role: { id: s.member },
          scope: { project: { id: s.P } },
          links: { assignment: `${BASE}/projects/${s.P}/users/${s.alice}/roles/${s.member}` },
        },
        {
          user: { id: s.alice },
          role: { id: s.operator },
          scope: { domain: { id: s.D }, 'OS-INHERIT:inherited_to': 'projects' },
          links: {
            assignment: `${BASE}/OS-INHERIT/domains/${s.D}/users/${s.alice}/roles/${s.operator}/inherited_to_projects`,
          },
        },
      ]),
    );
  });

  const filterCases: {
    name: string;
    query: (s: Scenario) => string;
    expect: (s: Scenario) => string[];
  }[] = [
    {
      name: 'group.id',
      query: (s) => `group.id=${s.devs}`,
      expect: (s) => [`group ${s.devs} ${s.auditor} project ${s.P}`],
    },
    {
      name: 'scope.project.id',
      query: (s) => `scope.project.id=${s.P}`,
      expect: (s) => [
        `group ${s.devs} ${s.auditor} project ${s.P}`,
        `user ${s.alice} ${s.member} project ${s.P}`,
      ],
    },
    {
      name: 'scope.project.id effective (inherited from the domain, groups expanded)',
      query: (s) => `scope.project.id=${s.P}&effective`,
      expect: (s) => [
        `user ${s.alice} ${s.auditor} project ${s.P}`,
        `user ${s.alice} ${s.member} project ${s.P}`,
        `user ${s.alice} ${s.operator} project ${s.P}`,
        `user ${s.alice} ${s.reader} project ${s.P}`,
      ],
    },
    {
      name: 'scope.project.id include_subtree',
      query: (s) => `scope.project.id=${s.P}&include_subtree=true&effective&role.id=${s.operator}`,
      expect: (s) => [
        `user ${s.alice} ${s.operator} project ${s.C}`,
        `user ${s.alice} ${s.operator} project ${s.P}`,
      ],
    },
    {
      name: 'scope.domain.id',
      query: (s) => `scope.domain.id=${s.D}`,
      expect: (s) => [
        `user ${s.alice} ${s.operator} domain ${s.D}`,
        `user ${s.carol} ${s.reader} domain ${s.D}`,
      ],
    },
    {
      name: 'scope.OS-INHERIT:inherited_to',
      query: () => `scope.OS-INHERIT:inherited_to=projects`,
      expect: (s) => [`user ${s.alice} ${s.operator} domain ${s.D}`],
    },
    {
      name: 'role.id effective includes implied roles',
      query: (s) => `role.id=${s.reader}&effective&scope.domain.id=${s.D}`,
      expect: (s) => [`user ${s.carol} ${s.reader} domain ${s.D}`],
    },
    {
      name: 'role.id on a project, effective',
      query: (s) => `role.id=${s.reader}&effective&scope.project.id=${s.other}`,
      expect: (s) => [`user ${s.bob} ${s.reader} project ${s.other}`],
    },
    {
      name: 'scope.system',
      query: () => `scope.system=all&role.id=none`,
      expect: () => [],
    },
  ];
  for (const c of filterCases) {
    it(`filters by ${c.name}`, async (t) => {
      const h = await identityHarness(t);
      const s = await scenario(h);
      const res = await h.call('GET', `/v3/role_assignments?${c.query(s)}`, h.adminToken);
      assert.equal(res.status, 200, JSON.stringify(res.json()));
      const got = res.json<Listing>().role_assignments.map((e) => {
        const actor = e.user ? `user ${e.user.id}` : `group ${e.group?.id}`;
        const where = e.scope.project
          ? `project ${e.scope.project.id}`
          : e.scope.domain
            ? `domain ${e.scope.domain.id}`
            : 'system';
        return `${actor} ${e.role.id} ${where}`;
      });
      assert.deepEqual([...got].sort(), [...c.expect(s)].sort());
    });
  }

  it('shows system assignments, and the admin bootstrap ones', async (t) => {
    const h = await identityHarness(t);
    const res = await h.call('GET', '/v3/role_assignments?scope.system=all', h.adminToken);
    assert.equal(res.status, 200);
    const entries = res.json<Listing>().role_assignments;
    assert.equal(entries.length, 1);
    assert.deepEqual(entries[0]?.scope, { system: { all: true } });
    assert.match(entries[0]?.links.assignment ?? '', /\/v3\/system\/users\/[^/]+\/roles\/[^/]+$/);
    const effective = await h.call(
      'GET',
      '/v3/role_assignments?scope.system=all&effective&include_names',
      h.adminToken,
    );
    assert.deepEqual(
      effective
        .json<Listing>()
        .role_assignments.map((e) => e.role.name)
        .sort(),
      ['admin', 'member', 'reader'],
    );
  });

  it('keeps project members out and domain readers inside their domain', async (t) => {
    const h = await identityHarness(t);
    const s = await scenario(h);
    const aliceToken = await tokenOf(h, 'alice', { project: { id: s.P } }, s.D);
    const bobToken = await tokenOf(h, 'bob', { project: { id: s.other } }, s.D);
    for (const [who, token, query] of [
      ['alice on her own project', aliceToken, `scope.project.id=${s.P}`],
      ['bob on project web', bobToken, `scope.project.id=${s.P}`],
      ['bob, everything', bobToken, ''],
      ['bob, subtree of web', bobToken, `scope.project.id=${s.P}&include_subtree=true`],
    ] as const) {
      const res = await h.call('GET', `/v3/role_assignments?${query}`, token);
      assertKeystoneError(res, 403, who);
    }
    const carolToken = await tokenOf(h, 'carol', { domain: { id: s.D } }, s.D);
    const res = await h.call('GET', '/v3/role_assignments', carolToken);
    assert.equal(res.status, 200);
    const entries = res.json<Listing>().role_assignments;
    assert.ok(entries.length >= 4);
    const defaultAdminEntries = entries.filter(
      (e) => e.scope.domain?.id === 'default' || e.scope.system !== undefined,
    );
    assert.deepEqual(defaultAdminEntries, [], 'nothing outside acme');
  });

  const badQueries: { name: string; query: string; status: number }[] = [
    { name: 'domain and project', query: 'scope.domain.id=a&scope.project.id=b', status: 400 },
    { name: 'system and domain', query: 'scope.system=all&scope.domain.id=a', status: 400 },
    { name: 'system and project', query: 'scope.system=all&scope.project.id=a', status: 400 },
    { name: 'user and group', query: 'user.id=a&group.id=b', status: 400 },
    { name: 'effective and group', query: 'effective&group.id=b', status: 400 },
    {
      name: 'effective, domain and inherited',
      query: 'effective&scope.domain.id=a&scope.OS-INHERIT:inherited_to=projects',
      status: 400,
    },
    { name: 'include_subtree without project', query: 'include_subtree=true', status: 400 },
    {
      name: 'include_subtree with unknown project',
      query: 'include_subtree&scope.project.id=nope',
      status: 404,
    },
    { name: 'repeated parameter', query: 'user.id=a&user.id=b', status: 400 },
    { name: 'huge id', query: `user.id=${'x'.repeat(300)}`, status: 400 },
  ];
  for (const c of badQueries) {
    it(`rejects ${c.name} with ${c.status}`, async (t) => {
      const h = await identityHarness(t);
      const res = await h.call('GET', `/v3/role_assignments?${c.query}`, h.adminToken);
      assertKeystoneError(res, c.status, c.name);
    });
  }

  it('needs a token', async (t) => {
    const h = await identityHarness(t);
    assertKeystoneError(await h.call('GET', '/v3/role_assignments', undefined), 401);
  });
});

forEachDialect(
  'role assignments on every database',
  (dialect) => {
    it('grants, lists effective assignments and revokes', async (t) => {
      const database = await freshDatabase(t, dialect);
      const h = await identityHarness(t, { databaseUrl: database.url });
      const s = await scenario(h);
      await assertEffectiveListing(h, s);
      const subtree = await h.call(
        'GET',
        `/v3/role_assignments?scope.project.id=${s.P}&include_subtree&effective`,
        h.adminToken,
      );
      assert.equal(subtree.json<Listing>().role_assignments.length, 5);
      const token = await tokenOf(h, 'alice', { project: { id: s.P } }, s.D);
      await del(h, `/v3/groups/${s.devs}/users/${s.alice}`);
      assert.equal((await validate(h, token)).status, 404);
      await del(h, `/v3/roles/${s.operator}`);
      await del(h, `/v3/groups/${s.devs}`);
      const left = await h.call('GET', `/v3/role_assignments?user.id=${s.alice}`, h.adminToken);
      assert.equal(left.json<Listing>().role_assignments.length, 1);
    });
  },
  { timeout: 60_000 },
);
