/**
 * Acceptance tests drive a real `tstack up` the way a user does: one cloud per test file on free
 * loopback ports and in a temporary data directory, and the real `openstack` CLI (Debian's
 * python3-openstackclient) pointed at the `clouds.yaml` that `tstack up` writes.
 *
 * `startCloud()` returns once `tstack up` printed `ready.`; the file's `after` hook calls
 * `stop()`, which ends it with SIGTERM by its PID and removes the data directory. A start that
 * fails cleans up after itself before it throws.
 */
import assert from 'node:assert/strict';
import { execFile, type ExecFileException } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { SERVICE_NAMES, type ServiceName } from '../../src/common/config/schema.ts';
import { freePorts } from '../helpers/ports.ts';
import { qemuPidsOf, runTstack, type Running } from '../helpers/process.ts';

export const INSTALL_HINT = 'apt-get install python3-openstackclient';
/** The cloud name `tstack up` writes into `clouds.yaml`. */
export const CLOUD_NAME = 'tstack';
/** The password bootstrap gives the service users (`nova`, `glance`…) by default. */
export const SERVICE_PASSWORD = 'service';

const CLI_TIMEOUT_MS = 30_000;
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

/** Environment overrides for one CLI run; `undefined` removes a variable. */
export type CliEnv = Record<string, string | undefined>;
export type CliOptions = { env?: CliEnv };
export type CliResult = { code: number; stdout: string; stderr: string };

/** A user to run the CLI as instead of the `tstack` cloud's admin. */
export type UserCredentials = {
  username: string;
  password: string;
  /** Default: `Default`. */
  userDomain?: string;
  /** Scope the token to this project; unscoped without it. */
  project?: string;
  /** Default: `Default`. */
  projectDomain?: string;
};

export type HttpReply = { status: number; headers: Headers; body: unknown };
/** One entity or one row of the CLI's JSON output. */
export type Row = Record<string, unknown>;

/** `openstack server create` with the default test image and the smallest flavor. */
export const SERVER_CREATE = [
  'server',
  'create',
  '--image',
  'tstack-test',
  '--flavor',
  'm1.tiny',
] as const;

/** `server show` until `done` holds, 10 s at most (the CLI's own --wait polls every 5 s). */
export async function showUntil(
  cloud: Pick<Cloud, 'json'>,
  name: string,
  done: (s: Row) => boolean,
): Promise<Row> {
  for (let i = 0; i < 200; i++) {
    const shown = await cloud.json(['server', 'show', name]);
    if (done(shown)) return shown;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`server ${name} never got there`);
}

/**
 * A project `<prefix>-other` with a member `<prefix>-user` (password `<prefix>-pw`), for
 * checking that another project sees none of the admin's resources; returns the CLI
 * environment of that member and the project's id.
 */
export async function otherProjectMember(
  cloud: Pick<Cloud, 'ok' | 'json' | 'userEnv'>,
  prefix: string,
): Promise<{ env: CliEnv; projectId: string }> {
  const project = `${prefix}-other`;
  const user = `${prefix}-user`;
  const password = `${prefix}-pw`;
  const projectId = String((await cloud.json(['project', 'create', project]))['id']);
  await cloud.ok(['user', 'create', '--password', password, user]);
  await cloud.ok(['role', 'add', '--user', user, '--project', project, 'member']);
  return { env: cloud.userEnv({ username: user, password, project }), projectId };
}

/** A server no longer building and with no task in progress. */
export const settled = (s: Row): boolean =>
  s['OS-EXT-STS:task_state'] === null && s['status'] !== 'BUILD';

