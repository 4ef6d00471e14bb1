/**
 * Subnet pools over HTTP: prefixes merged, bounds, subnets carved by size (best fit, lowest
 * address) or by CIDR, the default pool, upstream's errors, and isolation between projects.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-call --
   response bodies are untyped JSON these tests assert on field by field. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { networkHarness, neutronError, type Harness } from './harness.ts';

async function pool(h: Harness, body: Record<string, unknown>, token?: string): Promise<any> {
  const res = await h.call('POST', '/v2.0/subnetpools', {
    body: { subnetpool: body },
    ...(token ? { token } : {}),
  });
  assert.equal(res.status, 201, res.text);
  return res.body.subnetpool;
}

describe('network: subnet pools', () => {
  it('carves subnets by size from the smallest free space, and by CIDR from free space', async (t) => {
    const h = await networkHarness(t);
    const member = h.token('p1');
    const p = await pool(
      h,
      { name: 'p', prefixes: ['198.18.64.0/19', '198.18.0.0/18'], default_prefixlen: 24 },
      member,
    );
    assert.deepEqual(p.prefixes, ['198.18.0.0/18', '198.18.64.0/19']);
    assert.equal(p.ip_version, 4);
    assert.equal(p.default_prefixlen, '24');
    assert.equal(p.min_prefixlen, '8');
    assert.equal(p.max_prefixlen, '32');
    const net = await h.network('n', {}, member);
    const carve = async (extra: Record<string, unknown>): Promise<any> =>
      h.call('POST', '/v2.0/subnets', {
        token: member,
        body: { subnet: { network_id: net.id, ip_version: 4, subnetpool_id: p.id, ...extra } },
      });
    const first = await carve({});
    assert.equal(first.status, 201, first.text);
    // The smallest free space that holds a /24 is the /19.
    assert.equal(first.body.subnet.cidr, '198.18.64.0/24');
    assert.equal(first.body.subnet.subnetpool_id, p.id);
    assert.equal(first.body.subnet.gateway_ip, '198.18.64.1');
    const small = await carve({ prefixlen: 26 });
    assert.equal(small.body.subnet.cidr, '198.18.65.0/26');
    const other = await h.network('m', {}, member);
    const byCidr = await h.call('POST', '/v2.0/subnets', {
      token: member,
      body: {
        subnet: {
          network_id: other.id,
          ip_version: 4,
          subnetpool_id: p.id,
          cidr: '198.18.0.0/24',
        },
      },
    });
    assert.equal(byCidr.status, 201, byCidr.text);
    const taken = await h.call('POST', '/v2.0/subnets', {
      token: member,
      body: {
        subnet: { network_id: other.id, ip_version: 4, subnetpool_id: p.id, cidr: '198.18.0.0/25' },
      },
    });
    assert.equal(taken.status, 409);
    assert.deepEqual(neutronError(taken), {
      type: 'SubnetAllocationError',
      message:
        'Failed to allocate subnet: Cannot allocate requested subnet from the available set of prefixes.',
      detail: '',
    });
    const tooLong = await carve({ prefixlen: 33 });
    assert.equal(
      neutronError(tooLong).message,
      'Unable to allocate subnet with prefix length 33, maximum allowed prefix is 32.',
    );
    const both = await carve({ prefixlen: 24, cidr: '198.18.9.0/24' });
    assert.equal(
      neutronError(both).message,
      'Bad subnets request: cidr and prefixlen must not be supplied together.',
    );
    const full = await carve({ prefixlen: 17 });
    assert.equal(full.status, 409);
    assert.equal(
      neutronError(full).message,
      'Failed to allocate subnet: Insufficient prefix space to allocate subnet size /17.',
    );
    const busy = await h.call('DELETE', `/v2.0/subnetpools/${p.id}`, { token: member });
    assert.equal(busy.status, 400);
    assert.equal(
      neutronError(busy).message,
      'Unable to delete subnet pool: Subnet pool has existing allocations.',
    );
    for (const s of [first, small, byCidr])
      assert.equal(
        (await h.call('DELETE', `/v2.0/subnets/${s.body.subnet.id}`, { token: member })).status,
        204,
      );
    assert.equal(
      (await h.call('DELETE', `/v2.0/subnetpools/${p.id}`, { token: member })).status,
      204,
    );
  });

  it('updates a pool only to a superset of its prefixes, within bounds', async (t) => {
    const h = await networkHarness(t);
    const p = await pool(h, { name: 'p', prefixes: ['198.18.0.0/24'], min_prefixlen: 24 });
    const grown = await h.call('PUT', `/v2.0/subnetpools/${p.id}`, {
      body: { subnetpool: { prefixes: ['198.18.0.0/24', '198.18.1.0/24'], max_prefixlen: 28 } },
    });
    assert.equal(grown.status, 200, grown.text);
    assert.deepEqual(grown.body.subnetpool.prefixes, ['198.18.0.0/23']);
    assert.equal(grown.body.subnetpool.max_prefixlen, 28);
    const cases: { name: string; body: Record<string, unknown>; type: string; message: string }[] =
      [
        {
          name: 'shrink',
          body: { prefixes: ['198.18.1.0/24'] },
          type: 'IllegalSubnetPoolPrefixUpdate',
          message:
            'Illegal update to prefixes: Existing prefixes must be a subset of the new prefixes.',
        },
        {
          name: 'bounds',
          body: { min_prefixlen: 30 },
          type: 'IllegalSubnetPoolPrefixBounds',
          message: 'Illegal prefix bounds: min_prefixlen=30, max_prefixlen=28.',
        },
        {
          name: 'mixed',
          body: { prefixes: ['198.18.0.0/23', '2001:db8::/64'] },
          type: 'PrefixVersionMismatch',
          message: 'Cannot mix IPv4 and IPv6 prefixes in a subnet pool.',
        },
      ];
    for (const c of cases) {
      const res = await h.call('PUT', `/v2.0/subnetpools/${p.id}`, {
        body: { subnetpool: c.body },
      });
      assert.equal(res.status, 400, `${c.name}: ${res.text}`);
      assert.deepEqual(neutronError(res), { type: c.type, message: c.message, detail: '' }, c.name);
    }
  });

  it('gives subnets from the default pool, and keeps pools of other projects private', async (t) => {
    const h = await networkHarness(t);
    const p1 = h.token('p1');
    const p2 = h.token('p2');
    const none = await h.call('POST', '/v2.0/subnets', {
      token: p1,
      body: {
        subnet: {
          network_id: (await h.network('n0', {}, p1)).id,
          ip_version: 4,
          use_default_subnetpool: true,
        },
      },
    });
    assert.equal(
      neutronError(none).message,
      'Bad subnets request: No default subnetpool found for IPv4.',
    );
    const shared = await pool(h, {
      name: 'default',
      prefixes: ['198.18.128.0/17'],
      default_prefixlen: 26,
      is_default: true,
      shared: true,
    });
    const second = await h.call('POST', '/v2.0/subnetpools', {
      body: { subnetpool: { name: 'x', prefixes: ['198.19.0.0/24'], is_default: true } },
    });
    assert.equal(second.status, 400);
    const net = await h.network('n', {}, p1);
    const sub = await h.call('POST', '/v2.0/subnets', {
      token: p1,
      body: { subnet: { network_id: net.id, ip_version: 4, use_default_subnetpool: true } },
    });
    assert.equal(sub.status, 201, sub.text);
    assert.equal(sub.body.subnet.cidr, '198.18.128.0/26');
    assert.equal(sub.body.subnet.subnetpool_id, shared.id);
    const mine = await pool(h, { name: 'mine', prefixes: ['198.19.0.0/24'] }, p1);
    assert.deepEqual(
      (await h.call('GET', '/v2.0/subnetpools', { token: p2 })).body.subnetpools.map(
        (x: any) => x.name,
      ),
      ['default'],
    );
    assert.equal((await h.call('GET', `/v2.0/subnetpools/${mine.id}`, { token: p2 })).status, 404);
    const theirs = await h.call('POST', '/v2.0/subnets', {
      token: p2,
      body: {
        subnet: {
          network_id: (await h.network('q', {}, p2)).id,
          ip_version: 4,
          subnetpool_id: mine.id,
        },
      },
    });
    assert.equal(theirs.status, 404);
    assert.equal(neutronError(theirs).type, 'SubnetPoolNotFound');
    const memberShares = await h.call('POST', '/v2.0/subnetpools', {
      token: p2,
      body: { subnetpool: { name: 's', prefixes: ['198.19.1.0/24'], shared: true } },
    });
    assert.equal(memberShares.status, 403);
  });
});
