/**
 * A placement service in this process for HTTP tests with `inject()`: a fresh database (SQLite
 * by default, or any URL from `freshDatabase`), tokens from a `FakeIdentityClient`, and helpers
 * that build provider trees the way upstream's functional fixtures do.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-return --
   response bodies are untyped JSON these tests assert on field by field. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigWith } from '../../src/common/config/load.ts';
import { withSections } from '../../src/common/config/schema.ts';
import { openDatabase } from '../../src/common/db/database.ts';
import { migrate } from '../../src/common/db/migrate.ts';
import type { App } from '../../src/common/http/app.ts';
import { silentLogger } from '../../src/common/logging.ts';
import { InMemoryBus } from '../../src/common/messaging/in-memory-bus.ts';
import {
  createPlacementService,
  PLACEMENT_MIGRATIONS,
  PlacementConfigSchema,
} from '../../src/placement/service.ts';
import { fakeAuth } from '../helpers/service-auth.ts';

export type Reply = { status: number; body: any; headers: Record<string, unknown>; text: string };

export type ProviderSpec = {
  parent?: string;
  /** Class → total, or → full inventory fields. */
  inventory?: Record<string, number | Record<string, number>>;
  traits?: readonly string[];
  aggregates?: readonly string[];
};

export type Harness = {
  app: App;
  /** An admin token (the role placement's default policy asks for). */
  admin: string;
  /** A token for `project` with `roles`. */
  token(project: string, roles: readonly string[]): string;
  /** A request at microversion `version` (default 1.39) as `token` (default admin). */
  call(
    method: string,
    url: string,
    options?: { version?: string; token?: string | null; body?: unknown },
  ): Promise<Reply>;
  /** Creates a provider with inventory, traits and aggregates; returns its uuid. */
  provider(name: string, spec?: ProviderSpec): Promise<string>;
};

/** Where the harness registers its cleanup: a test (`t`) or a suite (`{ after }`). */
export type Cleanup = { after(fn: () => Promise<void>): void };

export async function placementHarness(
  t: Cleanup,
  options: { databaseUrl?: string; randomize?: boolean } = {},
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'ts-placement-'));
  const config = loadConfigWith(withSections({ placement: PlacementConfigSchema }), {
    env: {},
    overrides: {
      data_dir: dir,
      placement: { randomize_allocation_candidates: options.randomize ?? false },
    },
  });
  const database = await openDatabase<unknown>(
    options.databaseUrl ?? `sqlite:///${join(dir, 'placement.db')}`,
  );
  const bus = new InMemoryBus();
  const { auth, identity } = fakeAuth();
  const started: { service?: Awaited<ReturnType<typeof createPlacementService>> } = {};
  t.after(async () => {
    await started.service?.app.close();
    await started.service?.close();
    await database.close();
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await migrate(database, 'placement', PLACEMENT_MIGRATIONS);
  const service = await createPlacementService(
    { config, logger: silentLogger(), database, bus, auth },
    config.placement,
  );
  started.service = service;
  await service.app.ready();
  const app = service.app;
  const token: Harness['token'] = (project, roles) =>
    identity.issueToken({ project: { id: project, name: project }, roles });
  const admin = token('admin-project', ['admin', 'member', 'reader']);
  const call: Harness['call'] = async (method, url, opts = {}) => {
    const tok = opts.token === undefined ? admin : opts.token;
    const res = await app.inject({
      method: method as 'GET',
      url,
      headers: {
        accept: 'application/json',
        'openstack-api-version': `placement ${opts.version ?? '1.39'}`,
        ...(tok !== null ? { 'x-auth-token': tok } : {}),
        ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(opts.body !== undefined
        ? { payload: typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body) }
        : {}),
    });
    let parsed: unknown;
    try {
      parsed = res.body === '' ? undefined : JSON.parse(res.body);
    } catch {
      parsed = undefined;
    }
    return { status: res.statusCode, body: parsed, headers: res.headers, text: res.body };
  };
  const must = async (res: Promise<Reply>, status: number, what: string): Promise<Reply> => {
    const r = await res;
    if (r.status !== status) throw new Error(`${what}: ${r.status} ${r.text}`);
    return r;
  };
  const provider: Harness['provider'] = async (name, spec = {}) => {
    const created = await must(
      call('POST', '/resource_providers', {
        body: { name, ...(spec.parent !== undefined ? { parent_provider_uuid: spec.parent } : {}) },
      }),
      200,
      `create ${name}`,
    );
    const uuid = created.body.uuid as string;
    let generation = created.body.generation as number;
    if (spec.inventory) {
      const inventories: Record<string, Record<string, number>> = {};
      for (const [rc, v] of Object.entries(spec.inventory))
        inventories[rc] = typeof v === 'number' ? { total: v } : v;
      const r = await must(
        call('PUT', `/resource_providers/${uuid}/inventories`, {
          body: { resource_provider_generation: generation, inventories },
        }),
        200,
        `inventory of ${name}`,
      );
      generation = r.body.resource_provider_generation as number;
    }
    if (spec.traits) {
      for (const trait of spec.traits)
        if (trait.startsWith('CUSTOM_')) await call('PUT', `/traits/${trait}`);
      const r = await must(
        call('PUT', `/resource_providers/${uuid}/traits`, {
          body: { traits: spec.traits, resource_provider_generation: generation },
        }),
        200,
        `traits of ${name}`,
      );
      generation = r.body.resource_provider_generation as number;
    }
    if (spec.aggregates)
      await must(
        call('PUT', `/resource_providers/${uuid}/aggregates`, {
          body: { aggregates: spec.aggregates, resource_provider_generation: generation },
        }),
        200,
        `aggregates of ${name}`,
      );
    return uuid;
  };
  return { app, admin, token, call, provider };
}

/** The upstream error body's first error. */
export function firstError(reply: Reply): { status: number; detail: string; code: string } {
  return reply.body.errors[0];
}
