/**
 * Role assignments as Keystone lists them (`GET /v3/role_assignments`): the rows as stored, or
 * in effective mode what actually reaches users, with group assignments expanded into one entry
 * per member, inherited assignments onto the projects below their target, and implied roles
 * added. Each expanded entry remembers where it came from (`indirect`), for the API's links.
 */
import type { Kysely } from 'kysely';
import { toDbBoolean } from '../common/db/portable.ts';
import type { AssignmentRow, AssignmentType, IdentityDatabase } from './db/schema.ts';
import { NO_DOMAIN } from './db/schema.ts';

export type Actor = { kind: 'user' | 'group'; id: string };
export type Target = { kind: 'project' | 'domain'; id: string } | { kind: 'system' };

export type Assignment = {
  actor: Actor;
  target: Target;
  role_id: string;
  inherited: boolean;
};

/** A listed assignment; `indirect` says what an effective entry was derived from. */
export type ListedAssignment = Assignment & {
  indirect: { group_id?: string; project_id?: string; domain_id?: string; role_id?: string };
};

export type AssignmentFilter = {
  user_id?: string | undefined;
  group_id?: string | undefined;
  role_id?: string | undefined;
  project_id?: string | undefined;
  domain_id?: string | undefined;
  /** Only system assignments. */
  system?: boolean | undefined;
  /** true: only inherited ones, false: only direct ones, undefined: both. */
  inherited?: boolean | undefined;
  effective?: boolean | undefined;
  /** With `project_id`: its descendants too. */
  include_subtree?: boolean | undefined;
};

/** The `target_id` of system assignments. */
export const SYSTEM_TARGET = 'system';

const PROJECT_TYPES: readonly AssignmentType[] = ['UserProject', 'GroupProject'];
const DOMAIN_TYPES: readonly AssignmentType[] = ['UserDomain', 'GroupDomain'];
const SYSTEM_TYPES: readonly AssignmentType[] = ['UserSystem', 'GroupSystem'];

export function assignmentType(actor: Actor, target: Target): AssignmentType {
  const who = actor.kind === 'user' ? 'User' : 'Group';
  const what =
    target.kind === 'project' ? 'Project' : target.kind === 'domain' ? 'Domain' : 'System';
  return `${who}${what}`;
}

export function targetId(target: Target): string {
  return target.kind === 'system' ? SYSTEM_TARGET : target.id;
}

/** For messages: `role R, user U, project P`. */
export function describeAssignment(a: Assignment): string {
  const inherited = a.inherited ? ' (inherited to projects)' : '';
  return `role ${a.role_id}, ${a.actor.kind} ${a.actor.id}, ${a.target.kind} ${targetId(a.target)}${inherited}`;
}

export function fromRow(row: AssignmentRow): Assignment {
  const actor: Actor = { kind: row.type.startsWith('User') ? 'user' : 'group', id: row.actor_id };
  const target: Target = row.type.endsWith('System')
    ? { kind: 'system' }
    : { kind: row.type.endsWith('Project') ? 'project' : 'domain', id: row.target_id };
  return { actor, target, role_id: row.role_id, inherited: row.inherited !== 0 };
}

type RowQuery = {
  types: readonly AssignmentType[];
  actor_ids?: readonly string[] | undefined;
  target_ids?: readonly string[] | undefined;
  role_id?: string | undefined;
  inherited?: boolean | undefined;
};

export class Assignments {
  readonly #db: Kysely<IdentityDatabase>;

  constructor(db: Kysely<IdentityDatabase>) {
    this.#db = db;
  }

  /** Keystone's list semantics; see the file comment. Unknown ids simply match nothing. */
  async list(filter: AssignmentFilter): Promise<ListedAssignment[]> {
    const subtree =
      filter.project_id !== undefined && filter.include_subtree === true
        ? await this.descendantIds(filter.project_id)
        : undefined;
    return filter.effective === true
      ? this.#effective(filter, subtree)
      : this.#direct(filter, subtree);
  }

