/**
 * Who is calling, as the token middleware established it: oslo.context's RequestContext, typed.
 * Services read it for ownership (`projectId`) and hand `toPolicyCredentials()` to the policy
 * enforcer. The raw tokens are kept in private fields behind getters, so logging or serialising
 * a context never prints a token.
 */
import type { Credentials } from '../policy/checks.ts';
import type { CatalogEntry, TokenInfo } from './token-validator.ts';

/** The service that forwarded the request with a valid `X-Service-Token`. */
export type ServiceCaller = {
  readonly userId: string;
  readonly userName: string;
  readonly userDomainId: string;
  readonly projectId: string | undefined;
  readonly projectDomainId: string | undefined;
  readonly roles: readonly string[];
};

export type RequestContextInit = {
  /** The validated `X-Auth-Token`. */
  readonly user: TokenInfo;
  readonly authToken: string;
  /** The validated `X-Service-Token`, when one came along. */
  readonly service?: { readonly info: TokenInfo; readonly token: string } | undefined;
  readonly requestId: string;
  readonly globalRequestId: string | undefined;
};

export class RequestContext {
  readonly userId: string;
  readonly userName: string;
  readonly userDomainId: string;
  readonly userDomainName: string;
  readonly projectId: string | undefined;
  readonly projectName: string | undefined;
  readonly projectDomainId: string | undefined;
  readonly projectDomainName: string | undefined;
  /** The domain of a domain-scoped token (not the user's own domain). */
  readonly domainId: string | undefined;
  readonly domainName: string | undefined;
  readonly systemScope: 'all' | undefined;
  /** Role names, as `role:admin` checks read them. */
  readonly roles: readonly string[];
  readonly roleIds: readonly string[];
  readonly isAdminProject: boolean;
  readonly auditIds: readonly string[];
  readonly expiresAt: Date;
  readonly catalog: readonly CatalogEntry[] | undefined;
  readonly service: ServiceCaller | undefined;
  readonly requestId: string;
  readonly globalRequestId: string | undefined;
  readonly #authToken: string;
  readonly #serviceToken: string | undefined;

  constructor(init: RequestContextInit) {
    const { user } = init;
    this.userId = user.user.id;
    this.userName = user.user.name;
    this.userDomainId = user.user.domain.id;
    this.userDomainName = user.user.domain.name;
    const project = user.scope.kind === 'project' ? user.scope.project : undefined;
    this.projectId = project?.id;
    this.projectName = project?.name;
    this.projectDomainId = project?.domain.id;
    this.projectDomainName = project?.domain.name;
    const domain = user.scope.kind === 'domain' ? user.scope.domain : undefined;
    this.domainId = domain?.id;
    this.domainName = domain?.name;
    this.systemScope = user.scope.kind === 'system' ? 'all' : undefined;
    this.roles = user.roles.map((r) => r.name);
    this.roleIds = user.roles.map((r) => r.id);
    this.isAdminProject = user.isAdminProject;
    this.auditIds = user.auditIds;
    this.expiresAt = user.expiresAt;
    this.catalog = user.catalog;
    this.service = init.service === undefined ? undefined : serviceCaller(init.service.info);
    this.requestId = init.requestId;
    this.globalRequestId = init.globalRequestId;
    this.#authToken = init.authToken;
    this.#serviceToken = init.service?.token;
  }

  /** The caller's token, to act on its behalf toward another service. */
  get authToken(): string {
    return this.#authToken;
  }

  get serviceToken(): string | undefined {
    return this.#serviceToken;
  }

  /** oslo.context's `to_policy_values()`: what policy rules may read about the caller. */
  toPolicyCredentials(): Credentials {
    return {
      user_id: this.userId,
      user_domain_id: this.userDomainId,
      project_id: this.projectId,
      project_domain_id: this.projectDomainId,
      domain_id: this.domainId,
      system_scope: this.systemScope,
      roles: this.roles,
      is_admin_project: this.isAdminProject,
      service_user_id: this.service?.userId,
      service_user_domain_id: this.service?.userDomainId,
      service_project_id: this.service?.projectId,
      service_project_domain_id: this.service?.projectDomainId,
      service_roles: this.service?.roles,
    };
  }
}

function serviceCaller(info: TokenInfo): ServiceCaller {
  const project = info.scope.kind === 'project' ? info.scope.project : undefined;
  return {
    userId: info.user.id,
    userName: info.user.name,
    userDomainId: info.user.domain.id,
    projectId: project?.id,
    projectDomainId: project?.domain.id,
    roles: info.roles.map((r) => r.name),
  };
}
