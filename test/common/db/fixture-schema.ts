/**
 * A small schema in the project's column conventions, shared by the query and error tests:
 * projects (autoincrement id, unique name, boolean, timestamp, JSON, long text) and servers (UUID
 * key, a composite unique key and a foreign key to projects).
 */

import type { ColumnType, Generated } from 'kysely';
import type { DatabaseHandle } from '../../../src/common/db/database.ts';
import { migrate } from '../../../src/common/db/migrate.ts';
import type { Migration } from '../../../src/common/db/migrate.ts';
import {
  autoIncrementPrimaryKey,
  columnType,
  longTextType,
} from '../../../src/common/db/portable.ts';
import type { TestDatabase } from '../../helpers/databases.ts';

export type Tables = {
  projects: {
    id: Generated<number>;
    name: string;
    enabled: ColumnType<number, number | undefined, number>;
    created_at: string;
    extra: string | null;
    notes: string | null;
  };
  servers: { uuid: string; project_id: number; name: string };
};

const SCHEMA: readonly Migration[] = [
  {
    version: 1,
    name: 'create_projects_and_servers',
    up: async (db, dialect) => {
      await db.schema
        .createTable('projects')
        .addColumn('id', 'integer', autoIncrementPrimaryKey(dialect))
        .addColumn('name', columnType.name, (c) => c.notNull())
        .addColumn('enabled', columnType.boolean, (c) => c.notNull().defaultTo(1))
        .addColumn('created_at', columnType.timestamp, (c) => c.notNull())
        .addColumn('extra', columnType.json)
        .addColumn('notes', longTextType(dialect))
        .execute();
      await db.schema
        .createIndex('uq_projects_name')
        .on('projects')
        .column('name')
        .unique()
        .execute();
      await db.schema
        .createTable('servers')
        .addColumn('uuid', columnType.uuid, (c) => c.primaryKey())
        .addColumn('project_id', 'integer', (c) => c.notNull())
        .addColumn('name', columnType.name, (c) => c.notNull())
        .addUniqueConstraint('uq_servers_project_name', ['project_id', 'name'])
        .addForeignKeyConstraint('fk_servers_project', ['project_id'], 'projects', ['id'])
        .execute();
    },
  },
];

export const CREATED_AT = '2024-05-01T12:00:00.000Z';

/** Opens `fresh`, creates the schema and the projects `names` (ids 1, 2, … in order). */
export async function openWithSchema(
  fresh: TestDatabase,
  names: readonly string[] = [],
  options?: Parameters<TestDatabase['open']>[0],
): Promise<DatabaseHandle<Tables>> {
  const handle = await fresh.open<Tables>(options);
  await migrate(handle, 'test', SCHEMA);
  for (const name of names) {
    await handle.db.insertInto('projects').values({ name, created_at: CREATED_AT }).execute();
  }
  return handle;
}
