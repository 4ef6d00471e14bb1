/**
 * The message bus of `tstack up`: one process, no broker to run. It speaks to an `InMemoryBroker`
 * the way `RabbitMqBus` speaks to RabbitMQ (same queues, same wire format), and the conformance
 * suite holds both to one contract. Only tests and `src/cli` import this.
 */
import { randomUUID } from 'node:crypto';
import {
  checkName,
  checkTarget,
  checkTopic,
  DEFAULT_CALL_TIMEOUT_MS,
  DEFAULT_CONCURRENCY,
  DEFAULT_NOTIFICATION_TOPICS,
  notificationQueue,
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
  InFlight,
  PendingCalls,
  serveNotification,
  serveRequest,
} from './dispatch.ts';
import { MessagingUnavailableError, RemoteErrorRegistry } from './errors.ts';
import { decodeReply, encodeNotification, encodeReply, encodeRequest } from './wire.ts';
import { InMemoryBroker, type Deliver, type InMemoryMessage } from './in-memory-broker.ts';

const RPC_EXCHANGE = 'rpc';
const NOTIFICATION_EXCHANGE = 'notifications';
const fanoutExchange = (topic: string): string => `fanout.${topic}`;

export type InMemoryBusOptions = {
  /** Share one broker between buses to stand for several processes. Default: a broker of its own. */
  broker?: InMemoryBroker;
  errors?: RemoteErrorRegistry;
  logger?: BusLogger;
  now?: () => Date;
};

export class InMemoryBus implements MessageBus {
  readonly #broker: InMemoryBroker;
  readonly #logger: BusLogger;
  readonly #now: () => Date;
  readonly #pending: PendingCalls;
  readonly #subscriptions = new Set<Subscription>();
  #replyQueue: string | undefined;
  #closed = false;

