/**
 * Nova's default policy (nova/policies/*.py) for the parts built so far: flavors are managed by
 * admins and read by anyone; a key pair belongs to its user, and admins may act for any user.
 */
import type { RuleDefault } from '../common/policy/enforcer.ts';

const ADMIN = 'role:admin';

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
];
