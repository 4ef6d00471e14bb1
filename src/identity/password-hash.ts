/**
 * bcrypt off the event loop, at most one hash per core at a time. bcrypt runs on libuv's thread
 * pool (4 threads by default); more hashes in flight than cores only makes them trade places on
 * the CPU and lowers the total (measured here: 2 at a time 5.0/s, 32 at a time 3.2/s on 2 cores),
 * so the rest wait in a queue instead.
 */
import bcrypt from 'bcrypt';
import { availableParallelism } from 'node:os';

const limit = Math.max(1, availableParallelism());
let running = 0;
const waiting: (() => void)[] = [];

/** Runs `work` in a free slot; a finishing hash hands its slot straight to the next in line. */
async function withSlot<T>(work: () => Promise<T>): Promise<T> {
  if (running < limit) running++;
  else await new Promise<void>((resolve) => waiting.push(resolve));
  try {
    return await work();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

export function hashPassword(password: string, rounds: number): Promise<string> {
  return withSlot(() => bcrypt.hash(password, rounds));
}

export function verifyPassword(password: string, hash: string): Promise<boolean> {
  return withSlot(() => bcrypt.compare(password, hash));
}
