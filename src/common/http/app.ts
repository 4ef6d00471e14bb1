/**
 * The app factory every service uses: Fastify with request ids, one error handler rendering the
 * service's upstream error shape, 404/405 in that shape, body limits, TypeBox validation and one
 * access-log line per request. Nothing thrown ever reaches a client as a stack trace.
 */
import Fastify, {
  LogController,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from 'fastify';
import FindMyWay from 'find-my-way';
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  ApiError,
  BadRequestError,
  InternalError,
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
} from '../errors.ts';
import type { Logger } from '../logging.ts';
import { renderError, type ErrorStyle } from './error-shapes.ts';
import { REQUEST_ID_HEADER, globalRequestIdFrom, newRequestId } from './request-id.ts';

export type App = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  Logger,
  TypeBoxTypeProvider
>;

export type AppOptions = {
  /** Service name, bound on every log line. */
  service: string;
  errorStyle: ErrorStyle;
  logger: Logger;
  /** The service's legacy request-id header, e.g. `x-compute-request-id`. */
  requestIdAlias?: string;
  /** Largest request body in bytes (default 1 MiB); streaming uploads register their own parser. */
  bodyLimit?: number;
};

declare module 'fastify' {
  interface FastifyRequest {
    /** The calling service's request id, when one came in `x-openstack-request-id`. */
    globalRequestId: string | undefined;
  }
}

export type RouteInfo = { method: string; url: string };

const ROUTES = new WeakMap<object, RouteInfo[]>();

