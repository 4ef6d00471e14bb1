/**
 * A compute service in this process for HTTP tests with `inject()`: a fresh database, tokens
 * from a `FakeIdentityClient` for named users and projects, requests at a chosen microversion.
 *
 * With `servers`, the services compute calls run too, for real and listening on loopback
 * (placement, network and image, each on its own SQLite file), and the compute service runs a
 * conductor and one agent per fake hypervisor, so a boot goes the whole way: scheduler,
 * placement claim, ports through the network API, the fake driver, ACTIVE.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-return --
   response bodies are untyped JSON these tests assert on field by field. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { loadConfigWith } from '../../src/common/config/load.ts';
import { withSections } from '../../src/common/config/schema.ts';
import { openDatabase, type DatabaseHandle } from '../../src/common/db/database.ts';
import { migrate, type Migration } from '../../src/common/db/migrate.ts';
import { silentLogger } from '../../src/common/logging.ts';
import type { NotificationEnvelope } from '../../src/common/messaging/bus.ts';
import { InMemoryBus } from '../../src/common/messaging/in-memory-bus.ts';
import type { Service, ServiceContext } from '../../src/common/service.ts';
import {
  COMPUTE_MIGRATIONS,
  ComputeConfigSchema,
  createComputeService,
  type ComputeService,
} from '../../src/compute/service.ts';
import { FakeDriver, type FakeDriverOptions } from '../../src/compute/virt/fake/fake-driver.ts';
import { HttpImageClient } from '../../src/image/client.ts';
import {
  createImageService,
  IMAGE_MIGRATIONS,
  ImageConfigSchema,
} from '../../src/image/service.ts';
import { HttpNetworkClient } from '../../src/network/client.ts';
import {
  createNetworkService,
  NETWORK_MIGRATIONS,
  NetworkConfigSchema,
} from '../../src/network/service.ts';
import { HttpPlacementClient } from '../../src/placement/client.ts';
import {
  createPlacementService,
  PLACEMENT_MIGRATIONS,
  PlacementConfigSchema,
} from '../../src/placement/service.ts';
import { fakeAuth } from '../helpers/service-auth.ts';

export type Reply = { status: number; body: any; headers: Record<string, unknown>; text: string };

export type CallOptions = { token?: string; body?: unknown; version?: string };

export type Harness = {
  /** A token for `user` in `project` with `roles` (default member, reader). */
  token(user: string, project: string, roles?: readonly string[]): string;
  admin: string;
  call(method: string, url: string, options?: CallOptions): Promise<Reply>;
  service: ComputeService;
  /** Notifications published so far. */
  notifications: NotificationEnvelope[];
  /** Compute's own database, for setting up a state no API call leaves (a move half-way). */
  computeDb: DatabaseHandle<unknown>['db'];
};

export type ServersHarness = Harness & {
  drivers: FakeDriver[];
  /** A call to another service: `network`, `placement` or `image`. */
  neighbour(
    service: 'network' | 'placement' | 'image',
    method: string,
    url: string,
    options?: CallOptions,
  ): Promise<Reply>;
  /** A public, active image everyone may boot. */
  imageId: string;
  /** Makes another public, active image; returns its id. */
  makeImage(name: string): Promise<string>;
  /** A shared network with an IPv4 subnet in 198.18.0.0/24. */
  networkId: string;
  /** Polls the server (as admin) until `done` says so, at most `ms` milliseconds. */
  waitFor(id: string, done: (server: any) => boolean, ms?: number): Promise<any>;
};

export type Cleanup = { after(fn: () => Promise<void>): void };

export type HarnessOptions = {
  defaultFlavors?: boolean;
  databaseUrl?: string;
  compute?: Record<string, unknown>;
  /** The compute service's clock (tasks, heartbeats, timestamps); the real one by default. */
  now?: () => Date;
};

type Opened = { database: DatabaseHandle<unknown>; service?: Service };

async function parse(res: {
  statusCode: number;
  body: string;
  headers: Record<string, unknown>;
}): Promise<Reply> {
  let parsed: unknown;
  try {
    parsed = res.body === '' ? undefined : JSON.parse(res.body);
  } catch {
    parsed = undefined;
  }
  return { status: res.statusCode, body: parsed, headers: res.headers, text: res.body };
}

