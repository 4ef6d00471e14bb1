/**
 * An identity service in this process for HTTP tests with `inject()`: a fresh SQLite database
 * (or one on PostgreSQL/MariaDB via `freshDatabase`), a temporary key repository, cheap bcrypt,
 * bootstrapped like `tstack up`, and helpers to get tokens and make users.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { loadConfigWith } from '../../src/common/config/load.ts';
import { withSections } from '../../src/common/config/schema.ts';
import { openDatabase } from '../../src/common/db/database.ts';
import { migrate } from '../../src/common/db/migrate.ts';
import { InMemoryBus } from '../../src/common/messaging/in-memory-bus.ts';
import { silentLogger } from '../../src/common/logging.ts';
import { UNUSED_AUTH } from '../helpers/service-auth.ts';
import type { App } from '../../src/common/http/app.ts';
import {
  createIdentityService,
  IDENTITY_MIGRATIONS,
  IdentityConfigSchema,
  type IdentityConfig,
} from '../../src/identity/service.ts';

export type Scope =
  | { project: { name: string; domain?: { id: string } } }
  | { project: { id: string } }
  | { domain: { id: string } }
  | { system: { all: true } }
  | 'unscoped';

/** A response; `json()` is typed by the caller, who knows the shape it asserts on. */
export type Reply = {
  status: number;
  json: <T = Record<string, unknown>>() => T;
  headers: Record<string, unknown>;
};

export type Harness = {
  app: App;
  /** A project-scoped admin token (admin on the admin project). */
  adminToken: string;
  /** Issues a token with the password method; fails the test on anything but 201. */
  token(
    user: { name: string; password: string; domainId?: string },
    scope?: Scope,
  ): Promise<string>;
  /** Sends a request with a token; JSON bodies are serialised. */
  call(method: string, url: string, token: string | undefined, body?: unknown): Promise<Reply>;
  config: IdentityConfig;
};

export async function identityHarness(
  t: TestContext,
  options: { identity?: Partial<IdentityConfig>; databaseUrl?: string } = {},
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'ts-identity-'));
  const config = loadConfigWith(withSections({ identity: IdentityConfigSchema }), {
    env: {},
    overrides: { data_dir: dir, identity: { password_hash_rounds: 4, ...options.identity } },
  });
  const database = await openDatabase<unknown>(
    options.databaseUrl ?? `sqlite:///${join(dir, 'identity.db')}`,
  );
  await migrate(database, 'identity', IDENTITY_MIGRATIONS);
  const bus = new InMemoryBus();
  const service = createIdentityService(
    { config, logger: silentLogger(), database, bus, auth: UNUSED_AUTH },
    config.identity,
  );
  await service.app.ready();
  t.after(async () => {
    await service.app.close();
    await service.close();
    await database.close();
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await service.bootstrap({
    services: [
      {
        type: 'identity',
        name: 'keystone',
        description: 'Identity',
        url: 'http://127.0.0.1:5000/v3',
      },
    ],
  });
  const app = service.app;

  const call: Harness['call'] = async (method, url, token, body) => {
    const res = await app.inject({
      method: method as 'GET',
      url,
      headers: {
        ...(token !== undefined ? { 'x-auth-token': token } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
    });
    return {
      status: res.statusCode,
      json: <T>() => (res.body === '' ? undefined : JSON.parse(res.body)) as T,
      headers: res.headers,
    };
  };

  const token: Harness['token'] = async (user, scope) => {
    const res = await app.inject({
      method: 'POST',
      url: '/v3/auth/tokens',
      payload: {
        auth: {
          identity: {
            methods: ['password'],
            password: {
              user: {
                name: user.name,
                domain: { id: user.domainId ?? 'default' },
                password: user.password,
              },
            },
          },
          ...(scope !== undefined ? { scope } : {}),
        },
      },
    });
    if (res.statusCode !== 201)
      throw new Error(`token for ${user.name}: ${res.statusCode} ${res.body}`);
    return String(res.headers['x-subject-token']);
  };

  const adminToken = await token(
    { name: 'admin', password: config.identity.admin_password },
    { project: { name: 'admin', domain: { id: 'default' } } },
  );
  return { app, adminToken, token, call, config: config.identity };
}
