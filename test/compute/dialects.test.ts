/** Flavors and key pairs on SQLite, PostgreSQL and MariaDB: the schema, defaults and queries. */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-assignment --
   response bodies are untyped JSON these tests assert on field by field. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { forEachDialect, freshDatabase } from '../helpers/databases.ts';
import { computeHarness } from './harness.ts';

forEachDialect('compute: schema and queries', (dialect) => {
  it('creates the defaults once, and runs flavor and key pair queries', async (t) => {
    const fresh = await freshDatabase(t, dialect);
    const h = await computeHarness(t, { databaseUrl: fresh.url });
    // A second service on the same database finds the defaults there.
    const again = await computeHarness(t, { databaseUrl: fresh.url });
    const ids = (await again.call('GET', '/v2.1/flavors')).body.flavors.map((f: any) => f.id);
    assert.deepEqual(ids, ['1', '2', '3', '4', '5']);
    const created = await h.call('POST', '/v2.1/flavors', {
      version: '2.61',
      body: {
        flavor: {
          name: 'f',
          ram: 128,
          vcpus: 1,
          disk: 0,
          rxtx_factor: 1.5,
          'os-flavor-access:is_public': false,
        },
      },
    });
    assert.equal(created.status, 200, created.text);
    assert.equal(created.body.flavor.rxtx_factor, 1.5);
    const id = created.body.flavor.id as string;
    await h.call('POST', `/v2.1/flavors/${id}/os-extra_specs`, {
      body: { extra_specs: { a: '1', b: '2' } },
    });
    await h.call('POST', `/v2.1/flavors/${id}/action`, {
      body: { addTenantAccess: { tenant: 'p1' } },
    });
    const sorted = await h.call(
      'GET',
      '/v2.1/flavors/detail?is_public=none&sort_key=memory_mb&sort_dir=asc&limit=2',
    );
    assert.deepEqual(
      sorted.body.flavors.map((f: any) => f.name),
      ['f', 'm1.tiny'],
    );
    const member = h.token('u1', 'p1');
    assert.equal((await h.call('GET', `/v2.1/flavors/${id}`, { token: member })).status, 200);
    const key = await h.call('POST', '/v2.1/os-keypairs', {
      token: member,
      body: { keypair: { name: 'k' } },
    });
    assert.equal(key.status, 200, key.text);
    const dup = await h.call('POST', '/v2.1/os-keypairs', {
      token: member,
      body: { keypair: { name: 'k' } },
    });
    assert.equal(dup.status, 409);
    assert.equal((await h.call('DELETE', `/v2.1/flavors/${id}`)).status, 202);
  });
});