export type Cloud = {
  dataDir: string;
  ports: Readonly<Record<ServiceName, number>>;
  /** Identity's public endpoint as `clouds.yaml` has it: `http://127.0.0.1:<port>/v3`. */
  authUrl: string;
  /** The `tstack` cloud's admin, from `clouds.yaml`, scoped to the admin project. */
  admin: UserCredentials & { project: string };
  /** A token of `admin`, for requests that set up or check what a case tests. */
  adminToken: string;
  /** Runs `openstack <args>` as the cloud's admin (or as `opts.env` says); never rejects on exit codes. */
  openstack(args: readonly string[], opts?: CliOptions): Promise<CliResult>;
  /** Runs `openstack <args> -f json`, asserts it succeeded and parses its output. */
  json<T = Record<string, unknown>>(args: readonly string[], opts?: CliOptions): Promise<T>;
  /** Runs `openstack <args>`, asserts it succeeded and returns its standard output. */
  ok(args: readonly string[], opts?: CliOptions): Promise<string>;
  /** Runs `openstack <args>`, asserts it failed and returns its standard error. */
  fails(args: readonly string[], opts?: CliOptions): Promise<string>;
  /** The environment that makes the CLI authenticate as `user` (no `OS_CLOUD`). */
  userEnv(user: UserCredentials): CliEnv;
  /** The environment that makes the CLI use an existing token, rescoped to `project` if given. */
  tokenEnv(token: string, project?: { name: string; domain?: string }): CliEnv;
  /** A request to identity's API; JSON bodies are serialised and parsed. */
  identity(
    method: string,
    path: string,
    options?: { token?: string; subjectToken?: string; body?: unknown },
  ): Promise<HttpReply>;
  /** A token from `POST /v3/auth/tokens` with the password method; asserts the 201. */
  issueToken(user: UserCredentials): Promise<string>;
  /** `POST /v3/<collection>` as admin, for fixtures a case does not test; asserts the 201. */
  createAsAdmin(collection: string, key: string, entity: Row): Promise<Row>;
  /** `GET /v3/<path>` as admin: the collection named `key`; asserts the 200. */
  listAsAdmin(path: string, key: string): Promise<Row[]>;
  /**
   * SIGTERM by PID, waits for the exit (SIGKILL after a bound), ends the cloud's QEMU guests by
   * their PIDs, removes the data directory.
   */
  stop(): Promise<void>;
  /** SIGKILL to `tstack up`, then `tstack up` again on the same data, until it is ready. */
  killAndRestart(): Promise<void>;
};

export type StartOptions = {
  /** Check that the `openstack` CLI is installed (default true). */
  cli?: boolean;
  /** More arguments for `tstack up` (e.g. `--fake-hosts 3`). */
  upArgs?: readonly string[];
  /**
   * QEMU hypervisors (real VMs) instead of the one fake hypervisor `fake-host-1` the other
   * acceptance tests use (their guests are records, so the API is what they test).
   */
  qemuHosts?: number;
  /** More configuration, as `TSTACK_*` variables. */
  env?: Readonly<Record<string, string>>;
};

/** Fails with the install command when the `openstack` CLI is missing. */
export async function assertCliInstalled(): Promise<void> {
  const result = await runCli(['--version'], cliBaseEnv());
  assert.equal(result.code, 0, `openstack --version failed: ${result.stderr}`);
}

export async function startCloud(options: StartOptions = {}): Promise<Cloud> {
  if (options.cli !== false) await assertCliInstalled();
  const dataDir = mkdtempSync(join(tmpdir(), 'ts-acceptance-'));
  const free = await freePorts(SERVICE_NAMES.length);
  const ports = Object.fromEntries(SERVICE_NAMES.map((n, i) => [n, free[i]])) as Record<
    ServiceName,
    number
  >;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    HOME: process.env['HOME'],
    // bcrypt at its lowest cost: the tests create users and log in often.
    TSTACK_IDENTITY__PASSWORD_HASH_ROUNDS: '4',
    TSTACK_COMPUTE__QEMU_HOSTS: String(options.qemuHosts ?? 0),
    TSTACK_COMPUTE__FAKE_HOSTS: options.qemuHosts === undefined ? '1' : '0',
    ...options.env,
  };
  for (const n of SERVICE_NAMES)
    env[`TSTACK_SERVICES__${n.toUpperCase()}__PORT`] = String(ports[n]);

  const launch = () => runTstack(['up', '--data-dir', dataDir, ...(options.upArgs ?? [])], env);
  let up = launch();
  const stop = () => stopCloud(up, dataDir);
  const killAndRestart = async () => {
    const pid = up.child.pid;
    assert.ok(pid !== undefined && up.child.exitCode === null, 'tstack up is not running');
    process.kill(pid, 'SIGKILL');
    await up.exited;
    up = launch();
    await up.waitFor(/ready\./, READY_TIMEOUT_MS);
  };
  try {
    await up.waitFor(/ready\./, READY_TIMEOUT_MS);
    return { ...(await makeCloud(dataDir, ports, stop)), killAndRestart };
  } catch (err) {
    // The start's own error is the one to report; stopping still ends the process by its PID.
    await stop().catch(() => undefined);
    throw err;
  }
}

