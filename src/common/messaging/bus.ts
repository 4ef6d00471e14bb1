/**
 * The message bus every tstack service talks over: an oslo.messaging-like core of RPC `call`,
 * `cast` and `fanout`, plus notifications. Two drivers implement it, `InMemoryBus` (the embedded
 * default of `tstack up`; tests and `src/cli` only) and `RabbitMqBus` (AMQP 0-9-1); one
 * conformance suite (`test/common/messaging/bus-conformance.ts`) holds both to the same contract.
 *
 * Delivery, the same in both drivers: a server acknowledges a message only after its handler
 * settles, so when it dies mid-handler the message goes to another server of the queue or to the
 * same one after its restart. That is at least once: handlers must be idempotent. A call is
 * redelivered only while its caller still waits (the request expires with the call's timeout).
 * `durable: true` adds that the sender waits for the broker's confirm, the message is persistent
 * (it survives a broker restart), and a cast is held in its queue even when no server has ever
 * served the target; without it, a message to a target no server ever served is dropped. Work that must never be lost is
 * also recorded in the database (ARCHITECTURE.md §5), so a lost message delays it only.
 */

/** A JSON value: what a message can carry. Dates, `undefined` and class instances are not. */
export type JsonValue =
  string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/**
 * Where an RPC goes, as in oslo: `{topic}` reaches any one server of the topic (the servers share
 * the work), `{topic, server}` reaches that server only.
 */
export type Target = {
  readonly topic: string;
  readonly server?: string;
};

export type RpcKind = 'call' | 'cast' | 'fanout';

/** What a handler learns about the request besides its arguments. */
export type RpcRequest = {
  readonly kind: RpcKind;
  readonly method: string;
  /** Caller context, e.g. `{global_request_id, project_id}`; `{}` when the caller gave none. */
  readonly context: JsonObject;
};

/**
 * Handles one method. What it returns is the reply of a `call` (`undefined` becomes `null`); for a
 * cast or fanout it is dropped. What it throws goes back to a caller (see `RemoteErrorRegistry`);
 * for a cast or fanout it is logged.
 */
export type RpcHandler = (
  args: JsonObject,
  request: RpcRequest,
) => JsonValue | void | Promise<JsonValue | void>;

/** Method name → handler. Only own properties count, so `toString` is never a method. */
export type RpcHandlers = Readonly<Record<string, RpcHandler>>;

export type CallOptions = {
  /** How long to wait for the reply. Default 60 000 ms, oslo's `rpc_response_timeout`. */
  timeoutMs?: number;
  context?: JsonObject;
};

export type CastOptions = {
  /**
   * Wait for the broker to confirm a persistent message, and hold it in the target's queue even
   * when no server has served the target yet (see the delivery notes above).
   */
  durable?: boolean;
  context?: JsonObject;
};

export type FanoutOptions = {
  context?: JsonObject;
};

export type ServeOptions = {
  /** How many messages a server handles at once. Default 32. */
  concurrency?: number;
};

/** oslo's notification priorities; `warn` is the spelling of oslo's `warning`. */
export const NOTIFICATION_PRIORITIES = [
  'audit',
  'debug',
  'info',
  'warn',
  'error',
  'critical',
  'sample',
] as const;
export type NotificationPriority = (typeof NOTIFICATION_PRIORITIES)[number];

export type Notification = {
  /** Who sends it, e.g. `compute.host1`. */
  readonly publisherId: string;
  /** What happened, e.g. `compute.instance.create.end`. */
  readonly eventType: string;
  readonly priority: NotificationPriority;
  readonly payload: JsonObject;
};

/** A notification as consumers receive it; the field names are oslo's envelope. */
export type NotificationEnvelope = {
  readonly message_id: string;
  readonly publisher_id: string;
  readonly event_type: string;
  readonly priority: NotificationPriority;
  readonly payload: JsonObject;
  /** ISO 8601, UTC. */
  readonly timestamp: string;
};

