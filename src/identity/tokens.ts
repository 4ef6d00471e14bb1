/**
 * The token provider: authenticates (password, token, application credential), resolves the
 * requested scope, checks the user has roles on it, and seals a stateless Fernet token; validates
 * one back into the data Keystone returns. Revoked, expired or no longer valid tokens (disabled
 * user or project, roles gone) are "not found", as Keystone answers them.
 */
import { NotFoundError } from '../common/errors.ts';
import type { ApplicationCredentials } from './application-credentials.ts';
import type { Catalog, CatalogEntry } from './catalog.ts';
import { authenticationFailed, invalid } from './errors.ts';
import type { Domain, Project, Resources } from './resources.ts';
import type { Revocations, TokenFacts } from './revocations.ts';
import type { Role, Roles } from './roles.ts';
import { InvalidTokenError } from './token/errors.ts';
import {
  AUTH_METHODS,
  isoTimeMicros,
  newAuditId,
  type AuthMethod,
  type TokenPayload,
} from './token/payload.ts';
import type { TokenCodec } from './token/token-codec.ts';
import type { User, Users } from './users.ts';

export type ScopeRequest =
  | { kind: 'unscoped' }
  | {
      kind: 'project';
      id?: string | undefined;
      name?: string | undefined;
      domain?: { id?: string | undefined; name?: string | undefined } | undefined;
    }
  | { kind: 'domain'; id?: string | undefined; name?: string | undefined }
  | { kind: 'system' };

/** Who authenticated, before scoping. */
export type Authenticated = {
  user: User;
  methods: readonly AuthMethod[];
  /** Set when the `token` method was used: the expiry and audit chain carry over. */
  parent?: { expiresAtMicros: number; auditChainId: string } | undefined;
  applicationCredential?:
    | {
        id: string;
        name: string;
        project_id: string;
        role_ids: readonly string[];
        unrestricted: boolean;
      }
    | undefined;
};

export type TokenData = {
  user: User;
  userDomain: Domain;
  methods: readonly AuthMethod[];
  scope:
    | { kind: 'unscoped' }
    | { kind: 'project'; project: Project; domain: Domain }
    | { kind: 'domain'; domain: Domain }
    | { kind: 'system' };
  roles: Role[];
  auditIds: readonly string[];
  expiresAt: string;
  issuedAt: string;
  expiresAtMicros: number;
  applicationCredential?: { id: string; name: string; restricted: boolean } | undefined;
};

export type TokensOptions = {
  lifetimeSeconds: number;
  allowExpiredWindowSeconds: number;
  now: () => Date;
};

/** How long validation may reuse what a token's ids resolved to (see `#resolve`). */
const MEMO_TTL_MS = 1000;
const MEMO_MAX = 10_000;

type Resolved = {
  user: User;
  userDomain: Domain;
  scope: TokenData['scope'];
  roleIds: string[];
  roles: Role[];
  applicationCredential?:
    { id: string; name: string; restricted: boolean; expiresAtMs: number | undefined } | undefined;
};

export function tokenNotFound(): NotFoundError {
  return new NotFoundError('Failed to validate token', 'identity.token_not_found');
}

export class Tokens {
  readonly #codec: TokenCodec;
  readonly #resources: Resources;
  readonly #users: Users;
  readonly #roles: Roles;
  readonly #catalog: Catalog;
  readonly #revocations: Revocations;
  readonly #appCreds: ApplicationCredentials;
  readonly #options: TokensOptions;
  readonly #memo = new Map<string, { value: Resolved; until: number }>();
  readonly #scopeMemo = new Map<string, { value: TokenPayload['scope']; until: number }>();

  constructor(parts: {
    codec: TokenCodec;
    resources: Resources;
    users: Users;
    roles: Roles;
    catalog: Catalog;
    revocations: Revocations;
    applicationCredentials: ApplicationCredentials;
    options: TokensOptions;
  }) {
    this.#codec = parts.codec;
    this.#resources = parts.resources;
    this.#users = parts.users;
    this.#roles = parts.roles;
    this.#catalog = parts.catalog;
    this.#revocations = parts.revocations;
    this.#appCreds = parts.applicationCredentials;
    this.#options = parts.options;
    // A revocation may mean a role, user or project is gone: forget everything resolved.
    parts.revocations.onChange(() => {
      this.#memo.clear();
      this.#scopeMemo.clear();
    });
  }

