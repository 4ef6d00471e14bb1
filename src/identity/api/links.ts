/** Keystone's `links` members: `{self}` on an entity, `{self, previous, next}` on a list. */
import type { FastifyRequest } from 'fastify';
import { baseUrlOf } from '../../common/http/version-discovery.ts';

export function v3Url(request: FastifyRequest, path: string): string {
  return `${baseUrlOf(request)}/v3${path}`;
}

export function selfLinks(request: FastifyRequest, path: string): { self: string } {
  return { self: v3Url(request, path) };
}

export function listLinks(request: FastifyRequest): { self: string; previous: null; next: null } {
  const path = request.url.split('?')[0] ?? '/v3';
  return { self: `${baseUrlOf(request)}${path}`, previous: null, next: null };
}

/** A query parameter as text: the last value when repeated. */
function text(value: unknown): string {
  const v: unknown = Array.isArray(value) ? (value as unknown[]).at(-1) : value;
  return typeof v === 'string'
    ? v
    : typeof v === 'number' || typeof v === 'boolean'
      ? String(v)
      : '';
}

/** Keystone reads booleans in query strings loosely: `0`, `false`, `no` (any case) are false. */
export function queryBool(value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  const lower = text(value).toLowerCase();
  return !['false', '0', 'no', 'off'].includes(lower);
}

export function queryList(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  return text(value)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** The attributes of `body` Keystone does not define: stored and returned as they came. */
export function extrasOf(body: object, defined: ReadonlySet<string>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).filter(([k]) => !defined.has(k)));
}
