/** The compute schema, one migration per released change (never edit a released one). */
import type { Kysely } from 'kysely';
import type { DialectName } from '../../common/db/database-url.ts';
import type { Migration } from '../../common/db/migrate.ts';
import {
  autoIncrementPrimaryKey,
  longTextType,
  columnType as t,
} from '../../common/db/portable.ts';

async function flavorsAndKeypairs(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  const s = db.schema;
  const serial = autoIncrementPrimaryKey(dialect);
  await s
    .createTable('flavors')
    .addColumn('id', 'integer', serial)
    .addColumn('flavorid', t.name, (c) => c.notNull().unique())
    .addColumn('name', t.name, (c) => c.notNull().unique())
    .addColumn('memory_mb', t.integer, (c) => c.notNull())
    .addColumn('vcpus', t.integer, (c) => c.notNull())
    .addColumn('root_gb', t.integer, (c) => c.notNull())
    .addColumn('ephemeral_gb', t.integer, (c) => c.notNull())
    .addColumn('swap', t.integer, (c) => c.notNull())
    .addColumn('rxtx_factor', 'double precision', (c) => c.notNull())
    .addColumn('is_public', t.boolean, (c) => c.notNull())
    .addColumn('disabled', t.boolean, (c) => c.notNull())
    .addColumn('description', t.text)
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp)
    .execute();
  await s
    .createTable('flavor_extra_specs')
    .addColumn('flavor_id', t.integer, (c) =>
      c.notNull().references('flavors.id').onDelete('cascade'),
    )
    .addColumn('key', t.name, (c) => c.notNull())
    .addColumn('value', t.name, (c) => c.notNull())
    .addPrimaryKeyConstraint('flavor_extra_specs_pk', ['flavor_id', 'key'])
    .execute();
  await s
    .createTable('flavor_projects')
    .addColumn('flavor_id', t.integer, (c) =>
      c.notNull().references('flavors.id').onDelete('cascade'),
    )
    .addColumn('project_id', t.name, (c) => c.notNull())
    .addPrimaryKeyConstraint('flavor_projects_pk', ['flavor_id', 'project_id'])
    .execute();
  await s
    .createTable('key_pairs')
    .addColumn('id', 'integer', serial)
    .addColumn('user_id', t.name, (c) => c.notNull())
    .addColumn('name', t.name, (c) => c.notNull())
    .addColumn('fingerprint', t.name, (c) => c.notNull())
    .addColumn('public_key', t.text, (c) => c.notNull())
    .addColumn('type', t.key, (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addUniqueConstraint('key_pairs_user_name', ['user_id', 'name'])
    .execute();
}

/**
 * Servers and what runs them: instances with their metadata, tags, faults and action records;
 * the durable task rows the conductor and agents work from; compute services and nodes.
 */
async function servers(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  const s = db.schema;
  const serial = autoIncrementPrimaryKey(dialect);
  await s
    .createTable('instances')
    .addColumn('uuid', t.uuid, (c) => c.primaryKey())
    .addColumn('project_id', t.name, (c) => c.notNull())
    .addColumn('user_id', t.name, (c) => c.notNull())
    .addColumn('display_name', t.name, (c) => c.notNull())
    .addColumn('display_description', t.text)
    .addColumn('hostname', t.name, (c) => c.notNull())
    .addColumn('reservation_id', t.key, (c) => c.notNull())
    .addColumn('launch_index', t.integer, (c) => c.notNull())
    .addColumn('image_ref', t.name, (c) => c.notNull())
    // The flavor as it was at boot (Nova keeps a copy too: a flavor may be deleted or changed).
    .addColumn('flavor', t.json, (c) => c.notNull())
    .addColumn('flavor_id', t.name, (c) => c.notNull())
    .addColumn('vcpus', t.integer, (c) => c.notNull())
    .addColumn('memory_mb', t.integer, (c) => c.notNull())
    .addColumn('root_gb', t.integer, (c) => c.notNull())
    .addColumn('key_name', t.name)
    .addColumn('key_data', t.text)
    .addColumn('user_data', longTextType(dialect))
    .addColumn('config_drive', t.key, (c) => c.notNull())
    .addColumn('vm_state', t.key, (c) => c.notNull())
    .addColumn('task_state', t.key)
    .addColumn('power_state', t.integer, (c) => c.notNull())
    .addColumn('host', t.name)
    .addColumn('node', t.name)
    .addColumn('availability_zone', t.name)
    .addColumn('locked', t.boolean, (c) => c.notNull())
    .addColumn('locked_by', t.key)
    .addColumn('locked_reason', t.text)
    .addColumn('access_ip_v4', t.key)
    .addColumn('access_ip_v6', t.key)
    .addColumn('progress', t.integer, (c) => c.notNull())
    // What the boot asked for (networks, security groups, hints); read by the conductor.
    .addColumn('request_spec', t.json, (c) => c.notNull())
    // The ports and addresses as last seen, so reads never call the network service.
    .addColumn('network_info', t.json, (c) => c.notNull())
    .addColumn('launched_at', t.timestamp)
    .addColumn('terminated_at', t.timestamp)
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .addColumn('deleted_at', t.timestamp)
    .addColumn('deleted', t.boolean, (c) => c.notNull())
    .execute();
  await s
    .createIndex('instances_project_created')
    .on('instances')
    .columns(['project_id', 'deleted', 'created_at', 'uuid'])
    .execute();
  await s
    .createIndex('instances_created')
    .on('instances')
    .columns(['deleted', 'created_at', 'uuid'])
    .execute();
  await s.createIndex('instances_host').on('instances').columns(['host', 'deleted']).execute();
  await s.createIndex('instances_updated').on('instances').columns(['updated_at']).execute();
  await s
    .createTable('instance_metadata')
    .addColumn('instance_uuid', t.uuid, (c) =>
      c.notNull().references('instances.uuid').onDelete('cascade'),
    )
    .addColumn('key', t.name, (c) => c.notNull())
    .addColumn('value', t.name, (c) => c.notNull())
    .addPrimaryKeyConstraint('instance_metadata_pk', ['instance_uuid', 'key'])
    .execute();
  await s
    .createTable('instance_tags')
    .addColumn('instance_uuid', t.uuid, (c) =>
      c.notNull().references('instances.uuid').onDelete('cascade'),
    )
    .addColumn('tag', t.key, (c) => c.notNull())
    .addPrimaryKeyConstraint('instance_tags_pk', ['instance_uuid', 'tag'])
    .execute();
  await s
    .createTable('instance_faults')
    .addColumn('id', 'integer', serial)
    .addColumn('instance_uuid', t.uuid, (c) =>
      c.notNull().references('instances.uuid').onDelete('cascade'),
    )
    .addColumn('code', t.integer, (c) => c.notNull())
    .addColumn('message', t.name, (c) => c.notNull())
    .addColumn('details', t.text, (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .execute();
  await s
    .createIndex('instance_faults_instance')
    .on('instance_faults')
    .columns(['instance_uuid', 'id'])
    .execute();
  await s
    .createTable('instance_actions')
    .addColumn('id', 'integer', serial)
    .addColumn('instance_uuid', t.uuid, (c) =>
      c.notNull().references('instances.uuid').onDelete('cascade'),
    )
    .addColumn('request_id', t.key, (c) => c.notNull())
    .addColumn('action', t.key, (c) => c.notNull())
    .addColumn('project_id', t.name, (c) => c.notNull())
    .addColumn('user_id', t.name, (c) => c.notNull())
    .addColumn('message', t.name)
    .addColumn('start_time', t.timestamp, (c) => c.notNull())
    .addColumn('finish_time', t.timestamp)
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .execute();
  await s
    .createIndex('instance_actions_instance')
    .on('instance_actions')
    .columns(['instance_uuid', 'request_id'])
    .execute();
  await s
    .createTable('instance_action_events')
    .addColumn('id', 'integer', serial)
    .addColumn('action_id', t.integer, (c) =>
      c.notNull().references('instance_actions.id').onDelete('cascade'),
    )
    .addColumn('event', t.key, (c) => c.notNull())
    .addColumn('result', t.key)
    .addColumn('host', t.name)
    .addColumn('details', t.text)
    .addColumn('traceback', t.text)
    .addColumn('start_time', t.timestamp, (c) => c.notNull())
    .addColumn('finish_time', t.timestamp)
    .execute();
  await s
    .createIndex('instance_action_events_action')
    .on('instance_action_events')
    .columns(['action_id'])
    .execute();
  await s
    .createTable('compute_tasks')
    .addColumn('id', t.uuid, (c) => c.primaryKey())
    .addColumn('instance_uuid', t.uuid, (c) => c.notNull())
    .addColumn('kind', t.key, (c) => c.notNull())
    // `conductor` or `host`: who works on it next.
    .addColumn('stage', t.key, (c) => c.notNull())
    .addColumn('host', t.name)
    .addColumn('state', t.key, (c) => c.notNull())
    .addColumn('attempts', t.integer, (c) => c.notNull())
    .addColumn('payload', t.json, (c) => c.notNull())
    .addColumn('request_id', t.key, (c) => c.notNull())
    .addColumn('lease_owner', t.key)
    .addColumn('lease_until', t.timestamp, (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .execute();
  await s
    .createIndex('compute_tasks_due')
    .on('compute_tasks')
    .columns(['state', 'lease_until'])
    .execute();
  await s
    .createIndex('compute_tasks_instance')
    .on('compute_tasks')
    .columns(['instance_uuid', 'state'])
    .execute();
  await s
    .createTable('services')
    .addColumn('id', 'integer', serial)
    .addColumn('uuid', t.uuid, (c) => c.notNull().unique())
    .addColumn('host', t.name, (c) => c.notNull())
    .addColumn('binary', t.key, (c) => c.notNull())
    .addColumn('topic', t.key, (c) => c.notNull())
    .addColumn('disabled', t.boolean, (c) => c.notNull())
    .addColumn('disabled_reason', t.name)
    .addColumn('forced_down', t.boolean, (c) => c.notNull())
    .addColumn('last_seen_up', t.timestamp)
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .addUniqueConstraint('services_host_binary', ['host', 'binary'])
    .execute();
  await s
    .createTable('compute_nodes')
    .addColumn('id', 'integer', serial)
    // Also the uuid of the node's resource provider in placement.
    .addColumn('uuid', t.uuid, (c) => c.notNull().unique())
    .addColumn('host', t.name, (c) => c.notNull())
    .addColumn('hypervisor_hostname', t.name, (c) => c.notNull().unique())
    .addColumn('hypervisor_type', t.key, (c) => c.notNull())
    .addColumn('hypervisor_version', t.integer, (c) => c.notNull())
    .addColumn('host_ip', t.key, (c) => c.notNull())
    .addColumn('vcpus', t.integer, (c) => c.notNull())
    .addColumn('memory_mb', t.integer, (c) => c.notNull())
    .addColumn('local_gb', t.integer, (c) => c.notNull())
    .addColumn('cpu_info', t.text, (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .execute();
}

/** Server groups, host aggregates and per-project quota limits. */
async function groupsAggregatesQuotas(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  const s = db.schema;
  const serial = autoIncrementPrimaryKey(dialect);
  await s
    .createTable('instance_groups')
    .addColumn('id', 'integer', serial)
    .addColumn('uuid', t.uuid, (c) => c.notNull().unique())
    .addColumn('name', t.name, (c) => c.notNull())
    .addColumn('project_id', t.name, (c) => c.notNull())
    .addColumn('user_id', t.name, (c) => c.notNull())
    .addColumn('policy', t.key, (c) => c.notNull())
    .addColumn('rules', t.json, (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .execute();
  await s
    .createIndex('instance_groups_project')
    .on('instance_groups')
    .columns(['project_id'])
    .execute();
  await s
    .createTable('instance_group_members')
    .addColumn('group_id', t.integer, (c) =>
      c.notNull().references('instance_groups.id').onDelete('cascade'),
    )
    .addColumn('instance_uuid', t.uuid, (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addPrimaryKeyConstraint('instance_group_members_pk', ['group_id', 'instance_uuid'])
    .execute();
  await s
    .createIndex('instance_group_members_instance')
    .on('instance_group_members')
    .columns(['instance_uuid'])
    .execute();
  await s
    .createTable('aggregates')
    .addColumn('id', 'integer', serial)
    .addColumn('uuid', t.uuid, (c) => c.notNull().unique())
    .addColumn('name', t.name, (c) => c.notNull().unique())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp)
    .execute();
  await s
    .createTable('aggregate_hosts')
    .addColumn('aggregate_id', t.integer, (c) =>
      c.notNull().references('aggregates.id').onDelete('cascade'),
    )
    .addColumn('host', t.name, (c) => c.notNull())
    .addPrimaryKeyConstraint('aggregate_hosts_pk', ['aggregate_id', 'host'])
    .execute();
  await s
    .createTable('aggregate_metadata')
    .addColumn('aggregate_id', t.integer, (c) =>
      c.notNull().references('aggregates.id').onDelete('cascade'),
    )
    .addColumn('key', t.name, (c) => c.notNull())
    .addColumn('value', t.name, (c) => c.notNull())
    .addPrimaryKeyConstraint('aggregate_metadata_pk', ['aggregate_id', 'key'])
    .execute();
  await s
    .createTable('quotas')
    .addColumn('project_id', t.name, (c) => c.notNull())
    .addColumn('resource', t.key, (c) => c.notNull())
    .addColumn('hard_limit', t.integer, (c) => c.notNull())
    .addPrimaryKeyConstraint('quotas_pk', ['project_id', 'resource'])
    .execute();
  await s
    .createTable('quota_classes')
    .addColumn('class_name', t.name, (c) => c.notNull())
    .addColumn('resource', t.key, (c) => c.notNull())
    .addColumn('hard_limit', t.integer, (c) => c.notNull())
    .addPrimaryKeyConstraint('quota_classes_pk', ['class_name', 'resource'])
    .execute();
}

/** Moves of instances between hosts (resize, cold migration) and the flavors of a resize. */
async function moves(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  const s = db.schema;
  const serial = autoIncrementPrimaryKey(dialect);
  await s
    .createTable('migrations')
    .addColumn('id', 'integer', serial)
    .addColumn('uuid', t.uuid, (c) => c.notNull().unique())
    .addColumn('instance_uuid', t.uuid, (c) => c.notNull())
    .addColumn('migration_type', t.key, (c) => c.notNull())
    .addColumn('status', t.key, (c) => c.notNull())
    .addColumn('source_compute', t.name)
    .addColumn('source_node', t.name)
    .addColumn('dest_compute', t.name)
    .addColumn('dest_node', t.name)
    .addColumn('dest_host', t.name)
    .addColumn('old_flavor_id', t.name, (c) => c.notNull())
    .addColumn('new_flavor_id', t.name, (c) => c.notNull())
    .addColumn('project_id', t.name, (c) => c.notNull())
    .addColumn('user_id', t.name, (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .execute();
  await s
    .createIndex('migrations_instance')
    .on('migrations')
    .columns(['instance_uuid', 'status'])
    .execute();
  // The flavors of a resize in progress: the old one to go back to, the new one to go to.
  await s.alterTable('instances').addColumn('old_flavor', t.json).execute();
  await s.alterTable('instances').addColumn('new_flavor', t.json).execute();
}

/** Where a shelved instance's disk went (the snapshot it is unshelved from), when and from where. */
async function shelve(db: Kysely<unknown>): Promise<void> {
  const s = db.schema;
  await s.alterTable('instances').addColumn('shelved_image_id', t.uuid).execute();
  await s.alterTable('instances').addColumn('shelved_at', t.timestamp).execute();
  await s.alterTable('instances').addColumn('shelved_host', t.name).execute();
}

/**
 * A project's usage (count, vCPUs, RAM of its live instances) is read before every boot; with
 * these columns in the index it is read from the index alone instead of from every row.
 */
async function usageIndex(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex('instances_project_usage')
    .on('instances')
    .columns(['project_id', 'deleted', 'vcpus', 'memory_mb'])
    .execute();
}

export const COMPUTE_MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'flavors-and-keypairs', up: flavorsAndKeypairs },
  { version: 2, name: 'servers', up: servers },
  { version: 3, name: 'groups-aggregates-quotas', up: groupsAggregatesQuotas },
  { version: 4, name: 'moves', up: moves },
  { version: 5, name: 'shelve', up: shelve },
  { version: 6, name: 'usage-index', up: usageIndex },
];
