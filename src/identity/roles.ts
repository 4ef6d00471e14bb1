/**
 * Roles, implied roles and role assignments (Keystone's assignment backend), and the effective
 * roles of a user on a scope: direct and group assignments, inherited ones from the project's
 * ancestors and domain, expanded through implied roles. Removing an assignment revokes the
 * tokens it granted.
 */
import type { Kysely } from 'kysely';
import { DuplicateKeyError, toDbBoolean, toDbJson } from '../common/db/portable.ts';
import type { AssignmentRow, AssignmentType, IdentityDatabase, RoleRow } from './db/schema.ts';
import { NO_DOMAIN } from './db/schema.ts';
import { duplicate, forbidden, invalid, notFound } from './errors.ts';
import { newId } from './ids.ts';
import type { Revocations } from './revocations.ts';

export type Role = {
  id: string;
  name: string;
  domain_id: string | null;
  description: string | null;
  options: Record<string, unknown>;
};

export type Actor = { kind: 'user' | 'group'; id: string };
export type Target = { kind: 'project' | 'domain'; id: string } | { kind: 'system' };

export type Assignment = {
  actor: Actor;
  target: Target;
  role_id: string;
  inherited: boolean;
};

export type EffectiveScope =
  | { kind: 'project'; id: string; domain_id: string; ancestors: readonly string[] }
  | { kind: 'domain'; id: string }
  | { kind: 'system' };

export const SYSTEM_TARGET = 'system';

function toRole(row: RoleRow): Role {
  return {
    id: row.id,
    name: row.name,
    domain_id: row.domain_id === NO_DOMAIN ? null : row.domain_id,
    description: row.description,
    options: JSON.parse(row.options) as Record<string, unknown>,
  };
}

export function assignmentType(actor: Actor, target: Target): AssignmentType {
  const who = actor.kind === 'user' ? 'User' : 'Group';
  const what =
    target.kind === 'project' ? 'Project' : target.kind === 'domain' ? 'Domain' : 'System';
  return `${who}${what}`;
}

function fromRow(row: AssignmentRow): Assignment {
  const actor: Actor = { kind: row.type.startsWith('User') ? 'user' : 'group', id: row.actor_id };
  const target: Target = row.type.endsWith('System')
    ? { kind: 'system' }
    : { kind: row.type.endsWith('Project') ? 'project' : 'domain', id: row.target_id };
  return { actor, target, role_id: row.role_id, inherited: row.inherited !== 0 };
}

export class Roles {
  readonly #db: Kysely<IdentityDatabase>;
  readonly #revocations: Revocations;

  constructor(db: Kysely<IdentityDatabase>, revocations: Revocations) {
    this.#db = db;
    this.#revocations = revocations;
  }

  async create(input: {
    id?: string;
    name: string;
    domain_id?: string | null | undefined;
    description?: string | null | undefined;
    options?: Record<string, unknown> | undefined;
  }): Promise<Role> {
    const row: RoleRow = {
      id: input.id ?? newId(),
      name: input.name,
      domain_id: input.domain_id ?? NO_DOMAIN,
      description: input.description ?? null,
      options: toDbJson(input.options ?? {}),
    };
    try {
      await this.#db.insertInto('role').values(row).execute();
    } catch (err) {
      if (err instanceof DuplicateKeyError)
        throw duplicate('role', `Duplicate entry found with name ${input.name}`);
      throw err;
    }
    return toRole(row);
  }

  async find(id: string): Promise<Role | undefined> {
    const row = await this.#db
      .selectFrom('role')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toRole(row);
  }

  async get(id: string): Promise<Role> {
    const role = await this.find(id);
    if (!role) throw notFound('role', id);
    return role;
  }

  async findByName(name: string, domainId: string | null = null): Promise<Role | undefined> {
    const row = await this.#db
      .selectFrom('role')
      .selectAll()
      .where('name', '=', name)
      .where('domain_id', '=', domainId ?? NO_DOMAIN)
      .executeTakeFirst();
    return row && toRole(row);
  }

