/**
 * MD5 + SHA-512 of a stream (Glance's `checksum` and `os_hash_value`). Hashing a GiB costs about
 * 2.5 s of one core, more than writing it; `WorkerHasher` moves it to two worker threads (one per
 * algorithm) so it runs beside the network and disk I/O. `InlineHasher` hashes on the calling
 * thread, for tools and tests that want no threads.
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

export type Digests = { md5: string; sha512: string };

export interface HashSession {
  /** Adds a chunk; a returned promise asks the caller to wait (the workers are behind). */
  update(chunk: Buffer): Promise<void> | undefined;
  /** The digests of everything added. */
  digest(): Promise<Digests>;
  /** Drops the session (the upload failed); idempotent. */
  abort(): void;
}

export interface StreamHasher {
  start(): HashSession;
  /** Stops any threads; sessions still open fail. */
  close(): Promise<void>;
}

export class InlineHasher implements StreamHasher {
  start(): HashSession {
    const md5 = createHash('md5');
    const sha512 = createHash('sha512');
    return {
      update: (chunk) => {
        md5.update(chunk);
        sha512.update(chunk);
        return undefined;
      },
      digest: async () => ({ md5: md5.digest('hex'), sha512: sha512.digest('hex') }),
      abort: () => undefined,
    };
  }

  async close(): Promise<void> {}
}

// Plain JavaScript run with `eval`: no module resolution, the same on every platform.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const sessions = new Map();
parentPort.on('message', (m) => {
  if (m.type === 'data') {
    let hash = sessions.get(m.id);
    if (!hash) { hash = createHash(m.algo); sessions.set(m.id, hash); }
    hash.update(new Uint8Array(m.buf, 0, m.len));
    // The buffer goes back for the next batch: memory stays bounded whatever the GC does.
    parentPort.postMessage({ type: 'ack', id: m.id, bytes: m.len, buf: m.buf }, [m.buf]);
  } else if (m.type === 'end') {
    const hash = sessions.get(m.id) ?? createHash(m.algo);
    sessions.delete(m.id);
    parentPort.postMessage({ type: 'digest', id: m.id, hex: hash.digest('hex') });
  } else if (m.type === 'abort') {
    sessions.delete(m.id);
  }
});
`;

type FromWorker =
  | { type: 'ack'; id: number; bytes: number; buf: ArrayBuffer }
  | { type: 'digest'; id: number; hex: string };

type Listener = {
  ack(bytes: number, buf: ArrayBuffer): void;
  digest(hex: string): void;
  fail(err: Error): void;
};

/** One long-lived thread hashing with one algorithm for any number of sessions. */
class HashThread {
  readonly #algo: string;
  #worker: Worker | undefined;
  readonly #listeners = new Map<number, Listener>();

  constructor(algo: string) {
    this.#algo = algo;
  }

  #get(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.unref();
    worker.on('message', (m: FromWorker) => {
      const listener = this.#listeners.get(m.id);
      if (m.type === 'ack') listener?.ack(m.bytes, m.buf);
      else {
        this.#listeners.delete(m.id);
        listener?.digest(m.hex);
      }
    });
    const failAll = (err: Error) => {
      if (this.#worker === worker) this.#worker = undefined;
      const listeners = [...this.#listeners.values()];
      this.#listeners.clear();
      for (const l of listeners) l.fail(err);
    };
    worker.on('error', failAll);
    worker.on('exit', (code) => failAll(new Error(`hash thread exited with code ${code}`)));
    this.#worker = worker;
    return worker;
  }

  open(id: number, listener: Listener): void {
    this.#listeners.set(id, listener);
  }

  send(id: number, buf: ArrayBuffer, len: number): void {
    this.#get().postMessage({ type: 'data', id, algo: this.#algo, buf, len }, [buf]);
  }

  end(id: number): void {
    this.#get().postMessage({ type: 'end', id, algo: this.#algo });
  }

  abort(id: number): void {
    this.#listeners.delete(id);
    this.#worker?.postMessage({ type: 'abort', id });
  }

  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker) await worker.terminate();
  }
}

/** Chunks are batched to this size before they cross to the threads. */
const BATCH = 1024 * 1024;
/** Bytes a session may have in flight per thread before `update` asks the caller to wait. */
const MAX_IN_FLIGHT = 4 * 1024 * 1024;

export class WorkerHasher implements StreamHasher {
  readonly #md5 = new HashThread('md5');
  readonly #sha512 = new HashThread('sha512');
  #nextId = 1;

  start(): HashSession {
    const id = this.#nextId++;
    const threads = [this.#md5, this.#sha512];
    const inFlight = [0, 0];
    const hex: (string | undefined)[] = [undefined, undefined];
    let failure: Error | undefined;
    let wake: (() => void) | undefined;
    let done: ((d: Digests) => void) | undefined;
    let failed: ((err: Error) => void) | undefined;
    const settle = () => {
      const w = wake;
      wake = undefined;
      w?.();
      if (failure) failed?.(failure);
      else if (hex[0] !== undefined && hex[1] !== undefined)
        done?.({ md5: hex[0], sha512: hex[1] });
    };
    threads.forEach((thread, i) =>
      thread.open(id, {
        ack: (bytes, buf) => {
          spare.push(buf);
          inFlight[i] = (inFlight[i] ?? 0) - bytes;
          if (Math.max(...inFlight) <= MAX_IN_FLIGHT) settle();
        },
        digest: (value) => {
          hex[i] = value;
          settle();
        },
        fail: (err) => {
          failure ??= err;
          settle();
        },
      }),
    );
    // Buffers travel to the threads and back; a session needs about 2 × MAX_IN_FLIGHT of them.
    const spare: ArrayBuffer[] = [];
    const take = () => Buffer.from(spare.pop() ?? new ArrayBuffer(BATCH));
    let batch = take();
    let used = 0;
    const flush = () => {
      if (used === 0) return;
      // Each thread gets its own bytes, transferred (not cloned) across: the batch itself to
      // one, a copy to the other.
      const copy = take();
      batch.copy(copy, 0, 0, used);
      inFlight[0] = (inFlight[0] ?? 0) + used;
      inFlight[1] = (inFlight[1] ?? 0) + used;
      this.#md5.send(id, batch.buffer, used);
      this.#sha512.send(id, copy.buffer, used);
      batch = take();
      used = 0;
    };
    return {
      update: (chunk) => {
        if (failure) return Promise.reject(failure);
        let offset = 0;
        while (offset < chunk.length) {
          const n = Math.min(chunk.length - offset, BATCH - used);
          chunk.copy(batch, used, offset, offset + n);
          used += n;
          offset += n;
          if (used === BATCH) flush();
        }
        if (Math.max(...inFlight) <= MAX_IN_FLIGHT) return undefined;
        return new Promise<void>((resolve, reject) => {
          wake = () => (failure ? reject(failure) : resolve());
        });
      },
      digest: () => {
        flush();
        const result = new Promise<Digests>((resolve, reject) => {
          done = resolve;
          failed = reject;
        });
        this.#md5.end(id);
        this.#sha512.end(id);
        settle();
        return result;
      },
      abort: () => {
        this.#md5.abort(id);
        this.#sha512.abort(id);
      },
    };
  }

  async close(): Promise<void> {
    await Promise.all([this.#md5.close(), this.#sha512.close()]);
  }
}
