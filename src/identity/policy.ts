/**
 * Keystone's default policy, in its persona form: admin, member and reader roles (admin implies
 * member implies reader), system, domain and project scope. As in Keystone with scope enforcement
 * off (its default through Zed, and what clients and deployment tools still expect), an admin on
 * any project is a cloud admin.
 */
import type { RuleDefault } from '../common/policy/enforcer.ts';

const ADMIN = 'rule:admin_required';
const SYSTEM_READER = '(role:reader and system_scope:all)';
const ADMIN_OR_SYSTEM_READER = `${ADMIN} or ${SYSTEM_READER}`;
const DOMAIN_READER = '(role:reader and domain_id:%(target.domain_id)s)';
const DOMAIN_ADMIN = '(role:admin and domain_id:%(target.domain_id)s)';

type Scopes = RuleDefault['scope_types'];
const ALL: Scopes = ['system', 'domain', 'project'];
const SYSTEM_AND_DOMAIN: Scopes = ['system', 'domain', 'project'];

function rule(name: string, check: string, scope: Scopes = ALL, description?: string): RuleDefault {
  return { name, check_str: check, scope_types: scope, ...(description ? { description } : {}) };
}

/** CRUD rules of one resource that only admins change and system readers read. */
function adminResource(
  plural: string,
  singular: string,
  readCheck = ADMIN_OR_SYSTEM_READER,
): RuleDefault[] {
  return [
    rule(`identity:get_${singular}`, readCheck),
    rule(`identity:list_${plural}`, readCheck),
    rule(`identity:create_${singular}`, ADMIN),
    rule(`identity:update_${singular}`, ADMIN),
    rule(`identity:delete_${singular}`, ADMIN),
  ];
}

