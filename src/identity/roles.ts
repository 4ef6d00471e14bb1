/**
 * Roles, implied roles and role assignments (Keystone's assignment backend), and the effective
 * roles of a user on a scope: direct and group assignments, inherited ones from the project's
 * ancestors and domain, expanded through implied roles. Removing an assignment revokes the
 * tokens it granted.
 */
import type { Kysely } from 'kysely';
import { DuplicateKeyError, toDbBoolean, toDbJson } from '../common/db/portable.ts';
import {
  Assignments,
  assignmentType,
  describeAssignment,
  fromRow,
  targetId,
  type Assignment,
} from './assignments.ts';
import type { AssignmentType, IdentityDatabase, RoleRow } from './db/schema.ts';
import { NO_DOMAIN } from './db/schema.ts';
import { duplicate, forbidden, invalid, notFound } from './errors.ts';
import { newId } from './ids.ts';
import type { RevocationFields, Revocations } from './revocations.ts';

export type { Actor, Assignment, Target } from './assignments.ts';
export { SYSTEM_TARGET, assignmentType, describeAssignment } from './assignments.ts';

export type Role = {
  id: string;
  name: string;
  domain_id: string | null;
  description: string | null;
  options: Record<string, unknown>;
};

export type EffectiveScope =
  | { kind: 'project'; id: string; domain_id: string; ancestors: readonly string[] }
  | { kind: 'domain'; id: string }
  | { kind: 'system' };

/** Roles Keystone never lets another role imply (`[assignment] prohibited_implied_role`). */
const PROHIBITED_IMPLIED = new Set(['admin']);

function toRole(row: RoleRow): Role {
  return {
    id: row.id,
    name: row.name,
    domain_id: row.domain_id === NO_DOMAIN ? null : row.domain_id,
    description: row.description,
    options: JSON.parse(row.options) as Record<string, unknown>,
  };
}

export class Roles {
  readonly #db: Kysely<IdentityDatabase>;
  readonly #revocations: Revocations;
  /** Listing assignments the way `GET /v3/role_assignments` does. */
  readonly assignments: Assignments;

