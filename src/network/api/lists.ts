/** List and show answers: `fields=` applied, `<collection>_links` added when paging. */
import type { FastifyRequest } from 'fastify';
import { baseUrlOf } from '../../common/http/version-discovery.ts';
import { pageLinks, parseListQuery, pick, type ListQuery, type ListSpec } from '../listing.ts';
import type { View } from './views.ts';

export type Query = Readonly<Record<string, unknown>>;

export function listQueryOf(request: FastifyRequest, spec: ListSpec): ListQuery {
  return parseListQuery(request.query as Query, spec);
}

export function listAnswer(
  request: FastifyRequest,
  collection: string,
  views: readonly View[],
  list: ListQuery,
): Record<string, unknown> {
  const out: Record<string, unknown> = { [collection]: views.map((v) => pick(v, list.fields)) };
  const path = request.url.split('?')[0] ?? '';
  const links = pageLinks(
    `${baseUrlOf(request)}${path}`,
    request.query as Query,
    list,
    views.map((v) => String(v['id'])),
  );
  if (links.length > 0) out[`${collection}_links`] = links;
  return out;
}

/** A show answer, with `fields=` applied as on lists. */
export function showAnswer(
  request: FastifyRequest,
  key: string,
  view: View,
): Record<string, unknown> {
  const raw = (request.query as Query)['fields'];
  const list: unknown[] = raw === undefined ? [] : Array.isArray(raw) ? (raw as unknown[]) : [raw];
  const fields = list
    .flatMap((f) => (typeof f === 'string' ? f.split(',') : []))
    .filter((f) => f !== '');
  return { [key]: pick(view, fields.length > 0 ? fields : undefined) };
}
