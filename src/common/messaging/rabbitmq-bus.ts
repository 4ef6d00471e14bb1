/**
 * The message bus on RabbitMQ (AMQP 0-9-1), for `tstack serve` across processes and hosts.
 *
 * Topology, all under one name (`exchange`, default `tstack`) so deployments can share a vhost;
 * `rabbitmq-topology.ts` declares it:
 * - `<exchange>`, a durable topic exchange, routes RPCs to the durable queues `<topic>` (shared by
 *   the topic's servers) and `<topic>.<server>` (one server).
 * - `<exchange>.fanout.<topic>`, a fanout exchange, feeds one exclusive queue per running server.
 * - `<exchange>.notifications`, a topic exchange, routes `<topic>.<priority>` to the durable queue
 *   of each pool (see `notificationQueue`).
 * - Replies come back through the default exchange to `reply.<uuid>`, one per bus, matched by
 *   correlation id. It outlives a lost connection, so a reply sent while this bus reconnects
 *   still arrives and the call in flight completes (or times out, never hangs).
 */
import { randomUUID } from 'node:crypto';
import type { ConsumeMessage, Options } from 'amqplib';
import { messageOf } from '../errors.ts';
import {
  checkName,
  checkTarget,
  checkTopic,
  DEFAULT_CALL_TIMEOUT_MS,
  DEFAULT_CONCURRENCY,
  DEFAULT_NOTIFICATION_TOPICS,
  describeTarget,
  resolveSubscription,
  stderrLogger,
  targetKey,
  type BusLogger,
  type CallOptions,
  type CastOptions,
  type FanoutOptions,
  type JsonObject,
  type JsonValue,
  type MessageBus,
  type Notification,
  type NotificationHandler,
  type NotificationSubscription,
  type NotifyOptions,
  type RpcHandlers,
  type ServeOptions,
  type Subscription,
  type Target,
} from './bus.ts';
import {
  buildEnvelope,
  checkConcurrency,
  checkTimeout,
  PendingCalls,
  serveNotification,
  serveRequest,
} from './dispatch.ts';
import { MessagingUnavailableError, RemoteErrorRegistry } from './errors.ts';
import { RabbitMqConnection, type ConnectionState } from './rabbitmq-connection.ts';
import { RabbitMqSubscriptions } from './rabbitmq-subscriptions.ts';
import { publish, RabbitMqTopology } from './rabbitmq-topology.ts';
import { decodeReply, encodeNotification, encodeReply, encodeRequest } from './wire.ts';

export type RabbitMqBusOptions = {
  /** Prefix of every exchange. Default `tstack`. */
  exchange?: string;
  errors?: RemoteErrorRegistry;
  logger?: BusLogger;
  now?: () => Date;
  /** Shown in `rabbitmqctl list_connections`. Default `tstack pid <pid>`. */
  connectionName?: string;
  /** Default 5 000 ms. */
  connectTimeoutMs?: number;
  /** How long a cast, fanout or notify waits for a lost broker before failing. Default 30 000 ms. */
  publishTimeoutMs?: number;
  /** Reconnect backoff. Default 100 ms doubling up to 5 000 ms. */
  reconnectDelayMs?: { initial: number; max: number };
  /** How long the reply queue outlives its bus. Default 60 000 ms. */
  replyQueueExpiryMs?: number;
};

const JSON_CONTENT = 'application/json';

export class RabbitMqBus implements MessageBus {
  readonly #connection: RabbitMqConnection;
  readonly #topology: RabbitMqTopology;
  readonly #logger: BusLogger;
  readonly #now: () => Date;
  readonly #pending: PendingCalls;
  readonly #publishTimeoutMs: number;
  readonly #replyQueueExpiryMs: number;
  readonly #subscriptions: RabbitMqSubscriptions;
  // Declarations a sender made, so it makes each once per connection.
  readonly #declared = new Set<string>();
  #replyQueue: Promise<string> | undefined;
  #state: 'new' | 'open' | 'closed' = 'new';

