/** What every compute route needs: the domain objects, the policy, and who is calling. */
import type { FastifyRequest } from 'fastify';
import { BadRequestError, ForbiddenError } from '../../common/errors.ts';
import type { PolicyEnforcer, PolicyTarget } from '../../common/policy/enforcer.ts';
import type { MessageBus } from '../../common/messaging/bus.ts';
import type { ImageClient } from '../../image/client.ts';
import type { NetworkClient } from '../../network/client.ts';
import type { Aggregates } from '../aggregates.ts';
import type { Flavors, Viewer } from '../flavors.ts';
import type { Hosts } from '../hosts.ts';
import type { Instance } from '../instance-model.ts';
import type { Instances } from '../instances.ts';
import type { KeyPairs } from '../keypairs.ts';
import type { Quotas } from '../quotas.ts';
import type { Actor } from '../server-actions.ts';
import type { ServerGroups } from '../server-groups.ts';
import type { Tasks } from '../tasks.ts';

export type ApiDeps = {
  flavors: Flavors;
  keyPairs: KeyPairs;
  instances: Instances;
  tasks: Tasks;
  hosts: Hosts;
  images: ImageClient;
  network: NetworkClient;
  bus: MessageBus;
  quotas: Quotas;
  groups: ServerGroups;
  aggregates: Aggregates;
  defaultAvailabilityZone: string;
  policy: PolicyEnforcer;
};

export type Body = Record<string, unknown>;

export function viewerOf(request: FastifyRequest, deps: ApiDeps): Viewer {
  return {
    projectId: request.auth.projectId,
    isAdmin: deps.policy.enforce('context_is_admin', {}, request.auth.toPolicyCredentials()),
  };
}

/** The request id a change is recorded under: the global one a caller passed, else ours. */
export function requestIdOf(request: FastifyRequest): string {
  return request.globalRequestId ?? String(request.id);
}

/** Who asks for a change to `instance` (an admin of another project acts in their own). */
export function actorOf(request: FastifyRequest, viewer: Viewer, instance: Instance): Actor {
  return {
    requestId: requestIdOf(request),
    projectId: request.auth.projectId ?? instance.row.project_id,
    userId: request.auth.userId,
    isAdmin: viewer.isAdmin,
  };
}

/** Whether the request's microversion is 2.`minor` or later. */
export function atLeast(request: FastifyRequest, minor: number): boolean {
  return request.apiVersion.major > 2 || request.apiVersion.minor >= minor;
}

/** @throws ForbiddenError (403) worded as Nova words a policy refusal. */
export function authorize(
  request: FastifyRequest,
  deps: ApiDeps,
  rule: string,
  target: PolicyTarget,
): void {
  if (!deps.policy.enforce(rule, target, request.auth.toPolicyCredentials()))
    throw new ForbiddenError(`Policy doesn't allow ${rule} to be performed.`, 'compute.policy');
}

/** The object under `key` of a request body. @throws BadRequestError (400) otherwise. */
export function unwrap(body: unknown, key: string): Body {
  const inner =
    typeof body === 'object' && body !== null && !Array.isArray(body)
      ? (body as Body)[key]
      : undefined;
  if (typeof inner !== 'object' || inner === null || Array.isArray(inner))
    throw new BadRequestError(`'${key}' is a required property`, 'compute.bad_request');
  return inner as Body;
}

/** A value as Python's `repr` prints it in jsonschema's messages ('text', 1, None, True). */
export function repr(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (value === null || value === undefined) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  return JSON.stringify(value);
}

/** Nova's JSON-schema wording for a field that fails its check. */
export function invalidField(field: string, value: unknown, why: string): BadRequestError {
  return new BadRequestError(
    `Invalid input for field/attribute ${field}. Value: ${typeof value === 'string' ? value : JSON.stringify(value)}. ${why}`,
    'compute.bad_request',
  );
}

/** Only `allowed` keys. @throws BadRequestError (400) as jsonschema words it. */
export function onlyKeys(body: Body, allowed: readonly string[], field?: string): void {
  const extra = Object.keys(body).filter((k) => !allowed.includes(k));
  if (extra.length === 0) return;
  const why = `Additional properties are not allowed (${extra.map((k) => `'${k}'`).join(', ')} ${extra.length === 1 ? 'was' : 'were'} unexpected)`;
  throw field === undefined
    ? new BadRequestError(why, 'compute.bad_request')
    : invalidField(field, body, why);
}

export type Query = Record<string, string | string[] | undefined>;

/** A query parameter's last value, as webob reads a repeated one. */
export function last(query: Query, key: string): string | undefined {
  const v = query[key];
  return Array.isArray(v) ? v.at(-1) : v;
}

/** Nova's most items per page (`[api]max_limit`). */
export const MAX_LIMIT = 1000;

/**
 * `limit` and `marker` of a list query, the limit capped at `MAX_LIMIT`.
 * @throws BadRequestError (400) for a limit that is not a non-negative integer.
 */
export function pageOf(query: Query): { limit?: number; marker?: string } {
  const out: { limit?: number; marker?: string } = {};
  const limit = last(query, 'limit');
  if (limit !== undefined) {
    if (!/^\d+$/.test(limit))
      throw new BadRequestError(
        `Invalid input for query parameters limit. Value: ${limit}. '${limit}' does not match '^[0-9]*$'`,
        'compute.bad_request',
      );
    out.limit = Math.min(Number(limit), MAX_LIMIT);
  }
  const marker = last(query, 'marker');
  if (marker !== undefined) out.marker = marker;
  return out;
}

/**
 * A `date-time` query parameter (ISO 8601; UTC when it names no zone) as a stored timestamp.
 * @throws BadRequestError (400) worded as Nova's query schema words it.
 */
export function timeQuery(query: Query, key: string): string | undefined {
  const v = last(query, key);
  if (v === undefined) return undefined;
  const t = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(v) ? v : `${v}Z`);
  if (Number.isNaN(t))
    throw new BadRequestError(
      `Invalid input for query parameters ${key}. Value: ${v}. '${v}' is not a 'date-time'`,
      'compute.bad_request',
    );
  return new Date(t).toISOString();
}
