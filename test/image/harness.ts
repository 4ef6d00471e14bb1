/**
 * An image service in this process for HTTP tests with `inject()`: a fresh database (SQLite by
 * default, or any URL from `freshDatabase`), tokens from a `FakeIdentityClient`.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-return --
   response bodies are untyped JSON these tests assert on field by field. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { Kysely } from 'kysely';
import { loadConfigWith } from '../../src/common/config/load.ts';
import { withSections } from '../../src/common/config/schema.ts';
import { openDatabase } from '../../src/common/db/database.ts';
import { migrate } from '../../src/common/db/migrate.ts';
import type { App } from '../../src/common/http/app.ts';
import { silentLogger } from '../../src/common/logging.ts';
import { InMemoryBus } from '../../src/common/messaging/in-memory-bus.ts';
import {
  createImageService,
  imageDataDir,
  IMAGE_MIGRATIONS,
  ImageConfigSchema,
  type ImageConfig,
} from '../../src/image/service.ts';
import type { ImageDatabase } from '../../src/image/db/schema.ts';
import { fakeAuth } from '../helpers/service-auth.ts';

export const PATCH = 'application/openstack-images-v2.1-json-patch';

export type Reply = { status: number; body: any; headers: Record<string, unknown>; text: string };

export type Harness = {
  app: App;
  /** A token for `project` with `roles` (default member+reader). */
  token(project: string, roles?: readonly string[]): string;
  admin: string;
  call(
    method: string,
    url: string,
    token: string | undefined,
    body?: unknown,
    contentType?: string,
  ): Promise<Reply>;
  /** Creates an image as `token`, asserting 201. */
  create(token: string, body?: Record<string, unknown>): Promise<any>;
  /** Where the file store keeps image data. */
  dataDir: string;
  /**
   * Stops the service and starts a new one on the same database and files, as after a crash,
   * with the clock moved on by `advanceMs`; `app` then names the new one.
   */
  restart(advanceMs?: number): Promise<void>;
  /** The image database, to set up states only a crash leaves behind. */
  db: Kysely<ImageDatabase>;
};

export async function imageHarness(
  t: TestContext,
  options: { image?: Partial<ImageConfig>; databaseUrl?: string } = {},
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'ts-image-'));
  const config = loadConfigWith(withSections({ image: ImageConfigSchema }), {
    env: {},
    overrides: { data_dir: dir, image: { ...options.image } },
  });
  const database = await openDatabase<unknown>(
    options.databaseUrl ?? `sqlite:///${join(dir, 'image.db')}`,
  );
  await migrate(database, 'image', IMAGE_MIGRATIONS);
  const bus = new InMemoryBus();
  const { auth, identity } = fakeAuth();
  // Start-up recovery reads the clock once; the first image is created at 00:00:01.
  let clock = Date.parse('2023-12-31T23:59:59Z');
  const start = () =>
    createImageService(
      { config, logger: silentLogger(), database, bus, auth },
      config.image,
      // Each call a second later, so created_at orders images deterministically.
      { now: () => new Date((clock += 1000)) },
    );
  // Registered before the service starts, so a start-up failure a test expects leaks nothing.
  let service: Awaited<ReturnType<typeof start>> | undefined;
  t.after(async () => {
    await service?.app.close();
    await service?.close();
    await database.close();
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  });
  service = await start();
  await service.app.ready();
  let app = service.app;
  const token: Harness['token'] = (project, roles = ['member', 'reader']) =>
    identity.issueToken({ project: { id: project, name: project }, roles });
  const call: Harness['call'] = async (method, url, tok, body, contentType) => {
    const res = await current().inject({
      method: method as 'GET',
      url,
      headers: {
        accept: 'application/json',
        ...(tok !== undefined ? { 'x-auth-token': tok } : {}),
        ...(body !== undefined ? { 'content-type': contentType ?? 'application/json' } : {}),
      },
      ...(body !== undefined
        ? { payload: typeof body === 'string' ? body : JSON.stringify(body) }
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
  const create: Harness['create'] = async (tok, body = {}) => {
    const res = await call('POST', '/v2/images', tok, body);
    if (res.status !== 201) throw new Error(`create: ${res.status} ${res.text}`);
    return res.body;
  };
  const restart: Harness['restart'] = async (advanceMs = 0) => {
    await service?.app.close();
    await service?.close();
    clock += advanceMs;
    service = await start();
    await service.app.ready();
    app = service.app;
    harness.app = app;
  };
  const current = () => app;
  const harness: Harness = {
    app,
    restart,
    db: database.db,
    token,
    admin: token('admin-project', ['admin', 'member', 'reader']),
    call,
    create,
    dataDir: imageDataDir(dir, config.image),
  };
  return harness;
}
