import assert from 'node:assert/strict';
import { it, type TestContext } from 'node:test';
import type { DialectName } from '../../src/common/db/database-url.ts';
import { forEachDialect, freshDatabase } from '../helpers/databases.ts';
import { identityHarness, type Harness, type Reply } from './harness.ts';

type RegisteredLimit = {
  id: string;
  service_id: string;
  region_id: string | null;
  resource_name: string;
  default_limit: number;
  description: string | null;
  links: { self: string };
};
type Limit = {
  id: string;
  project_id: string | null;
  domain_id: string | null;
  service_id: string;
  region_id: string | null;
  resource_name: string;
  resource_limit: number;
  description: string | null;
  links: { self: string };
};
type ErrorBody = { error: { code: number; title: string; message: string } };

/** A harness on a fresh database of `dialect` (SQLite in a temporary directory by default). */
async function harness(t: TestContext, dialect: DialectName): Promise<Harness> {
  if (dialect === 'sqlite') return identityHarness(t);
  return identityHarness(t, { databaseUrl: (await freshDatabase(t, dialect)).url });
}

function assertKeystoneError(res: Reply, status: number, label: string): void {
  assert.equal(res.status, status, `${label}: ${JSON.stringify(res.json())}`);
  const body = res.json<ErrorBody>();
  assert.equal(body.error.code, status, label);
  assert.equal(typeof body.error.title, 'string', label);
  assert.equal(typeof body.error.message, 'string', label);
}

/** A service, a region and the admin project to hang limits on. */
async function fixture(h: Harness) {
  const service = await h.call('POST', '/v3/services', h.adminToken, {
    service: { type: 'volumev3', name: 'cinderv3' },
  });
  assert.equal(service.status, 201);
  const region = await h.call('POST', '/v3/regions', h.adminToken, {
    region: { id: 'LimitRegion' },
  });
  assert.equal(region.status, 201);
  const me = await h.app.inject({
    method: 'GET',
    url: '/v3/auth/tokens',
    headers: { 'x-auth-token': h.adminToken, 'x-subject-token': h.adminToken },
  });
  const projectId = (JSON.parse(me.body) as { token: { project: { id: string } } }).token.project
    .id;
  return {
    serviceId: service.json<{ service: { id: string } }>().service.id,
    regionId: 'LimitRegion',
    projectId,
  };
}

async function registered(h: Harness, limits: Record<string, unknown>[]) {
  return h.call('POST', '/v3/registered_limits', h.adminToken, { registered_limits: limits });
}

async function limitsOf(h: Harness, limits: Record<string, unknown>[]) {
  return h.call('POST', '/v3/limits', h.adminToken, { limits });
}

