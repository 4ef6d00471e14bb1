/**
 * Resize and cold migration: the instance moves, placement follows it (the migration keeps the
 * source's allocations until the confirm), and revert brings everything back.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return --
   response bodies are untyped JSON these tests assert on field by field. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Kysely } from 'kysely';
import { guestSpec } from './virt/driver-conformance.ts';
import { act, activeServer, serversHarness, settled, type ServersHarness } from './harness.ts';

const TINY = { VCPU: 1, MEMORY_MB: 512, DISK_GB: 1 };
const SMALL = { VCPU: 1, MEMORY_MB: 2048, DISK_GB: 20 };

/** Consumer → [provider name, resources] over every provider. */
async function allocations(h: ServersHarness): Promise<Map<string, [string, any][]>> {
  const out = new Map<string, [string, any][]>();
  const providers = (await h.neighbour('placement', 'GET', '/resource_providers')).body
    .resource_providers;
  for (const rp of providers) {
    const a = (await h.neighbour('placement', 'GET', `/resource_providers/${rp.uuid}/allocations`))
      .body.allocations;
    for (const [consumer, v] of Object.entries<any>(a))
      out.set(consumer, [...(out.get(consumer) ?? []), [rp.name, v.resources]]);
  }
  return out;
}

describe('resize and migrate', () => {
  it('resizes to a bigger flavor, holds the old allocation on the migration, confirms', async (t) => {
    const h = await serversHarness(t);
    const server = await activeServer(h);
    const id = server.id;
    const source = server['OS-EXT-SRV-ATTR:host'];
    const r = await act(h, id, { resize: { flavorRef: '2' } });
    assert.equal(r.status, 202, r.text);
    const resized = await h.waitFor(id, settled);
    assert.equal(resized.status, 'VERIFY_RESIZE', JSON.stringify(resized.fault));
    const v247 = await h.call('GET', `/v2.1/servers/${id}`, { version: '2.47' });
    assert.equal(v247.body.server.flavor.original_name, 'm1.small');
    const migrations = await h.call('GET', `/v2.1/os-migrations?instance_uuid=${id}`, {
      version: '2.59',
    });
    assert.equal(migrations.status, 200, migrations.text);
    const [m] = migrations.body.migrations;
    assert.equal(m.status, 'finished');
    assert.equal(m.migration_type, 'resize');
    assert.equal(m.source_compute, source);
    assert.equal(m.old_instance_type_id, '1');
    assert.equal(m.new_instance_type_id, '2');
    let held = await allocations(h);
    assert.deepEqual(held.get(id), [[resized['OS-EXT-SRV-ATTR:hypervisor_hostname'], SMALL]]);
    assert.deepEqual(held.get(m.uuid), [[source, TINY]]);

    const confirmed = await act(h, id, { confirmResize: null });
    assert.equal(confirmed.status, 204, confirmed.text);
    const done = await h.waitFor(id, (s) => s.status === 'ACTIVE');
    assert.equal(done['OS-EXT-STS:power_state'], 1);
    held = await allocations(h);
    assert.equal(held.get(m.uuid), undefined);
    assert.deepEqual(held.get(id)?.[0]?.[1], SMALL);
    const after = await h.call('GET', `/v2.1/os-migrations?instance_uuid=${id}`);
    assert.equal(after.body.migrations[0].status, 'confirmed');
    const log = await h.call('GET', `/v2.1/servers/${id}/os-instance-actions`);
    assert.deepEqual(
      log.body.instanceActions.map((a: any) => a.action),
      ['confirmResize', 'resize', 'create'],
    );
  });

  it('migrates to the other host and reverts back to the source', async (t) => {
    const h = await serversHarness(t);
    const server = await activeServer(h);
    const id = server.id;
    const source = server['OS-EXT-SRV-ATTR:host'];
    const other = source === 'host-1' ? 'host-2' : 'host-1';
    assert.equal((await act(h, id, { migrate: null })).status, 202);
    const moved = await h.waitFor(id, settled);
    assert.equal(moved.status, 'VERIFY_RESIZE');
    assert.equal(moved['OS-EXT-SRV-ATTR:host'], other);
    const sourceDriver = h.drivers[source === 'host-1' ? 0 : 1];
    const destDriver = h.drivers[source === 'host-1' ? 1 : 0];
    assert.equal((await sourceDriver?.getInfo(id))?.powerState, 4);
    assert.equal((await destDriver?.getInfo(id))?.powerState, 1);
    const ports = await h.neighbour('network', 'GET', `/v2.0/ports?device_id=${id}`);
    assert.equal(ports.body.ports[0]['binding:host_id'], other);

    assert.equal((await act(h, id, { revertResize: null })).status, 202);
    const back = await h.waitFor(id, settled);
    assert.equal(back.status, 'ACTIVE');
    assert.equal(back['OS-EXT-SRV-ATTR:host'], source);
    assert.equal((await sourceDriver?.getInfo(id))?.powerState, 1);
    assert.equal(await destDriver?.getInfo(id), undefined);
    const held = await allocations(h);
    assert.deepEqual(held.get(id), [[source, TINY]]);
    assert.equal(held.size, 1);
    const again = await h.neighbour('network', 'GET', `/v2.0/ports?device_id=${id}`);
    assert.equal(again.body.ports[0]['binding:host_id'], source);
    const m = (await h.call('GET', `/v2.1/os-migrations?instance_uuid=${id}`, { version: '2.23' }))
      .body.migrations[0];
    assert.deepEqual(
      [m.status, m.migration_type, m.dest_compute],
      ['reverted', 'migration', other],
    );
  });

  it('live-migrates a running and a paused server to the other host', async (t) => {
    const h = await serversHarness(t);
    for (const paused of [false, true]) {
      const server = await activeServer(h);
      const id = server.id;
      const source = server['OS-EXT-SRV-ATTR:host'];
      const other = source === 'host-1' ? 'host-2' : 'host-1';
      if (paused) {
        await act(h, id, { pause: null });
        await h.waitFor(id, settled);
      }
      const r = await act(
        h,
        id,
        { 'os-migrateLive': { host: null, block_migration: 'auto' } },
        { version: '2.25' },
      );
      assert.equal(r.status, 202, r.text);
      const moved = await h.waitFor(id, settled);
      assert.equal(moved.status, paused ? 'PAUSED' : 'ACTIVE');
      assert.equal(moved['OS-EXT-SRV-ATTR:host'], other);
      const [src, dst] = source === 'host-1' ? h.drivers : [...h.drivers].reverse();
      assert.equal(await src?.getInfo(id), undefined);
      assert.equal((await dst?.getInfo(id))?.powerState, paused ? 3 : 1);
      const held = await allocations(h);
      assert.deepEqual(held.get(id), [[other, TINY]]);
      const ports = await h.neighbour('network', 'GET', `/v2.0/ports?device_id=${id}`);
      assert.equal(ports.body.ports[0]['binding:host_id'], other);
      const m = (
        await h.call('GET', `/v2.1/os-migrations?instance_uuid=${id}`, { version: '2.23' })
      ).body.migrations[0];
      assert.deepEqual([m.migration_type, m.status], ['live-migration', 'completed']);
    }
    const consumers = await allocations(h);
    assert.equal(consumers.size, 2, 'no migration keeps an allocation');
  });

  it('keeps the guest a live migration is filling on the destination when it reconciles', async (t) => {
    const h = await serversHarness(t);
    const server = await activeServer(h);
    const id = server.id;
    const source = server['OS-EXT-SRV-ATTR:host'];
    const destIndex = source === 'host-1' ? 1 : 0;
    const dest = h.drivers[destIndex];
    const agent = h.service.agents[destIndex];
    assert.ok(dest && agent);
    // The destination has readied its guest; the instance is still the source's.
    await dest.spawn(guestSpec('image', { uuid: id }));
    const taskState = (state: string | null) =>
      (h.computeDb as Kysely<any>)
        .updateTable('instances')
        .set({ task_state: state })
        .where('uuid', '=', id)
        .execute();
    await taskState('migrating');
    await agent.reconcile();
    assert.equal((await dest.getInfo(id))?.powerState, 1, 'the incoming guest stays');
    await taskState(null);
    await agent.reconcile();
    assert.equal(await dest.getInfo(id), undefined, 'once no move owns it, it goes');
  });

  it('evacuates a server from a host that is down, and only then', async (t) => {
    const h = await serversHarness(t);
    const server = await activeServer(h);
    const id = server.id;
    const source = server['OS-EXT-SRV-ATTR:host'];
    const other = source === 'host-1' ? 'host-2' : 'host-1';
    const up = await act(h, id, { evacuate: {} }, { version: '2.14' });
    assert.equal(up.status, 409);
    assert.equal(
      up.body.conflictingRequest.message,
      `Compute service of ${source} is still in use.`,
    );
    await h.service.agents.find((a) => a.host === source)?.stop();
    const services = await h.call('GET', `/v2.1/os-services?host=${source}`, { version: '2.53' });
    const down = await h.call('PUT', `/v2.1/os-services/${services.body.services[0].id}`, {
      version: '2.53',
      body: { forced_down: true },
    });
    assert.equal(down.status, 200, down.text);
    const r = await act(h, id, { evacuate: {} }, { version: '2.14' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.text, '');
    const moved = await h.waitFor(id, settled);
    assert.equal(moved.status, 'ACTIVE');
    assert.equal(moved['OS-EXT-SRV-ATTR:host'], other);
    assert.deepEqual((await allocations(h)).get(id), [[other, TINY]]);
    assert.equal((await allocations(h)).size, 1);
    const m = (await h.call('GET', `/v2.1/os-migrations?instance_uuid=${id}`, { version: '2.23' }))
      .body.migrations[0];
    assert.deepEqual([m.migration_type, m.status, m.dest_compute], ['evacuation', 'done', other]);
    // New servers go to the host that is up.
    const again = await activeServer(h);
    assert.equal(again['OS-EXT-SRV-ATTR:host'], other);
  });

  it('refuses bad moves, and keeps the server where it is when no host fits', async (t) => {
    const h = await serversHarness(t, { hosts: [{ hostname: 'host-1' }] });
    const alice = h.token('alice', 'project-a');
    const server = await activeServer(h, { token: alice });
    const id = server.id;
    const cases: [string, unknown, string | undefined, number, string][] = [
      [
        'same flavor',
        { resize: { flavorRef: '1' } },
        alice,
        400,
        'When resizing, instances must change flavor!',
      ],
      [
        'unknown flavor',
        { resize: { flavorRef: 'nope' } },
        alice,
        400,
        'Flavor nope could not be found.',
      ],
      ['no flavorRef', { resize: {} }, alice, 400, "'flavorRef' is a required property"],
      [
        'confirm without a resize',
        { confirmResize: null },
        alice,
        409,
        "Cannot 'confirmResize' instance",
      ],
      ['migrate as a member', { migrate: null }, alice, 403, 'os-migrate-server:migrate'],
      [
        'migrate to an unknown host',
        { migrate: { host: 'nope' } },
        undefined,
        400,
        'Compute host nope could not be found.',
      ],
    ];
    for (const [name, body, token, status, message] of cases) {
      const r = await act(h, id, body, {
        ...(token !== undefined ? { token } : {}),
        version: '2.56',
      });
      assert.equal(r.status, status, `${name}: ${r.text}`);
      assert.ok((Object.values(r.body)[0] as any).message.includes(message), `${name}: ${r.text}`);
    }
    const bob = h.token('bob', 'project-b');
    assert.equal((await act(h, id, { resize: { flavorRef: '2' } }, { token: bob })).status, 404);
    // One host: a migration has nowhere to go; the server stays ACTIVE with its allocation.
    assert.equal((await act(h, id, { migrate: null })).status, 202);
    const stayed = await h.waitFor(id, settled);
    assert.equal(stayed.status, 'ACTIVE');
    assert.equal(stayed['OS-EXT-SRV-ATTR:host'], 'host-1');
    const m = (await h.call('GET', `/v2.1/os-migrations?instance_uuid=${id}`)).body.migrations[0];
    assert.equal(m.status, 'error');
    const held = await allocations(h);
    assert.deepEqual(held.get(id), [['host-1', TINY]]);
    assert.equal(held.size, 1);
    // A stopped server resizes (on its own host) and stays stopped.
    assert.equal((await act(h, id, { 'os-stop': null }, { token: alice })).status, 202);
    await h.waitFor(id, settled);
    assert.equal((await act(h, id, { resize: { flavorRef: '2' } }, { token: alice })).status, 202);
    const resized = await h.waitFor(id, settled);
    assert.equal(resized.status, 'VERIFY_RESIZE');
    assert.equal((await act(h, id, { confirmResize: null }, { token: alice })).status, 204);
    const stopped = await h.waitFor(id, (s) => s.status !== 'VERIFY_RESIZE');
    assert.equal(stopped.status, 'SHUTOFF');
    assert.equal(stopped.flavor.id, '2');
    assert.deepEqual((await allocations(h)).get(id), [['host-1', SMALL]]);
    // Members do not list migrations.
    assert.equal((await h.call('GET', '/v2.1/os-migrations', { token: alice })).status, 403);
  });
});
