/**
 * The identity service's catalog (Keystone v3 regions, services and endpoints) through the real
 * `openstack` CLI against `tstack up`, each case asserting on the CLI's JSON output.
 *
 * Each CLI run costs a Python start-up (most of a second), so fixtures a case does not test are
 * made over HTTP, and the cases, which share no names, run two at a time.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ID, column, sorted, startCloud, type Cloud, type Row } from './harness.ts';

describe('openstack CLI: identity catalog', { timeout: 120_000, concurrency: 2 }, () => {
  let cloud: Cloud;
  before(async () => {
    cloud = await startCloud();
  });
  after(async () => {
    await cloud?.stop();
  });

  it('catalog list and catalog show: every service tstack up runs, on all three interfaces', async () => {
    type Entry = {
      Name: string;
      Type: string;
      Endpoints: { interface: string; region: string; url: string }[];
    };
    const [catalog, identity] = await Promise.all([
      cloud.json<Entry[]>(['catalog', 'list']),
      cloud.json<Row>(['catalog', 'show', 'identity']),
    ]);
    const byType = new Map(catalog.map((e) => [e.Type, e]));
    for (const type of [
      'identity',
      'compute',
      'placement',
      'image',
      'network',
      'block-storage',
      'volumev3',
      'object-store',
      'orchestration',
    ]) {
      const entry = byType.get(type);
      assert.ok(entry, `${type} in ${String([...byType.keys()])}`);
      assert.deepEqual(sorted(entry.Endpoints.map((e) => e.interface)), [
        'admin',
        'internal',
        'public',
      ]);
      assert.ok(
        entry.Endpoints.every((e) => e.region === 'RegionOne'),
        type,
      );
    }
    const compute = byType.get('compute');
    assert.ok(compute);
    assert.equal(compute.Name, 'nova');
    assert.deepEqual(
      new Set(compute.Endpoints.map((e) => e.url)),
      new Set([`http://127.0.0.1:${cloud.ports.compute}/v2.1`]),
    );

    assert.equal(identity['name'], 'keystone');
    assert.equal(identity['type'], 'identity');
    assert.deepEqual(
      (identity['endpoints'] as { url: string }[]).map((e) => e.url),
      [cloud.authUrl, cloud.authUrl, cloud.authUrl],
    );
  });

  it('region create, list, show, set and delete', async () => {
    // The CLI sends `enabled` with every new region, as Keystone's extra attribute: only the
    // fields of a region are compared.
    const fields = (r: Row) => ({
      region: r['region'],
      description: r['description'],
      parent_region: r['parent_region'],
    });
    const created = await cloud.json<Row>([
      'region',
      'create',
      '--description',
      'Second site',
      'RegionTwo',
    ]);
    assert.deepEqual(fields(created), {
      region: 'RegionTwo',
      description: 'Second site',
      parent_region: null,
    });
    const child = await cloud.json<Row>([
      'region',
      'create',
      '--parent-region',
      'RegionTwo',
      'RegionTwoA',
    ]);
    assert.deepEqual(fields(child), {
      region: 'RegionTwoA',
      description: '',
      parent_region: 'RegionTwo',
    });

    const regions = await cloud.json<Row[]>(['region', 'list']);
    assert.deepEqual(
      regions.filter((r) => r['Region'] !== 'RegionOne'),
      [
        { Region: 'RegionTwo', 'Parent Region': null, Description: 'Second site' },
        { Region: 'RegionTwoA', 'Parent Region': 'RegionTwo', Description: '' },
      ],
    );

    await cloud.ok(['region', 'set', '--description', 'Site 2a', 'RegionTwoA']);
    assert.deepEqual(fields(await cloud.json<Row>(['region', 'show', 'RegionTwoA'])), {
      region: 'RegionTwoA',
      description: 'Site 2a',
      parent_region: 'RegionTwo',
    });

    await cloud.ok(['region', 'delete', 'RegionTwoA', 'RegionTwo']);
    assert.deepEqual(column(await cloud.listAsAdmin('/regions', 'regions'), 'id'), ['RegionOne']);
  });

  it('service create, list, show, set and delete', async () => {
    const created = await cloud.json<Row>([
      'service',
      'create',
      '--name',
      'gadgets',
      '--description',
      'Gadget service',
      'gadget',
    ]);
    assert.match(String(created['id']), ID);
    assert.equal(created['name'], 'gadgets');
    assert.equal(created['type'], 'gadget');
    assert.equal(created['description'], 'Gadget service');
    assert.equal(created['enabled'], true);

    const listed = await cloud.json<Row[]>(['service', 'list']);
    assert.deepEqual(
      listed.find((s) => s['Name'] === 'gadgets'),
      { ID: created['id'], Name: 'gadgets', Type: 'gadget' },
    );

    await cloud.ok([
      'service',
      'set',
      '--name',
      'gadgets2',
      '--description',
      'Gadgets, again',
      '--disable',
      'gadgets',
    ]);
    assert.deepEqual(await cloud.json<Row>(['service', 'show', 'gadgets2']), {
      ...created,
      name: 'gadgets2',
      description: 'Gadgets, again',
      enabled: false,
    });

    await cloud.ok(['service', 'delete', 'gadgets2']);
    assert.deepEqual(await cloud.listAsAdmin('/services?type=gadget', 'services'), []);
  });

  it('endpoint create, list, show, set and delete', async () => {
    const service = await cloud.createAsAdmin('services', 'service', {
      type: 'widget',
      name: 'widgets',
    });
    const created = await cloud.json<Row>([
      'endpoint',
      'create',
      '--region',
      'RegionOne',
      'widgets',
      'public',
      'http://127.0.0.1:9/widgets',
    ]);
    const { id, ...rest } = created;
    assert.match(String(id), ID);
    assert.deepEqual(rest, {
      enabled: true,
      interface: 'public',
      region: 'RegionOne',
      region_id: 'RegionOne',
      service_id: service['id'],
      service_name: 'widgets',
      service_type: 'widget',
      url: 'http://127.0.0.1:9/widgets',
    });

    const listed = await cloud.json<Row[]>([
      'endpoint',
      'list',
      '--service',
      'widget',
      '--interface',
      'public',
      '--region',
      'RegionOne',
    ]);
    assert.deepEqual(listed, [
      {
        ID: id,
        Region: 'RegionOne',
        'Service Name': 'widgets',
        'Service Type': 'widget',
        Enabled: true,
        Interface: 'public',
        URL: 'http://127.0.0.1:9/widgets',
      },
    ]);

    await cloud.ok([
      'endpoint',
      'set',
      '--url',
      'http://127.0.0.1:9/widgets/v2',
      '--interface',
      'internal',
      '--disable',
      String(id),
    ]);
    assert.deepEqual(await cloud.json<Row>(['endpoint', 'show', String(id)]), {
      ...created,
      url: 'http://127.0.0.1:9/widgets/v2',
      interface: 'internal',
      enabled: false,
    });

    await cloud.ok(['endpoint', 'delete', String(id)]);
    assert.deepEqual(
      await cloud.listAsAdmin(`/endpoints?service_id=${String(service['id'])}`, 'endpoints'),
      [],
    );
  });
});
