/**
 * A network service in this process for HTTP tests with `inject()`: a fresh database (SQLite by
 * default, or any URL from `freshDatabase`), tokens from a `FakeIdentityClient`, notifications
 * recorded, and builders for networks, subnets and ports.
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
import type { NotificationEnvelope } from '../../src/common/messaging/bus.ts';
import { InMemoryBus } from '../../src/common/messaging/in-memory-bus.ts';
import {
  createNetworkService,
  NETWORK_MIGRATIONS,
  NetworkConfigSchema,
} from '../../src/network/service.ts';
import { fakeAuth } from '../helpers/service-auth.ts';

export type Reply = { status: number; body: any; headers: Record<string, unknown>; text: string };

export type CallOptions = {
  /** Default: the admin token; null: none. */
  token?: string | null;
  body?: unknown;
  headers?: Record<string, string>;
};

export type Harness = {
  app: App;
  admin: string;
  /** A token for `project` with `roles` (default member and reader). */
  token(project: string, roles?: readonly string[]): string;
  call(method: string, url: string, options?: CallOptions): Promise<Reply>;
  /** Creates a network (as `token`, default admin) and returns its body. */
  network(name: string, attrs?: Record<string, unknown>, token?: string): Promise<any>;
  subnet(
    networkId: string,
    cidr: string,
    attrs?: Record<string, unknown>,
    token?: string,
  ): Promise<any>;
  port(networkId: string, attrs?: Record<string, unknown>, token?: string): Promise<any>;
  /** Notifications published so far. */
  notifications: NotificationEnvelope[];
};

export type Cleanup = { after(fn: () => Promise<void>): void };

export async function networkHarness(
  t: Cleanup,
  options: { databaseUrl?: string; network?: Record<string, unknown> } = {},
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'ts-network-'));
  const config = loadConfigWith(withSections({ network: NetworkConfigSchema }), {
    env: {},
    overrides: { data_dir: dir, network: options.network ?? {} },
  });
  const database = await openDatabase<unknown>(
    options.databaseUrl ?? `sqlite:///${join(dir, 'network.db')}`,
  );
  const bus = new InMemoryBus();
  const { auth, identity } = fakeAuth();
  const started: { service?: ReturnType<typeof createNetworkService> } = {};
  t.after(async () => {
    await started.service?.app.close();
    await started.service?.close();
    await database.close();
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await migrate(database, 'network', NETWORK_MIGRATIONS);
  const notifications: NotificationEnvelope[] = [];
  await bus.onNotification({}, (n) => {
    notifications.push(n);
  });
  const service = createNetworkService(
    { config, logger: silentLogger(), database, bus, auth },
    config.network,
  );
  started.service = service;
  await service.app.ready();
  const app = service.app;
  const token: Harness['token'] = (project, roles = ['member', 'reader']) =>
    identity.issueToken({ project: { id: project, name: project }, roles });
  const admin = token('admin-project', ['admin', 'member', 'reader']);
  const call: Harness['call'] = async (method, url, opts = {}) => {
    const tok = opts.token === undefined ? admin : opts.token;
    const res = await app.inject({
      method: method as 'GET',
      url,
      headers: {
        accept: 'application/json',
        ...(tok !== null ? { 'x-auth-token': tok } : {}),
        ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...opts.headers,
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
  const create = async (
    kind: string,
    body: Record<string, unknown>,
    tok?: string,
  ): Promise<any> => {
    const res = await call('POST', `/v2.0/${kind}s`, {
      body: { [kind]: body },
      token: tok ?? admin,
    });
    if (res.status !== 201) throw new Error(`create ${kind}: ${res.status} ${res.text}`);
    return res.body[kind];
  };
  return {
    app,
    admin,
    token,
    call,
    notifications,
    network: (name, attrs = {}, tok) => create('network', { name, ...attrs }, tok),
    subnet: (networkId, cidr, attrs = {}, tok) =>
      create(
        'subnet',
        { network_id: networkId, cidr, ip_version: cidr.includes(':') ? 6 : 4, ...attrs },
        tok,
      ),
    port: (networkId, attrs = {}, tok) => create('port', { network_id: networkId, ...attrs }, tok),
  };
}

/** The `NeutronError` of an error reply. */
export function neutronError(reply: Reply): { type: string; message: string; detail: string } {
  return reply.body?.NeutronError;
}
