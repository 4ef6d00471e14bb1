/**
 * The scheduler asks placement for a random sample of candidates first and for all of them only
 * when no host of the sample passes the filters: boots spread over hosts, and a host the sample
 * missed is still found.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument --
   response bodies are untyped JSON these tests assert on field by field. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serversHarness, type ServersHarness } from '../harness.ts';

const settled = (s: any) => s?.['OS-EXT-STS:task_state'] === null && s?.status !== 'BUILD';
const HOSTS = ['host-1', 'host-2', 'host-3', 'host-4'];

/** Boots `n` servers at once; returns the host of each, failing on any that is not ACTIVE. */
async function boot(h: ServersHarness, n: number): Promise<string[]> {
  const created = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      h.call('POST', '/v2.1/servers', {
        body: {
          server: { name: `s${i}`, imageRef: h.imageId, flavorRef: '1', networks: 'none' },
        },
        version: '2.37',
      }),
    ),
  );
  const hosts: string[] = [];
  for (const r of created) {
    assert.equal(r.status, 202, r.text);
    const server = await h.waitFor(r.body.server.id, settled);
    assert.equal(server.status, 'ACTIVE', JSON.stringify(server.fault));
    hosts.push(server['OS-EXT-SRV-ATTR:host']);
  }
  return hosts;
}

describe('scheduler: sampled candidates', () => {
  it('spreads boots over a random sample of one host each time', async (t) => {
    const h = await serversHarness(t, {
      hosts: HOSTS.map((hostname) => ({ hostname })),
      compute: { placement_sample: 1 },
    });
    const used = new Set(await boot(h, 8));
    // Placement shuffles its candidates: a sample of one is not always the same host.
    assert.ok(used.size > 1, `every boot went to ${[...used].join()}`);
  });

  it('asks for every candidate when no host of the sample passes the filters', async (t) => {
    const h = await serversHarness(t, {
      hosts: HOSTS.map((hostname) => ({ hostname })),
      compute: { placement_sample: 1 },
    });
    for (const host of HOSTS.slice(1)) {
      const r = await h.call('PUT', '/v2.1/os-services/disable', {
        body: { host, binary: 'nova-compute' },
      });
      assert.equal(r.status, 200, r.text);
    }
    // Three samples in four hold a disabled host; every boot still finds host-1.
    assert.deepEqual(await boot(h, 6), Array(6).fill('host-1'));
  });
});
