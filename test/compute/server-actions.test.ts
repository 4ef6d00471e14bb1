/**
 * Server actions end to end: the API records the request, the host's agent drives the fake
 * hypervisor, and the instance, its action log and the guest agree afterwards.
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

function guestOf(h: ServersHarness, id: string) {
  const driver = h.drivers.find((d) => d.calls.includes(`spawn ${id}`));
  assert.ok(driver, `no driver spawned ${id}`);
  return driver;
}

describe('server actions', () => {
  it('stops, starts, reboots, pauses and suspends the guest, and logs every action', async (t) => {
    const h = await serversHarness(t);
    const id = (await activeServer(h)).id as string;
    const driver = guestOf(h, id);
    const steps: [unknown, string, number, string][] = [
      [{ 'os-stop': null }, 'SHUTOFF', 4, 'power_off'],
      [{ 'os-start': null }, 'ACTIVE', 1, 'power_on'],
      [{ reboot: { type: 'SOFT' } }, 'ACTIVE', 1, 'reboot_soft'],
      [{ reboot: { type: 'hard' } }, 'ACTIVE', 1, 'reboot_hard'],
      [{ pause: null }, 'PAUSED', 3, 'pause'],
      [{ unpause: null }, 'ACTIVE', 1, 'unpause'],
      [{ suspend: null }, 'SUSPENDED', 7, 'suspend'],
      [{ resume: null }, 'ACTIVE', 1, 'resume'],
    ];
    for (const [body, status, power, call] of steps) {
      const r = await act(h, id, body);
      assert.equal(r.status, 202, `${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.text, '');
      const server = await h.waitFor(id, settled);
      assert.equal(server.status, status, JSON.stringify(body));
      assert.equal(server['OS-EXT-STS:power_state'], power);
      assert.equal((await driver.getInfo(id))?.powerState, power);
      assert.ok(driver.calls.includes(`${call} ${id}`), call);
    }
    const log = await h.call('GET', `/v2.1/servers/${id}/os-instance-actions`);
    assert.equal(log.status, 200, log.text);
    assert.deepEqual(
      log.body.instanceActions.map((a: any) => a.action),
      ['resume', 'suspend', 'unpause', 'pause', 'reboot', 'reboot', 'start', 'stop', 'create'],
    );
    const stop = log.body.instanceActions.find((a: any) => a.action === 'stop');
    assert.equal(stop.message, null);
    assert.equal(stop.instance_uuid, id);
    assert.match(stop.start_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
    const shown = await h.call(
      'GET',
      `/v2.1/servers/${id}/os-instance-actions/${stop.request_id}`,
      { version: '2.84' },
    );
    assert.equal(shown.status, 200, shown.text);
    const [event] = shown.body.instanceAction.events;
    assert.equal(event.event, 'compute_stop_instance');
    assert.equal(event.result, 'Success');
    assert.equal(event.host, guestOf(h, id) === h.drivers[0] ? 'host-1' : 'host-2');
    assert.equal(event.hostId.length, 56);
    assert.deepEqual(
      await missingNotifications(h, [
        'power_off.start',
        'power_off.end',
        'pause.end',
        'resume.end',
      ]),
      [],
    );
  });

  it('refuses an action the state does not allow, as Nova words it', async (t) => {
    const h = await serversHarness(t);
    const id = (await activeServer(h)).id as string;
    const cases: [string, unknown, number, string][] = [
      [
        'start while active',
        { 'os-start': null },
        409,
        `Cannot 'start' instance ${id} while it is in vm_state active`,
      ],
      [
        'unpause while active',
        { unpause: null },
        409,
        `Cannot 'unpause' instance ${id} while it is in vm_state active`,
      ],
      [
        'resume while active',
        { resume: null },
        409,
        `Cannot 'resume' instance ${id} while it is in vm_state active`,
      ],
      ['unknown action', { frobnicate: null }, 400, 'There is no such action: frobnicate'],
      ['two actions at once', { pause: null, suspend: null }, 400, 'Malformed request body'],
      ['reboot without a type', { reboot: {} }, 400, "'type' is a required property"],
      ['reboot of a bad type', { reboot: { type: 'gentle' } }, 400, "'gentle' is not one of"],
      [
        'reset to a bad state',
        { 'os-resetState': { state: 'stopped' } },
        400,
        "'stopped' is not one of ['active', 'error']",
      ],
      [
        'console of a bad length',
        { 'os-getConsoleOutput': { length: 'ten' } },
        400,
        'Invalid input for field/attribute length',
      ],
    ];
    for (const [name, body, status, message] of cases) {
      const r = await act(h, id, body);
      assert.equal(r.status, status, `${name}: ${r.text}`);
      const error: any = Object.values(r.body)[0];
      assert.equal(error.code, status, name);
      assert.ok(error.message.includes(message), `${name}: ${error.message}`);
    }
    // Once stopping is under way, a second stop is refused by its task state.
    const driver = guestOf(h, id);
    await h.service.agents.find((a) => a.driver === driver)?.stop();
    assert.equal((await act(h, id, { 'os-stop': null })).status, 202);
    const again = await act(h, id, { 'os-stop': null });
    assert.equal(again.status, 409);
    assert.equal(
      again.body.conflictingRequest.message,
      `Cannot 'stop' instance ${id} while it is in task_state powering-off`,
    );
  });

  it('keeps the state and records a fault when the hypervisor fails an action', async (t) => {
    const h = await serversHarness(t, {
      hosts: [
        {
          hostname: 'host-1',
          failAction: (call) => (call === 'pause' ? 'no pause today' : undefined),
        },
      ],
    });
    const id = (await activeServer(h)).id as string;
    assert.equal((await act(h, id, { pause: null })).status, 202);
    const server = await h.waitFor(id, settled);
    assert.equal(server.status, 'ACTIVE');
    assert.equal(server['OS-EXT-STS:power_state'], 1);
    const log = await h.call('GET', `/v2.1/servers/${id}/os-instance-actions`);
    const pause = log.body.instanceActions[0];
    assert.equal(pause.action, 'pause');
    assert.equal(pause.message, 'Error');
    const shown = await h.call(
      'GET',
      `/v2.1/servers/${id}/os-instance-actions/${pause.request_id}`,
      {
        version: '2.84',
      },
    );
    assert.equal(shown.body.instanceAction.events[0].result, 'Error');
    assert.equal(shown.body.instanceAction.events[0].details, 'no pause today');
    assert.deepEqual(await missingNotifications(h, ['pause.error']), []);
    // The server is usable afterwards.
    assert.equal((await act(h, id, { 'os-stop': null })).status, 202);
    assert.equal((await h.waitFor(id, settled)).status, 'SHUTOFF');
  });

  it('fails an action whose host went down instead of leaving it in its task state', async (t) => {
    let offset = 0;
    const h = await serversHarness(t, {
      hosts: [{ hostname: 'host-1' }],
      now: () => new Date(Date.now() + offset),
    });
    const id = (await activeServer(h)).id as string;
    await h.service.agents[0]?.stop();
    assert.equal((await act(h, id, { 'os-stop': null })).status, 202);
    // The host stops heartbeating: past service_down_time the sweep takes the task back.
    offset = 120_000;
    await h.service.conductor?.sweep();
    assert.equal((await h.waitFor(id, settled)).status, 'ACTIVE');
    // A snapshot the down host will never take leaves no queued image behind.
    const snap = await act(h, id, { createImage: { name: 'never' } }, { version: '2.45' });
    assert.equal(snap.status, 202, snap.text);
    offset = 240_000;
    await h.service.conductor?.sweep();
    assert.equal(
      (await h.neighbour('image', 'GET', `/v2/images/${snap.body.image_id}`)).status,
      404,
    );
    const server = await h.waitFor(id, settled);
    assert.equal(server.status, 'ACTIVE');
    const log = await h.call('GET', `/v2.1/servers/${id}/os-instance-actions`);
    assert.deepEqual(
      log.body.instanceActions.slice(0, 2).map((a: any) => [a.action, a.message]),
      [
        ['createImage', 'Error'],
        ['stop', 'Error'],
      ],
    );
  });

  it('locks a server against its owner’s changes; only an admin lifts an admin’s lock', async (t) => {
    const h = await serversHarness(t);
    const alice = h.token('alice', 'project-a');
    const id = (await activeServer(h, { token: alice })).id as string;
    const lock = await act(
      h,
      id,
      { lock: { locked_reason: 'audit' } },
      { token: alice, version: '2.73' },
    );
    assert.equal(lock.status, 202, lock.text);
    const shown = await h.call('GET', `/v2.1/servers/${id}`, { token: alice, version: '2.73' });
    assert.equal(shown.body.server.locked, true);
    assert.equal(shown.body.server.locked_reason, 'audit');
    const refused = await act(h, id, { 'os-stop': null }, { token: alice });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.conflictingRequest.message, `Instance ${id} is locked`);
    assert.equal((await h.call('DELETE', `/v2.1/servers/${id}`, { token: alice })).status, 409);
    assert.equal((await act(h, id, { unlock: null }, { token: alice })).status, 202);
    // An admin's lock (from another project) is the admin's to lift.
    assert.equal((await act(h, id, { lock: null })).status, 202);
    const denied = await act(h, id, { unlock: null }, { token: alice });
    assert.equal(denied.status, 403, denied.text);
    assert.equal((await act(h, id, { unlock: null })).status, 202);
    const after = await h.call('GET', `/v2.1/servers/${id}`, { token: alice, version: '2.73' });
    assert.equal(after.body.server.locked, false);
    assert.equal(after.body.server.locked_reason, null);
    const actions = await h.call('GET', `/v2.1/servers/${id}/os-instance-actions`, {
      token: alice,
    });
    assert.deepEqual(
      actions.body.instanceActions.slice(0, 4).map((a: any) => a.action),
      ['unlock', 'lock', 'unlock', 'lock'],
    );
  });

  it('returns the console log, resets state for admins, and keeps projects apart', async (t) => {
    const h = await serversHarness(t);
    const alice = h.token('alice', 'project-a');
    const bob = h.token('bob', 'project-b');
    const id = (await activeServer(h, { token: alice })).id as string;
    assert.equal((await act(h, id, { reboot: { type: 'SOFT' } }, { token: alice })).status, 202);
    await h.waitFor(id, settled);
    const all = await act(h, id, { 'os-getConsoleOutput': {} }, { token: alice });
    assert.equal(all.status, 200, all.text);
    assert.match(all.body.output, /^fake guest vm booted/);
    assert.equal(all.body.output.trim().split('\n').length, 2);
    const tail = await act(h, id, { 'os-getConsoleOutput': { length: 1 } }, { token: alice });
    assert.equal(tail.body.output, 'reboot_soft: power state 1\n');
    // Another project sees none of it.
    for (const body of [{ 'os-stop': null }, { 'os-getConsoleOutput': {} }, { lock: null }]) {
      const r = await act(h, id, body, { token: bob });
      assert.equal(r.status, 404, JSON.stringify(body));
      assert.equal(r.body.itemNotFound.message, `Instance ${id} could not be found.`);
    }
    const foreignLog = await h.call('GET', `/v2.1/servers/${id}/os-instance-actions`, {
      token: bob,
    });
    assert.equal(foreignLog.status, 404);
    // Reset-state is an admin's repair.
    const denied = await act(h, id, { 'os-resetState': { state: 'error' } }, { token: alice });
    assert.equal(denied.status, 403);
    assert.equal((await act(h, id, { 'os-resetState': { state: 'error' } })).status, 202);
    const broken = await h.call('GET', `/v2.1/servers/${id}`, { token: alice });
    assert.equal(broken.body.server.status, 'ERROR');
    // ERROR allows a stop and a hard reboot, which brings it back.
    assert.equal((await act(h, id, { reboot: { type: 'HARD' } }, { token: alice })).status, 202);
    assert.equal((await h.waitFor(id, settled)).status, 'ACTIVE');
    // forceDelete deletes at once.
    assert.equal((await act(h, id, { forceDelete: null }, { token: alice })).status, 202);
    await h.waitFor(id, (s) => s === undefined);
    // The log of a deleted server is still readable from 2.21.
    const gone = await h.call('GET', `/v2.1/servers/${id}/os-instance-actions`, {
      token: alice,
      version: '2.21',
    });
    assert.equal(gone.status, 200);
    assert.equal(gone.body.instanceActions[0].action, 'delete');
    assert.equal(
      (await h.call('GET', `/v2.1/servers/${id}/os-instance-actions`, { token: alice })).status,
      404,
    );
  });

  it('rebuilds from another image, keeps a stopped server stopped, rescues and unrescues', async (t) => {
    const h = await serversHarness(t, { hosts: [{ hostname: 'host-1' }] });
    const id = (await activeServer(h)).id as string;
    const driver = guestOf(h, id);
    const other = await h.makeImage('other');
    const rebuilt = await act(
      h,
      id,
      { rebuild: { imageRef: other, name: 'renamed', metadata: { b: '2' } } },
      { version: '2.75' },
    );
    assert.equal(rebuilt.status, 202, rebuilt.text);
    assert.equal(rebuilt.body.server.status, 'REBUILD');
    assert.equal(rebuilt.body.server.adminPass.length, 12);
    const after = await h.waitFor(id, settled);
    assert.equal(after.status, 'ACTIVE');
    assert.equal(after.name, 'renamed');
    assert.equal(after.image.id, other);
    assert.deepEqual(after.metadata, { b: '2' });
    assert.equal(driver.specOf(id)?.imageId, other);
    assert.ok(driver.calls.includes(`destroy ${id}`));

    assert.equal((await act(h, id, { 'os-stop': null })).status, 202);
    await h.waitFor(id, settled);
    assert.equal((await act(h, id, { rebuild: { imageRef: h.imageId } })).status, 202);
    const stopped = await h.waitFor(id, settled);
    assert.equal(stopped.status, 'SHUTOFF');
    assert.equal(stopped.image.id, h.imageId);
    assert.equal((await act(h, id, { 'os-start': null })).status, 202);
    await h.waitFor(id, settled);

    const rescued = await act(h, id, { rescue: { rescue_image_ref: other, adminPass: 'secret' } });
    assert.equal(rescued.status, 200, rescued.text);
    assert.deepEqual(rescued.body, { adminPass: 'secret' });
    assert.equal((await h.waitFor(id, settled)).status, 'RESCUE');
    assert.equal(driver.rescueImageOf(id), other);
    assert.equal((await act(h, id, { unrescue: null })).status, 202);
    assert.equal((await h.waitFor(id, settled)).status, 'ACTIVE');
    assert.equal(driver.rescueImageOf(id), undefined);

    const cases: [string, unknown, number, string][] = [
      ['rebuild without an image', { rebuild: {} }, 400, "'imageRef' is a required property"],
      [
        'rebuild from an unknown image',
        { rebuild: { imageRef: 'nope' } },
        400,
        'Image nope could not be found.',
      ],
      [
        'rescue from an unknown image',
        { rescue: { rescue_image_ref: 'nope' } },
        400,
        'Image nope could not be found.',
      ],
      ['unrescue while active', { unrescue: null }, 409, "Cannot 'unrescue' instance"],
    ];
    for (const [name, body, status, message] of cases) {
      const r = await act(h, id, body);
      assert.equal(r.status, status, `${name}: ${r.text}`);
      assert.ok((Object.values(r.body)[0] as any).message.includes(message), `${name}: ${r.text}`);
    }
    const log = await h.call('GET', `/v2.1/servers/${id}/os-instance-actions`);
    assert.deepEqual(
      log.body.instanceActions.slice(0, 6).map((a: any) => a.action),
      ['unrescue', 'rescue', 'start', 'rebuild', 'stop', 'rebuild'],
    );
  });

  it('snapshots a server into an image its project owns, and boots from it', async (t) => {
    let failSnapshots = false;
    const h = await serversHarness(t, {
      hosts: [
        {
          hostname: 'host-1',
          failAction: (call) => (call === 'snapshot' && failSnapshots ? 'disk busy' : undefined),
        },
      ],
    });
    const alice = h.token('alice', 'project-a');
    const id = (await activeServer(h, { token: alice })).id as string;
    const r = await act(
      h,
      id,
      { createImage: { name: 'snap-1', metadata: { purpose: 'test' } } },
      {
        token: alice,
        version: '2.45',
      },
    );
    assert.equal(r.status, 202, r.text);
    const imageId = r.body.image_id;
    assert.match(imageId, /^[0-9a-f-]{36}$/);
    assert.equal((await h.waitFor(id, settled)).status, 'ACTIVE');
    const image = await h.neighbour('image', 'GET', `/v2/images/${imageId}`);
    assert.equal(image.body.status, 'active');
    assert.equal(image.body.owner, 'project-a');
    assert.equal(image.body.instance_uuid, id);
    assert.equal(image.body.image_type, 'snapshot');
    assert.equal(image.body.base_image_ref, h.imageId);
    assert.equal(image.body.purpose, 'test');
    assert.equal(image.body.size, 1024);
    // Before 2.45 the answer is the image's Location.
    const old = await act(h, id, { createImage: { name: 'snap-2' } }, { token: alice });
    assert.equal(old.status, 202);
    assert.match(String(old.headers['location']), /\/v2\/images\/[0-9a-f-]{36}$/);
    await h.waitFor(id, settled);
    // The snapshot boots.
    const booted = await h.call('POST', '/v2.1/servers', {
      token: alice,
      body: {
        server: {
          name: 'from-snap',
          imageRef: imageId,
          flavorRef: '1',
          networks: [{ uuid: h.networkId }],
        },
      },
    });
    assert.equal(booted.status, 202, booted.text);
    assert.equal((await h.waitFor(booted.body.server.id, settled)).status, 'ACTIVE');
    // A failed snapshot leaves no image behind and the server as it was.
    failSnapshots = true;
    const failed = await act(
      h,
      id,
      { createImage: { name: 'snap-3' } },
      { token: alice, version: '2.45' },
    );
    assert.equal(failed.status, 202);
    assert.equal((await h.waitFor(id, settled)).status, 'ACTIVE');
    const gone = await h.neighbour('image', 'GET', `/v2/images/${failed.body.image_id}`);
    assert.equal(gone.status, 404);
    const bad = await act(h, id, { createImage: {} }, { token: alice });
    assert.equal(bad.status, 400);
  });

  it('pages the action log from 2.58', async (t) => {
    const h = await serversHarness(t, { hosts: [{ hostname: 'host-1' }] });
    const id = (await activeServer(h)).id as string;
    for (const body of [{ 'os-stop': null }, { 'os-start': null }]) {
      assert.equal((await act(h, id, body)).status, 202);
      await h.waitFor(id, settled);
    }
    const first = await h.call('GET', `/v2.1/servers/${id}/os-instance-actions?limit=2`, {
      version: '2.58',
    });
    assert.equal(first.status, 200, first.text);
    assert.deepEqual(
      first.body.instanceActions.map((a: any) => a.action),
      ['start', 'stop'],
    );
    assert.ok(first.body.instanceActions[0].updated_at);
    const next = new URL(first.body.links[0].href);
    const second = await h.call('GET', `${next.pathname}${next.search}`, { version: '2.58' });
    assert.deepEqual(
      second.body.instanceActions.map((a: any) => a.action),
      ['create'],
    );
    const bad = await h.call('GET', `/v2.1/servers/${id}/os-instance-actions?marker=nope`, {
      version: '2.58',
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.badRequest.message, 'Marker nope could not be found.');
    // Before 2.51 only admins see events.
    const user = h.token('u', 'p');
    const mine = (await activeServer(h, { token: user })).id as string;
    const [create] = (
      await h.call('GET', `/v2.1/servers/${mine}/os-instance-actions`, { token: user })
    ).body.instanceActions;
    const old = await h.call(
      'GET',
      `/v2.1/servers/${mine}/os-instance-actions/${create.request_id}`,
      {
        token: user,
      },
    );
    assert.equal(old.body.instanceAction.events, undefined);
    const newer = await h.call(
      'GET',
      `/v2.1/servers/${mine}/os-instance-actions/${create.request_id}`,
      { token: user, version: '2.62' },
    );
    assert.equal(newer.body.instanceAction.events[0].event, 'compute__do_build_and_run_instance');
    assert.equal(newer.body.instanceAction.events[0].host, undefined);
    assert.equal(newer.body.instanceAction.events[0].traceback, undefined);
  });
});
