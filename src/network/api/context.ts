/**
 * What every network route needs: the domain objects, the policy, who is calling, and the body
 * checks Neutron's API layer makes before any resource logic (wrapper key, unknown and read-only
 * attributes, value types), with its wording.
 */
import type { FastifyRequest } from 'fastify';
import type { PolicyEnforcer, PolicyTarget } from '../../common/policy/enforcer.ts';
import type { NetworkConfig } from '../config.ts';
import { badRequest, invalidInput, policyNotAuthorized } from '../errors.ts';
import { toBoolean } from '../listing.ts';
import type { FloatingIps } from '../floating-ips.ts';
import type { Networks } from '../networks.ts';
import type { PortForwardings } from '../port-forwardings.ts';
import type { Ports } from '../ports.ts';
import type { Quotas } from '../quotas.ts';
import type { RbacPolicies } from '../rbac.ts';
import type { RouterInterfaces } from '../router-interfaces.ts';
import type { Routers } from '../routers.ts';
import type { SecurityGroups } from '../security-groups.ts';
import type { Viewer } from '../standard.ts';
import type { SubnetPools } from '../subnet-pools.ts';
import type { Subnets } from '../subnets.ts';

export type ApiDeps = {
  networks: Networks;
  subnets: Subnets;
  ports: Ports;
  groups: SecurityGroups;
  routers: Routers;
  routerInterfaces: RouterInterfaces;
  floatingIps: FloatingIps;
  portForwardings: PortForwardings;
  rbac: RbacPolicies;
  subnetPools: SubnetPools;
  quotas: Quotas;
  policy: PolicyEnforcer;
  config: NetworkConfig;
  /** Tells listeners (agents, compute) what changed: `<resource>.<action>.end`. */
  notify: (event: string, payload: Record<string, unknown>) => void;
};

export type Body = Record<string, unknown>;

/** A value as an error message quotes it. */
export function shown(v: unknown): string {
  return typeof v === 'string' ? v : (JSON.stringify(v) ?? 'None');
}

export function viewerOf(request: FastifyRequest, deps: ApiDeps): Viewer {
  return {
    projectId: request.auth.projectId,
    isAdmin: deps.policy.enforce('context_is_admin', {}, request.auth.toPolicyCredentials()),
  };
}

/** @throws ForbiddenError (403) PolicyNotAuthorized naming the rules, as Neutron words it. */
export function authorize(
  request: FastifyRequest,
  deps: ApiDeps,
  rule: string,
  target: PolicyTarget,
  attributes: readonly string[] = [],
): void {
  const credentials = request.auth.toPolicyCredentials();
  const failed = [rule, ...attributes.map((a) => `${rule}:${a}`)].filter(
    (r) => deps.policy.rule(r) !== undefined && !deps.policy.enforce(r, target, credentials),
  );
  if (failed.length === 0) return;
  const all = [rule, ...attributes.map((a) => `${rule}:${a}`)];
  throw policyNotAuthorized(
    all.length === 1 ? `rule:${rule}` : `(${all.map((r) => `rule:${r}`).join(' and ')})`,
  );
}

/** Whether `viewer` may see attribute rule `rule` (e.g. `get_network:provider:network_type`). */
export function allowed(
  request: FastifyRequest,
  deps: ApiDeps,
  rule: string,
  target: PolicyTarget,
): boolean {
  return deps.policy.enforce(rule, target, request.auth.toPolicyCredentials());
}

/** The object under `key` of a request body. @throws BadRequestError (400) otherwise. */
export function unwrap(body: unknown, key: string): Body {
  if (body === undefined || body === null || body === '')
    throw badRequest('Resource body required');
  if (typeof body !== 'object' || Array.isArray(body))
    throw badRequest('Body contains invalid data');
  const inner = (body as Body)[key];
  if (inner === undefined) throw badRequest(`Unable to find '${key}' in request body`);
  if (typeof inner !== 'object' || inner === null || Array.isArray(inner))
    throw badRequest(`Object '${key}' contains invalid data`);
  return inner as Body;
}

export type AttributeSpec = {
  /** Settable on create. */
  readonly post: ReadonlySet<string>;
  /** Settable on update. */
  readonly put: ReadonlySet<string>;
  /** Known but never settable (shown in views). */
  readonly readOnly: ReadonlySet<string>;
};

/**
 * @throws BadRequestError (400) `Unrecognized attribute(s)`, `Attribute 'x' not allowed in POST`,
 *   `Cannot update read-only attribute x`.
 */
export function checkKeys(attrs: Body, spec: AttributeSpec, op: 'POST' | 'PUT'): void {
  const unknown = Object.keys(attrs).filter(
    (k) => !spec.post.has(k) && !spec.put.has(k) && !spec.readOnly.has(k),
  );
  if (unknown.length > 0) throw badRequest(`Unrecognized attribute(s) '${unknown.join(', ')}'`);
  for (const key of Object.keys(attrs)) {
    if (op === 'POST' && !spec.post.has(key))
      throw badRequest(`Attribute '${key}' not allowed in POST`);
    if (op === 'PUT' && !spec.put.has(key))
      throw badRequest(`Cannot update read-only attribute ${key}`);
  }
}