  /** @param url e.g. `amqp://user:password@127.0.0.1:5672/vhost`. Nothing connects before `connect()`. */
  constructor(url: string, options: RabbitMqBusOptions = {}) {
    const exchange = options.exchange ?? 'tstack';
    checkTopic(exchange);
    this.#topology = new RabbitMqTopology(exchange);
    this.#logger = options.logger ?? stderrLogger;
    this.#now = options.now ?? (() => new Date());
    this.#pending = new PendingCalls(options.errors ?? RemoteErrorRegistry.withDefaults());
    this.#publishTimeoutMs = options.publishTimeoutMs ?? 30_000;
    this.#replyQueueExpiryMs = options.replyQueueExpiryMs ?? 60_000;
    this.#connection = new RabbitMqConnection(url, {
      logger: this.#logger,
      connectionName: options.connectionName ?? `tstack pid ${process.pid}`,
      connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
      reconnectDelayMs: options.reconnectDelayMs ?? { initial: 100, max: 5_000 },
    });
    this.#subscriptions = new RabbitMqSubscriptions(this.#connection, this.#logger);
    this.#connection.onStateChange((state) => {
      if (state === 'disconnected') this.#declared.clear();
    });
  }

  /**
   * Connects and declares the exchanges. Fails at once, without retrying; once connected, the bus
   * reconnects by itself after a loss.
   * @throws StartupError, one line that names the broker (never the password) and what to fix.
   */
  async connect(): Promise<void> {
    if (this.#state !== 'new') throw new Error('RabbitMqBus.connect() may be called once');
    const remove = await this.#connection.addSetup(async (model) => {
      const channel = await this.#subscriptions.openChannel(model, 'exchange declaration');
      try {
        await this.#topology.declareExchanges(channel);
      } finally {
        await this.#subscriptions.closeChannel(channel);
      }
    });
    try {
      await this.#connection.connect();
    } catch (err) {
      remove();
      throw err;
    }
    this.#state = 'open';
  }

  get isConnected(): boolean {
    return this.#connection.isConnected;
  }

  /** Tells when the connection is lost and when it is back (after everything is declared again). */
  onConnectionChange(listener: (state: ConnectionState) => void): () => void {
    return this.#connection.onStateChange(listener);
  }

  async call(
    target: Target,
    method: string,
    args: JsonObject = {},
    options: CallOptions = {},
  ): Promise<JsonValue> {
    this.#checkOpen();
    checkTarget(target);
    checkName('method', method);
    const timeoutMs = options.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    checkTimeout(timeoutMs);
    const deadline = Date.now() + timeoutMs;
    const correlationId = randomUUID();
    const reply = this.#pending.start(correlationId, target, method, timeoutMs);
    // It may fail (close, timeout) while this still awaits the publish, before the caller holds it.
    reply.catch(() => {});
    const body = encodeRequest({ kind: 'call', method, args, context: options.context ?? {} });
    try {
      const replyTo = await this.#ensureReplyQueue();
      await this.#connection.withPublisher(deadline, async (channel) => {
        // Expiring with the call: a server that comes late must not run what nobody waits for.
        const expiration = String(Math.max(1, deadline - Date.now()));
        channel.publish(this.#topology.rpcExchange, targetKey(target), body, {
          correlationId,
          replyTo,
          expiration,
          contentType: JSON_CONTENT,
        });
      });
    } catch (err) {
      this.#pending.fail(correlationId, err instanceof Error ? err : new Error(messageOf(err)));
    }
    return reply;
  }

  async cast(
    target: Target,
    method: string,
    args: JsonObject = {},
    options: CastOptions = {},
  ): Promise<void> {
    this.#checkOpen();
    checkTarget(target);
    checkName('method', method);
    const key = targetKey(target);
    const durable = options.durable === true;
    const body = encodeRequest({ kind: 'cast', method, args, context: options.context ?? {} });
    await this.#connection.withPublisher(this.#publishDeadline(), async (channel) => {
      // The sender declares the queue, so the cast waits there even if no server ever ran yet.
      if (durable) {
        await this.#declareOnce(`queue ${key}`, () => this.#topology.declareRpcQueue(channel, key));
      }
      await publish(
        channel,
        this.#topology.rpcExchange,
        key,
        body,
        { persistent: durable, contentType: JSON_CONTENT },
        durable,
      );
    });
  }

  async fanout(
    topic: string,
    method: string,
    args: JsonObject = {},
    options: FanoutOptions = {},
  ): Promise<void> {
    this.#checkOpen();
    checkTopic(topic);
    checkName('method', method);
    const body = encodeRequest({ kind: 'fanout', method, args, context: options.context ?? {} });
    await this.#connection.withPublisher(this.#publishDeadline(), async (channel) => {
      // Publishing to an exchange that does not exist would close the channel.
      await this.#declareOnce(`fanout ${topic}`, () =>
        this.#topology.declareFanoutExchange(channel, topic),
      );
      channel.publish(this.#topology.fanoutExchange(topic), '', body, {
        contentType: JSON_CONTENT,
      });
    });
  }

  async serve(
    target: Target,
    handlers: RpcHandlers,
    options: ServeOptions = {},
  ): Promise<Subscription> {
    this.#checkOpen();
    checkTarget(target);
    const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
    checkConcurrency(concurrency);
    return this.#subscriptions.subscribe({
      what: `server of ${describeTarget(target)}`,
      declare: async (channel) => {
        await channel.prefetch(concurrency);
        const queues = await this.#topology.declareServerQueues(channel, target);
        return queues.map((queue) => ({
          queue,
          handle: (message: ConsumeMessage) => this.#handleRequest(message, handlers, target),
        }));
      },
    });
  }

  async notify(notification: Notification, options: NotifyOptions = {}): Promise<void> {
    this.#checkOpen();
    const topics = options.topics ?? DEFAULT_NOTIFICATION_TOPICS;
    const envelope = buildEnvelope(notification, topics, randomUUID(), this.#now());
    const body = encodeNotification(envelope);
    const durable = options.durable === true;
    const properties: Options.Publish = {
      persistent: durable,
      contentType: JSON_CONTENT,
      messageId: envelope.message_id,
    };
    await this.#connection.withPublisher(this.#publishDeadline(), async (channel) => {
      await Promise.all(
        topics.map((topic) =>
          publish(
            channel,
            this.#topology.notificationExchange,
            `${topic}.${notification.priority}`,
            body,
            properties,
            durable,
          ),
        ),
      );
    });
  }

  async onNotification(
    subscription: NotificationSubscription,
    handler: NotificationHandler,
  ): Promise<Subscription> {
    this.#checkOpen();
    const { topics, priorities, matches, pool } = resolveSubscription(subscription);
    return this.#subscriptions.subscribe({
      what: 'notification consumer',
      declare: async (channel) => {
        await channel.prefetch(DEFAULT_CONCURRENCY);
        const queues = await this.#topology.declareNotificationQueues(
          channel,
          topics,
          priorities,
          pool,
        );
        return queues.map((queue) => ({
          queue,
          handle: (message: ConsumeMessage) =>
            serveNotification(message.content, matches, handler, this.#logger),
        }));
      },
    });
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    const wasOpen = this.#state === 'open';
    this.#state = 'closed';
    this.#pending.failAll(
      new MessagingUnavailableError('the message bus was closed before the reply came'),
    );
    // Handlers waiting to publish their reply on a lost connection must not hold the close up.
    if (!this.#connection.isConnected) await this.#connection.close();
    // The reply consumer stops with the others, so deleting its queue cancels no live consumer.
    await this.#subscriptions.stopAll();
    const replyQueue = await this.#replyQueue?.catch(() => undefined);
    if (wasOpen && replyQueue !== undefined && this.#connection.isConnected) {
      await this.#connection
        .withPublisher(Date.now() + 2_000, (channel) => channel.deleteQueue(replyQueue))
        .catch(() => {});
    }
    await this.#connection.close();
  }

  #publishDeadline(): number {
    return Date.now() + this.#publishTimeoutMs;
  }

  #checkOpen(): void {
    if (this.#state === 'new')
      throw new MessagingUnavailableError('RabbitMqBus.connect() was not called');
    if (this.#state === 'closed') throw new MessagingUnavailableError('the message bus is closed');
  }

  async #declareOnce(key: string, declare: () => Promise<unknown>): Promise<void> {
    if (this.#declared.has(key)) return;
    await declare();
    this.#declared.add(key);
  }

  #ensureReplyQueue(): Promise<string> {
    this.#replyQueue ??= (async () => {
      const queue = `reply.${randomUUID()}`;
      await this.#subscriptions.subscribe({
        what: 'reply consumer',
        noAck: true,
        declare: async (channel) => {
          await this.#topology.declareReplyQueue(channel, queue, this.#replyQueueExpiryMs);
          return [{ queue, handle: async (message: ConsumeMessage) => this.#onReply(message) }];
        },
      });
      return queue;
    })();
    // A failed declaration is retried by the next call instead of failing every call after it.
    this.#replyQueue.catch(() => {
      this.#replyQueue = undefined;
    });
    return this.#replyQueue;
  }

  #onReply(message: ConsumeMessage): void {
    const correlationId: unknown = message.properties.correlationId;
    if (typeof correlationId !== 'string') return;
    try {
      this.#pending.settle(correlationId, decodeReply(message.content));
    } catch (err) {
      this.#pending.fail(correlationId, err instanceof Error ? err : new Error(messageOf(err)));
    }
  }

  async #handleRequest(
    message: ConsumeMessage,
    handlers: RpcHandlers,
    target: Target,
  ): Promise<void> {
    const reply = await serveRequest(message.content, handlers, target, this.#logger);
    const { replyTo, correlationId } = message.properties as {
      replyTo?: unknown;
      correlationId?: unknown;
    };
    if (reply === undefined || typeof replyTo !== 'string' || typeof correlationId !== 'string') {
      return;
    }
    try {
      await this.#connection.withPublisher(this.#publishDeadline(), async (channel) => {
        channel.publish('', replyTo, encodeReply(reply), {
          correlationId,
          contentType: JSON_CONTENT,
        });
      });
    } catch (err) {
      this.#logger.warn(
        { err: messageOf(err), topic: target.topic },
        'messaging: could not send a reply',
      );
    }
  }
}
