/**
 * The wire shape of each resource, with the attributes of the extensions `/v2.0/extensions`
 * lists. Provider attributes and port bindings (except the vNIC type) are shown to admins only,
 * as upstream's default policy hides them.
 */
import type { FloatingIp } from '../floating-ips.ts';
import type { Network } from '../networks.ts';
import type { Router } from '../routers.ts';
import type { Port } from '../ports.ts';
import { normalizedCidr, type SecurityGroup, type SecurityGroupRule } from '../security-groups.ts';
import { standardView, timestamp } from '../standard.ts';
import type { Subnet } from '../subnets.ts';

export type View = Record<string, unknown>;

/** The database keeps booleans as 0 and 1. */
function fromDbBoolean(value: number): boolean {
  return value !== 0;
}

export function networkView(net: Network, admin: boolean): View {
  const r = net.row;
  return {
    ...standardView(r, net.tags),
    admin_state_up: fromDbBoolean(r.admin_state_up),
    mtu: r.mtu,
    status: r.status,
    subnets: [...net.subnets],
    shared: net.shared,
    availability_zone_hints: JSON.parse(r.availability_zone_hints) as string[],
    availability_zones: [],
    ipv4_address_scope: null,
    ipv6_address_scope: null,
    'router:external': fromDbBoolean(r.external),
    port_security_enabled: fromDbBoolean(r.port_security_enabled),
    is_default: false,
    ...(admin
      ? {
          'provider:network_type': r.network_type,
          'provider:physical_network': r.physical_network === '' ? null : r.physical_network,
          'provider:segmentation_id': r.segmentation_id,
        }
      : {}),
  };
}

export function subnetView(subnet: Subnet): View {
  const r = subnet.row;
  return {
    ...standardView(r, subnet.tags),
    network_id: r.network_id,
    ip_version: r.ip_version,
    subnetpool_id: r.subnetpool_id,
    enable_dhcp: fromDbBoolean(r.enable_dhcp),
    ipv6_ra_mode: r.ipv6_ra_mode,
    ipv6_address_mode: r.ipv6_address_mode,
    gateway_ip: r.gateway_ip,
    cidr: r.cidr,
    allocation_pools: subnet.pools.map((p) => ({ start: p.start, end: p.end })),
    host_routes: subnet.hostRoutes.map((h) => ({ destination: h.destination, nexthop: h.nexthop })),
    dns_nameservers: [...subnet.dnsNameservers],
    service_types: [...subnet.serviceTypes],
    'router:external': subnet.external,
  };
}

export function portView(port: Port, admin: boolean): View {
  const r = port.row;
  return {
    ...standardView(r, port.tags),
    network_id: r.network_id,
    mac_address: r.mac_address,
    admin_state_up: fromDbBoolean(r.admin_state_up),
    status: r.status,
    device_id: r.device_id,
    device_owner: r.device_owner,
    fixed_ips: port.fixedIps.map((a) => ({ subnet_id: a.subnetId, ip_address: a.ipAddress })),
    allowed_address_pairs: port.allowedAddressPairs.map((p) => ({
      ip_address: p.ip_address,
      mac_address: p.mac_address,
    })),
    extra_dhcp_opts: port.extraDhcpOpts.map((o) => ({
      opt_name: o.opt_name,
      opt_value: o.opt_value,
      ip_version: o.ip_version,
    })),
    security_groups: [...port.securityGroups],
    port_security_enabled: fromDbBoolean(r.port_security_enabled),
    'binding:vnic_type': r.binding_vnic_type,
    ...(admin
      ? {
          'binding:host_id': r.binding_host_id,
          'binding:profile': port.profile,
          'binding:vif_type': r.binding_vif_type,
          'binding:vif_details': port.vifDetails,
        }
      : {}),
  };
}

