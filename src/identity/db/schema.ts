/**
 * The identity tables as Kysely sees them. Column conventions are those of
 * `src/common/db/portable.ts`: ids `varchar(64)` (Keystone's 32-hex uuids, or `default`),
 * timestamps ISO strings, booleans 0/1, free-form attributes JSON text.
 */
import type { Generated } from 'kysely';

/** Roles and other rows that may belong to no domain store this instead of NULL, so that a
 * unique key over (domain_id, name) works the same on all three databases. */
export const NO_DOMAIN = '<<null>>';

export type DomainRow = {
  id: string;
  name: string;
  description: string | null;
  enabled: number;
  extra: string;
};

export type ProjectRow = {
  id: string;
  name: string;
  domain_id: string;
  /** The parent project, or the domain id for a top-level project (as Keystone stores it). */
  parent_id: string;
  description: string | null;
  enabled: number;
  extra: string;
};

export type ProjectTagRow = { project_id: string; name: string };

export type UserRow = {
  id: string;
  name: string;
  domain_id: string;
  enabled: number;
  default_project_id: string | null;
  description: string | null;
  email: string | null;
  extra: string;
  /** `options` of the API: ignore_lockout_failure_attempts and friends, JSON. */
  options: string;
  created_at: string;
  failed_auth_count: number;
  failed_auth_at: string | null;
};

/** One row per password a user has had; the newest is the current one (history for reuse rules). */
export type PasswordRow = {
  id: Generated<number>;
  user_id: string;
  hash: string;
  created_at: string;
  expires_at: string | null;
  self_service: number;
};

export type GroupRow = {
  id: string;
  name: string;
  domain_id: string;
  description: string | null;
  extra: string;
};

export type MembershipRow = { user_id: string; group_id: string };

export type RoleRow = {
  id: string;
  name: string;
  /** NO_DOMAIN for a global role. */
  domain_id: string;
  description: string | null;
  options: string;
};

export type ImpliedRoleRow = { prior_role_id: string; implied_role_id: string };

export const ASSIGNMENT_TYPES = [
  'UserProject',
  'GroupProject',
  'UserDomain',
  'GroupDomain',
  'UserSystem',
  'GroupSystem',
] as const;
export type AssignmentType = (typeof ASSIGNMENT_TYPES)[number];

export type AssignmentRow = {
  type: AssignmentType;
  actor_id: string;
  /** Project or domain id; `system` for system assignments. */
  target_id: string;
  role_id: string;
  inherited: number;
};

export type RegionRow = {
  id: string;
  description: string;
  parent_region_id: string | null;
  extra: string;
};

export type ServiceRow = {
  id: string;
  type: string;
  name: string | null;
  description: string | null;
  enabled: number;
  extra: string;
};

export type EndpointRow = {
  id: string;
  service_id: string;
  interface: string;
  region_id: string | null;
  url: string;
  enabled: number;
  extra: string;
};

export type ApplicationCredentialRow = {
  id: string;
  name: string;
  description: string | null;
  secret_hash: string;
  user_id: string;
  project_id: string;
  expires_at: string | null;
  unrestricted: number;
  created_at: string;
};

export type ApplicationCredentialRoleRow = { application_credential_id: string; role_id: string };

export type CredentialRow = {
  id: string;
  user_id: string;
  project_id: string | null;
  type: string;
  blob: string;
  /** For EC2 credentials: the access key, so lookups by it are indexed. */
  key_hash: string | null;
  extra: string;
};

export type RegisteredLimitRow = {
  id: string;
  service_id: string;
  region_id: string | null;
  resource_name: string;
  default_limit: number;
  description: string | null;
};

export type LimitRow = {
  id: string;
  project_id: string | null;
  domain_id: string | null;
  service_id: string;
  region_id: string | null;
  resource_name: string;
  resource_limit: number;
  description: string | null;
};

/**
 * A revocation event: every token issued at or before `issued_before` whose attributes match all
 * of the event's non-null ones is revoked. Kept until every token it could match has expired.
 */
export type RevocationEventRow = {
  id: Generated<number>;
  user_id: string | null;
  project_id: string | null;
  domain_id: string | null;
  role_id: string | null;
  audit_id: string | null;
  audit_chain_id: string | null;
  application_credential_id: string | null;
  issued_before: string;
  revoked_at: string;
  /** When the event can be dropped: the longest a matching token could still be valid. */
  expires_at: string;
};

export type IdentityDatabase = {
  domain: DomainRow;
  project: ProjectRow;
  project_tag: ProjectTagRow;
  identity_user: UserRow;
  password: PasswordRow;
  identity_group: GroupRow;
  user_group_membership: MembershipRow;
  role: RoleRow;
  implied_role: ImpliedRoleRow;
  assignment: AssignmentRow;
  region: RegionRow;
  service: ServiceRow;
  endpoint: EndpointRow;
  application_credential: ApplicationCredentialRow;
  application_credential_role: ApplicationCredentialRoleRow;
  credential: CredentialRow;
  registered_limit: RegisteredLimitRow;
  project_limit: LimitRow;
  revocation_event: RevocationEventRow;
};
