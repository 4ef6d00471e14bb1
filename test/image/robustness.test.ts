/**
 * Every image route, fed bad input, answers below 500 and, when it refuses, in Glance's error
 * shape. Routes are enumerated from the app itself, so a new route is covered without editing.
 */
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument --
   response bodies are untyped JSON these tests assert on field by field. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { listRoutes } from '../../src/common/http/app.ts';
import { imageHarness, PATCH } from './harness.ts';

const IDS = ['1bea47ed-f6a9-463b-b423-14b9cca9ad27', 'x'.repeat(500), '..', '%2F%2E%2E', ' '];
const BODIES = [
  '{"a":',
  '[]',
  '"text"',
  '{}',
  '42',
  'null',
  '[{"op": "replace", "path": "/name", "value": {"deep": [1]}}]',
  '[{"op": null, "path": 5}]',
  '[{"op": "add", "path": "/' + 'k'.repeat(300) + '", "value": "v"}]',
  JSON.stringify({ member: 42, status: ['x'], name: 7, tags: 'x', min_ram: 1e300 }),
  JSON.stringify({ member: 'm'.repeat(70_000), name: 'n'.repeat(70_000) }),
];

describe('image: no route answers bad input with a 500', { timeout: 120_000 }, () => {
  it('every route, every bad id and body', async (t) => {
    const h = await imageHarness(t);
    const tok = h.token('robust');
    const real = await h.create(tok);
    const routes = listRoutes(h.app).filter((r) => r.method !== 'HEAD' && r.url.startsWith('/v2'));
    assert.ok(routes.length >= 17, `expected the whole API, found ${routes.length} routes`);
    const failures: string[] = [];
    for (const route of routes) {
      const ids = route.url.includes(':') ? [...IDS, real.id] : [''];
      const bodies = ['POST', 'PUT', 'PATCH'].includes(route.method) ? BODIES : [undefined];
      for (const id of ids) {
        const url = route.url
          .replace(':image_id', id === '' ? 'x' : encodeURIComponent(id))
          .replace(/:[a-z_]+/g, encodeURIComponent(id || 'x'));
        for (const body of bodies) {
          for (const type of route.method === 'PATCH' ? [PATCH, 'application/json'] : [undefined]) {
            const res = await h.call(route.method, url, tok, body, type);
            const where = `${route.method} ${url.slice(0, 80)} ${String(body).slice(0, 40)}`;
            if (res.status >= 500)
              failures.push(`${where}: ${res.status} ${res.text.slice(0, 200)}`);
            else if (
              res.status >= 400 &&
              (typeof res.body?.message !== 'string' ||
                !String(res.body.code).startsWith(String(res.status)))
            )
              failures.push(`${where}: not in Glance's shape: ${res.text.slice(0, 200)}`);
          }
        }
      }
    }
    assert.deepEqual(failures, []);
  });

  it('without a token, every /v2 route is a 401', async (t) => {
    const h = await imageHarness(t);
    for (const route of listRoutes(h.app).filter(
      (r) => r.method !== 'HEAD' && r.url.startsWith('/v2'),
    )) {
      const res = await h.call(route.method, route.url.replace(/:[a-z_]+/g, 'x'), undefined);
      assert.equal(res.status, 401, `${route.method} ${route.url}: ${res.text}`);
    }
  });
});
