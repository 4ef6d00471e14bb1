/**
 * The identity service (Keystone v3) through the real `openstack` CLI against `tstack up`: tokens,
 * domains, projects and users, each case asserting on the CLI's JSON output. The catalog has its
 * own file; roles, groups, role assignments, implied roles, application credentials and limits
 * have their own cases elsewhere.
 *
 * Each CLI run costs a Python start-up (most of a second), so fixtures a case does not test are
 * made over HTTP, and the cases, which share no names, run two at a time.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ID, column, sorted, startCloud, type Cloud, type Row } from './harness.ts';

type TokenBody = {
  token: {
    user: { id: string; name: string };
    project?: { id: string; name: string };
  };
};

const HOUR_MS = 3_600_000;

describe('openstack CLI: identity', { timeout: 120_000, concurrency: 2 }, () => {
  let cloud: Cloud;
  before(async () => {
    cloud = await startCloud();
  });
  after(async () => {
    await cloud?.stop();
  });

  it('token issue: a token scoped to the admin project, valid for an hour', async () => {
    const start = Date.now();
    const issued = await cloud.json<Row>(['token', 'issue']);
    assert.deepEqual(Object.keys(issued).sort(), ['expires', 'id', 'project_id', 'user_id']);
    const token = String(issued['id']);
    assert.match(token, /^gAAAAA/, 'a Fernet token');
    const expires = Date.parse(String(issued['expires']));
    assert.ok(
      expires > start + HOUR_MS - 60_000 && expires <= Date.now() + HOUR_MS,
      `expires ${String(issued['expires'])}`,
    );

    const reply = await cloud.identity('GET', '/auth/tokens', {
      token: cloud.adminToken,
      subjectToken: token,
    });
    assert.equal(reply.status, 200);
    const body = reply.body as TokenBody;
    assert.equal(body.token.user.name, 'admin');
    assert.equal(issued['user_id'], body.token.user.id);
    assert.equal(body.token.project?.name, 'admin');
    assert.equal(issued['project_id'], body.token.project?.id);
  });

  it('token revoke: the revoked token is refused by the CLI and by identity', async () => {
    const token = await cloud.issueToken(cloud.admin);
    const asToken = { env: cloud.tokenEnv(token, { name: 'admin' }) };
    const listed = await cloud.json<Row[]>(['project', 'list'], asToken);
    assert.ok(column(listed).includes('admin'), 'the token works before it is revoked');

    assert.equal(await cloud.ok(['token', 'revoke', token]), '');

    assert.match(await cloud.fails(['project', 'list'], asToken), /\(HTTP 401\)/);
    const check = await cloud.identity('GET', '/auth/tokens', {
      token: cloud.adminToken,
      subjectToken: token,
    });
    assert.equal(check.status, 404);
  });

  it('domain create, set, show, list and delete (an enabled domain cannot be deleted)', async () => {
    const created = await cloud.json<Row>([
      'domain',
      'create',
      '--description',
      'Acme Corp',
      'acme',
    ]);
    assert.equal(created['name'], 'acme');
    assert.equal(created['description'], 'Acme Corp');
    assert.equal(created['enabled'], true);
    assert.match(String(created['id']), ID);

    const refusal = await cloud.fails(['domain', 'delete', 'acme']);
    assert.match(refusal, /Cannot delete a domain that is enabled, please disable it first\./);
    assert.match(refusal, /\(HTTP 403\)/);

    await cloud.ok([
      'domain',
      'set',
      '--name',
      'acme2',
      '--description',
      'Acme Inc',
      '--disable',
      'acme',
    ]);
    assert.deepEqual(await cloud.json<Row>(['domain', 'show', 'acme2']), {
      ...created,
      name: 'acme2',
      description: 'Acme Inc',
      enabled: false,
    });
    const listed = await cloud.json<Row[]>(['domain', 'list']);
    assert.deepEqual(
      listed.find((d) => d['Name'] === 'acme2'),
      { ID: created['id'], Name: 'acme2', Enabled: false, Description: 'Acme Inc' },
    );

    await cloud.ok(['domain', 'delete', 'acme2']);
    assert.deepEqual(await cloud.listAsAdmin('/domains?name=acme2', 'domains'), []);
  });

  it('project create with --parent, --tag and --property; show, list, set and delete', async () => {
    const parent = await cloud.createAsAdmin('projects', 'project', {
      name: 'web',
      domain_id: 'default',
    });
    const child = await cloud.json<Row>([
      'project',
      'create',
      '--domain',
      'default',
      '--parent',
      'web',
      '--description',
      'Shop',
      '--tag',
      'frontend',
      '--tag',
      'prod',
      '--property',
      'tier=gold',
      '--property',
      'cost_center=42',
      'web-shop',
    ]);
    assert.match(String(child['id']), ID);
    assert.equal(child['name'], 'web-shop');
    assert.equal(child['description'], 'Shop');
    assert.equal(child['parent_id'], parent['id']);
    assert.equal(child['domain_id'], 'default');
    assert.equal(child['is_domain'], false);
    assert.equal(child['enabled'], true);
    assert.deepEqual(sorted(child['tags']), ['frontend', 'prod']);
    assert.equal(child['tier'], 'gold');
    assert.equal(child['cost_center'], '42');

    const withChildren = await cloud.json<Row>(['project', 'show', '--children', 'web']);
    assert.equal(withChildren['parent_id'], 'default', 'a top-level project hangs off its domain');
    assert.deepEqual(withChildren['subtree'], { [String(child['id'])]: null });
    const tagged = await cloud.json<Row[]>(['project', 'list', '--tags', 'prod']);
    assert.deepEqual(tagged, [{ ID: child['id'], Name: 'web-shop' }]);

    await cloud.ok([
      'project',
      'set',
      '--name',
      'web-store',
      '--description',
      'Store',
      '--disable',
      '--tag',
      'eu',
      '--property',
      'tier=silver',
      'web-shop',
    ]);
    const changed = await cloud.json<Row>(['project', 'show', 'web-store']);
    assert.deepEqual(
      { ...changed, tags: sorted(changed['tags']) },
      {
        ...child,
        name: 'web-store',
        description: 'Store',
        enabled: false,
        tier: 'silver',
        tags: ['eu', 'frontend', 'prod'],
      },
    );

    const refusal = await cloud.fails(['project', 'delete', 'web']);
    assert.match(refusal, /not a leaf in the hierarchy/);
    assert.match(refusal, /\(HTTP 403\)/);
    await cloud.ok(['project', 'delete', 'web-store', 'web']);
    const left = column(await cloud.listAsAdmin('/projects', 'projects'), 'name');
    assert.ok(!left.includes('web') && !left.includes('web-store'), String(left));
  });

  it('user create with --password, --email and --project; list, set, show and delete', async () => {
    const domain = await cloud.createAsAdmin('domains', 'domain', { name: 'people' });
    const project = await cloud.createAsAdmin('projects', 'project', {
      name: 'lab',
      domain_id: domain['id'],
    });
    const created = await cloud.json<Row>([
      'user',
      'create',
      '--domain',
      'people',
      '--password',
      'first-secret',
      '--email',
      'ada@example.org',
      '--project',
      'lab',
      '--project-domain',
      'people',
      '--description',
      'Ada',
      'ada',
    ]);
    assert.match(String(created['id']), ID);
    assert.equal(created['name'], 'ada');
    assert.equal(created['domain_id'], domain['id']);
    assert.equal(created['default_project_id'], project['id']);
    assert.equal(created['email'], 'ada@example.org');
    assert.equal(created['description'], 'Ada');
    assert.equal(created['enabled'], true);
    assert.equal(created['password_expires_at'], null);
    assert.ok(!('password' in created), 'no password in the view');

    const listed = await cloud.json<Row[]>(['user', 'list', '--domain', 'people', '--long']);
    assert.deepEqual(listed, [
      {
        ID: created['id'],
        Name: 'ada',
        Project: project['id'],
        Domain: domain['id'],
        Description: 'Ada',
        Email: 'ada@example.org',
        Enabled: true,
      },
    ]);

    const id = String(created['id']);
    await cloud.ok([
      'user',
      'set',
      '--name',
      'ada2',
      '--email',
      'ada@example.com',
      '--disable',
      id,
    ]);
    assert.deepEqual(await cloud.json<Row>(['user', 'show', '--domain', 'people', 'ada2']), {
      ...created,
      name: 'ada2',
      email: 'ada@example.com',
      enabled: false,
    });

    await cloud.ok(['user', 'set', '--enable', '--password', 'second-secret', id]);
    const ada = { username: 'ada2', password: 'first-secret', userDomain: 'people' };
    const [oldPassword, newPassword] = await Promise.all([
      cloud.fails(['token', 'issue'], { env: cloud.userEnv(ada) }),
      // No role on `lab`, so its default project gives the user an unscoped token, as Keystone.
      cloud.json<Row>(['token', 'issue'], {
        env: cloud.userEnv({ ...ada, password: 'second-secret' }),
      }),
    ]);
    assert.match(oldPassword, /\(HTTP 401\)/, 'the password the admin replaced no longer works');
    assert.deepEqual(Object.keys(newPassword).sort(), ['expires', 'id', 'user_id']);
    assert.equal(newPassword['user_id'], id);

    await cloud.ok(['user', 'delete', id]);
    assert.deepEqual(
      await cloud.listAsAdmin(`/users?domain_id=${String(domain['id'])}`, 'users'),
      [],
    );
  });

  it('user password set: a user changes their own password; the old one and its tokens stop working', async () => {
    // The CLI needs a project-scoped token (an unscoped one carries no catalog to find identity
    // in): the user gets the member role on a project of their own first.
    await Promise.all([
      cloud.createAsAdmin('users', 'user', { name: 'grace', password: 'g0', domain_id: 'default' }),
      cloud.createAsAdmin('projects', 'project', { name: 'grace-lab', domain_id: 'default' }),
    ]);
    assert.equal(
      await cloud.ok(['role', 'add', '--user', 'grace', '--project', 'grace-lab', 'member']),
      '',
    );
    const grace = { username: 'grace', password: 'g0', project: 'grace-lab' };
    const oldToken = await cloud.issueToken(grace);
    await cloud.ok(['user', 'password', 'set', '--original-password', 'g0', '--password', 'n3w'], {
      env: cloud.userEnv(grace),
    });

    const [oldPassword, newPassword] = await Promise.all([
      cloud.fails(['token', 'issue'], { env: cloud.userEnv(grace) }),
      cloud.json<Row>(['token', 'issue'], { env: cloud.userEnv({ ...grace, password: 'n3w' }) }),
    ]);
    assert.match(oldPassword, /\(HTTP 401\)/);
    assert.match(String(newPassword['project_id']), ID);
    const check = await cloud.identity('GET', '/auth/tokens', {
      token: cloud.adminToken,
      subjectToken: oldToken,
    });
    assert.equal(check.status, 404, 'tokens issued before the change are revoked');
  });

  it('project list --user and --my-projects: the projects a user has a role on', async () => {
    const [admin, mine] = await Promise.all([
      cloud.json<Row[]>(['project', 'list', '--user', 'admin']),
      cloud.json<Row[]>(['project', 'list', '--my-projects']),
    ]);
    assert.deepEqual(column(admin), ['admin']);
    assert.deepEqual(mine, admin);
  });

  it('a user without the admin role gets 403 creating a project', async () => {
    await Promise.all([
      cloud.createAsAdmin('users', 'user', {
        name: 'mallory',
        password: 'm4llory',
        domain_id: 'default',
      }),
      cloud.createAsAdmin('projects', 'project', { name: 'mallory-lab', domain_id: 'default' }),
    ]);
    assert.equal(
      await cloud.ok(['role', 'add', '--user', 'mallory', '--project', 'mallory-lab', 'member']),
      '',
    );
    const asMallory = {
      env: cloud.userEnv({ username: 'mallory', password: 'm4llory', project: 'mallory-lab' }),
    };
    const refusal = await cloud.fails(['project', 'create', 'heist'], asMallory);
    assert.match(
      refusal,
      /You are not authorized to perform the requested action: identity:create_project\./,
    );
    assert.match(refusal, /\(HTTP 403\)/);
    assert.deepEqual(await cloud.listAsAdmin('/projects?name=heist', 'projects'), []);
  });
});
