/**
 * Quotas over HTTP: the configured defaults, limits an admin sets (and who may read or change
 * them), usage details, limits refused below current usage, and the 409 OverQuota of a create
 * that would go past a limit.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return --
   response bodies are untyped JSON these tests assert on field by field. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { networkHarness, neutronError, type Harness, type Reply } from './harness.ts';

const DEFAULTS = {
  network: 100,
  subnet: 100,
  port: 500,
  router: 10,
  floatingip: 50,
  security_group: 10,
  security_group_rule: 100,
  rbac_policy: 10,
  router_route: 30,
  subnetpool: -1,
};

function setQuota(h: Harness, project: string, quota: unknown, token?: string): Promise<Reply> {
  return h.call('PUT', `/v2.0/quotas/${project}`, {
    body: { quota },
    ...(token !== undefined ? { token } : {}),
  });
}

describe('network: quotas', () => {
  it('shows the defaults to a project and to an admin', async (t) => {
    const h = await networkHarness(t);
    const p1 = h.token('p1');
    for (const [name, token, url] of [
      ['own', p1, '/v2.0/quotas/p1'],
      ['own defaults', p1, '/v2.0/quotas/p1/default'],
      ['admin, any project', h.admin, '/v2.0/quotas/never-seen'],
      ['admin, defaults', h.admin, '/v2.0/quotas/never-seen/default'],
    ] as const) {
      const res = await h.call('GET', url, { token });
      assert.equal(res.status, 200, name);
      assert.deepEqual(res.body, { quota: DEFAULTS }, name);
    }
    const self = await h.call('GET', '/v2.0/quotas/project', { token: p1 });
    assert.deepEqual(self.body, { project: { project_id: 'p1' } });
    const post = await h.call('POST', '/v2.0/quotas', { body: { quota: { network: 1 } } });
    assert.equal(post.status, 501);
    assert.equal(neutronError(post).message, 'POST requests are not supported on this resource.');
  });

  it('lets an admin set, list and reset limits', async (t) => {
    const h = await networkHarness(t);
    const set = await setQuota(h, 'p1', { network: 20, port: '30', check_limit: true });
    assert.equal(set.status, 200, set.text);
    assert.deepEqual(set.body, { quota: { ...DEFAULTS, network: 20, port: 30 } });
    assert.deepEqual((await h.call('GET', '/v2.0/quotas/p1')).body.quota, set.body.quota);
    assert.deepEqual((await h.call('GET', '/v2.0/quotas/p1/default')).body.quota, DEFAULTS);
    // Unlimited is -1.
    assert.equal((await setQuota(h, 'p2', { subnet: -1 })).body.quota.subnet, -1);
    const listed = await h.call('GET', '/v2.0/quotas');
    assert.equal(listed.status, 200);
    assert.deepEqual(
      [...listed.body.quotas].sort((a: any, b: any) => a.project_id.localeCompare(b.project_id)),
      [
        { ...DEFAULTS, network: 20, port: 30, project_id: 'p1', tenant_id: 'p1' },
        { ...DEFAULTS, subnet: -1, project_id: 'p2', tenant_id: 'p2' },
      ],
    );
    assert.equal((await h.call('DELETE', '/v2.0/quotas/p1')).status, 204);
    assert.deepEqual((await h.call('GET', '/v2.0/quotas/p1')).body.quota, DEFAULTS);
    assert.deepEqual(
      (await h.call('GET', '/v2.0/quotas')).body.quotas.map((q: any) => q.project_id),
      ['p2'],
    );
    const again = await h.call('DELETE', '/v2.0/quotas/p1');
    assert.equal(again.status, 404);
    assert.deepEqual(neutronError(again), {
      type: 'TenantQuotaNotFound',
      message: 'Quota for project p1 could not be found.',
      detail: '',
    });
  });

  it('keeps limits and other projects from members', async (t) => {
    const h = await networkHarness(t);
    const p1 = h.token('p1');
    const cases: { name: string; method: string; url: string; body?: unknown; type: string }[] = [
      {
        name: 'set own',
        method: 'PUT',
        url: '/v2.0/quotas/p1',
        body: { quota: { network: 1000 } },
        type: 'PolicyNotAuthorized',
      },
      { name: 'reset own', method: 'DELETE', url: '/v2.0/quotas/p1', type: 'PolicyNotAuthorized' },
      { name: 'list all', method: 'GET', url: '/v2.0/quotas', type: 'PolicyNotAuthorized' },
      { name: 'read another', method: 'GET', url: '/v2.0/quotas/p2', type: 'PolicyNotAuthorized' },
      {
        name: "another's defaults",
        method: 'GET',
        url: '/v2.0/quotas/p2/default',
        type: 'PolicyNotAuthorized',
      },
      {
        name: "another's usage",
        method: 'GET',
        url: '/v2.0/quotas/p2/details',
        type: 'AdminRequired',
      },
    ];
    for (const c of cases) {
      const res = await h.call(c.method, c.url, {
        token: p1,
        ...(c.body !== undefined ? { body: c.body } : {}),
      });
      assert.equal(res.status, 403, `${c.name}: ${res.text}`);
      assert.equal(neutronError(res).type, c.type, c.name);
    }
    const usage = await h.call('GET', '/v2.0/quotas/p2/details', { token: p1 });
    assert.equal(
      neutronError(usage).message,
      'User does not have admin privileges: Only admin is authorized to access quotas for another project.',
    );
    assert.deepEqual((await h.call('GET', '/v2.0/quotas/p1', { token: p1 })).body.quota, DEFAULTS);
  });

  it('reports usage in details, counting the default group and its rules', async (t) => {
    const h = await networkHarness(t);
    const p1 = h.token('p1');
    const net = await h.network('n', {}, p1);
    await h.subnet(net.id, '198.18.0.0/24', {}, p1);
    await h.port(net.id, {}, p1);
    await h.network('m', {}, p1);
    await setQuota(h, 'p1', { network: 5 });
    for (const token of [p1, h.admin]) {
      const res = await h.call('GET', '/v2.0/quotas/p1/details', { token });
      assert.equal(res.status, 200, res.text);
      const q = res.body.quota;
      assert.deepEqual(q.network, { limit: 5, used: 2, reserved: 0 });
      assert.deepEqual(q.subnet, { limit: 100, used: 1, reserved: 0 });
      assert.deepEqual(q.port, { limit: 500, used: 1, reserved: 0 });
      assert.deepEqual(q.security_group, { limit: 10, used: 1, reserved: 0 });
      assert.deepEqual(q.security_group_rule, { limit: 100, used: 4, reserved: 0 });
      assert.deepEqual(q.subnetpool, { limit: -1, used: 0, reserved: 0 });
    }
    const other = (await h.call('GET', '/v2.0/quotas/p2/details')).body.quota;
    assert.deepEqual(other.network, { limit: 100, used: 0, reserved: 0 });
  });

  describe('refuses a create past the limit with OverQuota', () => {
    const cases: {
      name: string;
      quota: Record<string, number>;
      resource: string;
      /** Creates one more of the resource as `token`. */
      create: (h: Harness, token: string) => Promise<Reply>;
      /** How many creates succeed before the refusal. */
      allowed: number;
    }[] = [
      {
        name: 'networks',
        quota: { network: 1 },
        resource: 'network',
        create: (h, token) =>
          h.call('POST', '/v2.0/networks', { token, body: { network: { name: 'n' } } }),
        allowed: 1,
      },
      {
        name: 'ports',
        quota: { port: 1 },
        resource: 'port',
        create: async (h, token) => {
          const listed = (await h.call('GET', '/v2.0/networks', { token })).body.networks;
          const net = listed[0] ?? (await h.network('n', {}, token));
          return h.call('POST', '/v2.0/ports', { token, body: { port: { network_id: net.id } } });
        },
        allowed: 1,
      },
      {
        name: 'security groups, the default one included',
        quota: { security_group: 2 },
        resource: 'security_group',
        create: (h, token) =>
          h.call('POST', '/v2.0/security-groups', {
            token,
            body: { security_group: { name: 'g' } },
          }),
        allowed: 1,
      },
      {
        name: 'the rules of a new group, after the default group took four',
        quota: { security_group_rule: 7 },
        resource: 'security_group_rule',
        create: (h, token) =>
          h.call('POST', '/v2.0/security-groups', {
            token,
            body: { security_group: { name: 'g' } },
          }),
        allowed: 1,
      },
    ];
    for (const c of cases)
      it(c.name, async (t) => {
        const h = await networkHarness(t);
        const p1 = h.token('p1');
        assert.equal((await setQuota(h, 'p1', c.quota)).status, 200);
        for (let i = 0; i < c.allowed; i++) {
          const ok = await c.create(h, p1);
          assert.equal(ok.status, 201, ok.text);
        }
        const refused = await c.create(h, p1);
        assert.equal(refused.status, 409, refused.text);
        assert.deepEqual(neutronError(refused), {
          type: 'OverQuota',
          message: `Quota exceeded for resources: ['${c.resource}'].`,
          detail: '',
        });
        // An admin raising the limit lets the next one through.
        await setQuota(h, 'p1', { [c.resource]: -1 });
        assert.equal((await c.create(h, p1)).status, 201);
      });

    it('a rule past the limit', async (t) => {
      const h = await networkHarness(t);
      const p1 = h.token('p1');
      const [sg] = (await h.call('GET', '/v2.0/security-groups', { token: p1 })).body
        .security_groups;
      await setQuota(h, 'p1', { security_group_rule: 4 });
      const refused = await h.call('POST', '/v2.0/security-group-rules', {
        token: p1,
        body: { security_group_rule: { security_group_id: sg.id, direction: 'ingress' } },
      });
      assert.equal(refused.status, 409);
      assert.equal(
        neutronError(refused).message,
        "Quota exceeded for resources: ['security_group_rule'].",
      );
    });
  });

  it('refuses a limit below what the project uses, unless forced', async (t) => {
    const h = await networkHarness(t);
    await h.network('n', {}, h.token('p1'));
    const refused = await setQuota(h, 'p1', { network: 0 });
    assert.equal(refused.status, 400);
    assert.deepEqual(neutronError(refused), {
      type: 'HTTPBadRequest',
      message: 'Quota limit 0 for network must be greater than or equal to already used 1',
      detail: '',
    });
    // Only a JSON true forces: the string "False" upstream's own sample sends does not.
    assert.equal((await setQuota(h, 'p1', { network: 0, force: 'True' })).status, 400);
    assert.deepEqual((await h.call('GET', '/v2.0/quotas/p1')).body.quota, DEFAULTS);
    assert.equal((await setQuota(h, 'p1', { network: 1 })).status, 200);
    const forced = await setQuota(h, 'p1', { network: 0, force: true });
    assert.equal(forced.status, 200, forced.text);
    assert.equal(forced.body.quota.network, 0);
  });

  it('answers bad limits with NeutronError 400s', async (t) => {
    const h = await networkHarness(t);
    const cases: { name: string; quota: unknown; type: string; message: string }[] = [
      {
        name: 'not an integer',
        quota: { network: 'abc' },
        type: 'InvalidInput',
        message: "Invalid input for operation: 'abc' is not an integer.",
      },
      {
        name: 'a fraction in text',
        quota: { network: '1.5' },
        type: 'InvalidInput',
        message: "Invalid input for operation: '1.5' is not an integer.",
      },
      {
        name: 'null',
        quota: { network: null },
        type: 'InvalidInput',
        message: "Invalid input for operation: 'None' is not an integer.",
      },
      {
        name: 'below -1',
        quota: { network: -2 },
        type: 'HTTPBadRequest',
        message: "Invalid input for network. Reason: '-2' is too small - must be at least '-1'.",
      },
      {
        name: 'past a 32-bit integer',
        quota: { network: 2147483648 },
        type: 'HTTPBadRequest',
        message:
          "Invalid input for network. Reason: '2147483648' is too large - must be no larger than '2147483647'.",
      },
      {
        name: 'an unknown resource, before any value',
        quota: { network: 'abc', foo: 1 },
        type: 'HTTPBadRequest',
        message: "Unrecognized attribute(s) 'foo'",
      },
      {
        name: 'an unknown resource',
        quota: { foo: 1 },
        type: 'HTTPBadRequest',
        message: "Unrecognized attribute(s) 'foo'",
      },
    ];
    for (const c of cases) {
      const res = await setQuota(h, 'p1', c.quota);
      assert.equal(res.status, 400, `${c.name}: ${res.text}`);
      assert.deepEqual(neutronError(res), { type: c.type, message: c.message, detail: '' }, c.name);
    }
    const unwrapped = await h.call('PUT', '/v2.0/quotas/p1', { body: { network: 1 } });
    assert.equal(unwrapped.status, 400);
    assert.equal(neutronError(unwrapped).message, "Unable to find 'quota' in request body");
    assert.deepEqual((await h.call('GET', '/v2.0/quotas')).body.quotas, []);
    // Python's int() cuts a JSON fraction to an integer.
    const cut = await setQuota(h, 'p1', { network: 7.9, subnet: ' 8 ' });
    assert.equal(cut.status, 200, cut.text);
    assert.equal(cut.body.quota.network, 7);
    assert.equal(cut.body.quota.subnet, 8);
  });
});
