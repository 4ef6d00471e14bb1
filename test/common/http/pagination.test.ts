import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError } from '../../../src/common/errors.ts';
import { nextPageLink, paginate, parsePageRequest } from '../../../src/common/http/pagination.ts';

const items = Array.from({ length: 7 }, (_, i) => ({ id: `id-${i}` }));
const idOf = (x: { id: string }) => x.id;

describe('pagination', () => {
  it('walks a list page by page with next links until a short page', () => {
    const seen: string[] = [];
    let query: Record<string, string> = { limit: '3', status: 'ACTIVE' };
    for (let guard = 0; guard < 10; guard++) {
      const page = parsePageRequest(query, 1000);
      const got = paginate(items, page, idOf);
      seen.push(...got.map(idOf));
      const links = nextPageLink('http://h/v2.1/servers', query, page, got.length, got.at(-1)?.id);
      if (links.length === 0) break;
      const next = new URL(links[0]?.href ?? '');
      assert.equal(next.searchParams.get('status'), 'ACTIVE', 'other filters are kept');
      query = Object.fromEntries(next.searchParams);
    }
    assert.deepEqual(seen, items.map(idOf));
  });

  it('caps the limit at the service maximum', () => {
    assert.equal(parsePageRequest({ limit: '5000' }, 1000).limit, 1000);
    assert.equal(parsePageRequest({}, 1000).limit, 1000);
  });

  for (const bad of ['-1', 'ten', '1.5', '']) {
    it(`rejects limit=${JSON.stringify(bad)} with a 400 naming the limit`, () => {
      assert.throws(
        () => parsePageRequest({ limit: bad }, 1000),
        (err: unknown) =>
          err instanceof ApiError && err.status === 400 && /limit/.test(err.message),
      );
    });
  }

  it('an unknown marker is a 400', () => {
    assert.throws(
      () => paginate(items, { limit: 2, marker: 'nope' }, idOf),
      (err: unknown) =>
        err instanceof ApiError &&
        err.status === 400 &&
        /Marker nope could not be found/.test(err.message),
    );
  });

  it('a full last page gets a next link, and following it gives an empty page', () => {
    const page = parsePageRequest({ limit: '7' }, 1000);
    const got = paginate(items, page, idOf);
    const links = nextPageLink('http://h/x', {}, page, got.length, got.at(-1)?.id);
    assert.equal(links.length, 1);
    assert.deepEqual(
      paginate(items, parsePageRequest({ limit: '7', marker: 'id-6' }, 1000), idOf),
      [],
    );
  });
});
