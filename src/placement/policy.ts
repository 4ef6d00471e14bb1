/**
 * Placement's policy defaults. Placement serves other services and operators, not tenants: every
 * operation needs the admin role (Zed's legacy defaults) or the service role (what 2023.2 adds
 * for the services that call it); an operator's policy file may loosen any rule.
 */
import type { RuleDefault } from '../common/policy/enforcer.ts';

const ADMIN_OR_SERVICE = 'role:admin or role:service';

const OPERATIONS = [
  'resource_providers:list',
  'resource_providers:create',
  'resource_providers:show',
  'resource_providers:update',
  'resource_providers:delete',
  'resource_providers:inventories:list',
  'resource_providers:inventories:create',
  'resource_providers:inventories:show',
  'resource_providers:inventories:update',
  'resource_providers:inventories:delete',
  'resource_providers:aggregates:list',
  'resource_providers:aggregates:update',
  'resource_providers:usages',
  'resource_providers:traits:list',
  'resource_providers:traits:update',
  'resource_providers:traits:delete',
  'resource_providers:allocations:list',
  'usages',
  'traits:list',
  'traits:show',
  'traits:update',
  'traits:delete',
  'resource_classes:list',
  'resource_classes:create',
  'resource_classes:show',
  'resource_classes:update',
  'resource_classes:delete',
  'allocations:list',
  'allocations:manage',
  'allocations:update',
  'allocations:delete',
  'allocation_candidates:list',
  'reshaper:reshape',
] as const;

export type PlacementOperation = (typeof OPERATIONS)[number];

export const PLACEMENT_POLICY: readonly RuleDefault[] = [
  { name: 'admin_api', check_str: ADMIN_OR_SERVICE, scope_types: ['project', 'system'] },
  ...OPERATIONS.map((op) => ({
    name: `placement:${op}`,
    check_str: 'rule:admin_api',
    scope_types: ['project', 'system'] as const,
  })),
];
