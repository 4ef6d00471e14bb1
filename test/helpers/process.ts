/**
 * Runs a tstack command as a child process the way a user would, and always ends it by its PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const TSTACK_BIN = fileURLToPath(new URL('../../bin/tstack', import.meta.url));

export type Running = {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves when stdout or stderr has matched, rejects on exit or after `timeoutMs`. */
  waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<void>;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
  /** Sends SIGKILL if still running; for `after` hooks. */
  kill: () => void;
};

export function runTstack(args: readonly string[], env: NodeJS.ProcessEnv): Running {
  const child = spawn(TSTACK_BIN, [...args], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    for (const l of listeners) l();
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    for (const l of listeners) l();
  });
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve(code ?? signal ?? 'unknown');
      for (const l of listeners) l();
    });
  });
  const waitFor = (pattern: RegExp, timeoutMs = 20_000): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(
          new Error(`timed out waiting for ${String(pattern)}; stdout: ${out}; stderr: ${err}`),
        );
      }, timeoutMs);
      const check = (): void => {
        if (pattern.test(out) || pattern.test(err)) {
          clearTimeout(timer);
          listeners.delete(check);
          resolve();
        } else if (child.exitCode !== null || child.signalCode !== null) {
          clearTimeout(timer);
          listeners.delete(check);
          reject(
            new Error(
              `exited (${child.exitCode ?? child.signalCode}) before ${String(pattern)}; stdout: ${out}; stderr: ${err}`,
            ),
          );
        }
      };
      listeners.add(check);
      check();
    });
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined)
      process.kill(child.pid, 'SIGKILL');
  };
  return { child, stdout: () => out, stderr: () => err, waitFor, exited, kill };
}

/** The QEMU processes of the tstack whose data is in `dataDir` (their command lines name its folder). */
export function qemuPidsOf(dataDir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.startsWith('qemu-system-x86_64\0') && cmdline.includes(`${dataDir}/`))
        pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}