  async #direct(f: AssignmentFilter, subtree: string[] | undefined): Promise<ListedAssignment[]> {
    const actorTypes = (types: readonly AssignmentType[]) =>
      types.filter(
        (t) =>
          (f.user_id === undefined || t.startsWith('User')) &&
          (f.group_id === undefined || t.startsWith('Group')),
      );
    const actor_ids =
      f.user_id !== undefined ? [f.user_id] : f.group_id !== undefined ? [f.group_id] : undefined;
    const out: Assignment[] = [];
    if (f.system !== true) {
      const types =
        f.domain_id !== undefined
          ? DOMAIN_TYPES
          : f.project_id !== undefined
            ? PROJECT_TYPES
            : [...PROJECT_TYPES, ...DOMAIN_TYPES];
      const target_ids =
        f.domain_id !== undefined
          ? [f.domain_id]
          : f.project_id !== undefined
            ? [f.project_id, ...(subtree ?? [])]
            : undefined;
      out.push(
        ...(await this.#rows({
          types: actorTypes(types),
          actor_ids,
          target_ids,
          role_id: f.role_id,
          inherited: f.inherited,
        })),
      );
    }
    const wantSystem =
      f.system === true || (f.project_id === undefined && f.domain_id === undefined);
    if (wantSystem && f.inherited !== true) {
      out.push(
        ...(await this.#rows({ types: actorTypes(SYSTEM_TYPES), actor_ids, role_id: f.role_id })),
      );
    }
    return out.map((a) => ({ ...a, indirect: {} }));
  }

  async #effective(
    f: AssignmentFilter,
    subtree: string[] | undefined,
  ): Promise<ListedAssignment[]> {
    // Group assignments become user ones, and domains inherit nothing: those filters match none.
    if (f.group_id !== undefined || (f.domain_id !== undefined && f.inherited === true)) return [];
    const inherited = f.domain_id !== undefined ? false : f.inherited;
    const actor_ids =
      f.user_id !== undefined ? [f.user_id, ...(await this.groupIdsOf(f.user_id))] : undefined;

    const rows: Assignment[] = [];
    if (f.system === true) {
      rows.push(...(await this.#rows({ types: SYSTEM_TYPES, actor_ids })));
    } else {
      const projectIds =
        f.project_id !== undefined ? [f.project_id, ...(subtree ?? [])] : undefined;
      if (inherited !== true) {
        rows.push(
          ...(await this.#rows({
            types:
              f.domain_id !== undefined
                ? DOMAIN_TYPES
                : projectIds !== undefined
                  ? PROJECT_TYPES
                  : [...PROJECT_TYPES, ...DOMAIN_TYPES],
            actor_ids,
            target_ids: f.domain_id !== undefined ? [f.domain_id] : projectIds,
            inherited: false,
          })),
        );
      }
      if (inherited !== false) {
        if (f.project_id !== undefined) {
          // A project inherits only from its domain and its ancestors (and, for a subtree, from
          // inside the subtree).
          const project = await this.#db
            .selectFrom('project')
            .select(['domain_id', 'parent_id'])
            .where('id', '=', f.project_id)
            .executeTakeFirst();
          if (project !== undefined) {
            rows.push(
              ...(await this.#rows({
                types: DOMAIN_TYPES,
                actor_ids,
                target_ids: [project.domain_id],
                inherited: true,
              })),
            );
            const sources = [
              ...(await this.ancestorIds(f.project_id)),
              ...(subtree !== undefined ? (projectIds ?? []) : []),
            ];
            rows.push(
              ...(await this.#rows({
                types: PROJECT_TYPES,
                actor_ids,
                target_ids: sources,
                inherited: true,
              })),
            );
          }
        } else {
          rows.push(
            ...(await this.#rows({
              types: [...PROJECT_TYPES, ...DOMAIN_TYPES],
              actor_ids,
              inherited: true,
            })),
          );
        }
      }
    }

    const expanded = await this.#expand(rows, f, subtree);
    const withImplied = await this.#addImplied(expanded);
    // Domain-specific roles only imply others; they never reach a token themselves.
    const roleIds = [...new Set(withImplied.map((a) => a.role_id))];
    const global = new Set(
      roleIds.length === 0
        ? []
        : (
            await this.#db
              .selectFrom('role')
              .select('id')
              .where('id', 'in', roleIds)
              .where('domain_id', '=', NO_DOMAIN)
              .execute()
          ).map((r) => r.id),
    );
    return withImplied.filter(
      (a) => global.has(a.role_id) && (f.role_id === undefined || a.role_id === f.role_id),
    );
  }

  /** Group assignments into their members, inherited ones onto the projects they reach. */
  async #expand(
    rows: readonly Assignment[],
    f: AssignmentFilter,
    subtree: string[] | undefined,
  ): Promise<ListedAssignment[]> {
    const groupIds = [
      ...new Set(rows.filter((r) => r.actor.kind === 'group').map((r) => r.actor.id)),
    ];
    const members = new Map<string, string[]>();
    if (f.user_id === undefined && groupIds.length > 0) {
      const ms = await this.#db
        .selectFrom('user_group_membership')
        .select(['group_id', 'user_id'])
        .where('group_id', 'in', groupIds)
        .orderBy('user_id')
        .execute();
      for (const m of ms) members.set(m.group_id, [...(members.get(m.group_id) ?? []), m.user_id]);
    }
    const usersOf = (groupId: string): string[] =>
      f.user_id !== undefined ? [f.user_id] : (members.get(groupId) ?? []);

    const out: ListedAssignment[] = [];
    for (const row of rows) {
      const viaGroup = row.actor.kind === 'group';
      const users = viaGroup ? usersOf(row.actor.id) : [row.actor.id];
      const base = viaGroup ? { group_id: row.actor.id } : {};
      if (!row.inherited || row.target.kind === 'system') {
        for (const id of users)
          out.push({ ...row, actor: { kind: 'user', id }, indirect: { ...base } });
        continue;
      }
      const source = row.target;
      const projects = await this.#inheritingProjects(source, f.project_id, subtree);
      const from =
        source.kind === 'domain' ? { domain_id: source.id } : { project_id: targetId(source) };
      for (const id of users) {
        for (const projectId of projects) {
          out.push({
            actor: { kind: 'user', id },
            target: { kind: 'project', id: projectId },
            role_id: row.role_id,
            inherited: true,
            indirect: { ...base, ...from },
          });
        }
      }
    }
    return out;
  }

  /** The projects an inherited assignment on `source` applies to, within the filter. */
  async #inheritingProjects(
    source: Target,
    projectId: string | undefined,
    subtree: string[] | undefined,
  ): Promise<string[]> {
    if (source.kind === 'system') return [];
    if (projectId !== undefined) {
      const ids = [projectId, ...(subtree ?? [])];
      // An assignment point inside the subtree reaches only what is below it.
      if (subtree !== undefined && source.kind === 'project' && ids.includes(source.id))
        return this.descendantIds(source.id);
      return ids;
    }
    if (source.kind === 'domain') {
      const rows = await this.#db
        .selectFrom('project')
        .select('id')
        .where('domain_id', '=', source.id)
        .orderBy('name')
        .execute();
      return rows.map((r) => r.id);
    }
    return this.descendantIds(source.id);
  }

  /** One more entry per implied role, transitively; `indirect.role_id` names the prior role. */
  async #addImplied(refs: readonly ListedAssignment[]): Promise<ListedAssignment[]> {
    const rules = await this.#db
      .selectFrom('implied_role')
      .selectAll()
      .orderBy('prior_role_id')
      .orderBy('implied_role_id')
      .execute();
    if (rules.length === 0) return [...refs];
    const implies = new Map<string, string[]>();
    for (const r of rules)
      implies.set(r.prior_role_id, [...(implies.get(r.prior_role_id) ?? []), r.implied_role_id]);
    const out = [...refs];
    const walk = (ref: ListedAssignment, seen: ReadonlySet<string>): void => {
      for (const implied of implies.get(ref.role_id) ?? []) {
        if (seen.has(implied)) continue;
        const next = {
          ...ref,
          role_id: implied,
          indirect: { ...ref.indirect, role_id: ref.role_id },
        };
        out.push(next);
        walk(next, new Set([...seen, implied]));
      }
    };
    for (const ref of refs) walk(ref, new Set([ref.role_id]));
    return out;
  }

  async #rows(q: RowQuery): Promise<Assignment[]> {
    if (q.types.length === 0) return [];
    if (q.actor_ids?.length === 0 || q.target_ids?.length === 0) return [];
    let query = this.#db
      .selectFrom('assignment')
      .selectAll()
      .where('type', 'in', [...q.types])
      .orderBy('type')
      .orderBy('actor_id')
      .orderBy('target_id')
      .orderBy('role_id')
      .orderBy('inherited');
    if (q.actor_ids !== undefined) query = query.where('actor_id', 'in', [...q.actor_ids]);
    if (q.target_ids !== undefined) query = query.where('target_id', 'in', [...q.target_ids]);
    if (q.role_id !== undefined) query = query.where('role_id', '=', q.role_id);
    if (q.inherited !== undefined) query = query.where('inherited', '=', toDbBoolean(q.inherited));
    return (await query.execute()).map(fromRow);
  }

  async groupIdsOf(userId: string): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('user_group_membership')
      .select('group_id')
      .where('user_id', '=', userId)
      .execute();
    return rows.map((r) => r.group_id);
  }

  async memberIds(groupId: string): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('user_group_membership')
      .select('user_id')
      .where('group_id', '=', groupId)
      .orderBy('user_id')
      .execute();
    return rows.map((r) => r.user_id);
  }

  /** Every project below `projectId`, breadth first, one query per level. */
  async descendantIds(projectId: string): Promise<string[]> {
    const out: string[] = [];
    const seen = new Set([projectId]);
    let level = [projectId];
    while (level.length > 0) {
      const rows = await this.#db
        .selectFrom('project')
        .select('id')
        .where('parent_id', 'in', level)
        .orderBy('name')
        .execute();
      level = rows.map((r) => r.id).filter((id) => !seen.has(id));
      for (const id of level) seen.add(id);
      out.push(...level);
    }
    return out;
  }

  /** The project's ancestors, parent first (a top-level project's parent is its domain). */
  async ancestorIds(projectId: string): Promise<string[]> {
    const out: string[] = [];
    const seen = new Set([projectId]);
    let id = projectId;
    for (;;) {
      const row = await this.#db
        .selectFrom('project')
        .select(['parent_id', 'domain_id'])
        .where('id', '=', id)
        .executeTakeFirst();
      if (!row || row.parent_id === row.domain_id || seen.has(row.parent_id)) return out;
      seen.add(row.parent_id);
      out.push(row.parent_id);
      id = row.parent_id;
    }
  }
}
