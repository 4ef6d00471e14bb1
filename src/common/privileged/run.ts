/**
 * The one way tstack runs privileged programs (ip, nft, dnsmasq, qemu, qemu-img, mount): an
 * allow-listed executable, an argument array of validated `Arg`s, no shell, a small fixed
 * environment, a timeout and a cap on output. Each executable arrives with the issue that needs
 * it; `qemu-img` is the first.
 */
import { spawn } from 'node:child_process';
import type { Arg } from './args.ts';
import {
  ExecutableMissingError,
  PrivilegedArgumentError,
  PrivilegedCommandError,
} from './errors.ts';

export type ExecutableSpec = {
  /** What to tell an operator when it is missing, e.g. `apt-get install qemu-utils`. */
  readonly installHint: string;
};

/** The allow-list. Add an executable here, with its Debian package, in the issue that needs it. */
export const EXECUTABLES = {
  'qemu-img': { installHint: 'apt-get install qemu-utils' },
  // The test guest image (#8): its kernel and busybox come from Debian packages, fetched and
  // unpacked without installing them, on a FAT disk that syslinux boots.
  'apt-get': { installHint: 'apt-get is part of Debian (package apt)' },
  'dpkg-deb': { installHint: 'dpkg-deb is part of Debian (package dpkg)' },
  'mkfs.vfat': { installHint: 'apt-get install dosfstools' },
  syslinux: { installHint: 'apt-get install syslinux syslinux-common' },
  mcopy: { installHint: 'apt-get install mtools' },
  genisoimage: { installHint: 'apt-get install genisoimage' },
  'qemu-system-x86_64': { installHint: 'apt-get install qemu-system-x86' },
  // Guests' tap devices on a bridge per network (#8), all named ts-….
  ip: { installHint: 'apt-get install iproute2' },
} as const satisfies Record<string, ExecutableSpec>;

export type Executable = keyof typeof EXECUTABLES;

export type RunOptions = {
  /** Kill the child (SIGKILL) after this long; default 60 s. */
  timeoutMs?: number;
  /** Kill the child when stdout exceeds this many bytes; default 1 MiB. */
  maxOutputBytes?: number;
  /** Abort (kill the child) from outside. */
  signal?: AbortSignal;
  /** Working directory (a validated path): for programs that write where they run. */
  cwd?: Arg;
};

export type RunResult = { stdout: string; stderr: string };

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_OUTPUT = 1024 * 1024;
const STDERR_EXCERPT = 4096;
const SAFE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Runs allow-listed executables. The composition root uses `run` (the fixed allow-list); tests
 * build a runner with their own list to exercise timeouts with harmless programs.
 */
export class PrivilegedRunner {
  readonly #executables: Readonly<Record<string, ExecutableSpec>>;
  readonly #path: string;

  constructor(
    options: { executables?: Readonly<Record<string, ExecutableSpec>>; path?: string } = {},
  ) {
    this.#executables = options.executables ?? EXECUTABLES;
    // Keep the operator's PATH (qemu may live in /usr/local); everything else is dropped.
    this.#path = options.path ?? process.env['PATH'] ?? SAFE_PATH;
  }

  /**
   * Runs `command args…` and resolves with its output when it exits 0. Throws
   * `PrivilegedArgumentError` (not allow-listed, NUL byte), `ExecutableMissingError`, or
   * `PrivilegedCommandError` (non-zero exit, signal, timeout, output cap, spawn failure).
   */
  async run(command: string, args: readonly Arg[], options: RunOptions = {}): Promise<RunResult> {
    const spec = Object.hasOwn(this.#executables, command) ? this.#executables[command] : undefined;
    if (spec === undefined || command.includes('/') || command.includes('\0')) {
      throw new PrivilegedArgumentError(`${JSON.stringify(command)} is not an allowed executable`);
    }
    for (const arg of args) {
      if (typeof arg !== 'string' || arg.includes('\0')) {
        throw new PrivilegedArgumentError('argument is not a string without NUL bytes');
      }
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const maxOutput = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
    const argv: string[] = [...args];

    return new Promise<RunResult>((resolve, reject) => {
      const child = spawn(command, argv, {
        shell: false,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: this.#path, LC_ALL: 'C' },
        ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
      });
      const stdout: Buffer[] = [];
      let stdoutBytes = 0;
      let stderr = Buffer.alloc(0);
      let failure: 'timeout' | 'output_too_large' | 'aborted' | undefined;
      let spawnError: NodeJS.ErrnoException | undefined;

      const kill = (why: typeof failure) => {
        failure ??= why;
        child.kill('SIGKILL');
      };
      const timer = setTimeout(() => kill('timeout'), timeoutMs);
      const onAbort = () => kill('aborted');
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (options.signal?.aborted) onAbort();

      child.stdout.on('data', (chunk: Buffer) => {
        stdoutBytes += chunk.length;
        if (stdoutBytes > maxOutput) kill('output_too_large');
        else stdout.push(chunk);
      });
      child.stderr.on('data', (chunk: Buffer) => {
        if (stderr.length < STDERR_EXCERPT) {
          stderr = Buffer.concat([stderr, chunk]).subarray(0, STDERR_EXCERPT);
        }
      });
      child.on('error', (err: NodeJS.ErrnoException) => {
        spawnError ??= err;
      });
      // 'close' comes after the process exited and its pipes drained, also after a spawn error.
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        const stderrText = stderr.toString('utf8');
        const base = { command, args: argv, exitCode: code, signal, stderr: stderrText };
        if (spawnError?.code === 'ENOENT') {
          reject(new ExecutableMissingError(command, spec.installHint, { cause: spawnError }));
        } else if (spawnError !== undefined) {
          reject(
            new PrivilegedCommandError({ ...base, reason: 'spawn_failed', cause: spawnError }),
          );
        } else if (failure === 'timeout' || failure === 'output_too_large') {
          reject(new PrivilegedCommandError({ ...base, reason: failure }));
        } else if (failure === 'aborted' || signal !== null) {
          reject(
            new PrivilegedCommandError({
              ...base,
              reason: 'signal',
              cause: options.signal?.reason,
            }),
          );
        } else if (code !== 0) {
          reject(new PrivilegedCommandError({ ...base, reason: 'exit' }));
        } else {
          resolve({ stdout: Buffer.concat(stdout).toString('utf8'), stderr: stderrText });
        }
      });
    });
  }
}

const DEFAULT_RUNNER = new PrivilegedRunner();

/** Runs an allow-listed executable with validated arguments; see `PrivilegedRunner.run`. */
export function run(
  command: Executable,
  args: readonly Arg[],
  options?: RunOptions,
): Promise<RunResult> {
  return DEFAULT_RUNNER.run(command, args, options);
}