  constructor(options: InMemoryBusOptions = {}) {
    this.#broker = options.broker ?? new InMemoryBroker();
    this.#logger = options.logger ?? stderrLogger;
    this.#now = options.now ?? (() => new Date());
    this.#pending = new PendingCalls(options.errors ?? RemoteErrorRegistry.withDefaults());
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
    const correlationId = randomUUID();
    const reply = this.#pending.start(correlationId, target, method, timeoutMs);
    this.#broker.publish(RPC_EXCHANGE, targetKey(target), {
      body: encodeRequest({ kind: 'call', method, args, context: options.context ?? {} }),
      persistent: false,
      ttlMs: timeoutMs,
      replyTo: this.#ensureReplyQueue(),
      correlationId,
    });
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
    if (options.durable === true) {
      // As the RabbitMQ driver does: the sender creates the queue, so it holds the cast until a
      // server comes.
      this.#broker.declareQueue(key);
      this.#broker.bind(RPC_EXCHANGE, key, key);
    }
    this.#broker.publish(RPC_EXCHANGE, key, {
      body: encodeRequest({ kind: 'cast', method, args, context: options.context ?? {} }),
      persistent: options.durable === true,
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
    this.#broker.publish(fanoutExchange(topic), '', {
      body: encodeRequest({ kind: 'fanout', method, args, context: options.context ?? {} }),
      persistent: false,
    });
  }

  async serve(
    target: Target,
    handlers: RpcHandlers,
    options: ServeOptions = {},
  ): Promise<Subscription> {
    this.#checkOpen();
    checkTarget(target);
    const prefetch = options.concurrency ?? DEFAULT_CONCURRENCY;
    checkConcurrency(prefetch);
    const queues = target.server === undefined ? [target.topic] : [target.topic, targetKey(target)];
    for (const queue of queues) {
      this.#broker.declareQueue(queue);
      this.#broker.bind(RPC_EXCHANGE, queue, queue);
    }
    // Like an exclusive AMQP queue: one per server, gone with it, so a fanout sent while no
    // server runs reaches nobody.
    const fanoutQueue = `${fanoutExchange(target.topic)}.${randomUUID()}`;
    this.#broker.declareQueue(fanoutQueue);
    this.#broker.bind(fanoutExchange(target.topic), '', fanoutQueue);
    const inFlight = new InFlight();
    const onMessage: Deliver = (message, ack) => {
      inFlight.track(this.#handleRequest(message, handlers, target).finally(ack));
    };
    const cancels = [...queues, fanoutQueue].map((queue) =>
      this.#broker.consume(queue, prefetch, onMessage),
    );
    return this.#subscribe(async () => {
      for (const cancel of cancels) cancel();
      this.#broker.deleteQueue(fanoutQueue);
      await inFlight.drain();
    });
  }

  async notify(notification: Notification, options: NotifyOptions = {}): Promise<void> {
    this.#checkOpen();
    const topics = options.topics ?? DEFAULT_NOTIFICATION_TOPICS;
    const envelope = buildEnvelope(notification, topics, randomUUID(), this.#now());
    const body = encodeNotification(envelope);
    for (const topic of topics) {
      this.#broker.publish(NOTIFICATION_EXCHANGE, `${topic}.${notification.priority}`, {
        body,
        persistent: options.durable === true,
      });
    }
  }

  async onNotification(
    subscription: NotificationSubscription,
    handler: NotificationHandler,
  ): Promise<Subscription> {
    this.#checkOpen();
    const { topics, priorities, matches, pool } = resolveSubscription(subscription);
    const inFlight = new InFlight();
    const onMessage: Deliver = (message, ack) => {
      inFlight.track(serveNotification(message.body, matches, handler, this.#logger).finally(ack));
    };
    const cancels: (() => void)[] = [];
    for (const topic of topics) {
      for (const priority of priorities) {
        const queue = notificationQueue(topic, priority, pool);
        this.#broker.declareQueue(queue);
        this.#broker.bind(NOTIFICATION_EXCHANGE, `${topic}.${priority}`, queue);
        cancels.push(this.#broker.consume(queue, DEFAULT_CONCURRENCY, onMessage));
      }
    }
    return this.#subscribe(async () => {
      for (const cancel of cancels) cancel();
      await inFlight.drain();
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending.failAll(
      new MessagingUnavailableError('the message bus was closed before the reply came'),
    );
    await Promise.all([...this.#subscriptions].map((subscription) => subscription.stop()));
    if (this.#replyQueue !== undefined) this.#broker.deleteQueue(this.#replyQueue);
  }

  #checkOpen(): void {
    if (this.#closed) throw new MessagingUnavailableError('the message bus is closed');
  }

  #subscribe(stop: () => Promise<void>): Subscription {
    let stopping: Promise<void> | undefined;
    const subscription: Subscription = {
      stop: () => {
        stopping ??= stop().finally(() => this.#subscriptions.delete(subscription));
        return stopping;
      },
    };
    this.#subscriptions.add(subscription);
    return subscription;
  }

  #ensureReplyQueue(): string {
    if (this.#replyQueue !== undefined) return this.#replyQueue;
    const queue = `reply.${randomUUID()}`;
    this.#broker.declareQueue(queue);
    this.#broker.consume(queue, Infinity, (message, ack) => {
      ack();
      if (message.correlationId === undefined) return;
      try {
        this.#pending.settle(message.correlationId, decodeReply(message.body));
      } catch (err) {
        this.#pending.fail(
          message.correlationId,
          err instanceof Error ? err : new Error(String(err)),
        );
      }
    });
    this.#replyQueue = queue;
    return queue;
  }

  async #handleRequest(
    message: InMemoryMessage,
    handlers: RpcHandlers,
    target: Target,
  ): Promise<void> {
    const reply = await serveRequest(message.body, handlers, target, this.#logger);
    if (reply === undefined || message.replyTo === undefined) return;
    this.#broker.publish('', message.replyTo, {
      body: encodeReply(reply),
      persistent: false,
      correlationId: message.correlationId,
    });
  }
}
