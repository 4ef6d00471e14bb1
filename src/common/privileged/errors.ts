/**
 * Errors of the privileged-command module. Their messages are safe to show a client (no paths,
 * no output); the command, exit code and a stderr excerpt travel as properties for the log.
 */
import { InternalError, ServiceUnavailableError } from '../errors.ts';

export type FailureReason = 'exit' | 'signal' | 'timeout' | 'output_too_large' | 'spawn_failed';

/** A privileged command ran and failed: non-zero exit, killed, timed out or too much output. */
export class PrivilegedCommandError extends InternalError {
  /** The executable's allow-listed name, e.g. `qemu-img`. */
  readonly command: string;
  /** The arguments as passed (they are validated values, never the environment). */
  readonly args: readonly string[];
  readonly reason: FailureReason;
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** The first bytes of the child's stderr (at most a few KiB), for logs. */
  readonly stderr: string;

  constructor(init: {
    command: string;
    args: readonly string[];
    reason: FailureReason;
    exitCode?: number | null;
    signal?: string | null;
    stderr?: string;
    cause?: unknown;
  }) {
    super(describe(init), 'common.privileged_command_failed', { cause: init.cause });
    this.command = init.command;
    this.args = init.args;
    this.reason = init.reason;
    this.exitCode = init.exitCode ?? null;
    this.signal = init.signal ?? null;
    this.stderr = init.stderr ?? '';
  }
}

function describe(init: {
  command: string;
  reason: FailureReason;
  exitCode?: number | null;
  signal?: string | null;
}): string {
  switch (init.reason) {
    case 'exit':
      return `${init.command} failed with exit code ${init.exitCode ?? '?'}`;
    case 'signal':
      return `${init.command} was killed by ${init.signal ?? 'a signal'}`;
    case 'timeout':
      return `${init.command} timed out and was killed`;
    case 'output_too_large':
      return `${init.command} produced more output than allowed and was killed`;
    case 'spawn_failed':
      return `${init.command} could not be started`;
  }
}

/** A value refused before anything ran: a bad path, a NUL byte, an unknown format or executable. */
export class PrivilegedArgumentError extends InternalError {
  constructor(message: string) {
    super(message, 'common.privileged_argument_invalid');
  }
}

/** The executable is not installed; the message says which package provides it. */
export class ExecutableMissingError extends ServiceUnavailableError {
  readonly command: string;
  constructor(command: string, installHint: string, options?: { cause?: unknown }) {
    super(`${command} is not installed; ${installHint}`, 'common.executable_missing', options);
    this.command = command;
  }
}
