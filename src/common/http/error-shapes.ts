/**
 * Each OpenStack service renders errors in its own shape; clients parse these bodies to show the
 * message, so they must match upstream. One renderer per style, chosen by the service.
 */
import { STATUS_CODES } from 'node:http';
import type { ApiError } from '../errors.ts';

export type ErrorStyle =
  'nova' | 'keystone' | 'neutron' | 'glance' | 'swift' | 'placement' | 'heat';

export type RenderedError = {
  contentType: string;
  body: string;
};

export type RenderContext = {
  requestId: string;
  /** The request's Accept header; glance answers JSON only to clients that accept it. */
  accept: string | undefined;
};

type Renderer = (err: ApiError, ctx: RenderContext) => RenderedError;

const JSON_TYPE = 'application/json; charset=utf-8';

/** Nova and Cinder name the error object after the status (nova/api/openstack/wsgi.py Fault). */
const NOVA_FAULT_NAMES: Readonly<Record<number, string>> = {
  400: 'badRequest',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'itemNotFound',
  405: 'badMethod',
  409: 'conflictingRequest',
  413: 'overLimit',
  415: 'badMediaType',
  429: 'overLimit',
  501: 'notImplemented',
  503: 'serviceUnavailable',
};

export function reasonPhrase(status: number): string {
  return STATUS_CODES[status] ?? 'Error';
}

/**
 * Errors the HTTP kit raises itself (no route, bad method, unreadable body), named as webob names
 * them in Neutron's and Heat's bodies.
 */
const WEBOB_NAMES: Readonly<Record<string, string>> = {
  'common.route_not_found': 'HTTPNotFound',
  'common.method_not_allowed': 'HTTPMethodNotAllowed',
  'common.malformed_body': 'HTTPBadRequest',
  'common.invalid_input': 'HTTPBadRequest',
  'common.bad_request': 'HTTPBadRequest',
  'common.bad_url': 'HTTPBadRequest',
  'common.body_too_large': 'HTTPRequestEntityTooLarge',
  'common.unsupported_media_type': 'HTTPUnsupportedMediaType',
};

/** `network.network_not_found` → `NetworkNotFound`: the upstream exception name clients see. */
export function errorTypeName(err: ApiError): string {
  const explicit = err.details?.['type'];
  if (typeof explicit === 'string') return explicit;
  const webob = WEBOB_NAMES[err.code];
  if (webob !== undefined) return webob;
  const last = err.code.split('.').pop() ?? err.code;
  return last
    .split('_')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
}

function json(value: unknown): RenderedError {
  return { contentType: JSON_TYPE, body: JSON.stringify(value) };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const renderers: Readonly<Record<ErrorStyle, Renderer>> = {
  nova: (err) =>
    json({
      [NOVA_FAULT_NAMES[err.status] ?? 'computeFault']: { code: err.status, message: err.message },
    }),
  keystone: (err) =>
    json({ error: { code: err.status, title: reasonPhrase(err.status), message: err.message } }),
  neutron: (err) =>
    json({ NeutronError: { type: errorTypeName(err), message: err.message, detail: '' } }),
  placement: (err, ctx) =>
    json({
      errors: [
        {
          status: err.status,
          title: reasonPhrase(err.status),
          detail: err.message,
          request_id: ctx.requestId,
          code: err.code.startsWith('placement.') ? err.code : 'placement.undefined_code',
        },
      ],
    }),
  heat: (err) =>
    json({
      explanation: err.message,
      code: err.status,
      error: { message: err.message, traceback: null, type: errorTypeName(err) },
      title: reasonPhrase(err.status),
    }),
  // Glance answers through webob: JSON to clients that accept it, plain text otherwise.
  glance: (err, ctx) => {
    const title = reasonPhrase(err.status);
    if (ctx.accept?.includes('json') === true) {
      return json({ message: err.message, code: `${err.status} ${title}`, title });
    }
    return {
      contentType: 'text/plain; charset=utf-8',
      body: `${err.status} ${title}\n\n${err.message}\n\n   `,
    };
  },
  swift: (err) => ({
    contentType: 'text/html; charset=UTF-8',
    body: `<html><h1>${escapeHtml(reasonPhrase(err.status))}</h1><p>${escapeHtml(err.message)}</p></html>`,
  }),
};

export function renderError(style: ErrorStyle, err: ApiError, ctx: RenderContext): RenderedError {
  return renderers[style](err, ctx);
}
