/** The identity schema, one migration per released change (never edit a released one). */
import type { Kysely } from 'kysely';
import type { DialectName } from '../../common/db/database-url.ts';
import type { Migration } from '../../common/db/migrate.ts';
import {
  autoIncrementPrimaryKey,
  columnType as t,
  longTextType,
} from '../../common/db/portable.ts';

async function initial(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  const s = db.schema;
  await s
    .createTable('domain')
    .addColumn('id', t.key, (c) => c.primaryKey())
    .addColumn('name', t.name, (c) => c.notNull().unique())
    .addColumn('description', t.text)
    .addColumn('enabled', t.boolean, (c) => c.notNull())
    .addColumn('extra', t.json, (c) => c.notNull())
    .execute();
  await s
    .createTable('project')
    .addColumn('id', t.key, (c) => c.primaryKey())
    .addColumn('name', t.name, (c) => c.notNull())
    .addColumn('domain_id', t.key, (c) => c.notNull().references('domain.id'))
    .addColumn('parent_id', t.key, (c) => c.notNull())
    .addColumn('description', t.text)
    .addColumn('enabled', t.boolean, (c) => c.notNull())
    .addColumn('extra', t.json, (c) => c.notNull())
    .addUniqueConstraint('project_domain_name', ['domain_id', 'name'])
    .execute();
  await s.createIndex('project_parent').on('project').column('parent_id').execute();
  await s
    .createTable('project_tag')
    .addColumn('project_id', t.key, (c) => c.notNull().references('project.id').onDelete('cascade'))
    .addColumn('name', t.name, (c) => c.notNull())
    .addPrimaryKeyConstraint('project_tag_pkey', ['project_id', 'name'])
    .execute();
  await s
    .createTable('identity_user')
    .addColumn('id', t.key, (c) => c.primaryKey())
    .addColumn('name', t.name, (c) => c.notNull())
    .addColumn('domain_id', t.key, (c) => c.notNull().references('domain.id'))
    .addColumn('enabled', t.boolean, (c) => c.notNull())
    .addColumn('default_project_id', t.key)
    .addColumn('description', t.text)
    .addColumn('email', t.name)
    .addColumn('extra', t.json, (c) => c.notNull())
    .addColumn('options', t.json, (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('failed_auth_count', t.integer, (c) => c.notNull().defaultTo(0))
    .addColumn('failed_auth_at', t.timestamp)
    .addUniqueConstraint('user_domain_name', ['domain_id', 'name'])
    .execute();
  await s
    .createTable('password')
    .addColumn('id', 'integer', autoIncrementPrimaryKey(dialect))
    .addColumn('user_id', t.key, (c) =>
      c.notNull().references('identity_user.id').onDelete('cascade'),
    )
    .addColumn('hash', t.name, (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('expires_at', t.timestamp)
    .addColumn('self_service', t.boolean, (c) => c.notNull())
    .execute();
  await s.createIndex('password_user').on('password').columns(['user_id', 'id']).execute();
  await s
    .createTable('identity_group')
    .addColumn('id', t.key, (c) => c.primaryKey())
    .addColumn('name', t.name, (c) => c.notNull())
    .addColumn('domain_id', t.key, (c) => c.notNull().references('domain.id'))
    .addColumn('description', t.text)
    .addColumn('extra', t.json, (c) => c.notNull())
    .addUniqueConstraint('group_domain_name', ['domain_id', 'name'])
    .execute();
  await s
    .createTable('user_group_membership')
    .addColumn('user_id', t.key, (c) =>
      c.notNull().references('identity_user.id').onDelete('cascade'),
    )
    .addColumn('group_id', t.key, (c) =>
      c.notNull().references('identity_group.id').onDelete('cascade'),
    )
    .addPrimaryKeyConstraint('membership_pkey', ['user_id', 'group_id'])
    .execute();
  await s.createIndex('membership_group').on('user_group_membership').column('group_id').execute();
  await s
    .createTable('role')
    .addColumn('id', t.key, (c) => c.primaryKey())
    .addColumn('name', t.name, (c) => c.notNull())
    .addColumn('domain_id', t.key, (c) => c.notNull())
    .addColumn('description', t.text)
    .addColumn('options', t.json, (c) => c.notNull())
    .addUniqueConstraint('role_domain_name', ['domain_id', 'name'])
    .execute();
  await s
    .createTable('implied_role')
    .addColumn('prior_role_id', t.key, (c) => c.notNull().references('role.id').onDelete('cascade'))
    .addColumn('implied_role_id', t.key, (c) =>
      c.notNull().references('role.id').onDelete('cascade'),
    )
    .addPrimaryKeyConstraint('implied_role_pkey', ['prior_role_id', 'implied_role_id'])
    .execute();
  await s
    .createTable('assignment')
    .addColumn('type', t.key, (c) => c.notNull())
    .addColumn('actor_id', t.key, (c) => c.notNull())
    .addColumn('target_id', t.key, (c) => c.notNull())
    .addColumn('role_id', t.key, (c) => c.notNull())
    .addColumn('inherited', t.boolean, (c) => c.notNull())
    .addPrimaryKeyConstraint('assignment_pkey', [
      'type',
      'actor_id',
      'target_id',
      'role_id',
      'inherited',
    ])
    .execute();
  await s
    .createIndex('assignment_actor')
    .on('assignment')
    .columns(['actor_id', 'target_id'])
    .execute();
  await s.createIndex('assignment_target').on('assignment').columns(['target_id']).execute();
  await s.createIndex('assignment_role').on('assignment').columns(['role_id']).execute();
  await s
    .createTable('region')
    .addColumn('id', t.name, (c) => c.primaryKey())
    .addColumn('description', t.text, (c) => c.notNull())
    .addColumn('parent_region_id', t.name)
    .addColumn('extra', t.json, (c) => c.notNull())
    .execute();
  await s
    .createTable('service')
    .addColumn('id', t.key, (c) => c.primaryKey())
    .addColumn('type', t.name, (c) => c.notNull())
    .addColumn('name', t.name)
    .addColumn('description', t.text)
    .addColumn('enabled', t.boolean, (c) => c.notNull())
    .addColumn('extra', t.json, (c) => c.notNull())
    .execute();
  await s
    .createTable('endpoint')
    .addColumn('id', t.key, (c) => c.primaryKey())
    .addColumn('service_id', t.key, (c) => c.notNull().references('service.id').onDelete('cascade'))
    .addColumn('interface', t.key, (c) => c.notNull())
    .addColumn('region_id', t.name)
    .addColumn('url', longTextType(dialect), (c) => c.notNull())
    .addColumn('enabled', t.boolean, (c) => c.notNull())
    .addColumn('extra', t.json, (c) => c.notNull())
    .execute();
  await s
    .createTable('application_credential')
    .addColumn('id', t.key, (c) => c.primaryKey())
    .addColumn('name', t.name, (c) => c.notNull())
    .addColumn('description', t.text)
    .addColumn('secret_hash', t.name, (c) => c.notNull())
    .addColumn('user_id', t.key, (c) =>
      c.notNull().references('identity_user.id').onDelete('cascade'),
    )
    .addColumn('project_id', t.key, (c) => c.notNull())
    .addColumn('expires_at', t.timestamp)
    .addColumn('unrestricted', t.boolean, (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addUniqueConstraint('app_cred_user_name', ['user_id', 'name'])
    .execute();
  await s
    .createTable('application_credential_role')
    .addColumn('application_credential_id', t.key, (c) =>
      c.notNull().references('application_credential.id').onDelete('cascade'),
    )
    .addColumn('role_id', t.key, (c) => c.notNull())
    .addPrimaryKeyConstraint('app_cred_role_pkey', ['application_credential_id', 'role_id'])
    .execute();
  await s
    .createTable('credential')
    .addColumn('id', t.key, (c) => c.primaryKey())
    .addColumn('user_id', t.key, (c) => c.notNull())
    .addColumn('project_id', t.key)
    .addColumn('type', t.name, (c) => c.notNull())
    .addColumn('blob', longTextType(dialect), (c) => c.notNull())
    .addColumn('key_hash', t.key)
    .addColumn('extra', t.json, (c) => c.notNull())
    .execute();
  await s.createIndex('credential_user').on('credential').column('user_id').execute();
  await s.createIndex('credential_key_hash').on('credential').column('key_hash').execute();
  await s
    .createTable('registered_limit')
    .addColumn('id', t.key, (c) => c.primaryKey())
    .addColumn('service_id', t.key, (c) => c.notNull())
    .addColumn('region_id', t.name)
    .addColumn('resource_name', t.name, (c) => c.notNull())
    .addColumn('default_limit', t.integer, (c) => c.notNull())
    .addColumn('description', t.text)
    .execute();
  await s
    .createTable('project_limit')
    .addColumn('id', t.key, (c) => c.primaryKey())
    .addColumn('project_id', t.key)
    .addColumn('domain_id', t.key)
    .addColumn('service_id', t.key, (c) => c.notNull())
    .addColumn('region_id', t.name)
    .addColumn('resource_name', t.name, (c) => c.notNull())
    .addColumn('resource_limit', t.integer, (c) => c.notNull())
    .addColumn('description', t.text)
    .execute();
  await s
    .createTable('revocation_event')
    .addColumn('id', 'integer', autoIncrementPrimaryKey(dialect))
    .addColumn('user_id', t.key)
    .addColumn('project_id', t.key)
    .addColumn('domain_id', t.key)
    .addColumn('role_id', t.key)
    .addColumn('audit_id', t.key)
    .addColumn('audit_chain_id', t.key)
    .addColumn('application_credential_id', t.key)
    .addColumn('issued_before', t.timestamp, (c) => c.notNull())
    .addColumn('revoked_at', t.timestamp, (c) => c.notNull())
    .addColumn('expires_at', t.timestamp, (c) => c.notNull())
    .execute();
}

export const IDENTITY_MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'initial identity schema', up: initial },
];