  async list(
    filter: {
      name?: string | undefined;
      domain_id?: string | null | undefined;
      ids?: readonly string[];
    } = {},
  ): Promise<Role[]> {
    let q = this.#db.selectFrom('role').selectAll().orderBy('name');
    if (filter.name !== undefined) q = q.where('name', '=', filter.name);
    // Keystone lists global roles unless a domain is asked for.
    q = q.where('domain_id', '=', filter.domain_id ?? NO_DOMAIN);
    if (filter.ids !== undefined) {
      if (filter.ids.length === 0) return [];
      q = this.#db
        .selectFrom('role')
        .selectAll()
        .where('id', 'in', [...filter.ids])
        .orderBy('name');
    }
    return (await q.execute()).map(toRole);
  }

  async update(
    id: string,
    patch: {
      name?: string | undefined;
      description?: string | null | undefined;
      options?: Record<string, unknown> | undefined;
    },
  ): Promise<Role> {
    const current = await this.get(id);
    if (current.options['immutable'] === true && patch.options?.['immutable'] !== false) {
      throw forbidden(`Cannot modify immutable role ${id}.`);
    }
    const next: Role = {
      ...current,
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      ...(patch.description !== undefined ? { description: patch.description } : {}),
      ...(patch.options !== undefined ? { options: { ...current.options, ...patch.options } } : {}),
    };
    try {
      await this.#db
        .updateTable('role')
        .set({ name: next.name, description: next.description, options: toDbJson(next.options) })
        .where('id', '=', id)
        .execute();
    } catch (err) {
      if (err instanceof DuplicateKeyError)
        throw duplicate('role', `Duplicate entry found with name ${next.name}`);
      throw err;
    }
    return next;
  }

