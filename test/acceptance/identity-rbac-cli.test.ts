/**
 * Identity's groups, roles, grants, role assignments and implied roles through the real
 * `openstack` CLI against `tstack up`, each case asserting on the CLI's JSON output and, for
 * grants, on what the user can then do. Application credentials and what roles allow have their
 * own file (identity-access-cli.test.ts).
 *
 * Each CLI run costs a Python start-up (most of a second), so fixtures a case does not test are
 * made over HTTP, and the cases, which share no names, run two at a time.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ID, column, startCloud, type CliEnv, type Cloud, type Row } from './harness.ts';
import { UNAUTHENTICATED, argv, assignment, canonical, rbac, type Rbac } from './identity-rbac.ts';

describe(
  'openstack CLI: identity groups, roles and grants',
  { timeout: 120_000, concurrency: 2 },
  () => {
    let cloud: Cloud;
    let h: Rbac;
    before(async () => {
      cloud = await startCloud();
      h = await rbac(cloud);
    });
    after(async () => {
      await cloud?.stop();
    });

    it('group create, list, show, set and delete', async () => {
      const created = await h.json('group create --description Operators g-ops');
      assert.match(String(created['id']), ID);
      assert.deepEqual(created, {
        id: created['id'],
        name: 'g-ops',
        domain_id: 'default',
        description: 'Operators',
      });
      const listed = await h.list('group list --long');
      assert.deepEqual(
        listed.find((g) => g['Name'] === 'g-ops'),
        { ID: created['id'], Name: 'g-ops', 'Domain ID': 'default', Description: 'Operators' },
      );
      assert.deepEqual(await h.json('group show g-ops'), created);

      assert.equal(await h.ok('group set --name g-sre --description SRE g-ops'), '');
      assert.deepEqual(await h.json('group show g-sre'), {
        ...created,
        name: 'g-sre',
        description: 'SRE',
      });

      assert.equal(await h.ok('group delete g-sre'), '');
      assert.deepEqual(await cloud.listAsAdmin('/groups?name=g-sre', 'groups'), []);
    });

    it('group add user, contains user and remove user', async () => {
      const [userId, groupId] = await Promise.all([h.newUser('gm-ann'), h.newGroup('gm-team')]);
      assert.equal(await h.ok('group add user gm-team gm-ann'), '');
      const [contains, groups, members] = await Promise.all([
        cloud.openstack(argv('group contains user gm-team gm-ann')),
        h.list('group list --user gm-ann'),
        h.list('user list --group gm-team'),
      ]);
      assert.deepEqual(contains, { code: 0, stdout: 'gm-ann in group gm-team\n', stderr: '' });
      assert.deepEqual(groups, [{ ID: groupId, Name: 'gm-team' }]);
      assert.deepEqual(members, [{ ID: userId, Name: 'gm-ann' }]);

      assert.equal(await h.ok('group remove user gm-team gm-ann'), '');
      const removed = await cloud.openstack(argv('group contains user gm-team gm-ann'));
      assert.deepEqual(removed, { code: 0, stdout: '', stderr: 'gm-ann not in group gm-team\n' });
      assert.deepEqual(await cloud.listAsAdmin(`/groups/${groupId}/users`, 'users'), []);
    });

    it('role create, list, show, set and delete', async () => {
      const created = await h.json('role create --description Watches r-observer');
      assert.match(String(created['id']), ID);
      assert.deepEqual(created, {
        id: created['id'],
        name: 'r-observer',
        domain_id: null,
        description: 'Watches',
        options: {},
      });
      const names = column(await h.list('role list'));
      for (const name of ['admin', 'member', 'reader', 'service', 'r-observer'])
        assert.ok(names.includes(name), `${name} in ${String(names)}`);
      assert.deepEqual(await h.json('role show r-observer'), created);

      assert.equal(await h.ok('role set --name r-watcher --description Looks r-observer'), '');
      assert.deepEqual(await h.json('role show r-watcher'), {
        ...created,
        name: 'r-watcher',
        description: 'Looks',
      });

      assert.equal(await h.ok('role delete r-watcher'), '');
      assert.deepEqual(await cloud.listAsAdmin('/roles?name=r-watcher', 'roles'), []);
    });

    type GrantCase = {
      /** The `role add` and `role remove` arguments; U, G, P and D stand for the case's names. */
      spec: string;
      /** Makes the target (and group) named `tag` for the user; returns the scope of its token. */
      setup(tag: string, userId: string): Promise<{ scope: CliEnv; scoped: Row }>;
    };
    const project = async (tag: string) => ({
      scope: { OS_PROJECT_NAME: tag, OS_PROJECT_DOMAIN_NAME: 'Default' },
      scoped: { project_id: await h.newProject(tag) },
    });
    const grantCases: GrantCase[] = [
      { spec: '--user U --project P member', setup: project },
      {
        spec: '--group G --project P reader',
        setup: async (tag, userId) => {
          const groupId = await h.newGroup(tag);
          await h.addMember(groupId, userId);
          return project(tag);
        },
      },
      {
        spec: '--user U --domain D member',
        setup: async (tag) => ({
          scope: { OS_DOMAIN_NAME: tag },
          scoped: { domain_id: await h.newDomain(tag) },
        }),
      },
      {
        spec: '--user U --system all reader',
        setup: async () => ({ scope: { OS_SYSTEM_SCOPE: 'all' }, scoped: { system: 'all' } }),
      },
    ];
    for (const [i, c] of grantCases.entries()) {
      it(`role add ${c.spec}: a token for it; role remove: that token stops working`, async () => {
        const tag = `grant${i}`;
        const spec = c.spec.replace(/\b[UGPD]\b/g, tag);
        const userId = await h.newUser(tag);
        const { scope, scoped } = await c.setup(tag, userId);
        const asUser = h.as(tag, scope);

        assert.equal(await h.ok(`role add ${spec}`), '');
        const { id, expires, ...issued } = await h.json('token issue', asUser);
        assert.match(String(expires), /^\d{4}-\d\d-\d\dT/);
        assert.deepEqual(issued, { ...scoped, user_id: userId });
        const token = String(id);
        assert.equal((await h.json(`user show ${userId}`, h.withToken(token)))['name'], tag);

        assert.equal(await h.ok(`role remove ${spec}`), '');
        const [earlier, fresh] = await Promise.all([
          h.fails(`user show ${userId}`, h.withToken(token)),
          h.fails('token issue', asUser),
        ]);
        assert.match(earlier, UNAUTHENTICATED, 'the token issued before the removal is refused');
        assert.match(fresh, UNAUTHENTICATED, 'and no new token is given for that scope');
        assert.equal(await h.tokenStatus(token), 404);
      });
    }

    it('role assignment list --user U --names: project, domain and system grants', async () => {
      const [userId, projectId, domainId] = await Promise.all([
        h.newUser('ra-bea'),
        h.newProject('ra-lab'),
        h.newDomain('ra-dom'),
      ]);
      await Promise.all([
        h.grant(`projects/${projectId}/users/${userId}`, 'member'),
        h.grant(`domains/${domainId}/users/${userId}`, 'reader'),
        h.grant(`system/users/${userId}`, 'reader'),
      ]);
      const rows = await h.list('role assignment list --user ra-bea --names');
      const user = { user: 'ra-bea@Default' };
      assert.deepEqual(
        canonical(rows),
        canonical([
          assignment('member', { project: 'ra-lab@Default' }, user),
          assignment('reader', { domain: 'ra-dom' }, user),
          assignment('reader', { system: 'all' }, user),
        ]),
      );
    });

    it('role assignment list --project P --names --effective: group members as themselves, implied roles', async () => {
      const [boss, staff, projectId, groupId] = await Promise.all([
        h.newUser('ef-boss'),
        h.newUser('ef-staff'),
        h.newProject('ef-proj'),
        h.newGroup('ef-team'),
      ]);
      await Promise.all([
        h.grant(`projects/${projectId}/users/${boss}`, 'admin'),
        h.grant(`projects/${projectId}/groups/${groupId}`, 'member'),
        h.addMember(groupId, staff),
      ]);
      const [direct, effective] = await Promise.all([
        h.list('role assignment list --project ef-proj --names'),
        h.list('role assignment list --project ef-proj --names --effective'),
      ]);
      const on = { project: 'ef-proj@Default' };
      const [asBoss, asStaff] = [{ user: 'ef-boss@Default' }, { user: 'ef-staff@Default' }];
      assert.deepEqual(
        canonical(direct),
        canonical([
          assignment('admin', on, asBoss),
          assignment('member', on, { group: 'ef-team@Default' }),
        ]),
      );
      assert.deepEqual(
        canonical(effective),
        canonical([
          // admin implies member implies reader.
          ...['admin', 'member', 'reader'].map((role) => assignment(role, on, asBoss)),
          ...['member', 'reader'].map((role) => assignment(role, on, asStaff)),
        ]),
      );
      // The CLI does not print links; the API names the membership the roles came through.
      const reply = await cloud.identity(
        'GET',
        `/role_assignments?scope.project.id=${projectId}&effective`,
        {
          token: cloud.adminToken,
        },
      );
      type Entry = { user?: { id: string }; links: Row };
      const entries = (reply.body as { role_assignments: Entry[] }).role_assignments;
      assert.deepEqual(
        entries.filter((e) => e.user?.id === staff).map((e) => e.links['membership']),
        [1, 2].map(() => `${cloud.authUrl}/groups/${groupId}/users/${staff}`),
      );
    });

    it('role assignment list --system all: the bootstrap admin and a system reader', async () => {
      const [userId, admins] = await Promise.all([
        h.newUser('sys-carl'),
        cloud.listAsAdmin('/users?name=admin', 'users'),
      ]);
      const adminId = String(admins[0]?.['id']);
      await h.grant(`system/users/${userId}`, 'reader');
      const rows = await h.list('role assignment list --system all');
      assert.deepEqual(
        canonical(rows.filter((r) => r['User'] === userId || r['User'] === adminId)),
        canonical([
          assignment(h.roleId('admin'), { system: 'all' }, { user: adminId }),
          assignment(h.roleId('reader'), { system: 'all' }, { user: userId }),
        ]),
      );
    });

    it('implied role create, list and delete: the implied role reaches holders of the prior one', async () => {
      const [prior, implied, userId, projectId] = await Promise.all([
        h.newRole('ir-lead'),
        h.newRole('ir-dev'),
        h.newUser('ir-dee'),
        h.newProject('ir-proj'),
      ]);
      await h.grant(`projects/${projectId}/users/${userId}`, prior);
      const effectiveRoles = async () => {
        const reply = await cloud.identity('GET', `/role_assignments?user.id=${userId}&effective`, {
          token: cloud.adminToken,
        });
        const entries = (reply.body as { role_assignments: { role: { id: string } }[] })
          .role_assignments;
        return entries.map((a) => a.role.id).sort();
      };

      const created = await h.json('implied role create --implied-role ir-dev ir-lead');
      assert.deepEqual(created, { prior_role: prior, implies: implied });
      const rules = await h.list('implied role list');
      assert.deepEqual(
        rules.filter((r) => r['Prior Role Name'] === 'ir-lead'),
        [
          {
            'Prior Role ID': prior,
            'Prior Role Name': 'ir-lead',
            'Implied Role ID': implied,
            'Implied Role Name': 'ir-dev',
          },
        ],
      );
      const pairs = rules.map(
        (r) => `${String(r['Prior Role Name'])} > ${String(r['Implied Role Name'])}`,
      );
      assert.ok(
        pairs.includes('admin > member') && pairs.includes('member > reader'),
        String(pairs),
      );
      assert.deepEqual(await effectiveRoles(), [prior, implied].sort());

      assert.equal(await h.ok('implied role delete --implied-role ir-dev ir-lead'), '');
      const check = await cloud.identity('GET', `/roles/${prior}/implies/${implied}`, {
        token: cloud.adminToken,
      });
      assert.equal(check.status, 404);
      assert.deepEqual(await effectiveRoles(), [prior]);
    });
  },
);
