/**
 * What `tstack up` does as the cloud's admin after bootstrap (registering the test image, making
 * the default network): plain HTTP calls to the public APIs, as any client would make them.
 */
import { authUrl } from './clouds.ts';
import type { TstackConfig } from './config.ts';

/** @throws Error naming the call and the answer when the status is not one of `expect`. */
export async function call(url: string, init: RequestInit, expect: number[]): Promise<Response> {
  const res = await fetch(url, init);
  if (!expect.includes(res.status)) {
    throw new Error(`${init.method ?? 'GET'} ${url}: ${res.status} ${await res.text()}`);
  }
  return res;
}

/** A token of the admin user, scoped to the admin project. */
export async function adminToken(config: TstackConfig): Promise<string> {
  const auth = await call(
    `${authUrl(config)}/auth/tokens`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: {
            methods: ['password'],
            password: {
              user: {
                name: 'admin',
                domain: { id: 'default' },
                password: config.identity.admin_password,
              },
            },
          },
          scope: { project: { name: 'admin', domain: { id: 'default' } } },
        },
      }),
    },
    [201],
  );
  return auth.headers.get('x-subject-token') ?? '';
}
