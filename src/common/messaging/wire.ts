/**
 * The bodies of messages, as JSON text, shared by both drivers so the in-memory bus serialises
 * exactly what RabbitMQ would carry. Whatever arrives is checked before use: a message from an
 * older or broken peer is a clear error, never an untyped object inside a handler.
 */
import {
  NOTIFICATION_PRIORITIES,
  type JsonObject,
  type JsonValue,
  type NotificationEnvelope,
  type NotificationPriority,
  type RpcKind,
} from './bus.ts';
import type { WireError } from './errors.ts';
import { messageOf } from '../errors.ts';

export type RequestBody = {
  kind: RpcKind;
  method: string;
  args: JsonObject;
  context: JsonObject;
};

export type ReplyBody = { ok: true; result: JsonValue } | { ok: false; error: WireError };

export function encodeRequest(request: RequestBody): Buffer {
  return Buffer.from(JSON.stringify(request));
}

export function encodeReply(reply: ReplyBody): Buffer {
  return Buffer.from(JSON.stringify(reply));
}

export function encodeNotification(envelope: NotificationEnvelope): Buffer {
  return Buffer.from(JSON.stringify(envelope));
}

/** @throws TypeError naming what is wrong with the message. */
export function decodeRequest(body: Buffer): RequestBody {
  const value = parseObject(body, 'request');
  const { kind, method, args, context } = value;
  if (kind !== 'call' && kind !== 'cast' && kind !== 'fanout') {
    throw new TypeError(
      `malformed request: kind ${JSON.stringify(kind)} is not call, cast or fanout`,
    );
  }
  if (typeof method !== 'string') throw new TypeError('malformed request: method is not a string');
  if (!isObject(args)) throw new TypeError('malformed request: args is not an object');
  if (!isObject(context)) throw new TypeError('malformed request: context is not an object');
  return { kind, method, args, context };
}

/** @throws TypeError naming what is wrong with the message. */
export function decodeReply(body: Buffer): ReplyBody {
  const value = parseObject(body, 'reply');
  if (value.ok === true && 'result' in value && value.result !== undefined) {
    return { ok: true, result: value.result };
  }
  if (value.ok === false && isObject(value.error)) {
    return { ok: false, error: decodeWireError(value.error) };
  }
  throw new TypeError('malformed reply: neither {ok: true, result} nor {ok: false, error}');
}

/** @throws TypeError naming what is wrong with the message. */
export function decodeNotification(body: Buffer): NotificationEnvelope {
  const value = parseObject(body, 'notification');
  const { message_id, publisher_id, event_type, priority, payload, timestamp } = value;
  for (const [name, field] of Object.entries({ message_id, publisher_id, event_type, timestamp })) {
    if (typeof field !== 'string')
      throw new TypeError(`malformed notification: ${name} is not a string`);
  }
  if (!isPriority(priority)) {
    throw new TypeError(`malformed notification: unknown priority ${JSON.stringify(priority)}`);
  }
  if (!isObject(payload)) throw new TypeError('malformed notification: payload is not an object');
  return {
    message_id: message_id as string,
    publisher_id: publisher_id as string,
    event_type: event_type as string,
    priority,
    payload,
    timestamp: timestamp as string,
  };
}

function decodeWireError(value: JsonObject): WireError {
  const { name, message, code, status, details, headers } = value;
  const wire: WireError = {
    name: typeof name === 'string' && name !== '' ? name : 'Error',
    message: typeof message === 'string' ? message : '',
  };
  if (typeof code === 'string') wire.code = code;
  if (typeof status === 'number' && Number.isInteger(status)) wire.status = status;
  if (isObject(details)) wire.details = details;
  if (isObject(headers)) {
    wire.headers = Object.fromEntries(
      Object.entries(headers).filter(
        (entry): entry is [string, string] => typeof entry[1] === 'string',
      ),
    );
  }
  return wire;
}

function parseObject(body: Buffer, what: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new TypeError(`malformed ${what}: not JSON (${messageOf(err)})`);
  }
  if (!isObject(value)) throw new TypeError(`malformed ${what}: not a JSON object`);
  return value;
}

// JSON.parse yields only JSON values, so an object from it is a JsonObject.
function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPriority(value: unknown): value is NotificationPriority {
  return (
    typeof value === 'string' && (NOTIFICATION_PRIORITIES as readonly string[]).includes(value)
  );
}
