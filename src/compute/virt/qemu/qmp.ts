/**
 * A QMP (QEMU Machine Protocol) client over a guest's unix socket: JSON objects, one per line.
 * On connect QEMU sends a greeting and waits for `qmp_capabilities`; then each command gets a
 * `return` or an `error`, matched here by `id`, and asynchronous `event`s arrive in between.
 * The driver opens a connection per call, so nothing depends on a connection outliving the
 * agent (a restarted agent talks to the same guests through the same sockets).
 */
import { createConnection, type Socket } from 'node:net';

/** QEMU answered a command with an error, or the conversation broke. */
export class QmpError extends Error {
  /** QMP's error class, e.g. `GenericError`, `CommandNotFound`; `Disconnected`, `Timeout`. */
  readonly errorClass: string;

  constructor(errorClass: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'QmpError';
    this.errorClass = errorClass;
  }
}

type Pending = { resolve: (value: unknown) => void; reject: (err: Error) => void };

export class QmpClient {
  readonly #socket: Socket;
  readonly #pending = new Map<number, Pending>();
  readonly #events: { event: string; data?: unknown }[] = [];
  #nextId = 1;
  #buffer = '';
  #closed: Error | undefined;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.#onData(chunk));
    socket.on('error', (err) =>
      this.#fail(new QmpError('Disconnected', err.message, { cause: err })),
    );
    socket.on('close', () => this.#fail(new QmpError('Disconnected', 'QMP connection closed')));
  }

  /**
   * Connects, reads the greeting and leaves capabilities negotiation.
   * @throws QmpError (`Disconnected`) when nobody listens on `path`; (`Timeout`) when QEMU does
   *   not greet within `timeoutMs`.
   */
  static async connect(path: string, timeoutMs = 5000): Promise<QmpClient> {
    const socket = createConnection({ path });
    const greeted = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new QmpError('Timeout', `no QMP greeting on ${path} within ${timeoutMs} ms`));
      }, timeoutMs);
      let text = '';
      const onData = (chunk: Buffer) => {
        text += chunk.toString('utf8');
        const line = text.split('\n')[0];
        if (!text.includes('\n') || line === undefined) return;
        clearTimeout(timer);
        socket.off('data', onData);
        socket.off('error', onError);
        if (!line.includes('"QMP"'))
          reject(new QmpError('Protocol', `not a QMP greeting: ${line}`));
        else resolve();
      };
      const onError = (err: Error) => {
        clearTimeout(timer);
        reject(
          new QmpError('Disconnected', `cannot reach QMP on ${path}: ${err.message}`, {
            cause: err,
          }),
        );
      };
      socket.on('data', onData);
      socket.on('error', onError);
    });
    await greeted;
    const client = new QmpClient(socket);
    await client.execute('qmp_capabilities', undefined, timeoutMs);
    return client;
  }

  /**
   * Runs `command` and resolves with its `return` value.
   * @throws QmpError with QEMU's error class and description, or `Disconnected`/`Timeout`.
   */
  execute<T = unknown>(
    command: string,
    args?: Record<string, unknown>,
    timeoutMs = 30_000,
  ): Promise<T> {
    if (this.#closed) return Promise.reject(this.#closed);
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new QmpError('Timeout', `${command}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as T);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      this.#socket.write(
        `${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id })}\n`,
      );
    });
  }

  /** Events received so far (`SHUTDOWN`, `STOP`, `RESUME`, …), oldest first. */
  get events(): readonly { event: string; data?: unknown }[] {
    return this.#events;
  }

  close(): void {
    this.#socket.destroy();
  }

  #onData(chunk: string): void {
    this.#buffer += chunk;
    let newline: number;
    while ((newline = this.#buffer.indexOf('\n')) >= 0) {
      const line = this.#buffer.slice(0, newline).trim();
      this.#buffer = this.#buffer.slice(newline + 1);
      if (line === '') continue;
      let message: Record<string, unknown>;
      try {
        message = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      if (typeof message['event'] === 'string') {
        this.#events.push({ event: message['event'], data: message['data'] });
        continue;
      }
      const pending =
        typeof message['id'] === 'number' ? this.#pending.get(message['id']) : undefined;
      if (pending === undefined) continue;
      this.#pending.delete(message['id'] as number);
      const error = message['error'] as { class?: string; desc?: string } | undefined;
      if (error !== undefined)
        pending.reject(new QmpError(error.class ?? 'GenericError', error.desc ?? 'QMP error'));
      else pending.resolve(message['return']);
    }
  }

  #fail(err: QmpError): void {
    this.#closed ??= err;
    for (const pending of this.#pending.values()) pending.reject(err);
    this.#pending.clear();
  }
}

/** Opens a connection, runs one command, closes it. */
export async function qmp<T = unknown>(
  socketPath: string,
  command: string,
  args?: Record<string, unknown>,
  timeoutMs = 30_000,
): Promise<T> {
  const client = await QmpClient.connect(socketPath, Math.min(timeoutMs, 5000));
  try {
    return await client.execute<T>(command, args, timeoutMs);
  } finally {
    client.close();
  }
}
