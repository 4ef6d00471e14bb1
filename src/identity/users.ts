/**
 * Users and their passwords (Keystone's SQL identity backend): bcrypt hashes computed off the
 * event loop, password rules, history and failed-login lockout. Changing a password, disabling or
 * deleting a user revokes the user's tokens.
 */
import type { Kysely } from 'kysely';
import {
  DuplicateKeyError,
  fromDbBoolean,
  toDbBoolean,
  toDbJson,
  toDbTimestamp,
} from '../common/db/portable.ts';
import type { IdentityConfig } from './config.ts';
import { hashPassword, verifyPassword } from './password-hash.ts';
import type { IdentityDatabase, UserRow } from './db/schema.ts';
import { authenticationFailed, duplicate, invalid, notFound } from './errors.ts';
import { newId } from './ids.ts';
import type { Revocations } from './revocations.ts';

export type UserOptions = {
  ignore_lockout_failure_attempts?: boolean;
  ignore_password_expiry?: boolean;
  ignore_change_password_upon_first_use?: boolean;
  lock_password?: boolean;
  multi_factor_auth_enabled?: boolean;
};

export type User = {
  id: string;
  name: string;
  domain_id: string;
  enabled: boolean;
  default_project_id: string | null;
  description: string | null;
  email: string | null;
  options: UserOptions;
  extra: Record<string, unknown>;
  password_expires_at: string | null;
};

export type UserFilter = {
  domain_id?: string | undefined;
  name?: string | undefined;
  enabled?: boolean | undefined;
  ids?: readonly string[] | undefined;
};

type PasswordPolicy = Pick<
  IdentityConfig,
  | 'password_hash_rounds'
  | 'lockout_failure_attempts'
  | 'lockout_duration'
  | 'password_min_length'
  | 'password_regex'
  | 'password_regex_description'
  | 'unique_last_password_count'
>;

const MAX_PASSWORD_LENGTH = 4096;

/** A hash to compare against when the user does not exist, so timing does not tell. */
let dummyHash: Promise<string> | undefined;

export class Users {
  readonly #db: Kysely<IdentityDatabase>;
  readonly #revocations: Revocations;
  readonly #policy: PasswordPolicy;
  readonly #now: () => Date;

  constructor(
    db: Kysely<IdentityDatabase>,
    revocations: Revocations,
    policy: PasswordPolicy,
    now: () => Date,
  ) {
    this.#db = db;
    this.#revocations = revocations;
    this.#policy = policy;
    this.#now = now;
  }

