/**
 * Durable compute work under kill -9: the APIs run in one `tstack up`, the conductor and the
 * compute agents (four fake hypervisors) in two `tstack serve compute` processes on PostgreSQL
 * and RabbitMQ. While 200 boots are under way, the conductor and then the agents are killed
 * with SIGKILL and started again. Afterwards every instance is ACTIVE or ERROR with a fault,
 * and placement holds exactly one allocation per ACTIVE instance and nothing else.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return --
   response bodies are untyped JSON this test asserts on field by field. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import { SERVICE_NAMES } from '../../src/common/config/schema.ts';
import { createTestVhost } from '../common/messaging/rabbitmq-harness.ts';
import { freshDatabase } from '../helpers/databases.ts';
import { freePorts } from '../helpers/ports.ts';
import { runTstack, type Running } from '../helpers/process.ts';

const BOOTS = 200;
const CONCURRENCY = 25;

const dataDir = mkdtempSync(join(tmpdir(), 'ts-kill-'));
const running: Running[] = [];
after(async () => {
  for (const r of running) {
    if (r.child.exitCode === null && r.child.signalCode === null && r.child.pid !== undefined) {
      process.kill(r.child.pid, 'SIGTERM');
      const timer = setTimeout(() => r.kill(), 10_000);
      await r.exited;
      clearTimeout(timer);
    }
  }
  rmSync(dataDir, { recursive: true, force: true });
});

describe('compute under kill -9', { timeout: 300_000 }, () => {
  it('200 boots survive killing the conductor and the agents; placement matches the instances', async (t) => {
    const database = await freshDatabase(t, 'postgres');
    const vhost = await createTestVhost();
    t.after(() => vhost.remove());
    const ports = await freePorts(SERVICE_NAMES.length + 2);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env['PATH'],
      HOME: process.env['HOME'],
      TSTACK_IDENTITY__PASSWORD_HASH_ROUNDS: '4',
      TSTACK_MESSAGING__URL: vhost.url,
      TSTACK_SERVICES__COMPUTE__DATABASE_URL: database.url,
      TSTACK_COMPUTE__CONDUCTOR: 'false',
      TSTACK_COMPUTE__FAKE_HOSTS: '0',
      TSTACK_COMPUTE__QEMU_HOSTS: '0',
      // Short periods, so a dead worker's tasks and a dead host are noticed within seconds.
      TSTACK_COMPUTE__TASK_LEASE: '4',
      TSTACK_COMPUTE__TASK_SWEEP_INTERVAL: '1',
      TSTACK_COMPUTE__REPORT_INTERVAL: '1',
      TSTACK_COMPUTE__SERVICE_DOWN_TIME: '6',
      TSTACK_COMPUTE__SYNC_POWER_STATE_INTERVAL: '2',
      TSTACK_COMPUTE__QUOTAS__INSTANCES: '-1',
      TSTACK_COMPUTE__QUOTAS__CORES: '-1',
      TSTACK_COMPUTE__QUOTAS__RAM: '-1',
      TSTACK_NETWORK__QUOTAS__PORT: '-1',
      TSTACK_IMAGE__TEST_IMAGE: 'true',
    };
    SERVICE_NAMES.forEach((n, i) => {
      env[`TSTACK_SERVICES__${n.toUpperCase()}__PORT`] = String(ports[i]);
    });
    const computePort = env['TSTACK_SERVICES__COMPUTE__PORT'];
    const up = runTstack(['up', '--data-dir', dataDir], env);
    running.push(up);
    await up.waitFor(/ready\./, 90_000);

    const worker = (role: 'conductor' | 'agents'): Running => {
      const r = runTstack(['serve', 'compute', '--data-dir', dataDir], {
        ...env,
        TSTACK_SERVICES__COMPUTE__PORT: String(
          ports[SERVICE_NAMES.length + (role === 'conductor' ? 0 : 1)],
        ),
        TSTACK_COMPUTE__CONDUCTOR: role === 'conductor' ? 'true' : 'false',
        TSTACK_COMPUTE__FAKE_HOSTS: role === 'agents' ? '4' : '0',
        TSTACK_COMPUTE__QEMU_HOSTS: '0',
        TSTACK_COMPUTE__DEFAULT_FLAVORS: 'false',
      });
      running.push(r);
      return r;
    };
    let conductor = worker('conductor');
    let agents = worker('agents');
    await Promise.all([conductor.waitFor(/compute\s+http/), agents.waitFor(/compute\s+http/)]);

    // The admin of clouds.yaml, and the cloud's own URLs.
    const clouds = parse(readFileSync(join(dataDir, 'clouds.yaml'), 'utf8'));
    const auth = clouds.clouds.tstack.auth;
    const tokenRes = await fetch(`${auth.auth_url}/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: {
            methods: ['password'],
            password: {
              user: { name: auth.username, password: auth.password, domain: { name: 'Default' } },
            },
          },
          scope: { project: { name: auth.project_name, domain: { name: 'Default' } } },
        },
      }),
    });
    assert.equal(tokenRes.status, 201);
    const token = tokenRes.headers.get('x-subject-token') as string;
    const call = async (
      port: string | number | undefined,
      method: string,
      path: string,
      body?: unknown,
    ) => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, {
        method,
        headers: {
          'x-auth-token': token,
          accept: 'application/json',
          'openstack-api-version': 'placement 1.39',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
    };
    const compute = (method: string, path: string, body?: unknown) =>
      call(computePort, method, `/v2.1${path}`, body);
    const placement = (method: string, path: string) =>
      call(env['TSTACK_SERVICES__PLACEMENT__PORT'], method, path);

    // Four hosts up; the default network and the test image from `tstack up`.
    for (let i = 0; ; i++) {
      const services = await compute('GET', '/os-services?binary=nova-compute');
      if (services.body.services.filter((s: any) => s.state === 'up').length === 4) break;
      if (i > 100) throw new Error(`agents did not come up: ${JSON.stringify(services.body)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const network = (
      await call(env['TSTACK_SERVICES__NETWORK__PORT'], 'GET', '/v2.0/networks?name=private')
    ).body.networks[0].id;
    const image = (
      await call(env['TSTACK_SERVICES__IMAGE__PORT'], 'GET', '/v2/images?name=tstack-test')
    ).body.images[0].id;

    // 200 boots, 25 at a time; the conductor dies after the first 50, the agents after 100.
    const ids: string[] = [];
    let next = 0;
    const building = async (): Promise<number> =>
      (await compute('GET', '/servers?status=BUILD&limit=1000')).body.servers.length;
    const inFlight = { conductor: 0, agents: 0 };
    const bootOne = async (): Promise<void> => {
      while (next < BOOTS) {
        const n = next++;
        if (n === 50) {
          inFlight.conductor = await building();
          conductor.kill();
          await conductor.exited;
          conductor = worker('conductor');
        }
        if (n === 100) {
          inFlight.agents = await building();
          agents.kill();
          await agents.exited;
          agents = worker('agents');
        }
        const r = await compute('POST', '/servers', {
          server: { name: `k${n}`, imageRef: image, flavorRef: '1', networks: [{ uuid: network }] },
        });
        assert.equal(r.status, 202, JSON.stringify(r.body));
        ids.push(r.body.server.id);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, bootOne));
    assert.equal(ids.length, BOOTS);
    await Promise.all([conductor.waitFor(/compute\s+http/), agents.waitFor(/compute\s+http/)]);

    // Everything settles: no instance stays in BUILD or in a task state.
    let servers: any[] = [];
    for (let i = 0; ; i++) {
      servers = (await compute('GET', '/servers/detail?limit=1000')).body.servers;
      const busy = servers.filter(
        (s) => s.status === 'BUILD' || s['OS-EXT-STS:task_state'] !== null,
      );
      if (servers.length === BOOTS && busy.length === 0) break;
      if (i > 600)
        throw new Error(
          `${busy.length} instance(s) still busy: ${busy
            .slice(0, 3)
            .map((s) => `${s.id} ${s.status} ${s['OS-EXT-STS:task_state']}`)
            .join('; ')}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const active = servers.filter((s) => s.status === 'ACTIVE');
    t.diagnostic(
      `in BUILD when killed: conductor ${inFlight.conductor}, agents ${inFlight.agents}; ${active.length} of ${BOOTS} ACTIVE`,
    );
    // The kills hit work in flight, or the test proves nothing.
    assert.ok(inFlight.conductor > 0 && inFlight.agents > 0, JSON.stringify(inFlight));
    for (const s of servers) {
      assert.ok(
        s.status === 'ACTIVE' || (s.status === 'ERROR' && s.fault?.message),
        `${s.id}: ${s.status}`,
      );
    }
    assert.ok(active.length >= BOOTS * 0.9, `only ${active.length} of ${BOOTS} ACTIVE`);

    // Placement: exactly one m1.tiny allocation per ACTIVE instance, on its host, and no others.
    const providers = (await placement('GET', '/resource_providers')).body.resource_providers;
    const consumers = new Map<string, { provider: string; resources: any }>();
    for (const rp of providers) {
      const allocations = (await placement('GET', `/resource_providers/${rp.uuid}/allocations`))
        .body.allocations;
      for (const [consumer, a] of Object.entries<any>(allocations)) {
        assert.ok(!consumers.has(consumer), `${consumer} holds allocations on two providers`);
        consumers.set(consumer, { provider: rp.name, resources: a.resources });
      }
    }
    assert.deepEqual(
      [...consumers.keys()].sort(),
      active.map((s) => s.id).sort(),
      'placement consumers are exactly the ACTIVE instances',
    );
    for (const s of active) {
      const held = consumers.get(s.id);
      assert.equal(held?.provider, s['OS-EXT-SRV-ATTR:hypervisor_hostname']);
      assert.deepEqual(held?.resources, { VCPU: 1, MEMORY_MB: 512, DISK_GB: 1 });
    }

    // And every delete leaves nothing behind.
    for (let i = 0; i < servers.length; i += CONCURRENCY)
      await Promise.all(
        servers.slice(i, i + CONCURRENCY).map((s) => compute('DELETE', `/servers/${s.id}`)),
      );
    for (let i = 0; ; i++) {
      const left = (await compute('GET', '/servers?limit=1000')).body.servers.length;
      if (left === 0) break;
      if (i > 300) throw new Error(`${left} server(s) not deleted`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    for (const rp of providers) {
      const allocations = (await placement('GET', `/resource_providers/${rp.uuid}/allocations`))
        .body.allocations;
      assert.deepEqual(allocations, {}, `${rp.name} still holds allocations`);
    }
    const leftPorts = (
      await call(
        env['TSTACK_SERVICES__NETWORK__PORT'],
        'GET',
        '/v2.0/ports?device_owner=compute:nova',
      )
    ).body.ports;
    assert.equal(leftPorts.length, 0);
  });
});
