/**
 * The network tables as Kysely sees them. Column conventions are those of
 * `src/common/db/portable.ts` (booleans as smallint, JSON as text, timestamps as ISO strings).
 * Every resource carries Neutron's standard attributes: `project_id`, `description`,
 * `revision_number`, `created_at`, `updated_at`; tags live in one table for all of them.
 */

type Standard = {
  id: string;
  project_id: string;
  name: string;
  description: string;
  revision_number: number;
  created_at: string;
  updated_at: string;
};

export type NetworkRow = Standard & {
  admin_state_up: number;
  status: string;
  shared: number;
  /** `router:external`. */
  external: number;
  mtu: number;
  port_security_enabled: number;
  network_type: string;
  /** '' when the type has none (vxlan, local), so the segment's unique key holds. */
  physical_network: string;
  segmentation_id: number | null;
  /** JSON list of zone names. */
  availability_zone_hints: string;
  dns_domain: string;
};

export type SubnetRow = Standard & {
  network_id: string;
  ip_version: number;
  cidr: string;
  gateway_ip: string | null;
  enable_dhcp: number;
  ipv6_ra_mode: string | null;
  ipv6_address_mode: string | null;
  subnetpool_id: string | null;
  /** JSON: [{start, end}]. */
  allocation_pools: string;
  /** JSON list of addresses, in order. */
  dns_nameservers: string;
  /** JSON: [{destination, nexthop}]. */
  host_routes: string;
  /** JSON list of device owners. */
  service_types: string;
};

export type PortRow = Standard & {
  network_id: string;
  mac_address: string;
  admin_state_up: number;
  status: string;
  device_id: string;
  device_owner: string;
  port_security_enabled: number;
  binding_host_id: string;
  binding_vif_type: string;
  /** JSON object. */
  binding_vif_details: string;
  binding_vnic_type: string;
  /** JSON object. */
  binding_profile: string;
  /** JSON: [{ip_address, mac_address}]. */
  allowed_address_pairs: string;
  /** JSON: [{opt_name, opt_value, ip_version}]. */
  extra_dhcp_opts: string;
  dns_name: string;
};

/** One address of a port; the primary key keeps two ports from holding one address. */
export type IpAllocationRow = {
  subnet_id: string;
  ip_address: string;
  port_id: string;
  network_id: string;
};

export type SecurityGroupRow = Standard & {
  stateful: number;
};

export type SecurityGroupRuleRow = {
  id: string;
  project_id: string;
  security_group_id: string;
  direction: string;
  ethertype: string;
  protocol: string | null;
  port_range_min: number | null;
  port_range_max: number | null;
  remote_ip_prefix: string | null;
  remote_group_id: string | null;
  /** Null for the rules a new group starts with, as upstream's templates leave it. */
  description: string | null;
  revision_number: number;
  created_at: string;
  updated_at: string;
};

export type PortSecurityGroupRow = { port_id: string; security_group_id: string };

/** The `default` security group of each project; the key makes its creation happen once. */
export type DefaultSecurityGroupRow = { project_id: string; security_group_id: string };

export type QuotaRow = { project_id: string; resource: string; hard_limit: number };

export type TagRow = { resource_type: string; resource_id: string; tag: string };

export type RouterRow = Standard & {
  admin_state_up: number;
  status: string;
  /** The router's port on its external network (`network:router_gateway`), if it has one. */
  gw_port_id: string | null;
  enable_snat: number;
  /** JSON: [{destination, nexthop}]. */
  routes: string;
  availability_zone_hints: string;
};

export type FloatingIpRow = Standard & {
  floating_ip_address: string;
  floating_network_id: string;
  /** Its port on the external network (`network:floatingip`). */
  floating_port_id: string;
  fixed_port_id: string | null;
  fixed_ip_address: string | null;
  router_id: string | null;
  status: string;
};

export type PortForwardingRow = {
  id: string;
  floatingip_id: string;
  project_id: string;
  protocol: string;
  internal_port_id: string;
  internal_ip_address: string;
  internal_port_start: number;
  internal_port_end: number;
  external_port_start: number;
  external_port_end: number;
  description: string;
};

export type SubnetPoolRow = Standard & {
  ip_version: number;
  /** JSON list of prefixes, merged and in address order. */
  prefixes: string;
  default_prefixlen: number;
  min_prefixlen: number;
  max_prefixlen: number;
  default_quota: number | null;
  is_default: number;
  shared: number;
  address_scope_id: string | null;
};

/** Who else may use a network: `target_project` is a project id or `*` for every project. */
export type RbacPolicyRow = {
  id: string;
  project_id: string;
  object_type: string;
  object_id: string;
  action: string;
  target_project: string;
};

export type NetworkDatabase = {
  networks: NetworkRow;
  subnets: SubnetRow;
  ports: PortRow;
  ip_allocations: IpAllocationRow;
  security_groups: SecurityGroupRow;
  security_group_rules: SecurityGroupRuleRow;
  port_security_groups: PortSecurityGroupRow;
  default_security_groups: DefaultSecurityGroupRow;
  quotas: QuotaRow;
  tags: TagRow;
  routers: RouterRow;
  floatingips: FloatingIpRow;
  port_forwardings: PortForwardingRow;
  rbac_policies: RbacPolicyRow;
  subnetpools: SubnetPoolRow;
};
