/** Usage over a period: hours per server, deleted ones included, per project. */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return --
   response bodies are untyped JSON these tests assert on field by field. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serversHarness, settled } from './harness.ts';

const iso = (d: Date) => d.toISOString().slice(0, 19);

describe('simple tenant usage', () => {
  it('counts the hours of live and deleted servers per project', async (t) => {
    const h = await serversHarness(t, { hosts: [{ hostname: 'h1' }] });
    const alice = h.token('alice', 'project-a');
    const ids: string[] = [];
    for (const name of ['kept', 'gone']) {
      const r = await h.call('POST', '/v2.1/servers', {
        token: alice,
        body: {
          server: { name, imageRef: h.imageId, flavorRef: '1', networks: [{ uuid: h.networkId }] },
        },
      });
      ids.push(r.body.server.id);
      await h.waitFor(r.body.server.id, settled);
    }
    await h.call('DELETE', `/v2.1/servers/${ids[1]}`, { token: alice });
    await h.waitFor(ids[1] as string, (s) => s === undefined);
    const start = iso(new Date(Date.now() - 3_600_000));
    const end = iso(new Date(Date.now() + 3_600_000));
    const all = await h.call(
      'GET',
      `/v2.1/os-simple-tenant-usage?start=${start}&end=${end}&detailed=1`,
    );
    assert.equal(all.status, 200, all.text);
    const [project] = all.body.tenant_usages;
    assert.equal(project.tenant_id, 'project-a');
    assert.ok(project.total_hours > 0 && project.total_hours < 0.1, String(project.total_hours));
    assert.ok(Math.abs(project.total_memory_mb_usage - 512 * project.total_hours) < 1e-6);
    const byName = Object.fromEntries(project.server_usages.map((s: any) => [s.name, s]));
    assert.equal(byName.kept.state, 'active');
    assert.equal(byName.kept.ended_at, null);
    assert.equal(byName.gone.state, 'terminated');
    assert.match(byName.gone.ended_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
    assert.equal(byName.kept.flavor, 'm1.tiny');
    assert.equal(byName.kept.local_gb, 1);
    const summary = await h.call('GET', `/v2.1/os-simple-tenant-usage?start=${start}&end=${end}`);
    assert.equal(summary.body.tenant_usages[0].server_usages, undefined);
    const own = await h.call(
      'GET',
      `/v2.1/os-simple-tenant-usage/project-a?start=${start}&end=${end}`,
      {
        token: alice,
      },
    );
    assert.equal(own.status, 200);
    assert.equal(own.body.tenant_usage.server_usages.length, 2);
    const paged = await h.call(
      'GET',
      `/v2.1/os-simple-tenant-usage?start=${start}&end=${end}&detailed=1&limit=1`,
      { version: '2.40' },
    );
    assert.equal(paged.body.tenant_usages[0].server_usages.length, 1);
    assert.ok(paged.body.tenant_usages_links[0].href.includes('marker='));
    // A period before anything ran is empty; members list nothing; a bad date is a 400.
    const early = await h.call(
      'GET',
      '/v2.1/os-simple-tenant-usage?start=2001-01-01T00:00:00&end=2001-01-02T00:00:00',
    );
    assert.deepEqual(early.body.tenant_usages, []);
    assert.equal(
      (await h.call('GET', '/v2.1/os-simple-tenant-usage', { token: alice })).status,
      403,
    );
    const bob = h.token('bob', 'project-b');
    assert.equal(
      (await h.call('GET', '/v2.1/os-simple-tenant-usage/project-a', { token: bob })).status,
      403,
    );
    const bad = await h.call('GET', '/v2.1/os-simple-tenant-usage?start=yesterday');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.badRequest.message, 'Datetime is in invalid format');
  });
});