forEachDialect(
  'identity: unified limits',
  (dialect) => {
    it('creates, lists, shows, updates and deletes registered limits', async (t) => {
      const h = await harness(t, dialect);
      const f = await fixture(h);
      const made = await registered(h, [
        {
          service_id: f.serviceId,
          region_id: f.regionId,
          resource_name: 'snapshot',
          default_limit: 5,
        },
        {
          service_id: f.serviceId,
          resource_name: 'volume',
          default_limit: 10,
          description: 'Number of volumes',
        },
      ]);
      assert.equal(made.status, 201, JSON.stringify(made.json()));
      const body = made.json<{ registered_limits: RegisteredLimit[]; links?: unknown }>();
      assert.equal(body.links, undefined, 'a create answers without links');
      assert.equal(body.registered_limits.length, 2);
      const [snapshot, volume] = body.registered_limits as [RegisteredLimit, RegisteredLimit];
      assert.equal(snapshot.region_id, f.regionId);
      assert.equal(snapshot.description, null);
      assert.equal(volume.region_id, null);
      assert.ok(snapshot.links.self.endsWith(`/v3/registered_limits/${snapshot.id}`));

      const lists = [
        { name: 'all', query: '', names: ['snapshot', 'volume'] },
        { name: 'by service', query: `?service_id=${f.serviceId}`, names: ['snapshot', 'volume'] },
        { name: 'by region', query: `?region_id=${f.regionId}`, names: ['snapshot'] },
        { name: 'by resource', query: '?resource_name=volume', names: ['volume'] },
        { name: 'by unknown service', query: '?service_id=nope', names: [] },
      ];
      for (const l of lists) {
        const res = await h.call('GET', `/v3/registered_limits${l.query}`, h.adminToken);
        assert.equal(res.status, 200, l.name);
        const names = res
          .json<{ registered_limits: RegisteredLimit[] }>()
          .registered_limits.map((r) => r.resource_name)
          .sort();
        assert.deepEqual(names, l.names, l.name);
      }

      const url = `/v3/registered_limits/${volume.id}`;
      assert.equal((await h.call('GET', url, h.adminToken)).status, 200);
      const patched = await h.call('PATCH', url, h.adminToken, {
        registered_limit: { default_limit: 20, region_id: f.regionId, description: null },
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.json()));
      const after = patched.json<{ registered_limit: RegisteredLimit }>().registered_limit;
      assert.equal(after.default_limit, 20);
      assert.equal(after.region_id, f.regionId);
      assert.equal(after.description, null);

      assert.equal((await h.call('DELETE', url, h.adminToken)).status, 204);
      assertKeystoneError(await h.call('GET', url, h.adminToken), 404, 'gone');
      assertKeystoneError(await h.call('DELETE', url, h.adminToken), 404, 'deleted twice');
    });

    it('creates, lists, shows, updates and deletes project and domain limits', async (t) => {
      const h = await harness(t, dialect);
      const f = await fixture(h);
      assert.equal(
        (
          await registered(h, [
            {
              service_id: f.serviceId,
              region_id: f.regionId,
              resource_name: 'snapshot',
              default_limit: 5,
            },
            { service_id: f.serviceId, resource_name: 'volume', default_limit: 10 },
          ])
        ).status,
        201,
      );
      const made = await limitsOf(h, [
        {
          service_id: f.serviceId,
          project_id: f.projectId,
          region_id: f.regionId,
          resource_name: 'snapshot',
          resource_limit: 5,
        },
        {
          service_id: f.serviceId,
          domain_id: 'default',
          resource_name: 'volume',
          resource_limit: -1,
          description: 'unlimited',
        },
      ]);
      assert.equal(made.status, 201, JSON.stringify(made.json()));
      const [projectLimit, domainLimit] = made.json<{ limits: Limit[] }>().limits as [Limit, Limit];
      assert.equal(projectLimit.project_id, f.projectId);
      assert.equal(projectLimit.domain_id, null);
      assert.equal(domainLimit.domain_id, 'default');
      assert.equal(domainLimit.project_id, null);
      assert.equal(domainLimit.resource_limit, -1);

      const lists = [
        { name: 'all', query: '', count: 2 },
        { name: 'by project', query: `?project_id=${f.projectId}`, count: 1 },
        { name: 'by domain', query: '?domain_id=default', count: 1 },
        { name: 'by region', query: `?region_id=${f.regionId}`, count: 1 },
        { name: 'by resource', query: '?resource_name=volume', count: 1 },
        { name: 'by service', query: `?service_id=${f.serviceId}`, count: 2 },
      ];
      for (const l of lists) {
        const res = await h.call('GET', `/v3/limits${l.query}`, h.adminToken);
        assert.equal(res.status, 200, l.name);
        assert.equal(res.json<{ limits: Limit[] }>().limits.length, l.count, l.name);
      }

      const url = `/v3/limits/${projectLimit.id}`;
      assert.equal((await h.call('GET', url, h.adminToken)).status, 200);
      const patched = await h.call('PATCH', url, h.adminToken, {
        limit: { resource_limit: 0, description: 'none at all' },
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.json()));
      const after = patched.json<{ limit: Limit }>().limit;
      assert.equal(after.resource_limit, 0);
      assert.equal(after.description, 'none at all');

      const model = await h.call('GET', '/v3/limits/model', h.adminToken);
      assert.equal(model.status, 200);
      assert.equal(model.json<{ model: { name: string } }>().model.name, 'flat');

      assert.equal((await h.call('DELETE', url, h.adminToken)).status, 204);
      assertKeystoneError(await h.call('GET', url, h.adminToken), 404, 'gone');
    });

    it('refuses bad registered limits with a 4xx in Keystone shape', async (t) => {
      const h = await harness(t, dialect);
      const f = await fixture(h);
      const ok = { service_id: f.serviceId, resource_name: 'cores', default_limit: 4 };
      assert.equal((await registered(h, [ok])).status, 201);
      const cases: { name: string; limits: unknown; status: number }[] = [
        {
          name: 'unknown service',
          limits: [{ ...ok, service_id: 'e'.repeat(32), resource_name: 'x' }],
          status: 400,
        },
        {
          name: 'unknown region',
          limits: [{ ...ok, region_id: 'Nowhere', resource_name: 'x' }],
          status: 400,
        },
        { name: 'duplicate of a stored one', limits: [ok], status: 409 },
        {
          name: 'duplicate within the request',
          limits: [
            { ...ok, resource_name: 'ram' },
            { ...ok, resource_name: 'ram' },
          ],
          status: 409,
        },
        {
          name: 'limit a string',
          limits: [{ ...ok, resource_name: 'x', default_limit: '5' }],
          status: 400,
        },
        {
          name: 'limit a fraction',
          limits: [{ ...ok, resource_name: 'x', default_limit: 1.5 }],
          status: 400,
        },
        {
          name: 'limit below -1',
          limits: [{ ...ok, resource_name: 'x', default_limit: -2 }],
          status: 400,
        },
        {
          name: 'limit above 2^31-1',
          limits: [{ ...ok, resource_name: 'x', default_limit: 2 ** 31 }],
          status: 400,
        },
        {
          name: 'resource name of 256 characters',
          limits: [{ ...ok, resource_name: 'r'.repeat(256) }],
          status: 400,
        },
        {
          name: 'description of 256 characters',
          limits: [{ ...ok, resource_name: 'x', description: 'd'.repeat(256) }],
          status: 400,
        },
        { name: 'no service', limits: [{ resource_name: 'x', default_limit: 1 }], status: 400 },
        {
          name: 'unknown attribute',
          limits: [{ ...ok, resource_name: 'x', colour: 'red' }],
          status: 400,
        },
        { name: 'empty list', limits: [], status: 400 },
        { name: 'not a list', limits: ok, status: 400 },
      ];
      for (const c of cases) {
        const res = await h.call('POST', '/v3/registered_limits', h.adminToken, {
          registered_limits: c.limits,
        });
        assertKeystoneError(res, c.status, c.name);
      }
      const after = await h.call('GET', '/v3/registered_limits', h.adminToken);
      assert.deepEqual(
        after
          .json<{ registered_limits: RegisteredLimit[] }>()
          .registered_limits.map((r) => r.resource_name),
        ['cores'],
        'a failed create leaves nothing behind',
      );

      const id =
        after.json<{ registered_limits: RegisteredLimit[] }>().registered_limits[0]?.id ?? '';
      const patches: { name: string; id?: string; body: unknown; status: number }[] = [
        {
          name: 'unknown id',
          id: 'f'.repeat(32),
          body: { registered_limit: { default_limit: 1 } },
          status: 404,
        },
        {
          name: 'unknown service',
          body: { registered_limit: { service_id: 'e'.repeat(32) } },
          status: 400,
        },
        {
          name: 'unknown region',
          body: { registered_limit: { region_id: 'Nowhere' } },
          status: 400,
        },
        { name: 'other id in body', body: { registered_limit: { id: 'other' } }, status: 400 },
        { name: 'limit a string', body: { registered_limit: { default_limit: 'x' } }, status: 400 },
        { name: 'no wrapper', body: { default_limit: 1 }, status: 400 },
      ];
      for (const p of patches) {
        const res = await h.call(
          'PATCH',
          `/v3/registered_limits/${p.id ?? id}`,
          h.adminToken,
          p.body,
        );
        assertKeystoneError(res, p.status, p.name);
      }
      const res = await h.app.inject({
        method: 'POST',
        url: '/v3/registered_limits',
        headers: { 'x-auth-token': h.adminToken, 'content-type': 'application/json' },
        payload: '{"registered_limits": [',
      });
      assert.equal(res.statusCode, 400, 'bad JSON');
      assert.equal((JSON.parse(res.body) as ErrorBody).error.code, 400);
    });

    it('refuses bad limits with a 4xx in Keystone shape', async (t) => {
      const h = await harness(t, dialect);
      const f = await fixture(h);
      const made = await registered(h, [
        { service_id: f.serviceId, resource_name: 'cores', default_limit: 4 },
      ]);
      const registeredId = made.json<{ registered_limits: RegisteredLimit[] }>()
        .registered_limits[0]?.id;
      const ok = {
        service_id: f.serviceId,
        project_id: f.projectId,
        resource_name: 'cores',
        resource_limit: 8,
      };
      const first = await limitsOf(h, [ok]);
      assert.equal(first.status, 201);
      const limitId = first.json<{ limits: Limit[] }>().limits[0]?.id ?? '';

      const cases: { name: string; limits: unknown; status: number }[] = [
        { name: 'no registered limit', limits: [{ ...ok, resource_name: 'ram' }], status: 403 },
        {
          name: 'no registered limit in that region',
          limits: [{ ...ok, region_id: f.regionId }],
          status: 403,
        },
        { name: 'both project and domain', limits: [{ ...ok, domain_id: 'default' }], status: 400 },
        {
          name: 'neither project nor domain',
          limits: [{ service_id: f.serviceId, resource_name: 'cores', resource_limit: 1 }],
          status: 400,
        },
        { name: 'unknown project', limits: [{ ...ok, project_id: 'e'.repeat(32) }], status: 400 },
        {
          name: 'unknown domain',
          limits: [
            {
              service_id: f.serviceId,
              domain_id: 'e'.repeat(32),
              resource_name: 'cores',
              resource_limit: 1,
            },
          ],
          status: 400,
        },
        { name: 'unknown service', limits: [{ ...ok, service_id: 'e'.repeat(32) }], status: 400 },
        { name: 'duplicate', limits: [ok], status: 409 },
        { name: 'limit a fraction', limits: [{ ...ok, resource_limit: 0.5 }], status: 400 },
        { name: 'limit null', limits: [{ ...ok, resource_limit: null }], status: 400 },
        { name: 'project id a number', limits: [{ ...ok, project_id: 7 }], status: 400 },
        { name: 'empty list', limits: [], status: 400 },
      ];
      for (const c of cases)
        assertKeystoneError(
          await h.call('POST', '/v3/limits', h.adminToken, { limits: c.limits }),
          c.status,
          c.name,
        );

      const patches: { name: string; id?: string; body: unknown; status: number }[] = [
        {
          name: 'unknown id',
          id: 'f'.repeat(32),
          body: { limit: { resource_limit: 1 } },
          status: 404,
        },
        { name: 'service changed', body: { limit: { service_id: f.serviceId } }, status: 400 },
        { name: 'project changed', body: { limit: { project_id: f.projectId } }, status: 400 },
        { name: 'limit a string', body: { limit: { resource_limit: '1' } }, status: 400 },
        { name: 'other id in body', body: { limit: { id: 'other' } }, status: 400 },
      ];
      for (const p of patches)
        assertKeystoneError(
          await h.call('PATCH', `/v3/limits/${p.id ?? limitId}`, h.adminToken, p.body),
          p.status,
          p.name,
        );

      const registeredUrl = `/v3/registered_limits/${registeredId}`;
      assertKeystoneError(
        await h.call('PATCH', registeredUrl, h.adminToken, {
          registered_limit: { default_limit: 1 },
        }),
        403,
        'update a registered limit that limits use',
      );
      assertKeystoneError(await h.call('DELETE', registeredUrl, h.adminToken), 403, 'delete it');
      assert.equal((await h.call('DELETE', `/v3/limits/${limitId}`, h.adminToken)).status, 204);
      assert.equal((await h.call('DELETE', registeredUrl, h.adminToken)).status, 204, 'free now');
      assertKeystoneError(
        await h.call('DELETE', `/v3/limits/${'f'.repeat(32)}`, h.adminToken),
        404,
        'unknown limit',
      );
    });

    it('shows a project member the limits of their project only', async (t) => {
      const h = await harness(t, dialect);
      const f = await fixture(h);
      await registered(h, [{ service_id: f.serviceId, resource_name: 'cores', default_limit: 4 }]);
      const user = await h.call('POST', '/v3/users', h.adminToken, {
        user: { name: 'erin', password: 'erin-password-1', domain_id: 'default' },
      });
      const erinId = user.json<{ user: { id: string } }>().user.id;
      const project = await h.call('POST', '/v3/projects', h.adminToken, {
        project: { name: 'erins', domain_id: 'default' },
      });
      const projectId = project.json<{ project: { id: string } }>().project.id;
      const roles = await h.call('GET', '/v3/roles?name=member', h.adminToken);
      const memberId = roles.json<{ roles: { id: string }[] }>().roles[0]?.id ?? '';
      const grant = await h.call(
        'PUT',
        `/v3/projects/${projectId}/users/${erinId}/roles/${memberId}`,
        h.adminToken,
      );
      assert.equal(grant.status, 204);
      const made = await limitsOf(h, [
        {
          service_id: f.serviceId,
          project_id: f.projectId,
          resource_name: 'cores',
          resource_limit: 8,
        },
        {
          service_id: f.serviceId,
          project_id: projectId,
          resource_name: 'cores',
          resource_limit: 2,
        },
        {
          service_id: f.serviceId,
          domain_id: 'default',
          resource_name: 'cores',
          resource_limit: 100,
        },
      ]);
      assert.equal(made.status, 201);
      const [adminLimit, erinLimit] = made.json<{ limits: Limit[] }>().limits as [Limit, Limit];
      const erin = await h.token(
        { name: 'erin', password: 'erin-password-1' },
        { project: { id: projectId } },
      );

      const listed = await h.call('GET', '/v3/limits', erin);
      assert.deepEqual(
        listed.json<{ limits: Limit[] }>().limits.map((l) => l.id),
        [erinLimit.id],
        'only her project',
      );
      const filtered = await h.call('GET', `/v3/limits?project_id=${f.projectId}`, erin);
      assert.deepEqual(
        filtered.json<{ limits: Limit[] }>().limits,
        [],
        'a filter does not widen it',
      );
      assert.equal((await h.call('GET', `/v3/limits/${erinLimit.id}`, erin)).status, 200);
      assertKeystoneError(
        await h.call('GET', `/v3/limits/${adminLimit.id}`, erin),
        403,
        'another project',
      );
      const all = await h.call('GET', '/v3/limits', h.adminToken);
      assert.equal(all.json<{ limits: Limit[] }>().limits.length, 3, 'an admin sees all');
    });

    it('lets non-admins read what is theirs and change nothing', async (t) => {
      const h = await harness(t, dialect);
      const f = await fixture(h);
      await registered(h, [{ service_id: f.serviceId, resource_name: 'cores', default_limit: 4 }]);
      const made = await limitsOf(h, [
        {
          service_id: f.serviceId,
          project_id: f.projectId,
          resource_name: 'cores',
          resource_limit: 8,
        },
      ]);
      const limitId = made.json<{ limits: Limit[] }>().limits[0]?.id ?? '';
      const user = await h.call('POST', '/v3/users', h.adminToken, {
        user: { name: 'carol', password: 'carol-password-1', domain_id: 'default' },
      });
      assert.equal(user.status, 201);
      const carol = await h.token({ name: 'carol', password: 'carol-password-1' }, 'unscoped');

      const cases: { name: string; method: string; url: string; body?: unknown; status: number }[] =
        [
          {
            name: 'list registered limits',
            method: 'GET',
            url: '/v3/registered_limits',
            status: 200,
          },
          { name: 'model', method: 'GET', url: '/v3/limits/model', status: 200 },
          { name: 'list limits', method: 'GET', url: '/v3/limits', status: 200 },
          { name: 'get a project limit', method: 'GET', url: `/v3/limits/${limitId}`, status: 403 },
          {
            name: 'create registered',
            method: 'POST',
            url: '/v3/registered_limits',
            body: {
              registered_limits: [
                { service_id: f.serviceId, resource_name: 'ram', default_limit: 1 },
              ],
            },
            status: 403,
          },
          {
            name: 'create limits',
            method: 'POST',
            url: '/v3/limits',
            body: {
              limits: [
                {
                  service_id: f.serviceId,
                  project_id: f.projectId,
                  resource_name: 'cores',
                  resource_limit: 1,
                },
              ],
            },
            status: 403,
          },
          {
            name: 'update a limit',
            method: 'PATCH',
            url: `/v3/limits/${limitId}`,
            body: { limit: { resource_limit: 100 } },
            status: 403,
          },
          { name: 'delete a limit', method: 'DELETE', url: `/v3/limits/${limitId}`, status: 403 },
        ];
      for (const c of cases) {
        const res = await h.call(c.method, c.url, carol, c.body);
        if (c.status >= 400) assertKeystoneError(res, c.status, c.name);
        else assert.equal(res.status, c.status, c.name);
      }
      const listed = await h.call('GET', '/v3/limits', carol);
      assert.deepEqual(
        listed.json<{ limits: Limit[] }>().limits,
        [],
        'an unscoped token sees no limits',
      );
    });
  },
  { timeout: 120_000 },
);
