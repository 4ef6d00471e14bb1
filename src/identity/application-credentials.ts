/**
 * Application credentials: a secret a user creates for an application, bound to one project and
 * a subset of the user's roles there, optionally expiring. Deleting one revokes its tokens.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import {
  DuplicateKeyError,
  fromDbBoolean,
  toDbBoolean,
  toDbTimestamp,
} from '../common/db/portable.ts';
import type { ApplicationCredentialRow, IdentityDatabase } from './db/schema.ts';
import { authenticationFailed, duplicate, forbidden, invalid, notFound } from './errors.ts';
import { newId } from './ids.ts';
import { hashPassword, verifyPassword } from './password-hash.ts';
import type { Revocations } from './revocations.ts';

export type ApplicationCredential = {
  id: string;
  name: string;
  description: string | null;
  user_id: string;
  project_id: string;
  expires_at: string | null;
  unrestricted: boolean;
  role_ids: string[];
};

export class ApplicationCredentials {
  readonly #db: Kysely<IdentityDatabase>;
  readonly #revocations: Revocations;
  readonly #rounds: number;
  readonly #now: () => Date;

  constructor(
    db: Kysely<IdentityDatabase>,
    revocations: Revocations,
    hashRounds: number,
    now: () => Date,
  ) {
    this.#db = db;
    this.#revocations = revocations;
    this.#rounds = hashRounds;
    this.#now = now;
  }

  /**
   * Creates one; `roleIds` must be a subset of the roles the creating token carries (checked by
   * the caller, which knows the token). Returns the secret once: only its hash is stored.
   */
  async create(input: {
    user_id: string;
    project_id: string;
    name: string;
    description?: string | null | undefined;
    secret?: string | undefined;
    expires_at?: string | null | undefined;
    unrestricted?: boolean | undefined;
    role_ids: readonly string[];
  }): Promise<{ credential: ApplicationCredential; secret: string }> {
    if (input.role_ids.length === 0)
      throw invalid('An application credential needs at least one role.');
    const expiresAt = input.expires_at == null ? null : parseExpiry(input.expires_at);
    if (expiresAt !== null && expiresAt.getTime() <= this.#now().getTime()) {
      throw invalid("Invalid input for field 'expires_at': the expiry is in the past.");
    }
    const secret = input.secret ?? randomBytes(48).toString('base64url');
    const row: ApplicationCredentialRow = {
      id: newId(),
      name: input.name,
      description: input.description ?? null,
      secret_hash: await hashPassword(secret, this.#rounds),
      user_id: input.user_id,
      project_id: input.project_id,
      expires_at: expiresAt === null ? null : toDbTimestamp(expiresAt),
      unrestricted: toDbBoolean(input.unrestricted ?? false),
      created_at: toDbTimestamp(this.#now()),
    };
    const roleIds = [...new Set(input.role_ids)];
    try {
      await this.#db.transaction().execute(async (tx) => {
        await tx.insertInto('application_credential').values(row).execute();
        await tx
          .insertInto('application_credential_role')
          .values(roleIds.map((role_id) => ({ application_credential_id: row.id, role_id })))
          .execute();
      });
    } catch (err) {
      if (err instanceof DuplicateKeyError) {
        throw duplicate(
          'application credential',
          `An application credential with the name ${input.name} already exists for this user`,
        );
      }
      throw err;
    }
    return { credential: toCredential(row, roleIds), secret };
  }

  async find(id: string): Promise<ApplicationCredential | undefined> {
    const row = await this.#db
      .selectFrom('application_credential')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) return undefined;
    return toCredential(row, await this.#roleIds(id));
  }

  async get(userId: string, id: string): Promise<ApplicationCredential> {
    const cred = await this.find(id);
    if (!cred || cred.user_id !== userId) throw notFound('application credential', id);
    return cred;
  }

  async list(
    userId: string,
    filter: { name?: string | undefined } = {},
  ): Promise<ApplicationCredential[]> {
    let q = this.#db
      .selectFrom('application_credential')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('name');
    if (filter.name !== undefined) q = q.where('name', '=', filter.name);
    const rows = await q.execute();
    if (rows.length === 0) return [];
    const roles = await this.#db
      .selectFrom('application_credential_role')
      .selectAll()
      .where(
        'application_credential_id',
        'in',
        rows.map((r) => r.id),
      )
      .execute();
    return rows.map((r) =>
      toCredential(
        r,
        roles.filter((x) => x.application_credential_id === r.id).map((x) => x.role_id),
      ),
    );
  }

  async delete(userId: string, id: string): Promise<void> {
    await this.get(userId, id);
    await this.#db.deleteFrom('application_credential').where('id', '=', id).execute();
    await this.#revocations.revoke({ application_credential_id: id });
  }

  /** The credential whose secret this is; any mismatch is the same authentication failure. */
  async authenticate(credentialId: string, secret: string): Promise<ApplicationCredential> {
    const row = await this.#db
      .selectFrom('application_credential')
      .selectAll()
      .where('id', '=', credentialId)
      .executeTakeFirst();
    if (!row || !(await verifyPassword(secret, row.secret_hash))) throw authenticationFailed();
    if (row.expires_at !== null && Date.parse(row.expires_at) <= this.#now().getTime())
      throw authenticationFailed();
    return toCredential(row, await this.#roleIds(row.id));
  }

  async findByName(userId: string, name: string): Promise<ApplicationCredential | undefined> {
    const row = await this.#db
      .selectFrom('application_credential')
      .select('id')
      .where('user_id', '=', userId)
      .where('name', '=', name)
      .executeTakeFirst();
    return row ? this.find(row.id) : undefined;
  }

  /** A restricted credential may not be used to make more credentials (Keystone's rule). */
  static checkMayCreate(restricted: boolean): void {
    if (restricted) {
      throw forbidden(
        'Using method application_credential is not allowed for managing additional application credentials.',
      );
    }
  }

  async #roleIds(id: string): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('application_credential_role')
      .select('role_id')
      .where('application_credential_id', '=', id)
      .execute();
    return rows.map((r) => r.role_id);
  }
}

const ISO_8601 =
  /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * An ISO 8601 date and time as Keystone reads `expires_at`; one without a zone is UTC (JavaScript
 * would read it as local time).
 * @throws BadRequestError when it is not one.
 */
export function parseExpiry(value: string): Date {
  const m = ISO_8601.exec(value.trim());
  const date = m ? fromParts(m) : undefined;
  if (date === undefined) {
    throw invalid(`Invalid input for field 'expires_at': '${value}' is not a date and time.`);
  }
  return date;
}

function fromParts(m: RegExpExecArray): Date | undefined {
  const [, day = '', time = '00:00:00', fraction = '0', zone = 'Z'] = m;
  // The calendar day must exist: JavaScript would roll 30 February over into March.
  const midnight = new Date(`${day}T00:00:00Z`);
  if (Number.isNaN(midnight.getTime()) || !midnight.toISOString().startsWith(day)) return undefined;
  const seconds = time.length === 5 ? `${time}:00` : time;
  const millis = fraction.padEnd(3, '0').slice(0, 3);
  const offset = zone.toUpperCase() === 'Z' ? 'Z' : `${zone.slice(0, 3)}:${zone.slice(-2)}`;
  const date = new Date(`${day}T${seconds}.${millis}${offset}`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function toCredential(row: ApplicationCredentialRow, roleIds: string[]): ApplicationCredential {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    user_id: row.user_id,
    project_id: row.project_id,
    expires_at: row.expires_at,
    unrestricted: fromDbBoolean(row.unrestricted),
    role_ids: roleIds,
  };
}
