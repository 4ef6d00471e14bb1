/**
 * What ports are made of besides their rows: vNIC types, the device owners with a meaning, the
 * list filters on addresses and groups, the binding a host gets, and MAC address syntax.
 */
import { sql, type Expression, type SqlBool } from 'kysely';
import { badRequest } from './errors.ts';
import { formatAddress, parseAddress } from './ip.ts';
import type { ListQuery, ListSpec } from './listing.ts';

export const VNIC_TYPES = [
  'normal',
  'direct',
  'macvtap',
  'baremetal',
  'direct-physical',
  'virtio-forwarder',
  'smart-nic',
  'vdpa',
  'accelerator-direct',
  'accelerator-direct-physical',
  'remote-managed',
] as const;

/** Ports a router or floating IP owns: only their owner deletes them. */
export const SERVICE_OWNERS = new Set([
  'network:router_interface',
  'network:router_gateway',
  'network:floatingip',
]);

/** Ports a network owns: deleted with it, never in the way of deleting it. */
export const AUTO_DELETE_OWNERS = new Set(['network:dhcp']);

export const PORT_LIST: ListSpec = {
  attrs: {
    id: { column: 'id', kind: 'string' },
    name: { column: 'name', kind: 'string' },
    description: { column: 'description', kind: 'string' },
    tenant_id: { column: 'project_id', kind: 'string' },
    project_id: { column: 'project_id', kind: 'string' },
    network_id: { column: 'network_id', kind: 'string' },
    mac_address: { column: 'mac_address', kind: 'string' },
    admin_state_up: { column: 'admin_state_up', kind: 'bool' },
    status: { column: 'status', kind: 'string' },
    device_id: { column: 'device_id', kind: 'string' },
    device_owner: { column: 'device_owner', kind: 'string' },
    port_security_enabled: { column: 'port_security_enabled', kind: 'bool' },
    'binding:host_id': { column: 'binding_host_id', kind: 'string' },
    'binding:vnic_type': { column: 'binding_vnic_type', kind: 'string' },
    'binding:vif_type': { column: 'binding_vif_type', kind: 'string' },
    revision_number: { column: 'revision_number', kind: 'int' },
  },
  special: new Set(['fixed_ips', 'security_groups', 'ip_address_substr']),
  tagType: 'ports',
};

/** What a data plane on `host` is told to plug: a tap on a Linux bridge. */
export function vifFor(host: string): { type: string; details: Record<string, unknown> } {
  if (host === '') return { type: 'unbound', details: {} };
  return { type: 'tap', details: { connectivity: 'l2', port_filter: true } };
}

export function trusted(deviceOwner: string): boolean {
  return deviceOwner.startsWith('network:');
}

/** A LIKE pattern matching `text` anywhere, with `!` escaping (MariaDB reads `\\` in strings). */
function containing(text: string): string {
  return `%${text.replace(/[%_!]/g, (c) => `!${c}`)}%`;
}

/** The conditions of the port-specific filters: `fixed_ips=key=value`, substrings, groups. */
export function portFilters(query: ListQuery): Expression<SqlBool>[] {
  const conditions: Expression<SqlBool>[] = [];
  for (const entry of query.special.get('fixed_ips') ?? []) {
    const eq = entry.indexOf('=');
    const key = eq < 0 ? '' : entry.slice(0, eq);
    const value = entry.slice(eq + 1);
    if (key === 'subnet_id')
      conditions.push(
        sql<SqlBool>`exists (select 1 from ip_allocations a where a.port_id = ports.id and a.subnet_id = ${value})`,
      );
    else if (key === 'ip_address') {
      const address = parseAddress(value);
      const text = address ? formatAddress(address.version, address.value) : value;
      conditions.push(
        sql<SqlBool>`exists (select 1 from ip_allocations a where a.port_id = ports.id and a.ip_address = ${text})`,
      );
    } else if (key === 'ip_address_substr')
      conditions.push(
        sql<SqlBool>`exists (select 1 from ip_allocations a where a.port_id = ports.id and a.ip_address like ${containing(value)} escape '!')`,
      );
    else
      throw badRequest(
        `Invalid input for fixed_ips. Reason: Invalid data format for fixed IP: '${entry}'.`,
      );
  }
  for (const substr of query.special.get('ip_address_substr') ?? [])
    conditions.push(
      sql<SqlBool>`exists (select 1 from ip_allocations a where a.port_id = ports.id and a.ip_address like ${containing(substr)} escape '!')`,
    );
  const groups = query.special.get('security_groups');
  if (groups && groups.length > 0)
    conditions.push(
      sql<SqlBool>`exists (select 1 from port_security_groups g where g.port_id = ports.id and g.security_group_id in (${sql.join(groups)}))`,
    );
  return conditions;
}

/** Lower-case `xx:xx:xx:xx:xx:xx`. @throws BadRequestError (400) for anything else. */
export function normalizeMac(value: string): string {
  const hex = value.replace(/[-:.]/g, '').toLowerCase();
  if (!/^[0-9a-f]{12}$/.test(hex) || hex === '000000000000' || hex === 'ffffffffffff')
    throw badRequest(
      `Invalid input for mac_address. Reason: '${value}' is not a valid MAC address.`,
    );
  return hex.match(/../g)?.join(':') ?? hex;
}
