/**
 * Key pairs: public keys (OpenSSH or X.509) a user keeps under a name, one name per user. A key
 * pair created without a key gets a new RSA key, whose private half is returned once and kept
 * nowhere.
 */
import type { Kysely, Selectable } from 'kysely';
import { DuplicateKeyError, toDbTimestamp } from '../common/db/portable.ts';
import { BadRequestError, ConflictError, NotFoundError } from '../common/errors.ts';
import type { ComputeDatabase, KeyPairRow } from './db/schema.ts';
import { fingerprintOf, generateKeyPair } from './ssh-keys.ts';

export type KeyPair = Selectable<KeyPairRow>;

export type KeyPairType = 'ssh' | 'x509';

function keyPairNotFound(name: string, userId: string): NotFoundError {
  return new NotFoundError(
    `Keypair ${name} not found for user ${userId}`,
    'compute.keypair_not_found',
  );
}

export class KeyPairs {
  readonly #db: Kysely<ComputeDatabase>;
  readonly #now: () => Date;

  constructor(db: Kysely<ComputeDatabase>, now: () => Date = () => new Date()) {
    this.#db = db;
    this.#now = now;
  }

  /** A user's key pairs in name order; `marker` is the name to start after. */
  async list(userId: string, page: { limit?: number; marker?: string } = {}): Promise<KeyPair[]> {
    let q = this.#db
      .selectFrom('key_pairs')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('name');
    if (page.marker !== undefined) {
      const marker = await this.#db
        .selectFrom('key_pairs')
        .select('name')
        .where('user_id', '=', userId)
        .where('name', '=', page.marker)
        .executeTakeFirst();
      if (!marker)
        throw new BadRequestError(
          `Marker ${page.marker} could not be found.`,
          'compute.marker_not_found',
        );
      q = q.where('name', '>', marker.name);
    }
    if (page.limit !== undefined) q = q.limit(page.limit);
    return q.execute();
  }

  /** @throws NotFoundError (404) KeypairNotFound. */
  async get(userId: string, name: string): Promise<KeyPair> {
    const row = await this.#db
      .selectFrom('key_pairs')
      .selectAll()
      .where('user_id', '=', userId)
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row) throw keyPairNotFound(name, userId);
    return row;
  }

  /**
   * Imports `publicKey`, or generates a key pair when it is undefined.
   * @returns the key pair, and the private key when one was generated.
   * @throws BadRequestError (400) for a key that is not of `type`; ConflictError (409) for a
   *   name the user already has.
   */
  async create(
    userId: string,
    name: string,
    type: KeyPairType,
    publicKey: string | undefined,
  ): Promise<{ keyPair: KeyPair; privateKey?: string }> {
    let key = publicKey;
    let fingerprint: string | undefined;
    let privateKey: string | undefined;
    if (key === undefined) {
      const generated = generateKeyPair('Generated-by-Nova');
      key = generated.publicKey;
      fingerprint = generated.fingerprint;
      privateKey = generated.privateKey;
    } else {
      fingerprint = fingerprintOf(key, type);
      if (fingerprint === undefined)
        throw new BadRequestError(
          'Keypair data is invalid: failed to generate fingerprint',
          'compute.invalid_keypair',
        );
    }
    try {
      await this.#db
        .insertInto('key_pairs')
        .values({
          user_id: userId,
          name,
          fingerprint,
          public_key: key,
          type,
          created_at: toDbTimestamp(this.#now()),
        })
        .execute();
    } catch (err) {
      if (!(err instanceof DuplicateKeyError)) throw err;
      throw new ConflictError(`Key pair '${name}' already exists.`, 'compute.keypair_exists');
    }
    const keyPair = await this.get(userId, name);
    return privateKey !== undefined ? { keyPair, privateKey } : { keyPair };
  }

  /** @throws NotFoundError (404) KeypairNotFound. */
  async delete(userId: string, name: string): Promise<void> {
    const result = await this.#db
      .deleteFrom('key_pairs')
      .where('user_id', '=', userId)
      .where('name', '=', name)
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw keyPairNotFound(name, userId);
  }

  async count(userId: string): Promise<number> {
    const row = await this.#db
      .selectFrom('key_pairs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('user_id', '=', userId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }
}
