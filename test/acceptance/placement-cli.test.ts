/**
 * The placement service through the real `openstack` CLI and its osc-placement plugin (Debian's
 * python3-osc-placement) against `tstack up`: resource providers in a tree, inventories and the
 * capacity allocation candidates report, traits and aggregates, candidates filtered by required
 * and forbidden traits and by aggregate, allocations and the usages they add up to, what a
 * project member may not do, and the errors bad input gets.
 *
 * The CLI speaks the microversion `OS_PLACEMENT_API_VERSION` names: 1.39 (the newest the server
 * and the plugin share) unless a case is about an older behaviour. Each run costs a Python start-up,
 * so the cases, which share no names (each has a random suffix), run two at a time and filter what
 * they list down to their own providers.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startCloud, type CliEnv, type CliOptions, type Cloud, type Row } from './harness.ts';

const LATEST = '1.39';

/** The CLI's options for placement microversion `version`, on top of `env`. */
function at(version: string, env: CliEnv = {}): CliOptions {
  return { env: { ...env, OS_PLACEMENT_API_VERSION: version } };
}

/** A suffix that keeps one case's names apart from the others'. */
function suffix(): string {
  return randomBytes(4).toString('hex');
}

/** A project or user id as Keystone makes them (placement takes any string). */
function keystoneId(): string {
  return randomUUID().replaceAll('-', '');
}

/** A `CLASS=…,CLASS=…` cell of the candidate list as a sorted list (classes come in no promised order). */
function classes(cell: unknown): string[] {
  return String(cell).split(',').sort();
}

/** `resource provider usage show` rows as `{ class: usage }`. */
function usages(rows: readonly Row[]): Record<string, unknown> {
  return Object.fromEntries(rows.map((r) => [String(r['resource_class']), r['usage']]));
}