/** Every route of an app made by `createApp`, HEAD ones included, for tests and documentation. */
export function listRoutes(app: App): readonly RouteInfo[] {
  return ROUTES.get(app) ?? [];
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
// Path parameters carry ids, names and tokens; Fastify's default cap of 100 characters answered
// longer ones with a 414 in its own shape, so allow what an id or name can be.
const ROUTER_OPTIONS = {
  ignoreTrailingSlash: true,
  ignoreDuplicateSlashes: true,
  maxParamLength: 1024,
};

export function createApp(options: AppOptions): App {
  const logger = options.logger.child({ service: options.service });
  const handleError = async (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const apiError = toApiError(error);
    if (apiError.status >= 500) {
      request.log.error({ err: error }, 'unexpected error');
    } else {
      request.log.info(
        { status: apiError.status, code: apiError.code, message: apiError.message },
        'request failed',
      );
    }
    const rendered = renderError(options.errorStyle, apiError, {
      requestId: request.id,
      accept: request.headers.accept,
    });
    reply.header(REQUEST_ID_HEADER, request.id);
    if (options.requestIdAlias) reply.header(options.requestIdAlias, request.id);
    reply.status(apiError.status).headers(apiError.headers).type(rendered.contentType);
    return reply.send(rendered.body);
  };
  const app = Fastify({
    loggerInstance: logger,
    genReqId: () => newRequestId(),
    // Our own id is always fresh; the caller's becomes the global id instead (oslo semantics).
    requestIdHeader: false,
    // One access line per request comes from our onResponse hook, in oslo's style.
    logController: new LogController({
      requestIdLogLabel: 'request_id',
      disableRequestLogging: true,
    }),
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    routerOptions: ROUTER_OPTIONS,
    // Errors the router raises before any hook runs (bad URL encoding, an over-long path
    // parameter) get the same treatment as the rest.
    frameworkErrors: (error, request, reply) => void handleError(error, request, reply),
    childLoggerFactory: (parent, bindings, opts, raw) => {
      const global = globalRequestIdFrom(raw.headers[REQUEST_ID_HEADER]);
      return parent.child(
        global === undefined ? bindings : { ...bindings, global_request_id: global },
        opts,
      );
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(TypeBoxValidatorCompiler);
  // JSON only by default; services that take raw bodies (image data, objects) add their parsers.
  app.removeContentTypeParser('text/plain');

  // A second router that knows every route under every method, so an unmatched request can tell
  // "no such URL" (404) from "URL exists, wrong method" (405, with Allow).
  const known = FindMyWay(ROUTER_OPTIONS);
  const list: RouteInfo[] = [];
  ROUTES.set(app, list);
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (!known.hasRoute(method as 'GET', route.url))
        known.on(method as 'GET', route.url, () => undefined);
      list.push({ method, url: route.url });
    }
  });

  app.decorateRequest('globalRequestId', undefined);
  app.addHook('onRequest', async (request, reply) => {
    request.globalRequestId = globalRequestIdFrom(request.headers[REQUEST_ID_HEADER]);
    reply.header(REQUEST_ID_HEADER, request.id);
    if (options.requestIdAlias) reply.header(options.requestIdAlias, request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      {
        method: request.method,
        url: request.url,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
      },
      'request',
    );
  });

  app.setNotFoundHandler(async (request) => {
    const path = request.url.split('?')[0] ?? '/';
    const allowed = METHODS.filter((m) => m !== request.method && known.find(m, path) !== null);
    if (allowed.length > 0) throw new MethodNotAllowedError(request.method, allowed);
    throw new NotFoundError('The resource could not be found.', 'common.route_not_found');
  });

  app.setErrorHandler(handleError);
  return app;
}

/** Maps anything thrown to an `ApiError`; what is not recognised becomes a generic 500. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  const fe = error as Partial<FastifyError> & {
    validation?: ValidationIssue[];
    validationContext?: string;
  };
  if (fe.validation !== undefined) return validationError(fe.validation, fe.validationContext);
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new PayloadTooLargeError('Request is too large.', 'common.body_too_large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new UnsupportedMediaTypeError(
        'Unsupported Content-Type; this API accepts application/json.',
        'common.unsupported_media_type',
      );
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new ApiError(
        414,
        'common.uri_too_long',
        'A path parameter is longer than this API accepts.',
      );
    case 'FST_ERR_BAD_URL':
      return new BadRequestError('The URL is not valid (bad percent-encoding).', 'common.bad_url');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new BadRequestError(
        'The request body is empty but declared as JSON.',
        'common.malformed_body',
      );
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new BadRequestError(
        'Malformed request body: the body is not valid JSON.',
        'common.malformed_body',
      );
    default:
      break;
  }
  // Other Fastify client errors (bad URL encoding, bad headers) carry a 4xx status of their own.
  if (
    typeof fe.statusCode === 'number' &&
    fe.statusCode >= 400 &&
    fe.statusCode < 500 &&
    typeof fe.message === 'string'
  ) {
    return new ApiError(fe.statusCode, 'common.bad_request', fe.message);
  }
  return new InternalError();
}

type ValidationIssue = {
  instancePath?: string;
  message?: string;
  keyword?: string;
  params?: Record<string, unknown>;
};

/** One 400 naming the first offending field, in the words Nova's validator uses. */
function validationError(issues: ValidationIssue[], context: string | undefined): BadRequestError {
  const issue = issues.find((i) => i.keyword === 'additionalProperties') ?? issues[0];
  const where = context === 'querystring' ? 'query parameter' : 'field/attribute';
  if (issue === undefined)
    return new BadRequestError(`Invalid input in ${context ?? 'request'}.`, 'common.invalid_input');
  const extra = issue.params?.['additionalProperties'];
  if (Array.isArray(extra)) {
    const names = extra.map((n) => `'${String(n)}'`).join(', ');
    const prefix = issue.instancePath ? ` in ${pathName(issue.instancePath)}` : '';
    return new BadRequestError(
      `Additional properties are not allowed (${names} ${extra.length === 1 ? 'was' : 'were'} unexpected)${prefix}.`,
      'common.invalid_input',
    );
  }
  const required = issue.params?.['requiredProperties'];
  if (Array.isArray(required) && required.length > 0) {
    const name = [pathName(issue.instancePath ?? ''), String(required[0])]
      .filter((s) => s !== '')
      .join('.');
    return new BadRequestError(
      `Invalid input for ${where} ${name}: the ${where} is required.`,
      'common.invalid_input',
    );
  }
  const field = pathName(issue.instancePath ?? '') || (context ?? 'body');
  return new BadRequestError(
    `Invalid input for ${where} ${field}: ${issue.message ?? 'invalid value'}.`,
    'common.invalid_input',
  );
}

function pathName(pointer: string): string {
  return pointer
    .split('/')
    .filter((p) => p !== '')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}
