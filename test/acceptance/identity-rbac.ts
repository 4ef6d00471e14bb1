/**
 * What the identity RBAC acceptance files share: fixtures made over HTTP as the cloud's admin
 * (users, projects, groups, domains, roles, grants) and the CLI run as somebody else (a user with
 * a scope, a bare token, an application credential).
 */
import assert from 'node:assert/strict';
import type { CliEnv, CliOptions, Cloud, Row } from './harness.ts';

/** The password of every user these files create. */
export const PASSWORD = 'rbac-pw';
export const UNAUTHENTICATED = /\(HTTP 401\)/;

/** Keystone's 403 for a policy rule, as the CLI prints it. */
export function forbidden(rule: string): RegExp {
  return new RegExp(
    `You are not authorized to perform the requested action: identity:${rule}\\. \\(HTTP 403\\)`,
  );
}

/** CLI arguments from one line; no argument in these cases has a space in it. */
export function argv(line: string): string[] {
  return line.split(' ');
}

/** One row of `role assignment list -f json`. */
export function assignment(
  role: string,
  on: { project?: string; domain?: string; system?: string },
  actor: { user?: string; group?: string },
): Row {
  return {
    Role: role,
    User: actor.user ?? '',
    Group: actor.group ?? '',
    Project: on.project ?? '',
    Domain: on.domain ?? '',
    System: on.system ?? '',
    Inherited: false,
  };
}

/** Rows in a stable order: the API promises none. */
export function canonical(rows: readonly Row[]): Row[] {
  return [...rows].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

export type Rbac = ReturnType<typeof rbacOf>;

/** The helpers for `cloud`, with the ids of the roles bootstrap made. */
export async function rbac(cloud: Cloud) {
  const roles = await cloud.listAsAdmin('/roles', 'roles');
  return rbacOf(cloud, new Map(roles.map((r) => [String(r['name']), String(r['id'])])));
}

function rbacOf(cloud: Cloud, roleIds: ReadonlyMap<string, string>) {
  const make = async (collection: string, key: string, entity: Row): Promise<string> =>
    String((await cloud.createAsAdmin(collection, key, entity))['id']);
  const put = async (path: string): Promise<void> => {
    const reply = await cloud.identity('PUT', path, { token: cloud.adminToken });
    assert.ok([201, 204].includes(reply.status), `PUT ${path}: ${JSON.stringify(reply.body)}`);
  };
  const roleId = (name: string): string => {
    const id = roleIds.get(name);
    assert.ok(id !== undefined, `bootstrap made no role ${name}`);
    return id;
  };
  return {
    roleId,
    newUser: (name: string) =>
      make('users', 'user', { name, password: PASSWORD, domain_id: 'default' }),
    newProject: (name: string, domainId = 'default') =>
      make('projects', 'project', { name, domain_id: domainId }),
    newGroup: (name: string) => make('groups', 'group', { name, domain_id: 'default' }),
    newDomain: (name: string) => make('domains', 'domain', { name }),
    newRole: (name: string) => make('roles', 'role', { name }),
    addMember: (groupId: string, userId: string) => put(`/groups/${groupId}/users/${userId}`),
    /** `on` names the target and actor, e.g. `projects/P/users/U`; `role` is a name or an id. */
    grant: (on: string, role: string) => put(`/${on}/roles/${roleIds.get(role) ?? role}`),
    /** What identity says of `token` when the admin checks it: 200, or 404 once it is revoked. */
    tokenStatus: async (token: string): Promise<number> =>
      (
        await cloud.identity('GET', '/auth/tokens', {
          token: cloud.adminToken,
          subjectToken: token,
        })
      ).status,

    json: (line: string, opts?: CliOptions) => cloud.json<Row>(argv(line), opts),
    list: (line: string, opts?: CliOptions) => cloud.json<Row[]>(argv(line), opts),
    ok: (line: string, opts?: CliOptions) => cloud.ok(argv(line), opts),
    fails: (line: string, opts?: CliOptions) => cloud.fails(argv(line), opts),
    /** As `username` (made by `newUser`), scoped by `scope`: unscoped without. */
    as: (username: string, scope: CliEnv = {}): CliOptions => ({
      env: { ...cloud.userEnv({ username, password: PASSWORD }), ...scope },
    }),
    inProject: (username: string, project: string): CliOptions => ({
      env: cloud.userEnv({ username, password: PASSWORD, project }),
    }),
    /** The CLI sends `token` as it is, without getting a new one first. */
    withToken: (token: string): CliOptions => ({
      env: {
        OS_CLOUD: undefined,
        OS_CLIENT_CONFIG_FILE: undefined,
        OS_AUTH_TYPE: 'admin_token',
        OS_ENDPOINT: cloud.authUrl,
        OS_TOKEN: token,
      },
    }),
    /** As an application credential and nothing else. */
    asCredential: (id: string, secret: string): CliOptions => ({
      env: {
        OS_CLOUD: undefined,
        OS_CLIENT_CONFIG_FILE: undefined,
        OS_AUTH_URL: cloud.authUrl,
        OS_IDENTITY_API_VERSION: '3',
        OS_AUTH_TYPE: 'v3applicationcredential',
        OS_APPLICATION_CREDENTIAL_ID: id,
        OS_APPLICATION_CREDENTIAL_SECRET: secret,
      },
    }),
  };
}
