/**
 * Neutron's default policy (neutron/conf/policies/*.py) in its persona form: an admin may do
 * anything; a project member manages what its project owns; the owner of a network decides who
 * may choose addresses and MACs on it; provider attributes, `shared`, `router:external` and port
 * bindings are the admin's. Whether a resource is visible at all (owned, shared, external) is
 * decided in SQL by the domain, before these rules, as Neutron's database layer does it.
 */
import type { RuleDefault } from '../common/policy/enforcer.ts';

const ADMIN = 'role:admin';
const MEMBER = `${ADMIN} or (role:member and project_id:%(project_id)s)`;
const NETWORK_OWNER = `${ADMIN} or project_id:%(network_project_id)s`;
const SUBNET_OWNER = `${ADMIN} or (role:member and (project_id:%(project_id)s or project_id:%(network_project_id)s))`;

function rule(name: string, check: string, description?: string): RuleDefault {
  return {
    name,
    check_str: check,
    scope_types: ['project'],
    ...(description ? { description } : {}),
  };
}

/** Admin-only attributes of a resource, for create, update and (where hidden) get. */
function adminAttributes(
  resource: string,
  attributes: readonly string[],
  get: boolean,
): RuleDefault[] {
  const ops = get ? ['create', 'update', 'get'] : ['create', 'update'];
  return attributes.flatMap((a) => ops.map((op) => rule(`${op}_${resource}:${a}`, ADMIN)));
}

export const NETWORK_POLICY: readonly RuleDefault[] = [
  rule('context_is_admin', ADMIN),
  rule('default', ADMIN),
  rule('create_network', MEMBER),
  rule('update_network', MEMBER),
  rule('delete_network', MEMBER),
  ...adminAttributes('network', ['shared', 'router:external', 'segments'], false),
  ...adminAttributes(
    'network',
    ['provider:network_type', 'provider:physical_network', 'provider:segmentation_id'],
    true,
  ),
  rule('create_subnet', `${ADMIN} or (role:member and project_id:%(network_project_id)s)`),
  rule('update_subnet', SUBNET_OWNER),
  rule('delete_subnet', SUBNET_OWNER),
  rule('create_port', MEMBER),
  rule('update_port', MEMBER),
  rule('delete_port', `${MEMBER} or project_id:%(network_project_id)s`),
  rule('create_port:mac_address', NETWORK_OWNER),
  rule('update_port:mac_address', ADMIN),
  rule('create_port:fixed_ips:ip_address', NETWORK_OWNER),
  rule('update_port:fixed_ips:ip_address', NETWORK_OWNER),
  rule('create_port:device_owner', `${NETWORK_OWNER} or not 'network:':%(device_owner_prefix)s`),
  rule('update_port:device_owner', `${NETWORK_OWNER} or not 'network:':%(device_owner_prefix)s`),
  rule('create_port:port_security_enabled', NETWORK_OWNER),
  rule('update_port:port_security_enabled', NETWORK_OWNER),
  ...adminAttributes(
    'port',
    ['binding:host_id', 'binding:profile', 'binding:vif_type', 'binding:vif_details'],
    true,
  ),
  rule('create_security_group', MEMBER),
  rule('update_security_group', MEMBER),
  rule('delete_security_group', MEMBER),
  rule('create_security_group_rule', MEMBER),
  rule('delete_security_group_rule', MEMBER),
  rule('create_router', MEMBER),
  rule('update_router', MEMBER),
  rule('delete_router', MEMBER),
  rule('add_router_interface', MEMBER),
  rule('remove_router_interface', MEMBER),
  ...adminAttributes(
    'router',
    [
      'external_gateway_info:enable_snat',
      'external_gateway_info:external_fixed_ips',
      'distributed',
      'ha',
    ],
    false,
  ),
  rule('create_floatingip', MEMBER),
  rule('update_floatingip', MEMBER),
  rule('delete_floatingip', MEMBER),
  rule('create_floatingip:floating_ip_address', ADMIN),
  rule('create_floatingip_port_forwarding', MEMBER),
  rule('update_floatingip_port_forwarding', MEMBER),
  rule('delete_floatingip_port_forwarding', MEMBER),
  rule('create_subnetpool', MEMBER),
  rule('update_subnetpool', MEMBER),
  rule('delete_subnetpool', MEMBER),
  ...adminAttributes('subnetpool', ['shared', 'is_default'], false),
  rule('create_rbac_policy', MEMBER),
  rule('update_rbac_policy', MEMBER),
  rule('delete_rbac_policy', MEMBER),
  rule('get_network_ip_availability', `${ADMIN} or role:service`),
  rule('get_quota', `${ADMIN} or project_id:%(project_id)s`),
  rule('update_quota', ADMIN),
  rule('delete_quota', ADMIN),
];
