/**
 * The identity client: one conformance suite run against the fake and against the HTTP client
 * talking to a local imitation of Keystone's token endpoints (backed by a fake), then the
 * HTTP client's own concerns: wire shapes, service-token re-acquisition, identity failures.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import Fastify from 'fastify';
import { IdentityUnavailableError } from '../../src/common/auth/token-validator.ts';
import {
  HttpIdentityClient,
  parseTokenBody,
  type HttpIdentityClientOptions,
  type IdentityClient,
} from '../../src/identity/client.ts';
import { FakeIdentityClient } from '../../src/identity/fake-identity-client.ts';
import { ManualClock } from '../common/auth/builders.ts';
import { startKeystone, type Keystone } from '../common/auth/local-keystone.ts';

function httpClient(k: Keystone, options: Partial<HttpIdentityClientOptions> = {}) {
  return new HttpIdentityClient({
    url: `${k.url}/v3/`,
    username: 'nova',
    password: 'secret',
    includeCatalog: false,
    now: k.clock.now,
    ...options,
  });
}

type Subject = { client: IdentityClient; backend: FakeIdentityClient; clock: ManualClock };

function conformance(name: string, setup: () => Subject) {
  describe(`IdentityClient conformance: ${name}`, () => {
    let s: Subject;
    beforeEach(() => {
      s = setup();
    });
    const scopes = [
      { name: 'project', spec: { project: { id: 'p1', name: 'demo' } } },
      { name: 'domain', spec: { domain: { id: 'd1', name: 'Dom' } } },
      { name: 'system', spec: { system: true as const } },
      { name: 'unscoped', spec: { unscoped: true as const } },
    ];
    for (const c of scopes) {
      it(`validates a ${c.name}-scoped token to what identity issued`, async () => {
        const token = s.backend.issueToken({
          userId: 'u1',
          userName: 'alice',
          roles: ['member'],
          ...c.spec,
        });
        assert.deepEqual(await s.client.validateToken(token), s.backend.tokenInfo(token));
      });
    }
    it('answers null for an unknown, a revoked or an expired token', async () => {
      const revoked = s.backend.issueToken();
      s.backend.revokeToken(revoked);
      const expired = s.backend.issueToken();
      s.backend.expireToken(expired);
      for (const token of ['nonsense', revoked, expired]) {
        assert.equal(await s.client.validateToken(token), null);
      }
    });
    it('answers an expired token when expiry is allowed', async () => {
      const token = s.backend.issueToken({ userId: 'late' });
      s.backend.expireToken(token);
      assert.equal((await s.client.validateToken(token, { allowExpired: true }))?.user.id, 'late');
    });
    it('holds a service token with the service role', async () => {
      const token = await s.client.serviceToken();
      const info = await s.client.validateToken(token);
      assert.ok(info?.roles.some((r) => r.name === 'service'));
      assert.equal(await s.client.serviceToken(), token, 'reused while valid');
    });
  });
}

conformance('FakeIdentityClient', () => {
  const clock = new ManualClock();
  const backend = new FakeIdentityClient({ now: clock.now });
  return { client: backend, backend, clock };
});

describe('HttpIdentityClient against a local Keystone', () => {
  let k: Keystone;
  before(async () => {
    k = await startKeystone();
  });
  after(async () => {
    await k.server.close();
  });
  beforeEach(() => {
    k.posts.length = 0;
    k.gets.length = 0;
    k.override = {};
  });

  conformance('HttpIdentityClient', () => ({
    client: httpClient(k),
    backend: k.backend,
    clock: k.clock,
  }));

  it('authenticates as the service user in the service project, then validates with that token', async () => {
    const client = httpClient(k);
    const user = k.backend.issueToken();
    await client.validateToken(user, { allowExpired: true });
    assert.deepEqual(k.posts, [
      {
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: 'nova', domain: { id: 'default' }, password: 'secret' } },
          },
          scope: { project: { name: 'service', domain: { id: 'default' } } },
        },
      },
    ]);
    assert.deepEqual(k.gets, [
      {
        authToken: await client.serviceToken(),
        subjectToken: user,
        query: { allow_expired: '1', nocatalog: '' },
      },
    ]);
  });

  it('re-authenticates once when identity refuses a stale service token', async () => {
    const client = httpClient(k);
    const stale = await client.serviceToken();
    k.backend.revokeToken(stale);
    const user = k.backend.issueToken({ userId: 'u9' });
    assert.equal((await client.validateToken(user))?.user.id, 'u9');
    assert.equal(k.posts.length, 2);
    assert.notEqual(await client.serviceToken(), stale);
  });

  it('re-acquires its token a margin before it expires, once for concurrent callers', async () => {
    const client = httpClient(k, { refreshMarginMs: 60_000 });
    const first = await client.serviceToken();
    k.clock.advance(3600_000 - 60_001);
    assert.equal(await client.serviceToken(), first);
    k.clock.advance(1);
    const next = await Promise.all([
      client.serviceToken(),
      client.serviceToken(),
      client.serviceToken(),
    ]);
    assert.equal(new Set(next).size, 1);
    assert.notEqual(next[0], first);
    assert.equal(k.posts.length, 2);
  });

  it('asks for the catalog unless told not to, and reads it', async () => {
    const client = httpClient(k, { includeCatalog: true });
    const info = await client.validateToken(k.backend.issueToken());
    assert.deepEqual(info?.catalog, []);
    assert.deepEqual(k.gets.at(-1)?.query, {});
  });

  const failures: {
    name: string;
    act: (client: HttpIdentityClient) => Promise<unknown>;
    client?: Partial<HttpIdentityClientOptions>;
    override?: Keystone['override'];
    gets?: number;
  }[] = [
    { name: 'identity answers 500', override: { status: 500 }, act: (c) => c.validateToken('t') },
    {
      name: 'identity keeps refusing the service token (after one retry)',
      override: { status: 401 },
      act: (c) => c.validateToken('t'),
      gets: 2,
    },
    {
      name: 'identity answers a malformed token',
      override: { status: 200, body: '{"token":{}}' },
      act: (c) => c.validateToken('t'),
    },
    {
      name: 'identity answers something not JSON',
      override: { status: 200, body: '<html>' },
      act: (c) => c.validateToken('t'),
    },
    {
      name: 'the service password is wrong',
      client: { password: 'wrong' },
      act: (c) => c.serviceToken(),
    },
  ];
  for (const f of failures) {
    it(`throws IdentityUnavailableError when ${f.name}`, async () => {
      k.override = f.override ?? {};
      await assert.rejects(f.act(httpClient(k, f.client)), IdentityUnavailableError);
      if (f.gets !== undefined) assert.equal(k.gets.length, f.gets);
    });
  }

  it('throws IdentityUnavailableError when identity is unreachable', async () => {
    const closed = Fastify();
    const url = await closed.listen({ host: '127.0.0.1', port: 0 });
    await closed.close();
    const client = new HttpIdentityClient({ url, username: 'nova', password: 'secret' });
    await assert.rejects(client.validateToken('t'), (err: unknown) => {
      assert.ok(err instanceof IdentityUnavailableError);
      assert.equal(err.status, 503);
      assert.match(err.message, /identity service is unreachable/);
      return true;
    });
  });
});

describe('parseTokenBody', () => {
  it('reads keystone’s sample body, microseconds and all', () => {
    const info = parseTokenBody({
      token: {
        methods: ['password'],
        roles: [{ id: '51cc68287d524c759f47c811e6463340', name: 'admin' }],
        expires_at: '2015-11-07T02:58:43.578887Z',
        project: {
          domain: { id: 'default', name: 'Default' },
          id: 'a6944d763bf64ee6a275f1263fae0352',
          name: 'admin',
        },
        is_domain: false,
        catalog: [
          {
            endpoints: [
              {
                region_id: 'RegionOne',
                url: 'http://192.0.2.1:9696/',
                region: 'RegionOne',
                interface: 'public',
                id: '6a28',
              },
            ],
            type: 'network',
            id: '67b9',
            name: 'neutron',
          },
        ],
        user: {
          domain: { id: 'default', name: 'Default' },
          id: 'ee4dfb6e5540447cb3741905149d9b6e',
          name: 'admin',
          password_expires_at: '2016-11-06T15:32:17.000000',
        },
        audit_ids: ['3T2dc1CGQxyJsHdDu1xkcw'],
        issued_at: '2015-11-07T01:58:43.578929Z',
      },
    });
    assert.equal(info?.expiresAt.toISOString(), '2015-11-07T02:58:43.578Z');
    assert.deepEqual(info?.scope, {
      kind: 'project',
      project: {
        domain: { id: 'default', name: 'Default' },
        id: 'a6944d763bf64ee6a275f1263fae0352',
        name: 'admin',
      },
    });
    assert.equal(info?.isAdminProject, true, 'absent means true, as keystoneauth reads it');
    assert.deepEqual(info?.catalog?.[0]?.endpoints[0], {
      id: '6a28',
      interface: 'public',
      region: 'RegionOne',
      regionId: 'RegionOne',
      url: 'http://192.0.2.1:9696/',
    });
  });

  const bad: { name: string; body: unknown }[] = [
    { name: 'no token', body: {} },
    {
      name: 'no user',
      body: {
        token: {
          methods: [],
          audit_ids: [],
          expires_at: '2030-01-01T00:00:00Z',
          issued_at: '2030-01-01T00:00:00Z',
        },
      },
    },
    { name: 'a bad date', body: wireWithDate('yesterday') },
  ];
  for (const c of bad) {
    it(`refuses a body with ${c.name}`, () => assert.equal(parseTokenBody(c.body), undefined));
  }
});

function wireWithDate(date: string): unknown {
  const user = { id: 'u', name: 'u', domain: { id: 'default', name: 'Default' } };
  return {
    token: { methods: ['password'], user, audit_ids: [], expires_at: date, issued_at: date },
  };
}