  /** Seals a token for an authenticated user on the requested (or default project) scope. */
  async issue(
    auth: Authenticated,
    request: ScopeRequest | undefined,
  ): Promise<{ token: string; data: TokenData }> {
    let scopeRequest = request ?? { kind: 'unscoped' };
    if (auth.applicationCredential) {
      // An application credential always scopes to its own project.
      if (request !== undefined && request.kind !== 'unscoped') {
        throw invalid('Application credentials cannot request a scope; they carry their project.');
      }
      scopeRequest = { kind: 'project', id: auth.applicationCredential.project_id };
    } else if (
      request === undefined &&
      auth.user.default_project_id !== null &&
      auth.parent === undefined
    ) {
      // Keystone scopes to the default project when asked for no scope and the user may use it.
      const project = await this.#resources.findProject(auth.user.default_project_id);
      if (project?.enabled === true) {
        const roles = await this.#roles.effectiveRoleIds(
          auth.user.id,
          await this.#projectScope(project),
        );
        if (roles.length > 0) scopeRequest = { kind: 'project', id: project.id };
      }
    }
    const nowMicros = this.#options.now().getTime() * 1000;
    let expiresAtMicros = nowMicros + this.#options.lifetimeSeconds * 1e6;
    if (auth.parent) expiresAtMicros = Math.min(expiresAtMicros, auth.parent.expiresAtMicros);
    const own = newAuditId();
    const payload: TokenPayload = {
      userId: auth.user.id,
      methods: AUTH_METHODS.filter((m) => auth.methods.includes(m)),
      scope: await this.#memoScope(scopeRequest),
      expiresAtMicros,
      issuedAtMicros: nowMicros,
      auditIds: auth.parent ? [own, auth.parent.auditChainId] : [own],
      ...(auth.applicationCredential
        ? { applicationCredentialId: auth.applicationCredential.id }
        : {}),
    };
    const data = await this.#build(payload, false);
    if (payload.scope.kind !== 'unscoped' && data.roles.length === 0) throw authenticationFailed();
    const { token } = this.#codec.issue(payload);
    return { token, data };
  }

  /**
   * The data of a valid token.
   * @throws NotFoundError (Keystone's 404 on validate) for a token that is malformed, expired
   *   (beyond the allow-expired window when that is asked for), revoked or no longer valid.
   */
  async validate(token: string, options: { allowExpired?: boolean } = {}): Promise<TokenData> {
    let opened;
    try {
      opened = this.#codec.open(token);
    } catch (err) {
      if (err instanceof InvalidTokenError) throw tokenNotFound();
      throw err;
    }
    const data = await this.#build(opened.payload, true);
    const now = this.#options.now().getTime() * 1000;
    const window =
      options.allowExpired === true ? this.#options.allowExpiredWindowSeconds * 1e6 : 0;
    if (opened.payload.expiresAtMicros + window <= now) throw tokenNotFound();
    return data;
  }

  /** Revokes one token (and nothing else) by its audit id. */
  async revoke(token: string): Promise<void> {
    const data = await this.validate(token);
    const auditId = data.auditIds[0];
    if (auditId !== undefined) await this.#revocations.revoke({ audit_id: auditId });
  }

  async catalogFor(data: TokenData): Promise<CatalogEntry[]> {
    return this.#catalog.forProject(
      data.scope.kind === 'project' ? data.scope.project.id : undefined,
    );
  }

  /** Scope lookups by name or id, reused like `#resolve` (cleared by any revocation). */
  async #memoScope(request: ScopeRequest): Promise<TokenPayload['scope']> {
    const key = JSON.stringify(request);
    const now = Date.now();
    const hit = this.#scopeMemo.get(key);
    if (hit !== undefined && hit.until > now) return hit.value;
    const value = await this.#resolveScope(request);
    if (this.#scopeMemo.size >= MEMO_MAX) this.#scopeMemo.clear();
    this.#scopeMemo.set(key, { value, until: now + MEMO_TTL_MS });
    return value;
  }

  async #resolveScope(request: ScopeRequest): Promise<TokenPayload['scope']> {
    switch (request.kind) {
      case 'unscoped':
        return { kind: 'unscoped' };
      case 'system':
        return { kind: 'system', system: 'all' };
      case 'domain': {
        const domain =
          request.id !== undefined
            ? await this.#resources.findDomain(request.id)
            : request.name !== undefined
              ? await this.#resources.getDomainByName(request.name).catch(() => undefined)
              : undefined;
        if (!domain?.enabled) throw authenticationFailed();
        return { kind: 'domain', domainId: domain.id };
      }
      case 'project': {
        let project: Project | undefined;
        if (request.id !== undefined) {
          project = await this.#resources.findProject(request.id);
        } else if (request.name !== undefined) {
          const domainId =
            request.domain?.id ??
            (request.domain?.name !== undefined
              ? (await this.#resources.getDomainByName(request.domain.name).catch(() => undefined))
                  ?.id
              : undefined);
          if (domainId === undefined)
            throw invalid('A project scoped by name needs its domain (id or name).');
          project = await this.#resources
            .getProjectByName(request.name, domainId)
            .catch(() => undefined);
        } else {
          throw invalid('A project scope needs the project id, or its name and domain.');
        }
        if (!project?.enabled) throw authenticationFailed();
        return { kind: 'project', projectId: project.id };
      }
    }
  }

  async #projectScope(
    project: Project,
  ): Promise<{ kind: 'project'; id: string; domain_id: string; ancestors: string[] }> {
    const ancestors = (await this.#resources.parents(project)).map((p) => p.id);
    return { kind: 'project', id: project.id, domain_id: project.domain_id, ancestors };
  }

  /** Expands a payload into token data, checking everything it names is still valid. */
  /**
   * What a payload's ids stand for now: user, scope, roles, application credential. Validation
   * reads it from a short-lived memo so the hot path touches no database; anything that revokes
   * tokens clears the memo at once, and other changes show within `MEMO_TTL_MS`.
   */
  async #resolve(payload: TokenPayload, fresh: boolean): Promise<Resolved> {
    const key = `${payload.userId}|${payload.scope.kind}|${
      payload.scope.kind === 'project'
        ? payload.scope.projectId
        : payload.scope.kind === 'domain'
          ? payload.scope.domainId
          : ''
    }|${payload.applicationCredentialId ?? ''}`;
    const now = Date.now();
    const hit = this.#memo.get(key);
    // Issuing reuses a memo only if it granted roles: a role granted a moment ago must count.
    if (hit !== undefined && hit.until > now && (!fresh || hit.value.roleIds.length > 0)) {
      return hit.value;
    }
    const value = await this.#load(payload);
    if (this.#memo.size >= MEMO_MAX) this.#memo.clear();
    this.#memo.set(key, { value, until: now + MEMO_TTL_MS });
    return value;
  }

  async #load(payload: TokenPayload): Promise<Resolved> {
    const user = await this.#users.find(payload.userId);
    if (!user?.enabled) throw tokenNotFound();
    const userDomain = await this.#resources.findDomain(user.domain_id);
    if (!userDomain?.enabled) throw tokenNotFound();
    let scope: TokenData['scope'];
    let roleIds: string[] = [];
    switch (payload.scope.kind) {
      case 'unscoped':
        scope = { kind: 'unscoped' };
        break;
      case 'system':
        scope = { kind: 'system' };
        roleIds = await this.#roles.effectiveRoleIds(user.id, { kind: 'system' });
        break;
      case 'domain': {
        const domain = await this.#resources.findDomain(payload.scope.domainId);
        if (!domain?.enabled) throw tokenNotFound();
        scope = { kind: 'domain', domain };
        roleIds = await this.#roles.effectiveRoleIds(user.id, { kind: 'domain', id: domain.id });
        break;
      }
      case 'project': {
        const project = await this.#resources.findProject(payload.scope.projectId);
        if (!project?.enabled) throw tokenNotFound();
        const domain = await this.#resources.findDomain(project.domain_id);
        if (!domain?.enabled) throw tokenNotFound();
        scope = { kind: 'project', project, domain };
        roleIds = await this.#roles.effectiveRoleIds(user.id, await this.#projectScope(project));
        break;
      }
    }
    let applicationCredential: Resolved['applicationCredential'];
    if (payload.applicationCredentialId !== undefined) {
      const cred = await this.#appCreds.find(payload.applicationCredentialId);
      if (!cred || cred.user_id !== user.id) throw tokenNotFound();
      roleIds = roleIds.filter((id) => cred.role_ids.includes(id));
      applicationCredential = {
        id: cred.id,
        name: cred.name,
        restricted: !cred.unrestricted,
        expiresAtMs: cred.expires_at === null ? undefined : Date.parse(cred.expires_at),
      };
    }
    const roles = roleIds.length === 0 ? [] : await this.#roles.list({ ids: roleIds });
    return { user, userDomain, scope, roleIds, roles, applicationCredential };
  }

  /** Expands a payload into token data, checking everything it names is still valid. */
  async #build(payload: TokenPayload, checkRevoked: boolean): Promise<TokenData> {
    const { user, userDomain, scope, roleIds, roles, applicationCredential } = await this.#resolve(
      payload,
      !checkRevoked,
    );
    if (
      applicationCredential?.expiresAtMs !== undefined &&
      applicationCredential.expiresAtMs <= this.#options.now().getTime()
    ) {
      throw tokenNotFound();
    }
    const [own, chain] = payload.auditIds;
    if (checkRevoked) {
      const facts: TokenFacts = {
        user_id: user.id,
        user_domain_id: user.domain_id,
        project_id: scope.kind === 'project' ? scope.project.id : undefined,
        project_domain_id: scope.kind === 'project' ? scope.project.domain_id : undefined,
        domain_id: scope.kind === 'domain' ? scope.domain.id : undefined,
        role_ids: roleIds,
        audit_id: own,
        audit_chain_id: chain ?? own,
        application_credential_id: payload.applicationCredentialId,
        issued_at: payload.issuedAtMicros / 1000,
      };
      if (this.#revocations.isRevoked(facts)) throw tokenNotFound();
      // A scoped token whose user lost every role there is no longer valid (as in Keystone).
      if (scope.kind !== 'unscoped' && roles.length === 0) throw tokenNotFound();
    }
    return {
      user,
      userDomain,
      methods: payload.methods,
      scope,
      roles,
      auditIds: payload.auditIds.filter((a): a is string => a !== undefined),
      expiresAt: isoTimeMicros(payload.expiresAtMicros),
      issuedAt: isoTimeMicros(payload.issuedAtMicros),
      expiresAtMicros: payload.expiresAtMicros,
      applicationCredential: applicationCredential && {
        id: applicationCredential.id,
        name: applicationCredential.name,
        restricted: applicationCredential.restricted,
      },
    };
  }
}
