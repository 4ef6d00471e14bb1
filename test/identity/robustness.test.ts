/**
 * Every identity route, fed bad input (bad JSON, wrong types, empty and huge bodies, unknown and
 * absurd ids), answers below 500 and, when it refuses, in Keystone's error shape. Routes are
 * enumerated from the app itself, so a new route is covered without editing this file.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { listRoutes } from '../../src/common/http/app.ts';
import { identityHarness } from './harness.ts';

const IDS = ['f'.repeat(32), 'x'.repeat(500), '..', '%2F%2E%2E', '<script>', ' '];

const BODIES: { name: string; payload: string }[] = [
  { name: 'bad JSON', payload: '{"a":' },
  { name: 'an array', payload: '[]' },
  { name: 'a string', payload: '"text"' },
  { name: 'empty object', payload: '{}' },
  { name: 'unknown member', payload: '{"zzz": {"name": "x"}}' },
  {
    name: 'wrong types everywhere',
    payload: JSON.stringify(
      Object.fromEntries(
        [
          'project',
          'user',
          'domain',
          'group',
          'role',
          'region',
          'service',
          'endpoint',
          'credential',
          'application_credential',
          'auth',
          'tags',
          'limits',
          'registered_limits',
        ].map((k) => [k, 42]),
      ),
    ),
  },
  {
    name: 'huge names',
    payload: JSON.stringify(
      Object.fromEntries(
        ['project', 'user', 'domain', 'group', 'role', 'service'].map((k) => [
          k,
          { name: 'n'.repeat(70_000), type: 't'.repeat(70_000) },
        ]),
      ),
    ),
  },
  {
    name: 'null members',
    payload: JSON.stringify({ project: null, user: null, domain: null, role: null }),
  },
];

describe('identity: no route answers bad input with a 500', { timeout: 120_000 }, () => {
  it('every route, every bad id and body', async (t) => {
    const h = await identityHarness(t, { identity: { password_hash_rounds: 4 } });
    const routes = listRoutes(h.app).filter((r) => r.method !== 'HEAD' && r.url.startsWith('/v3'));
    assert.ok(routes.length > 60, `expected the whole API, found ${routes.length} routes`);
    const failures: string[] = [];
    let requests = 0;
    for (const route of routes) {
      const urls = route.url.includes(':')
        ? IDS.map((id) => route.url.replace(/:[a-z_]+/g, encodeURIComponent(id)))
        : [route.url];
      const bodies = ['POST', 'PUT', 'PATCH'].includes(route.method)
        ? BODIES
        : [{ name: 'none', payload: '' }];
      for (const url of urls) {
        for (const body of bodies) {
          requests++;
          const res = await h.app.inject({
            method: route.method as 'GET',
            url,
            headers: {
              'x-auth-token': h.adminToken,
              'x-subject-token': 'not-a-token',
              ...(body.payload !== '' ? { 'content-type': 'application/json' } : {}),
            },
            ...(body.payload !== '' ? { payload: body.payload } : {}),
          });
          const where = `${route.method} ${url.slice(0, 80)} with ${body.name}`;
          if (res.statusCode >= 500) {
            failures.push(`${where}: ${res.statusCode} ${res.body.slice(0, 200)}`);
          } else if (res.statusCode >= 400) {
            const parsed = JSON.parse(res.body) as {
              error?: { code?: number; title?: string; message?: string };
            };
            if (parsed.error?.code !== res.statusCode || typeof parsed.error.message !== 'string') {
              failures.push(
                `${where}: ${res.statusCode} not in Keystone's shape: ${res.body.slice(0, 200)}`,
              );
            }
          }
        }
      }
    }
    assert.deepEqual(failures, [], `${failures.length} of ${requests} requests`);
  });

  it('without a token, every route but the public ones is a 401', async (t) => {
    const h = await identityHarness(t);
    const PUBLIC = new Set(['POST /v3/auth/tokens', 'GET /v3', 'POST /v3/users/:user_id/password']);
    for (const route of listRoutes(h.app).filter(
      (r) => r.method !== 'HEAD' && r.url.startsWith('/v3'),
    )) {
      if (PUBLIC.has(`${route.method} ${route.url}`)) continue;
      const res = await h.app.inject({
        method: route.method as 'GET',
        url: route.url.replace(/:[a-z_]+/g, 'x'),
        headers: { 'x-subject-token': 'x' },
      });
      assert.equal(
        res.statusCode,
        401,
        `${route.method} ${route.url}: ${res.statusCode} ${res.body}`,
      );
      assert.match(res.body, /"code":401/);
    }
  });
});
