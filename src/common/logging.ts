/**
 * pino JSON logs. Every line of an HTTP request carries `request_id` and, when a calling service
 * passed one, `global_request_id` (see `http/request-id.ts`), so one user action can be followed
 * across services.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export type LoggerOptions = {
  level: LevelWithSilent;
  /** A file path, '-' for standard output, or a writable stream (tests). */
  destination: string | NodeJS.WritableStream;
  /** Bound on every line, e.g. `{service: 'compute'}`. */
  base?: Record<string, unknown>;
};

export function createLogger(options: LoggerOptions): Logger {
  const opts = {
    level: options.level,
    base: { pid: process.pid, ...options.base },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (typeof options.destination !== 'string') return pino(opts, options.destination);
  if (options.destination === '-') return pino(opts, pino.destination({ fd: 1, sync: false }));
  mkdirSync(dirname(options.destination), { recursive: true });
  return pino(opts, pino.destination({ dest: options.destination, mkdir: true, sync: false }));
}

/** A logger that writes nothing, for unit tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
