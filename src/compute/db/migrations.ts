/** The compute schema, one migration per released change (never edit a released one). */
import type { Kysely } from 'kysely';
import type { DialectName } from '../../common/db/database-url.ts';
import type { Migration } from '../../common/db/migrate.ts';
import { autoIncrementPrimaryKey, columnType as t } from '../../common/db/portable.ts';

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

export const COMPUTE_MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'flavors-and-keypairs', up: flavorsAndKeypairs },
];
