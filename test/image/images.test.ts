/** Image CRUD, JSON patch, the status machine and quotas over HTTP. */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument --
   response bodies are untyped JSON these tests assert on field by field. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { imageHarness, PATCH } from './harness.ts';

const P1 = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1';

describe('image: CRUD', () => {
  it('creates, shows, lists and deletes an image in Glance shape', async (t) => {
    const h = await imageHarness(t);
    const tok = h.token(P1);
    const created = await h.create(tok, {
      name: 'cirros',
      disk_format: 'qcow2',
      container_format: 'bare',
      tags: ['a', 'b'],
      os_distro: 'cirros',
      hw_disk_bus: 'virtio',
    });
    assert.equal(created.status, 'queued');
    assert.equal(created.visibility, 'shared');
    assert.equal(created.owner, P1);
    assert.equal(created.os_distro, 'cirros');
    assert.equal(created.self, `/v2/images/${created.id}`);
    assert.equal(created.file, `/v2/images/${created.id}/file`);
    assert.equal(created.schema, '/v2/schemas/image');
    assert.match(created.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    for (const key of ['checksum', 'os_hash_algo', 'os_hash_value', 'size', 'virtual_size'])
      assert.equal(created[key], null, key);
    assert.deepEqual(created.tags, ['a', 'b']);
    const shown = await h.call('GET', `/v2/images/${created.id}`, tok);
    assert.equal(shown.status, 200);
    assert.deepEqual(shown.body, created);
    const list = await h.call('GET', '/v2/images', tok);
    assert.equal(list.body.images.length, 1);
    assert.equal(list.body.first, '/v2/images');
    assert.equal(list.body.schema, '/v2/schemas/images');
    assert.equal((await h.call('DELETE', `/v2/images/${created.id}`, tok)).status, 204);
    assert.equal((await h.call('GET', `/v2/images/${created.id}`, tok)).status, 404);
  });

  it('takes a client-chosen id once; a second create with it is a 409', async (t) => {
    const h = await imageHarness(t);
    const id = '1bea47ed-f6a9-463b-b423-14b9cca9ad27';
    assert.equal((await h.create(h.token(P1), { id })).id, id);
    assert.equal((await h.call('POST', '/v2/images', h.token(P1), { id })).status, 409);
  });

  const bad: { name: string; body: unknown; status: number }[] = [
    { name: 'read-only status', body: { status: 'active' }, status: 403 },
    { name: 'read-only size', body: { size: 5 }, status: 403 },
    { name: 'reserved deleted', body: { deleted: 'x' }, status: 403 },
    { name: 'reserved os_glance_ prefix', body: { os_glance_x: 'x' }, status: 403 },
    { name: 'bad disk_format', body: { disk_format: 'floppy' }, status: 400 },
    { name: 'bad visibility', body: { visibility: 'everyone' }, status: 400 },
    { name: 'non-string property', body: { os_distro: 42 }, status: 400 },
    { name: 'negative min_ram', body: { min_ram: -1 }, status: 400 },
    { name: 'string min_disk', body: { min_disk: '1' }, status: 400 },
    { name: 'bad id', body: { id: 'nope' }, status: 400 },
    { name: 'array body', body: [], status: 400 },
    { name: 'public by a member', body: { visibility: 'public' }, status: 403 },
    { name: 'another owner', body: { owner: 'someone-else' }, status: 403 },
  ];
  for (const c of bad) {
    it(`refuses create with ${c.name}: ${c.status} in Glance's shape`, async (t) => {
      const h = await imageHarness(t);
      const res = await h.call('POST', '/v2/images', h.token(P1), c.body);
      assert.equal(res.status, c.status, res.text);
      assert.equal(typeof res.body.message, 'string');
      assert.match(res.body.code, new RegExp(`^${c.status} `));
    });
  }

  it('lets an admin create a public image and one for another project', async (t) => {
    const h = await imageHarness(t);
    const img = await h.create(h.admin, { visibility: 'public', owner: P1 });
    assert.equal(img.visibility, 'public');
    assert.equal(img.owner, P1);
  });

  it('answers 401 without a token and keeps discovery public', async (t) => {
    const h = await imageHarness(t);
    assert.equal((await h.call('GET', '/v2/images', undefined)).status, 401);
    assert.equal((await h.call('GET', '/', undefined)).status, 300);
    assert.equal((await h.call('GET', '/versions', undefined)).status, 200);
  });
});

describe('image: JSON patch', () => {
  type Case = { name: string; ops: unknown; status: number; check?: (img: any) => void };
  const cases: Case[] = [
    {
      name: 'replace name',
      ops: [{ op: 'replace', path: '/name', value: 'new' }],
      status: 200,
      check: (i) => assert.equal(i.name, 'new'),
    },
    {
      name: 'add a property',
      ops: [{ op: 'add', path: '/hw_qemu_guest_agent', value: 'yes' }],
      status: 200,
      check: (i) => assert.equal(i.hw_qemu_guest_agent, 'yes'),
    },
    {
      name: 'replace a property',
      ops: [{ op: 'replace', path: '/os_distro', value: 'debian' }],
      status: 200,
      check: (i) => assert.equal(i.os_distro, 'debian'),
    },
    {
      name: 'remove a property',
      ops: [{ op: 'remove', path: '/os_distro' }],
      status: 200,
      check: (i) => assert.equal('os_distro' in i, false),
    },
    {
      name: 'replace tags',
      ops: [{ op: 'replace', path: '/tags', value: ['x', 'y', 'x'] }],
      status: 200,
      check: (i) => assert.deepEqual(i.tags, ['x', 'y']),
    },
    {
      name: 'private visibility',
      ops: [{ op: 'replace', path: '/visibility', value: 'private' }],
      status: 200,
      check: (i) => assert.equal(i.visibility, 'private'),
    },
    {
      name: 'community visibility by the owner',
      ops: [{ op: 'replace', path: '/visibility', value: 'community' }],
      status: 200,
      check: (i) => assert.equal(i.visibility, 'community'),
    },
    {
      name: 'public by a member',
      ops: [{ op: 'replace', path: '/visibility', value: 'public' }],
      status: 403,
    },
    {
      name: 'read-only status',
      ops: [{ op: 'replace', path: '/status', value: 'active' }],
      status: 403,
    },
    {
      name: 'read-only checksum',
      ops: [{ op: 'add', path: '/checksum', value: 'x' }],
      status: 403,
    },
    { name: 'remove a base attribute', ops: [{ op: 'remove', path: '/name' }], status: 403 },
    {
      name: 'replace a missing property',
      ops: [{ op: 'replace', path: '/nope', value: 'x' }],
      status: 409,
    },
    { name: 'remove a missing property', ops: [{ op: 'remove', path: '/nope' }], status: 409 },
    { name: 'unknown op', ops: [{ op: 'test', path: '/name', value: 'x' }], status: 400 },
    { name: 'not a list', ops: { op: 'replace' }, status: 400 },
    { name: 'missing value', ops: [{ op: 'add', path: '/name' }], status: 400 },
    { name: 'nested path', ops: [{ op: 'add', path: '/tags/0', value: 'x' }], status: 400 },
    { name: 'path without slash', ops: [{ op: 'add', path: 'name', value: 'x' }], status: 400 },
    { name: 'bad value type', ops: [{ op: 'replace', path: '/min_ram', value: 'x' }], status: 400 },
    { name: 'non-string property', ops: [{ op: 'add', path: '/foo', value: 1 }], status: 400 },
  ];
  for (const c of cases) {
    it(`${c.name} → ${c.status}`, async (t) => {
      const h = await imageHarness(t);
      const tok = h.token(P1);
      const img = await h.create(tok, { name: 'old', os_distro: 'cirros' });
      const res = await h.call('PATCH', `/v2/images/${img.id}`, tok, c.ops, PATCH);
      assert.equal(res.status, c.status, res.text);
      if (c.check) {
        c.check(res.body);
        c.check((await h.call('GET', `/v2/images/${img.id}`, tok)).body);
      }
    });
  }

  it('accepts the v2.0 dialect and refuses plain JSON with 415', async (t) => {
    const h = await imageHarness(t);
    const tok = h.token(P1);
    const img = await h.create(tok);
    const v20 = 'application/openstack-images-v2.0-json-patch';
    const res = await h.call(
      'PATCH',
      `/v2/images/${img.id}`,
      tok,
      [{ replace: '/name', value: 'n' }],
      v20,
    );
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.name, 'n');
    const plain = await h.call('PATCH', `/v2/images/${img.id}`, tok, [], 'application/json');
    assert.equal(plain.status, 415);
    const broken = await h.call('PATCH', `/v2/images/${img.id}`, tok, '[{', PATCH);
    assert.equal(broken.status, 400);
  });
});

