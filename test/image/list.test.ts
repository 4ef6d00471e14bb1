/** `GET /v2/images`: filters, sorting and a marker walk. */
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument --
   response bodies are untyped JSON these tests assert on field by field. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { imageHarness } from './harness.ts';

const P = 'list-project';

async function setup(t: Parameters<typeof imageHarness>[0]) {
  const h = await imageHarness(t);
  const tok = h.token(P);
  const a = await h.create(tok, {
    name: 'a',
    disk_format: 'qcow2',
    container_format: 'bare',
    tags: ['x', 'y'],
    os_distro: 'debian',
    min_ram: 5,
  });
  const b = await h.create(tok, {
    name: 'b',
    disk_format: 'raw',
    container_format: 'bare',
    tags: ['x'],
    protected: true,
  });
  const c = await h.create(tok, { name: 'c', disk_format: 'iso', os_hidden: true });
  const d = await h.create(tok, { name: null, visibility: 'private' });
  return { h, tok, a, b, c, d };
}

describe('image: list', () => {
  it('filters as Glance does', async (t) => {
    const { h, tok, a, b, c, d } = await setup(t);
    const names = async (q: string) => {
      const res = await h.call('GET', `/v2/images${q}`, tok);
      assert.equal(res.status, 200, `${q}: ${res.text}`);
      return (res.body.images as { id: string }[]).map((i) => i.id).sort();
    };
    const sorted = (...imgs: { id: string }[]) => imgs.map((i) => i.id).sort();
    const cases: [string, string[]][] = [
      ['', sorted(a, b, d)],
      ['?name=a', sorted(a)],
      ['?name=in:a,b', sorted(a, b)],
      ['?disk_format=raw', sorted(b)],
      ['?container_format=bare', sorted(a, b)],
      ['?tag=x', sorted(a, b)],
      ['?tag=x&tag=y', sorted(a)],
      ['?os_hidden=true', sorted(c)],
      ['?protected=true', sorted(b)],
      ['?visibility=private', sorted(d)],
      ['?status=queued', sorted(a, b, d)],
      ['?status=active', []],
      ['?owner=someone', []],
      ['?os_distro=debian', sorted(a)],
      ['?size_min=1', []],
      [`?created_at=lte:${encodeURIComponent('2024-01-01T00:00:01Z')}`, sorted(a)],
      [`?created_at=gt:2024-01-01T00:00:01Z&created_at=lt:2030-01-01T00:00:00Z`, sorted(b, d)],
      ['?updated_at=gte:2099-01-01T00:00:00Z', []],
    ];
    for (const [q, expected] of cases) assert.deepEqual(await names(q), expected, q);
  });

  it('sorts by sort_key/sort_dir and by sort=key:dir', async (t) => {
    const { h, tok } = await setup(t);
    const order = async (q: string) =>
      ((await h.call('GET', `/v2/images${q}`, tok)).body.images as { name: string | null }[]).map(
        (i) => i.name,
      );
    assert.deepEqual(await order(''), [null, 'b', 'a'], 'newest first by default');
    assert.deepEqual(await order('?sort_key=name&sort_dir=asc'), [null, 'a', 'b']);
    assert.deepEqual(await order('?sort=name:desc'), ['b', 'a', null]);
    assert.deepEqual(await order('?sort=disk_format:asc,name:desc'), [null, 'a', 'b']);
  });

  it('walks pages with next links until the end', async (t) => {
    const h = await imageHarness(t);
    const tok = h.token(P);
    const made: string[] = [];
    for (let i = 0; i < 7; i++) made.push((await h.create(tok, { name: `n${i}` })).id);
    const seen: string[] = [];
    let url: string | undefined = '/v2/images?limit=3&sort_key=name&sort_dir=asc';
    let pages = 0;
    while (url !== undefined) {
      const res = await h.call('GET', url, tok);
      assert.equal(res.status, 200, res.text);
      seen.push(...(res.body.images as { id: string }[]).map((i) => i.id));
      url = res.body.next;
      if (url !== undefined) assert.match(url, /^\/v2\/images\?.*marker=/);
      pages++;
    }
    assert.equal(pages, 3);
    assert.deepEqual(seen, made);
  });

  const bad = [
    '?limit=-1',
    '?limit=x',
    '?sort_key=bogus',
    '?sort_dir=up',
    '?sort=name:sideways',
    '?sort=name&sort_key=name',
    '?marker=9f2c0a0e-0000-4000-8000-000000000000',
    '?marker=not-a-uuid',
    '?visibility=everyone',
    '?member_status=maybe',
    '?size_min=big',
    '?created_at=2024-01-01',
    '?created_at=gt:yesterday',
    '?os_hidden=perhaps',
  ];
  for (const q of bad) {
    it(`answers ${q} with a 400`, async (t) => {
      const h = await imageHarness(t);
      const res = await h.call('GET', `/v2/images${q}`, h.token(P));
      assert.equal(res.status, 400, res.text);
      assert.equal(res.body.code, '400 Bad Request');
    });
  }
});
