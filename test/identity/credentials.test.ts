import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { it, type TestContext } from 'node:test';
import type { DialectName } from '../../src/common/db/database-url.ts';
import { forEachDialect, freshDatabase } from '../helpers/databases.ts';
import { identityHarness, type Harness, type Reply } from './harness.ts';

type Credential = {
  id: string;
  user_id: string;
  project_id: string | null;
  type: string;
  blob: string;
  links: { self: string };
  [extra: string]: unknown;
};
type ErrorBody = { error: { code: number; title: string; message: string } };

/** A harness on a fresh database of `dialect` (SQLite in a temporary directory by default). */
async function harness(t: TestContext, dialect: DialectName): Promise<Harness> {
  if (dialect === 'sqlite') return identityHarness(t);
  return identityHarness(t, { databaseUrl: (await freshDatabase(t, dialect)).url });
}

async function whoAmI(h: Harness) {
  const res = await h.app.inject({
    method: 'GET',
    url: '/v3/auth/tokens',
    headers: { 'x-auth-token': h.adminToken, 'x-subject-token': h.adminToken },
  });
  const body = JSON.parse(res.body) as { token: { user: { id: string }; project: { id: string } } };
  return { userId: body.token.user.id, projectId: body.token.project.id };
}

async function createUser(h: Harness, name: string, password: string): Promise<string> {
  const res = await h.call('POST', '/v3/users', h.adminToken, {
    user: { name, password, domain_id: 'default' },
  });
  assert.equal(res.status, 201, JSON.stringify(res.json()));
  return res.json<{ user: { id: string } }>().user.id;
}

const ec2Blob = (access: string, secret = 'secretKey', more: Record<string, unknown> = {}) =>
  JSON.stringify({ access, secret, ...more });

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function assertKeystoneError(res: Reply, status: number, label: string): void {
  assert.equal(res.status, status, `${label}: ${JSON.stringify(res.json())}`);
  const body = res.json<ErrorBody>();
  assert.equal(body.error.code, status, label);
  assert.equal(typeof body.error.title, 'string', label);
  assert.equal(typeof body.error.message, 'string', label);
}

async function create(h: Harness, token: string, credential: Record<string, unknown>) {
  return h.call('POST', '/v3/credentials', token, { credential });
}