export type NotifyOptions = {
  /** Topics to publish on. Default `['notifications']`, oslo's default. */
  topics?: readonly string[];
  /** As for `CastOptions.durable`, except the queue has to exist: a consumer created it. */
  durable?: boolean;
};

export type NotificationSubscription = {
  /** Default `['notifications']`. */
  topics?: readonly string[];
  /** Default: all of `NOTIFICATION_PRIORITIES`. */
  priorities?: readonly NotificationPriority[];
  /**
   * Only these event types reach the handler: an exact name, a pattern where `*` matches any run
   * of characters (`compute.instance.*`), or a RegExp. The others are acknowledged and dropped, so
   * every consumer of one pool must use the same filter.
   */
  eventType?: string | RegExp;
  /**
   * Consumers of the same pool share the notifications (each goes to one of them); every pool gets
   * every notification. The default pool uses the queues `<topic>.<priority>`, as oslo does.
   * A pool's queue stays and collects notifications while none of its consumers runs.
   */
  pool?: string;
};

export type NotificationHandler = (notification: NotificationEnvelope) => void | Promise<void>;

/** A running server or notification consumer. */
export type Subscription = {
  /**
   * Stops taking messages, then waits for the handlers already running to finish (their replies
   * and acknowledgements go out). Idempotent.
   */
  stop(): Promise<void>;
};

/**
 * The core interface. Every method may reject with `MessagingUnavailableError` once the bus is
 * closed, or when the broker stays unreachable longer than the driver's publish timeout.
 */
export interface MessageBus {
  /**
   * Calls `method` on one server of `target` and resolves with its reply.
   * @throws MessagingTimeoutError when no reply arrives within `timeoutMs` (also when no server
   *   serves the target); the call may or may not have run.
   * @throws the handler's error, re-raised with its class when the class is registered, else
   *   `RemoteError`; `NoSuchMethodError` when the server has no such method.
   */
  call(
    target: Target,
    method: string,
    args?: JsonObject,
    options?: CallOptions,
  ): Promise<JsonValue>;
  /** Sends without waiting for a reply. Resolves once sent (confirmed by the broker if durable). */
  cast(target: Target, method: string, args?: JsonObject, options?: CastOptions): Promise<void>;
  /** Sends to every server serving `topic` now; none get it later. */
  fanout(topic: string, method: string, args?: JsonObject, options?: FanoutOptions): Promise<void>;
  /**
   * Serves `handlers` on `target.topic`, `topic.server` when `target.server` is set, and the
   * topic's fanout. Resolves once messages sent from now on will reach it.
   */
  serve(target: Target, handlers: RpcHandlers, options?: ServeOptions): Promise<Subscription>;
  /** Publishes on `<topic>.<priority>` of every topic. */
  notify(notification: Notification, options?: NotifyOptions): Promise<void>;
  /** Consumes notifications; resolves once notifications published from now on will reach it. */
  onNotification(
    subscription: NotificationSubscription,
    handler: NotificationHandler,
  ): Promise<Subscription>;
  /**
   * Fails pending calls with `MessagingUnavailableError`, stops every subscription (waiting for
   * its running handlers, as `stop` does) and lets go of the broker. Idempotent.
   */
  close(): Promise<void>;
}

/** The part of a pino logger the bus uses, so a test can pass a recording fake. */
export interface BusLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/** Used when no logger is given: a handler's failure must not vanish without a trace. */
export const stderrLogger: BusLogger = {
  info() {},
  warn(fields, message) {
    process.stderr.write(`${jsonLine('warn', fields, message)}\n`);
  },
  error(fields, message) {
    process.stderr.write(`${jsonLine('error', fields, message)}\n`);
  },
};

function jsonLine(level: string, fields: Record<string, unknown>, message: string): string {
  // An Error has no enumerable fields, so JSON.stringify would print it as {}.
  return JSON.stringify({ level, msg: message, ...fields }, (_key, value: unknown) =>
    value instanceof Error ? (value.stack ?? `${value.name}: ${value.message}`) : value,
  );
}

