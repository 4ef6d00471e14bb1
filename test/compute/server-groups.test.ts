/** Server groups: the API per microversion, quotas, and the scheduler keeping each policy. */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return --
   response bodies are untyped JSON these tests assert on field by field. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serversHarness, type ServersHarness } from './harness.ts';

const settled = (s: any) => s?.status !== 'BUILD';

async function group(h: ServersHarness, body: unknown, version = '2.1', token?: string) {
  return h.call('POST', '/v2.1/os-server-groups', {
    body: { server_group: body },
    version,
    ...(token !== undefined ? { token } : {}),
  });
}

/** Boots `count` members of `groupId` one request each; returns their hosts (or ERROR). */
async function members(h: ServersHarness, groupId: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const r = await h.call('POST', '/v2.1/servers', {
      body: {
        server: {
          name: `m${i}`,
          imageRef: h.imageId,
          flavorRef: '1',
          networks: [{ uuid: h.networkId }],
        },
        'os:scheduler_hints': { group: groupId },
      },
    });
    assert.equal(r.status, 202, r.text);
    ids.push(r.body.server.id);
  }
  const out: string[] = [];
  for (const id of ids) {
    const s = await h.waitFor(id, settled);
    out.push(s.status === 'ACTIVE' ? s['OS-EXT-SRV-ATTR:host'] : s.status);
  }
  return out;
}

const hosts3 = { hosts: [{ hostname: 'h1' }, { hostname: 'h2' }, { hostname: 'h3' }] };

