/**
 * What a server does with a message once a driver has received it, shared by both drivers so
 * they cannot differ: find the handler, run it, turn its result or error into a reply, log what
 * nobody else will see.
 */
import { ApiError, messageOf } from '../errors.ts';
import {
  checkName,
  checkTopic,
  describeTarget,
  NOTIFICATION_PRIORITIES,
  type BusLogger,
  type JsonValue,
  type Notification,
  type NotificationEnvelope,
  type NotificationHandler,
  type RpcHandlers,
  type Target,
} from './bus.ts';
import {
  MessagingTimeoutError,
  NoSuchMethodError,
  toWireError,
  type RemoteErrorRegistry,
} from './errors.ts';
import { decodeNotification, decodeRequest, type ReplyBody, type RequestBody } from './wire.ts';

/** Runs the handler of a request. Never rejects: a failure becomes an error reply. */
export async function dispatchRequest(
  request: RequestBody,
  handlers: RpcHandlers,
  target: Target,
  logger: BusLogger,
): Promise<ReplyBody> {
  const handler = Object.hasOwn(handlers, request.method) ? handlers[request.method] : undefined;
  try {
    if (handler === undefined) throw new NoSuchMethodError(request.method, target);
    const result = await handler(request.args, {
      kind: request.kind,
      method: request.method,
      context: request.context,
    });
    return { ok: true, result: result ?? null };
  } catch (err) {
    // An ApiError answering a call is an expected outcome (not found, conflict) for the caller to
    // handle; anything else, or any failure of a cast nobody waits for, must reach the logs.
    if (request.kind !== 'call' || !(err instanceof ApiError)) {
      logger.error(
        {
          err,
          topic: target.topic,
          server: target.server,
          method: request.method,
          kind: request.kind,
        },
        `messaging: handler of '${request.method}' on ${describeTarget(target)} failed`,
      );
    }
    return { ok: false, error: toWireError(err) };
  }
}

/**
 * Decodes and runs a request as received by a driver. Resolves with the reply when the request is
 * a call (the driver sends it back), else undefined; a malformed request is logged and dropped.
 */
export async function serveRequest(
  body: Buffer,
  handlers: RpcHandlers,
  target: Target,
  logger: BusLogger,
): Promise<ReplyBody | undefined> {
  let request: RequestBody;
  try {
    request = decodeRequest(body);
  } catch (err) {
    logger.warn(
      { err: messageOf(err), topic: target.topic },
      'messaging: dropped a malformed request',
    );
    return undefined;
  }
  const reply = await dispatchRequest(request, handlers, target, logger);
  return request.kind === 'call' ? reply : undefined;
}

/** Decodes a notification as received by a driver and runs the handler. Never rejects. */
export async function serveNotification(
  body: Buffer,
  matches: (eventType: string) => boolean,
  handler: NotificationHandler,
  logger: BusLogger,
): Promise<void> {
  let envelope: NotificationEnvelope;
  try {
    envelope = decodeNotification(body);
  } catch (err) {
    logger.warn({ err: messageOf(err) }, 'messaging: dropped a malformed notification');
    return;
  }
  await dispatchNotification(envelope, matches, handler, logger);
}

/** Runs a notification handler when the event type matches. Never rejects. */
export async function dispatchNotification(
  envelope: NotificationEnvelope,
  matches: (eventType: string) => boolean,
  handler: NotificationHandler,
  logger: BusLogger,
): Promise<void> {
  if (!matches(envelope.event_type)) return;
  try {
    await handler(envelope);
  } catch (err) {
    logger.error(
      { err, event_type: envelope.event_type, message_id: envelope.message_id },
      `messaging: notification handler for '${envelope.event_type}' failed`,
    );
  }
}

/** The handlers still running, so a stop can wait for them. */
export class InFlight {
  readonly #running = new Set<Promise<void>>();

  get size(): number {
    return this.#running.size;
  }

  track(work: Promise<void>): void {
    const tracked: Promise<void> = work
      .catch(() => {})
      .finally(() => this.#running.delete(tracked));
    this.#running.add(tracked);
  }

  /** Resolves when everything tracked so far has settled. */
  async drain(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }
}

/** Calls waiting for their reply, by correlation id. */
export class PendingCalls {
  readonly #errors: RemoteErrorRegistry;
  readonly #calls = new Map<
    string,
    { resolve: (value: JsonValue) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }
  >();

  constructor(errors: RemoteErrorRegistry) {
    this.#errors = errors;
  }

  /** Registers a call; its promise settles with the reply, a timeout or `fail`. */
  start(id: string, target: Target, method: string, timeoutMs: number): Promise<JsonValue> {
    const { promise, resolve, reject } = Promise.withResolvers<JsonValue>();
    const timer = setTimeout(() => {
      this.#calls.delete(id);
      reject(new MessagingTimeoutError(target, method, timeoutMs));
    }, timeoutMs);
    this.#calls.set(id, { resolve, reject, timer });
    return promise;
  }

  /** Settles a call with its reply. False when the call is unknown (it timed out already). */
  settle(id: string, reply: ReplyBody): boolean {
    const call = this.#calls.get(id);
    if (call === undefined) return false;
    this.#calls.delete(id);
    clearTimeout(call.timer);
    if (reply.ok) call.resolve(reply.result);
    else call.reject(this.#errors.revive(reply.error));
    return true;
  }

  fail(id: string, err: Error): void {
    const call = this.#calls.get(id);
    if (call === undefined) return;
    this.#calls.delete(id);
    clearTimeout(call.timer);
    call.reject(err);
  }

  failAll(err: Error): void {
    for (const id of [...this.#calls.keys()]) this.fail(id, err);
  }
}

/** @throws RangeError unless `timeoutMs` is a positive number of milliseconds a timer can wait. */
export function checkTimeout(timeoutMs: number): void {
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0 || timeoutMs > 2_147_483_647) {
    throw new RangeError(`invalid call timeout ${timeoutMs}: use 1 to 2147483647 ms`);
  }
}

/** @throws RangeError unless `concurrency` is a positive integer. */
export function checkConcurrency(concurrency: number): void {
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 65_535) {
    throw new RangeError(`invalid concurrency ${concurrency}: use 1 to 65535`);
  }
}

/** The oslo-style envelope of a notification, checked. */
export function buildEnvelope(
  notification: Notification,
  topics: readonly string[],
  messageId: string,
  now: Date,
): NotificationEnvelope {
  topics.forEach(checkTopic);
  if (topics.length === 0) throw new TypeError('a notification needs at least one topic');
  checkName('publisher id', notification.publisherId);
  checkName('event type', notification.eventType);
  if (!NOTIFICATION_PRIORITIES.includes(notification.priority)) {
    throw new TypeError(`invalid notification priority ${JSON.stringify(notification.priority)}`);
  }
  return {
    message_id: messageId,
    publisher_id: notification.publisherId,
    event_type: notification.eventType,
    priority: notification.priority,
    payload: notification.payload,
    timestamp: now.toISOString(),
  };
}