  constructor(db: Kysely<IdentityDatabase>, revocations: Revocations) {
    this.#db = db;
    this.#revocations = revocations;
    this.assignments = new Assignments(db);
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
    const unlocks = patch.options?.['immutable'] === false || patch.options?.['immutable'] === null;
    if (current.options['immutable'] === true && !unlocks) {
      throw forbidden(`Cannot modify immutable role ${id}.`);
    }
    // A null option is cleared, as Keystone's resource options are.
    const options =
      patch.options === undefined
        ? current.options
        : Object.fromEntries(
            Object.entries({ ...current.options, ...patch.options }).filter(([, v]) => v !== null),
          );
    const next: Role = {
      ...current,
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      ...(patch.description !== undefined ? { description: patch.description } : {}),
      options,
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
    const held = await this.listAssignments({ role_id: id });
    await this.#db.transaction().execute(async (tx) => {
      await tx.deleteFrom('assignment').where('role_id', '=', id).execute();
      await tx
        .deleteFrom('implied_role')
        .where((eb) => eb.or([eb('prior_role_id', '=', id), eb('implied_role_id', '=', id)]))
        .execute();
      await tx.deleteFrom('application_credential_role').where('role_id', '=', id).execute();
      await tx.deleteFrom('role').where('id', '=', id).execute();
    });
    await this.#revocations.revoke({ role_id: id });
    for (const a of held) await this.#revokeTokensOf(a);
  }

  // ---- implied roles ----

  /**
   * Makes `priorId` imply `impliedId`; idempotent.
   * @throws NotFoundError for an unknown role; ForbiddenError for a domain-specific or prohibited
   *   implied role or a rule that would close a cycle; BadRequestError for a role implying itself.
   */
  async imply(priorId: string, impliedId: string): Promise<void> {
    await this.get(priorId);
    const implied = await this.get(impliedId);
    if (priorId === impliedId) throw invalid('A role cannot imply itself.');
    if (implied.domain_id !== null || PROHIBITED_IMPLIED.has(implied.name))
      throw forbidden(`${impliedId} cannot be an implied roles.`);
    if ((await this.#closure([impliedId])).has(priorId)) {
      throw forbidden(`Creating the inference rule ${priorId} -> ${impliedId} would make a cycle.`);
    }
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

  /** @throws NotFoundError unless `priorId` implies `impliedId` directly. */
  async getImplication(priorId: string, impliedId: string): Promise<void> {
    const row = await this.#db
      .selectFrom('implied_role')
      .select('prior_role_id')
      .where('prior_role_id', '=', priorId)
      .where('implied_role_id', '=', impliedId)
      .executeTakeFirst();
    if (!row) throw notFound('implied role', `${priorId} -> ${impliedId}`);
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

  /**
   * Records an assignment; granting twice is not an error (Keystone answers 204 again).
   * @throws NotFoundError for an unknown role; ForbiddenError for a domain-specific role on a
   *   project of another domain; BadRequestError for a domain-specific role on the system.
   */
  async grant(a: Assignment): Promise<void> {
    const role = await this.get(a.role_id);
    if (role.domain_id !== null && a.target.kind === 'system') {
      throw invalid(
        `Role ${role.id} is a domain-specific role. Unable to use a domain-specific role in a system assignment.`,
      );
    }
    if (role.domain_id !== null && a.target.kind === 'project') {
      const project = await this.#db
        .selectFrom('project')
        .select('domain_id')
        .where('id', '=', a.target.id)
        .executeTakeFirst();
      if (project !== undefined && project.domain_id !== role.domain_id) {
        throw forbidden(
          `Project ${a.target.id} must be in the same domain as the role ${role.id} being assigned.`,
        );
      }
    }
    try {
      await this.#db
        .insertInto('assignment')
        .values({
          type: assignmentType(a.actor, a.target),
          actor_id: a.actor.id,
          target_id: targetId(a.target),
          role_id: a.role_id,
          inherited: toDbBoolean(a.inherited),
        })
        .execute();
    } catch (err) {
      if (!(err instanceof DuplicateKeyError)) throw err;
    }
  }

  async check(a: Assignment): Promise<boolean> {
    const row = await this.#db
      .selectFrom('assignment')
      .select('role_id')
      .where('type', '=', assignmentType(a.actor, a.target))
      .where('actor_id', '=', a.actor.id)
      .where('target_id', '=', targetId(a.target))
      .where('role_id', '=', a.role_id)
      .where('inherited', '=', toDbBoolean(a.inherited))
      .executeTakeFirst();
    return row !== undefined;
  }

  /**
   * Removes an assignment and revokes the tokens that may have carried it.
   * @throws NotFoundError when there is no such assignment.
   */
  async revokeGrant(a: Assignment): Promise<void> {
    const result = await this.#db
      .deleteFrom('assignment')
      .where('type', '=', assignmentType(a.actor, a.target))
      .where('actor_id', '=', a.actor.id)
      .where('target_id', '=', targetId(a.target))
      .where('role_id', '=', a.role_id)
      .where('inherited', '=', toDbBoolean(a.inherited))
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) {
      throw notFound('role assignment', describeAssignment(a));
    }
    await this.#revokeTokensOf(a);
  }

  /**
   * Events for the tokens an assignment reached: its users' (a group's members') tokens on its
   * scope. They name no role: a token's roles are recomputed when it is validated, so the removed
   * role would no longer be among them and an event naming it would never match.
   */
  async #revokeTokensOf(a: Assignment): Promise<void> {
    const users =
      a.actor.kind === 'user' ? [a.actor.id] : await this.assignments.memberIds(a.actor.id);
    if (users.length === 0) return;
    let scopes: RevocationFields[];
    if (a.target.kind === 'system') scopes = [{}];
    else if (a.target.kind === 'domain') scopes = [{ domain_id: a.target.id }];
    else if (!a.inherited) scopes = [{ project_id: a.target.id }];
    else
      scopes = (await this.assignments.descendantIds(a.target.id)).map((id) => ({
        project_id: id,
      }));
    for (const user_id of users) {
      for (const scope of scopes) await this.#revocations.revoke({ user_id, ...scope });
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
    return this.assignments.groupIdsOf(userId);
  }

  /**
   * The ids of the global roles a user has on a scope: direct and through groups; on a project
   * also those inherited from its ancestors and its domain; expanded through implied roles.
   */
  async effectiveRoleIds(userId: string, scope: EffectiveScope): Promise<string[]> {
    const actors = [userId, ...(await this.groupIdsOf(userId))];
    let q = this.#db
      .selectFrom('assignment')
      .select(['role_id', 'target_id', 'inherited'])
      .where('actor_id', 'in', actors);
    if (scope.kind === 'system') {
      q = q
        .where('target_id', '=', targetId({ kind: 'system' }))
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
    const all = [...(await this.#closure([...new Set(direct)]))];
    // Domain-specific roles only imply others; like Keystone, tokens never carry them.
    const global = await this.#db
      .selectFrom('role')
      .select('id')
      .where('id', 'in', all)
      .where('domain_id', '=', NO_DOMAIN)
      .execute();
    return global.map((r) => r.id);
  }
}