describe('server groups', () => {
  it('creates, shows, lists and deletes groups in each microversion’s shape', async (t) => {
    const h = await serversHarness(t, { hosts: [{ hostname: 'h1' }] });
    const old = await group(h, { name: 'g1', policies: ['anti-affinity'] });
    assert.equal(old.status, 200, old.text);
    assert.deepEqual(Object.keys(old.body.server_group).sort(), [
      'id',
      'members',
      'metadata',
      'name',
      'policies',
    ]);
    const v213 = await group(h, { name: 'g2', policies: ['soft-affinity'] }, '2.15');
    assert.equal(v213.body.server_group.project_id, 'admin-project');
    const v264 = await group(
      h,
      { name: 'g3', policy: 'anti-affinity', rules: { max_server_per_host: 2 } },
      '2.64',
    );
    assert.equal(v264.status, 200, v264.text);
    assert.deepEqual(v264.body.server_group.rules, { max_server_per_host: 2 });
    assert.equal(v264.body.server_group.policy, 'anti-affinity');
    assert.equal(v264.body.server_group.policies, undefined);
    const list = await h.call('GET', '/v2.1/os-server-groups?limit=2&offset=1');
    assert.deepEqual(
      list.body.server_groups.map((g: any) => g.name),
      ['g2', 'g3'],
    );
    const cases: [string, unknown, string, number, string][] = [
      [
        'soft policy before 2.15',
        { name: 'x', policies: ['soft-affinity'] },
        '2.1',
        400,
        "'soft-affinity' is not one of",
      ],
      [
        'two policies',
        { name: 'x', policies: ['affinity', 'anti-affinity'] },
        '2.1',
        400,
        'exactly one policy',
      ],
      ['no name', { policies: ['affinity'] }, '2.1', 400, "'name' is a required property"],
      [
        'rules on affinity',
        { name: 'x', policy: 'affinity', rules: { max_server_per_host: 2 } },
        '2.64',
        400,
        'Only anti-affinity policy supports rules.',
      ],
      [
        'policies at 2.64',
        { name: 'x', policies: ['affinity'] },
        '2.64',
        400,
        "'policies' was unexpected",
      ],
      [
        'zero per host',
        { name: 'x', policy: 'anti-affinity', rules: { max_server_per_host: 0 } },
        '2.64',
        400,
        'max_server_per_host',
      ],
    ];
    for (const [name, body, version, status, message] of cases) {
      const r = await group(h, body, version);
      assert.equal(r.status, status, `${name}: ${r.text}`);
      assert.ok(
        r.body.badRequest.message.includes(message),
        `${name}: ${r.body.badRequest.message}`,
      );
    }
    // Another project neither lists nor shows nor deletes them, nor boots into them.
    const bob = h.token('bob', 'project-b');
    const id = old.body.server_group.id;
    assert.deepEqual(
      (await h.call('GET', '/v2.1/os-server-groups', { token: bob })).body.server_groups,
      [],
    );
    assert.equal((await h.call('GET', `/v2.1/os-server-groups/${id}`, { token: bob })).status, 403);
    assert.equal(
      (await h.call('DELETE', `/v2.1/os-server-groups/${id}`, { token: bob })).status,
      403,
    );
    const foreign = await h.call('POST', '/v2.1/servers', {
      token: bob,
      body: {
        server: {
          name: 'x',
          imageRef: h.imageId,
          flavorRef: '1',
          networks: [{ uuid: h.networkId }],
        },
        'os:scheduler_hints': { group: id },
      },
    });
    assert.equal(foreign.status, 400);
    assert.equal(foreign.body.badRequest.message, `Instance group ${id} could not be found.`);
    const all = await h.call('GET', '/v2.1/os-server-groups?all_projects=True');
    assert.equal(all.body.server_groups.length, 3);
    assert.equal((await h.call('DELETE', `/v2.1/os-server-groups/${id}`)).status, 204);
    assert.equal((await h.call('GET', `/v2.1/os-server-groups/${id}`)).status, 404);
    // The quota of groups per project.
    await h.call('PUT', '/v2.1/os-quota-sets/project-b', {
      body: { quota_set: { server_groups: 1 } },
    });
    assert.equal((await group(h, { name: 'b1', policies: ['affinity'] }, '2.1', bob)).status, 200);
    const over = await group(h, { name: 'b2', policies: ['affinity'] }, '2.1', bob);
    assert.equal(over.status, 403);
    assert.equal(over.body.forbidden.message, 'Quota exceeded, too many server groups.');
  });

  it('places members by policy: anti-affinity spreads, affinity packs, soft policies bend', async (t) => {
    const h = await serversHarness(t, hosts3);
    await h.call('PUT', '/v2.1/os-quota-sets/admin-project', {
      body: { quota_set: { instances: -1, cores: -1, ram: -1 } },
    });
    const spread = (await group(h, { name: 's', policies: ['anti-affinity'] })).body.server_group;
    const placed = await members(h, spread.id, 4);
    assert.equal(new Set(placed.slice(0, 3)).size, 3, placed.join());
    assert.equal(placed[3], 'ERROR');
    const shown = await h.call('GET', `/v2.1/os-server-groups/${spread.id}`);
    assert.equal(shown.body.server_group.members.length, 4);
    // With the hosts equally loaded, the soft policy decides; resource weighers could outweigh it.
    const soft = (await group(h, { name: 'ss', policies: ['soft-anti-affinity'] }, '2.15')).body
      .server_group;
    const bent = await members(h, soft.id, 4);
    assert.ok(!bent.includes('ERROR'), bent.join());
    assert.equal(new Set(bent.slice(0, 3)).size, 3, bent.join());
    const pack = (await group(h, { name: 'p', policies: ['affinity'] })).body.server_group;
    const packed = await members(h, pack.id, 3);
    assert.equal(new Set(packed).size, 1, packed.join());
    const two = (
      await group(
        h,
        { name: 't', policy: 'anti-affinity', rules: { max_server_per_host: 2 } },
        '2.64',
      )
    ).body.server_group;
    const paired = await members(h, two.id, 6);
    const perHost = new Map<string, number>();
    for (const host of paired) perHost.set(host, (perHost.get(host) ?? 0) + 1);
    assert.deepEqual([...perHost.values()], [2, 2, 2], paired.join());
    // The view of a member names its group from 2.71.
    const list = await h.call('GET', '/v2.1/servers?name=m0');
    const one = list.body.servers[0].id;
    const member = await h.call('GET', `/v2.1/servers/${one}`, { version: '2.71' });
    assert.equal(member.body.server.server_groups.length, 1);
    // Members fill the group's quota; a deleted member leaves it.
    await h.call('PUT', '/v2.1/os-quota-sets/admin-project', {
      body: { quota_set: { server_group_members: 1 } },
    });
    const small = (await group(h, { name: 'small', policies: ['affinity'] })).body.server_group;
    const boot = () =>
      h.call('POST', '/v2.1/servers', {
        body: {
          server: {
            name: 'q',
            imageRef: h.imageId,
            flavorRef: '1',
            networks: [{ uuid: h.networkId }],
          },
          'os:scheduler_hints': { group: small.id },
        },
      });
    const firstBoot = await boot();
    assert.equal(firstBoot.status, 202);
    const full = await boot();
    assert.equal(full.status, 403);
    assert.equal(full.body.forbidden.message, 'Quota exceeded, too many servers in group');
    await h.waitFor(firstBoot.body.server.id, settled);
    await h.call('DELETE', `/v2.1/servers/${firstBoot.body.server.id}`);
    await h.waitFor(firstBoot.body.server.id, (s) => s === undefined);
    assert.equal((await boot()).status, 202);
  });
});