export const DEFAULT_CALL_TIMEOUT_MS = 60_000;
export const DEFAULT_CONCURRENCY = 32;
export const DEFAULT_NOTIFICATION_TOPICS: readonly string[] = ['notifications'];

// Topics become queue names and routing keys where `.` separates topic from server, so a topic
// has no dots; server names are host names and may have them. `*` and `#` are AMQP wildcards.
const TOPIC = /^[A-Za-z0-9_-]+$/;
const SERVER = /^[A-Za-z0-9_:-][A-Za-z0-9_.:-]*$/;

/** Throws a TypeError naming the bad part; a bad target is a programming error. */
export function checkTopic(topic: string): void {
  if (!TOPIC.test(topic)) {
    throw new TypeError(
      `invalid messaging topic ${JSON.stringify(topic)}: use letters, digits, '_' and '-'`,
    );
  }
}

export function checkTarget(target: Target): void {
  checkTopic(target.topic);
  if (target.server !== undefined && !SERVER.test(target.server)) {
    throw new TypeError(
      `invalid messaging server ${JSON.stringify(target.server)}: use letters, digits, '_', '-', ':' and '.'`,
    );
  }
}

export function checkName(kind: string, name: string): void {
  if (name.length === 0 || name.length > 200) {
    throw new TypeError(
      `invalid ${kind} ${JSON.stringify(name)}: it must have 1 to 200 characters`,
    );
  }
}

/** `topic` or `topic.server`: the routing key and queue name of a target. */
export function targetKey(target: Target): string {
  return target.server === undefined ? target.topic : `${target.topic}.${target.server}`;
}

export function describeTarget(target: Target): string {
  return target.server === undefined
    ? `topic '${target.topic}'`
    : `server '${target.server}' of topic '${target.topic}'`;
}

/** The queue of one (topic, priority) binding of a pool. */
export function notificationQueue(
  topic: string,
  priority: NotificationPriority,
  pool?: string,
): string {
  return pool === undefined ? `${topic}.${priority}` : `${topic}.${priority}.${pool}`;
}

/** Normalises a subscription: defaults filled in, names checked. */
export function resolveSubscription(subscription: NotificationSubscription): {
  topics: readonly string[];
  priorities: readonly NotificationPriority[];
  matches: (eventType: string) => boolean;
  pool: string | undefined;
} {
  const topics = subscription.topics ?? DEFAULT_NOTIFICATION_TOPICS;
  const priorities = subscription.priorities ?? NOTIFICATION_PRIORITIES;
  if (topics.length === 0 || priorities.length === 0) {
    throw new TypeError('a notification subscription needs at least one topic and one priority');
  }
  topics.forEach(checkTopic);
  for (const priority of priorities) {
    if (!NOTIFICATION_PRIORITIES.includes(priority)) {
      throw new TypeError(`invalid notification priority ${JSON.stringify(priority)}`);
    }
  }
  if (subscription.pool !== undefined && !SERVER.test(subscription.pool)) {
    throw new TypeError(`invalid notification pool ${JSON.stringify(subscription.pool)}`);
  }
  return {
    topics,
    priorities,
    matches: eventTypeMatcher(subscription.eventType),
    pool: subscription.pool,
  };
}

function eventTypeMatcher(filter: string | RegExp | undefined): (eventType: string) => boolean {
  if (filter === undefined) return () => true;
  if (filter instanceof RegExp) {
    // A copy without the g and y flags, whose `test` would otherwise remember its last position.
    const pattern = new RegExp(filter.source, filter.flags.replace(/[gy]/g, ''));
    return (eventType) => pattern.test(eventType);
  }
  if (!filter.includes('*')) return (eventType) => eventType === filter;
  const source = filter
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  const pattern = new RegExp(`^${source}$`);
  return (eventType) => pattern.test(eventType);
}
