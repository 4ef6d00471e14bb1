/**
 * The identity schema and queries on every database tstack supports: bootstrap, tokens,
 * projects with tags, users, revocation, on SQLite, PostgreSQL and MariaDB.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { forEachDialect, freshDatabase } from '../helpers/databases.ts';
import { identityHarness } from './harness.ts';

forEachDialect(
  'identity on every database',
  (dialect) => {
    it('bootstraps, issues and revokes tokens, and manages projects and users', async (t) => {
      const database = await freshDatabase(t, dialect);
      const h = await identityHarness(t, { databaseUrl: database.url });
      const project = await h.call('POST', '/v3/projects', h.adminToken, {
        project: { name: 'Mixed-Case', tags: ['b', 'a'] },
      });
      assert.equal(project.status, 201);
      const id = project.json<{ project: { id: string } }>().project.id;
      // Names are case-sensitive everywhere (MariaDB's default collation is not).
      const lower = await h.call('POST', '/v3/projects', h.adminToken, {
        project: { name: 'mixed-case' },
      });
      assert.equal(lower.status, 201);
      const listed = await h.call('GET', '/v3/projects?tags=a,b', h.adminToken);
      assert.deepEqual(
        listed
          .json<{ projects: { id: string; tags: string[] }[] }>()
          .projects.map((p) => [p.id, p.tags]),
        [[id, ['a', 'b']]],
      );
      await h.call('POST', '/v3/users', h.adminToken, { user: { name: 'u1', password: 'pw' } });
      const token = await h.token({ name: 'u1', password: 'pw' }, 'unscoped');
      const revoke = await h.app.inject({
        method: 'DELETE',
        url: '/v3/auth/tokens',
        headers: { 'x-auth-token': h.adminToken, 'x-subject-token': token },
      });
      assert.equal(revoke.statusCode, 204);
      const check = await h.app.inject({
        method: 'GET',
        url: '/v3/auth/tokens',
        headers: { 'x-auth-token': h.adminToken, 'x-subject-token': token },
      });
      assert.equal(check.statusCode, 404);
      assert.equal((await h.call('DELETE', `/v3/projects/${id}`, h.adminToken)).status, 204);
    });
  },
  { timeout: 60_000 },
);
