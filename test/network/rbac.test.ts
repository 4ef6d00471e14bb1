/**
 * RBAC policies over HTTP: sharing a network with one project or all, the `shared` and
 * `router:external` flags as `*` entries, withdrawal refused while ports rely on it, upstream's
 * errors, and isolation between projects.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return --
   response bodies are untyped JSON these tests assert on field by field. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { networkHarness, neutronError } from './harness.ts';

describe('network: rbac policies', () => {
  it('shares a network with one project, and refuses to withdraw it while that project has ports', async (t) => {
    const h = await networkHarness(t);
    const owner = h.token('p1');
    const friend = h.token('p2');
    const stranger = h.token('p3');
    const net = await h.network('n', {}, owner);
    await h.subnet(net.id, '198.18.0.0/24', {}, owner);
    const created = await h.call('POST', '/v2.0/rbac-policies', {
      token: owner,
      body: {
        rbac_policy: {
          object_type: 'network',
          object_id: net.id,
          action: 'access_as_shared',
          target_tenant: 'p2',
        },
      },
    });
    assert.equal(created.status, 201, created.text);
    const policy = created.body.rbac_policy;
    assert.deepEqual(
      { ...policy, id: undefined },
      {
        id: undefined,
        object_type: 'network',
        object_id: net.id,
        action: 'access_as_shared',
        target_tenant: 'p2',
        project_id: 'p1',
        tenant_id: 'p1',
      },
    );
    const seen = await h.call('GET', `/v2.0/networks/${net.id}`, { token: friend });
    assert.equal(seen.status, 200);
    assert.equal(seen.body.network.shared, true);
    assert.equal(
      (await h.call('GET', `/v2.0/networks/${net.id}`, { token: owner })).body.network.shared,
      false,
    );
    assert.deepEqual(
      (await h.call('GET', '/v2.0/networks?shared=true', { token: friend })).body.networks.map(
        (n: { id: string }) => n.id,
      ),
      [net.id],
    );
    assert.equal(
      (await h.call('GET', `/v2.0/networks/${net.id}`, { token: stranger })).status,
      404,
    );
    assert.equal((await h.call('GET', '/v2.0/subnets', { token: friend })).body.subnets.length, 1);
    const port = await h.port(net.id, {}, friend);
    const inUse = await h.call('DELETE', `/v2.0/rbac-policies/${policy.id}`, { token: owner });
    assert.equal(inUse.status, 409);
    assert.equal(neutronError(inUse).type, 'RbacPolicyInUse');
    assert.match(
      neutronError(inUse).message,
      new RegExp(
        `^RBAC policy on object ${net.id} cannot be removed because other objects depend on it.\\nDetails: `,
      ),
    );
    // The friend sees the policy that names it; a stranger sees none.
    assert.equal(
      (await h.call('GET', '/v2.0/rbac-policies', { token: friend })).body.rbac_policies.length,
      1,
    );
    assert.deepEqual(
      (await h.call('GET', '/v2.0/rbac-policies', { token: stranger })).body.rbac_policies,
      [],
    );
    assert.equal(
      (await h.call('DELETE', `/v2.0/rbac-policies/${policy.id}`, { token: stranger })).status,
      404,
    );
    assert.equal((await h.call('DELETE', `/v2.0/ports/${port.id}`, { token: friend })).status, 204);
    assert.equal(
      (await h.call('DELETE', `/v2.0/rbac-policies/${policy.id}`, { token: owner })).status,
      204,
    );
    assert.equal((await h.call('GET', `/v2.0/networks/${net.id}`, { token: friend })).status, 404);
  });

  it('keeps shared and router:external as the * entries', async (t) => {
    const h = await networkHarness(t);
    const net = await h.network('n', { shared: true });
    const list = async (): Promise<any[]> =>
      (await h.call('GET', `/v2.0/rbac-policies?object_id=${net.id}`)).body.rbac_policies;
    assert.deepEqual(
      (await list()).map((p) => [p.action, p.target_tenant]),
      [['access_as_shared', '*']],
    );
    const other = h.token('p9');
    await h.port(net.id, {}, other);
    const unshare = await h.call('PUT', `/v2.0/networks/${net.id}`, {
      body: { network: { shared: false } },
    });
    assert.equal(unshare.status, 409);
    assert.deepEqual(neutronError(unshare), {
      type: 'InvalidSharedSetting',
      message: `Unable to reconfigure sharing settings for network ${net.id}. Multiple projects are using it.`,
      detail: '',
    });
    const external = await h.call('POST', '/v2.0/rbac-policies', {
      body: {
        rbac_policy: {
          object_type: 'network',
          object_id: net.id,
          action: 'access_as_external',
          target_tenant: '*',
        },
      },
    });
    assert.equal(external.status, 201, external.text);
    assert.equal(
      (await h.call('GET', `/v2.0/networks/${net.id}`)).body.network['router:external'],
      true,
    );
    await h.call('DELETE', `/v2.0/rbac-policies/${external.body.rbac_policy.id}`);
    assert.equal(
      (await h.call('GET', `/v2.0/networks/${net.id}`)).body.network['router:external'],
      false,
    );
  });

  it('answers bad policies with upstream errors', async (t) => {
    const h = await networkHarness(t);
    const member = h.token('p1');
    const mine = await h.network('mine', {}, member);
    const admins = await h.network('admins');
    const body = (over: Record<string, unknown>): unknown => ({
      rbac_policy: {
        object_type: 'network',
        object_id: mine.id,
        action: 'access_as_shared',
        target_tenant: 'p2',
        ...over,
      },
    });
    const cases: { name: string; body: unknown; status: number; type: string; message: string }[] =
      [
        {
          name: 'object type',
          body: body({ object_type: 'router' }),
          status: 400,
          type: 'InvalidInput',
          message: "Invalid input for operation: 'router' is not a valid RBAC object type.",
        },
        {
          name: 'action',
          body: body({ action: 'access_as_owner' }),
          status: 400,
          type: 'InvalidInput',
          message:
            "Invalid input for operation: Invalid action 'access_as_owner' for object type 'network'. Valid actions: ('access_as_shared', 'access_as_external').",
        },
        {
          name: 'missing target',
          body: {
            rbac_policy: { object_type: 'network', object_id: mine.id, action: 'access_as_shared' },
          },
          status: 400,
          type: 'HTTPBadRequest',
          message: "Failed to parse request. Required attribute 'target_tenant' not specified",
        },
        {
          name: 'not owned',
          body: body({ object_id: admins.id }),
          status: 400,
          type: 'InvalidInput',
          message:
            'Invalid input for operation: Only admins can manipulate policies on networks they do not own.',
        },
      ];
    for (const c of cases) {
      const res = await h.call('POST', '/v2.0/rbac-policies', { token: member, body: c.body });
      assert.equal(res.status, c.status, `${c.name}: ${res.text}`);
      assert.deepEqual(neutronError(res), { type: c.type, message: c.message, detail: '' }, c.name);
    }
    assert.equal(
      (await h.call('POST', '/v2.0/rbac-policies', { token: member, body: body({}) })).status,
      201,
    );
    const duplicate = await h.call('POST', '/v2.0/rbac-policies', {
      token: member,
      body: body({}),
    });
    assert.equal(duplicate.status, 409);
    assert.deepEqual(neutronError(duplicate), {
      type: 'DuplicateRbacPolicy',
      message: 'An RBAC policy already exists with those values.',
      detail: '',
    });
  });
});
