import assert from 'node:assert/strict';
import { it, type TestContext } from 'node:test';
import type { DialectName } from '../../src/common/db/database-url.ts';
import { forEachDialect, freshDatabase } from '../helpers/databases.ts';
import { identityHarness, type Harness, type Reply } from './harness.ts';

type TokenBody = {
  token: {
    user: { id: string };
    project?: { id: string };
    roles?: { id: string; name: string }[];
    methods: string[];
    application_credential?: { id: string; name: string; restricted: boolean };
  };
};

type AppCred = {
  id: string;
  name: string;
  description: string | null;
  secret?: string;
  project_id: string;
  expires_at: string | null;
  unrestricted: boolean;
  roles: { id: string; name: string; domain_id: string | null }[];
  access_rules: unknown[];
  links: { self: string };
};

type ErrorBody = { error: { code: number; title: string; message: string } };

/** What a token says about itself (validated with the admin token). */

/** A harness on a fresh database of `dialect` (SQLite in a temporary directory by default). */
async function harness(t: TestContext, dialect: DialectName): Promise<Harness> {
  if (dialect === 'sqlite') return identityHarness(t);
  return identityHarness(t, { databaseUrl: (await freshDatabase(t, dialect)).url });
}

async function inspect(h: Harness, token: string): Promise<Reply> {
  const res = await h.app.inject({
    method: 'GET',
    url: '/v3/auth/tokens',
    headers: { 'x-auth-token': h.adminToken, 'x-subject-token': token },
  });
  return {
    status: res.statusCode,
    json: <T>() => JSON.parse(res.body) as T,
    headers: res.headers,
  };
}

async function whoAmI(h: Harness, token: string) {
  const body = (await inspect(h, token)).json<TokenBody>();
  return { userId: body.token.user.id, projectId: body.token.project?.id ?? '' };
}

/** Authenticates with an application credential; the token is in `x-subject-token`. */
async function authenticate(h: Harness, credential: Record<string, unknown>): Promise<Reply> {
  return h.call('POST', '/v3/auth/tokens', undefined, {
    auth: { identity: { methods: ['application_credential'], application_credential: credential } },
  });
}

function subjectToken(reply: Reply): string {
  return String(reply.headers['x-subject-token']);
}

async function createUser(h: Harness, name: string, password: string): Promise<string> {
  const res = await h.call('POST', '/v3/users', h.adminToken, {
    user: { name, password, domain_id: 'default' },
  });
  assert.equal(res.status, 201, JSON.stringify(res.json()));
  return res.json<{ user: { id: string } }>().user.id;
}

/** Makes a project and gives the user the member role on it (upstream grant API). */
async function memberOf(h: Harness, userId: string, projectName: string): Promise<string> {
  const project = await h.call('POST', '/v3/projects', h.adminToken, {
    project: { name: projectName, domain_id: 'default' },
  });
  assert.equal(project.status, 201, JSON.stringify(project.json()));
  const projectId = project.json<{ project: { id: string } }>().project.id;
  const roles = await h.call('GET', '/v3/roles?name=member', h.adminToken);
  const roleId = roles.json<{ roles: { id: string }[] }>().roles[0]?.id ?? '';
  const grant = await h.call(
    'PUT',
    `/v3/projects/${projectId}/users/${userId}/roles/${roleId}`,
    h.adminToken,
  );
  assert.equal(grant.status, 204, 'grant');
  return projectId;
}

async function createCredential(
  h: Harness,
  token: string,
  userId: string,
  body: Record<string, unknown>,
): Promise<Reply> {
  return h.call('POST', `/v3/users/${userId}/application_credentials`, token, {
    application_credential: body,
  });
}

function assertKeystoneError(res: Reply, status: number, label: string): void {
  assert.equal(res.status, status, `${label}: ${JSON.stringify(res.json())}`);
  const body = res.json<ErrorBody>();
  assert.equal(body.error.code, status, label);
  assert.equal(typeof body.error.title, 'string', label);
  assert.equal(typeof body.error.message, 'string', label);
}

