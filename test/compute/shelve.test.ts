/**
 * Shelve, shelve offload and unshelve: the server's disk goes to an image its project owns, the
 * host lets the guest go (placement and port bindings follow), and an unshelve places it again
 * and spawns it from that image, which then goes.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return --
   response bodies are untyped JSON these tests assert on field by field. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  act,
  activeServer,
  missingNotifications,
  serversHarness,
  settled,
  type ServersHarness,
} from './harness.ts';

/** Acts and waits until the server settles; returns it as an admin sees it. */
async function settle(h: ServersHarness, id: string, body: unknown, token: string) {
  const r = await act(h, id, body, { token });
  assert.equal(r.status, 202, `${JSON.stringify(body)}: ${r.text}`);
  assert.equal(r.text, '');
  return h.waitFor(id, settled);
}

async function allocationsOf(h: ServersHarness, consumer: string): Promise<Record<string, any>> {
  return (await h.neighbour('placement', 'GET', `/allocations/${consumer}`)).body.allocations;
}

async function portsOf(h: ServersHarness, id: string): Promise<any[]> {
  return (await h.neighbour('network', 'GET', `/v2.0/ports?device_id=${id}`)).body.ports;
}

const shelvedImage = async (h: ServersHarness, id: string, name = 'vm-shelved') =>
  (await h.neighbour('image', 'GET', `/v2/images?name=${name}`)).body.images.find(
    (i: any) => i.instance_uuid === id,
  );

/** The details of the latest action's only event, which must be `event` and an error. */
async function lastEventDetails(h: ServersHarness, id: string, event: string): Promise<string> {
  const log = await h.call('GET', `/v2.1/servers/${id}/os-instance-actions`);
  const [latest] = log.body.instanceActions;
  assert.equal(latest.message, 'Error');
  const shown = await h.call(
    'GET',
    `/v2.1/servers/${id}/os-instance-actions/${latest.request_id}`,
    { version: '2.84' },
  );
  const [e] = shown.body.instanceAction.events;
  assert.equal(e.event, event);
  assert.equal(e.result, 'Error');
  return e.details;
}

