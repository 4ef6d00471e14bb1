/**
 * Security groups and their rules: the `default` group each project gets on first use (four
 * rules: all egress, and ingress from members of the group), two egress rules in every new group,
 * rules checked (`security-group-rules.ts`) and duplicate rules refused.
 */
import { sql, type Expression, type SqlBool } from 'kysely';
import { DuplicateKeyError, toDbBoolean, toDbTimestamp, withRetry } from '../common/db/portable.ts';
import type { SecurityGroupRow, SecurityGroupRuleRow } from './db/schema.ts';
import { conflict, notFound } from './errors.ts';
import { checkRule, ruleKey, type RuleInput } from './security-group-rules.ts';
import { selectPage, type ListQuery, type ListSpec } from './listing.ts';
import {
  checkRevision,
  newId,
  tagsOf,
  type Db,
  type Viewer,
  visibleRow,
  revise,
} from './standard.ts';

export { normalizedCidr, type RuleInput } from './security-group-rules.ts';

/** A rule as the domain hands it out. */
export type SecurityGroupRule = SecurityGroupRuleRow;

export type SecurityGroup = {
  readonly row: SecurityGroupRow;
  readonly rules: readonly SecurityGroupRuleRow[];
  readonly tags: readonly string[];
  readonly isDefault: boolean;
};

export const SECURITY_GROUP_LIST: ListSpec = {
  attrs: {
    id: { column: 'id', kind: 'string' },
    name: { column: 'name', kind: 'string' },
    description: { column: 'description', kind: 'string' },
    tenant_id: { column: 'project_id', kind: 'string' },
    project_id: { column: 'project_id', kind: 'string' },
    stateful: { column: 'stateful', kind: 'bool' },
    revision_number: { column: 'revision_number', kind: 'int' },
  },
  special: new Set(['shared']),
  tagType: 'security-groups',
};

export const RULE_LIST: ListSpec = {
  attrs: {
    id: { column: 'id', kind: 'string' },
    tenant_id: { column: 'project_id', kind: 'string' },
    project_id: { column: 'project_id', kind: 'string' },
    security_group_id: { column: 'security_group_id', kind: 'string' },
    direction: { column: 'direction', kind: 'string' },
    ethertype: { column: 'ethertype', kind: 'string' },
    protocol: { column: 'protocol', kind: 'string', nullable: true },
    port_range_min: { column: 'port_range_min', kind: 'int', nullable: true },
    port_range_max: { column: 'port_range_max', kind: 'int', nullable: true },
    remote_ip_prefix: { column: 'remote_ip_prefix', kind: 'string', nullable: true },
    remote_group_id: { column: 'remote_group_id', kind: 'string', nullable: true },
    description: { column: 'description', kind: 'string', nullable: true },
    revision_number: { column: 'revision_number', kind: 'int' },
  },
  special: new Set(['remote_address_group_id', 'belongs_to_default_sg']),
};

function visibleGroups(viewer: Viewer, table = 'security_groups'): Expression<SqlBool> | undefined {
  if (viewer.isAdmin) return undefined;
  return sql<SqlBool>`${sql.ref(`${table}.project_id`)} = ${viewer.projectId ?? ''}`;
}

const DEFAULT_NAME = 'default';

export class SecurityGroups {
  readonly #db: Db;
  readonly #now: () => Date;

  constructor(db: Db, now: () => Date = () => new Date()) {
    this.#db = db;
    this.#now = now;
  }

