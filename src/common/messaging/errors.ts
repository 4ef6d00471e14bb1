/**
 * Messaging errors, and how an error thrown by a remote handler travels back to the caller: as
 * `{name, message, code?, status?, details?, headers?}` on the wire, re-raised at the caller with
 * its own class when that class is registered, else as a `RemoteError` carrying the remote name
 * (and the remote status and code, so an unregistered 404 still renders as a 404).
 */
import * as commonErrors from '../errors.ts';
import { ApiError, InternalError, ServiceUnavailableError } from '../errors.ts';
import { describeTarget, type JsonObject, type Target } from './bus.ts';

/** No reply came in time. The call may or may not have run on a server. */
export class MessagingTimeoutError extends ApiError {
  readonly target: Target;
  readonly method: string;
  readonly timeoutMs: number;

  constructor(target: Target, method: string, timeoutMs: number) {
    super(
      504,
      'messaging.timeout',
      `no reply from ${describeTarget(target)} to '${method}' within ${timeoutMs} ms` +
        ' (is a server for it running? the call may or may not have run)',
      {
        details: {
          topic: target.topic,
          server: target.server ?? null,
          method,
          timeout_ms: timeoutMs,
        },
      },
    );
    this.target = target;
    this.method = method;
    this.timeoutMs = timeoutMs;
  }
}

/** The bus is closed, or the broker stayed unreachable for longer than the driver waits. */
export class MessagingUnavailableError extends ServiceUnavailableError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'messaging.unavailable', options);
  }
}

/** The server of the target has no handler for the method (often a version skew). */
export class NoSuchMethodError extends InternalError {
  constructor(method: string, target: Target) {
    super(`${describeTarget(target)} has no method '${method}'`, 'messaging.no_such_method');
  }
}

/** A remote handler threw an error whose class the caller has not registered. */
export class RemoteError extends ApiError {
  /** The class name of the error on the remote side, e.g. `TypeError`. */
  readonly remoteName: string;

  constructor(
    remoteName: string,
    message: string,
    options: { status?: number; code?: string; details?: JsonObject } = {},
  ) {
    super(
      options.status ?? 500,
      options.code ?? 'messaging.remote_error',
      message,
      options.details === undefined ? {} : { details: options.details },
    );
    this.remoteName = remoteName;
  }
}

/** An error as it travels from a server back to its caller. */
export type WireError = {
  name: string;
  message: string;
  code?: string;
  status?: number;
  details?: JsonObject;
  headers?: Record<string, string>;
};

export function toWireError(err: unknown): WireError {
  if (err instanceof RemoteError) {
    // A failure of a nested call keeps its original name, so it can be revived further up.
    return { ...apiFields(err), name: err.remoteName };
  }
  if (err instanceof ApiError) return apiFields(err);
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { name: 'Error', message: String(err) };
}

function apiFields(err: ApiError): WireError {
  const wire: WireError = {
    name: err.name,
    message: err.message,
    code: err.code,
    status: err.status,
  };
  const details = jsonCopy(err.details);
  if (details !== undefined) wire.details = details;
  if (Object.keys(err.headers).length > 0) wire.headers = { ...err.headers };
  return wire;
}

function jsonCopy(value: unknown): JsonObject | undefined {
  if (value === undefined) return undefined;
  try {
    const copy: unknown = JSON.parse(JSON.stringify(value));
    return typeof copy === 'object' && copy !== null && !Array.isArray(copy)
      ? (copy as JsonObject)
      : undefined;
  } catch {
    // Details that are not JSON (a cycle, a BigInt) stay on the server's side.
    return undefined;
  }
}

/** An error class: anything with a prototype deriving from Error, whatever its constructor takes. */
export type ErrorClass = { readonly name: string; readonly prototype: Error };

/**
 * Which error classes a caller re-raises as themselves. `withDefaults()` has every error class of
 * `src/common/errors.ts` and `NoSuchMethodError`; each service registers its own `errors.ts`.
 */
export class RemoteErrorRegistry {
  readonly #classes = new Map<string, ErrorClass>();

  static withDefaults(): RemoteErrorRegistry {
    const registry = new RemoteErrorRegistry();
    for (const value of Object.values(commonErrors)) {
      if (isErrorClass(value)) registry.register(value);
    }
    return registry.register(NoSuchMethodError);
  }

  /**
   * Registers classes under their `name`. Idempotent for the same class.
   * @throws TypeError when another class already has that name: the caller could not tell them apart.
   */
  register(...classes: ErrorClass[]): this {
    for (const cls of classes) {
      const known = this.#classes.get(cls.name);
      if (known !== undefined && known !== cls) {
        throw new TypeError(`another error class named '${cls.name}' is already registered`);
      }
      this.#classes.set(cls.name, cls);
    }
    return this;
  }

  has(name: string): boolean {
    return this.#classes.has(name);
  }

  /** The error to throw at the caller for a remote failure. */
  revive(wire: WireError): Error {
    const cls = this.#classes.get(wire.name);
    if (cls === undefined) {
      const options: { status?: number; code?: string; details?: JsonObject } = {};
      if (wire.status !== undefined) options.status = wire.status;
      if (wire.code !== undefined) options.code = wire.code;
      if (wire.details !== undefined) options.details = wire.details;
      return new RemoteError(wire.name, wire.message, options);
    }
    // Constructors differ (MethodNotAllowedError takes an HTTP method, not a message), so the
    // error is rebuilt from its fields on the class's prototype rather than through `new`.
    const err = Object.create(cls.prototype) as Error;
    const fields: Record<string, unknown> = { name: wire.name };
    if (cls.prototype instanceof ApiError) {
      fields.status = wire.status ?? 500;
      fields.code = wire.code ?? 'messaging.remote_error';
      fields.details = wire.details;
      fields.headers = wire.headers ?? {};
    }
    for (const [key, value] of Object.entries(fields)) {
      Object.defineProperty(err, key, {
        value,
        writable: true,
        enumerable: true,
        configurable: true,
      });
    }
    Object.defineProperty(err, 'message', {
      value: wire.message,
      writable: true,
      enumerable: false,
      configurable: true,
    });
    // The stack of the caller, which is where the error is thrown now.
    // Only the function's identity is used, to cut the stack there; it is never called unbound.
    // eslint-disable-next-line @typescript-eslint/unbound-method
    Error.captureStackTrace(err, RemoteErrorRegistry.prototype.revive);
    return err;
  }
}

function isErrorClass(value: unknown): value is ErrorClass {
  return typeof value === 'function' && value.prototype instanceof Error;
}