  async create(input: {
    id?: string;
    name: string;
    domain_id: string;
    password?: string | null | undefined;
    enabled?: boolean | undefined;
    default_project_id?: string | null | undefined;
    description?: string | null | undefined;
    email?: string | null | undefined;
    options?: UserOptions | undefined;
    extra?: Record<string, unknown> | undefined;
  }): Promise<User> {
    const now = this.#now();
    const row: UserRow = {
      id: input.id ?? newId(),
      name: input.name,
      domain_id: input.domain_id,
      enabled: toDbBoolean(input.enabled ?? true),
      default_project_id: input.default_project_id ?? null,
      description: input.description ?? null,
      email: input.email ?? null,
      extra: toDbJson(input.extra ?? {}),
      options: toDbJson(input.options ?? {}),
      created_at: toDbTimestamp(now),
      failed_auth_count: 0,
      failed_auth_at: null,
    };
    const hash = input.password == null ? undefined : await this.#hashNew(input.password);
    try {
      await this.#db.transaction().execute(async (tx) => {
        await tx.insertInto('identity_user').values(row).execute();
        if (hash !== undefined) {
          await tx
            .insertInto('password')
            .values({
              user_id: row.id,
              hash,
              created_at: toDbTimestamp(now),
              expires_at: null,
              self_service: 0,
            })
            .execute();
        }
      });
    } catch (err) {
      if (err instanceof DuplicateKeyError) {
        throw duplicate(
          'user',
          `Duplicate entry found with name ${input.name} at domain ID ${input.domain_id}`,
        );
      }
      throw err;
    }
    return toUser(row);
  }

  async find(id: string): Promise<User | undefined> {
    const row = await this.#db
      .selectFrom('identity_user')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toUser(row);
  }

  async get(id: string): Promise<User> {
    const user = await this.find(id);
    if (!user) throw notFound('user', id);
    return user;
  }

  async findByName(name: string, domainId: string): Promise<User | undefined> {
    const row = await this.#db
      .selectFrom('identity_user')
      .selectAll()
      .where('name', '=', name)
      .where('domain_id', '=', domainId)
      .executeTakeFirst();
    return row && toUser(row);
  }

  async list(filter: UserFilter = {}): Promise<User[]> {
    let q = this.#db.selectFrom('identity_user').selectAll().orderBy('name').orderBy('id');
    if (filter.domain_id !== undefined) q = q.where('domain_id', '=', filter.domain_id);
    if (filter.name !== undefined) q = q.where('name', '=', filter.name);
    if (filter.enabled !== undefined) q = q.where('enabled', '=', toDbBoolean(filter.enabled));
    if (filter.ids !== undefined) {
      if (filter.ids.length === 0) return [];
      q = q.where('id', 'in', [...filter.ids]);
    }
    return (await q.execute()).map(toUser);
  }

  async update(
    id: string,
    patch: {
      name?: string | undefined;
      enabled?: boolean | undefined;
      default_project_id?: string | null | undefined;
      description?: string | null | undefined;
      email?: string | null | undefined;
      password?: string | null | undefined;
      options?: UserOptions | undefined;
      extra?: Record<string, unknown> | undefined;
    },
  ): Promise<User> {
    const current = await this.get(id);
    const next: User = {
      ...current,
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      ...(patch.enabled !== undefined ? { enabled: patch.enabled } : {}),
      ...(patch.default_project_id !== undefined
        ? { default_project_id: patch.default_project_id }
        : {}),
      ...(patch.description !== undefined ? { description: patch.description } : {}),
      ...(patch.email !== undefined ? { email: patch.email } : {}),
      ...(patch.options !== undefined ? { options: { ...current.options, ...patch.options } } : {}),
      ...(patch.extra !== undefined ? { extra: { ...current.extra, ...patch.extra } } : {}),
    };
    const hash = patch.password == null ? undefined : await this.#hashNew(patch.password, id);
    try {
      await this.#db
        .updateTable('identity_user')
        .set({
          name: next.name,
          enabled: toDbBoolean(next.enabled),
          default_project_id: next.default_project_id,
          description: next.description,
          email: next.email,
          options: toDbJson(next.options),
          extra: toDbJson(next.extra),
          // An admin re-enabling a user also lifts a lockout.
          ...(patch.enabled === true ? { failed_auth_count: 0, failed_auth_at: null } : {}),
        })
        .where('id', '=', id)
        .execute();
    } catch (err) {
      if (err instanceof DuplicateKeyError) {
        throw duplicate(
          'user',
          `Duplicate entry found with name ${next.name} at domain ID ${next.domain_id}`,
        );
      }
      throw err;
    }
    if (hash !== undefined) await this.#storePassword(id, hash, false);
    if ((current.enabled && !next.enabled) || hash !== undefined)
      await this.#revocations.revoke({ user_id: id });
    return next;
  }

  async delete(id: string): Promise<void> {
    await this.get(id);
    await this.#db.transaction().execute(async (tx) => {
      await tx.deleteFrom('assignment').where('actor_id', '=', id).execute();
      // Application credentials and group memberships cascade; credentials have no foreign key.
      await tx.deleteFrom('credential').where('user_id', '=', id).execute();
      await tx.deleteFrom('identity_user').where('id', '=', id).execute();
    });
    await this.#revocations.revoke({ user_id: id });
  }

  /**
   * The user whose password this is, or an authentication failure that never says which part
   * was wrong. Counts failures and locks the user out as configured.
   */
  async checkPassword(user: User | undefined, password: string): Promise<User> {
    if (!user) {
      dummyHash ??= hashPassword('not a password', this.#policy.password_hash_rounds);
      await verifyPassword(password, await dummyHash);
      throw authenticationFailed();
    }
    const row = await this.#db
      .selectFrom('identity_user')
      .select(['failed_auth_count', 'failed_auth_at'])
      .where('id', '=', user.id)
      .executeTakeFirstOrThrow();
    const lockoutOn =
      this.#policy.lockout_failure_attempts > 0 &&
      user.options.ignore_lockout_failure_attempts !== true;
    if (lockoutOn && this.#lockedOut(row.failed_auth_count, row.failed_auth_at)) {
      // Still compare, so a locked account answers in the same time as any other failure.
      await this.#compare(user.id, password);
      throw authenticationFailed();
    }
    const ok = password.length <= MAX_PASSWORD_LENGTH && (await this.#compare(user.id, password));
    if (!ok) {
      if (lockoutOn) {
        const expired = row.failed_auth_at !== null && this.#lockoutEnded(row.failed_auth_at);
        await this.#db
          .updateTable('identity_user')
          .set({
            failed_auth_count: expired ? 1 : row.failed_auth_count + 1,
            failed_auth_at: toDbTimestamp(this.#now()),
          })
          .where('id', '=', user.id)
          .execute();
      }
      throw authenticationFailed();
    }
    if (row.failed_auth_count > 0) {
      await this.#db
        .updateTable('identity_user')
        .set({ failed_auth_count: 0, failed_auth_at: null })
        .where('id', '=', user.id)
        .execute();
    }
    if (!user.enabled) throw authenticationFailed();
    return user;
  }

  /** The self-service change (`POST /v3/users/{id}/password`): the old password must match. */
  async changeOwnPassword(id: string, originalPassword: string, password: string): Promise<void> {
    const user = await this.get(id);
    await this.checkPassword(user, originalPassword);
    const hash = await this.#hashNew(password, id);
    await this.#storePassword(id, hash, true);
    await this.#revocations.revoke({ user_id: id });
  }

  async #compare(userId: string, password: string): Promise<boolean> {
    const current = await this.#db
      .selectFrom('password')
      .select('hash')
      .where('user_id', '=', userId)
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (!current) {
      dummyHash ??= hashPassword('not a password', this.#policy.password_hash_rounds);
      await verifyPassword(password, await dummyHash);
      return false;
    }
    return verifyPassword(password, current.hash);
  }

  #lockedOut(count: number, at: string | null): boolean {
    return count >= this.#policy.lockout_failure_attempts && at !== null && !this.#lockoutEnded(at);
  }

  #lockoutEnded(at: string): boolean {
    return this.#now().getTime() - Date.parse(at) >= this.#policy.lockout_duration * 1000;
  }

  /** Checks the password rules (and history, for an existing user) and hashes it. */
  async #hashNew(password: string, userId?: string): Promise<string> {
    if (password.length === 0 || password.length > MAX_PASSWORD_LENGTH) {
      throw invalid(
        `Invalid input for field 'password': a password has 1 to ${MAX_PASSWORD_LENGTH} characters.`,
      );
    }
    if ([...password].length < this.#policy.password_min_length) {
      throw invalid(
        `Password validation error: The password does not meet the requirements: at least ${this.#policy.password_min_length} characters.`,
      );
    }
    const { password_regex: regex, password_regex_description: description } = this.#policy;
    if (regex !== undefined && !new RegExp(regex).test(password)) {
      throw invalid(
        `Password validation error: The password does not meet the requirements: ${description ?? regex}.`,
      );
    }
    if (userId !== undefined && this.#policy.unique_last_password_count > 0) {
      const recent = await this.#db
        .selectFrom('password')
        .select('hash')
        .where('user_id', '=', userId)
        .orderBy('id', 'desc')
        .limit(this.#policy.unique_last_password_count)
        .execute();
      for (const { hash } of recent) {
        if (await verifyPassword(password, hash)) {
          throw invalid(
            `Password validation error: The new password cannot be identical to a previous password. The total number which includes the new password must be unique is ${this.#policy.unique_last_password_count}.`,
          );
        }
      }
    }
    return hashPassword(password, this.#policy.password_hash_rounds);
  }

  async #storePassword(userId: string, hash: string, selfService: boolean): Promise<void> {
    await this.#db
      .insertInto('password')
      .values({
        user_id: userId,
        hash,
        created_at: toDbTimestamp(this.#now()),
        expires_at: null,
        self_service: toDbBoolean(selfService),
      })
      .execute();
  }
}

function toUser(row: UserRow): User {
  return {
    id: row.id,
    name: row.name,
    domain_id: row.domain_id,
    enabled: fromDbBoolean(row.enabled),
    default_project_id: row.default_project_id,
    description: row.description,
    email: row.email,
    options: JSON.parse(row.options) as UserOptions,
    extra: JSON.parse(row.extra) as Record<string, unknown>,
    password_expires_at: null,
  };
}
