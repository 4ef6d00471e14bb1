/**
 * Authentication and policy for identity's own API. Identity validates tokens itself, fresh on
 * every request (no cache: a revocation takes effect here at once), and checks Keystone's policy
 * rules against the token's credentials.
 */
import type { FastifyRequest } from 'fastify';
import { UnauthorizedError } from '../../common/errors.ts';
import type { Credentials, PolicyTarget } from '../../common/policy/checks.ts';
import type { PolicyEnforcer } from '../../common/policy/enforcer.ts';
import { forbiddenAction } from '../errors.ts';
import type { Identity } from '../identity.ts';
import type { TokenData } from '../tokens.ts';

export type Caller = {
  token: string;
  data: TokenData;
  credentials: Credentials;
};

export type ApiDeps = {
  identity: Identity;
  policy: PolicyEnforcer;
};

declare module 'fastify' {
  interface FastifyRequest {
    identityCaller?: Caller;
  }
}

export function credentialsOf(data: TokenData): Credentials {
  const scope = data.scope;
  const token: Record<string, unknown> = {
    user: { id: data.user.id, domain: { id: data.user.domain_id } },
  };
  if (scope.kind === 'project')
    token['project'] = { id: scope.project.id, domain: { id: scope.project.domain_id } };
  if (scope.kind === 'domain') token['domain'] = { id: scope.domain.id };
  return {
    user_id: data.user.id,
    user_domain_id: data.user.domain_id,
    project_id: scope.kind === 'project' ? scope.project.id : undefined,
    project_domain_id: scope.kind === 'project' ? scope.project.domain_id : undefined,
    domain_id: scope.kind === 'domain' ? scope.domain.id : undefined,
    system_scope: scope.kind === 'system' ? 'all' : undefined,
    roles: data.roles.map((r) => r.name),
    // Keystone's rules read the token itself, e.g. `token.domain.id:%(target.domain.id)s`.
    extra: { token: token as PolicyTarget[string] & object },
  };
}

/**
 * The domain a domain-scoped token speaks for: Keystone lists that domain's projects, users and
 * groups when such a caller names no domain.
 */
export function scopedDomain(caller: Caller): string | undefined {
  return caller.data.scope.kind === 'domain' ? caller.data.scope.domain.id : undefined;
}

/** The caller of a request, validated from `X-Auth-Token`; 401 when absent or not valid. */
export async function callerOf(request: FastifyRequest, deps: ApiDeps): Promise<Caller> {
  if (request.identityCaller) return request.identityCaller;
  const header = request.headers['x-auth-token'];
  const token = Array.isArray(header) ? header[0] : header;
  if (token === undefined || token === '') throw new UnauthorizedError();
  const data = await deps.identity.tokens.validate(token).catch(() => {
    throw new UnauthorizedError(
      'The request you have made requires authentication.',
      'identity.invalid_token',
    );
  });
  const caller = { token, data, credentials: credentialsOf(data) };
  request.identityCaller = caller;
  return caller;
}

/**
 * Authenticates the request and checks `rule` against `target`; 403 with Keystone's message when
 * policy says no.
 */
export async function authorize(
  request: FastifyRequest,
  deps: ApiDeps,
  rule: string,
  target: Record<string, unknown> = {},
): Promise<Caller> {
  const caller = await callerOf(request, deps);
  if (!deps.policy.enforce(rule, policyTarget(target), caller.credentials))
    throw forbiddenAction(rule);
  return caller;
}

/** Drops what policy cannot compare (undefined, functions); keeps JSON-like values. */
function plain(value: unknown): PolicyTarget[string] {
  if (
    value === null ||
    typeof value === 'string' ||
    typeof value === 'number' ||
    typeof value === 'boolean'
  ) {
    return value;
  }
  if (Array.isArray(value)) return value.map(plain).filter((v) => v !== undefined);
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const p = plain(v);
      if (p !== undefined) out[k] = p;
    }
    return out as PolicyTarget[string];
  }
  return undefined;
}

/** Keystone's rules read the target both as `%(target.project.id)s` and as `%(user_id)s`. */
function policyTarget(target: Record<string, unknown>): PolicyTarget {
  const t = plain(target) as PolicyTarget;
  return { ...t, target: t as PolicyTarget[string] };
}

/** Whether the caller could do `rule` on `target`, for filtering lists. */
export function allowed(
  deps: ApiDeps,
  caller: Caller,
  rule: string,
  target: PolicyTarget,
): boolean {
  return deps.policy.enforce(rule, policyTarget(target), caller.credentials);
}