/** A string attribute of at most `max` characters, or undefined when absent. */
export function str(attrs: Body, key: string, max = 255): string | undefined {
  const v = attrs[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string')
    throw badRequest(
      `Invalid input for ${key}. Reason: '${String(JSON.stringify(v))}' is not a valid string.`,
    );
  if (v.length > max)
    throw badRequest(`Invalid input for ${key}. Reason: '${v}' exceeds maximum length of ${max}.`);
  if (v.includes('\u0000'))
    throw badRequest(
      `Invalid input for ${key}. Reason: '${JSON.stringify(v)}' contains a NUL character.`,
    );
  return v;
}

/** A nullable string attribute; null stays null. */
export function nullableStr(attrs: Body, key: string, max = 255): string | null | undefined {
  if (attrs[key] === null) return null;
  return str(attrs, key, max);
}

/** neutron-lib's convert_to_boolean, which raises InvalidInput. */
export function bool(attrs: Body, key: string): boolean | undefined {
  const v = attrs[key];
  return v === undefined ? undefined : toBoolean(v);
}

/** neutron-lib's convert_to_int (strings of digits too), which raises InvalidInput. */
export function int(attrs: Body, key: string): number | undefined {
  const v = attrs[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v)) return Number(v);
  throw invalidInput(`'${shown(v)}' is not an integer`);
}

export const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

export function uuid(attrs: Body, key: string): string | undefined {
  const v = attrs[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !UUID.test(v))
    throw badRequest(`Invalid input for ${key}. Reason: '${shown(v)}' is not a valid UUID.`);
  return v;
}

export function required<T>(value: T | undefined, key: string): T {
  if (value === undefined)
    throw badRequest(`Failed to parse request. Required attribute '${key}' not specified`);
  return value;
}

/** A list of strings (e.g. `dns_nameservers`). */
export function strList(attrs: Body, key: string, max = 255): string[] | undefined {
  const v = attrs[key];
  if (v === undefined) return undefined;
  if (
    !Array.isArray(v) ||
    v.some((x) => typeof x !== 'string' || x.length > max || x.includes('\u0000'))
  )
    throw badRequest(`Invalid input for ${key}. Reason: '${JSON.stringify(v)}' is not a list.`);
  return v as string[];
}

/** A list of objects whose listed keys are strings. */
export function dictList<K extends string>(
  attrs: Body,
  key: string,
  keys: readonly K[],
  what: string,
): Record<K, string>[] | undefined {
  const v = attrs[key];
  if (v === undefined) return undefined;
  if (v === null) return [];
  if (!Array.isArray(v))
    throw badRequest(
      `Invalid input for ${key}. Reason: Invalid data format for ${what}: '${JSON.stringify(v)}'.`,
    );
  return v.map((item: unknown) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item))
      throw badRequest(
        `Invalid input for ${key}. Reason: Invalid data format for ${what}: '${JSON.stringify(item)}'.`,
      );
    const out: Partial<Record<K, string>> = {};
    for (const [k, value] of Object.entries(item as Body)) {
      if (!(keys as readonly string[]).includes(k))
        throw badRequest(`Invalid input for ${key}. Reason: Unrecognized attribute(s) '${k}'.`);
      if (typeof value !== 'string' || value.includes('\u0000'))
        throw badRequest(
          `Invalid input for ${key}. Reason: Invalid data format for ${what}: '${JSON.stringify(item)}'.`,
        );
      out[k as K] = value;
    }
    return out as Record<K, string>;
  });
}

/**
 * The project a new resource belongs to: the caller's, or one named in the body (admins only).
 * @throws BadRequestError (400) when `project_id` and `tenant_id` differ, or a non-admin names
 *   another project.
 */
export function owningProject(attrs: Body, viewer: Viewer): string {
  const project = str(attrs, 'project_id', 64);
  const tenant = str(attrs, 'tenant_id', 64);
  if (project !== undefined && tenant !== undefined && project !== tenant)
    throw badRequest("'project_id' and 'tenant_id' do not match");
  const named = project ?? tenant;
  if (named !== undefined && named !== viewer.projectId && !viewer.isAdmin)
    throw badRequest(
      "Specifying 'project_id' other than the authenticated project in request is not allowed for the current user.",
    );
  const owner = named ?? viewer.projectId;
  if (owner === undefined)
    throw badRequest("Failed to parse request. Required attribute 'project_id' not specified");
  return owner;
}

/** The `If-Match` header's required revision. */
export function ifMatch(request: FastifyRequest): string | undefined {
  const header: string | string[] | undefined = request.headers['if-match'];
  return typeof header === 'string' ? header : header?.[0];
}