  async delete(id: string): Promise<void> {
    const role = await this.get(id);
    if (role.options['immutable'] === true) throw forbidden(`Cannot delete immutable role ${id}.`);
    await this.#db.transaction().execute(async (tx) => {
      await tx.deleteFrom('assignment').where('role_id', '=', id).execute();
      await tx.deleteFrom('application_credential_role').where('role_id', '=', id).execute();
      await tx.deleteFrom('role').where('id', '=', id).execute();
    });
    await this.#revocations.revoke({ role_id: id });
  }

  // ---- implied roles ----

  async imply(priorId: string, impliedId: string): Promise<void> {
    await this.get(priorId);
    const implied = await this.get(impliedId);
    if (priorId === impliedId) throw invalid('A role cannot imply itself.');
    if ((await this.#closure([impliedId])).has(priorId)) {
      throw forbidden(`Creating the inference rule ${priorId} -> ${impliedId} would make a cycle.`);
    }
    if (implied.domain_id !== null) throw forbidden('A domain-specific role cannot be implied.');
    try {
      await this.#db
        .insertInto('implied_role')
        .values({ prior_role_id: priorId, implied_role_id: impliedId })
        .execute();
    } catch (err) {
      if (!(err instanceof DuplicateKeyError)) throw err;
    }
  }

  async unimply(priorId: string, impliedId: string): Promise<void> {
    const result = await this.#db
      .deleteFrom('implied_role')
      .where('prior_role_id', '=', priorId)
      .where('implied_role_id', '=', impliedId)
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 0)
      throw notFound('implied role', `${priorId} -> ${impliedId}`);
  }

  async implications(
    priorId?: string,
  ): Promise<{ prior_role_id: string; implied_role_id: string }[]> {
    let q = this.#db
      .selectFrom('implied_role')
      .selectAll()
      .orderBy('prior_role_id')
      .orderBy('implied_role_id');
    if (priorId !== undefined) q = q.where('prior_role_id', '=', priorId);
    return q.execute();
  }

  /** The roles plus every role they imply, transitively. */
  async #closure(roleIds: readonly string[]): Promise<Set<string>> {
    const all = new Set(roleIds);
    let frontier = [...all];
    while (frontier.length > 0) {
      const rows = await this.#db
        .selectFrom('implied_role')
        .select('implied_role_id')
        .where('prior_role_id', 'in', frontier)
        .execute();
      frontier = rows.map((r) => r.implied_role_id).filter((id) => !all.has(id));
      for (const id of frontier) all.add(id);
    }
    return all;
  }

  // ---- assignments ----

  async grant(a: Assignment): Promise<void> {
    await this.get(a.role_id);
    try {
      await this.#db
        .insertInto('assignment')
        .values({
          type: assignmentType(a.actor, a.target),
          actor_id: a.actor.id,
          target_id: a.target.kind === 'system' ? SYSTEM_TARGET : a.target.id,
          role_id: a.role_id,
          inherited: toDbBoolean(a.inherited),
        })
        .execute();
    } catch (err) {
      // Granting twice is not an error (Keystone answers 204 again).
      if (!(err instanceof DuplicateKeyError)) throw err;
    }
  }

  async check(a: Assignment): Promise<boolean> {
    const row = await this.#db
      .selectFrom('assignment')
      .select('role_id')
      .where('type', '=', assignmentType(a.actor, a.target))
      .where('actor_id', '=', a.actor.id)
      .where('target_id', '=', a.target.kind === 'system' ? SYSTEM_TARGET : a.target.id)
      .where('role_id', '=', a.role_id)
      .where('inherited', '=', toDbBoolean(a.inherited))
      .executeTakeFirst();
    return row !== undefined;
  }

  async revokeGrant(a: Assignment): Promise<void> {
    const result = await this.#db
      .deleteFrom('assignment')
      .where('type', '=', assignmentType(a.actor, a.target))
      .where('actor_id', '=', a.actor.id)
      .where('target_id', '=', a.target.kind === 'system' ? SYSTEM_TARGET : a.target.id)
      .where('role_id', '=', a.role_id)
      .where('inherited', '=', toDbBoolean(a.inherited))
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw notFound('role assignment', a.role_id);
    // Tokens that carried the role: for a user, theirs; for a group, every member's.
    const scopeField =
      a.target.kind === 'project'
        ? { project_id: a.target.id }
        : a.target.kind === 'domain'
          ? { domain_id: a.target.id }
          : {};
    if (a.actor.kind === 'user') {
      await this.#revocations.revoke({ user_id: a.actor.id, role_id: a.role_id, ...scopeField });
    } else {
      await this.#revocations.revoke({ role_id: a.role_id, ...scopeField });
    }
  }

  async listAssignments(
    filter: {
      actor_ids?: readonly string[];
      target_ids?: readonly string[];
      role_id?: string;
      types?: readonly AssignmentType[];
    } = {},
  ): Promise<Assignment[]> {
    let q = this.#db
      .selectFrom('assignment')
      .selectAll()
      .orderBy('type')
      .orderBy('actor_id')
      .orderBy('target_id')
      .orderBy('role_id');
    if (filter.actor_ids !== undefined) {
      if (filter.actor_ids.length === 0) return [];
      q = q.where('actor_id', 'in', [...filter.actor_ids]);
    }
    if (filter.target_ids !== undefined) {
      if (filter.target_ids.length === 0) return [];
      q = q.where('target_id', 'in', [...filter.target_ids]);
    }
    if (filter.role_id !== undefined) q = q.where('role_id', '=', filter.role_id);
    if (filter.types !== undefined) q = q.where('type', 'in', [...filter.types]);
    return (await q.execute()).map(fromRow);
  }

  async groupIdsOf(userId: string): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('user_group_membership')
      .select('group_id')
      .where('user_id', '=', userId)
      .execute();
    return rows.map((r) => r.group_id);
  }

  /**
   * The ids of the roles a user has on a scope: direct and through groups; on a project also
   * those inherited from its ancestors and its domain; expanded through implied roles.
   */
  async effectiveRoleIds(userId: string, scope: EffectiveScope): Promise<string[]> {
    const actors = [userId, ...(await this.groupIdsOf(userId))];
    let q = this.#db
      .selectFrom('assignment')
      .select(['role_id', 'target_id', 'inherited'])
      .where('actor_id', 'in', actors);
    if (scope.kind === 'system') {
      q = q
        .where('target_id', '=', SYSTEM_TARGET)
        .where('type', 'in', ['UserSystem', 'GroupSystem']);
    } else if (scope.kind === 'domain') {
      q = q
        .where('target_id', '=', scope.id)
        .where('type', 'in', ['UserDomain', 'GroupDomain'])
        .where('inherited', '=', 0);
    } else {
      const inheritedFrom = [...scope.ancestors, scope.domain_id];
      q = q.where('target_id', 'in', [scope.id, ...inheritedFrom]);
    }
    const rows = await q.execute();
    const direct = rows
      .filter(
        (r) =>
          scope.kind !== 'project' ||
          (r.target_id === scope.id ? r.inherited === 0 : r.inherited !== 0),
      )
      .map((r) => r.role_id);
    if (direct.length === 0) return [];
    return [...(await this.#closure([...new Set(direct)]))];
  }
}
