/** Attaching and detaching a running server's interfaces (os-interface). */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return --
   response bodies are untyped JSON these tests assert on field by field. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { activeServer, serversHarness } from './harness.ts';

describe('os-interface', () => {
  it('attaches a port on a network and a port the user brings, lists, shows and detaches', async (t) => {
    const h = await serversHarness(t, { hosts: [{ hostname: 'host-1' }] });
    const alice = h.token('alice', 'project-a');
    const id = (await activeServer(h, { token: alice })).id as string;
    const base = `/v2.1/servers/${id}/os-interface`;
    const first = (await h.call('GET', base, { token: alice })).body.interfaceAttachments;
    assert.equal(first.length, 1);

    const added = await h.call('POST', base, {
      token: alice,
      body: { interfaceAttachment: { net_id: h.networkId } },
    });
    assert.equal(added.status, 200, added.text);
    const att = added.body.interfaceAttachment;
    assert.equal(att.net_id, h.networkId);
    assert.match(att.fixed_ips[0].ip_address, /^198\.18\.0\.\d+$/);
    const port = await h.neighbour('network', 'GET', `/v2.0/ports/${att.port_id}`);
    assert.equal(port.body.port.device_id, id);
    assert.equal(port.body.port['binding:host_id'], 'host-1');
    const driver = h.drivers[0];
    assert.ok(driver?.calls.includes(`attach_interface ${id} ${att.port_id}`));
    assert.equal(driver?.specOf(id)?.vifs.length, 2);
    const shown = await h.call('GET', `/v2.1/servers/${id}`, { token: alice });
    assert.equal(shown.body.server.addresses.shared.length, 2);

    // A port the user made is attached and, on detach, left to them unbound.
    const own = await h.neighbour('network', 'POST', '/v2.0/ports', {
      body: { port: { network_id: h.networkId, project_id: 'project-a' } },
    });
    assert.equal(own.status, 201, own.text);
    const ownId = own.body.port.id;
    const brought = await h.call('POST', base, {
      token: alice,
      body: { interfaceAttachment: { port_id: ownId } },
    });
    assert.equal(brought.status, 200, brought.text);
    assert.equal((await h.call('GET', base, { token: alice })).body.interfaceAttachments.length, 3);
    const one = await h.call('GET', `${base}/${ownId}`, { token: alice });
    assert.equal(one.body.interfaceAttachment.port_id, ownId);

    assert.equal((await h.call('DELETE', `${base}/${ownId}`, { token: alice })).status, 202);
    const freed = await h.neighbour('network', 'GET', `/v2.0/ports/${ownId}`);
    assert.equal(freed.body.port.device_id, '');
    assert.equal((await h.call('DELETE', `${base}/${att.port_id}`, { token: alice })).status, 202);
    assert.equal((await h.neighbour('network', 'GET', `/v2.0/ports/${att.port_id}`)).status, 404);
    assert.equal((await h.call('GET', base, { token: alice })).body.interfaceAttachments.length, 1);
    assert.equal(driver?.specOf(id)?.vifs.length, 1);
    const log = await h.call('GET', `/v2.1/servers/${id}/os-instance-actions`, { token: alice });
    assert.deepEqual(
      log.body.instanceActions.slice(0, 4).map((a: any) => a.action),
      ['detach_interface', 'detach_interface', 'attach_interface', 'attach_interface'],
    );

    const cases: [string, string, string, unknown, number, string][] = [
      [
        'both ids',
        'POST',
        base,
        { interfaceAttachment: { net_id: h.networkId, port_id: ownId } },
        400,
        'Must not input both network_id and port_id',
      ],
      [
        'an address without a network',
        'POST',
        base,
        { interfaceAttachment: { port_id: ownId, fixed_ips: [{ ip_address: '198.18.0.50' }] } },
        400,
        'Must input network_id when request IP address',
      ],
      [
        'an unknown network',
        'POST',
        base,
        { interfaceAttachment: { net_id: '00000000-0000-0000-0000-000000000000' } },
        404,
        'could not be found',
      ],
      [
        'detach a port it lacks',
        'DELETE',
        `${base}/${ownId}`,
        undefined,
        404,
        'could not be found',
      ],
      [
        'show a port it lacks',
        'GET',
        `${base}/${ownId}`,
        undefined,
        404,
        'does not have a port with id',
      ],
    ];
    for (const [name, method, url, body, status, message] of cases) {
      const r = await h.call(method, url, {
        token: alice,
        ...(body !== undefined ? { body } : {}),
      });
      assert.equal(r.status, status, `${name}: ${r.text}`);
      assert.ok((Object.values(r.body)[0] as any).message.includes(message), `${name}: ${r.text}`);
    }

    // Neither a network nor a port: the project's only network, its own before a shared one.
    const auto = async () =>
      h.call('POST', base, { token: alice, body: { interfaceAttachment: {} } });
    const onShared = await auto();
    assert.equal(onShared.status, 200, onShared.text);
    assert.equal(onShared.body.interfaceAttachment.net_id, h.networkId);
    const ownNet = async (name: string) => {
      const made = await h.neighbour('network', 'POST', '/v2.0/networks', {
        body: { network: { name, project_id: 'project-a' } },
      });
      await h.neighbour('network', 'POST', '/v2.0/subnets', {
        body: {
          subnet: {
            network_id: made.body.network.id,
            project_id: 'project-a',
            cidr: name === 'own-1' ? '198.19.1.0/24' : '198.19.2.0/24',
            ip_version: 4,
          },
        },
      });
      return made.body.network.id as string;
    };
    const own1 = await ownNet('own-1');
    const onOwn = await auto();
    assert.equal(onOwn.status, 200, onOwn.text);
    assert.equal(onOwn.body.interfaceAttachment.net_id, own1);
    await ownNet('own-2');
    const ambiguous = await auto();
    assert.equal(ambiguous.status, 409, ambiguous.text);
    assert.equal(
      ambiguous.body.conflictingRequest.message,
      'Multiple possible networks found, use a Network ID to be more specific.',
    );

    const bob = h.token('bob', 'project-b');
    assert.equal((await h.call('GET', base, { token: bob })).status, 404);
    assert.equal(
      (
        await h.call('POST', base, {
          token: bob,
          body: { interfaceAttachment: { net_id: h.networkId } },
        })
      ).status,
      404,
    );
  });

  it('answers 409 when the guest has no room for another NIC, and leaves no port behind', async (t) => {
    const h = await serversHarness(t, { hosts: [{ hostname: 'host-1', maxNics: 2 }] });
    const alice = h.token('alice', 'project-a');
    const id = (await activeServer(h, { token: alice })).id as string;
    const base = `/v2.1/servers/${id}/os-interface`;
    const ports = async () =>
      (await h.neighbour('network', 'GET', `/v2.0/ports?device_id=${id}`)).body.ports.length;
    const attach = (body: object) =>
      h.call('POST', base, { token: alice, body: { interfaceAttachment: body } });
    assert.equal((await attach({ net_id: h.networkId })).status, 200);
    assert.equal(await ports(), 2);

    const full = await attach({ net_id: h.networkId });
    assert.equal(full.status, 409, full.text);
    assert.equal(
      full.body.conflictingRequest.message,
      `Failed to attach network adapter device to ${id}: no free slot for another NIC (2 at most)`,
    );
    assert.equal(await ports(), 2, 'the port made for the attach is deleted again');

    // A port the user brings is left to them, unbound, as it was.
    const own = await h.neighbour('network', 'POST', '/v2.0/ports', {
      body: { port: { network_id: h.networkId, project_id: 'project-a' } },
    });
    const refused = await attach({ port_id: own.body.port.id });
    assert.equal(refused.status, 409, refused.text);
    const after = await h.neighbour('network', 'GET', `/v2.0/ports/${own.body.port.id}`);
    assert.equal(after.body.port.device_id, '');
    assert.equal(after.body.port['binding:host_id'], '');
    assert.equal((await h.call('GET', base, { token: alice })).body.interfaceAttachments.length, 2);
  });

  it('on server delete, deletes the port it made for an attach and unbinds the one the user brought', async (t) => {
    const h = await serversHarness(t, { hosts: [{ hostname: 'host-1' }] });
    const alice = h.token('alice', 'project-a');
    const id = (await activeServer(h, { token: alice })).id as string;
    const base = `/v2.1/servers/${id}/os-interface`;
    const attach = async (body: object) =>
      (await h.call('POST', base, { token: alice, body: { interfaceAttachment: body } })).body
        .interfaceAttachment.port_id as string;
    const made = await attach({ net_id: h.networkId });
    const own = await h.neighbour('network', 'POST', '/v2.0/ports', {
      body: { port: { network_id: h.networkId, project_id: 'project-a' } },
    });
    assert.equal(await attach({ port_id: own.body.port.id }), own.body.port.id);
    assert.equal((await h.call('DELETE', `/v2.1/servers/${id}`, { token: alice })).status, 204);
    await h.waitFor(id, (s) => s === undefined);
    assert.equal((await h.neighbour('network', 'GET', `/v2.0/ports/${made}`)).status, 404);
    const kept = await h.neighbour('network', 'GET', `/v2.0/ports/${own.body.port.id}`);
    assert.equal(kept.status, 200, 'the port the user brought is still there');
    assert.equal(kept.body.port.device_id, '');
    assert.equal(kept.body.port['binding:host_id'], '');
  });
});
