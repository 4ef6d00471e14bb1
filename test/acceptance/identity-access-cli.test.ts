/**
 * What identity's roles let a user do, through the real `openstack` CLI against `tstack up`:
 * application credentials (made by a member, used with nothing else, deleted), a reader who
 * cannot write, a member of one project who sees nothing of another, and a user scoped to a
 * domain. Groups, roles and grants have their own file (identity-rbac-cli.test.ts).
 *
 * Each CLI run costs a Python start-up (most of a second), so fixtures a case does not test are
 * made over HTTP, and the cases, which share no names, run two at a time.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ID, column, sorted, startCloud, type Cloud, type Row } from './harness.ts';
import { PASSWORD, UNAUTHENTICATED, forbidden, rbac, type Rbac } from './identity-rbac.ts';

describe('openstack CLI: identity access', { timeout: 120_000, concurrency: 2 }, () => {
  let cloud: Cloud;
  let h: Rbac;
  before(async () => {
    cloud = await startCloud();
    h = await rbac(cloud);
  });
  after(async () => {
    await cloud?.stop();
  });

  /** A user with `role` on a project of their own; both are named after `tag`. */
  const userWithRole = async (tag: string, role: string) => {
    const [userId, projectId] = await Promise.all([h.newUser(tag), h.newProject(`${tag}-proj`)]);
    await h.grant(`projects/${projectId}/users/${userId}`, role);
    return { userId, projectId, scoped: h.inProject(tag, `${tag}-proj`) };
  };

  it('application credential create --role member: it authenticates alone; being restricted, it cannot make another', async () => {
    const { userId, projectId, scoped } = await userWithRole('ac-amy', 'member');
    const created = await h.json(
      'application credential create --role member --secret s3cret --description CI ac-ci',
      scoped,
    );
    assert.match(String(created['id']), ID);
    const { roles, secret, ...view } = created;
    assert.deepEqual(view, {
      id: created['id'],
      name: 'ac-ci',
      description: 'CI',
      project_id: projectId,
      expires_at: null,
      unrestricted: false,
      access_rules: [],
    });
    assert.equal(secret, 's3cret', 'the secret is shown once, when it is made');
    const roleNames = String(roles).split(' ');
    assert.ok(roleNames.includes('member') && !roleNames.includes('admin'), String(roles));

    const asCred = h.asCredential(String(created['id']), 's3cret');
    const [issued, listed, shown, refusal] = await Promise.all([
      h.json('token issue', asCred),
      h.list('application credential list', asCred),
      h.json('application credential show ac-ci', asCred),
      h.fails('application credential create ac-again', asCred),
    ]);
    assert.deepEqual([issued['user_id'], issued['project_id']], [userId, projectId]);
    assert.deepEqual(listed, [
      {
        ID: created['id'],
        Name: 'ac-ci',
        'Project ID': projectId,
        Description: 'CI',
        'Expires At': null,
      },
    ]);
    assert.deepEqual({ ...shown, roles: undefined }, { ...view, roles: undefined });
    assert.deepEqual(sorted(String(shown['roles']).split(' ')), sorted(roleNames));
    assert.match(
      refusal,
      /Using method application_credential is not allowed for managing additional application credentials\. \(HTTP 403\)/,
    );
    const left = await cloud.listAsAdmin(
      `/users/${userId}/application_credentials`,
      'application_credentials',
    );
    assert.deepEqual(column(left, 'name'), ['ac-ci']);
  });

  it('application credential list, show and delete: a deleted one and its tokens stop working', async () => {
    const { userId, projectId, scoped } = await userWithRole('ac-bo', 'member');
    const userToken = await cloud.issueToken({
      username: 'ac-bo',
      password: PASSWORD,
      project: 'ac-bo-proj',
    });
    const made = await cloud.identity('POST', `/users/${userId}/application_credentials`, {
      token: userToken,
      body: {
        application_credential: {
          name: 'ac-deploy',
          secret: 'sekr1t',
          roles: [{ name: 'reader' }],
        },
      },
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const credId = String(
      (made.body as { application_credential: Row }).application_credential['id'],
    );
    const asCred = h.asCredential(credId, 'sekr1t');
    const credToken = String((await h.json('token issue', asCred))['id']);

    const [listed, shown] = await Promise.all([
      h.list('application credential list', scoped),
      h.json('application credential show ac-deploy', scoped),
    ]);
    assert.deepEqual(listed, [
      {
        ID: credId,
        Name: 'ac-deploy',
        'Project ID': projectId,
        Description: null,
        'Expires At': null,
      },
    ]);
    assert.deepEqual(shown, {
      id: credId,
      name: 'ac-deploy',
      description: null,
      project_id: projectId,
      expires_at: null,
      unrestricted: false,
      access_rules: [],
      roles: 'reader',
    });

    assert.equal(await h.ok('application credential delete ac-deploy', scoped), '');
    const [earlier, again, left] = await Promise.all([
      h.fails(`user show ${userId}`, h.withToken(credToken)),
      h.fails('token issue', asCred),
      h.list('application credential list', scoped),
    ]);
    assert.match(earlier, UNAUTHENTICATED, 'a token of the deleted credential is refused');
    assert.match(again, UNAUTHENTICATED, 'the credential no longer authenticates');
    assert.deepEqual(left, []);
    assert.equal(await h.tokenStatus(credToken), 404);
  });

  it('a reader cannot write: project create and user create get 403; reading their project works', async () => {
    const { projectId, scoped } = await userWithRole('rd-rita', 'reader');
    const [project, user, shown] = await Promise.all([
      h.fails('project create rd-new', scoped),
      h.fails('user create --password x rd-new', scoped),
      h.json('project show rd-rita-proj', scoped),
    ]);
    assert.match(project, forbidden('create_project'));
    assert.match(user, forbidden('create_user'));
    assert.equal(shown['id'], projectId);
    assert.deepEqual(await cloud.listAsAdmin('/projects?name=rd-new', 'projects'), []);
    assert.deepEqual(await cloud.listAsAdmin('/users?name=rd-new', 'users'), []);
  });

  it('a member of project A sees nothing of project B: project show B is 403, B is not among their projects', async () => {
    const [{ projectId, scoped }] = await Promise.all([
      userWithRole('iso-ida', 'member'),
      h.newProject('iso-b'),
    ]);
    const [refusal, mine] = await Promise.all([
      h.fails('project show iso-b', scoped),
      h.list('project list --my-projects', scoped),
    ]);
    assert.match(refusal, /\(HTTP 403\)/);
    assert.deepEqual(mine, [{ ID: projectId, Name: 'iso-ida-proj' }]);
  });

  it('domain show: a user with reader on a domain, scoped to it, sees that domain', async () => {
    const [userId, domainId] = await Promise.all([h.newUser('dm-dora'), h.newDomain('dm-dom')]);
    await h.grant(`domains/${domainId}/users/${userId}`, 'reader');
    const shown = await h.json(
      `domain show ${domainId}`,
      h.as('dm-dora', { OS_DOMAIN_NAME: 'dm-dom' }),
    );
    assert.deepEqual([shown['id'], shown['name']], [domainId, 'dm-dom']);
  });

  it("project list: a user with reader on a domain, scoped to it, lists the domain's projects", async () => {
    const [userId, domainId] = await Promise.all([h.newUser('dl-dan'), h.newDomain('dl-dom')]);
    const projectId = await h.newProject('dl-proj', domainId);
    await h.grant(`domains/${domainId}/users/${userId}`, 'reader');
    const listed = await h.list('project list', h.as('dl-dan', { OS_DOMAIN_NAME: 'dl-dom' }));
    assert.deepEqual(listed, [{ ID: projectId, Name: 'dl-proj' }]);
  });
});