export const IDENTITY_POLICY: readonly RuleDefault[] = [
  rule('admin_required', 'role:admin or is_admin:1'),
  rule('service_role', 'role:service'),
  rule('service_or_admin', 'rule:admin_required or rule:service_role'),
  rule('owner', 'user_id:%(user_id)s'),
  rule('admin_or_owner', 'rule:admin_required or rule:owner'),

  // Tokens: anyone may check their own; services and admins may check any.
  rule(
    'identity:check_token',
    `${ADMIN_OR_SYSTEM_READER} or rule:service_role or rule:token_subject`,
  ),
  rule(
    'identity:validate_token',
    `${ADMIN_OR_SYSTEM_READER} or rule:service_role or rule:token_subject`,
  ),
  rule('identity:revoke_token', `${ADMIN} or rule:service_role or rule:token_subject`),
  rule('token_subject', 'user_id:%(target.token.user_id)s'),

  // Domains: readers of the domain (by domain or project token) may look at it.
  rule(
    'identity:get_domain',
    `${ADMIN_OR_SYSTEM_READER} or token.domain.id:%(target.domain.id)s or token.project.domain.id:%(target.domain.id)s`,
  ),
  rule('identity:list_domains', ADMIN_OR_SYSTEM_READER),
  rule('identity:create_domain', ADMIN),
  rule('identity:update_domain', ADMIN),
  rule('identity:delete_domain', ADMIN),

  rule(
    'identity:get_project',
    `${ADMIN_OR_SYSTEM_READER} or ${DOMAIN_READER} or project_id:%(target.project.id)s`,
  ),
  rule('identity:list_projects', `${ADMIN_OR_SYSTEM_READER} or ${DOMAIN_READER}`),
  rule(
    'identity:list_user_projects',
    `${ADMIN_OR_SYSTEM_READER} or ${DOMAIN_READER} or user_id:%(target.user.id)s`,
  ),
  rule('identity:create_project', `${ADMIN} or ${DOMAIN_ADMIN}`),
  rule('identity:update_project', `${ADMIN} or ${DOMAIN_ADMIN}`),
  rule('identity:delete_project', `${ADMIN} or ${DOMAIN_ADMIN}`),
  rule(
    'identity:list_project_tags',
    `${ADMIN_OR_SYSTEM_READER} or ${DOMAIN_READER} or project_id:%(target.project.id)s`,
  ),
  rule(
    'identity:get_project_tag',
    `${ADMIN_OR_SYSTEM_READER} or ${DOMAIN_READER} or project_id:%(target.project.id)s`,
  ),
  rule('identity:update_project_tags', `${ADMIN} or ${DOMAIN_ADMIN}`),
  rule('identity:create_project_tag', `${ADMIN} or ${DOMAIN_ADMIN}`),
  rule('identity:delete_project_tags', `${ADMIN} or ${DOMAIN_ADMIN}`),
  rule('identity:delete_project_tag', `${ADMIN} or ${DOMAIN_ADMIN}`),

  rule(
    'identity:get_user',
    `${ADMIN_OR_SYSTEM_READER} or ${DOMAIN_READER} or user_id:%(target.user.id)s`,
  ),
  rule('identity:list_users', `${ADMIN_OR_SYSTEM_READER} or ${DOMAIN_READER}`),
  rule('identity:create_user', `${ADMIN} or ${DOMAIN_ADMIN}`),
  rule('identity:update_user', `${ADMIN} or ${DOMAIN_ADMIN}`),
  rule('identity:delete_user', `${ADMIN} or ${DOMAIN_ADMIN}`),

  rule('identity:get_group', `${ADMIN_OR_SYSTEM_READER} or ${DOMAIN_READER}`),
  rule('identity:list_groups', `${ADMIN_OR_SYSTEM_READER} or ${DOMAIN_READER}`),
  rule(
    'identity:list_groups_for_user',
    `${ADMIN_OR_SYSTEM_READER} or ${DOMAIN_READER} or user_id:%(user_id)s`,
  ),
  rule('identity:create_group', `${ADMIN} or ${DOMAIN_ADMIN}`),
  rule('identity:update_group', `${ADMIN} or ${DOMAIN_ADMIN}`),
  rule('identity:delete_group', `${ADMIN} or ${DOMAIN_ADMIN}`),
  rule('identity:list_users_in_group', `${ADMIN_OR_SYSTEM_READER} or ${DOMAIN_READER}`),
  rule('identity:remove_user_from_group', `${ADMIN} or ${DOMAIN_ADMIN}`),
  rule('identity:check_user_in_group', `${ADMIN_OR_SYSTEM_READER} or ${DOMAIN_READER}`),
  rule('identity:add_user_to_group', `${ADMIN} or ${DOMAIN_ADMIN}`),

  ...adminResource('roles', 'role'),
  ...adminResource('domain_roles', 'domain_role'),
  rule('identity:list_implied_roles', ADMIN_OR_SYSTEM_READER),
  rule('identity:get_implied_role', ADMIN_OR_SYSTEM_READER),
  rule('identity:list_role_inference_rules', ADMIN_OR_SYSTEM_READER),
  rule('identity:check_implied_role', ADMIN_OR_SYSTEM_READER),
  rule('identity:create_implied_role', ADMIN),
  rule('identity:delete_implied_role', ADMIN),

  rule('identity:check_grant', `${ADMIN_OR_SYSTEM_READER} or ${DOMAIN_READER}`),
  rule('identity:list_grants', `${ADMIN_OR_SYSTEM_READER} or ${DOMAIN_READER}`),
  rule('identity:create_grant', `${ADMIN} or ${DOMAIN_ADMIN}`),
  rule('identity:revoke_grant', `${ADMIN} or ${DOMAIN_ADMIN}`),
  rule('identity:list_system_grants_for_user', ADMIN_OR_SYSTEM_READER),
  rule('identity:check_system_grant_for_user', ADMIN_OR_SYSTEM_READER),
  rule('identity:create_system_grant_for_user', ADMIN),
  rule('identity:revoke_system_grant_for_user', ADMIN),
  rule('identity:list_system_grants_for_group', ADMIN_OR_SYSTEM_READER),
  rule('identity:check_system_grant_for_group', ADMIN_OR_SYSTEM_READER),
  rule('identity:create_system_grant_for_group', ADMIN),
  rule('identity:revoke_system_grant_for_group', ADMIN),
  rule(
    'identity:list_role_assignments',
    `${ADMIN_OR_SYSTEM_READER} or ${DOMAIN_READER}`,
    SYSTEM_AND_DOMAIN,
  ),
  rule('identity:list_role_assignments_for_tree', `${ADMIN_OR_SYSTEM_READER} or ${DOMAIN_READER}`),

  ...adminResource('regions', 'region', '@'),
  ...adminResource('services', 'service'),
  ...adminResource('endpoints', 'endpoint'),

  rule('identity:get_application_credential', `${ADMIN_OR_SYSTEM_READER} or rule:owner`),
  rule('identity:list_application_credentials', `${ADMIN_OR_SYSTEM_READER} or rule:owner`),
  rule('identity:create_application_credential', 'user_id:%(user_id)s'),
  rule('identity:delete_application_credential', `${ADMIN} or rule:owner`),

  rule(
    'identity:get_credential',
    `${ADMIN_OR_SYSTEM_READER} or user_id:%(target.credential.user_id)s`,
  ),
  rule(
    'identity:list_credentials',
    `${ADMIN_OR_SYSTEM_READER} or user_id:%(target.credential.user_id)s`,
  ),
  rule('identity:create_credential', `${ADMIN} or user_id:%(target.credential.user_id)s`),
  rule('identity:update_credential', `${ADMIN} or user_id:%(target.credential.user_id)s`),
  rule('identity:delete_credential', `${ADMIN} or user_id:%(target.credential.user_id)s`),

  ...adminResource('registered_limits', 'registered_limit', '@'),
  // Keystone's create action for registered limits is plural: the body is a list.
  rule('identity:create_registered_limits', ADMIN),
  rule(
    'identity:get_limit',
    `${ADMIN_OR_SYSTEM_READER} or project_id:%(target.limit.project_id)s or domain_id:%(target.limit.domain_id)s`,
  ),
  rule('identity:list_limits', '@'),
  rule('identity:get_limit_model', '@'),
  rule('identity:create_limits', ADMIN),
  rule('identity:update_limit', ADMIN),
  rule('identity:delete_limit', ADMIN),

  rule('identity:get_auth_catalog', '@'),
  rule('identity:get_auth_projects', '@'),
  rule('identity:get_auth_domains', '@'),
  rule('identity:get_auth_system', '@'),
];
