/**
 * The typed error hierarchy every service throws. An error is data: an HTTP status, a stable
 * code (`compute.instance_not_found`) and a message that names the problem. Each service renders
 * it once, in its upstream shape (see `http/error-shapes.ts`). Anything thrown that is not an
 * `ApiError` is a bug and becomes a logged 500 with a generic message.
 */

export type ErrorDetails = Readonly<Record<string, unknown>>;

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: ErrorDetails | undefined;
  /** Extra response headers, e.g. `Allow` on a 405 or `Retry-After` on a 429. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    code: string,
    message: string,
    options: { details?: ErrorDetails; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.details = options.details;
    this.headers = options.headers ?? {};
  }
}

type Options = ConstructorParameters<typeof ApiError>[3];

export class BadRequestError extends ApiError {
  constructor(message: string, code = 'common.bad_request', options?: Options) {
    super(400, code, message, options);
  }
}

export class UnauthorizedError extends ApiError {
  constructor(
    message = 'The request you have made requires authentication.',
    code = 'common.unauthorized',
    options?: Options,
  ) {
    super(401, code, message, options);
  }
}

export class ForbiddenError extends ApiError {
  constructor(message: string, code = 'common.forbidden', options?: Options) {
    super(403, code, message, options);
  }
}

export class NotFoundError extends ApiError {
  constructor(message: string, code = 'common.not_found', options?: Options) {
    super(404, code, message, options);
  }
}

export class MethodNotAllowedError extends ApiError {
  constructor(method: string, allowed: readonly string[] = [], options?: Options) {
    super(405, 'common.method_not_allowed', `The method ${method} is not supported for this URL.`, {
      ...options,
      headers: allowed.length > 0 ? { allow: allowed.join(', ') } : {},
    });
  }
}

export class NotAcceptableError extends ApiError {
  constructor(message: string, code = 'common.not_acceptable', options?: Options) {
    super(406, code, message, options);
  }
}

export class ConflictError extends ApiError {
  constructor(message: string, code = 'common.conflict', options?: Options) {
    super(409, code, message, options);
  }
}

export class PreconditionFailedError extends ApiError {
  constructor(message: string, code = 'common.precondition_failed', options?: Options) {
    super(412, code, message, options);
  }
}

export class PayloadTooLargeError extends ApiError {
  constructor(message: string, code = 'common.payload_too_large', options?: Options) {
    super(413, code, message, options);
  }
}

export class UnsupportedMediaTypeError extends ApiError {
  constructor(message: string, code = 'common.unsupported_media_type', options?: Options) {
    super(415, code, message, options);
  }
}

export class TooManyRequestsError extends ApiError {
  constructor(message: string, code = 'common.too_many_requests', options?: Options) {
    super(429, code, message, options);
  }
}

export class InternalError extends ApiError {
  constructor(
    message = 'An unexpected error prevented the server from fulfilling your request.',
    code = 'common.internal',
    options?: Options,
  ) {
    super(500, code, message, options);
  }
}

export class ServiceUnavailableError extends ApiError {
  constructor(message: string, code = 'common.service_unavailable', options?: Options) {
    super(503, code, message, options);
  }
}

/**
 * An error an operator can fix: a bad config value, an unreachable database or broker. The CLI
 * prints its message as one line (no stack trace) and exits non-zero.
 */
export class StartupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StartupError';
  }
}

/** The message of anything thrown, for logs and one-line operator errors. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) {
    // AggregateError (e.g. a connection refused on both ::1 and 127.0.0.1) hides the useful part.
    if (err.message === '' && err instanceof AggregateError && err.errors.length > 0) {
      return messageOf(err.errors[0]);
    }
    return err.message;
  }
  return String(err);
}
