/** The placement schema, one migration per released change (never edit a released one). */
import type { Kysely } from 'kysely';
import type { DialectName } from '../../common/db/database-url.ts';
import type { Migration } from '../../common/db/migrate.ts';
import { autoIncrementPrimaryKey, columnType as t } from '../../common/db/portable.ts';

async function initial(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  const s = db.schema;
  const serial = autoIncrementPrimaryKey(dialect);
  await s
    .createTable('resource_providers')
    .addColumn('id', 'integer', serial)
    .addColumn('uuid', t.uuid, (c) => c.notNull().unique())
    .addColumn('name', t.name, (c) => c.notNull().unique())
    .addColumn('generation', t.integer, (c) => c.notNull())
    .addColumn('revision', t.integer, (c) => c.notNull())
    .addColumn('parent_provider_id', t.integer)
    .addColumn('root_provider_id', t.integer, (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .execute();
  await s
    .createIndex('resource_providers_root')
    .on('resource_providers')
    .column('root_provider_id')
    .execute();
  await s
    .createIndex('resource_providers_parent')
    .on('resource_providers')
    .column('parent_provider_id')
    .execute();
  await s
    .createTable('resource_classes')
    .addColumn('id', t.integer, (c) => c.primaryKey())
    .addColumn('name', t.name, (c) => c.notNull().unique())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .execute();
  await s
    .createTable('inventories')
    .addColumn('resource_provider_id', t.integer, (c) => c.notNull())
    .addColumn('resource_class_id', t.integer, (c) => c.notNull())
    .addColumn('total', t.integer, (c) => c.notNull())
    .addColumn('reserved', t.integer, (c) => c.notNull())
    .addColumn('min_unit', t.integer, (c) => c.notNull())
    .addColumn('max_unit', t.integer, (c) => c.notNull())
    .addColumn('step_size', t.integer, (c) => c.notNull())
    .addColumn('allocation_ratio', 'double precision', (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .addPrimaryKeyConstraint('inventories_pkey', ['resource_provider_id', 'resource_class_id'])
    .execute();
  await s.createIndex('inventories_class').on('inventories').column('resource_class_id').execute();
  await s
    .createTable('traits')
    .addColumn('id', 'integer', serial)
    .addColumn('name', t.name, (c) => c.notNull().unique())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .execute();
  await s
    .createTable('resource_provider_traits')
    .addColumn('resource_provider_id', t.integer, (c) => c.notNull())
    .addColumn('trait_id', t.integer, (c) => c.notNull())
    .addPrimaryKeyConstraint('resource_provider_traits_pkey', ['resource_provider_id', 'trait_id'])
    .execute();
  await s
    .createIndex('resource_provider_traits_trait')
    .on('resource_provider_traits')
    .column('trait_id')
    .execute();
  await s
    .createTable('placement_aggregates')
    .addColumn('id', 'integer', serial)
    .addColumn('uuid', t.uuid, (c) => c.notNull().unique())
    .execute();
  await s
    .createTable('resource_provider_aggregates')
    .addColumn('resource_provider_id', t.integer, (c) => c.notNull())
    .addColumn('aggregate_id', t.integer, (c) => c.notNull())
    .addPrimaryKeyConstraint('resource_provider_aggregates_pkey', [
      'resource_provider_id',
      'aggregate_id',
    ])
    .execute();
  await s
    .createIndex('resource_provider_aggregates_aggregate')
    .on('resource_provider_aggregates')
    .column('aggregate_id')
    .execute();
  await s
    .createTable('consumers')
    .addColumn('id', 'integer', serial)
    .addColumn('uuid', t.uuid, (c) => c.notNull().unique())
    .addColumn('project_id', t.name, (c) => c.notNull())
    .addColumn('user_id', t.name, (c) => c.notNull())
    .addColumn('generation', t.integer, (c) => c.notNull())
    .addColumn('consumer_type', t.name)
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .execute();
  await s
    .createIndex('consumers_project_user')
    .on('consumers')
    .columns(['project_id', 'user_id'])
    .execute();
  await s
    .createTable('allocations')
    .addColumn('id', 'integer', serial)
    .addColumn('resource_provider_id', t.integer, (c) => c.notNull())
    .addColumn('consumer_id', t.integer, (c) => c.notNull())
    .addColumn('resource_class_id', t.integer, (c) => c.notNull())
    .addColumn('used', t.integer, (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .execute();
  await s
    .createIndex('allocations_provider_class')
    .on('allocations')
    .columns(['resource_provider_id', 'resource_class_id', 'used'])
    .execute();
  await s.createIndex('allocations_consumer').on('allocations').column('consumer_id').execute();
  await s
    .createTable('placement_state')
    .addColumn('id', t.integer, (c) => c.primaryKey())
    .addColumn('version', t.bigint, (c) => c.notNull())
    .execute();
  await (db as Kysely<{ placement_state: { id: number; version: number } }>)
    .insertInto('placement_state')
    .values({ id: 1, version: 0 })
    .execute();
}

/**
 * Providers carry the state version of their last change instead of a per-provider counter, so
 * a reader asks for the providers changed since the version it holds rather than reading them all.
 */
async function changedVersion(db: Kysely<unknown>): Promise<void> {
  const s = db.schema;
  await s
    .alterTable('resource_providers')
    .addColumn('changed_version', t.bigint, (c) => c.notNull().defaultTo(0))
    .execute();
  await s.alterTable('resource_providers').dropColumn('revision').execute();
  await s
    .createIndex('resource_providers_changed')
    .on('resource_providers')
    .column('changed_version')
    .execute();
}

export const PLACEMENT_MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'initial', up: initial },
  { version: 2, name: 'changed-version', up: changedVersion },
];
