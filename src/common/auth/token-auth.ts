/**
 * keystonemiddleware's auth_token, our way: every request to a scope that uses it must carry an
 * `X-Auth-Token` that identity accepts, else it is answered 401 in the service's own error shape
 * with `WWW-Authenticate: Keystone uri="…"` (clients read it to find where to get a token). On
 * success the request carries a typed `RequestContext` in `request.auth`.
 *
 * Service tokens follow keystonemiddleware: a present `X-Service-Token` must itself be valid
 * (else 401); when it also carries a service role (`service` by default) the user token may have
 * expired, so a long operation one service started for a user (a boot waiting on a volume) is
 * not cut off by the user's token expiring halfway.
 *
 * When identity cannot answer, the request gets a 503, not a 401: the token may be fine.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { UnauthorizedError } from '../errors.ts';
import { RequestContext } from './request-context.ts';
import type { TokenCache } from './token-cache.ts';
import type { TokenInfo, TokenValidator } from './token-validator.ts';

export type TokenAuthOptions = {
  /** Identity, usually the service's `IdentityClient`. */
  client: TokenValidator;
  /** Usually one per process, shared by the scopes that authenticate. */
  cache: TokenCache;
  /** Identity's public endpoint, named in `WWW-Authenticate` on every 401. */
  wwwAuthenticateUri: string;
  /** Roles that make a service token a real one (keystonemiddleware default: `service`). */
  serviceTokenRoles?: readonly string[];
  /**
   * Refuse a valid service token without one of `serviceTokenRoles` (keystonemiddleware's
   * `service_token_roles_required`; upstream's default is false only for backward compatibility,
   * and it recommends true). Default true.
   */
  serviceTokenRolesRequired?: boolean;
  /** Milliseconds since the epoch; the same clock as the cache's in tests. */
  now?: () => number;
};

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller; set on every request of a scope that uses `useTokenAuth`. */
    auth: RequestContext;
  }
}

export const AUTH_TOKEN_HEADER = 'x-auth-token';
export const SERVICE_TOKEN_HEADER = 'x-service-token';
/** Swift's legacy name for the same header; swiftclient still sends it. */
export const STORAGE_TOKEN_HEADER = 'x-storage-token';

// keystonemiddleware's wording, whatever the reason: a client has nothing to act on but
// "authenticate again", and the reason stays in our logs (the error code).
const MESSAGE = 'The request you have made requires authentication.';

/**
 * Authenticates every request of `scope` (an encapsulated Fastify plugin, e.g. the `/v2.1`
 * prefix; version discovery stays outside it, public as upstream). Register it before
 * microversion negotiation so a request without a token learns that first, as upstream.
 */
export function useTokenAuth(scope: FastifyInstance, options: TokenAuthOptions): void {
  const authenticator = new Authenticator(options);
  if (!scope.hasRequestDecorator('auth')) {
    scope.decorateRequest('auth', null as unknown as RequestContext);
  }
  scope.addHook('onRequest', async (request: FastifyRequest) => {
    request.auth = await authenticator.authenticate(request);
  });
}

class Authenticator {
  readonly #client: TokenValidator;
  readonly #cache: TokenCache;
  readonly #challenge: Record<string, string>;
  readonly #serviceRoles: ReadonlySet<string>;
  readonly #serviceRolesRequired: boolean;
  readonly #now: () => number;

  constructor(options: TokenAuthOptions) {
    this.#client = options.client;
    this.#cache = options.cache;
    this.#challenge = { 'www-authenticate': `Keystone uri="${options.wwwAuthenticateUri}"` };
    this.#serviceRoles = new Set(
      (options.serviceTokenRoles ?? ['service']).map((r) => r.toLowerCase()),
    );
    this.#serviceRolesRequired = options.serviceTokenRolesRequired ?? true;
    this.#now = options.now ?? Date.now;
  }

  async authenticate(request: FastifyRequest): Promise<RequestContext> {
    const authToken =
      headerToken(request.headers[AUTH_TOKEN_HEADER]) ??
      headerToken(request.headers[STORAGE_TOKEN_HEADER]);
    // Checked before the service token, which alone never authenticates a request.
    if (authToken === undefined) throw this.#unauthorized('auth.token_missing');

    let service: { info: TokenInfo; token: string } | undefined;
    let allowExpired = false;
    const serviceToken = headerToken(request.headers[SERVICE_TOKEN_HEADER]);
    if (serviceToken !== undefined) {
      const info = await this.#validate(serviceToken, false);
      if (info === null) throw this.#unauthorized('auth.service_token_invalid');
      const isService = info.roles.some((r) => this.#serviceRoles.has(r.name.toLowerCase()));
      if (!isService && this.#serviceRolesRequired) {
        throw this.#unauthorized('auth.service_token_not_service');
      }
      service = { info, token: serviceToken };
      // keystonemiddleware: allowing an expired user token always takes the role check.
      allowExpired = isService;
    }

    const user = await this.#validate(authToken, allowExpired);
    if (user === null) throw this.#unauthorized('auth.token_invalid');
    return new RequestContext({
      user,
      authToken,
      service,
      requestId: request.id,
      globalRequestId: request.globalRequestId,
    });
  }

  /** The token's data if identity accepts it and, unless allowed, it has not expired. */
  async #validate(token: string, allowExpired: boolean): Promise<TokenInfo | null> {
    const info = await this.#cache.resolve(token, { allowExpired }, () =>
      this.#client.validateToken(token, { allowExpired }),
    );
    // Identity checks expiry too; this catches a token expiring while its answer is cached.
    if (info === null || (!allowExpired && info.expiresAt.getTime() <= this.#now())) return null;
    return info;
  }

  #unauthorized(code: string): UnauthorizedError {
    return new UnauthorizedError(MESSAGE, code, { headers: this.#challenge });
  }
}

/** A token header's value, trimmed (keystonemiddleware strips stray whitespace, bug 1689468). */
function headerToken(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  const token = first?.trim();
  return token === undefined || token === '' ? undefined : token;
}
