/**
 * Nova's default policy (nova/policies/*.py) for the parts built so far: flavors are managed by
 * admins and read by anyone; a key pair belongs to its user, and admins may act for any user;
 * a server's owner may act on it, and admins may act on any (some actions are theirs only).
 */
import type { RuleDefault } from '../common/policy/enforcer.ts';

const ADMIN = 'role:admin';
/** Zed's legacy `admin_or_owner`, what a deployment without `enforce_new_defaults` runs. */
const OWNER = `${ADMIN} or project_id:%(project_id)s`;

function rule(name: string, check: string): RuleDefault {
  return { name, check_str: check, scope_types: ['project'] };
}

export const COMPUTE_POLICY: readonly RuleDefault[] = [
  rule('context_is_admin', ADMIN),
  rule('default', ADMIN),
  rule('os_compute_api:os-flavor-manage:create', ADMIN),
  rule('os_compute_api:os-flavor-manage:update', ADMIN),
  rule('os_compute_api:os-flavor-manage:delete', ADMIN),
  rule('os_compute_api:os-flavor-extra-specs:create', ADMIN),
  rule('os_compute_api:os-flavor-extra-specs:update', ADMIN),
  rule('os_compute_api:os-flavor-extra-specs:delete', ADMIN),
  rule('os_compute_api:os-flavor-access', ADMIN),
  rule('os_compute_api:os-flavor-access:add_tenant_access', ADMIN),
  rule('os_compute_api:os-flavor-access:remove_tenant_access', ADMIN),
  rule('os_compute_api:os-keypairs:index', `${ADMIN} or user_id:%(user_id)s`),
  rule('os_compute_api:os-keypairs:show', `${ADMIN} or user_id:%(user_id)s`),
  rule('os_compute_api:os-keypairs:create', `${ADMIN} or user_id:%(user_id)s`),
  rule('os_compute_api:os-keypairs:delete', `${ADMIN} or user_id:%(user_id)s`),
  rule('os_compute_api:servers:index', OWNER),
  rule('os_compute_api:servers:detail', OWNER),
  rule('os_compute_api:servers:show', OWNER),
  rule('os_compute_api:servers:create', OWNER),
  rule('os_compute_api:servers:update', OWNER),
  rule('os_compute_api:servers:delete', OWNER),
  rule('os_compute_api:servers:index:get_all_tenants', ADMIN),
  rule('os_compute_api:servers:detail:get_all_tenants', ADMIN),
  rule('os_compute_api:servers:allow_all_filters', ADMIN),
  rule('os_compute_api:servers:show:host_status', ADMIN),
  rule('os_compute_api:os-extended-server-attributes', ADMIN),
  rule('os_compute_api:os-deferred-delete:force', OWNER),
  rule('os_compute_api:servers:start', OWNER),
  rule('os_compute_api:servers:stop', OWNER),
  rule('os_compute_api:servers:reboot', OWNER),
  rule('os_compute_api:os-pause-server:pause', OWNER),
  rule('os_compute_api:os-pause-server:unpause', OWNER),
  rule('os_compute_api:os-suspend-server:suspend', OWNER),
  rule('os_compute_api:os-suspend-server:resume', OWNER),
  rule('os_compute_api:os-lock-server:lock', OWNER),
  rule('os_compute_api:os-lock-server:unlock', OWNER),
  rule('os_compute_api:os-lock-server:unlock:unlock_override', ADMIN),
  rule('os_compute_api:os-console-output', OWNER),
  rule('os_compute_api:os-admin-actions:reset_state', ADMIN),
  rule('os_compute_api:os-instance-actions:list', OWNER),
  rule('os_compute_api:os-instance-actions:show', OWNER),
  rule('os_compute_api:os-instance-actions:events', ADMIN),
  rule('os_compute_api:os-instance-actions:events:details', ADMIN),
  rule('os_compute_api:server-metadata:index', OWNER),
  rule('os_compute_api:server-metadata:show', OWNER),
  rule('os_compute_api:server-metadata:create', OWNER),
  rule('os_compute_api:server-metadata:update', OWNER),
  rule('os_compute_api:server-metadata:update_all', OWNER),
  rule('os_compute_api:server-metadata:delete', OWNER),
  rule('os_compute_api:os-server-tags:index', OWNER),
  rule('os_compute_api:os-server-tags:show', OWNER),
  rule('os_compute_api:os-server-tags:update', OWNER),
  rule('os_compute_api:os-server-tags:update_all', OWNER),
  rule('os_compute_api:os-server-tags:delete', OWNER),
  rule('os_compute_api:os-server-tags:delete_all', OWNER),
  rule('os_compute_api:os-services:list', ADMIN),
  rule('os_compute_api:os-services:update', ADMIN),
  rule('os_compute_api:os-services:delete', ADMIN),
  rule('os_compute_api:os-hypervisors:list', ADMIN),
  rule('os_compute_api:os-hypervisors:list-detail', ADMIN),
  rule('os_compute_api:os-hypervisors:statistics', ADMIN),
  rule('os_compute_api:os-hypervisors:show', ADMIN),
  rule('os_compute_api:os-hypervisors:search', ADMIN),
  rule('os_compute_api:os-hypervisors:servers', ADMIN),
];
