/**
 * The authentication methods of `POST /v3/auth/tokens`: password (user by id, or by name with
 * its domain by id or name), token (rescoping an existing token) and application credential.
 * Every failure is the same 401, whatever was wrong, so nobody learns which users exist.
 */
import type { ApplicationCredentials } from './application-credentials.ts';
import { authenticationFailed, invalid } from './errors.ts';
import type { Resources } from './resources.ts';
import type { AuthMethod } from './token/payload.ts';
import type { Authenticated, ScopeRequest, Tokens } from './tokens.ts';
import type { User, Users } from './users.ts';

export type UserRef = {
  id?: string | undefined;
  name?: string | undefined;
  domain?: { id?: string | undefined; name?: string | undefined } | undefined;
};

export type AuthRequest = {
  identity: {
    methods: string[];
    password?: { user: UserRef & { password: string } } | undefined;
    token?: { id: string } | undefined;
    application_credential?:
      | {
          id?: string | undefined;
          name?: string | undefined;
          secret: string;
          user?: UserRef | undefined;
        }
      | undefined;
  };
  scope?:
    | 'unscoped'
    | {
        project?:
          | {
              id?: string | undefined;
              name?: string | undefined;
              domain?: { id?: string | undefined; name?: string | undefined } | undefined;
            }
          | undefined;
        domain?: { id?: string | undefined; name?: string | undefined } | undefined;
        system?: { all?: boolean | undefined } | undefined;
      }
    | undefined;
};

const SUPPORTED = new Set(['password', 'token', 'application_credential']);

export class Authenticator {
  readonly #users: Users;
  readonly #resources: Resources;
  readonly #tokens: Tokens;
  readonly #appCreds: ApplicationCredentials;

  constructor(parts: {
    users: Users;
    resources: Resources;
    tokens: Tokens;
    applicationCredentials: ApplicationCredentials;
  }) {
    this.#users = parts.users;
    this.#resources = parts.resources;
    this.#tokens = parts.tokens;
    this.#appCreds = parts.applicationCredentials;
  }

  async authenticate(
    request: AuthRequest,
  ): Promise<{ auth: Authenticated; scope: ScopeRequest | undefined }> {
    const methods = [...new Set(request.identity.methods)];
    if (methods.length === 0)
      throw invalid("Invalid input for field 'identity.methods': at least one method is needed.");
    for (const m of methods) {
      if (!SUPPORTED.has(m)) throw authenticationFailed();
    }
    if (methods.length > 1) throw invalid('Authenticate with one method at a time.');
    const method = methods[0] as AuthMethod;
    const scope = scopeOf(request.scope);
    switch (method) {
      case 'password': {
        const body = request.identity.password;
        if (!body)
          throw invalid(
            "Invalid input for field 'identity.password': the password method needs it.",
          );
        const user = await this.#users.checkPassword(
          await this.#findUser(body.user),
          body.user.password,
        );
        return { auth: { user, methods: ['password'] }, scope };
      }
      case 'token': {
        const id = request.identity.token?.id;
        if (id === undefined)
          throw invalid("Invalid input for field 'identity.token.id': the token method needs it.");
        const data = await this.#tokens.validate(id).catch(() => {
          throw authenticationFailed();
        });
        if (data.applicationCredential) throw authenticationFailed();
        return {
          auth: {
            user: data.user,
            methods: [...new Set<AuthMethod>([...data.methods, 'token'])],
            parent: {
              expiresAtMicros: data.expiresAtMicros,
              auditChainId: data.auditIds[1] ?? data.auditIds[0] ?? '',
            },
          },
          scope,
        };
      }
      case 'application_credential': {
        const body = request.identity.application_credential;
        if (!body)
          throw invalid(
            "Invalid input for field 'identity.application_credential': the method needs it.",
          );
        let credentialId = body.id;
        if (credentialId === undefined) {
          if (body.name === undefined || body.user === undefined) {
            throw invalid(
              'An application credential is named by its id, or by its name and its user.',
            );
          }
          const owner = await this.#findUser(body.user);
          credentialId =
            owner === undefined
              ? undefined
              : (await this.#appCreds.findByName(owner.id, body.name))?.id;
          if (credentialId === undefined) throw authenticationFailed();
        }
        const cred = await this.#appCreds.authenticate(credentialId, body.secret);
        const user = await this.#users.find(cred.user_id);
        if (!user?.enabled) throw authenticationFailed();
        return {
          auth: {
            user,
            methods: ['application_credential'],
            applicationCredential: {
              id: cred.id,
              name: cred.name,
              project_id: cred.project_id,
              role_ids: cred.role_ids,
              unrestricted: cred.unrestricted,
            },
          },
          scope,
        };
      }
      default:
        throw authenticationFailed();
    }
  }

  async #findUser(ref: UserRef): Promise<User | undefined> {
    if (ref.id !== undefined) return this.#users.find(ref.id);
    if (ref.name === undefined)
      throw invalid('A user is named by its id, or by its name and its domain.');
    let domainId = ref.domain?.id;
    if (domainId === undefined) {
      if (ref.domain?.name === undefined)
        throw invalid('A user named by name needs its domain (id or name).');
      domainId = (await this.#resources.getDomainByName(ref.domain.name).catch(() => undefined))
        ?.id;
      if (domainId === undefined) return undefined;
    }
    return this.#users.findByName(ref.name, domainId);
  }
}

function scopeOf(scope: AuthRequest['scope']): ScopeRequest | undefined {
  if (scope === undefined) return undefined;
  if (scope === 'unscoped') return { kind: 'unscoped' };
  const given = [scope.project, scope.domain, scope.system].filter((s) => s !== undefined);
  if (given.length > 1) throw invalid('Specify only one scope: project, domain or system.');
  if (scope.project)
    return {
      kind: 'project',
      id: scope.project.id,
      name: scope.project.name,
      domain: scope.project.domain,
    };
  if (scope.domain) return { kind: 'domain', id: scope.domain.id, name: scope.domain.name };
  if (scope.system) {
    if (scope.system.all !== true)
      throw invalid('Invalid input for field \'scope.system\': only {"all": true} exists.');
    return { kind: 'system' };
  }
  return undefined;
}