describe('openstack CLI: placement', { timeout: 120_000, concurrency: 2 }, () => {
  let cloud: Cloud;
  before(async () => {
    cloud = await startCloud();
  });
  after(async () => {
    await cloud?.stop();
  });

  const json = <T = Row>(args: readonly string[], version = LATEST) =>
    cloud.json<T>(args, at(version));
  const ok = (args: readonly string[], version = LATEST) => cloud.ok(args, at(version));
  const fails = (args: readonly string[], version = LATEST) => cloud.fails(args, at(version));

  /** `resource provider create NAME [--parent-provider P]`: the provider as the CLI prints it. */
  const createProvider = (name: string, parent?: string) =>
    json<Row>([
      'resource',
      'provider',
      'create',
      ...(parent === undefined ? [] : ['--parent-provider', parent]),
      name,
    ]);
  const providerId = async (name: string, parent?: string) =>
    String((await createProvider(name, parent))['uuid']);
  const setInventory = (rp: string, ...resources: string[]) =>
    json<Row[]>([
      'resource',
      'provider',
      'inventory',
      'set',
      rp,
      ...resources.flatMap((r) => ['--resource', r]),
    ]);
  const generation = async (rp: string) =>
    Number((await json<Row>(['resource', 'provider', 'show', rp]))['generation']);

  /** `allocation candidate list ARGS`: the rows of the providers in `mine`, in the CLI's order. */
  const candidates = async (args: string[], mine: readonly string[], version = LATEST) =>
    (await json<Row[]>(['allocation', 'candidate', 'list', ...args], version)).filter((r) =>
      mine.includes(String(r['resource provider'])),
    );

  it('resource provider create (with a child), list, show; inventory set, list, delete; capacity in candidates', async () => {
    const s = suffix();
    const root = await createProvider(`plc-${s}-root`);
    const rootId = String(root['uuid']);
    assert.match(rootId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(root['root_provider_uuid'], rootId);
    assert.equal(root['parent_provider_uuid'], null);
    const child = await createProvider(`plc-${s}-child`, rootId);
    assert.equal(child['parent_provider_uuid'], rootId);
    assert.equal(child['root_provider_uuid'], rootId);

    const tree = await json<Row[]>(['resource', 'provider', 'list', '--in-tree', rootId]);
    assert.deepEqual(tree.map((r) => r['name']).sort(), [`plc-${s}-child`, `plc-${s}-root`]);
    const byName = await json<Row[]>(['resource', 'provider', 'list', '--name', `plc-${s}-child`]);
    assert.deepEqual(
      byName.map((r) => r['uuid']),
      [child['uuid']],
    );
    const shown = await json<Row>(['resource', 'provider', 'show', rootId]);
    assert.deepEqual(shown, root);

    await setInventory(rootId, 'VCPU=8', 'MEMORY_MB=4096', 'VCPU:allocation_ratio=2');
    const inventory = await json<Row[]>(['resource', 'provider', 'inventory', 'list', rootId]);
    const byClass = new Map(inventory.map((r) => [r['resource_class'], r]));
    assert.deepEqual([...byClass.keys()].sort(), ['MEMORY_MB', 'VCPU']);
    assert.equal(byClass.get('VCPU')?.['total'], 8);
    assert.equal(Number(byClass.get('VCPU')?.['allocation_ratio']), 2);
    assert.equal(byClass.get('VCPU')?.['used'], 0);
    assert.equal(byClass.get('MEMORY_MB')?.['total'], 4096);
    assert.equal(Number(byClass.get('MEMORY_MB')?.['allocation_ratio']), 1);
    assert.equal(await generation(rootId), 1, 'an inventory change bumps the generation');

    // Capacity is (total - reserved) * allocation_ratio: 16 VCPU fit, 17 do not.
    const fits = await candidates(
      ['--resource', 'VCPU=16', '--resource', 'MEMORY_MB=1024'],
      [rootId],
    );
    assert.equal(fits.length, 1);
    assert.deepEqual(classes(fits[0]?.['allocation']), ['MEMORY_MB=1024', 'VCPU=16']);
    assert.deepEqual(classes(fits[0]?.['inventory used/capacity']), [
      'MEMORY_MB=0/4096',
      'VCPU=0/16',
    ]);
    assert.deepEqual(await candidates(['--resource', 'VCPU=17'], [rootId]), []);
    // Before 1.27 the summaries name only the classes the request asked for.
    const old = await candidates(['--resource', 'VCPU=1'], [rootId], '1.26');
    assert.equal(old[0]?.['inventory used/capacity'], 'VCPU=0/16');

    await ok(['resource', 'provider', 'inventory', 'delete', rootId, '--resource-class', 'VCPU']);
    const left = await json<Row[]>(['resource', 'provider', 'inventory', 'list', rootId]);
    assert.deepEqual(
      left.map((r) => r['resource_class']),
      ['MEMORY_MB'],
    );
    await ok(['resource', 'provider', 'inventory', 'delete', rootId]);
    assert.deepEqual(await json<Row[]>(['resource', 'provider', 'inventory', 'list', rootId]), []);

    await ok(['resource', 'provider', 'delete', String(child['uuid'])]);
    await ok(['resource', 'provider', 'delete', rootId]);
    assert.match(
      await fails(['resource', 'provider', 'show', rootId]),
      /No resource provider with uuid .* found \(HTTP 404\)/,
    );
  });

  it('trait create; resource provider trait set, list, delete; aggregate set with a generation, list', async () => {
    const s = suffix();
    const trait = `CUSTOM_X_${s.toUpperCase()}`;
    assert.equal(await ok(['trait', 'create', trait]), '');
    assert.deepEqual(await json<Row[]>(['trait', 'list', '--name', `in:${trait}`]), [
      { name: trait },
    ]);
    const rp = await providerId(`plc-${s}-traits`);

    const set = await json<Row[]>([
      'resource',
      'provider',
      'trait',
      'set',
      rp,
      '--trait',
      trait,
      '--trait',
      'HW_CPU_X86_AVX2',
    ]);
    const expected = [{ name: trait }, { name: 'HW_CPU_X86_AVX2' }]; // CUSTOM_ sorts first
    const byName = (a: Row, b: Row) => String(a['name']).localeCompare(String(b['name']));
    assert.deepEqual(set.sort(byName), expected);
    const listed = await json<Row[]>(['resource', 'provider', 'trait', 'list', rp]);
    assert.deepEqual(listed.sort(byName), expected);
    assert.match(
      await fails(['trait', 'delete', trait]),
      /in use.*\(HTTP 409\)/,
      'a trait a provider has cannot be deleted',
    );

    const gen = await generation(rp);
    assert.equal(gen, 1, 'setting traits bumps the generation');
    const [agg1, agg2] = [randomUUID(), randomUUID()].sort();
    const aggregateSet = (g: number) =>
      json<Row[]>([
        'resource',
        'provider',
        'aggregate',
        'set',
        rp,
        '--aggregate',
        String(agg1),
        '--aggregate',
        String(agg2),
        '--generation',
        String(g),
      ]);
    assert.deepEqual(await aggregateSet(gen), [{ uuid: agg1 }, { uuid: agg2 }]);
    const aggregates = await json<Row[]>(['resource', 'provider', 'aggregate', 'list', rp]);
    assert.deepEqual(aggregates.map((r) => r['uuid']).sort(), [agg1, agg2]);
    assert.equal(await generation(rp), gen + 1, 'from 1.19 setting aggregates bumps it too');
    assert.match(
      await fails([
        'resource',
        'provider',
        'aggregate',
        'set',
        rp,
        '--aggregate',
        String(agg1),
        '--generation',
        String(gen),
      ]),
      /\(HTTP 409\)/,
      'a stale generation is a conflict',
    );

    assert.equal(await ok(['resource', 'provider', 'trait', 'delete', rp]), '');
    assert.deepEqual(await json<Row[]>(['resource', 'provider', 'trait', 'list', rp]), []);
    assert.equal(await ok(['trait', 'delete', trait]), '');
    assert.deepEqual(await json<Row[]>(['trait', 'list', '--name', `in:${trait}`]), []);
  });

  it('trait list --associated: only the traits some provider has', async () => {
    const s = suffix().toUpperCase();
    const [used, unused] = [`CUSTOM_USED_${s}`, `CUSTOM_UNUSED_${s}`];
    await ok(['trait', 'create', used]);
    await ok(['trait', 'create', unused]);
    const rp = await providerId(`plc-${s}-assoc`);
    await ok(['resource', 'provider', 'trait', 'set', rp, '--trait', used]);
    const names = (await json<Row[]>(['trait', 'list', '--associated'])).map((r) => r['name']);
    assert.ok(names.includes(used), `${used} is on ${rp}: ${names.join(', ')}`);
    assert.ok(!names.includes(unused), `${unused} is on no provider`);
  });

  it('allocation candidate list: --required, forbidden traits (--required !T, --forbidden), --member-of', async () => {
    const s = suffix();
    const [avx, plain] = await Promise.all([
      providerId(`plc-${s}-avx2`),
      providerId(`plc-${s}-plain`),
    ]);
    const mine = [avx, plain];
    await Promise.all(mine.map((rp) => setInventory(rp, 'VCPU=4')));
    await ok(['resource', 'provider', 'trait', 'set', avx, '--trait', 'HW_CPU_X86_AVX2']);
    const aggregate = randomUUID();
    await ok([
      'resource',
      'provider',
      'aggregate',
      'set',
      plain,
      '--aggregate',
      aggregate,
      '--generation',
      String(await generation(plain)),
    ]);
    const providers = async (args: string[], version = LATEST) =>
      (await candidates(['--resource', 'VCPU=1', ...args], mine, version)).map(
        (r) => r['resource provider'],
      );

    assert.deepEqual((await providers([])).sort(), [...mine].sort());
    const required = await candidates(
      ['--resource', 'VCPU=1', '--required', 'HW_CPU_X86_AVX2'],
      mine,
    );
    assert.deepEqual(
      required.map((r) => r['resource provider']),
      [avx],
    );
    assert.equal(required[0]?.['traits'], 'HW_CPU_X86_AVX2');
    assert.deepEqual(await providers(['--required', '!HW_CPU_X86_AVX2']), [plain]);
    assert.deepEqual(await providers(['--forbidden', 'HW_CPU_X86_AVX2']), [plain]);
    // Forbidden traits came with 1.22: before, '!' is no trait name.
    assert.match(
      await fails(
        [
          'allocation',
          'candidate',
          'list',
          '--resource',
          'VCPU=1',
          '--required',
          '!HW_CPU_X86_AVX2',
        ],
        '1.21',
      ),
      /Invalid query string parameters.*!HW_CPU_X86_AVX2 \(HTTP 400\)/,
    );
    // The aggregate is this case's own: nothing else in the cloud is a member.
    const members = await json<Row[]>([
      'allocation',
      'candidate',
      'list',
      '--resource',
      'VCPU=1',
      '--member-of',
      aggregate,
    ]);
    assert.deepEqual(
      members.map((r) => r['resource provider']),
      [plain],
    );
    assert.deepEqual(
      await providers(['--member-of', aggregate, '--required', 'HW_CPU_X86_AVX2']),
      [],
    );
  });

  it('allocation set, show; provider and project usage; over capacity refused; allocation delete', async () => {
    const s = suffix();
    const rp = await providerId(`plc-${s}-host`);
    await setInventory(rp, 'VCPU=4', 'MEMORY_MB=2048');
    const [consumer, project, user] = [randomUUID(), keystoneId(), keystoneId()];
    const allocate = (id: string, resources: string) => [
      'resource',
      'provider',
      'allocation',
      'set',
      id,
      '--allocation',
      `rp=${rp},${resources}`,
      '--project-id',
      project,
      '--user-id',
      user,
      '--consumer-type',
      'INSTANCE',
    ];

    const expected = {
      resource_provider: rp,
      resources: { VCPU: 2, MEMORY_MB: 512 },
      project_id: project,
      user_id: user,
      consumer_type: 'INSTANCE',
    };
    const set = await json<Row[]>(allocate(consumer, 'VCPU=2,MEMORY_MB=512'));
    assert.deepEqual(
      set.map(({ generation: _, ...rest }) => rest),
      [expected],
    );
    const shown = await json<Row[]>(['resource', 'provider', 'allocation', 'show', consumer]);
    assert.deepEqual(
      shown.map(({ generation: _, ...rest }) => rest),
      [expected],
    );
    const providerUsage = () => json<Row[]>(['resource', 'provider', 'usage', 'show', rp]);
    assert.deepEqual(usages(await providerUsage()), { VCPU: 2, MEMORY_MB: 512 });
    // From 1.38 a project's usages are grouped by consumer type; before, one flat map.
    assert.deepEqual(usages(await json<Row[]>(['resource', 'usage', 'show', project])), {
      INSTANCE: { consumer_count: 1, VCPU: 2, MEMORY_MB: 512 },
    });
    assert.deepEqual(
      usages(await json<Row[]>(['resource', 'usage', 'show', project, '--user-id', user], '1.9')),
      { VCPU: 2, MEMORY_MB: 512 },
    );

    // 2 of 4 VCPU are taken: 3 more exceed the capacity, and nothing of it is written.
    const other = randomUUID();
    assert.match(await fails(allocate(other, 'VCPU=3')), /exceed the capacity.*\(HTTP 409\)/);
    assert.deepEqual(await json<Row[]>(['resource', 'provider', 'allocation', 'show', other]), []);
    assert.match(
      await fails(['resource', 'provider', 'delete', rp]),
      /has allocations.*\(HTTP 409\)/,
      'a provider with allocations cannot be deleted',
    );

    assert.equal(await ok(['resource', 'provider', 'allocation', 'delete', consumer]), '');
    assert.deepEqual(usages(await providerUsage()), { VCPU: 0, MEMORY_MB: 0 });
    assert.deepEqual(await json<Row[]>(['resource', 'usage', 'show', project]), []);
    assert.deepEqual(
      await json<Row[]>(['resource', 'provider', 'allocation', 'show', consumer]),
      [],
    );
    await ok(['resource', 'provider', 'delete', rp]);
  });

  it('a project member may neither list nor create resource providers (HTTP 403)', async () => {
    const s = suffix();
    const password = `pw-${s}`;
    const [project, user, roles] = await Promise.all([
      cloud.createAsAdmin('projects', 'project', { name: `plc-${s}`, domain_id: 'default' }),
      cloud.createAsAdmin('users', 'user', { name: `plc-${s}`, password, domain_id: 'default' }),
      cloud.listAsAdmin('/roles?name=member', 'roles'),
    ]);
    const grant = `/projects/${String(project['id'])}/users/${String(user['id'])}/roles/${String(roles[0]?.['id'])}`;
    const granted = await cloud.identity('PUT', grant, { token: cloud.adminToken });
    assert.equal(granted.status, 204, JSON.stringify(granted.body));
    const member = at(
      LATEST,
      cloud.userEnv({ username: `plc-${s}`, password, project: `plc-${s}` }),
    );

    const [list, create] = await Promise.all([
      cloud.fails(['resource', 'provider', 'list'], member),
      cloud.fails(['resource', 'provider', 'create', `plc-${s}-members`], member),
    ]);
    assert.match(list, /placement:resource_providers:list.*\(HTTP 403\)/);
    assert.match(create, /placement:resource_providers:create.*\(HTTP 403\)/);
    assert.deepEqual(
      await json<Row[]>(['resource', 'provider', 'list', '--name', `plc-${s}-members`]),
      [],
      'the refused create made nothing',
    );
  });

  it('bad input: an unknown resource class (400), a duplicate name (409), deleting a parent (409)', async () => {
    const s = suffix();
    const parent = await providerId(`plc-${s}-parent`);
    const child = await providerId(`plc-${s}-child`, parent);
    const unknown = `CUSTOM_NOPE_${s.toUpperCase()}`;

    const [badClass, duplicate, parentDelete] = await Promise.all([
      fails(['resource', 'provider', 'inventory', 'set', parent, '--resource', `${unknown}=1`]),
      fails(['resource', 'provider', 'create', `plc-${s}-parent`]),
      fails(['resource', 'provider', 'delete', parent]),
    ]);
    assert.match(badClass, new RegExp(`No such resource class ${unknown}.*\\(HTTP 400\\)`));
    assert.match(duplicate, new RegExp(`plc-${s}-parent already exists.*\\(HTTP 409\\)`));
    assert.match(parentDelete, /child resource providers.*\(HTTP 409\)/);
    assert.equal(await generation(parent), 0, 'the refused inventory changed nothing');

    await ok(['resource', 'provider', 'delete', child]);
    await ok(['resource', 'provider', 'delete', parent]);
  });

  it('before 1.19 aggregate set takes no generation and leaves the generation alone', async () => {
    const rp = await providerId(`plc-${suffix()}-old-aggregates`);
    const aggregate = randomUUID();
    assert.deepEqual(
      await json<Row[]>(
        ['resource', 'provider', 'aggregate', 'set', rp, '--aggregate', aggregate],
        '1.1',
      ),
      [{ uuid: aggregate }],
    );
    assert.deepEqual(await json<Row[]>(['resource', 'provider', 'aggregate', 'list', rp], '1.1'), [
      { uuid: aggregate },
    ]);
    assert.equal(await generation(rp), 0);
  });
});
