/**
 * Requests that once got through or broke the service: ports claiming another project's router,
 * ports on a network the project may not use, gateway changes that fail halfway, values the
 * database cannot hold, and references left behind by deletes.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call --
   response bodies are untyped JSON these tests assert on field by field. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { networkHarness, neutronError } from './harness.ts';

describe('network: hardening', () => {
  it('keeps projects off each other routers and private networks', async (t) => {
    const h = await networkHarness(t);
    const p1 = h.token('p1');
    const p2 = h.token('p2');
    const router = (
      await h.call('POST', '/v2.0/routers', { token: p1, body: { router: { name: 'r' } } })
    ).body.router;
    const theirs = await h.network('theirs', {}, p2);
    const fake = await h.call('POST', '/v2.0/ports', {
      token: p2,
      body: {
        port: {
          network_id: theirs.id,
          device_owner: 'network:router_interface',
          device_id: router.id,
        },
      },
    });
    assert.equal(fake.status, 409);
    assert.equal(neutronError(fake).type, 'DeviceIDNotOwnedByProject');
    const ext = await h.network('public', { 'router:external': true });
    await h.subnet(ext.id, '198.19.0.0/24');
    const onExternal = await h.call('POST', '/v2.0/ports', {
      token: p2,
      body: { port: { network_id: ext.id } },
    });
    assert.equal(onExternal.status, 403);
    assert.deepEqual(neutronError(onExternal), {
      type: 'HTTPForbidden',
      message: 'Tenant p2 not allowed to create port on this network',
      detail: '',
    });
    const p2port = await h.port(theirs.id, {}, p2);
    const borrowed = await h.call('PUT', `/v2.0/routers/${router.id}/add_router_interface`, {
      token: p1,
      body: { port_id: p2port.id },
    });
    assert.equal(borrowed.status, 404);
  });

  it('leaves the old gateway in place when a gateway change is refused', async (t) => {
    const h = await networkHarness(t);
    const ext = await h.network('public', { 'router:external': true });
    const sub = await h.subnet(ext.id, '198.19.0.0/24');
    const created = await h.call('POST', '/v2.0/routers', {
      body: { router: { name: 'r', external_gateway_info: { network_id: ext.id } } },
    });
    const router = created.body.router;
    const refused = await h.call('PUT', `/v2.0/routers/${router.id}`, {
      body: {
        router: {
          external_gateway_info: {
            network_id: ext.id,
            external_fixed_ips: [{ subnet_id: sub.id, ip_address: '198.19.0.1' }],
          },
        },
      },
    });
    assert.equal(refused.status, 400);
    const after = (await h.call('GET', `/v2.0/routers/${router.id}`)).body.router;
    assert.deepEqual(after.external_gateway_info, router.external_gateway_info);
    assert.equal((await h.call('GET', `/v2.0/ports?network_id=${ext.id}`)).body.ports.length, 1);
    const internal = await h.call('PUT', `/v2.0/networks/${ext.id}`, {
      body: { network: { 'router:external': false } },
    });
    assert.equal(internal.status, 409);
    assert.equal(neutronError(internal).type, 'ExternalNetworkInUse');
  });

  it('answers values the database cannot hold with 400s', async (t) => {
    const h = await networkHarness(t);
    const net = await h.network('n');
    const cases: { name: string; method: string; url: string; body?: unknown; status: number }[] = [
      {
        name: 'NUL in a name',
        method: 'POST',
        url: '/v2.0/networks',
        body: { network: { name: 'a\u0000b' } },
        status: 400,
      },
      { name: 'NUL in a filter', method: 'GET', url: '/v2.0/networks?name=a%00b', status: 400 },
      { name: 'NUL in an id', method: 'GET', url: '/v2.0/networks/a%00b', status: 400 },
      {
        name: 'NUL in a tag',
        method: 'PUT',
        url: `/v2.0/networks/${net.id}/tags/a%00b`,
        status: 400,
      },
      {
        name: 'huge integer filter',
        method: 'GET',
        url: '/v2.0/networks?mtu=99999999999',
        status: 400,
      },
      {
        name: 'negative mtu',
        method: 'POST',
        url: '/v2.0/networks',
        body: { network: { mtu: -5 } },
        status: 400,
      },
      {
        name: 'huge limit',
        method: 'GET',
        url: '/v2.0/networks?limit=99999999999999999999999',
        status: 200,
      },
      {
        name: 'long project',
        method: 'POST',
        url: '/v2.0/networks',
        body: { network: { project_id: 'x'.repeat(100) } },
        status: 400,
      },
      {
        name: 'many zone hints',
        method: 'POST',
        url: '/v2.0/networks',
        body: {
          network: { availability_zone_hints: Array.from({ length: 300 }, () => 'z'.repeat(200)) },
        },
        status: 400,
      },
      {
        name: 'not filterable',
        method: 'GET',
        url: '/v2.0/subnets?dns_nameservers=x',
        status: 400,
      },
    ];
    for (const c of cases) {
      const res = await h.call(c.method, c.url, c.body !== undefined ? { body: c.body } : {});
      assert.equal(res.status, c.status, `${c.name}: ${res.text}`);
      if (c.status === 400) assert.ok(neutronError(res).message.length > 0, c.name);
    }
  });

  it('drops rules naming a deleted group, and keeps router ports to the router', async (t) => {
    const h = await networkHarness(t);
    const member = h.token('p1');
    const a = (
      await h.call('POST', '/v2.0/security-groups', {
        token: member,
        body: { security_group: { name: 'a' } },
      })
    ).body.security_group;
    const b = (
      await h.call('POST', '/v2.0/security-groups', {
        token: member,
        body: { security_group: { name: 'b' } },
      })
    ).body.security_group;
    const rule = await h.call('POST', '/v2.0/security-group-rules', {
      token: member,
      body: {
        security_group_rule: {
          security_group_id: b.id,
          direction: 'ingress',
          remote_group_id: a.id,
        },
      },
    });
    assert.equal(rule.status, 201, rule.text);
    assert.equal(
      (await h.call('DELETE', `/v2.0/security-groups/${a.id}`, { token: member })).status,
      204,
    );
    const left = (await h.call('GET', `/v2.0/security-groups/${b.id}`, { token: member })).body
      .security_group;
    assert.ok(left.security_group_rules.every((r: any) => r.remote_group_id !== a.id));
    const net = await h.network('n', {}, member);
    const sub = await h.subnet(net.id, '198.18.0.0/24', {}, member);
    const router = (
      await h.call('POST', '/v2.0/routers', { token: member, body: { router: { name: 'r' } } })
    ).body.router;
    const itf = await h.call('PUT', `/v2.0/routers/${router.id}/add_router_interface`, {
      token: member,
      body: { subnet_id: sub.id },
    });
    const moved = await h.call('PUT', `/v2.0/ports/${itf.body.port_id}`, {
      token: member,
      body: { port: { fixed_ips: [{ subnet_id: sub.id, ip_address: '198.18.0.9' }] } },
    });
    assert.equal(moved.status, 409);
  });
});