forEachDialect(
  'identity: application credentials',
  (dialect) => {
    it('creates one, authenticates with it by id and by name, scoped to its project and roles', async (t) => {
      const h = await harness(t, dialect);
      const admin = await whoAmI(h, h.adminToken);
      const created = await createCredential(h, h.adminToken, admin.userId, {
        name: 'monitoring',
        description: 'for monitoring',
        roles: [{ name: 'reader' }],
      });
      assert.equal(created.status, 201, JSON.stringify(created.json()));
      const cred = created.json<{ application_credential: AppCred }>().application_credential;
      assert.equal(cred.name, 'monitoring');
      assert.equal(cred.project_id, admin.projectId);
      assert.equal(cred.unrestricted, false);
      assert.equal(cred.expires_at, null);
      assert.deepEqual(cred.access_rules, []);
      assert.deepEqual(
        cred.roles.map((r) => r.name),
        ['reader'],
      );
      assert.ok(cred.secret !== undefined && cred.secret.length >= 32, 'a secret is generated');
      assert.ok(
        cred.links.self.endsWith(`/v3/users/${admin.userId}/application_credentials/${cred.id}`),
      );

      const ways = [
        { name: 'by id', identity: { id: cred.id, secret: cred.secret } },
        {
          name: 'by name and user id',
          identity: { name: 'monitoring', user: { id: admin.userId }, secret: cred.secret },
        },
        {
          name: 'by name and user name with domain',
          identity: {
            name: 'monitoring',
            user: { name: 'admin', domain: { id: 'default' } },
            secret: cred.secret,
          },
        },
      ];
      for (const way of ways) {
        const res = await authenticate(h, way.identity);
        assert.equal(res.status, 201, `${way.name}: ${JSON.stringify(res.json())}`);
        const token = res.json<TokenBody>().token;
        assert.equal(token.project?.id, admin.projectId, way.name);
        assert.deepEqual(
          token.roles?.map((r) => r.name),
          ['reader'],
          `${way.name}: only the credential's roles`,
        );
        assert.deepEqual(token.methods, ['application_credential'], way.name);
        assert.deepEqual(
          token.application_credential,
          { id: cred.id, name: 'monitoring', restricted: true },
          way.name,
        );
        const validated = await inspect(h, subjectToken(res));
        assert.equal(validated.status, 200, way.name);
        assert.deepEqual(
          validated.json<TokenBody>().token.roles?.map((r) => r.name),
          ['reader'],
          way.name,
        );
      }

      const rejected = [
        { name: 'wrong secret', identity: { id: cred.id, secret: 'nope' } },
        { name: 'unknown id', identity: { id: 'f'.repeat(32), secret: cred.secret } },
        {
          name: 'unknown name',
          identity: { name: 'other', user: { id: admin.userId }, secret: cred.secret },
        },
      ];
      for (const r of rejected) assertKeystoneError(await authenticate(h, r.identity), 401, r.name);

      const base = `/v3/users/${admin.userId}/application_credentials`;
      const lists = [
        { name: 'all', query: '', count: 1 },
        { name: 'by name', query: '?name=monitoring', count: 1 },
        { name: 'by another name', query: '?name=other', count: 0 },
      ];
      for (const l of lists) {
        const res = await h.call('GET', `${base}${l.query}`, h.adminToken);
        assert.equal(res.status, 200, l.name);
        const body = res.json<{ application_credentials: AppCred[]; links: { self: string } }>();
        assert.equal(body.application_credentials.length, l.count, l.name);
        for (const c of body.application_credentials)
          assert.equal(c.secret, undefined, `${l.name}: the secret is shown only once`);
      }
      const shown = await h.call('GET', `${base}/${cred.id}`, h.adminToken);
      assert.equal(shown.status, 200);
      const one = shown.json<{ application_credential: AppCred }>().application_credential;
      assert.equal(one.id, cred.id);
      assert.equal(one.secret, undefined);
    });

    it('defaults to the roles of the creating token, keeps a given secret and expiry', async (t) => {
      const h = await harness(t, dialect);
      const admin = await whoAmI(h, h.adminToken);
      const res = await createCredential(h, h.adminToken, admin.userId, {
        name: 'everything',
        secret: 'my-own-secret',
        expires_at: '2999-01-02T03:04:05Z',
        unrestricted: true,
      });
      assert.equal(res.status, 201, JSON.stringify(res.json()));
      const cred = res.json<{ application_credential: AppCred }>().application_credential;
      assert.equal(cred.secret, 'my-own-secret');
      assert.equal(cred.expires_at, '2999-01-02T03:04:05.000000');
      assert.equal(cred.unrestricted, true);
      assert.deepEqual(cred.roles.map((r) => r.name).sort(), ['admin', 'member', 'reader']);
      const auth = await authenticate(h, { id: cred.id, secret: 'my-own-secret' });
      assert.equal(auth.status, 201);
      assert.deepEqual(
        auth
          .json<TokenBody>()
          .token.roles?.map((r) => r.name)
          .sort(),
        ['admin', 'member', 'reader'],
      );
    });

    it('adds the roles a requested role implies', async (t) => {
      const h = await harness(t, dialect);
      const admin = await whoAmI(h, h.adminToken);
      const res = await createCredential(h, h.adminToken, admin.userId, {
        name: 'members',
        roles: [{ name: 'member' }],
      });
      assert.equal(res.status, 201);
      const cred = res.json<{ application_credential: AppCred }>().application_credential;
      assert.deepEqual(cred.roles.map((r) => r.name).sort(), ['member', 'reader']);
    });

    it('refuses bad input with a 4xx in Keystone shape', async (t) => {
      const h = await harness(t, dialect);
      const admin = await whoAmI(h, h.adminToken);
      const cases: { name: string; body: unknown; status: number }[] = [
        {
          name: 'expiry in the past',
          body: { name: 'a', expires_at: '2001-01-01T00:00:00Z' },
          status: 400,
        },
        { name: 'expiry not a date', body: { name: 'a', expires_at: 'tomorrow' }, status: 400 },
        {
          name: 'expiry on 30 February',
          body: { name: 'a', expires_at: '2999-02-30T00:00:00' },
          status: 400,
        },
        { name: 'expiry a number', body: { name: 'a', expires_at: 12 }, status: 400 },
        { name: 'no name', body: { description: 'x' }, status: 400 },
        { name: 'empty name', body: { name: '' }, status: 400 },
        { name: 'blank name', body: { name: '   ' }, status: 400 },
        { name: 'name of 256 characters', body: { name: 'n'.repeat(256) }, status: 400 },
        { name: 'name a number', body: { name: 42 }, status: 400 },
        { name: 'description a number', body: { name: 'a', description: 1 }, status: 400 },
        { name: 'secret a number', body: { name: 'a', secret: 1 }, status: 400 },
        { name: 'unrestricted a string', body: { name: 'a', unrestricted: 'yes' }, status: 400 },
        { name: 'roles not a list', body: { name: 'a', roles: 'admin' }, status: 400 },
        {
          name: 'role with id and name',
          body: { name: 'a', roles: [{ id: 'x', name: 'y' }] },
          status: 400,
        },
        { name: 'role as a string', body: { name: 'a', roles: ['reader'] }, status: 400 },
        {
          name: 'role the token lacks',
          body: { name: 'a', roles: [{ name: 'service' }] },
          status: 400,
        },
        {
          name: 'unknown role id',
          body: { name: 'a', roles: [{ id: 'f'.repeat(32) }] },
          status: 400,
        },
        {
          name: 'unknown role name',
          body: { name: 'a', roles: [{ name: 'nosuchrole' }] },
          status: 404,
        },
        { name: 'unknown attribute', body: { name: 'a', colour: 'red' }, status: 400 },
        {
          name: 'access rules',
          body: {
            name: 'a',
            access_rules: [{ path: '/v2.1/servers', method: 'GET', service: 'compute' }],
          },
          status: 400,
        },
      ];
      for (const c of cases) {
        const res = await createCredential(
          h,
          h.adminToken,
          admin.userId,
          c.body as Record<string, unknown>,
        );
        assertKeystoneError(res, c.status, c.name);
      }

      const base = `/v3/users/${admin.userId}/application_credentials`;
      const raw = [
        { name: 'no wrapper', payload: '{"name": "a"}' },
        { name: 'wrapper not an object', payload: '{"application_credential": "a"}' },
        { name: 'bad JSON', payload: '{"application_credential": {' },
        { name: 'a list', payload: '[]' },
      ];
      for (const r of raw) {
        const res = await h.app.inject({
          method: 'POST',
          url: base,
          headers: { 'x-auth-token': h.adminToken, 'content-type': 'application/json' },
          payload: r.payload,
        });
        assert.equal(res.statusCode, 400, `${r.name}: ${res.body}`);
        assert.equal((JSON.parse(res.body) as ErrorBody).error.code, 400, r.name);
      }

      assert.equal(
        (await createCredential(h, h.adminToken, admin.userId, { name: 'dup' })).status,
        201,
      );
      assertKeystoneError(
        await createCredential(h, h.adminToken, admin.userId, { name: 'dup' }),
        409,
        'duplicate name',
      );

      const lookups = [
        {
          name: 'unknown credential',
          method: 'GET',
          url: `${base}/${'f'.repeat(32)}`,
          status: 404,
        },
        {
          name: 'delete unknown credential',
          method: 'DELETE',
          url: `${base}/${'f'.repeat(32)}`,
          status: 404,
        },
        {
          name: 'list of unknown user',
          method: 'GET',
          url: `/v3/users/${'e'.repeat(32)}/application_credentials`,
          status: 404,
        },
        { name: 'long unknown id', method: 'GET', url: `${base}/${'f'.repeat(90)}`, status: 404 },
        { name: 'no token', method: 'GET', url: base, status: 401, token: null },
        { name: 'bad token', method: 'GET', url: base, status: 401, token: 'garbage' },
      ];
      for (const l of lookups) {
        const token = l.token === null ? undefined : (l.token ?? h.adminToken);
        assertKeystoneError(await h.call(l.method, l.url, token), l.status, l.name);
      }
    });

    it('a member makes one for the project of their token, with no more than their roles', async (t) => {
      const h = await harness(t, dialect);
      const daveId = await createUser(h, 'dave', 'dave-password-1');
      const projectId = await memberOf(h, daveId, 'web');
      const dave = await h.token(
        { name: 'dave', password: 'dave-password-1' },
        { project: { id: projectId } },
      );
      assertKeystoneError(
        await createCredential(h, dave, daveId, { name: 'too-much', roles: [{ name: 'admin' }] }),
        400,
        'a role the member does not have',
      );
      const res = await createCredential(h, dave, daveId, { name: 'deploy' });
      assert.equal(res.status, 201, JSON.stringify(res.json()));
      const cred = res.json<{ application_credential: AppCred }>().application_credential;
      assert.equal(cred.project_id, projectId);
      assert.deepEqual(cred.roles.map((r) => r.name).sort(), ['member', 'reader']);
      const auth = await authenticate(h, { id: cred.id, secret: cred.secret });
      assert.equal(auth.status, 201);
      const token = auth.json<TokenBody>().token;
      assert.equal(token.project?.id, projectId);
      assert.deepEqual(token.roles?.map((r) => r.name).sort(), ['member', 'reader']);
      const listed = await h.call('GET', `/v3/users/${daveId}/application_credentials`, dave);
      assert.equal(
        listed.json<{ application_credentials: AppCred[] }>().application_credentials.length,
        1,
      );
      const admin = await whoAmI(h, h.adminToken);
      assertKeystoneError(
        await h.call('GET', `/v3/users/${admin.userId}/application_credentials`, dave),
        403,
        "a member lists another user's",
      );
      assert.equal(
        (
          await h.call(
            'GET',
            `/v3/users/${daveId}/application_credentials/${cred.id}`,
            h.adminToken,
          )
        ).status,
        200,
        'an admin sees it',
      );
    });

    it('needs a project-scoped token to make one', async (t) => {
      const h = await harness(t, dialect);
      const admin = await whoAmI(h, h.adminToken);
      const scopes = [
        { name: 'unscoped', scope: 'unscoped' as const },
        { name: 'domain-scoped', scope: { domain: { id: 'default' } } },
        { name: 'system-scoped', scope: { system: { all: true as const } } },
      ];
      for (const s of scopes) {
        const token = await h.token({ name: 'admin', password: h.config.admin_password }, s.scope);
        assertKeystoneError(
          await createCredential(h, token, admin.userId, { name: s.name }),
          400,
          s.name,
        );
      }
    });

    it('refuses an expiry in the past at creation, and an expired credential at authentication', async (t) => {
      const h = await harness(t, dialect);
      const admin = await whoAmI(h, h.adminToken);
      t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
      const inAnHour = new Date(Date.now() + 3600_000).toISOString();
      const res = await createCredential(h, h.adminToken, admin.userId, {
        name: 'short-lived',
        expires_at: inAnHour,
      });
      assert.equal(res.status, 201, JSON.stringify(res.json()));
      const cred = res.json<{ application_credential: AppCred }>().application_credential;
      const before = await authenticate(h, { id: cred.id, secret: cred.secret });
      assert.equal(before.status, 201, 'usable before its expiry');
      t.mock.timers.setTime(Date.now() + 2 * 3600_000);
      assertKeystoneError(
        await authenticate(h, { id: cred.id, secret: cred.secret }),
        401,
        'expired',
      );
    });

    it('deleting one makes its tokens fail validation', async (t) => {
      const h = await harness(t, dialect);
      const admin = await whoAmI(h, h.adminToken);
      const res = await createCredential(h, h.adminToken, admin.userId, { name: 'doomed' });
      const cred = res.json<{ application_credential: AppCred }>().application_credential;
      const auth = await authenticate(h, { id: cred.id, secret: cred.secret });
      assert.equal(auth.status, 201);
      const token = subjectToken(auth);
      assert.equal((await inspect(h, token)).status, 200);

      const url = `/v3/users/${admin.userId}/application_credentials/${cred.id}`;
      assert.equal((await h.call('DELETE', url, h.adminToken)).status, 204);
      assertKeystoneError(await inspect(h, token), 404, 'its token no longer validates');
      assertKeystoneError(await authenticate(h, { id: cred.id, secret: cred.secret }), 401, 'auth');
      assertKeystoneError(await h.call('GET', url, h.adminToken), 404, 'gone');
      assertKeystoneError(await h.call('DELETE', url, h.adminToken), 404, 'deleted twice');
    });

    it('another user can neither see nor delete it', async (t) => {
      const h = await harness(t, dialect);
      const admin = await whoAmI(h, h.adminToken);
      const res = await createCredential(h, h.adminToken, admin.userId, { name: 'private' });
      const cred = res.json<{ application_credential: AppCred }>().application_credential;
      const bobId = await createUser(h, 'bob', 'bob-password-1');
      const bob = await h.token({ name: 'bob', password: 'bob-password-1' }, 'unscoped');

      const attempts = [
        {
          name: 'get under owner',
          method: 'GET',
          url: `/v3/users/${admin.userId}/application_credentials/${cred.id}`,
        },
        {
          name: 'get under own id',
          method: 'GET',
          url: `/v3/users/${bobId}/application_credentials/${cred.id}`,
        },
        {
          name: 'list owner',
          method: 'GET',
          url: `/v3/users/${admin.userId}/application_credentials`,
        },
        {
          name: 'delete under owner',
          method: 'DELETE',
          url: `/v3/users/${admin.userId}/application_credentials/${cred.id}`,
        },
        {
          name: 'delete under own id',
          method: 'DELETE',
          url: `/v3/users/${bobId}/application_credentials/${cred.id}`,
        },
      ];
      for (const a of attempts) {
        const reply = await h.call(a.method, a.url, bob);
        assert.ok([403, 404].includes(reply.status), `${a.name}: ${reply.status}`);
        assertKeystoneError(reply, reply.status, a.name);
      }
      assertKeystoneError(
        await createCredential(h, bob, admin.userId, { name: 'for-someone-else' }),
        403,
        'create for another user',
      );
      const own = await h.call('GET', `/v3/users/${bobId}/application_credentials`, bob);
      assert.equal(own.status, 200);
      assert.deepEqual(
        own.json<{ application_credentials: AppCred[] }>().application_credentials,
        [],
      );
      assert.equal(
        (
          await h.call(
            'GET',
            `/v3/users/${admin.userId}/application_credentials/${cred.id}`,
            h.adminToken,
          )
        ).status,
        200,
        'the owner still sees it',
      );
    });

    it('a restricted credential cannot make or delete credentials; an unrestricted one can', async (t) => {
      const h = await harness(t, dialect);
      const admin = await whoAmI(h, h.adminToken);
      const tokenOf = async (name: string, unrestricted: boolean, roles?: { name: string }[]) => {
        const res = await createCredential(h, h.adminToken, admin.userId, {
          name,
          unrestricted,
          ...(roles ? { roles } : {}),
        });
        const cred = res.json<{ application_credential: AppCred }>().application_credential;
        const auth = await authenticate(h, { id: cred.id, secret: cred.secret });
        assert.equal(auth.status, 201);
        return { token: subjectToken(auth), cred };
      };
      const restricted = await tokenOf('restricted', false);
      const unrestricted = await tokenOf('unrestricted', true, [{ name: 'member' }]);
      const base = `/v3/users/${admin.userId}/application_credentials`;

      assertKeystoneError(
        await createCredential(h, restricted.token, admin.userId, { name: 'child' }),
        403,
        'restricted creates',
      );
      assertKeystoneError(
        await h.call('DELETE', `${base}/${unrestricted.cred.id}`, restricted.token),
        403,
        'restricted deletes',
      );
      assertKeystoneError(
        await h.call('POST', '/v3/credentials', restricted.token, {
          credential: {
            type: 'ec2',
            user_id: admin.userId,
            project_id: admin.projectId,
            blob: JSON.stringify({ access: 'a1', secret: 's1' }),
          },
        }),
        403,
        'restricted makes an EC2 credential',
      );

      const child = await createCredential(h, unrestricted.token, admin.userId, { name: 'child' });
      assert.equal(child.status, 201, JSON.stringify(child.json()));
      const made = child.json<{ application_credential: AppCred }>().application_credential;
      assert.deepEqual(
        made.roles.map((r) => r.name).sort(),
        ['member', 'reader'],
        "the child gets the parent's roles, not the user's",
      );
      assertKeystoneError(
        await createCredential(h, unrestricted.token, admin.userId, {
          name: 'escalation',
          roles: [{ name: 'admin' }],
        }),
        400,
        'a role beyond the parent credential',
      );
    });
  },
  { timeout: 120_000 },
);
