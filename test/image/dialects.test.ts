/** The image schema and queries on SQLite, PostgreSQL and MariaDB, and the status machine. */
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment --
   response bodies are untyped JSON these tests assert on field by field. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { migrate } from '../../src/common/db/migrate.ts';
import type { ImageDatabase } from '../../src/image/db/schema.ts';
import { IMAGE_MIGRATIONS, ImageConfigSchema } from '../../src/image/service.ts';
import { Images, type Viewer } from '../../src/image/images.ts';
import { listImages } from '../../src/image/image-list.ts';
import { Members } from '../../src/image/members.ts';
import { Value } from 'typebox/value';
import { forEachDialect, freshDatabase } from '../helpers/databases.ts';
import { imageHarness, PATCH } from './harness.ts';

const config = Value.Default(ImageConfigSchema, {}) as ReturnType<
  typeof Value.Parse<typeof ImageConfigSchema>
>;
const OWNER: Viewer = { projectId: 'p1', isAdmin: false };
const OTHER: Viewer = { projectId: 'p2', isAdmin: false };

forEachDialect('image: schema and domain', (dialect) => {
  it('runs create, the status machine, sharing, sorting and paging', async (t) => {
    const fresh = await freshDatabase(t, dialect);
    const handle = await fresh.open<ImageDatabase>();
    await migrate(handle, 'image', IMAGE_MIGRATIONS);
    let clock = 0;
    const now = () => new Date(Date.UTC(2024, 0, 1) + (clock += 1000));
    const images = new Images(handle.db, config, now);
    const members = new Members(handle.db, config, now);
    const made = [];
    for (const name of ['b', null, 'a'])
      made.push(await images.create(OWNER, { name, tags: ['t'], properties: { k: String(name) } }));
    const [b, n, a] = made as [
      NonNullable<(typeof made)[0]>,
      NonNullable<(typeof made)[0]>,
      NonNullable<(typeof made)[0]>,
    ];
    // Data path: queued → saving → active, then deactivate/reactivate.
    await images.transition(a.id, ['queued'], 'saving');
    await images.transition(a.id, ['saving'], 'active', {
      size: 2 ** 40,
      checksum: 'c'.repeat(32),
      os_hash_algo: 'sha512',
      os_hash_value: 'f'.repeat(128),
      locations: [{ url: 'file:///x', metadata: {} }],
    });
    await assert.rejects(images.transition(a.id, ['queued'], 'saving'), { status: 409 });
    let active = await images.get(OWNER, a.id);
    assert.equal(active.size, 2 ** 40);
    assert.equal(active.status, 'active');
    await images.deactivate(active);
    active = await images.get(OWNER, a.id);
    assert.equal(active.status, 'deactivated');
    await images.deactivate(active);
    await images.reactivate(active);
    assert.equal((await images.get(OWNER, a.id)).status, 'active');
    assert.deepEqual(await images.usage('p1'), { count: 3, bytes: 2 ** 40 });
    // Sorting NULL names and sizes the same everywhere, and paging through them.
    const page = (marker?: string) =>
      listImages(handle.db, images, OWNER, {
        filter: {},
        sort: [{ key: 'name', dir: 'asc' }],
        limit: 2,
        marker,
      });
    const first = await page();
    assert.deepEqual(
      first.map((i) => i.name),
      [null, 'a'],
    );
    assert.deepEqual(
      (await page(first[1]?.id)).map((i) => i.name),
      ['b'],
    );
    const bySize = await listImages(handle.db, images, OWNER, {
      filter: { tags: ['t'], properties: { k: 'a' } },
      sort: [{ key: 'size', dir: 'desc' }],
      limit: 10,
      marker: undefined,
    });
    assert.deepEqual(
      bySize.map((i) => i.id),
      [a.id],
    );
    // Sharing.
    assert.deepEqual(
      await listImages(handle.db, images, OTHER, {
        filter: {},
        sort: [],
        limit: 10,
        marker: undefined,
      }),
      [],
    );
    await members.add(b, 'p2');
    await assert.rejects(members.add(b, 'p2'), { status: 409 });
    await members.setStatus(OTHER, b, 'p2', 'accepted');
    const shared = await listImages(handle.db, images, OTHER, {
      filter: {},
      sort: [],
      limit: 10,
      marker: undefined,
    });
    assert.deepEqual(
      shared.map((i) => i.id),
      [b.id],
    );
    await images.delete(n);
    await assert.rejects(images.get(OWNER, n.id), { status: 404 });
  });
});

it('deactivates and reactivates an active image over HTTP; 403 for others', async (t) => {
  const h = await imageHarness(t);
  const tok = h.token('p1');
  const img = await h.create(tok, { visibility: 'public' }).catch(() => undefined);
  assert.equal(img, undefined, 'a member cannot publish');
  const mine = await h.create(tok);
  const act = (a: string, who = tok) => h.call('POST', `/v2/images/${mine.id}/actions/${a}`, who);
  assert.equal((await act('deactivate', h.token('p2'))).status, 404);
  assert.equal((await act('deactivate')).status, 403, 'queued');
  const patch = [{ op: 'replace', path: '/status', value: 'active' }];
  assert.equal((await h.call('PATCH', `/v2/images/${mine.id}`, tok, patch, PATCH)).status, 403);
});
