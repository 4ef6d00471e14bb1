/**
 * The real RabbitMQ at 127.0.0.1:5672 for tests: a vhost of its own per test file (created and
 * deleted with `rabbitmqctl`), forced connection closes, and fixture processes. RabbitMQ missing
 * is a failure that says how to start it, never a skip.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Collector, within } from './support.ts';

const run = promisify(execFile);
const HOST = '127.0.0.1';
const PORT = 5672;

async function rabbitmqctl(...args: string[]): Promise<string> {
  try {
    const { stdout } = await run('rabbitmqctl', args, { timeout: 30_000 });
    return stdout;
  } catch (err) {
    const detail = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new Error(
      `rabbitmqctl ${args.join(' ')} failed (${detail}); is RabbitMQ running? start it with 'rabbitmq-server -detached'`,
    );
  }
}

async function probe(): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ host: HOST, port: PORT, timeout: 2_000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('timeout', () => {
      socket.destroy();
      reject(new Error('connect timed out'));
    });
    socket.once('error', reject);
  }).catch((err: unknown) => {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(
      `RabbitMQ is not reachable at ${HOST}:${PORT} (${reason}); these tests need it: start it with 'rabbitmq-server -detached'`,
    );
  });
}

export type TestVhost = {
  readonly name: string;
  /** `amqp://guest:guest@127.0.0.1:5672/<vhost>`. */
  readonly url: string;
  /** Closes every client connection of the vhost, as a broker-side failure would. */
  closeConnections(): Promise<void>;
  /** Deletes the vhost with everything in it. Idempotent. */
  remove(): Promise<void>;
};

/** @throws Error saying RabbitMQ is not reachable and how to start it. */
export async function createTestVhost(): Promise<TestVhost> {
  await probe();
  const name = `ts-test-${randomBytes(6).toString('hex')}`;
  await rabbitmqctl('add_vhost', name);
  let removed = false;
  const remove = async (): Promise<void> => {
    if (removed) return;
    removed = true;
    await rabbitmqctl('delete_vhost', name);
  };
  try {
    await rabbitmqctl('set_permissions', '-p', name, 'guest', '.*', '.*', '.*');
  } catch (err) {
    await remove();
    throw err;
  }
  return {
    name,
    url: `amqp://guest:guest@${HOST}:${PORT}/${encodeURIComponent(name)}`,
    closeConnections: async () => {
      await rabbitmqctl('close_all_connections', '--vhost', name, 'tstack test: forced close');
    },
    remove,
  };
}

/** A port nothing listens on: one the kernel just gave out and took back. */
export async function unusedPort(): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** What the fixture reports on its standard output, one JSON object a line. */
export type FixtureEvent = {
  event: string;
  server?: string;
  method?: string;
  args?: unknown;
  error?: string;
};

export type Fixture = {
  readonly process: ChildProcess;
  readonly events: Collector<FixtureEvent>;
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
  /** Kills the process (by its PID, with the signal) and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
};

const FIXTURE = fileURLToPath(new URL('./fixtures/bus-server.ts', import.meta.url));

/** Starts `fixtures/bus-server.ts` serving `topic` as `server`, and waits until it serves. */
export async function startFixture(
  url: string,
  topic: string,
  server: string,
  concurrency = 4,
): Promise<Fixture> {
  // The child must not think it is a test-runner child process.
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const child = spawn(process.execPath, [FIXTURE, url, topic, server, String(concurrency)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  const events = new Collector<FixtureEvent>();
  const stderr: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      events.push(JSON.parse(line) as FixtureEvent);
    } catch {
      events.push({ event: 'garbage', error: line });
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const fixture: Fixture = {
    process: child,
    events,
    exited,
    kill: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        process.kill(child.pid, signal);
      }
      await within(exited, 10_000, `fixture ${server} (pid ${child.pid}) to exit`);
    },
  };
  try {
    await within(
      Promise.race([
        events.until(
          (all) => all.some((e) => e.event === 'ready'),
          15_000,
          `fixture ${server} to serve`,
        ),
        exited.then(() => {
          throw new Error(`fixture ${server} exited early: ${stderr.join('').trim()}`);
        }),
      ]),
      15_000,
      `fixture ${server} to start`,
    );
  } catch (err) {
    await fixture.kill('SIGKILL');
    throw err;
  }
  return fixture;
}
