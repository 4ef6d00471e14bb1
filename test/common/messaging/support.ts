/**
 * Waiting without sleeping: every wait is on an event, bounded by a timeout that fails the test
 * with what it was waiting for.
 */
import { randomBytes } from 'node:crypto';
import type { BusLogger } from '../../../src/common/messaging/bus.ts';

/** Bounds every test: generous for a loaded machine, far above what a test needs. */
export const TEST_TIMEOUT = { timeout: 10_000 };

/** Resolves or rejects as `promise` does, or rejects after `ms` naming `what`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Collects what handlers receive and lets a test wait until enough has arrived. */
export class Collector<T> {
  readonly items: T[] = [];
  readonly #waiters = new Set<{ ready: () => boolean; resolve: () => void }>();

  push = (item: T): void => {
    this.items.push(item);
    for (const waiter of [...this.#waiters]) {
      if (waiter.ready()) {
        this.#waiters.delete(waiter);
        waiter.resolve();
      }
    }
  };

  /** Resolves with the items once `predicate` holds for them. */
  async until(predicate: (items: readonly T[]) => boolean, ms: number, what: string): Promise<T[]> {
    if (!predicate(this.items)) {
      const { promise, resolve } = Promise.withResolvers<void>();
      const waiter = { ready: () => predicate(this.items), resolve };
      this.#waiters.add(waiter);
      try {
        await within(promise, ms, `${what} (have ${JSON.stringify(this.items)})`);
      } finally {
        this.#waiters.delete(waiter);
      }
    }
    return this.items;
  }

  count(n: number, ms: number, what: string): Promise<T[]> {
    return this.until((items) => items.length >= n, ms, what);
  }
}

/** A gate a handler waits on until the test opens it. */
export function gate(): { wait: Promise<void>; open: () => void } {
  const { promise, resolve } = Promise.withResolvers<void>();
  return { wait: promise, open: () => resolve() };
}

export type LogEntry = {
  level: 'info' | 'warn' | 'error';
  fields: Record<string, unknown>;
  message: string;
};

/** A logger that records, so tests stay quiet and can look at what was logged. */
export function recordingLogger(): BusLogger & { entries: Collector<LogEntry> } {
  const entries = new Collector<LogEntry>();
  return {
    entries,
    info: (fields, message) => entries.push({ level: 'info', fields, message }),
    warn: (fields, message) => entries.push({ level: 'warn', fields, message }),
    error: (fields, message) => entries.push({ level: 'error', fields, message }),
  };
}

/** A topic no other test uses, so tests sharing a broker cannot see each other's messages. */
export function uniqueTopic(prefix = 't'): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}
