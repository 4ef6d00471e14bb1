import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SERVICE_NAMES, type ServiceName } from '../../src/common/config/schema.ts';
import { freePorts } from '../helpers/ports.ts';
import { runTstack, type Running } from '../helpers/process.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'ts-up-'));
const running: Running[] = [];
after(() => {
  for (const r of running) r.kill();
  rmSync(dataDir, { recursive: true, force: true });
});

async function portEnv(): Promise<{ env: NodeJS.ProcessEnv; ports: Record<ServiceName, number> }> {
  const free = await freePorts(SERVICE_NAMES.length);
  const ports = Object.fromEntries(SERVICE_NAMES.map((n, i) => [n, free[i]])) as Record<
    ServiceName,
    number
  >;
  const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'], HOME: process.env['HOME'] };
  for (const n of SERVICE_NAMES)
    env[`TSTACK_SERVICES__${n.toUpperCase()}__PORT`] = String(ports[n]);
  return { env, ports };
}

function start(args: string[], env: NodeJS.ProcessEnv): Running {
  const r = runTstack(args, env);
  running.push(r);
  return r;
}

async function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('tstack up: the all-in-one cloud', { timeout: 60_000 }, () => {
  it('starts every service, answers each version document, logs JSON with request ids, and stops cleanly on SIGTERM', async () => {
    const { env, ports } = await portEnv();
    const up = start(['up', '--data-dir', dataDir], env);
    await up.waitFor(/ready\./);
    for (const n of SERVICE_NAMES)
      assert.match(up.stdout(), new RegExp(`${n}\\s+http://127\\.0\\.0\\.1:${ports[n]}`));

    const root = async (n: ServiceName, path = '/') =>
      fetch(`http://127.0.0.1:${ports[n]}${path}`, { headers: { accept: 'application/json' } });
    const identity = await root('identity');
    assert.equal(identity.status, 300);
    const idDoc = (await identity.json()) as {
      versions: { values: { id: string; links: { href: string }[] }[] };
    };
    assert.equal(idDoc.versions.values[0]?.id, 'v3.14');
    assert.equal(
      idDoc.versions.values[0]?.links[0]?.href,
      `http://127.0.0.1:${ports.identity}/v3/`,
    );

    const compute = (await (await root('compute', '/v2.1/')).json()) as {
      version: { version: string; min_version: string };
    };
    assert.deepEqual([compute.version.min_version, compute.version.version], ['2.1', '2.93']);
    const placement = (await (await root('placement')).json()) as {
      versions: { max_version: string }[];
    };
    assert.equal(placement.versions[0]?.max_version, '1.39');
    assert.equal((await root('image')).status, 300);
    assert.equal(
      ((await (await root('network')).json()) as { versions: { id: string }[] }).versions[0]?.id,
      'v2.0',
    );
    assert.equal((await root('volume')).status, 300);
    assert.equal((await root('orchestration')).status, 300);
    assert.equal((await root('object', '/info')).status, 200);
    assert.equal((await root('telemetry')).status, 200);
    assert.match(await (await root('dashboard')).text(), /tstack/);
    const missing = await root('network', '/v2.0/nothing-here');
    assert.equal(missing.status, 404);
    assert.ok(((await missing.json()) as { NeutronError?: unknown }).NeutronError);

    up.child.kill('SIGTERM');
    assert.equal(await up.exited, 0);
    assert.match(up.stdout(), /stopped\./);
    for (const n of SERVICE_NAMES)
      assert.equal(await isListening(ports[n]), false, `${n} still listening`);

    const log = readFileSync(join(dataDir, 'logs', 'tstack.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const access = log.filter((l) => l['msg'] === 'request');
    assert.ok(access.length >= 10);
    assert.ok(
      access.every((l) => typeof l['request_id'] === 'string' && typeof l['service'] === 'string'),
    );
  });

  it('registers the test image once: a second start on the same data keeps it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ts-up-image-'));
    try {
      for (const expected of [/image tstack-test registered/, /image tstack-test present/]) {
        const { env } = await portEnv();
        const up = start(['up', '--data-dir', dir], env);
        await up.waitFor(/ready\./);
        assert.match(up.stdout(), expected);
        up.child.kill('SIGTERM');
        assert.equal(await up.exited, 0);
      }
      const files = readdirSync(join(dir, 'images')).filter((f) => !f.startsWith('.'));
      assert.equal(files.length, 1, 'one image file, not one per start');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a bad config value stops start-up with one line naming the key', async () => {
    const { env } = await portEnv();
    const up = start(['up', '--data-dir', dataDir], {
      ...env,
      TSTACK_SERVICES__COMPUTE__PORT: 'eighty',
    });
    assert.equal(await up.exited, 2);
    assert.equal(
      up.stderr().trim(),
      'tstack: config key \'services.compute.port\' (from TSTACK_SERVICES__COMPUTE__PORT): expected an integer from 1 to 65535, got "eighty"',
    );
  });

  it('a port already in use is one line naming the port and the key to change, and nothing is left listening', async () => {
    const { env, ports } = await portEnv();
    const first = start(['serve', 'image', '--data-dir', dataDir], env);
    await first.waitFor(/image\s+http/);
    const second = start(['up', '--data-dir', dataDir], env);
    assert.equal(await second.exited, 2);
    assert.match(
      second.stderr().trim(),
      new RegExp(
        `^tstack: port ${ports.image} on 127\\.0\\.0\\.1 is already in use \\(image\\); stop what holds it or set services\\.image\\.port \\(TSTACK_SERVICES__IMAGE__PORT\\)$`,
      ),
    );
    assert.equal(
      await isListening(ports.identity),
      false,
      'services started before the failure are closed',
    );
    first.child.kill('SIGINT');
    assert.equal(await first.exited, 0);
  });

  it('serve runs exactly one service', async () => {
    const { env, ports } = await portEnv();
    const serve = start(['serve', 'compute', '--data-dir', dataDir], env);
    await serve.waitFor(/compute\s+http/);
    const res = await fetch(`http://127.0.0.1:${ports.compute}/`);
    assert.equal(res.status, 200);
    assert.equal(await isListening(ports.identity), false);
    serve.child.kill('SIGTERM');
    assert.equal(await serve.exited, 0);
  });

  it('serve names the services it knows when given another', async () => {
    const { env } = await portEnv();
    const serve = start(['serve', 'cmopute', '--data-dir', dataDir], env);
    assert.equal(await serve.exited, 2);
    assert.match(
      serve.stderr().trim(),
      /^tstack: unknown service 'cmopute'; choose one of: identity, placement, image/,
    );
  });

  it('config show prints the effective configuration, environment included', async () => {
    const show = start(['config', 'show', '--data-dir', dataDir], {
      PATH: process.env['PATH'],
      HOME: process.env['HOME'],
      TSTACK_SERVICES__IMAGE__PORT: '19292',
      TSTACK_LOG__LEVEL: 'debug',
    });
    assert.equal(await show.exited, 0);
    const config = JSON.parse(show.stdout()) as {
      data_dir: string;
      log: { level: string };
      services: { image: { port: number }; identity: { port: number } };
    };
    assert.equal(config.data_dir, dataDir);
    assert.equal(config.log.level, 'debug');
    assert.equal(config.services.image.port, 19292);
    assert.equal(config.services.identity.port, 5000);
  });

  it('keeps all state under the data directory', () => {
    assert.ok(existsSync(join(dataDir, 'logs', 'tstack.log')));
  });
});
