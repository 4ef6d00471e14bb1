/**
 * One AMQP connection that stays up: it reconnects with backoff after a loss and re-runs every
 * registered setup (exchanges, queues, consumers) on the new connection, so the bus above it only
 * says what it needs, once. Publishing waits for a connection, bounded by a deadline.
 *
 * amqplib 2 has a recovering connection of its own; it is not used because it recreates only the
 * connection, not channels and consumers, and its first connect retries where startup must fail
 * at once with an operator-readable error.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { connect, type ChannelModel, type ConfirmChannel } from 'amqplib';
import { messageOf, StartupError } from '../errors.ts';
import type { BusLogger } from './bus.ts';
import { MessagingUnavailableError } from './errors.ts';

/** Declares what a subscription needs on a fresh connection. Runs again after every reconnect. */
export type ConnectionSetup = (model: ChannelModel) => Promise<void>;

export type ConnectionState = 'connected' | 'disconnected';

export type RabbitMqConnectionOptions = {
  logger: BusLogger;
  /** Shown by `rabbitmqctl list_connections client_properties`. */
  connectionName: string;
  connectTimeoutMs: number;
  /** Reconnect backoff: the first delay, doubled per failed attempt up to the maximum. */
  reconnectDelayMs: { initial: number; max: number };
};

export class RabbitMqConnection {
  readonly #url: string;
  readonly #options: RabbitMqConnectionOptions;
  readonly #setups = new Set<ConnectionSetup>();
  readonly #listeners = new Set<(state: ConnectionState) => void>();
  readonly #closing = new AbortController();
  readonly #deadChannels = new WeakSet<ConfirmChannel>();
  readonly #resetting = new WeakSet<ChannelModel>();
  #model: ChannelModel | undefined;
  #publisher: ConfirmChannel | undefined;
  #ready = Promise.withResolvers<ConfirmChannel>();
  #reconnecting = false;

  constructor(url: string, options: RabbitMqConnectionOptions) {
    this.#url = url;
    this.#options = options;
    // Nobody may be waiting when the bus closes; that rejection must not crash the process.
    this.#ready.promise.catch(() => {});
  }