forEachDialect(
  'identity: credentials',
  (dialect) => {
    it('creates, shows, lists, updates and deletes an EC2 credential', async (t) => {
      const h = await harness(t, dialect);
      const admin = await whoAmI(h);
      const made = await create(h, h.adminToken, {
        type: 'ec2',
        user_id: admin.userId,
        project_id: admin.projectId,
        blob: ec2Blob('181920'),
        colour: 'blue',
      });
      assert.equal(made.status, 201, JSON.stringify(made.json()));
      const cred = made.json<{ credential: Credential }>().credential;
      assert.equal(cred.id, sha256('181920'), 'the id is the SHA-256 of the access key');
      assert.equal(cred.blob, ec2Blob('181920'));
      assert.equal(cred.project_id, admin.projectId);
      assert.equal(cred['colour'], 'blue', 'extra attributes come back');
      assert.ok(cred.links.self.endsWith(`/v3/credentials/${cred.id}`));

      const other = await create(h, h.adminToken, {
        type: 'cert',
        user_id: admin.userId,
        blob: 'not json at all',
      });
      assert.equal(other.status, 201, 'other types take any blob and no project');
      assert.equal(other.json<{ credential: Credential }>().credential.project_id, null);

      const lists = [
        { name: 'all', query: '', ids: 2 },
        { name: 'by type', query: '?type=ec2', ids: 1 },
        { name: 'by user', query: `?user_id=${admin.userId}`, ids: 2 },
        { name: 'by another user', query: `?user_id=${'e'.repeat(32)}`, ids: 0 },
      ];
      for (const l of lists) {
        const res = await h.call('GET', `/v3/credentials${l.query}`, h.adminToken);
        assert.equal(res.status, 200, l.name);
        const body = res.json<{ credentials: Credential[]; links: { self: string } }>();
        assert.equal(body.credentials.length, l.ids, l.name);
      }

      const url = `/v3/credentials/${cred.id}`;
      const shown = await h.call('GET', url, h.adminToken);
      assert.equal(shown.status, 200);
      assert.equal(shown.json<{ credential: Credential }>().credential.blob, ec2Blob('181920'));

      const patched = await h.call('PATCH', url, h.adminToken, {
        credential: { blob: ec2Blob('181920', 'rotated') },
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.json()));
      const after = patched.json<{ credential: Credential }>().credential;
      assert.equal(after.id, cred.id, 'the id stays');
      assert.equal(after.blob, ec2Blob('181920', 'rotated'));
      assert.equal(after['colour'], 'blue');

      assert.equal((await h.call('DELETE', url, h.adminToken)).status, 204);
      assertKeystoneError(await h.call('GET', url, h.adminToken), 404, 'gone');
      assertKeystoneError(await h.call('DELETE', url, h.adminToken), 404, 'deleted twice');
    });

    it('keeps users apart: each sees and changes only their own; admins see all', async (t) => {
      const h = await harness(t, dialect);
      const admin = await whoAmI(h);
      const adminCred = (
        await create(h, h.adminToken, {
          type: 'ec2',
          user_id: admin.userId,
          project_id: admin.projectId,
          blob: ec2Blob('admin-key'),
        })
      ).json<{ credential: Credential }>().credential;
      const aliceId = await createUser(h, 'alice', 'alice-password-1');
      const bobId = await createUser(h, 'bob', 'bob-password-1');
      const alice = await h.token({ name: 'alice', password: 'alice-password-1' }, 'unscoped');
      const bob = await h.token({ name: 'bob', password: 'bob-password-1' }, 'unscoped');

      const mine = await create(h, alice, { type: 'totp', user_id: aliceId, blob: 'seed' });
      assert.equal(mine.status, 201, JSON.stringify(mine.json()));
      const aliceCred = mine.json<{ credential: Credential }>().credential;
      assert.equal(
        (await create(h, bob, { type: 'totp', user_id: bobId, blob: 'bob-seed' })).status,
        201,
      );

      const forbidden = [
        { name: "get another's", method: 'GET', url: `/v3/credentials/${adminCred.id}` },
        {
          name: "get another user's",
          method: 'GET',
          url: `/v3/credentials/${aliceCred.id}`,
          token: bob,
        },
        {
          name: "update another's",
          method: 'PATCH',
          url: `/v3/credentials/${adminCred.id}`,
          body: { credential: { blob: 'x' } },
        },
        { name: "delete another's", method: 'DELETE', url: `/v3/credentials/${adminCred.id}` },
        {
          name: 'create for another user',
          method: 'POST',
          url: '/v3/credentials',
          body: { credential: { type: 'totp', user_id: bobId, blob: 'x' } },
        },
        {
          name: 'give own away',
          method: 'PATCH',
          url: `/v3/credentials/${aliceCred.id}`,
          body: { credential: { user_id: bobId } },
        },
        {
          name: 'unknown id (no existence leak)',
          method: 'GET',
          url: `/v3/credentials/${'f'.repeat(64)}`,
        },
      ];
      for (const f of forbidden)
        assertKeystoneError(await h.call(f.method, f.url, f.token ?? alice, f.body), 403, f.name);

      const listed = async (token: string, query = '') =>
        (await h.call('GET', `/v3/credentials${query}`, token))
          .json<{ credentials: Credential[] }>()
          .credentials.map((c) => c.user_id);
      assert.deepEqual(await listed(alice), [aliceId], 'alice sees only hers');
      assert.deepEqual(await listed(alice, `?user_id=${admin.userId}`), [], 'even when filtering');
      assert.deepEqual(await listed(bob), [bobId], 'bob sees only his');
      assert.deepEqual(
        new Set(await listed(h.adminToken)),
        new Set([admin.userId, aliceId, bobId]),
        'the admin sees everybody',
      );

      const own = await h.call('PATCH', `/v3/credentials/${aliceCred.id}`, alice, {
        credential: { blob: 'new-seed' },
      });
      assert.equal(own.status, 200, 'a user updates their own');
      assert.equal((await h.call('DELETE', `/v3/credentials/${aliceCred.id}`, alice)).status, 204);
    });

    it('refuses bad input with a 4xx in Keystone shape', async (t) => {
      const h = await harness(t, dialect);
      const admin = await whoAmI(h);
      const ec2 = { type: 'ec2', user_id: admin.userId, project_id: admin.projectId };
      const cases: { name: string; body: Record<string, unknown>; status: number }[] = [
        { name: 'no blob', body: { type: 'cert', user_id: admin.userId }, status: 400 },
        { name: 'no type', body: { blob: 'x', user_id: admin.userId }, status: 400 },
        { name: 'no user', body: { blob: 'x', type: 'cert' }, status: 400 },
        { name: 'blob an object', body: { ...ec2, blob: { access: 'a' } }, status: 400 },
        { name: 'type a number', body: { blob: 'x', type: 3, user_id: admin.userId }, status: 400 },
        {
          name: 'type of 256 characters',
          body: { blob: 'x', type: 't'.repeat(256), user_id: admin.userId },
          status: 400,
        },
        {
          name: 'user id of 65 characters',
          body: { blob: 'x', type: 'cert', user_id: 'u'.repeat(65) },
          status: 400,
        },
        {
          name: 'EC2 without a project',
          body: { type: 'ec2', user_id: admin.userId, blob: ec2Blob('k1') },
          status: 400,
        },
        {
          name: 'EC2 (any case) without a project',
          body: { type: 'EC2', user_id: admin.userId, blob: ec2Blob('k1') },
          status: 400,
        },
        { name: 'EC2 blob not JSON', body: { ...ec2, blob: '{nope' }, status: 400 },
        { name: 'EC2 blob a list', body: { ...ec2, blob: '["a"]' }, status: 400 },
        { name: 'EC2 blob without access', body: { ...ec2, blob: '{"secret": "s"}' }, status: 400 },
        { name: 'EC2 access not a string', body: { ...ec2, blob: '{"access": 1}' }, status: 400 },
        {
          name: 'unknown user',
          body: { blob: 'x', type: 'cert', user_id: 'e'.repeat(32) },
          status: 404,
        },
        {
          name: 'unknown project',
          body: { ...ec2, project_id: 'e'.repeat(32), blob: ec2Blob('k2') },
          status: 404,
        },
      ];
      for (const c of cases)
        assertKeystoneError(await create(h, h.adminToken, c.body), c.status, c.name);

      assert.equal((await create(h, h.adminToken, { ...ec2, blob: ec2Blob('dup') })).status, 201);
      assertKeystoneError(
        await create(h, h.adminToken, { ...ec2, blob: ec2Blob('dup', 'other-secret') }),
        409,
        'same access key twice',
      );
      const url = `/v3/credentials/${sha256('dup')}`;
      const patches: { name: string; url?: string; body: unknown; status: number }[] = [
        { name: 'empty patch', body: { credential: {} }, status: 400 },
        { name: 'no wrapper', body: { blob: 'x' }, status: 400 },
        { name: 'other id', body: { credential: { id: 'other' } }, status: 400 },
        {
          name: 'blob without access',
          body: { credential: { blob: '{"secret": "s"}' } },
          status: 400,
        },
        {
          name: 'project removed from EC2',
          body: { credential: { project_id: null } },
          status: 400,
        },
        {
          name: 'delegation changed',
          body: { credential: { blob: ec2Blob('dup', 's', { trust_id: 't' }) } },
          status: 400,
        },
        { name: 'unknown user', body: { credential: { user_id: 'e'.repeat(32) } }, status: 404 },
        {
          name: 'unknown credential',
          url: `/v3/credentials/${'f'.repeat(64)}`,
          body: { credential: { blob: 'x' } },
          status: 404,
        },
      ];
      for (const p of patches)
        assertKeystoneError(
          await h.call('PATCH', p.url ?? url, h.adminToken, p.body),
          p.status,
          p.name,
        );

      const raw = [
        {
          name: 'bad JSON on create',
          method: 'POST',
          url: '/v3/credentials',
          payload: '{"credential": ',
        },
        { name: 'bad JSON on update', method: 'PATCH', url, payload: '{"credential": ' },
        { name: 'a string body', method: 'POST', url: '/v3/credentials', payload: '"credential"' },
      ];
      for (const r of raw) {
        const res = await h.app.inject({
          method: r.method as 'POST',
          url: r.url,
          headers: { 'x-auth-token': h.adminToken, 'content-type': 'application/json' },
          payload: r.payload,
        });
        assert.equal(res.statusCode, 400, `${r.name}: ${res.body}`);
        assert.equal((JSON.parse(res.body) as ErrorBody).error.code, 400, r.name);
      }
      assertKeystoneError(await h.call('GET', '/v3/credentials', undefined), 401, 'no token');
    });

    it('binds what an application credential token reaches to its project', async (t) => {
      const h = await harness(t, dialect);
      const admin = await whoAmI(h);
      const made = await h.call(
        'POST',
        `/v3/users/${admin.userId}/application_credentials`,
        h.adminToken,
        {
          application_credential: { name: 'ci', unrestricted: true },
        },
      );
      const appCred = made.json<{ application_credential: { id: string; secret: string } }>()
        .application_credential;
      const auth = await h.call('POST', '/v3/auth/tokens', undefined, {
        auth: {
          identity: {
            methods: ['application_credential'],
            application_credential: { id: appCred.id, secret: appCred.secret },
          },
        },
      });
      const token = String(auth.headers['x-subject-token']);
      const userLevel = await create(h, h.adminToken, {
        type: 'totp',
        user_id: admin.userId,
        blob: 's',
      });
      const userLevelId = userLevel.json<{ credential: Credential }>().credential.id;

      const inProject = await create(h, token, {
        type: 'ec2',
        user_id: admin.userId,
        project_id: admin.projectId,
        blob: ec2Blob('from-app-cred'),
      });
      assert.equal(inProject.status, 201, JSON.stringify(inProject.json()));
      const blob = JSON.parse(inProject.json<{ credential: Credential }>().credential.blob) as {
        app_cred_id?: string;
      };
      assert.equal(blob.app_cred_id, appCred.id, 'the blob records the delegation');
      assertKeystoneError(
        await create(h, token, { type: 'totp', user_id: admin.userId, blob: 's' }),
        403,
        'a credential without a project',
      );
      assertKeystoneError(
        await h.call('GET', `/v3/credentials/${userLevelId}`, token),
        403,
        'get user-level',
      );
      const listed = (await h.call('GET', '/v3/credentials', token))
        .json<{ credentials: Credential[] }>()
        .credentials.map((c) => c.project_id);
      assert.deepEqual(listed, [admin.projectId], 'only its project shows');
    });
  },
  { timeout: 120_000 },
);