export function ruleView(r: SecurityGroupRule, isDefault: boolean): View {
  return {
    id: r.id,
    tenant_id: r.project_id,
    project_id: r.project_id,
    security_group_id: r.security_group_id,
    direction: r.direction,
    ethertype: r.ethertype,
    protocol: r.protocol,
    port_range_min: r.port_range_min,
    port_range_max: r.port_range_max,
    remote_ip_prefix: r.remote_ip_prefix,
    remote_group_id: r.remote_group_id,
    remote_address_group_id: null,
    normalized_cidr: normalizedCidr(r.remote_ip_prefix),
    belongs_to_default_sg: isDefault,
    description: r.description,
    created_at: timestamp(r.created_at),
    updated_at: timestamp(r.updated_at),
    revision_number: r.revision_number,
  };
}

export function securityGroupView(group: SecurityGroup): View {
  const r = group.row;
  return {
    ...standardView(r, group.tags),
    stateful: fromDbBoolean(r.stateful),
    shared: false,
    security_group_rules: group.rules.map((rule) => ({
      ...ruleView(rule, group.isDefault),
      tags: [],
    })),
  };
}

export function routerView(router: Router, admin: boolean): View {
  const r = router.row;
  return {
    ...standardView(r, router.tags),
    admin_state_up: fromDbBoolean(r.admin_state_up),
    status: r.status,
    external_gateway_info:
      router.gateway === null
        ? null
        : {
            network_id: router.gateway.networkId,
            enable_snat: fromDbBoolean(r.enable_snat),
            external_fixed_ips: router.gateway.fixedIps.map((f) => ({
              subnet_id: f.subnetId,
              ip_address: f.ipAddress,
            })),
          },
    routes: router.routes.map((x) => ({ destination: x.destination, nexthop: x.nexthop })),
    availability_zone_hints: JSON.parse(r.availability_zone_hints) as string[],
    availability_zones: [],
    flavor_id: null,
    ...(admin ? { distributed: false, ha: false } : {}),
  };
}

/** A port forwarding, with single ports shown both as numbers and as `N:N` ranges. */
export function forwardingView(f: FloatingIp['forwardings'][number]): View {
  const range = (start: number, end: number): string => `${start}:${end}`;
  return {
    id: f.id,
    protocol: f.protocol,
    internal_ip_address: f.internal_ip_address,
    internal_port_id: f.internal_port_id,
    ...(f.internal_port_start === f.internal_port_end
      ? { internal_port: f.internal_port_start }
      : {}),
    ...(f.external_port_start === f.external_port_end
      ? { external_port: f.external_port_start }
      : {}),
    internal_port_range: range(f.internal_port_start, f.internal_port_end),
    external_port_range: range(f.external_port_start, f.external_port_end),
    description: f.description,
  };
}

export function floatingIpView(fip: FloatingIp): View {
  const r = fip.row;
  const { name: _name, ...standard } = standardView(r, fip.tags);
  const port = fip.port;
  return {
    ...standard,
    floating_ip_address: r.floating_ip_address,
    floating_network_id: r.floating_network_id,
    router_id: r.router_id,
    port_id: r.fixed_port_id,
    fixed_ip_address: r.fixed_ip_address,
    status: r.status,
    port_details:
      port === undefined
        ? null
        : {
            name: port.row.name,
            network_id: port.row.network_id,
            mac_address: port.row.mac_address,
            admin_state_up: fromDbBoolean(port.row.admin_state_up),
            status: port.row.status,
            device_id: port.row.device_id,
            device_owner: port.row.device_owner,
          },
    port_forwardings: fip.forwardings.map((f) => {
      const v = forwardingView(f);
      return {
        id: v['id'],
        protocol: v['protocol'],
        internal_ip_address: v['internal_ip_address'],
        internal_port_id: v['internal_port_id'],
        ...(v['internal_port'] !== undefined ? { internal_port: v['internal_port'] } : {}),
        ...(v['external_port'] !== undefined ? { external_port: v['external_port'] } : {}),
      };
    }),
  };
}
