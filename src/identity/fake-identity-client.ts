/**
 * An in-memory identity for tests: it issues tokens for whatever users, scopes and roles a test
 * names, revokes and expires them, answers validations as Keystone would (unknown, revoked or
 * expired → null; expired but within the allow-expired window → the token when allowed), records
 * each validation, and can be made unreachable or held mid-call to test concurrency.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  IdentityUnavailableError,
  type TokenInfo,
  type TokenScope,
  type ValidateOptions,
} from '../common/auth/token-validator.ts';
import type { IdentityClient } from './client.ts';

export type FakeTokenSpec = {
  userId?: string;
  userName?: string;
  userDomain?: { id: string; name: string };
  /** Project scope (the default, project `demo`). */
  project?: { id?: string; name?: string; domain?: { id: string; name: string } };
  /** Domain scope instead of project scope. */
  domain?: { id: string; name: string };
  /** System scope instead of project scope. */
  system?: true;
  unscoped?: true;
  roles?: readonly string[];
  /** Default one hour, Keystone's default token lifetime. */
  lifetimeMs?: number;
  isAdminProject?: boolean;
  methods?: readonly string[];
};

export type FakeIdentityClientOptions = {
  now?: () => number;
  /** How long after expiry `allowExpired` still accepts a token (Keystone: 2 days). */
  allowExpiredWindowMs?: number;
  /** The user `serviceToken()` speaks for (default `tstack-service`, role `service`). */
  serviceUser?: { name: string; roles?: readonly string[] };
};

export type RecordedValidation = { readonly token: string; readonly allowExpired: boolean };

type Issued = { info: TokenInfo; revoked: boolean };

const DEFAULT_DOMAIN = { id: 'default', name: 'Default' };

export class FakeIdentityClient implements IdentityClient {
  readonly #tokens = new Map<string, Issued>();
  readonly #roleIds = new Map<string, string>();
  readonly #now: () => number;
  readonly #window: number;
  readonly #serviceUser: { name: string; roles: readonly string[] };
  readonly #validations: RecordedValidation[] = [];
  #serviceToken: string | undefined;
  #failure: Error | undefined;
  #hold: Promise<void> | undefined;

  constructor(options: FakeIdentityClientOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#window = options.allowExpiredWindowMs ?? 2 * 24 * 3600_000;
    this.#serviceUser = {
      name: options.serviceUser?.name ?? 'tstack-service',
      roles: options.serviceUser?.roles ?? ['service'],
    };
  }

  /** Issues a token as a password authentication would, and returns it. */
  issueToken(spec: FakeTokenSpec = {}): string {
    const token = randomBytes(48).toString('base64url');
    const now = this.#now();
    const userName = spec.userName ?? 'demo';
    const info: TokenInfo = {
      methods: spec.methods ?? ['password'],
      user: {
        id: spec.userId ?? hexId(),
        name: userName,
        domain: spec.userDomain ?? DEFAULT_DOMAIN,
      },
      scope: scopeOf(spec),
      roles: (spec.roles ?? ['member', 'reader']).map((name) => ({ id: this.#roleId(name), name })),
      auditIds: [randomBytes(16).toString('base64url').slice(0, 22)],
      expiresAt: new Date(now + (spec.lifetimeMs ?? 3600_000)),
      issuedAt: new Date(now),
      isDomain: false,
      isAdminProject: spec.isAdminProject ?? true,
      catalog: undefined,
    };
    this.#tokens.set(token, { info, revoked: false });
    return token;
  }

  /** What was issued for `token`, revoked or not; undefined if it never was. */
  tokenInfo(token: string): TokenInfo | undefined {
    return this.#tokens.get(token)?.info;
  }

  /** `DELETE /v3/auth/tokens`: from now on the token is refused. Idempotent. */
  revokeToken(token: string): void {
    const issued = this.#tokens.get(token);
    if (issued !== undefined) issued.revoked = true;
  }

  /** Makes the token expire now, as if its lifetime had run out. */
  expireToken(token: string): void {
    const issued = this.#tokens.get(token);
    if (issued !== undefined) {
      issued.info = { ...issued.info, expiresAt: new Date(this.#now()) };
    }
  }

  /**
   * Every later validation throws `error` (default: identity unreachable) until called again
   * with `null`.
   */
  failValidations(error: Error | null = new IdentityUnavailableError()): void {
    this.#failure = error ?? undefined;
  }

  /**
   * Validations wait (after being recorded) until the returned function is called, so a test can
   * have several requests in flight at once.
   */
  holdValidations(): () => void {
    let release = (): void => undefined;
    this.#hold = new Promise<void>((resolve) => {
      release = () => {
        this.#hold = undefined;
        resolve();
      };
    });
    return release;
  }

  get validations(): readonly RecordedValidation[] {
    return this.#validations;
  }

  get validateCount(): number {
    return this.#validations.length;
  }

  async validateToken(
    subjectToken: string,
    options: ValidateOptions = {},
  ): Promise<TokenInfo | null> {
    const allowExpired = options.allowExpired === true;
    this.#validations.push({ token: subjectToken, allowExpired });
    if (this.#hold !== undefined) await this.#hold;
    if (this.#failure !== undefined) throw this.#failure;
    const issued = this.#tokens.get(subjectToken);
    if (issued === undefined || issued.revoked) return null;
    const expiredFor = this.#now() - issued.info.expiresAt.getTime();
    if (expiredFor >= 0 && !(allowExpired && expiredFor <= this.#window)) return null;
    return issued.info;
  }

  async serviceToken(): Promise<string> {
    if (this.#failure !== undefined) throw this.#failure;
    const current = this.#serviceToken;
    const issued = current === undefined ? undefined : this.#tokens.get(current);
    if (current !== undefined && issued !== undefined && !issued.revoked) {
      if (issued.info.expiresAt.getTime() > this.#now()) return current;
    }
    this.#serviceToken = this.issueToken({
      userName: this.#serviceUser.name,
      project: { name: 'service' },
      roles: this.#serviceUser.roles,
    });
    return this.#serviceToken;
  }

  #roleId(name: string): string {
    let id = this.#roleIds.get(name);
    if (id === undefined) {
      id = hexId();
      this.#roleIds.set(name, id);
    }
    return id;
  }
}

function scopeOf(spec: FakeTokenSpec): TokenScope {
  if (spec.system === true) return { kind: 'system', system: 'all' };
  if (spec.domain !== undefined) return { kind: 'domain', domain: spec.domain };
  if (spec.unscoped === true) return { kind: 'unscoped' };
  return {
    kind: 'project',
    project: {
      id: spec.project?.id ?? hexId(),
      name: spec.project?.name ?? 'demo',
      domain: spec.project?.domain ?? DEFAULT_DOMAIN,
    },
  };
}

/** Keystone's ids: a UUID's hex without dashes. */
function hexId(): string {
  return randomUUID().replaceAll('-', '');
}