  /** The URL without its password, for messages and logs. */
  get displayUrl(): string {
    return redactUrl(this.#url);
  }

  get isConnected(): boolean {
    return this.#publisher !== undefined;
  }

  /**
   * Opens the first connection, without retrying: a broker that is not there at startup is an
   * operator's problem to fix, told in one line.
   * @throws StartupError naming the URL (never its password) and what to do.
   */
  async connect(): Promise<void> {
    try {
      await this.#open();
    } catch (err) {
      throw startupError(this.#url, err);
    }
  }

  /** Runs `setup` now when connected, and again after every reconnect. Returns its removal. */
  async addSetup(setup: ConnectionSetup): Promise<() => void> {
    this.#setups.add(setup);
    const model = this.#model;
    if (model !== undefined && this.#publisher !== undefined) {
      try {
        await setup(model);
      } catch (err) {
        this.#setups.delete(setup);
        throw err;
      }
    }
    return () => this.#setups.delete(setup);
  }

  onStateChange(listener: (state: ConnectionState) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Runs `work` on the publishing channel, waiting for a connection until `deadline` (epoch ms),
   * and again on the next connection when this one is lost meanwhile.
   * @throws MessagingUnavailableError when closed or past the deadline; whatever `work` throws
   *   while the connection stays up (e.g. a negative publisher confirm).
   */
  async withPublisher<T>(
    deadline: number,
    work: (channel: ConfirmChannel) => Promise<T>,
  ): Promise<T> {
    let lastError: unknown;
    for (;;) {
      let channel: ConfirmChannel;
      try {
        channel = await this.#waitForPublisher(deadline);
      } catch (err) {
        if (lastError === undefined) throw err;
        throw new MessagingUnavailableError(
          `${messageOf(err)} (last error: ${messageOf(lastError)})`,
        );
      }
      try {
        return await work(channel);
      } catch (err) {
        // Only a lost channel is worth another try; anything else is the answer. (amqplib fails
        // the confirms of a closing channel after its 'close' listeners ran, so the mark is set.)
        if (this.#closing.signal.aborted) throw err;
        if (this.#publisher === channel && !this.#deadChannels.has(channel)) throw err;
        lastError = err;
      }
    }
  }

  /**
   * Replaces the connection, e.g. after a consumer was cancelled by the broker: everything is
   * declared again on the new one.
   */
  reset(reason: string): void {
    const model = this.#model;
    if (model === undefined || this.#closing.signal.aborted) return;
    // amqplib closes the channels of a lost connection before it reports the connection closed,
    // so wait a turn: when the connection itself is gone, #lost has handled it by then.
    setImmediate(() => {
      if (this.#model !== model || this.#resetting.has(model)) return;
      this.#resetting.add(model);
      this.#options.logger.warn(
        { url: this.displayUrl, reason },
        'messaging: reconnecting to the broker',
      );
      model.close().catch(() => {});
    });
  }

  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort();
    this.#ready.reject(new MessagingUnavailableError('the message bus is closed'));
    const model = this.#model;
    this.#model = undefined;
    this.#publisher = undefined;
    if (model !== undefined) await model.close().catch(() => {});
  }

  async #waitForPublisher(deadline: number): Promise<ConfirmChannel> {
    if (this.#closing.signal.aborted)
      throw new MessagingUnavailableError('the message bus is closed');
    if (this.#publisher !== undefined) return this.#publisher;
    const waitMs = deadline - Date.now();
    if (waitMs <= 0) throw this.#unreachable();
    const timeout = AbortSignal.timeout(waitMs);
    const timedOut = new Promise<never>((_resolve, reject) => {
      timeout.addEventListener('abort', () => reject(this.#unreachable()), { once: true });
    });
    return Promise.race([this.#ready.promise, timedOut]);
  }

  #unreachable(): MessagingUnavailableError {
    return new MessagingUnavailableError(`the message broker at ${this.displayUrl} is unreachable`);
  }

  async #open(): Promise<void> {
    const model = await connect(this.#url, {
      timeout: this.#options.connectTimeoutMs,
      clientProperties: { connection_name: this.#options.connectionName },
    });
    try {
      model.on('error', (err: Error) => {
        this.#options.logger.warn(
          { url: this.displayUrl, err: messageOf(err) },
          'messaging: connection error',
        );
      });
      let closed = false;
      model.on('close', (err?: Error) => {
        closed = true;
        this.#lost(model, err);
      });
      const publisher = await model.createConfirmChannel();
      // A channel error (e.g. a declaration the broker refuses) closes the channel; a fresh
      // connection is the one way back to a known state.
      publisher.on('error', () => {});
      publisher.on('close', () => {
        this.#deadChannels.add(publisher);
        this.reset('the publishing channel closed');
      });
      this.#model = model;
      // Setups added while this runs are run too: their `addSetup` saw no connection to run on.
      const done = new Set<ConnectionSetup>();
      for (;;) {
        const setup = [...this.#setups].find((candidate) => !done.has(candidate));
        if (setup === undefined) break;
        done.add(setup);
        await setup(model);
      }
      if (this.#closing.signal.aborted)
        throw new MessagingUnavailableError('the message bus is closed');
      // Lost while declaring: #lost ignored it (not connected yet), so fail this attempt here.
      if (closed) throw new Error('the connection closed while declaring queues');
      this.#publisher = publisher;
      this.#ready.resolve(publisher);
    } catch (err) {
      this.#model = undefined;
      await model.close().catch(() => {});
      throw err;
    }
    for (const listener of this.#listeners) listener('connected');
  }

  #lost(model: ChannelModel, err: Error | undefined): void {
    // A connection that never finished opening is #open's to fail, and the initial one must not
    // start reconnecting at all.
    if (this.#model !== model || this.#publisher === undefined || this.#closing.signal.aborted)
      return;
    this.#model = undefined;
    this.#publisher = undefined;
    // The old promise resolved already; callers from now on wait for the next connection.
    this.#ready = Promise.withResolvers<ConfirmChannel>();
    this.#ready.promise.catch(() => {});
    for (const listener of this.#listeners) listener('disconnected');
    this.#options.logger.warn(
      { url: this.displayUrl, err: err === undefined ? undefined : messageOf(err) },
      'messaging: lost the connection to the broker',
    );
    void this.#reconnect();
  }

  async #reconnect(): Promise<void> {
    if (this.#reconnecting) return;
    this.#reconnecting = true;
    try {
      const { initial, max } = this.#options.reconnectDelayMs;
      for (let attempt = 0; !this.#closing.signal.aborted; attempt += 1) {
        // Full jitter, so the servers that lost one broker do not all come back at one instant.
        const wait = Math.random() * Math.min(max, initial * 2 ** Math.min(attempt, 20));
        try {
          await delay(wait, undefined, { signal: this.#closing.signal });
          await this.#open();
          this.#options.logger.info(
            { url: this.displayUrl, attempt },
            'messaging: reconnected to the broker',
          );
          return;
        } catch (err) {
          if (this.#closing.signal.aborted) return;
          if (attempt % 10 === 0) {
            this.#options.logger.warn(
              { url: this.displayUrl, attempt, err: messageOf(err) },
              'messaging: cannot reconnect to the broker yet',
            );
          }
        }
      }
    } finally {
      this.#reconnecting = false;
    }
  }
}

/** The URL without its password, or a placeholder for what is not an AMQP URL at all. */
export function redactUrl(url: string): string {
  const parsed = parseAmqpUrl(url);
  if (parsed === undefined) return '(an unparsable URL)';
  parsed.password = '';
  return parsed.toString();
}

// `user:password@host` parses as a URL of scheme `user:`, with the password in its path.
function parseAmqpUrl(url: string): URL | undefined {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'amqp:' || parsed.protocol === 'amqps:' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** The one line an operator reads when the first connection fails. */
export function startupError(url: string, err: unknown): StartupError {
  const shown = redactUrl(url);
  const parsed = parseAmqpUrl(url);
  if (parsed === undefined) {
    return new StartupError(
      `invalid messaging.url ${shown}: write it as amqp://user:password@host:5672/vhost`,
    );
  }
  let reason = messageOf(err).replace(/\s+/g, ' ').trim();
  for (const password of new Set([parsed.password, decode(parsed.password)])) {
    if (password !== '') reason = reason.split(password).join('***');
  }
  const user = decode(parsed.username) || 'guest';
  const vhost = decode(parsed.pathname.slice(1)) || '/';
  const grant = `'rabbitmqctl set_permissions -p ${vhost} ${user} ".*" ".*" ".*"'`;
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
  const network = /ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|ECONNRESET/;
  let line: string;
  if (/Handshake terminated|Login was refused/.test(reason)) {
    line =
      `the message broker at ${shown} refused the login of user '${user}' (ACCESS_REFUSED);` +
      ' fix the user and password in messaging.url';
  } else if (/ConnectionClose|NOT_ALLOWED/.test(reason)) {
    line =
      `the message broker at ${shown} did not let user '${user}' open virtual host '${vhost}';` +
      ` create it ('rabbitmqctl add_vhost ${vhost}', then ${grant}) or fix messaging.url`;
  } else if (/ACCESS.REFUSED/.test(reason)) {
    line =
      `the message broker at ${shown} refused user '${user}' an operation (${reason});` +
      ` grant the permissions (${grant}) or fix messaging.url`;
  } else if (network.test(`${code} ${reason}`)) {
    line =
      `cannot reach the message broker at ${shown} (${reason});` +
      ` start RabbitMQ ('rabbitmq-server -detached') or fix messaging.url`;
  } else {
    line = `cannot connect to the message broker at ${shown} (${reason}); check messaging.url`;
  }
  return new StartupError(line, { cause: err });
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