async function setUp(
  t: Cleanup,
  options: HarnessOptions & { hosts?: FakeDriverOptions[] },
): Promise<Harness & { drivers: FakeDriver[]; neighbours: Map<string, Service> }> {
  const dir = mkdtempSync(join(tmpdir(), 'ts-compute-'));
  const config = loadConfigWith(
    withSections({
      compute: ComputeConfigSchema,
      placement: PlacementConfigSchema,
      network: NetworkConfigSchema,
      image: ImageConfigSchema,
    }),
    {
      env: {},
      overrides: {
        data_dir: dir,
        compute: {
          default_flavors: options.defaultFlavors ?? true,
          // Tests drive the sweep and reconcile themselves.
          task_sweep_interval: 0,
          sync_power_state_interval: 0,
          report_interval: 0,
          scheduler_cache_seconds: 0,
          ...options.compute,
        },
      },
    },
  );
  const bus = new InMemoryBus();
  const { auth, identity } = fakeAuth(['admin', 'service']);
  const opened: Opened[] = [];
  t.after(async () => {
    for (const o of [...opened].reverse()) {
      await o.service?.app.close();
      await o.service?.close();
      await o.database.close();
    }
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const notifications: NotificationEnvelope[] = [];
  await bus.onNotification({}, (n) => {
    notifications.push(n);
  });
  const open = async (name: string, migrations: readonly Migration[], url?: string) => {
    const database = await openDatabase<unknown>(url ?? `sqlite:///${join(dir, `${name}.db`)}`);
    const o: Opened = { database };
    opened.push(o);
    await migrate(database, name, migrations);
    return o;
  };
  const ctx = (database: DatabaseHandle<unknown>): ServiceContext => ({
    config,
    logger: silentLogger(),
    database,
    bus,
    auth,
  });
  const neighbours = new Map<string, Service>();
  const urls = new Map<string, string>();
  const hosts = options.hosts;
  if (hosts !== undefined) {
    const starts: [
      string,
      readonly Migration[],
      (c: ServiceContext) => Promise<Service> | Service,
    ][] = [
      ['placement', PLACEMENT_MIGRATIONS, (c) => createPlacementService(c, config.placement)],
      ['network', NETWORK_MIGRATIONS, (c) => createNetworkService(c, config.network)],
      ['image', IMAGE_MIGRATIONS, (c) => createImageService(c, config.image)],
    ];
    for (const [name, migrations, create] of starts) {
      const o = await open(name, migrations);
      const service = await create(ctx(o.database));
      o.service = service;
      await service.app.listen({ host: '127.0.0.1', port: 0 });
      const { port } = service.app.server.address() as AddressInfo;
      urls.set(name, `http://127.0.0.1:${port}`);
      neighbours.set(name, service);
    }
  }
  const unused = 'http://127.0.0.1:9';
  const token = () => auth.serviceToken();
  const drivers = (hosts ?? []).map((h) => new FakeDriver(h));
  const o = await open('compute', COMPUTE_MIGRATIONS, options.databaseUrl);
  const service = await createComputeService(
    ctx(o.database),
    config.compute,
    {
      placement: new HttpPlacementClient({ baseUrl: urls.get('placement') ?? unused, token }),
      network: new HttpNetworkClient({ baseUrl: urls.get('network') ?? unused, token }),
      images: new HttpImageClient({ baseUrl: urls.get('image') ?? unused, token }),
    },
    drivers.map((driver, i) => ({ host: hosts?.[i]?.hostname ?? `host-${i}`, driver })),
    options.now !== undefined ? { now: options.now } : {},
  );
  o.service = service;
  await service.app.ready();
  await service.agentsReady;
  const tokenFor: Harness['token'] = (user, project, roles = ['member', 'reader']) =>
    identity.issueToken({
      userId: user,
      userName: user,
      project: { id: project, name: project },
      roles,
    });
  const admin = tokenFor('admin', 'admin-project', ['admin', 'member', 'reader']);
  const call: Harness['call'] = async (method, url, opts = {}) =>
    parse(
      await service.app.inject({
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
      }),
    );
  return {
    token: tokenFor,
    admin,
    call,
    service,
    notifications,
    drivers,
    neighbours,
    computeDb: o.database.db,
  };
}

export async function computeHarness(t: Cleanup, options: HarnessOptions = {}): Promise<Harness> {
  return setUp(t, options);
}

/** A whole compute path: real neighbours on loopback, a conductor, agents on fake hosts. */
export async function serversHarness(
  t: Cleanup,
  options: HarnessOptions & { hosts?: FakeDriverOptions[] } = {},
): Promise<ServersHarness> {
  const hosts = options.hosts ?? [{ hostname: 'host-1' }, { hostname: 'host-2' }];
  const h = await setUp(t, { ...options, hosts });
  const neighbour: ServersHarness['neighbour'] = async (name, method, url, opts = {}) => {
    const service = h.neighbours.get(name);
    if (service === undefined) throw new Error(`no ${name} service`);
    return parse(
      await service.app.inject({
        method: method as 'GET',
        url,
        headers: {
          accept: 'application/json',
          'x-auth-token': opts.token ?? h.admin,
          ...(name === 'placement' ? { 'openstack-api-version': 'placement 1.39' } : {}),
          ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(opts.body !== undefined ? { payload: JSON.stringify(opts.body) } : {}),
      }),
    );
  };
  const must = async (r: Promise<Reply>, status: number, what: string): Promise<Reply> => {
    const reply = await r;
    if (reply.status !== status) throw new Error(`${what}: ${reply.status} ${reply.text}`);
    return reply;
  };
  const makeImage = async (name: string): Promise<string> => {
    const image = await must(
      neighbour('image', 'POST', '/v2/images', {
        body: { name, disk_format: 'raw', container_format: 'bare', visibility: 'public' },
      }),
      201,
      'create image',
    );
    const id = image.body.id as string;
    const upload = await h.neighbours.get('image')?.app.inject({
      method: 'PUT',
      url: `/v2/images/${id}/file`,
      headers: { 'x-auth-token': h.admin, 'content-type': 'application/octet-stream' },
      payload: Buffer.alloc(1024),
    });
    if (upload?.statusCode !== 204) throw new Error(`upload image: ${upload?.statusCode}`);
    return id;
  };
  const imageId = await makeImage('test');
  const net = await must(
    neighbour('network', 'POST', '/v2.0/networks', {
      body: { network: { name: 'shared', shared: true } },
    }),
    201,
    'create network',
  );
  const networkId = net.body.network.id as string;
  await must(
    neighbour('network', 'POST', '/v2.0/subnets', {
      body: { subnet: { network_id: networkId, cidr: '198.18.0.0/24', ip_version: 4 } },
    }),
    201,
    'create subnet',
  );
  const waitFor: ServersHarness['waitFor'] = async (id, done, ms = 5000) => {
    const until = Date.now() + ms;
    for (;;) {
      const r = await h.call('GET', `/v2.1/servers/${id}`);
      if (r.status === 200 && done(r.body.server)) return r.body.server;
      if (r.status === 404 && done(undefined)) return undefined;
      if (Date.now() > until)
        throw new Error(`server ${id} did not get there in ${ms} ms: ${r.status} ${r.text}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  return { ...h, neighbour, imageId, makeImage, networkId, waitFor };
}

/** A server no longer building and with no task in progress. */
export const settled = (s: any): boolean =>
  s?.['OS-EXT-STS:task_state'] === null && s?.status !== 'BUILD';

type BootOptions = { token?: string; server?: Record<string, unknown> };

/**
 * `POST /servers` for a server named `vm` on the shared network (fields of `server` override),
 * as `token` (the admin by default); returns the reply, whatever it is.
 */
export function bootServer(h: ServersHarness, options: BootOptions = {}) {
  return h.call('POST', '/v2.1/servers', {
    body: {
      server: {
        name: 'vm',
        imageRef: h.imageId,
        flavorRef: '1',
        networks: [{ uuid: h.networkId }],
        ...options.server,
      },
    },
    ...(options.token !== undefined ? { token: options.token } : {}),
  });
}

/**
 * Boots a server as `bootServer` does and waits until it is ACTIVE; returns it as an admin
 * sees it.
 */
export async function activeServer(h: ServersHarness, options: BootOptions = {}): Promise<any> {
  const created = await bootServer(h, options);
  assert.equal(created.status, 202, created.text);
  const server = await h.waitFor(created.body.server.id as string, settled);
  assert.equal(server.status, 'ACTIVE', JSON.stringify(server.fault));
  return server;
}

/** `POST /servers/{id}/action` with `body`. */
export function act(h: ServersHarness, id: string, body: unknown, options: CallOptions = {}) {
  return h.call('POST', `/v2.1/servers/${id}/action`, { body, ...options });
}

/**
 * Waits (5 s at most) until every `compute.instance.<event>` of `events` was published: a
 * worker announces the end of its work just after it records it, so a test that saw the
 * server settle may be a moment early. Returns the events still missing.
 */
export async function missingNotifications(
  h: Harness,
  events: readonly string[],
): Promise<string[]> {
  const deadline = Date.now() + 5000;
  const missing = () =>
    events.filter((e) => !h.notifications.some((n) => n.event_type === `compute.instance.${e}`));
  while (missing().length > 0 && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 5));
  return missing();
}
