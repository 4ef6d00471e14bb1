/**
 * What the token middleware needs from identity, typed. The identity client (`identity/client.ts`)
 * implements `TokenValidator`; these types live here because `src/common` imports no service,
 * while every service may import `src/common`.
 *
 * `TokenInfo` is a camelCase view of Keystone v3's token body (`GET /v3/auth/tokens`):
 * `token.{methods, user, project | domain | system, roles, audit_ids, expires_at, issued_at,
 * is_domain, is_admin_project, catalog}`.
 */
import { ServiceUnavailableError } from '../errors.ts';

export type DomainRef = { readonly id: string; readonly name: string };

export type TokenUser = {
  readonly id: string;
  readonly name: string;
  readonly domain: DomainRef;
};

export type TokenProject = {
  readonly id: string;
  readonly name: string;
  readonly domain: DomainRef;
};

/** A token is scoped to exactly one of these (Keystone refuses to scope to two). */
export type TokenScope =
  | { readonly kind: 'project'; readonly project: TokenProject }
  | { readonly kind: 'domain'; readonly domain: DomainRef }
  | { readonly kind: 'system'; readonly system: 'all' }
  | { readonly kind: 'unscoped' };

export type TokenRole = { readonly id: string; readonly name: string };

export type CatalogEndpoint = {
  readonly id: string;
  readonly interface: string;
  readonly region: string | undefined;
  readonly regionId: string | undefined;
  readonly url: string;
};

export type CatalogEntry = {
  readonly id: string;
  readonly type: string;
  readonly name: string | undefined;
  readonly endpoints: readonly CatalogEndpoint[];
};

export type TokenInfo = {
  /** How the user authenticated: `password`, `token`, `application_credential`… */
  readonly methods: readonly string[];
  readonly user: TokenUser;
  readonly scope: TokenScope;
  readonly roles: readonly TokenRole[];
  /** The token's own audit id first, then the one of the token it was rescoped from, if any. */
  readonly auditIds: readonly string[];
  readonly expiresAt: Date;
  readonly issuedAt: Date;
  readonly isDomain: boolean;
  /**
   * Keystone sends `is_admin_project` only when an admin project is configured; keystoneauth and
   * oslo.context then default to true, so a view built from a body without it says true.
   */
  readonly isAdminProject: boolean;
  /** Absent when validated with `nocatalog`. */
  readonly catalog: readonly CatalogEntry[] | undefined;
};

export type ValidateOptions = {
  /**
   * Accept a token that expired recently (Keystone's `allow_expired`, within its
   * `[token] allow_expired_window`). Only for requests carrying a valid service token.
   */
  readonly allowExpired?: boolean;
};

export interface TokenValidator {
  /**
   * What identity says about `subjectToken` right now.
   * @returns the token's data, or null if identity does not accept the token (unknown,
   *   malformed, expired, revoked, its user or project disabled or deleted).
   * @throws IdentityUnavailableError when identity cannot answer (unreachable, timing out,
   *   failing, or refusing this service's own credentials), which is not the caller's fault.
   */
  validateToken(subjectToken: string, options?: ValidateOptions): Promise<TokenInfo | null>;
}

/**
 * Identity could not tell whether a token is valid. A 503, never a 401: the client's token may
 * well be good, and a 401 would send it to re-authenticate against the same unreachable service.
 */
export class IdentityUnavailableError extends ServiceUnavailableError {
  constructor(
    message = 'The identity service is unreachable, so the request could not be authenticated. Try again later.',
    options?: { cause?: unknown },
  ) {
    super(message, 'auth.identity_unavailable', options);
  }
}
