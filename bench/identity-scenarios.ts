/**
 * Identity benchmarks: what each loads, prepared over HTTP against a running identity target.
 * Each scenario returns the autocannon request options; `extra` figures (the bcrypt ceiling) are
 * measured here too so one run prints comparable numbers.
 */
import type autocannon from 'autocannon';
import bcrypt from 'bcrypt';
import { availableParallelism } from 'node:os';

export type Prepared = {
  method: 'GET' | 'POST' | 'PUT';
  path: string;
  headers: Record<string, string>;
  body?: string;
  about: string;
  /** Requests that vary (a fresh uuid in each path): autocannon's `setupRequest`, `onResponse`. */
  requests?: autocannon.Request[];
  /** Most requests one load may make (its duration bounds it too). */
  maxRequests?: number;
  /** Checks made after each load, returning figures to print. @throws when a check fails. */
  after?: () => Promise<Record<string, number>>;
};

const PASSWORD_AUTH = JSON.stringify({
  auth: {
    identity: {
      methods: ['password'],
      password: { user: { name: 'admin', domain: { id: 'default' }, password: 'admin' } },
    },
    scope: { project: { name: 'admin', domain: { id: 'default' } } },
  },
});

async function adminToken(base: string): Promise<string> {
  const res = await fetch(new URL('/v3/auth/tokens', base), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: PASSWORD_AUTH,
  });
  if (res.status !== 201) throw new Error(`admin token: ${res.status} ${await res.text()}`);
  return res.headers.get('x-subject-token') ?? '';
}

async function createProjects(base: string, token: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const res = await fetch(new URL('/v3/projects', base), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-auth-token': token },
      body: JSON.stringify({ project: { name: `bench-${i}`, description: 'benchmark project' } }),
    });
    if (res.status !== 201) throw new Error(`project ${i}: ${res.status}`);
  }
}

export const IDENTITY_SCENARIOS: Readonly<Record<string, (base: string) => Promise<Prepared>>> = {
  'identity-token-issue': async () => ({
    method: 'POST',
    path: '/v3/auth/tokens',
    headers: { 'content-type': 'application/json' },
    body: PASSWORD_AUTH,
    about: 'POST /v3/auth/tokens, password method, project scope (bcrypt cost 12)',
  }),
  'identity-token-validate': async (base) => {
    const token = await adminToken(base);
    return {
      method: 'GET',
      path: '/v3/auth/tokens',
      headers: { 'x-auth-token': token, 'x-subject-token': token },
      about: 'GET /v3/auth/tokens, project-scoped token with catalog',
    };
  },
  'identity-token-rescope': async (base) => {
    const token = await adminToken(base);
    return {
      method: 'POST',
      path: '/v3/auth/tokens',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: { methods: ['token'], token: { id: token } },
          scope: { project: { name: 'admin', domain: { id: 'default' } } },
        },
      }),
      about: 'POST /v3/auth/tokens, token method (rescope)',
    };
  },
  'identity-user-list': async (base) => {
    const token = await adminToken(base);
    for (let i = 0; i < 12; i++) {
      const res = await fetch(new URL('/v3/users', base), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-auth-token': token },
        body: JSON.stringify({ user: { name: `bench-user-${i}` } }),
      });
      if (res.status !== 201) throw new Error(`user ${i}: ${res.status}`);
    }
    return {
      method: 'GET',
      path: '/v3/users',
      headers: { 'x-auth-token': token },
      about: 'GET /v3/users with 21 users (bootstrap + 12), admin token',
    };
  },
  'identity-project-list': async (base) => {
    const token = await adminToken(base);
    await createProjects(base, token, 20);
    return {
      method: 'GET',
      path: '/v3/projects',
      headers: { 'x-auth-token': token },
      about: 'GET /v3/projects with 22 projects, admin token',
    };
  },
};

/** bcrypt hashes per second with every core busy: the ceiling password token issue can reach. */
export async function bcryptCeiling(cost: number, seconds: number): Promise<number> {
  const parallel = Math.max(availableParallelism(), 1);
  const deadline = Date.now() + seconds * 1000;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (Date.now() < deadline) {
      await bcrypt.hash('benchmark password', cost);
      done++;
    }
  };
  const start = Date.now();
  await Promise.all(Array.from({ length: parallel }, worker));
  return done / ((Date.now() - start) / 1000);
}