async function stopCloud(up: Running, dataDir: string): Promise<void> {
  try {
    const pid = up.child.pid;
    if (pid !== undefined && up.child.exitCode === null && up.child.signalCode === null) {
      process.kill(pid, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        up.exited,
        new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS);
        }),
      ]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        up.kill();
        throw new Error(`tstack up did not stop within ${STOP_TIMEOUT_MS} ms of SIGTERM`);
      }
      assert.equal(outcome, 0, `tstack up exited with ${outcome}; stderr: ${up.stderr()}`);
    }
  } finally {
    // Guests outlive their agent, as Nova's do; a test's cloud takes its own with it.
    for (const pid of qemuPidsOf(dataDir)) process.kill(pid, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
}

type CloudsYaml = {
  clouds: Record<
    string,
    { auth: { auth_url: string; username: string; password: string; project_name: string } }
  >;
};

async function makeCloud(
  dataDir: string,
  ports: Record<ServiceName, number>,
  stop: () => Promise<void>,
): Promise<Omit<Cloud, 'killAndRestart'>> {
  const cloudsFile = join(dataDir, 'clouds.yaml');
  const doc = parse(readFileSync(cloudsFile, 'utf8')) as CloudsYaml;
  const auth = doc.clouds[CLOUD_NAME]?.auth;
  assert.ok(auth, `${cloudsFile} has no cloud named ${CLOUD_NAME}`);
  const authUrl = auth.auth_url;
  const adminEnv: CliEnv = { OS_CLIENT_CONFIG_FILE: cloudsFile, OS_CLOUD: CLOUD_NAME };

  const openstack: Cloud['openstack'] = (args, opts = {}) =>
    runCli(args, withOverrides(cliBaseEnv(), { ...adminEnv, ...opts.env }));

  const describeRun = (args: readonly string[], r: CliResult): string =>
    `openstack ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

  const ok: Cloud['ok'] = async (args, opts) => {
    const r = await openstack(args, opts);
    assert.equal(r.code, 0, describeRun(args, r));
    return r.stdout;
  };

  const json = async <T>(args: readonly string[], opts?: CliOptions): Promise<T> => {
    const out = await ok([...args, '-f', 'json'], opts);
    try {
      return JSON.parse(out) as T;
    } catch {
      throw new Error(`openstack ${args.join(' ')} -f json printed no JSON: ${out}`);
    }
  };

  const fails: Cloud['fails'] = async (args, opts) => {
    const r = await openstack(args, opts);
    assert.notEqual(r.code, 0, describeRun(args, r));
    return r.stderr;
  };

  const userEnv: Cloud['userEnv'] = (user) => ({
    OS_CLOUD: undefined,
    OS_CLIENT_CONFIG_FILE: undefined,
    OS_AUTH_URL: authUrl,
    OS_IDENTITY_API_VERSION: '3',
    OS_USERNAME: user.username,
    OS_PASSWORD: user.password,
    OS_USER_DOMAIN_NAME: user.userDomain ?? 'Default',
    OS_PROJECT_NAME: user.project,
    OS_PROJECT_DOMAIN_NAME:
      user.project === undefined ? undefined : (user.projectDomain ?? 'Default'),
  });

  const tokenEnv: Cloud['tokenEnv'] = (token, project) => ({
    OS_CLOUD: undefined,
    OS_CLIENT_CONFIG_FILE: undefined,
    OS_AUTH_URL: authUrl,
    OS_IDENTITY_API_VERSION: '3',
    OS_AUTH_TYPE: 'token',
    OS_TOKEN: token,
    OS_PROJECT_NAME: project?.name,
    OS_PROJECT_DOMAIN_NAME: project === undefined ? undefined : (project.domain ?? 'Default'),
  });

  const identity: Cloud['identity'] = async (method, path, options = {}) => {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.token !== undefined) headers['x-auth-token'] = options.token;
    if (options.subjectToken !== undefined) headers['x-subject-token'] = options.subjectToken;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${authUrl}${path}`, {
      method,
      headers,
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      signal: AbortSignal.timeout(CLI_TIMEOUT_MS),
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body: text === '' ? undefined : (JSON.parse(text) as unknown),
    };
  };

  const issueToken: Cloud['issueToken'] = async (user) => {
    const reply = await identity('POST', '/auth/tokens?nocatalog', {
      body: {
        auth: {
          identity: {
            methods: ['password'],
            password: {
              user: {
                name: user.username,
                domain: { name: user.userDomain ?? 'Default' },
                password: user.password,
              },
            },
          },
          ...(user.project !== undefined
            ? {
                scope: {
                  project: {
                    name: user.project,
                    domain: { name: user.projectDomain ?? 'Default' },
                  },
                },
              }
            : {}),
        },
      },
    });
    assert.equal(reply.status, 201, `token for ${user.username}: ${JSON.stringify(reply.body)}`);
    const token = reply.headers.get('x-subject-token');
    assert.ok(token, 'the token is in X-Subject-Token');
    return token;
  };

  const admin = { username: auth.username, password: auth.password, project: auth.project_name };
  const adminToken = await issueToken(admin);

  const createAsAdmin: Cloud['createAsAdmin'] = async (collection, key, entity) => {
    const reply = await identity('POST', `/${collection}`, {
      token: adminToken,
      body: { [key]: entity },
    });
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
    return (reply.body as Record<string, Row>)[key] as Row;
  };

  const listAsAdmin: Cloud['listAsAdmin'] = async (path, key) => {
    const reply = await identity('GET', path, { token: adminToken });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    return (reply.body as Record<string, Row[]>)[key] ?? [];
  };

  return {
    dataDir,
    ports,
    authUrl,
    admin,
    adminToken,
    openstack,
    json,
    ok,
    fails,
    userEnv,
    tokenEnv,
    identity,
    issueToken,
    createAsAdmin,
    listAsAdmin,
    stop,
  };
}

