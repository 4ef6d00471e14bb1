/**
 * The identity client other services use (type-only; `src/cli` builds it): validates callers'
 * tokens for the token middleware and holds this service's own token for calls to other
 * services, over Keystone v3's HTTP API.
 *
 * - `GET /v3/auth/tokens` with `X-Auth-Token: <service token>`, `X-Subject-Token: <token>`:
 *   200 with the token body, 404 when the subject token is not valid, 401 when the service token
 *   is not (then it is re-acquired once and the call retried).
 * - `POST /v3/auth/tokens` with password auth for the service user scoped to its project: 201,
 *   the token in `X-Subject-Token`, `token.expires_at` in the body. It is re-acquired a margin
 *   before it expires, as keystoneauth does.
 */
import Type, { type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import {
  IdentityUnavailableError,
  type DomainRef,
  type TokenInfo,
  type TokenProject,
  type TokenScope,
  type TokenValidator,
  type ValidateOptions,
} from '../common/auth/token-validator.ts';
import { messageOf } from '../common/errors.ts';

export type { TokenInfo, TokenValidator, ValidateOptions } from '../common/auth/token-validator.ts';

export interface IdentityClient extends TokenValidator {
  /**
   * A token of this service's own user, for calling other services (as `X-Auth-Token`, or as
   * `X-Service-Token` beside a user's). Valid for at least the refresh margin.
   * @throws IdentityUnavailableError if identity is unreachable or refuses the credentials.
   */
  serviceToken(): Promise<string>;
}

export type HttpIdentityClientOptions = {
  /** Identity's base URL, with or without the trailing `/v3`: `http://127.0.0.1:5000`. */
  url: string;
  /** The service user, e.g. `nova`, in `userDomainId`. */
  username: string;
  password: string;
  userDomainId?: string;
  /** The project the service user's token is scoped to (default `service`). */
  projectName?: string;
  projectDomainId?: string;
  /** Ask for the catalog with each validation (keystonemiddleware's default); default true. */
  includeCatalog?: boolean;
  /** Re-acquire the service token this long before it expires (default 120 s, keystoneauth's). */
  refreshMarginMs?: number;
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
  now?: () => number;
};

type ServiceToken = { readonly token: string; readonly expiresAt: number };

const Ref = Type.Object({ id: Type.String(), name: Type.String() });
const Scoped = Type.Object({ id: Type.String(), name: Type.String(), domain: Ref });
const Endpoint = Type.Object({
  id: Type.String(),
  interface: Type.String(),
  region: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  region_id: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  url: Type.String(),
});
const CatalogEntry = Type.Object({
  id: Type.String(),
  type: Type.String(),
  name: Type.Optional(Type.String()),
  endpoints: Type.Array(Endpoint),
});
const TokenBody = Type.Object({
  token: Type.Object({
    methods: Type.Array(Type.String()),
    user: Scoped,
    project: Type.Optional(Scoped),
    domain: Type.Optional(Ref),
    system: Type.Optional(Type.Object({ all: Type.Boolean() })),
    roles: Type.Optional(Type.Array(Ref)),
    audit_ids: Type.Array(Type.String()),
    expires_at: Type.String(),
    issued_at: Type.String(),
    is_domain: Type.Optional(Type.Boolean()),
    is_admin_project: Type.Optional(Type.Boolean()),
    catalog: Type.Optional(Type.Array(CatalogEntry)),
  }),
});
type TokenBody = Static<typeof TokenBody>;
const tokenBody = Compile(TokenBody);

/** Keystone's token body as a `TokenInfo`, or undefined when it is not one. */
export function parseTokenBody(body: unknown): TokenInfo | undefined {
  if (!tokenBody.Check(body)) return undefined;
  const t = body.token;
  const expiresAt = new Date(t.expires_at);
  const issuedAt = new Date(t.issued_at);
  if (Number.isNaN(expiresAt.getTime()) || Number.isNaN(issuedAt.getTime())) return undefined;
  return {
    methods: t.methods,
    user: scoped(t.user),
    scope: scopeOf(t),
    roles: (t.roles ?? []).map(ref),
    auditIds: t.audit_ids,
    expiresAt,
    issuedAt,
    isDomain: t.is_domain ?? false,
    isAdminProject: t.is_admin_project ?? true,
    catalog: t.catalog?.map((s) => ({
      id: s.id,
      type: s.type,
      name: s.name,
      endpoints: s.endpoints.map((e) => ({
        id: e.id,
        interface: e.interface,
        region: e.region ?? undefined,
        regionId: e.region_id ?? undefined,
        url: e.url,
      })),
    })),
  };
}

// Copies only the fields the view declares: Keystone adds others (`password_expires_at`).
function ref(r: Static<typeof Ref>): DomainRef {
  return { id: r.id, name: r.name };
}

function scoped(s: Static<typeof Scoped>): TokenProject {
  return { id: s.id, name: s.name, domain: ref(s.domain) };
}

function scopeOf(t: TokenBody['token']): TokenScope {
  if (t.project !== undefined) return { kind: 'project', project: scoped(t.project) };
  if (t.domain !== undefined) return { kind: 'domain', domain: ref(t.domain) };
  if (t.system?.all === true) return { kind: 'system', system: 'all' };
  return { kind: 'unscoped' };
}

export class HttpIdentityClient implements IdentityClient {
  readonly #tokensUrl: string;
  readonly #options: HttpIdentityClientOptions;
  readonly #now: () => number;
  #current: ServiceToken | undefined;
  #acquiring: Promise<ServiceToken> | undefined;

  constructor(options: HttpIdentityClientOptions) {
    const base = options.url.replace(/\/+$/, '').replace(/\/v3$/, '');
    this.#tokensUrl = `${base}/v3/auth/tokens`;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  async validateToken(
    subjectToken: string,
    options: ValidateOptions = {},
  ): Promise<TokenInfo | null> {
    const query = new URLSearchParams();
    if (options.allowExpired === true) query.set('allow_expired', '1');
    if (this.#options.includeCatalog === false) query.set('nocatalog', '');
    const url = query.size > 0 ? `${this.#tokensUrl}?${query.toString()}` : this.#tokensUrl;
    for (let attempt = 0; ; attempt++) {
      const service = await this.#serviceToken();
      const response = await this.#fetch(url, {
        method: 'GET',
        headers: { 'x-auth-token': service.token, 'x-subject-token': subjectToken },
      });
      if (response.status !== 200) await response.body?.cancel();
      if (response.status === 404) return null;
      if (response.status === 401 && attempt === 0) {
        // Our own token went bad (revoked, identity's keys rotated): forget it, and only it, so
        // concurrent callers that already re-acquired are not made to do it again.
        if (this.#current === service) this.#current = undefined;
        continue;
      }
      if (response.status !== 200) {
        throw unavailable(`identity answered ${response.status} to a token validation`);
      }
      const info = parseTokenBody(await readJson(response));
      if (info === undefined) throw unavailable('identity returned a malformed token body');
      return info;
    }
  }

  async serviceToken(): Promise<string> {
    return (await this.#serviceToken()).token;
  }

  async #serviceToken(): Promise<ServiceToken> {
    const margin = this.#options.refreshMarginMs ?? 120_000;
    const current = this.#current;
    if (current !== undefined && current.expiresAt - margin > this.#now()) return current;
    // One acquisition at a time: a burst of requests at expiry asks identity once.
    this.#acquiring ??= this.#acquire().finally(() => {
      this.#acquiring = undefined;
    });
    return this.#acquiring;
  }

  async #acquire(): Promise<ServiceToken> {
    const o = this.#options;
    const body = {
      auth: {
        identity: {
          methods: ['password'],
          password: {
            user: {
              name: o.username,
              domain: { id: o.userDomainId ?? 'default' },
              password: o.password,
            },
          },
        },
        scope: {
          project: {
            name: o.projectName ?? 'service',
            domain: { id: o.projectDomainId ?? 'default' },
          },
        },
      },
    };
    const response = await this.#fetch(`${this.#tokensUrl}?nocatalog`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (response.status !== 201 && response.status !== 200) {
      await response.body?.cancel();
      throw unavailable(
        `identity answered ${response.status} to service user ${o.username}'s authentication`,
      );
    }
    const token = response.headers.get('x-subject-token');
    const expiresAt = Date.parse(String(tokenExpiry(await readJson(response))));
    if (token === null || token === '' || Number.isNaN(expiresAt)) {
      throw unavailable('identity returned a malformed token for the service user');
    }
    this.#current = { token, expiresAt };
    return this.#current;
  }

  async #fetch(url: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, {
        ...init,
        headers: { accept: 'application/json', ...(init.headers as Record<string, string>) },
        signal: AbortSignal.timeout(this.#options.timeoutMs ?? 10_000),
      });
    } catch (err) {
      throw unavailable(`identity at ${this.#tokensUrl} is unreachable: ${messageOf(err)}`, err);
    }
  }
}

async function readJson(response: Response): Promise<unknown> {
  try {
    return await response.json();
  } catch (err) {
    throw unavailable('identity returned a body that is not JSON', err);
  }
}

function tokenExpiry(body: unknown): unknown {
  const token = (body as { token?: { expires_at?: unknown } } | null)?.token;
  return token?.expires_at;
}

/**
 * The reason goes to the log (as the cause); the client sees only that identity is unavailable,
 * not our internal addresses.
 */
function unavailable(reason: string, cause?: unknown): IdentityUnavailableError {
  return new IdentityUnavailableError(undefined, { cause: new Error(reason, { cause }) });
}
