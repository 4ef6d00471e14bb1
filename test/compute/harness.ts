/**
 * A compute service in this process for HTTP tests with `inject()`: a fresh SQLite database,
 * tokens from a `FakeIdentityClient` for named users and projects, requests at a chosen
 * microversion.
 */
/* eslint-disable @typescript-eslint/no-explicit-any --
   response bodies are untyped JSON these tests assert on field by field. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigWith } from '../../src/common/config/load.ts';
import { withSections } from '../../src/common/config/schema.ts';
import { openDatabase } from '../../src/common/db/database.ts';
import { migrate } from '../../src/common/db/migrate.ts';
import { silentLogger } from '../../src/common/logging.ts';
import { InMemoryBus } from '../../src/common/messaging/in-memory-bus.ts';
import {
  COMPUTE_MIGRATIONS,
  ComputeConfigSchema,
  createComputeService,
} from '../../src/compute/service.ts';
import { fakeAuth } from '../helpers/service-auth.ts';

export type Reply = { status: number; body: any; headers: Record<string, unknown>; text: string };

export type Harness = {
  /** A token for `user` in `project` with `roles` (default member, reader). */
  token(user: string, project: string, roles?: readonly string[]): string;
  admin: string;
  call(
    method: string,
    url: string,
    options?: { token?: string; body?: unknown; version?: string },
  ): Promise<Reply>;
};

export type Cleanup = { after(fn: () => Promise<void>): void };

export async function computeHarness(
  t: Cleanup,
  options: { defaultFlavors?: boolean; databaseUrl?: string } = {},
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'ts-compute-'));
  const config = loadConfigWith(withSections({ compute: ComputeConfigSchema }), {
    env: {},
    overrides: { data_dir: dir, compute: { default_flavors: options.defaultFlavors ?? true } },
  });
  const database = await openDatabase<unknown>(
    options.databaseUrl ?? `sqlite:///${join(dir, 'compute.db')}`,
  );
  const bus = new InMemoryBus();
  const { auth, identity } = fakeAuth();
  const started: { service?: Awaited<ReturnType<typeof createComputeService>> } = {};
  t.after(async () => {
    await started.service?.app.close();
    await started.service?.close();
    await database.close();
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await migrate(database, 'compute', COMPUTE_MIGRATIONS);
  const service = await createComputeService(
    { config, logger: silentLogger(), database, bus, auth },
    config.compute,
  );
  started.service = service;
  await service.app.ready();
  const token: Harness['token'] = (user, project, roles = ['member', 'reader']) =>
    identity.issueToken({
      userId: user,
      userName: user,
      project: { id: project, name: project },
      roles,
    });
  const admin = token('admin', 'admin-project', ['admin', 'member', 'reader']);
  const call: Harness['call'] = async (method, url, opts = {}) => {
    const res = await service.app.inject({
      method: method as 'GET',
      url,
      headers: {
        accept: 'application/json',
        'x-auth-token': opts.token ?? admin,
        ...(opts.version !== undefined
          ? { 'openstack-api-version': `compute ${opts.version}` }
          : {}),
        ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(opts.body !== undefined ? { payload: JSON.stringify(opts.body) } : {}),
    });
    let parsed: unknown;
    try {
      parsed = res.body === '' ? undefined : JSON.parse(res.body);
    } catch {
      parsed = undefined;
    }
    return { status: res.statusCode, body: parsed, headers: res.headers, text: res.body };
  };
  return { token, admin, call };
}