/** The values of one column of the CLI's list output. */
export function column(rows: readonly Row[], name = 'Name'): unknown[] {
  return rows.map((r) => r[name]);
}

/** A list of strings, sorted (tags come back in no promised order). */
export function sorted(value: unknown): string[] {
  return [...(value as string[])].sort();
}

/** Keystone's ids: 32 hex digits. */
export const ID = /^[0-9a-f]{32}$/;

/**
 * This process's environment without the caller's own `OS_*` variables (a developer's exported
 * cloud must not leak into a test), and with loopback kept away from any HTTP proxy.
 */
function cliBaseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OS_')) env[k] = v;
  env['NO_PROXY'] = env['no_proxy'] = '127.0.0.1,localhost';
  return env;
}

function withOverrides(base: NodeJS.ProcessEnv, overrides: CliEnv): NodeJS.ProcessEnv {
  const env = { ...base };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

function runCli(args: readonly string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(
      'openstack',
      [...args],
      { env, timeout: CLI_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      (err: ExecFileException | null, stdout: string, stderr: string) => {
        if (err === null) return resolve({ code: 0, stdout, stderr });
        if (err.code === 'ENOENT') {
          return reject(
            new Error(
              `the openstack CLI is not installed (acceptance tests need it): ${INSTALL_HINT}`,
            ),
          );
        }
        if (err.killed === true || typeof err.signal === 'string') {
          return reject(
            new Error(
              `openstack ${args.join(' ')} did not finish within ${CLI_TIMEOUT_MS} ms (${err.signal}); stderr: ${stderr}`,
            ),
          );
        }
        resolve({ code: typeof err.code === 'number' ? err.code : -1, stdout, stderr });
      },
    );
  });
}