describe('image: status machine, protection, tags, quotas', () => {
  it('deactivates and reactivates only what its status allows', async (t) => {
    const h = await imageHarness(t);
    const tok = h.token(P1);
    const img = await h.create(tok);
    const act = (a: string) => h.call('POST', `/v2/images/${img.id}/actions/${a}`, tok);
    assert.equal((await act('deactivate')).status, 403, 'a queued image');
    assert.equal((await act('reactivate')).status, 403, 'a queued image');
  });

  it('refuses to delete a protected image until unprotected', async (t) => {
    const h = await imageHarness(t);
    const tok = h.token(P1);
    const img = await h.create(tok, { protected: true });
    assert.equal((await h.call('DELETE', `/v2/images/${img.id}`, tok)).status, 403);
    const patch = [{ op: 'replace', path: '/protected', value: false }];
    assert.equal((await h.call('PATCH', `/v2/images/${img.id}`, tok, patch, PATCH)).status, 200);
    assert.equal((await h.call('DELETE', `/v2/images/${img.id}`, tok)).status, 204);
  });

  it('adds and removes tags one at a time', async (t) => {
    const h = await imageHarness(t);
    const tok = h.token(P1);
    const img = await h.create(tok);
    assert.equal((await h.call('PUT', `/v2/images/${img.id}/tags/blue`, tok)).status, 204);
    assert.equal((await h.call('PUT', `/v2/images/${img.id}/tags/blue`, tok)).status, 204);
    assert.deepEqual((await h.call('GET', `/v2/images/${img.id}`, tok)).body.tags, ['blue']);
    assert.equal((await h.call('DELETE', `/v2/images/${img.id}/tags/blue`, tok)).status, 204);
    assert.equal((await h.call('DELETE', `/v2/images/${img.id}/tags/blue`, tok)).status, 404);
  });

  it('answers 413 past the image count quota of a project, as Glance', async (t) => {
    const h = await imageHarness(t, { image: { image_count_quota: 2, image_tag_quota: 1 } });
    const tok = h.token(P1);
    await h.create(tok);
    await h.create(tok);
    const res = await h.call('POST', '/v2/images', tok, {});
    assert.equal(res.status, 413, res.text);
    assert.match(res.body.message, /image_count_total/);
    assert.equal((await h.call('POST', '/v2/images', h.token('other'), {})).status, 201);
    const tags = await h.call('POST', '/v2/images', h.token('third'), { tags: ['a', 'b'] });
    assert.equal(tags.status, 413);
  });

  it('serves the schemas and import/store info', async (t) => {
    const h = await imageHarness(t);
    const tok = h.token(P1);
    const image = (await h.call('GET', '/v2/schemas/image', tok)).body;
    assert.equal(image.name, 'image');
    assert.deepEqual(image.additionalProperties, { type: 'string' });
    assert.equal(image.properties.status.readOnly, true);
    const images = (await h.call('GET', '/v2/schemas/images', tok)).body;
    assert.equal(images.properties.images.items.name, 'image');
    assert.equal((await h.call('GET', '/v2/schemas/member', tok)).body.name, 'member');
    assert.equal((await h.call('GET', '/v2/schemas/members', tok)).body.name, 'members');
    const info = (await h.call('GET', '/v2/info/import', tok)).body;
    // One store: copy-image has nowhere to copy to, so only glance-direct is offered.
    assert.deepEqual(info['import-methods'].value, ['glance-direct']);
    const stores = (await h.call('GET', '/v2/info/stores', tok)).body;
    assert.deepEqual(stores.stores, [
      { id: 'file', description: 'Local filesystem store', default: 'true' },
    ]);
  });
});
