/**
 * Networks over HTTP: defaults, provider segments, visibility (own, shared, external, admin),
 * updates with If-Match, deletion rules, listing (filters, sorting, fields, pagination, tags) and
 * the body checks of Neutron's API layer.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return --
   response bodies are untyped JSON these tests assert on field by field. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { networkHarness, neutronError } from './harness.ts';

describe('network: networks', () => {
  it('creates a project network on the next free VXLAN id with the VXLAN MTU', async (t) => {
    const h = await networkHarness(t);
    const a = await h.network('a');
    const b = await h.network('b');
    assert.equal(a['provider:network_type'], 'vxlan');
    assert.equal(a['provider:physical_network'], null);
    assert.equal(a['provider:segmentation_id'], 1);
    assert.equal(b['provider:segmentation_id'], 2);
    assert.equal(a.mtu, 1450);
    assert.equal(a.status, 'ACTIVE');
    assert.equal(a.admin_state_up, true);
    assert.equal(a.shared, false);
    assert.equal(a['router:external'], false);
    assert.equal(a.port_security_enabled, true);
    assert.deepEqual(a.subnets, []);
    assert.deepEqual(a.tags, []);
    assert.equal(a.tenant_id, a.project_id);
    assert.match(a.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // Deleting frees the id for the next network.
    assert.equal((await h.call('DELETE', `/v2.0/networks/${a.id}`)).status, 204);
    assert.equal((await h.network('c'))['provider:segmentation_id'], 1);
  });

  it('takes provider attributes from an admin and refuses a taken segment', async (t) => {
    const h = await networkHarness(t);
    const flat = await h.network('ext', {
      'provider:network_type': 'flat',
      'provider:physical_network': 'physnet1',
      'router:external': true,
    });
    assert.equal(flat['provider:network_type'], 'flat');
    assert.equal(flat['provider:segmentation_id'], null);
    assert.equal(flat.mtu, 1500);
    const vlan = await h.network('v', {
      'provider:network_type': 'vlan',
      'provider:physical_network': 'physnet1',
      'provider:segmentation_id': '1234',
    });
    assert.equal(vlan['provider:segmentation_id'], 1234);
    const taken = await h.call('POST', '/v2.0/networks', {
      body: {
        network: {
          'provider:network_type': 'vlan',
          'provider:physical_network': 'physnet1',
          'provider:segmentation_id': 1234,
        },
      },
    });
    assert.equal(taken.status, 409);
    assert.equal(neutronError(taken).type, 'SegmentationIdInUse');
    const member = h.token('p1');
    const denied = await h.call('POST', '/v2.0/networks', {
      token: member,
      body: { network: { name: 'x', 'provider:network_type': 'vxlan' } },
    });
    assert.equal(denied.status, 403);
    assert.equal(neutronError(denied).type, 'PolicyNotAuthorized');
    assert.match(neutronError(denied).message, /rule:create_network:provider:network_type/);
    // Members do not see provider attributes.
    const own = await h.network('mine', {}, member);
    assert.equal(own['provider:network_type'], undefined);
  });

  it('shows a project its own, shared and external networks only', async (t) => {
    const h = await networkHarness(t);
    const p1 = h.token('p1');
    const p2 = h.token('p2');
    const mine = await h.network('mine', {}, p1);
    const theirs = await h.network('theirs', {}, p2);
    const shared = await h.network('shared', { shared: true });
    const external = await h.network('external', { 'router:external': true });
    await h.network('admins');
    const listed = await h.call('GET', '/v2.0/networks', { token: p1 });
    assert.deepEqual(listed.body.networks.map((n: { name: string }) => n.name).sort(), [
      'external',
      'mine',
      'shared',
    ]);
    assert.equal((await h.call('GET', `/v2.0/networks/${theirs.id}`, { token: p1 })).status, 404);
    assert.equal((await h.call('GET', `/v2.0/networks/${shared.id}`, { token: p1 })).status, 200);
    // Visible but not owned: updates and deletes are refused; invisible: not found.
    const update = await h.call('PUT', `/v2.0/networks/${shared.id}`, {
      token: p1,
      body: { network: { name: 'x' } },
    });
    assert.equal(update.status, 403);
    assert.equal(
      (await h.call('DELETE', `/v2.0/networks/${external.id}`, { token: p1 })).status,
      403,
    );
    const hidden = await h.call('DELETE', `/v2.0/networks/${theirs.id}`, { token: p1 });
    assert.equal(hidden.status, 404);
    assert.equal(neutronError(hidden).type, 'NetworkNotFound');
    assert.equal(neutronError(hidden).message, `Network ${theirs.id} could not be found.`);
    assert.equal((await h.call('GET', '/v2.0/networks')).body.networks.length, 5);
    assert.equal((await h.call('GET', `/v2.0/networks/${mine.id}`, { token: p2 })).status, 404);
    // A member may not share a network, nor create one for another project.
    const sharing = await h.call('POST', '/v2.0/networks', {
      token: p1,
      body: { network: { shared: true } },
    });
    assert.equal(sharing.status, 403);
    const other = await h.call('POST', '/v2.0/networks', {
      token: p1,
      body: { network: { project_id: 'p2' } },
    });
    assert.equal(other.status, 400);
    assert.match(
      neutronError(other).message,
      /Specifying 'project_id' other than the authenticated project/,
    );
  });

  it('updates with If-Match on the revision and refuses a stale one with 412', async (t) => {
    const h = await networkHarness(t);
    const net = await h.network('n');
    const ok = await h.call('PUT', `/v2.0/networks/${net.id}`, {
      headers: { 'if-match': `revision_number=${net.revision_number}` },
      body: { network: { name: 'renamed', mtu: 1400, admin_state_up: 'false' } },
    });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.body.network.name, 'renamed');
    assert.equal(ok.body.network.mtu, 1400);
    assert.equal(ok.body.network.admin_state_up, false);
    assert.equal(ok.body.network.revision_number, net.revision_number + 1);
    const stale = await h.call('PUT', `/v2.0/networks/${net.id}`, {
      headers: { 'if-match': `revision_number=${net.revision_number}` },
      body: { network: { name: 'again' } },
    });
    assert.equal(stale.status, 412);
    assert.deepEqual(neutronError(stale), {
      type: 'RevisionNumberConstraintFailed',
      message: `Constrained to ${net.revision_number}, but current revision is ${net.revision_number + 1}`,
      detail: '',
    });
    const tooBig = await h.call('PUT', `/v2.0/networks/${net.id}`, {
      body: { network: { mtu: 9000 } },
    });
    assert.equal(tooBig.status, 400);
    assert.equal(
      neutronError(tooBig).message,
      'Invalid input for operation: Requested MTU is too big, maximum is 1450.',
    );
  });

  it('answers bad bodies with the NeutronError Neutron gives', async (t) => {
    const h = await networkHarness(t);
    const net = await h.network('n');
    const cases: {
      name: string;
      method: string;
      url: string;
      body: unknown;
      status: number;
      type: string;
      message: string;
    }[] = [
      {
        name: 'no body',
        method: 'POST',
        url: '/v2.0/networks',
        body: undefined,
        status: 400,
        type: 'HTTPBadRequest',
        message: 'Resource body required',
      },
      {
        name: 'wrong wrapper',
        method: 'POST',
        url: '/v2.0/networks',
        body: { net: {} },
        status: 400,
        type: 'HTTPBadRequest',
        message: "Unable to find 'network' in request body",
      },
      {
        name: 'unknown attribute',
        method: 'POST',
        url: '/v2.0/networks',
        body: { network: { foo: 1 } },
        status: 400,
        type: 'HTTPBadRequest',
        message: "Unrecognized attribute(s) 'foo'",
      },
      {
        name: 'read-only in POST',
        method: 'POST',
        url: '/v2.0/networks',
        body: { network: { status: 'DOWN' } },
        status: 400,
        type: 'HTTPBadRequest',
        message: "Attribute 'status' not allowed in POST",
      },
      {
        name: 'read-only in PUT',
        method: 'PUT',
        url: `/v2.0/networks/${net.id}`,
        body: { network: { subnets: [] } },
        status: 400,
        type: 'HTTPBadRequest',
        message: 'Cannot update read-only attribute subnets',
      },
      {
        name: 'not a boolean',
        method: 'POST',
        url: '/v2.0/networks',
        body: { network: { admin_state_up: 'maybe' } },
        status: 400,
        type: 'InvalidInput',
        message: "Invalid input for operation: 'maybe' cannot be converted to boolean.",
      },
      {
        name: 'name too long',
        method: 'POST',
        url: '/v2.0/networks',
        body: { network: { name: 'x'.repeat(256) } },
        status: 400,
        type: 'HTTPBadRequest',
        message: `Invalid input for name. Reason: '${'x'.repeat(256)}' exceeds maximum length of 255.`,
      },
      {
        name: 'bad JSON',
        method: 'POST',
        url: '/v2.0/networks',
        body: '{',
        status: 400,
        type: 'HTTPBadRequest',
        message: '',
      },
      {
        name: 'unknown URL',
        method: 'GET',
        url: '/v2.0/nothing',
        body: undefined,
        status: 404,
        type: 'HTTPNotFound',
        message: 'The resource could not be found.',
      },
      {
        name: 'unknown filter',
        method: 'GET',
        url: '/v2.0/networks?foo=1',
        body: undefined,
        status: 400,
        type: 'HTTPBadRequest',
        message: "['foo'] is invalid attribute for filtering",
      },
      {
        name: 'bad sort key',
        method: 'GET',
        url: '/v2.0/networks?sort_key=subnets&sort_dir=asc',
        body: undefined,
        status: 400,
        type: 'HTTPBadRequest',
        message: "['subnets'] is invalid attribute for sort_keys",
      },
      {
        name: 'bad limit',
        method: 'GET',
        url: '/v2.0/networks?limit=x',
        body: undefined,
        status: 400,
        type: 'BadRequest',
        message: "Bad limit request: Limit must be an integer 0 or greater and not 'x'.",
      },
      {
        name: 'bad If-Match',
        method: 'DELETE',
        url: `/v2.0/networks/${net.id}`,
        body: undefined,
        status: 400,
        type: 'HTTPBadRequest',
        message: '',
      },
    ];
    for (const c of cases) {
      const res = await h.call(c.method, c.url, {
        ...(c.body !== undefined ? { body: c.body } : {}),
        ...(c.name === 'bad If-Match' ? { headers: { 'if-match': 'revision_number=x' } } : {}),
      });
      assert.equal(res.status, c.status, `${c.name}: ${res.text}`);
      assert.equal(neutronError(res).type, c.type, c.name);
      if (c.message !== '') assert.equal(neutronError(res).message, c.message, c.name);
    }
  });

  it('filters, sorts, pages and trims fields as Neutron lists do', async (t) => {
    const h = await networkHarness(t);
    const names = ['d', 'b', 'e', 'a', 'c'];
    for (const name of names) await h.network(name, { admin_state_up: name !== 'e' });
    const get = async (query: string): Promise<any> =>
      (await h.call('GET', `/v2.0/networks?${query}`)).body;
    assert.deepEqual(
      (await get('sort_key=name&sort_dir=desc')).networks.map((n: { name: string }) => n.name),
      ['e', 'd', 'c', 'b', 'a'],
    );
    assert.deepEqual(
      (await get('name=a&name=c&sort_key=name&sort_dir=asc')).networks.map(
        (n: { name: string }) => n.name,
      ),
      ['a', 'c'],
    );
    assert.deepEqual(
      (await get('admin_state_up=False')).networks.map((n: { name: string }) => n.name),
      ['e'],
    );
    assert.deepEqual((await get('fields=name&name=a')).networks, [{ name: 'a' }]);
    // Two pages of two and a last page of one, following the next links.
    const seen: string[] = [];
    let url = '/v2.0/networks?limit=2&sort_key=name&sort_dir=asc';
    for (let i = 0; i < 5 && url !== ''; i++) {
      const page = (await h.call('GET', url)).body;
      seen.push(...page.networks.map((n: { name: string }) => n.name));
      const next = (page.networks_links ?? []).find((l: { rel: string }) => l.rel === 'next');
      url = next ? new URL(next.href).pathname + new URL(next.href).search : '';
    }
    assert.deepEqual(seen, ['a', 'b', 'c', 'd', 'e']);
    const first = await get('limit=2&sort_key=name&sort_dir=asc');
    const marker = first.networks[1].id;
    const back = await get(`limit=2&sort_key=name&sort_dir=asc&marker=${marker}&page_reverse=True`);
    assert.deepEqual(
      back.networks.map((n: { name: string }) => n.name),
      ['a'],
    );
    const missing = await h.call(
      'GET',
      '/v2.0/networks?limit=1&marker=00000000-0000-0000-0000-000000000000',
    );
    assert.equal(missing.status, 404);
  });

  it('tags networks and filters by tags', async (t) => {
    const h = await networkHarness(t);
    const red = await h.network('red');
    const blue = await h.network('blue');
    const put = await h.call('PUT', `/v2.0/networks/${red.id}/tags`, {
      body: { tags: ['red', 'warm'] },
    });
    assert.equal(put.status, 200);
    assert.deepEqual(put.body.tags, ['red', 'warm']);
    assert.equal((await h.call('PUT', `/v2.0/networks/${blue.id}/tags/blue`)).status, 201);
    assert.equal((await h.call('GET', `/v2.0/networks/${blue.id}/tags/blue`)).status, 204);
    const missing = await h.call('GET', `/v2.0/networks/${blue.id}/tags/red`);
    assert.equal(missing.status, 404);
    assert.equal(neutronError(missing).type, 'TagNotFound');
    const names = async (q: string): Promise<string[]> =>
      (await h.call('GET', `/v2.0/networks?${q}`)).body.networks
        .map((n: { name: string }) => n.name)
        .sort();
    assert.deepEqual(await names('tags=red,warm'), ['red']);
    assert.deepEqual(await names('tags-any=blue,warm'), ['blue', 'red']);
    assert.deepEqual(await names('not-tags=red'), ['blue']);
    assert.deepEqual(await names('not-tags-any=blue,red'), []);
    const shown = (await h.call('GET', `/v2.0/networks/${red.id}`)).body.network;
    assert.deepEqual(shown.tags, ['red', 'warm']);
    assert.equal(shown.revision_number, red.revision_number + 1);
    assert.equal((await h.call('DELETE', `/v2.0/networks/${red.id}/tags`)).status, 204);
    assert.deepEqual((await h.call('GET', `/v2.0/networks/${red.id}/tags`)).body.tags, []);
    const other = h.token('p9');
    assert.equal(
      (await h.call('PUT', `/v2.0/networks/${red.id}/tags/x`, { token: other })).status,
      404,
    );
  });

  it('publishes a notification for each change', async (t) => {
    const h = await networkHarness(t);
    const net = await h.network('n');
    await h.call('PUT', `/v2.0/networks/${net.id}`, { body: { network: { name: 'm' } } });
    await h.call('DELETE', `/v2.0/networks/${net.id}`);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(
      h.notifications.map((n) => n.event_type),
      ['network.create.end', 'network.update.end', 'network.delete.end'],
    );
  });
});