  /**
   * The `default` group of `projectId`, created (with its four rules) the first time it is asked
   * for; concurrent first uses create it once.
   */
  async ensureDefault(projectId: string): Promise<string> {
    const existing = await this.#defaultOf(projectId);
    if (existing !== undefined) return existing;
    const id = newId();
    try {
      await withRetry(() =>
        this.#db.transaction().execute(async (trx) => {
          await this.#insertGroup(
            trx,
            id,
            projectId,
            DEFAULT_NAME,
            'Default security group',
            true,
            true,
          );
          await trx
            .insertInto('default_security_groups')
            .values({ project_id: projectId, security_group_id: id })
            .execute();
        }),
      );
      return id;
    } catch (err) {
      if (!(err instanceof DuplicateKeyError)) throw err;
      const raced = await this.#defaultOf(projectId);
      if (raced === undefined) throw err;
      return raced;
    }
  }

  async #defaultOf(projectId: string): Promise<string | undefined> {
    const row = await this.#db
      .selectFrom('default_security_groups')
      .select('security_group_id')
      .where('project_id', '=', projectId)
      .executeTakeFirst();
    return row?.security_group_id;
  }

  async #insertGroup(
    trx: Db,
    id: string,
    projectId: string,
    name: string,
    description: string,
    stateful: boolean,
    isDefault: boolean,
  ): Promise<void> {
    const at = toDbTimestamp(this.#now());
    await trx
      .insertInto('security_groups')
      .values({
        id,
        project_id: projectId,
        name,
        description,
        revision_number: 1,
        created_at: at,
        updated_at: at,
        stateful: toDbBoolean(stateful),
      })
      .execute();
    const rule = (
      direction: string,
      ethertype: string,
      remoteGroup: string | null,
    ): SecurityGroupRuleRow => ({
      id: newId(),
      project_id: projectId,
      security_group_id: id,
      direction,
      ethertype,
      protocol: null,
      port_range_min: null,
      port_range_max: null,
      remote_ip_prefix: null,
      remote_group_id: remoteGroup,
      description: null,
      revision_number: 1,
      created_at: at,
      updated_at: at,
    });
    const rules = [rule('egress', 'IPv4', null), rule('egress', 'IPv6', null)];
    if (isDefault) rules.push(rule('ingress', 'IPv4', id), rule('ingress', 'IPv6', id));
    await trx.insertInto('security_group_rules').values(rules).execute();
  }

  async #row(viewer: Viewer, id: string): Promise<SecurityGroupRow> {
    return visibleRow(
      this.#db,
      'security_groups',
      id,
      visibleGroups(viewer),
      securityGroupNotFound,
    );
  }

  /** @throws NotFoundError (404) SecurityGroupNotFound. */
  async get(viewer: Viewer, id: string): Promise<SecurityGroup> {
    const [group] = await this.#hydrate([await this.#row(viewer, id)]);
    return group as SecurityGroup;
  }

  /** Lists groups; the project listed (or the caller's) gets its default group first. */
  async list(viewer: Viewer, query: ListQuery): Promise<SecurityGroup[]> {
    const project =
      (query.filters.get('project_id')?.[0] as string | undefined) ?? viewer.projectId;
    if (project !== undefined && (viewer.isAdmin || project === viewer.projectId))
      await this.ensureDefault(project);
    const shared = query.special.get('shared');
    // No group is shared with other projects (RBAC for security groups is not offered).
    if (shared && shared.some((v) => v.toLowerCase() === 'true')) return [];
    const visible = visibleGroups(viewer);
    const rows = await selectPage(this.#db, 'security_groups', query, visible ? [visible] : [], {
      tagType: 'security-groups',
      missingMarker: securityGroupNotFound,
    });
    return this.#hydrate(rows);
  }

  async #hydrate(rows: readonly SecurityGroupRow[]): Promise<SecurityGroup[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const rules = new Map<string, SecurityGroupRuleRow[]>(ids.map((id) => [id, []]));
    const defaults = new Set<string>();
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      for (const r of await this.#db
        .selectFrom('security_group_rules')
        .selectAll()
        .where('security_group_id', 'in', chunk)
        .orderBy('created_at')
        .orderBy('id')
        .execute())
        rules.get(r.security_group_id)?.push(r);
      for (const d of await this.#db
        .selectFrom('default_security_groups')
        .select('security_group_id')
        .where('security_group_id', 'in', chunk)
        .execute())
        defaults.add(d.security_group_id);
    }
    const tags = await tagsOf(this.#db, 'security-groups', ids);
    return rows.map((row) => ({
      row,
      rules: rules.get(row.id) ?? [],
      tags: tags.get(row.id) ?? [],
      isDefault: defaults.has(row.id),
    }));
  }

  /** @throws ConflictError (409) SecurityGroupDefaultAlreadyExists for the name `default`. */
  async create(input: {
    projectId: string;
    name?: string;
    description?: string;
    stateful?: boolean;
  }): Promise<SecurityGroup> {
    const name = input.name ?? '';
    checkNotDefaultName(name);
    await this.ensureDefault(input.projectId);
    const id = newId();
    await withRetry(() =>
      this.#db
        .transaction()
        .execute((trx) =>
          this.#insertGroup(
            trx,
            id,
            input.projectId,
            name,
            input.description ?? '',
            input.stateful ?? true,
            false,
          ),
        ),
    );
    return this.get({ projectId: input.projectId, isAdmin: true }, id);
  }

  async update(
    viewer: Viewer,
    id: string,
    changes: { name?: string; description?: string; stateful?: boolean },
    revision?: number,
  ): Promise<SecurityGroup> {
    const group = await this.get(viewer, id);
    // The API layer's name_not_default validator runs before the plugin's default-group check.
    if (changes.name !== undefined) checkNotDefaultName(changes.name);
    checkRevision(revision, group.row.revision_number);
    if (group.isDefault && changes.name !== undefined)
      throw conflict(
        'SecurityGroupCannotUpdateDefault',
        'Updating default security group not allowed.',
      );
    if (
      changes.stateful !== undefined &&
      changes.stateful !== (group.row.stateful === 1) &&
      (await this.#inUse(id))
    )
      throw conflict('SecurityGroupInUse', `Security Group ${id} in use.`);
    const set: Partial<SecurityGroupRow> = {};
    if (changes.name !== undefined) set.name = changes.name;
    if (changes.description !== undefined) set.description = changes.description;
    if (changes.stateful !== undefined) set.stateful = toDbBoolean(changes.stateful);
    if (Object.keys(set).length > 0) await this.#bump(this.#db, id, set);
    return this.get(viewer, id);
  }

  async #bump(db: Db, id: string, set: Partial<SecurityGroupRow> = {}): Promise<void> {
    await revise(db, 'security_groups', id, this.#now(), set);
  }

  async #inUse(id: string): Promise<boolean> {
    const port = await this.#db
      .selectFrom('port_security_groups')
      .select('port_id')
      .where('security_group_id', '=', id)
      .executeTakeFirst();
    return port !== undefined;
  }

  /**
   * @throws ConflictError (409) SecurityGroupInUse while a port uses it;
   *   SecurityGroupCannotRemoveDefault for a project's default group, unless an admin asks.
   */
  async delete(viewer: Viewer, id: string, revision?: number): Promise<SecurityGroupRow> {
    const group = await this.get(viewer, id);
    checkRevision(revision, group.row.revision_number);
    if (await this.#inUse(id)) throw conflict('SecurityGroupInUse', `Security Group ${id} in use.`);
    if (group.isDefault && !viewer.isAdmin)
      throw conflict(
        'SecurityGroupCannotRemoveDefault',
        'Insufficient rights for removing default security group.',
      );
    await withRetry(() =>
      this.#db.transaction().execute(async (trx) => {
        await trx.deleteFrom('security_group_rules').where('security_group_id', '=', id).execute();
        // Rules of other groups that named this one as their remote go with it, as upstream's do.
        const referring = await trx
          .selectFrom('security_group_rules')
          .select('security_group_id')
          .distinct()
          .where('remote_group_id', '=', id)
          .execute();
        await trx.deleteFrom('security_group_rules').where('remote_group_id', '=', id).execute();
        for (const r of referring) await this.#bump(trx, r.security_group_id);
        await trx
          .deleteFrom('default_security_groups')
          .where('security_group_id', '=', id)
          .execute();
        await trx
          .deleteFrom('tags')
          .where('resource_type', '=', 'security-groups')
          .where('resource_id', '=', id)
          .execute();
        await trx.deleteFrom('security_groups').where('id', '=', id).execute();
      }),
    );
    return group.row;
  }

  /** Ids of the groups among `ids` that `viewer` may use. @throws NotFoundError (404) for the others. */
  async checkUsable(viewer: Viewer, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const visible = visibleGroups(viewer);
    const found = new Set(
      (
        await this.#db
          .selectFrom('security_groups')
          .select('id')
          .where('id', 'in', [...ids])
          .$if(visible !== undefined, (q) => q.where(visible as Expression<SqlBool>))
          .execute()
      ).map((r) => r.id),
    );
    const missing = ids.filter((id) => !found.has(id));
    if (missing.length > 0) throw securityGroupNotFound(missing.join(', '));
  }

  // Rules

  async ruleGet(
    viewer: Viewer,
    id: string,
  ): Promise<{ row: SecurityGroupRuleRow; isDefault: boolean }> {
    const visible = visibleGroups(viewer, 'g');
    const row = await this.#db
      .selectFrom('security_group_rules')
      .selectAll('security_group_rules')
      .where('security_group_rules.id', '=', id)
      .$if(visible !== undefined, (q) =>
        q.where(
          sql<SqlBool>`exists (select 1 from security_groups g where g.id = security_group_rules.security_group_id and ${visible})`,
        ),
      )
      .executeTakeFirst();
    if (!row) throw ruleNotFound(id);
    const isDefault = await this.#db
      .selectFrom('default_security_groups')
      .select('project_id')
      .where('security_group_id', '=', row.security_group_id)
      .executeTakeFirst();
    return { row, isDefault: isDefault !== undefined };
  }

  async ruleList(
    viewer: Viewer,
    query: ListQuery,
  ): Promise<{ row: SecurityGroupRuleRow; isDefault: boolean }[]> {
    const project =
      (query.filters.get('project_id')?.[0] as string | undefined) ?? viewer.projectId;
    if (project !== undefined && (viewer.isAdmin || project === viewer.projectId))
      await this.ensureDefault(project);
    const conditions: Expression<SqlBool>[] = [];
    const visible = visibleGroups(viewer, 'g');
    if (visible)
      conditions.push(
        sql<SqlBool>`exists (select 1 from security_groups g where g.id = security_group_rules.security_group_id and ${visible})`,
      );
    // No rule has a remote address group (address groups are not offered).
    if ((query.special.get('remote_address_group_id') ?? []).some((v) => v !== '')) return [];
    const defaults = query.special.get('belongs_to_default_sg');
    if (defaults && defaults.length > 0) {
      const want = defaults.some((v) => v.toLowerCase() === 'true');
      conditions.push(
        sql<SqlBool>`${sql.raw(want ? '' : 'not ')}exists (select 1 from default_security_groups d where d.security_group_id = security_group_rules.security_group_id)`,
      );
    }
    const rows = await selectPage(this.#db, 'security_group_rules', query, conditions, {
      missingMarker: ruleNotFound,
    });
    const groupIds = [...new Set(rows.map((r) => r.security_group_id))];
    const isDefault = new Set<string>();
    for (let i = 0; i < groupIds.length; i += 500)
      for (const d of await this.#db
        .selectFrom('default_security_groups')
        .select('security_group_id')
        .where('security_group_id', 'in', groupIds.slice(i, i + 500))
        .execute())
        isDefault.add(d.security_group_id);
    return rows.map((row) => ({ row, isDefault: isDefault.has(row.security_group_id) }));
  }

  /**
   * @throws BadRequestError (400) for a value upstream refuses; NotFoundError (404) for an unknown
   *   group or remote group; ConflictError (409) SecurityGroupRuleExists for a duplicate.
   */
  async ruleCreate(
    viewer: Viewer,
    projectId: string,
    input: RuleInput,
  ): Promise<{ row: SecurityGroupRuleRow; isDefault: boolean }> {
    const { direction, ethertype, protocol, min, max, prefix } = checkRule(input);
    if (input.remoteAddressGroupId !== undefined && input.remoteAddressGroupId !== null)
      throw notFound('address group', input.remoteAddressGroupId);
    if (input.remoteGroupId !== undefined && input.remoteGroupId !== null)
      await this.#row(viewer, input.remoteGroupId);
    const group = await this.get(viewer, input.securityGroupId);
    const at = toDbTimestamp(this.#now());
    const row: SecurityGroupRuleRow = {
      id: newId(),
      project_id: projectId,
      security_group_id: group.row.id,
      direction,
      ethertype,
      protocol,
      port_range_min: min,
      port_range_max: max,
      remote_ip_prefix: prefix,
      remote_group_id: input.remoteGroupId ?? null,
      description: input.description ?? '',
      revision_number: 1,
      created_at: at,
      updated_at: at,
    };
    const key = ruleKey(row);
    await withRetry(() =>
      this.#db.transaction().execute(async (trx) => {
        // The group row first: it serialises rule creates on one group for the duplicate check.
        await this.#bump(trx, group.row.id);
        const existing = await trx
          .selectFrom('security_group_rules')
          .selectAll()
          .where('security_group_id', '=', group.row.id)
          .execute();
        const same = existing.find((r) => ruleKey(r) === key);
        if (same)
          throw conflict(
            'SecurityGroupRuleExists',
            `Security group rule already exists. Rule id is ${same.id}.`,
          );
        await trx.insertInto('security_group_rules').values(row).execute();
      }),
    );
    return { row, isDefault: group.isDefault };
  }

  async ruleDelete(viewer: Viewer, id: string): Promise<SecurityGroupRuleRow> {
    const { row } = await this.ruleGet(viewer, id);
    await withRetry(() =>
      this.#db.transaction().execute(async (trx) => {
        await trx.deleteFrom('security_group_rules').where('id', '=', id).execute();
        await this.#bump(trx, row.security_group_id);
      }),
    );
    return row;
  }

  async count(projectId: string): Promise<{ groups: number; rules: number }> {
    const [groups, rules] = await Promise.all([
      this.#db
        .selectFrom('security_groups')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('project_id', '=', projectId)
        .executeTakeFirstOrThrow(),
      this.#db
        .selectFrom('security_group_rules')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('project_id', '=', projectId)
        .executeTakeFirstOrThrow(),
    ]);
    return { groups: Number(groups.n), rules: Number(rules.n) };
  }
}

export function securityGroupNotFound(id: string): Error {
  return notFound('security group', id, `Security group ${id} does not exist`);
}

function ruleNotFound(id: string): Error {
  return notFound('security group rule', id, `Security group rule ${id} does not exist`);
}

/**
 * upstream's `name_not_default` validator: no group but the project's own default may be called
 * `default`, in any case. @throws ConflictError (409) SecurityGroupDefaultAlreadyExists.
 */
export function checkNotDefaultName(name: string): void {
  if (name.toLowerCase() === DEFAULT_NAME)
    throw conflict('SecurityGroupDefaultAlreadyExists', 'Default security group already exists.');
}
