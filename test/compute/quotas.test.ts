/** Quota sets, quota classes and limits: what a project may use, who may change it. */
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument --
   response bodies are untyped JSON these tests assert on field by field. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serversHarness } from './harness.ts';

describe('quotas', () => {
  it('shows, sets, details and resets a project’s quota; members read, admins write', async (t) => {
    const h = await serversHarness(t, { hosts: [{ hostname: 'h1' }] });
    const alice = h.token('alice', 'project-a');
    const shown = await h.call('GET', '/v2.1/os-quota-sets/project-a', { token: alice });
    assert.equal(shown.status, 200, shown.text);
    assert.deepEqual(shown.body.quota_set, {
      id: 'project-a',
      cores: 20,
      fixed_ips: -1,
      floating_ips: -1,
      injected_file_content_bytes: 10240,
      injected_file_path_bytes: 255,
      injected_files: 5,
      instances: 10,
      key_pairs: 100,
      metadata_items: 128,
      ram: 51200,
      security_group_rules: -1,
      security_groups: -1,
      server_group_members: 10,
      server_groups: 10,
    });
    const v257 = await h.call('GET', '/v2.1/os-quota-sets/project-a', {
      token: alice,
      version: '2.57',
    });
    assert.deepEqual(Object.keys(v257.body.quota_set).sort(), [
      'cores',
      'id',
      'instances',
      'key_pairs',
      'metadata_items',
      'ram',
      'server_group_members',
      'server_groups',
    ]);
    const denied = await h.call('PUT', '/v2.1/os-quota-sets/project-a', {
      token: alice,
      body: { quota_set: { instances: 50 } },
    });
    assert.equal(denied.status, 403);
    const set = await h.call('PUT', '/v2.1/os-quota-sets/project-a', {
      body: { quota_set: { instances: 1, cores: '4' } },
    });
    assert.equal(set.status, 200, set.text);
    assert.equal(set.body.quota_set.instances, 1);
    assert.equal(set.body.quota_set.cores, 4);
    assert.equal(set.body.quota_set.id, undefined);
    // The new limit holds at boot.
    const boot = () =>
      h.call('POST', '/v2.1/servers', {
        token: alice,
        body: {
          server: {
            name: 'q',
            imageRef: h.imageId,
            flavorRef: '1',
            networks: [{ uuid: h.networkId }],
          },
        },
      });
    const first = await boot();
    assert.equal(first.status, 202, first.text);
    const over = await boot();
    assert.equal(over.status, 403);
    assert.equal(
      over.body.forbidden.message,
      'Quota exceeded for instances: Requested 1, but already used 1 of 1 instances',
    );
    const detail = await h.call('GET', '/v2.1/os-quota-sets/project-a/detail', { token: alice });
    assert.deepEqual(detail.body.quota_set.instances, { in_use: 1, limit: 1, reserved: 0 });
    assert.deepEqual(detail.body.quota_set.ram, { in_use: 512, limit: 51200, reserved: 0 });
    const limits = await h.call('GET', '/v2.1/limits', { token: alice });
    assert.equal(limits.body.limits.absolute.maxTotalInstances, 1);
    assert.equal(limits.body.limits.absolute.totalInstancesUsed, 1);
    assert.equal(limits.body.limits.absolute.totalRAMUsed, 512);
    assert.deepEqual(limits.body.limits.rate, []);
    // Below usage only with force.
    const below = await h.call('PUT', '/v2.1/os-quota-sets/project-a', {
      body: { quota_set: { instances: 0 } },
    });
    assert.equal(below.status, 400);
    assert.equal(
      below.body.badRequest.message,
      'Quota limit 0 for instances must be greater than or equal to already used and reserved 1.',
    );
    const forced = await h.call('PUT', '/v2.1/os-quota-sets/project-a', {
      body: { quota_set: { instances: 0, force: true } },
    });
    assert.equal(forced.body.quota_set.instances, 0);
    const bad: [string, unknown][] = [
      ['unknown resource', { quota_set: { widgets: 1 } }],
      ['below -1', { quota_set: { instances: -2 } }],
      ['not a number', { quota_set: { instances: 'many' } }],
      ['network-era key after 2.36', { quota_set: { floating_ips: 1 } }],
    ];
    for (const [name, body] of bad) {
      const r = await h.call('PUT', '/v2.1/os-quota-sets/project-a', { body, version: '2.36' });
      assert.equal(r.status, 400, `${name}: ${r.text}`);
    }
    // Another project cannot read it; an admin can read anyone's limits.
    const bob = h.token('bob', 'project-b');
    assert.equal(
      (await h.call('GET', '/v2.1/os-quota-sets/project-a', { token: bob })).status,
      403,
    );
    assert.equal(
      (await h.call('GET', '/v2.1/limits?tenant_id=project-a', { token: bob })).status,
      403,
    );
    const adminView = await h.call('GET', '/v2.1/limits?tenant_id=project-a');
    assert.equal(adminView.body.limits.absolute.maxTotalInstances, 0);
    // Deleting the project's quota brings back the defaults.
    assert.equal((await h.call('DELETE', '/v2.1/os-quota-sets/project-a')).status, 202);
    const back = await h.call('GET', '/v2.1/os-quota-sets/project-a', { token: alice });
    assert.equal(back.body.quota_set.instances, 10);
  });

  it('the default quota class sets every project’s defaults', async (t) => {
    const h = await serversHarness(t, { hosts: [{ hostname: 'h1' }] });
    const cls = await h.call('GET', '/v2.1/os-quota-class-sets/default');
    assert.equal(cls.status, 200, cls.text);
    assert.equal(cls.body.quota_class_set.id, 'default');
    assert.equal(cls.body.quota_class_set.server_groups, undefined);
    const v250 = await h.call('GET', '/v2.1/os-quota-class-sets/default', { version: '2.50' });
    assert.equal(v250.body.quota_class_set.server_groups, 10);
    const set = await h.call('PUT', '/v2.1/os-quota-class-sets/default', {
      body: { quota_class_set: { instances: 3, ram: 1024 } },
    });
    assert.equal(set.status, 200, set.text);
    assert.equal(set.body.quota_class_set.instances, 3);
    const alice = h.token('alice', 'project-a');
    const shown = await h.call('GET', '/v2.1/os-quota-sets/project-a', { token: alice });
    assert.equal(shown.body.quota_set.instances, 3);
    assert.equal(shown.body.quota_set.ram, 1024);
    const defaults = await h.call('GET', '/v2.1/os-quota-sets/project-a/defaults', {
      token: alice,
    });
    assert.equal(defaults.body.quota_set.instances, 3);
    const denied = await h.call('PUT', '/v2.1/os-quota-class-sets/default', {
      token: alice,
      body: { quota_class_set: { instances: 100 } },
    });
    assert.equal(denied.status, 403);
  });
});
