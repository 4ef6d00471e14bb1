/**
 * Builders for role, group and assignment tests: make domains, projects, users, groups and roles
 * over the API with the admin token, and assert Keystone's error shape.
 */
import assert from 'node:assert/strict';
import type { Harness, Reply } from './harness.ts';

export const PASSWORD = 'secret-Passw0rd';

export type KeystoneError = { error: { code: number; title: string; message: string } };

/** Asserts `reply` is a Keystone error with this status; returns the message. */
export function assertKeystoneError(reply: Reply, status: number, what = ''): string {
  assert.equal(reply.status, status, `${what}: status ${reply.status}`);
  const body = reply.json<KeystoneError>();
  assert.equal(typeof body.error, 'object', `${what}: error body`);
  assert.equal(body.error.code, status, `${what}: error.code`);
  assert.equal(typeof body.error.title, 'string', `${what}: error.title`);
  assert.equal(typeof body.error.message, 'string', `${what}: error.message`);
  return body.error.message;
}

async function created(h: Harness, url: string, key: string, body: unknown): Promise<string> {
  const res = await h.call('POST', url, h.adminToken, { [key]: body });
  assert.equal(res.status, 201, `POST ${url}: ${res.status} ${JSON.stringify(res.json())}`);
  return res.json<Record<string, { id: string }>>()[key]?.id ?? '';
}

export const mkDomain = (h: Harness, name: string) => created(h, '/v3/domains', 'domain', { name });

export const mkProject = (
  h: Harness,
  name: string,
  opts: { domainId?: string; parentId?: string } = {},
) =>
  created(h, '/v3/projects', 'project', {
    name,
    domain_id: opts.domainId ?? 'default',
    ...(opts.parentId !== undefined ? { parent_id: opts.parentId } : {}),
  });

export const mkUser = (h: Harness, name: string, domainId = 'default') =>
  created(h, '/v3/users', 'user', { name, domain_id: domainId, password: PASSWORD });

export const mkGroup = (h: Harness, name: string, domainId = 'default') =>
  created(h, '/v3/groups', 'group', { name, domain_id: domainId });

export const mkRole = (h: Harness, name: string, domainId?: string) =>
  created(h, '/v3/roles', 'role', {
    name,
    ...(domainId !== undefined ? { domain_id: domainId } : {}),
  });

export async function roleId(h: Harness, name: string): Promise<string> {
  const res = await h.call('GET', `/v3/roles?name=${name}`, h.adminToken);
  const id = res.json<{ roles: { id: string }[] }>().roles[0]?.id;
  assert.ok(id, `role ${name}`);
  return id;
}

/** PUT/DELETE on a grant or membership URL with the admin token, expecting 204. */
export async function put(h: Harness, url: string): Promise<void> {
  const res = await h.call('PUT', url, h.adminToken);
  assert.equal(res.status, 204, `PUT ${url}: ${res.status} ${JSON.stringify(res.json())}`);
}

export async function del(h: Harness, url: string): Promise<void> {
  const res = await h.call('DELETE', url, h.adminToken);
  assert.equal(res.status, 204, `DELETE ${url}: ${res.status} ${JSON.stringify(res.json())}`);
}

/** A token for a user made by `mkUser`. */
export const tokenOf = (
  h: Harness,
  name: string,
  scope: Parameters<Harness['token']>[1],
  domainId = 'default',
) => h.token({ name, password: PASSWORD, domainId }, scope);

/** Validates `subject` with the admin token: the status and, on 200, the role names. */
export async function validate(
  h: Harness,
  subject: string,
): Promise<{ status: number; roles: string[] }> {
  const res = await h.app.inject({
    method: 'GET',
    url: '/v3/auth/tokens',
    headers: { 'x-auth-token': h.adminToken, 'x-subject-token': subject },
  });
  if (res.statusCode !== 200) return { status: res.statusCode, roles: [] };
  const body = JSON.parse(res.body) as { token: { roles?: { name: string }[] } };
  return { status: 200, roles: (body.token.roles ?? []).map((r) => r.name).sort() };
}

/** Sends a raw body (for malformed JSON). */
export async function raw(h: Harness, method: string, url: string, payload: string) {
  const res = await h.app.inject({
    method: method as 'POST',
    url,
    headers: { 'x-auth-token': h.adminToken, 'content-type': 'application/json' },
    payload,
  });
  return {
    status: res.statusCode,
    json: <T>() => JSON.parse(res.body) as T,
    headers: res.headers,
  } satisfies Reply;
}