describe('shelve', () => {
  it('shelves into a snapshot, offloads at once, and unshelves from it on a new placement', async (t) => {
    const h = await serversHarness(t, { hosts: [{ hostname: 'host-1' }, { hostname: 'host-2' }] });
    const alice = h.token('alice', 'project-a');
    const server = await activeServer(h, { token: alice });
    const id = server.id;
    const address = server.addresses;
    const shelved = await settle(h, id, { shelve: null }, alice);
    assert.equal(shelved.status, 'SHELVED_OFFLOADED', JSON.stringify(shelved.fault));
    assert.equal(shelved['OS-EXT-SRV-ATTR:host'], null);
    assert.equal(shelved['OS-EXT-SRV-ATTR:hypervisor_hostname'], null);
    assert.equal(shelved['OS-EXT-STS:power_state'], 4);
    assert.deepEqual(shelved.addresses, address, 'the server keeps its ports and addresses');
    assert.equal(shelved.image.id, h.imageId);
    for (const d of h.drivers) assert.ok(!(await d.listInstances()).includes(id));
    assert.deepEqual(await allocationsOf(h, id), {});
    const [port] = await portsOf(h, id);
    assert.equal(port['binding:host_id'], '');
    const image = await shelvedImage(h, id);
    assert.ok(image, 'the shelve snapshot exists');
    assert.equal(image.status, 'active');
    assert.equal(image.owner, 'project-a');
    assert.equal(image.image_type, 'snapshot');
    // Alice's own listing shows the server's new status.
    const mine = await h.call('GET', '/v2.1/servers/detail?status=SHELVED_OFFLOADED', {
      token: alice,
    });
    assert.deepEqual(
      mine.body.servers.map((s: any) => s.id),
      [id],
    );

    const back = await settle(h, id, { unshelve: null }, alice);
    assert.equal(back.status, 'ACTIVE', JSON.stringify(back.fault));
    assert.equal(back['OS-EXT-STS:power_state'], 1);
    assert.equal(back.image.id, h.imageId, 'the server keeps its own image');
    const host = back['OS-EXT-SRV-ATTR:host'];
    assert.ok(host === 'host-1' || host === 'host-2');
    const driver = h.drivers[host === 'host-1' ? 0 : 1];
    assert.equal(driver?.specOf(id)?.imageId, image.id, 'spawned from the snapshot');
    assert.deepEqual(
      Object.values(await allocationsOf(h, id)).map((a) => a.resources),
      [{ VCPU: 1, MEMORY_MB: 512, DISK_GB: 1 }],
    );
    assert.equal((await portsOf(h, id))[0]['binding:host_id'], host);
    assert.equal((await h.neighbour('image', 'GET', `/v2/images/${image.id}`)).status, 404);

    const log = await h.call('GET', `/v2.1/servers/${id}/os-instance-actions`, { token: alice });
    assert.deepEqual(
      log.body.instanceActions.map((a: any) => [a.action, a.message]),
      [
        ['unshelve', null],
        ['shelve', null],
        ['create', null],
      ],
    );
    const unshelve = log.body.instanceActions[0];
    const events = await h.call(
      'GET',
      `/v2.1/servers/${id}/os-instance-actions/${unshelve.request_id}`,
      { version: '2.51' },
    );
    assert.deepEqual(
      events.body.instanceAction.events.map((e: any) => [e.event, e.result]),
      [['compute_unshelve_instance', 'Success']],
    );
    assert.deepEqual(
      await missingNotifications(h, [
        'shelve.start',
        'shelve.end',
        'unshelve.start',
        'unshelve.end',
      ]),
      [],
    );
  });

  it('keeps a shelved guest on its host until offloaded on request or when due', async (t) => {
    let offset = 0;
    const h = await serversHarness(t, {
      hosts: [{ hostname: 'host-1' }],
      compute: { shelved_offload_time: 60 },
      now: () => new Date(Date.now() + offset),
    });
    const alice = h.token('alice', 'project-a');
    const id = (await activeServer(h, { token: alice })).id;
    const driver = h.drivers[0];
    assert.ok(driver);
    let server = await settle(h, id, { shelve: null }, alice);
    assert.equal(server.status, 'SHELVED', JSON.stringify(server.fault));
    assert.equal(server['OS-EXT-SRV-ATTR:host'], 'host-1');
    assert.equal((await driver.getInfo(id))?.powerState, 4);
    assert.equal(Object.keys(await allocationsOf(h, id)).length, 1, 'still holds its host');
    const image = await shelvedImage(h, id);
    assert.equal(image?.status, 'active');

    // Unshelving a server its host holds starts the guest there and drops the snapshot.
    server = await settle(h, id, { unshelve: null }, alice);
    assert.equal(server.status, 'ACTIVE');
    assert.equal((await driver.getInfo(id))?.powerState, 1);
    assert.equal(driver.calls.filter((c) => c === `spawn ${id}`).length, 1, 'not spawned again');
    assert.equal((await h.neighbour('image', 'GET', `/v2/images/${image.id}`)).status, 404);

    // Offloading on request is an admin's (Nova's default policy).
    server = await settle(h, id, { shelve: null }, alice);
    assert.equal(server.status, 'SHELVED');
    // A zone or a host is for an offloaded server only: this one still has its host.
    const pinned = await act(
      h,
      id,
      { unshelve: { availability_zone: 'nova' } },
      { token: alice, version: '2.77' },
    );
    assert.equal(pinned.status, 409, pinned.text);
    assert.equal(
      pinned.body.conflictingRequest.message,
      `Specifying an availability zone or a host when unshelving server "${id}" with status "shelved" is not supported. The server status must be SHELVED_OFFLOADED.`,
    );
    const refused = await act(h, id, { shelveOffload: null }, { token: alice });
    assert.equal(refused.status, 403, refused.text);
    server = await settle(h, id, { shelveOffload: null }, h.admin);
    assert.equal(server.status, 'SHELVED_OFFLOADED');
    assert.ok(!(await driver.listInstances()).includes(id));
    assert.deepEqual(await allocationsOf(h, id), {});
    const again = await act(h, id, { shelveOffload: null });
    assert.equal(again.status, 409);
    assert.equal(
      again.body.conflictingRequest.message,
      `Cannot 'shelveOffload' instance ${id} while it is in vm_state shelved_offloaded`,
    );

    // The host lets a shelved guest go by itself once shelved_offload_time has passed.
    assert.equal((await settle(h, id, { unshelve: null }, alice)).status, 'ACTIVE');
    assert.equal((await settle(h, id, { shelve: null }, alice)).status, 'SHELVED');
    const agent = h.service.agents[0];
    assert.ok(agent);
    await agent.reconcile();
    assert.equal((await h.waitFor(id, settled)).status, 'SHELVED', 'not due yet');
    offset = 61_000;
    await agent.reconcile();
    server = await h.waitFor(id, (s) => s.status === 'SHELVED_OFFLOADED' && settled(s));
    assert.equal(server['OS-EXT-SRV-ATTR:host'], null);
    assert.deepEqual(await allocationsOf(h, id), {});
    const log = await h.call('GET', `/v2.1/servers/${id}/os-instance-actions`);
    assert.equal(log.body.instanceActions[0].action, 'shelveOffload');
  });

  it('refuses what Nova refuses, in its words, and keeps projects apart', async (t) => {
    const h = await serversHarness(t, { hosts: [{ hostname: 'host-1' }, { hostname: 'host-2' }] });
    const alice = h.token('alice', 'project-a');
    const bob = h.token('bob', 'project-b');
    const id = (await activeServer(h, { token: alice })).id;
    const zone = await h.call('POST', '/v2.1/os-aggregates', {
      body: { aggregate: { name: 'rack-2', availability_zone: 'az-2' } },
    });
    assert.equal(zone.status, 200, zone.text);
    const added = await h.call('POST', `/v2.1/os-aggregates/${zone.body.aggregate.id}/action`, {
      body: { add_host: { host: 'host-2' } },
    });
    assert.equal(added.status, 200, added.text);

    const early: [string, unknown, string | undefined, number, string][] = [
      [
        'unshelve an active server',
        { unshelve: null },
        undefined,
        409,
        `Cannot 'unshelve' instance ${id} while it is in vm_state active`,
      ],
      [
        'another project shelves',
        { shelve: null },
        'bob',
        404,
        `Instance ${id} could not be found.`,
      ],
    ];
    for (const [name, body, who, status, message] of early) {
      const r = await act(h, id, body, { token: who === 'bob' ? bob : alice });
      assert.equal(r.status, status, `${name}: ${r.text}`);
      assert.equal((Object.values(r.body)[0] as any).message, message, name);
    }
    // A locked server stays as it is, and no snapshot is left behind.
    assert.equal((await act(h, id, { lock: null }, { token: alice })).status, 202);
    const locked = await act(h, id, { shelve: null }, { token: alice });
    assert.equal(locked.status, 409, locked.text);
    assert.equal(await shelvedImage(h, id), undefined);
    assert.equal((await act(h, id, { unlock: null }, { token: alice })).status, 202);

    assert.equal((await settle(h, id, { shelve: null }, alice)).status, 'SHELVED_OFFLOADED');
    const offloaded: [string, unknown, string, string, number, string][] = [
      [
        'shelve again',
        { shelve: null },
        '2.1',
        'alice',
        409,
        `Cannot 'shelve' instance ${id} while it is in vm_state shelved_offloaded`,
      ],
      [
        'a zone object without one at 2.77',
        { unshelve: {} },
        '2.77',
        'alice',
        400,
        "Invalid input for field/attribute unshelve. Value: {}. 'availability_zone' is a required property",
      ],
      [
        'a host before 2.91',
        { unshelve: { availability_zone: 'az-2', host: 'host-2' } },
        '2.77',
        'admin',
        400,
        'Invalid input for field/attribute unshelve. Value: {"availability_zone":"az-2","host":"host-2"}. Additional properties are not allowed (\'host\' was unexpected)',
      ],
      [
        'a zone that does not exist',
        { unshelve: { availability_zone: 'nowhere' } },
        '2.77',
        'alice',
        400,
        'The requested availability zone is not available',
      ],
      [
        'a host from a member',
        { unshelve: { host: 'host-2' } },
        '2.91',
        'alice',
        403,
        "Policy doesn't allow os_compute_api:os-shelve:unshelve_to_host to be performed.",
      ],
      [
        'a host that is not a compute host',
        { unshelve: { host: 'host-9' } },
        '2.91',
        'admin',
        400,
        'Compute host host-9 could not be found.',
      ],
      [
        'a host outside the zone',
        { unshelve: { availability_zone: 'az-2', host: 'host-1' } },
        '2.91',
        'admin',
        409,
        'Host "host-1" is not in the availability zone "az-2".',
      ],
      [
        'another project unshelves',
        { unshelve: null },
        '2.1',
        'bob',
        404,
        `Instance ${id} could not be found.`,
      ],
    ];
    const tokens: Record<string, string> = { alice, bob, admin: h.admin };
    for (const [name, body, version, who, status, message] of offloaded) {
      const r = await act(h, id, body, { token: tokens[who] as string, version });
      assert.equal(r.status, status, `${name}: ${r.text}`);
      assert.equal((Object.values(r.body)[0] as any).message, message, name);
    }
    assert.equal((await h.waitFor(id, settled)).status, 'SHELVED_OFFLOADED');

    // An admin unshelves into the zone's host; the server is in that zone afterwards.
    const r = await act(
      h,
      id,
      { unshelve: { availability_zone: 'az-2', host: 'host-2' } },
      { version: '2.91' },
    );
    assert.equal(r.status, 202, r.text);
    const moved = await h.waitFor(id, settled);
    assert.equal(moved.status, 'ACTIVE', JSON.stringify(moved.fault));
    assert.equal(moved['OS-EXT-SRV-ATTR:host'], 'host-2');
    assert.equal(moved['OS-EXT-AZ:availability_zone'], 'az-2');
  });

  it('keeps the server as it was when a step fails, and deletes the snapshot with the server', async (t) => {
    let failSnapshots = true;
    let failSpawns = false;
    const h = await serversHarness(t, {
      hosts: [
        {
          hostname: 'host-1',
          failAction: (call) => (call === 'snapshot' && failSnapshots ? 'disk busy' : undefined),
          failSpawn: () => (failSpawns ? 'no room for the guest' : undefined),
        },
      ],
    });
    const alice = h.token('alice', 'project-a');
    const id = (await activeServer(h, { token: alice })).id;
    // A snapshot that fails leaves the server where it was, the failure in its action log, and
    // no image.
    let server = await settle(h, id, { shelve: null }, alice);
    assert.equal(server.status, 'ACTIVE');
    assert.match(await lastEventDetails(h, id, 'compute_shelve_instance'), /disk busy/);
    assert.equal(await shelvedImage(h, id), undefined);
    failSnapshots = false;
    assert.equal((await settle(h, id, { shelve: null }, alice)).status, 'SHELVED_OFFLOADED');
    const image = await shelvedImage(h, id);
    assert.ok(image);

    // No host takes it: it stays offloaded, and the action's event names the filter.
    const service = (
      await h.call('GET', '/v2.1/os-services?binary=nova-compute', { version: '2.53' })
    ).body.services[0];
    const off = await h.call('PUT', `/v2.1/os-services/${service.id}`, {
      body: { status: 'disabled' },
      version: '2.53',
    });
    assert.equal(off.status, 200, off.text);
    server = await settle(h, id, { unshelve: null }, alice);
    assert.equal(server.status, 'SHELVED_OFFLOADED');
    assert.match(
      await lastEventDetails(h, id, 'conductor_unshelve_instance'),
      /No valid host was found.*ComputeFilter/,
    );
    const on = await h.call('PUT', `/v2.1/os-services/${service.id}`, {
      body: { status: 'enabled' },
      version: '2.53',
    });
    assert.equal(on.status, 200, on.text);

    // The host cannot spawn it: back to no host, its claim there released.
    failSpawns = true;
    server = await settle(h, id, { unshelve: null }, alice);
    assert.equal(server.status, 'SHELVED_OFFLOADED');
    assert.equal(server['OS-EXT-SRV-ATTR:host'], null);
    assert.match(
      await lastEventDetails(h, id, 'compute_unshelve_instance'),
      /no room for the guest/,
    );
    assert.deepEqual(await allocationsOf(h, id), {});
    assert.equal(
      (await h.neighbour('image', 'GET', `/v2/images/${image.id}`)).body.status,
      'active',
      'the snapshot is kept for the next try',
    );

    // Deleting a shelved server deletes its snapshot, as Nova does.
    const deleted = await h.call('DELETE', `/v2.1/servers/${id}`, { token: alice });
    assert.equal(deleted.status, 204, deleted.text);
    await h.waitFor(id, (s) => s === undefined || s.status === 'DELETED');
    assert.equal((await h.neighbour('image', 'GET', `/v2/images/${image.id}`)).status, 404);
    assert.deepEqual(await portsOf(h, id), []);
  });

  it('places an unshelve again when the host it went to goes down', async (t) => {
    let offset = 0;
    const h = await serversHarness(t, {
      hosts: [{ hostname: 'host-1' }, { hostname: 'host-2' }],
      compute: { service_down_time: 3600 },
      now: () => new Date(Date.now() + offset),
    });
    const alice = h.token('alice', 'project-a');
    const id = (await activeServer(h, { token: alice })).id;
    assert.equal((await settle(h, id, { shelve: null }, alice)).status, 'SHELVED_OFFLOADED');
    const services = new Map<string, any>(
      (
        await h.call('GET', '/v2.1/os-services?binary=nova-compute', { version: '2.53' })
      ).body.services.map((s: any) => [s.host, s]),
    );
    const setService = async (host: string, body: unknown) => {
      const r = await h.call('PUT', `/v2.1/os-services/${services.get(host).id}`, {
        body,
        version: '2.53',
      });
      assert.equal(r.status, 200, r.text);
    };
    // Only host-1 takes servers, and its agent is gone: the unshelve waits there.
    await h.service.agents.find((a) => a.host === 'host-1')?.stop();
    await setService('host-2', { status: 'disabled' });
    assert.equal((await act(h, id, { unshelve: null }, { token: alice })).status, 202);
    const waiting = await h.waitFor(id, (s) => s['OS-EXT-SRV-ATTR:host'] === 'host-1');
    assert.equal(waiting['OS-EXT-STS:task_state'], 'unshelving');
    // Host-1 is declared down and host-2 takes servers again: the sweep takes the task back.
    await setService('host-2', { status: 'enabled' });
    await setService('host-1', { forced_down: true });
    offset = 120_000;
    await h.service.conductor?.sweep();
    const server = await h.waitFor(id, settled);
    assert.equal(server.status, 'ACTIVE', JSON.stringify(server.fault));
    assert.equal(server['OS-EXT-SRV-ATTR:host'], 'host-2');
    const [provider] = (await h.neighbour('placement', 'GET', '/resource_providers?name=host-2'))
      .body.resource_providers;
    assert.deepEqual(Object.keys(await allocationsOf(h, id)), [provider.uuid], 'host-2 only');
  });
});
