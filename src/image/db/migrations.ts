/** The image schema, one migration per released change (never edit a released one). */
import type { Kysely } from 'kysely';
import type { Migration } from '../../common/db/migrate.ts';
import { columnType as t, longTextType } from '../../common/db/portable.ts';
import type { DialectName } from '../../common/db/database-url.ts';

async function initial(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  const s = db.schema;
  await s
    .createTable('image')
    .addColumn('id', t.uuid, (c) => c.primaryKey())
    .addColumn('name', t.name)
    .addColumn('status', 'varchar(30)', (c) => c.notNull())
    .addColumn('visibility', 'varchar(20)', (c) => c.notNull())
    .addColumn('protected', t.boolean, (c) => c.notNull())
    .addColumn('os_hidden', t.boolean, (c) => c.notNull())
    .addColumn('checksum', 'varchar(32)')
    .addColumn('os_hash_algo', 'varchar(64)')
    .addColumn('os_hash_value', 'varchar(128)')
    .addColumn('owner', t.name)
    .addColumn('size', t.bigint)
    .addColumn('virtual_size', t.bigint)
    .addColumn('disk_format', 'varchar(20)')
    .addColumn('container_format', 'varchar(20)')
    .addColumn('min_disk', t.integer, (c) => c.notNull())
    .addColumn('min_ram', t.integer, (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .addColumn('locations', longTextType(dialect), (c) => c.notNull())
    .execute();
  await s.createIndex('image_owner').on('image').columns(['owner', 'created_at']).execute();
  await s
    .createIndex('image_visibility')
    .on('image')
    .columns(['visibility', 'created_at'])
    .execute();
  await s.createIndex('image_created').on('image').columns(['created_at', 'id']).execute();
  await s
    .createTable('image_property')
    .addColumn('image_id', t.uuid, (c) => c.notNull().references('image.id').onDelete('cascade'))
    .addColumn('name', t.name, (c) => c.notNull())
    .addColumn('value', t.text, (c) => c.notNull())
    .addPrimaryKeyConstraint('image_property_pkey', ['image_id', 'name'])
    .execute();
  await s
    .createTable('image_tag')
    .addColumn('image_id', t.uuid, (c) => c.notNull().references('image.id').onDelete('cascade'))
    .addColumn('value', t.name, (c) => c.notNull())
    .addPrimaryKeyConstraint('image_tag_pkey', ['image_id', 'value'])
    .execute();
  await s.createIndex('image_tag_value').on('image_tag').column('value').execute();
  await s
    .createTable('image_member')
    .addColumn('image_id', t.uuid, (c) => c.notNull().references('image.id').onDelete('cascade'))
    .addColumn('member', t.name, (c) => c.notNull())
    .addColumn('status', 'varchar(20)', (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .addPrimaryKeyConstraint('image_member_pkey', ['image_id', 'member'])
    .execute();
  await s.createIndex('image_member_member').on('image_member').column('member').execute();
}

export const IMAGE_MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'initial', up: initial },
];
