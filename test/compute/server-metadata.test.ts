/** A server's metadata and tags through their sub-resources, as the CLI's `server set/unset` uses them. */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return --
   response bodies are untyped JSON these tests assert on field by field. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { activeServer, serversHarness, type ServersHarness } from './harness.ts';

const server = async (h: ServersHarness, token: string, metadata = {}): Promise<string> =>
  (await activeServer(h, { token, server: { metadata } })).id;

describe('server metadata', () => {
  it('merges, replaces, reads and deletes items', async (t) => {
    const h = await serversHarness(t, { hosts: [{ hostname: 'host-1' }] });
    const alice = h.token('alice', 'project-a');
    const id = await server(h, alice, { a: '1' });
    const base = `/v2.1/servers/${id}/metadata`;
    const merged = await h.call('POST', base, {
      token: alice,
      body: { metadata: { b: '2', a: 'x' } },
    });
    assert.equal(merged.status, 200, merged.text);
    assert.deepEqual(merged.body.metadata, { a: 'x', b: '2' });
    const one = await h.call('PUT', `${base}/c`, { token: alice, body: { meta: { c: '3' } } });
    assert.equal(one.status, 200, one.text);
    assert.deepEqual(one.body, { meta: { c: '3' } });
    assert.deepEqual((await h.call('GET', `${base}/c`, { token: alice })).body, {
      meta: { c: '3' },
    });
    assert.deepEqual((await h.call('GET', base, { token: alice })).body.metadata, {
      a: 'x',
      b: '2',
      c: '3',
    });
    assert.equal((await h.call('DELETE', `${base}/b`, { token: alice })).status, 204);
    const replaced = await h.call('PUT', base, {
      token: alice,
      body: { metadata: { only: 'me' } },
    });
    assert.deepEqual(replaced.body.metadata, { only: 'me' });
    const shown = await h.call('GET', `/v2.1/servers/${id}`, { token: alice });
    assert.deepEqual(shown.body.server.metadata, { only: 'me' });
    // Bad requests, each with Nova's answer.
    const cases: [string, string, string, unknown, number, string][] = [
      ['missing key', 'GET', `${base}/nope`, undefined, 404, 'Metadata item was not found'],
      [
        'delete missing key',
        'DELETE',
        `${base}/nope`,
        undefined,
        404,
        'Metadata item was not found',
      ],
      [
        'URI mismatch',
        'PUT',
        `${base}/x`,
        { meta: { y: '1' } },
        400,
        'Request body and URI mismatch',
      ],
      [
        'two items for one key',
        'PUT',
        `${base}/x`,
        { meta: { x: '1', y: '2' } },
        400,
        'has too many properties',
      ],
      ['bad key', 'POST', base, { metadata: { 'a/b': '1' } }, 400, "'a/b' was unexpected"],
      [
        'value not a string',
        'POST',
        base,
        { metadata: { a: 1 } },
        400,
        "1 is not of type 'string'",
      ],
      ['no metadata', 'POST', base, { meta: {} }, 400, "'metadata' is a required property"],
    ];
    for (const [name, method, url, body, status, message] of cases) {
      const r = await h.call(method, url, {
        token: alice,
        ...(body !== undefined ? { body } : {}),
      });
      assert.equal(r.status, status, `${name}: ${r.text}`);
      assert.ok((Object.values(r.body)[0] as any).message.includes(message), `${name}: ${r.text}`);
    }
    // Over the metadata_items quota.
    const many = Object.fromEntries(Array.from({ length: 129 }, (_, i) => [`k${i}`, 'v']));
    const over = await h.call('PUT', base, { token: alice, body: { metadata: many } });
    assert.equal(over.status, 403, over.text);
    // Another project cannot see or change any of it.
    const bob = h.token('bob', 'project-b');
    assert.equal((await h.call('GET', base, { token: bob })).status, 404);
    assert.equal(
      (await h.call('POST', base, { token: bob, body: { metadata: { z: '1' } } })).status,
      404,
    );
    assert.equal((await h.call('DELETE', `${base}/only`, { token: bob })).status, 404);
    // A locked server's metadata is frozen for its owner; a stopping one refuses changes.
    await h.call('POST', `/v2.1/servers/${id}/action`, { body: { lock: null } });
    const locked = await h.call('POST', base, { token: alice, body: { metadata: { z: '1' } } });
    assert.equal(locked.status, 409);
  });
});

describe('server tags', () => {
  it('adds, lists, checks, replaces and removes tags from 2.26', async (t) => {
    const h = await serversHarness(t, { hosts: [{ hostname: 'host-1' }] });
    const alice = h.token('alice', 'project-a');
    const id = await server(h, alice);
    const base = `/v2.1/servers/${id}/tags`;
    const v = { token: alice, version: '2.26' };
    assert.equal((await h.call('GET', base, { token: alice })).status, 404);
    const added = await h.call('PUT', `${base}/blue`, v);
    assert.equal(added.status, 201, added.text);
    assert.match(String(added.headers['location']), new RegExp(`/servers/${id}/tags/blue$`));
    assert.equal((await h.call('PUT', `${base}/blue`, v)).status, 204);
    assert.equal((await h.call('PUT', `${base}/green`, v)).status, 201);
    assert.deepEqual((await h.call('GET', base, v)).body, { tags: ['blue', 'green'] });
    assert.equal((await h.call('GET', `${base}/blue`, v)).status, 204);
    const missing = await h.call('GET', `${base}/red`, v);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.itemNotFound.message, `Server ${id} has no tag 'red'`);
    const listed = await h.call('GET', '/v2.1/servers?tags=blue', v);
    assert.deepEqual(
      listed.body.servers.map((s: any) => s.id),
      [id],
    );
    const shown = await h.call('GET', `/v2.1/servers/${id}`, v);
    assert.deepEqual(shown.body.server.tags, ['blue', 'green']);
    const replaced = await h.call('PUT', base, { ...v, body: { tags: ['b', 'a', 'a'] } });
    assert.equal(replaced.status, 200, replaced.text);
    assert.deepEqual(replaced.body.tags, ['a', 'b']);
    assert.equal((await h.call('DELETE', `${base}/a`, v)).status, 204);
    const notThere = await h.call('DELETE', `${base}/a`, v);
    assert.equal(notThere.status, 404);
    assert.equal(notThere.body.itemNotFound.message, `Instance ${id} has no tag 'a'`);
    assert.equal((await h.call('DELETE', base, v)).status, 204);
    assert.deepEqual((await h.call('GET', base, v)).body.tags, []);
    const bad: [string, unknown][] = [
      ['a tag with a comma', { tags: ['a,b'] }],
      ['too many tags', { tags: Array.from({ length: 51 }, (_, i) => `t${i}`) }],
      ['not a list', { tags: 'x' }],
    ];
    for (const [name, body] of bad)
      assert.equal((await h.call('PUT', base, { ...v, body })).status, 400, name);
    assert.equal((await h.call('PUT', `${base}/${'x'.repeat(61)}`, v)).status, 400);
    for (let i = 0; i < 50; i++) await h.call('PUT', `${base}/t${i}`, v);
    const fiftyFirst = await h.call('PUT', `${base}/one-more`, v);
    assert.equal(fiftyFirst.status, 400);
    assert.equal(
      fiftyFirst.body.badRequest.message,
      'The number of tags exceeded the per-server limit 50',
    );
    const bob = h.token('bob', 'project-b');
    assert.equal((await h.call('GET', base, { token: bob, version: '2.26' })).status, 404);
    assert.equal((await h.call('PUT', `${base}/x`, { token: bob, version: '2.26' })).status, 404);
  });
});
