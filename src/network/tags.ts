/**
 * Tags of resources with standard attributes (Neutron's tag extension): at most 50 per resource,
 * each at most 255 characters; every change moves the resource's revision on.
 */
import { withRetry } from '../common/db/portable.ts';
import { BadRequestError } from '../common/errors.ts';
import { invalidInput, notFound } from './errors.ts';
import { revise, type Db, type RevisedTable } from './standard.ts';

/** URL collection → table. */
export const TAGGED: Readonly<Record<string, RevisedTable>> = {
  networks: 'networks',
  subnets: 'subnets',
  ports: 'ports',
  'security-groups': 'security_groups',
  routers: 'routers',
  floatingips: 'floatingips',
  subnetpools: 'subnetpools',
};

const MAX_TAGS = 50;
const MAX_TAG_LENGTH = 255;

export class Tags {
  readonly #db: Db;
  readonly #now: () => Date;

  constructor(db: Db, now: () => Date = () => new Date()) {
    this.#db = db;
    this.#now = now;
  }

  async list(type: string, id: string, db: Db = this.#db): Promise<string[]> {
    const rows = await db
      .selectFrom('tags')
      .select('tag')
      .where('resource_type', '=', type)
      .where('resource_id', '=', id)
      .orderBy('tag')
      .execute();
    return rows.map((r) => r.tag);
  }

  /** Replaces (`replace`) or adds to the tags. @throws BadRequestError (400) past the limits. */
  async set(
    type: string,
    id: string,
    tags: readonly string[],
    replace: boolean,
  ): Promise<string[]> {
    for (const tag of tags) checkTag(tag);
    await withRetry(() =>
      this.#db.transaction().execute(async (trx) => {
        // The tagged row first: it serialises tag writes on one resource.
        await this.#bump(trx, type, id);
        const current = replace ? [] : await this.list(type, id, trx);
        const next = [...new Set([...current, ...tags])];
        if (next.length > MAX_TAGS)
          throw new BadRequestError(
            `Bad ${tagResourceName(type)} request: The number of tags exceed the per-resource limit of ${MAX_TAGS}.`,
            'network.bad_request',
            { details: { type: 'BadRequest' } },
          );
        await trx
          .deleteFrom('tags')
          .where('resource_type', '=', type)
          .where('resource_id', '=', id)
          .execute();
        if (next.length > 0)
          await trx
            .insertInto('tags')
            .values(next.map((tag) => ({ resource_type: type, resource_id: id, tag })))
            .execute();
      }),
    );
    return this.list(type, id);
  }

  /** @throws NotFoundError (404) TagNotFound. */
  async remove(type: string, id: string, tag: string): Promise<void> {
    const result = await this.#db
      .deleteFrom('tags')
      .where('resource_type', '=', type)
      .where('resource_id', '=', id)
      .where('tag', '=', tag)
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 0)
      throw notFound('tag', tag, `Tag ${tag} could not be found.`);
    await this.#bump(this.#db, type, id);
  }

  async clear(type: string, id: string): Promise<void> {
    await this.#db
      .deleteFrom('tags')
      .where('resource_type', '=', type)
      .where('resource_id', '=', id)
      .execute();
    await this.#bump(this.#db, type, id);
  }

  async #bump(db: Db, type: string, id: string): Promise<void> {
    const table = TAGGED[type];
    if (table === undefined) return;
    await revise(db, table, id, this.#now());
  }
}

/**
 * neutron-lib's validate_string(tag, 255). @throws BadRequestError (400) InvalidInput worded as
 * upstream words it.
 */
export function checkTag(tag: unknown): void {
  if (typeof tag !== 'string') throw invalidInput(`'${JSON.stringify(tag)}' is not a valid string`);
  if (tag.length > MAX_TAG_LENGTH)
    throw invalidInput(`'${tag}' exceeds maximum length of ${MAX_TAG_LENGTH}`);
  if (tag.includes('\u0000'))
    throw invalidInput(`'${JSON.stringify(tag)}' contains a NUL character`);
}

/** The resource name upstream's tag errors print for a URL collection (`security_groups`). */
export function tagResourceName(collection: string): string {
  return collection.replace(/-/g, '_');
}
