/** Groups and their members; a group's role assignments reach every member. */
import type { Kysely } from 'kysely';
import { DuplicateKeyError, toDbJson } from '../common/db/portable.ts';
import { NotFoundError } from '../common/errors.ts';
import type { GroupRow, IdentityDatabase } from './db/schema.ts';
import { duplicate, notFound } from './errors.ts';
import { newId } from './ids.ts';
import type { Revocations } from './revocations.ts';

export type Group = {
  id: string;
  name: string;
  domain_id: string;
  description: string | null;
  /** Attributes Keystone does not define but stores and returns. */
  extra: Record<string, unknown>;
};

const toGroup = (r: GroupRow): Group => ({
  id: r.id,
  name: r.name,
  domain_id: r.domain_id,
  description: r.description,
  extra: JSON.parse(r.extra) as Record<string, unknown>,
});

/** Keystone's words for a user who is not in a group. */
function notMember(userId: string, groupId: string): NotFoundError {
  return new NotFoundError(
    `User '${userId}' not found in group '${groupId}'`,
    'identity.group_membership_not_found',
  );
}

export class Groups {
  readonly #db: Kysely<IdentityDatabase>;
  readonly #revocations: Revocations;

  constructor(db: Kysely<IdentityDatabase>, revocations: Revocations) {
    this.#db = db;
    this.#revocations = revocations;
  }

  async create(input: {
    name: string;
    domain_id: string;
    description?: string | null | undefined;
    extra?: Record<string, unknown> | undefined;
  }): Promise<Group> {
    const row: GroupRow = {
      id: newId(),
      name: input.name,
      domain_id: input.domain_id,
      description: input.description ?? null,
      extra: toDbJson(input.extra ?? {}),
    };
    try {
      await this.#db.insertInto('identity_group').values(row).execute();
    } catch (err) {
      if (err instanceof DuplicateKeyError) {
        throw duplicate(
          'group',
          `Duplicate entry found with name ${input.name} at domain ID ${input.domain_id}`,
        );
      }
      throw err;
    }
    return toGroup(row);
  }

  async find(id: string): Promise<Group | undefined> {
    const row = await this.#db
      .selectFrom('identity_group')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toGroup(row);
  }

  async get(id: string): Promise<Group> {
    const group = await this.find(id);
    if (!group) throw notFound('group', id);
    return group;
  }

  async list(
    filter: {
      domain_id?: string | undefined;
      name?: string | undefined;
      ids?: readonly string[];
    } = {},
  ): Promise<Group[]> {
    let q = this.#db.selectFrom('identity_group').selectAll().orderBy('name').orderBy('id');
    if (filter.domain_id !== undefined) q = q.where('domain_id', '=', filter.domain_id);
    if (filter.name !== undefined) q = q.where('name', '=', filter.name);
    if (filter.ids !== undefined) {
      if (filter.ids.length === 0) return [];
      q = q.where('id', 'in', [...filter.ids]);
    }
    return (await q.execute()).map(toGroup);
  }

  async update(
    id: string,
    patch: {
      name?: string | undefined;
      description?: string | null | undefined;
      /** Merged into the stored extra attributes. */
      extra?: Record<string, unknown> | undefined;
    },
  ): Promise<Group> {
    const current = await this.get(id);
    const next: Group = {
      ...current,
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      ...(patch.description !== undefined ? { description: patch.description } : {}),
      ...(patch.extra !== undefined ? { extra: { ...current.extra, ...patch.extra } } : {}),
    };
    try {
      await this.#db
        .updateTable('identity_group')
        .set({ name: next.name, description: next.description, extra: toDbJson(next.extra) })
        .where('id', '=', id)
        .execute();
    } catch (err) {
      if (err instanceof DuplicateKeyError) {
        throw duplicate(
          'group',
          `Duplicate entry found with name ${next.name} at domain ID ${next.domain_id}`,
        );
      }
      throw err;
    }
    return next;
  }

  async delete(id: string): Promise<void> {
    await this.get(id);
    const members = await this.memberIds(id);
    await this.#db.transaction().execute(async (tx) => {
      await tx.deleteFrom('assignment').where('actor_id', '=', id).execute();
      await tx.deleteFrom('user_group_membership').where('group_id', '=', id).execute();
      await tx.deleteFrom('identity_group').where('id', '=', id).execute();
    });
    for (const userId of members) await this.#revocations.revoke({ user_id: userId });
  }

  /**
   * Adds a user to a group; idempotent.
   * @throws NotFoundError for an unknown group or user.
   */
  async addMember(groupId: string, userId: string): Promise<void> {
    await this.get(groupId);
    const user = await this.#db
      .selectFrom('identity_user')
      .select('id')
      .where('id', '=', userId)
      .executeTakeFirst();
    if (!user) throw notFound('user', userId);
    try {
      await this.#db
        .insertInto('user_group_membership')
        .values({ user_id: userId, group_id: groupId })
        .execute();
    } catch (err) {
      if (!(err instanceof DuplicateKeyError)) throw err;
    }
  }

  async removeMember(groupId: string, userId: string): Promise<void> {
    const result = await this.#db
      .deleteFrom('user_group_membership')
      .where('user_id', '=', userId)
      .where('group_id', '=', groupId)
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw notMember(userId, groupId);
    // The member's tokens may carry roles that came through the group.
    await this.#revocations.revoke({ user_id: userId });
  }

  /** @throws NotFoundError (Keystone's wording) unless the user is in the group. */
  async checkMember(groupId: string, userId: string): Promise<void> {
    if (!(await this.isMember(groupId, userId))) throw notMember(userId, groupId);
  }

  async isMember(groupId: string, userId: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('user_group_membership')
      .select('user_id')
      .where('user_id', '=', userId)
      .where('group_id', '=', groupId)
      .executeTakeFirst();
    return row !== undefined;
  }

  async memberIds(groupId: string): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('user_group_membership')
      .select('user_id')
      .where('group_id', '=', groupId)
      .execute();
    return rows.map((r) => r.user_id);
  }

  async groupsOf(userId: string): Promise<Group[]> {
    const rows = await this.#db
      .selectFrom('user_group_membership')
      .select('group_id')
      .where('user_id', '=', userId)
      .execute();
    return this.list({ ids: rows.map((r) => r.group_id) });
  }
}
