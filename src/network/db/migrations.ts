/** The network schema, one migration per released change (never edit a released one). */
import type { CreateTableBuilder, Kysely } from 'kysely';
import type { DialectName } from '../../common/db/database-url.ts';
import type { Migration } from '../../common/db/migrate.ts';
import { columnType as t } from '../../common/db/portable.ts';

/** Neutron's standard attributes, on every resource table. */
function standard<N extends string>(table: CreateTableBuilder<N>): CreateTableBuilder<N> {
  return table
    .addColumn('id', t.uuid, (c) => c.primaryKey())
    .addColumn('project_id', t.name, (c) => c.notNull())
    .addColumn('name', t.name, (c) => c.notNull())
    .addColumn('description', t.name, (c) => c.notNull())
    .addColumn('revision_number', t.integer, (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp, (c) => c.notNull());
}

async function initial(db: Kysely<unknown>, _dialect: DialectName): Promise<void> {
  const s = db.schema;
  await standard(s.createTable('networks'))
    .addColumn('admin_state_up', t.boolean, (c) => c.notNull())
    .addColumn('status', t.key, (c) => c.notNull())
    .addColumn('shared', t.boolean, (c) => c.notNull())
    .addColumn('external', t.boolean, (c) => c.notNull())
    .addColumn('mtu', t.integer, (c) => c.notNull())
    .addColumn('port_security_enabled', t.boolean, (c) => c.notNull())
    .addColumn('network_type', t.key, (c) => c.notNull())
    .addColumn('physical_network', t.key, (c) => c.notNull())
    .addColumn('segmentation_id', t.integer)
    .addColumn('availability_zone_hints', t.json, (c) => c.notNull())
    .addColumn('dns_domain', t.name, (c) => c.notNull())
    .addUniqueConstraint('networks_segment', [
      'network_type',
      'physical_network',
      'segmentation_id',
    ])
    .execute();
  await s.createIndex('networks_project').on('networks').column('project_id').execute();
  await standard(s.createTable('subnets'))
    .addColumn('network_id', t.uuid, (c) => c.notNull().references('networks.id'))
    .addColumn('ip_version', t.integer, (c) => c.notNull())
    .addColumn('cidr', t.key, (c) => c.notNull())
    .addColumn('gateway_ip', t.key)
    .addColumn('enable_dhcp', t.boolean, (c) => c.notNull())
    .addColumn('ipv6_ra_mode', t.key)
    .addColumn('ipv6_address_mode', t.key)
    .addColumn('subnetpool_id', t.uuid)
    .addColumn('allocation_pools', t.json, (c) => c.notNull())
    .addColumn('dns_nameservers', t.json, (c) => c.notNull())
    .addColumn('host_routes', t.json, (c) => c.notNull())
    .addColumn('service_types', t.json, (c) => c.notNull())
    .execute();
  await s.createIndex('subnets_network').on('subnets').column('network_id').execute();
  await s.createIndex('subnets_project').on('subnets').column('project_id').execute();
  await standard(s.createTable('ports'))
    .addColumn('network_id', t.uuid, (c) => c.notNull().references('networks.id'))
    .addColumn('mac_address', t.key, (c) => c.notNull())
    .addColumn('admin_state_up', t.boolean, (c) => c.notNull())
    .addColumn('status', t.key, (c) => c.notNull())
    .addColumn('device_id', t.name, (c) => c.notNull())
    .addColumn('device_owner', t.name, (c) => c.notNull())
    .addColumn('port_security_enabled', t.boolean, (c) => c.notNull())
    .addColumn('binding_host_id', t.name, (c) => c.notNull())
    .addColumn('binding_vif_type', t.key, (c) => c.notNull())
    .addColumn('binding_vif_details', t.json, (c) => c.notNull())
    .addColumn('binding_vnic_type', t.key, (c) => c.notNull())
    .addColumn('binding_profile', t.json, (c) => c.notNull())
    .addColumn('allowed_address_pairs', t.json, (c) => c.notNull())
    .addColumn('extra_dhcp_opts', t.json, (c) => c.notNull())
    .addColumn('dns_name', t.name, (c) => c.notNull())
    .addUniqueConstraint('ports_network_mac', ['network_id', 'mac_address'])
    .execute();
  await s.createIndex('ports_project').on('ports').column('project_id').execute();
  await s.createIndex('ports_device').on('ports').column('device_id').execute();
  await s
    .createTable('ip_allocations')
    .addColumn('subnet_id', t.uuid, (c) => c.notNull().references('subnets.id'))
    .addColumn('ip_address', t.key, (c) => c.notNull())
    .addColumn('port_id', t.uuid, (c) => c.notNull().references('ports.id').onDelete('cascade'))
    .addColumn('network_id', t.uuid, (c) => c.notNull())
    .addPrimaryKeyConstraint('ip_allocations_pk', ['subnet_id', 'ip_address'])
    .execute();
  await s.createIndex('ip_allocations_port').on('ip_allocations').column('port_id').execute();
  await standard(s.createTable('security_groups'))
    .addColumn('stateful', t.boolean, (c) => c.notNull())
    .execute();
  await s
    .createIndex('security_groups_project')
    .on('security_groups')
    .column('project_id')
    .execute();
  await s
    .createTable('security_group_rules')
    .addColumn('id', t.uuid, (c) => c.primaryKey())
    .addColumn('project_id', t.name, (c) => c.notNull())
    .addColumn('security_group_id', t.uuid, (c) =>
      c.notNull().references('security_groups.id').onDelete('cascade'),
    )
    .addColumn('direction', t.key, (c) => c.notNull())
    .addColumn('ethertype', t.key, (c) => c.notNull())
    .addColumn('protocol', t.key)
    .addColumn('port_range_min', t.integer)
    .addColumn('port_range_max', t.integer)
    .addColumn('remote_ip_prefix', t.key)
    .addColumn('remote_group_id', t.uuid)
    .addColumn('description', t.name)
    .addColumn('revision_number', t.integer, (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .execute();
  await s
    .createIndex('security_group_rules_group')
    .on('security_group_rules')
    .column('security_group_id')
    .execute();
  await s
    .createTable('port_security_groups')
    .addColumn('port_id', t.uuid, (c) => c.notNull().references('ports.id').onDelete('cascade'))
    .addColumn('security_group_id', t.uuid, (c) => c.notNull().references('security_groups.id'))
    .addPrimaryKeyConstraint('port_security_groups_pk', ['port_id', 'security_group_id'])
    .execute();
  await s
    .createIndex('port_security_groups_group')
    .on('port_security_groups')
    .column('security_group_id')
    .execute();
  await s
    .createTable('default_security_groups')
    .addColumn('project_id', t.name, (c) => c.primaryKey())
    .addColumn('security_group_id', t.uuid, (c) =>
      c.notNull().references('security_groups.id').onDelete('cascade'),
    )
    .execute();
  await s
    .createTable('quotas')
    .addColumn('project_id', t.name, (c) => c.notNull())
    .addColumn('resource', t.key, (c) => c.notNull())
    .addColumn('hard_limit', t.integer, (c) => c.notNull())
    .addPrimaryKeyConstraint('quotas_pk', ['project_id', 'resource'])
    .execute();
  await s
    .createTable('tags')
    .addColumn('resource_type', t.key, (c) => c.notNull())
    .addColumn('resource_id', t.uuid, (c) => c.notNull())
    .addColumn('tag', t.name, (c) => c.notNull())
    .addPrimaryKeyConstraint('tags_pk', ['resource_type', 'resource_id', 'tag'])
    .execute();
  await s.createIndex('tags_tag').on('tags').columns(['resource_type', 'tag']).execute();
  await standard(s.createTable('routers'))
    .addColumn('admin_state_up', t.boolean, (c) => c.notNull())
    .addColumn('status', t.key, (c) => c.notNull())
    .addColumn('gw_port_id', t.uuid)
    .addColumn('enable_snat', t.boolean, (c) => c.notNull())
    .addColumn('routes', t.json, (c) => c.notNull())
    .addColumn('availability_zone_hints', t.json, (c) => c.notNull())
    .execute();
  await s.createIndex('routers_project').on('routers').column('project_id').execute();
  await standard(s.createTable('floatingips'))
    .addColumn('floating_ip_address', t.key, (c) => c.notNull())
    .addColumn('floating_network_id', t.uuid, (c) => c.notNull())
    .addColumn('floating_port_id', t.uuid, (c) => c.notNull())
    .addColumn('fixed_port_id', t.uuid)
    .addColumn('fixed_ip_address', t.key)
    .addColumn('router_id', t.uuid)
    .addColumn('status', t.key, (c) => c.notNull())
    .addUniqueConstraint('floatingips_fixed', [
      'floating_network_id',
      'fixed_port_id',
      'fixed_ip_address',
    ])
    .execute();
  await s.createIndex('floatingips_project').on('floatingips').column('project_id').execute();
  await s
    .createTable('port_forwardings')
    .addColumn('id', t.uuid, (c) => c.primaryKey())
    .addColumn('floatingip_id', t.uuid, (c) =>
      c.notNull().references('floatingips.id').onDelete('cascade'),
    )
    .addColumn('project_id', t.name, (c) => c.notNull())
    .addColumn('protocol', t.key, (c) => c.notNull())
    .addColumn('internal_port_id', t.uuid, (c) => c.notNull())
    .addColumn('internal_ip_address', t.key, (c) => c.notNull())
    .addColumn('internal_port_start', t.integer, (c) => c.notNull())
    .addColumn('internal_port_end', t.integer, (c) => c.notNull())
    .addColumn('external_port_start', t.integer, (c) => c.notNull())
    .addColumn('external_port_end', t.integer, (c) => c.notNull())
    .addColumn('description', t.name, (c) => c.notNull())
    .execute();
  await standard(s.createTable('subnetpools'))
    .addColumn('ip_version', t.integer, (c) => c.notNull())
    .addColumn('prefixes', t.json, (c) => c.notNull())
    .addColumn('default_prefixlen', t.integer, (c) => c.notNull())
    .addColumn('min_prefixlen', t.integer, (c) => c.notNull())
    .addColumn('max_prefixlen', t.integer, (c) => c.notNull())
    .addColumn('default_quota', t.integer)
    .addColumn('is_default', t.boolean, (c) => c.notNull())
    .addColumn('shared', t.boolean, (c) => c.notNull())
    .addColumn('address_scope_id', t.uuid)
    .execute();
  await s
    .createIndex('subnets_pool_cidr')
    .on('subnets')
    .columns(['subnetpool_id', 'cidr'])
    .unique()
    .execute();
  await s
    .createTable('rbac_policies')
    .addColumn('id', t.uuid, (c) => c.primaryKey())
    .addColumn('project_id', t.name, (c) => c.notNull())
    .addColumn('object_type', t.key, (c) => c.notNull())
    .addColumn('object_id', t.uuid, (c) => c.notNull())
    .addColumn('action', t.key, (c) => c.notNull())
    .addColumn('target_project', t.name, (c) => c.notNull())
    .addUniqueConstraint('rbac_policies_unique', [
      'object_type',
      'object_id',
      'action',
      'target_project',
    ])
    .execute();
  await s
    .createIndex('rbac_policies_target')
    .on('rbac_policies')
    .columns(['target_project', 'object_id'])
    .execute();
  await s
    .createIndex('port_forwardings_fip')
    .on('port_forwardings')
    .column('floatingip_id')
    .execute();
}

export const NETWORK_MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'initial', up: initial },
];
