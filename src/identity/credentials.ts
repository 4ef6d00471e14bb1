/**
 * Credentials (`/v3/credentials`): secrets a user keeps in identity for other services, EC2-style
 * access/secret pairs above all. An EC2 credential's `blob` is a JSON string holding `access` and
 * `secret`; its id is the SHA-256 of the access key (Keystone's rule, so the EC2 token API can find
 * it by the key), and it must name a project.
 *
 * The blob is stored as plain text for now; Keystone encrypts it at rest with its credential keys,
 * which is a later issue here.
 */
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { DuplicateKeyError, fromDbJson, toDbJson } from '../common/db/portable.ts';
import type { CredentialRow, IdentityDatabase } from './db/schema.ts';
import { duplicate, invalid, notFound } from './errors.ts';
import { newId } from './ids.ts';

export type Credential = {
  id: string;
  user_id: string;
  project_id: string | null;
  type: string;
  blob: string;
  /** Attributes Keystone keeps beside the known ones and returns as they came. */
  extra: Record<string, unknown>;
};

export type CredentialInput = {
  user_id: string;
  project_id?: string | null | undefined;
  type: string;
  blob: string;
  extra?: Record<string, unknown> | undefined;
};

/** Blob keys that bind an EC2 credential to a delegation; an update may not change them. */
const SCOPE_KEYS = ['trust_id', 'app_cred_id', 'access_token_id', 'access_id'] as const;

/** Keystone compares the type case-insensitively when it decides a credential is EC2. */
export function isEc2(type: string): boolean {
  return type.toLowerCase() === 'ec2';
}

/** The SHA-256 hex digest of an EC2 access key: the credential's id and its lookup key. */
export function hashAccessKey(access: string): string {
  return createHash('sha256').update(access, 'utf8').digest('hex');
}

/**
 * The parsed blob of an EC2 credential.
 * @throws BadRequestError when it is not a JSON object with a string `access`.
 */
export function ec2Blob(blob: string): Record<string, unknown> & { access: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(blob);
  } catch {
    throw invalid('Invalid blob in credential');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalid(
      "Invalid input for field 'blob': an EC2 credential's blob is a JSON object with 'access' and 'secret'.",
    );
  }
  const access = (parsed as Record<string, unknown>)['access'];
  if (typeof access !== 'string' || access === '') {
    throw invalid(
      "Invalid input for field 'blob': an EC2 credential's blob needs an 'access' key.",
    );
  }
  return parsed as Record<string, unknown> & { access: string };
}

function toCredential(row: CredentialRow): Credential {
  return {
    id: row.id,
    user_id: row.user_id,
    project_id: row.project_id,
    type: row.type,
    blob: row.blob,
    extra: fromDbJson(row.extra) as Record<string, unknown>,
  };
}

export class Credentials {
  readonly #db: Kysely<IdentityDatabase>;

  constructor(db: Kysely<IdentityDatabase>) {
    this.#db = db;
  }

  /**
   * Stores a credential. For EC2 the id is derived from the access key, the project is required,
   * and a credential made with an application-credential token records it in the blob (so tokens
   * later obtained through it are limited the same way, as in Keystone).
   * @throws BadRequestError on an EC2 blob without `access` or without a project.
   * @throws ConflictError when an EC2 credential with the same access key exists.
   */
  async create(
    input: CredentialInput,
    delegation: { applicationCredentialId?: string | undefined } = {},
  ): Promise<Credential> {
    let id = newId();
    let blob = input.blob;
    let keyHash: string | null = null;
    if (isEc2(input.type)) {
      if (input.project_id == null) {
        throw invalid(
          "Invalid input for field 'project_id': an EC2 credential needs the project it is for.",
        );
      }
      const parsed = ec2Blob(input.blob);
      id = hashAccessKey(parsed.access);
      keyHash = id;
      if (delegation.applicationCredentialId !== undefined) {
        blob = JSON.stringify({ ...parsed, app_cred_id: delegation.applicationCredentialId });
      }
    }
    const row: CredentialRow = {
      id,
      user_id: input.user_id,
      project_id: input.project_id ?? null,
      type: input.type,
      blob,
      key_hash: keyHash,
      extra: toDbJson(input.extra ?? {}),
    };
    try {
      await this.#db.insertInto('credential').values(row).execute();
    } catch (err) {
      if (err instanceof DuplicateKeyError) throw duplicate('credential', 'Duplicate entry');
      throw err;
    }
    return toCredential(row);
  }

  async find(id: string): Promise<Credential | undefined> {
    const row = await this.#db
      .selectFrom('credential')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toCredential(row);
  }

  /** @throws NotFoundError */
  async get(id: string): Promise<Credential> {
    const credential = await this.find(id);
    if (!credential) throw notFound('credential', id);
    return credential;
  }

  async list(
    filter: { user_id?: string | undefined; type?: string | undefined } = {},
  ): Promise<Credential[]> {
    let q = this.#db.selectFrom('credential').selectAll().orderBy('id');
    if (filter.user_id !== undefined) q = q.where('user_id', '=', filter.user_id);
    if (filter.type !== undefined) q = q.where('type', '=', filter.type);
    return (await q.execute()).map(toCredential);
  }

  /**
   * Changes a credential; the id stays, even when an EC2 access key changes (as in Keystone).
   * @throws NotFoundError, or BadRequestError when the result would be an invalid EC2 credential
   *   or the update changes the delegation an EC2 blob is bound to.
   */
  async update(
    id: string,
    patch: Partial<Omit<CredentialInput, 'extra'>> & { extra?: Record<string, unknown> },
  ): Promise<Credential> {
    const current = await this.get(id);
    const next: Credential = {
      ...current,
      ...(patch.user_id !== undefined ? { user_id: patch.user_id } : {}),
      ...(patch.project_id !== undefined ? { project_id: patch.project_id } : {}),
      ...(patch.type !== undefined ? { type: patch.type } : {}),
      ...(patch.blob !== undefined ? { blob: patch.blob } : {}),
      extra: { ...current.extra, ...patch.extra },
    };
    let keyHash: string | null = null;
    if (isEc2(next.type)) {
      if (next.project_id === null) {
        throw invalid(
          "Invalid input for field 'project_id': an EC2 credential needs the project it is for.",
        );
      }
      const blob = ec2Blob(next.blob);
      keyHash = hashAccessKey(blob.access);
      if (isEc2(current.type) && patch.blob !== undefined) {
        const old = ec2Blob(current.blob);
        for (const key of SCOPE_KEYS) {
          if (JSON.stringify(old[key] ?? null) !== JSON.stringify(blob[key] ?? null))
            throw invalid(`${key} can not be updated for credential`);
        }
      }
    }
    await this.#db
      .updateTable('credential')
      .set({
        user_id: next.user_id,
        project_id: next.project_id,
        type: next.type,
        blob: next.blob,
        key_hash: keyHash,
        extra: toDbJson(next.extra),
      })
      .where('id', '=', id)
      .execute();
    return next;
  }

  /** @throws NotFoundError */
  async delete(id: string): Promise<void> {
    const result = await this.#db.deleteFrom('credential').where('id', '=', id).executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw notFound('credential', id);
  }
}
