/** Visibility and tenant isolation, and the image members flow. */
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument --
   response bodies are untyped JSON these tests assert on field by field. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { imageHarness, PATCH } from './harness.ts';

const OWNER = 'owner-project';
const OTHER = 'other-project';

async function ids(h: Awaited<ReturnType<typeof imageHarness>>, tok: string, query = '') {
  const res = await h.call('GET', `/v2/images${query}`, tok);
  assert.equal(res.status, 200, res.text);
  return (res.body.images as { id: string }[]).map((i) => i.id).sort();
}

describe('image: visibility', () => {
  it('keeps a private image from another project (404, not in lists)', async (t) => {
    const h = await imageHarness(t);
    const img = await h.create(h.token(OWNER), { visibility: 'private' });
    const other = h.token(OTHER);
    assert.equal((await h.call('GET', `/v2/images/${img.id}`, other)).status, 404);
    assert.deepEqual(await ids(h, other), []);
    assert.deepEqual(await ids(h, other, '?visibility=all'), []);
    const patch = [{ op: 'replace', path: '/name', value: 'x' }];
    assert.equal((await h.call('PATCH', `/v2/images/${img.id}`, other, patch, PATCH)).status, 404);
    assert.equal((await h.call('DELETE', `/v2/images/${img.id}`, other)).status, 404);
    // An admin sees it.
    assert.equal((await h.call('GET', `/v2/images/${img.id}`, h.admin)).status, 200);
  });

  it('shows a public image to all; only an admin may publish', async (t) => {
    const h = await imageHarness(t);
    const img = await h.create(h.admin, { visibility: 'public' });
    assert.deepEqual(await ids(h, h.token(OTHER)), [img.id]);
    const mine = await h.create(h.token(OWNER));
    const patch = [{ op: 'replace', path: '/visibility', value: 'public' }];
    assert.equal(
      (await h.call('PATCH', `/v2/images/${mine.id}`, h.token(OWNER), patch, PATCH)).status,
      403,
    );
    assert.equal(
      (await h.call('PATCH', `/v2/images/${mine.id}`, h.admin, patch, PATCH)).status,
      200,
    );
    // Another project may see a public image but not change or delete it.
    const other = h.token(OTHER);
    const rename = [{ op: 'replace', path: '/name', value: 'x' }];
    assert.equal((await h.call('PATCH', `/v2/images/${img.id}`, other, rename, PATCH)).status, 403);
    assert.equal((await h.call('DELETE', `/v2/images/${img.id}`, other)).status, 403);
  });

  it('shows a community image to all, listed only with visibility=community', async (t) => {
    const h = await imageHarness(t);
    const img = await h.create(h.token(OWNER), { visibility: 'community' });
    const other = h.token(OTHER);
    assert.equal((await h.call('GET', `/v2/images/${img.id}`, other)).status, 200);
    assert.deepEqual(await ids(h, other), []);
    assert.deepEqual(await ids(h, other, '?visibility=community'), [img.id]);
    assert.deepEqual(await ids(h, other, '?visibility=all'), [img.id]);
    assert.deepEqual(await ids(h, h.token(OWNER)), [img.id], 'the owner still lists it');
  });

  it('lists a shared image for a member only after it accepts', async (t) => {
    const h = await imageHarness(t);
    const owner = h.token(OWNER);
    const other = h.token(OTHER);
    const img = await h.create(owner);
    assert.equal((await h.call('GET', `/v2/images/${img.id}`, other)).status, 404);
    const add = await h.call('POST', `/v2/images/${img.id}/members`, owner, { member: OTHER });
    assert.equal(add.status, 200, add.text);
    assert.equal(add.body.status, 'pending');
    assert.equal(add.body.schema, '/v2/schemas/member');
    assert.equal((await h.call('GET', `/v2/images/${img.id}`, other)).status, 200);
    assert.deepEqual(await ids(h, other), []);
    assert.deepEqual(await ids(h, other, '?member_status=pending'), [img.id]);
    const member = `/v2/images/${img.id}/members/${OTHER}`;
    assert.equal((await h.call('PUT', member, owner, { status: 'accepted' })).status, 403);
    assert.equal((await h.call('PUT', member, other, { status: 'bogus' })).status, 400);
    const accepted = await h.call('PUT', member, other, { status: 'accepted' });
    assert.equal(accepted.status, 200, accepted.text);
    assert.equal(accepted.body.status, 'accepted');
    assert.deepEqual(await ids(h, other), [img.id]);
    assert.deepEqual(await ids(h, other, '?visibility=shared'), [img.id]);
    await h.call('PUT', member, other, { status: 'rejected' });
    assert.deepEqual(await ids(h, other), []);
  });
});

describe('image: members', () => {
  it('follows Glance: list, show, duplicates, who sees what, delete', async (t) => {
    const h = await imageHarness(t);
    const owner = h.token(OWNER);
    const img = await h.create(owner);
    const base = `/v2/images/${img.id}/members`;
    await h.call('POST', base, owner, { member: OTHER });
    await h.call('POST', base, owner, { member: 'third' });
    assert.equal((await h.call('POST', base, owner, { member: OTHER })).status, 409);
    const list = await h.call('GET', base, owner);
    assert.equal(list.body.schema, '/v2/schemas/members');
    assert.deepEqual(list.body.members.map((m: { member_id: string }) => m.member_id).sort(), [
      OTHER,
      'third',
    ]);
    const mine = await h.call('GET', base, h.token(OTHER));
    assert.deepEqual(
      mine.body.members.map((m: { member_id: string }) => m.member_id),
      [OTHER],
    );
    assert.equal((await h.call('GET', `${base}/third`, h.token(OTHER))).status, 404);
    assert.equal((await h.call('GET', `${base}/nobody`, owner)).status, 404);
    assert.equal((await h.call('POST', base, h.token(OTHER), { member: 'x' })).status, 403);
    assert.equal((await h.call('DELETE', `${base}/third`, owner)).status, 204);
    assert.equal((await h.call('GET', `${base}/third`, owner)).status, 404);
    assert.equal((await h.call('POST', base, owner, {})).status, 400);
  });

  it('refuses members on an image that is not shared (403)', async (t) => {
    const h = await imageHarness(t);
    const owner = h.token(OWNER);
    const img = await h.create(owner, { visibility: 'private' });
    const res = await h.call('POST', `/v2/images/${img.id}/members`, owner, { member: OTHER });
    assert.equal(res.status, 403);
    assert.match(res.body.message, /Only shared images have members/);
    assert.equal((await h.call('GET', `/v2/images/${img.id}/members`, owner)).status, 403);
  });

  it('answers 413 past the member quota', async (t) => {
    const h = await imageHarness(t, { image: { image_member_quota: 1 } });
    const owner = h.token(OWNER);
    const img = await h.create(owner);
    await h.call('POST', `/v2/images/${img.id}/members`, owner, { member: 'a' });
    const res = await h.call('POST', `/v2/images/${img.id}/members`, owner, { member: 'b' });
    assert.equal(res.status, 413);
  });
});
