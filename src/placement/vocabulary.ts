/**
 * Resource classes and traits: the standard ones (synchronised at start from the os-resource-
 * classes and os-traits lists) and the operator's `CUSTOM_*` ones.
 */
import { DuplicateKeyError, toDbTimestamp } from '../common/db/portable.ts';
import { badRequest, conflict, notFound } from './errors.ts';
import type { Db } from './provider-state.ts';
import { STANDARD_RESOURCE_CLASSES } from './standard-resource-classes.ts';
import { STANDARD_TRAITS } from './standard-traits.ts';
import { write } from './writes.ts';

/** Custom resource classes are numbered from here, as upstream numbers them. */
export const FIRST_CUSTOM_CLASS_ID = 10000;

export const CUSTOM_NAME = /^CUSTOM_[A-Z0-9_]+$/;
const STANDARD_CLASS_SET = new Set(STANDARD_RESOURCE_CLASSES);
const STANDARD_TRAIT_SET = new Set(STANDARD_TRAITS);

export function isStandardClass(name: string): boolean {
  return STANDARD_CLASS_SET.has(name);
}

export function isStandardTrait(name: string): boolean {
  return STANDARD_TRAIT_SET.has(name);
}

export class Vocabulary {
  readonly #db: Db;
  readonly #now: () => Date;

  constructor(db: Db, now: () => Date = () => new Date()) {
    this.#db = db;
    this.#now = now;
  }

  /** Adds the standard classes and traits this database lacks (several processes may race). */
  async sync(): Promise<void> {
    const at = toDbTimestamp(this.#now());
    const classes = new Set(
      (await this.#db.selectFrom('resource_classes').select('name').execute()).map((r) => r.name),
    );
    const traits = new Set(
      (await this.#db.selectFrom('traits').select('name').execute()).map((r) => r.name),
    );
    const newClasses = STANDARD_RESOURCE_CLASSES.map((name, id) => ({ id, name })).filter(
      (c) => !classes.has(c.name),
    );
    const newTraits = STANDARD_TRAITS.filter((t) => !traits.has(t));
    if (newClasses.length === 0 && newTraits.length === 0) return;
    try {
      await write(this.#db, async (trx) => {
        if (newClasses.length > 0)
          await trx
            .insertInto('resource_classes')
            .values(newClasses.map((c) => ({ ...c, created_at: at, updated_at: at })))
            .execute();
        for (let i = 0; i < newTraits.length; i += 200)
          await trx
            .insertInto('traits')
            .values(
              newTraits.slice(i, i + 200).map((name) => ({ name, created_at: at, updated_at: at })),
            )
            .execute();
      });
    } catch (err) {
      // Another process synchronised first.
      if (!(err instanceof DuplicateKeyError)) throw err;
    }
  }

  /** @throws BadRequestError (400) for a name outside `CUSTOM_*`; ConflictError (409) when taken. */
  async createClass(name: string): Promise<void> {
    checkCustomClass(name);
    if (!(await this.ensureClass(name)))
      throw conflict(
        `Conflicting resource class already exists: ${name}`,
        'placement.duplicate_name',
      );
  }

  /** Creates the class unless it exists. @returns whether it was created. */
  async ensureClass(name: string): Promise<boolean> {
    checkCustomClass(name);
    const at = toDbTimestamp(this.#now());
    try {
      return await write(this.#db, async (trx) => {
        const found = await trx
          .selectFrom('resource_classes')
          .select('id')
          .where('name', '=', name)
          .executeTakeFirst();
        if (found) return false;
        const top = await trx
          .selectFrom('resource_classes')
          .select((eb) => eb.fn.max('id').as('top'))
          .executeTakeFirst();
        const id = Math.max(FIRST_CUSTOM_CLASS_ID, Number(top?.top ?? 0) + 1);
        await trx
          .insertInto('resource_classes')
          .values({ id, name, created_at: at, updated_at: at })
          .execute();
        return true;
      });
    } catch (err) {
      if (err instanceof DuplicateKeyError) return this.ensureClass(name);
      throw err;
    }
  }

  /** 1.2–1.6: renames a custom class. */
  async renameClass(from: string, to: string): Promise<void> {
    if (isStandardClass(from)) throw badRequest(`Cannot update standard resource class ${from}`);
    checkCustomClass(to);
    try {
      await write(this.#db, async (trx) => {
        const result = await trx
          .updateTable('resource_classes')
          .set({ name: to, updated_at: toDbTimestamp(this.#now()) })
          .where('name', '=', from)
          .executeTakeFirst();
        if (Number(result.numUpdatedRows) === 0) throw notFound(`No such resource class ${from}.`);
      });
    } catch (err) {
      if (err instanceof DuplicateKeyError)
        throw conflict(`Resource class already exists: ${to}`, 'placement.duplicate_name');
      throw err;
    }
  }

  async deleteClass(name: string): Promise<void> {
    if (isStandardClass(name)) throw badRequest(`Cannot delete standard resource class ${name}`);
    await write(this.#db, async (trx) => {
      const row = await trx
        .selectFrom('resource_classes')
        .select('id')
        .where('name', '=', name)
        .executeTakeFirst();
      if (!row) throw notFound(`No such resource class ${name}.`);
      const used = await trx
        .selectFrom('inventories')
        .select('resource_provider_id')
        .where('resource_class_id', '=', row.id)
        .executeTakeFirst();
      if (used)
        throw conflict(
          `Unable to delete resource class ${name}. The resource class is in use in inventory.`,
        );
      await trx.deleteFrom('resource_classes').where('id', '=', row.id).execute();
    });
  }

  /** Creates a custom trait unless it exists. @returns whether it was created. */
  async ensureTrait(name: string): Promise<boolean> {
    if (!CUSTOM_NAME.test(name) || name.length > 255)
      throw badRequest(
        'The trait is invalid. A valid trait must be no longer than 255 characters, start with the prefix "CUSTOM_" and use following characters: "A"-"Z", "0"-"9" and "_"',
      );
    const at = toDbTimestamp(this.#now());
    try {
      return await write(this.#db, async (trx) => {
        const found = await trx
          .selectFrom('traits')
          .select('id')
          .where('name', '=', name)
          .executeTakeFirst();
        if (found) return false;
        await trx.insertInto('traits').values({ name, created_at: at, updated_at: at }).execute();
        return true;
      });
    } catch (err) {
      if (err instanceof DuplicateKeyError) return false;
      throw err;
    }
  }

  async deleteTrait(name: string): Promise<void> {
    if (isStandardTrait(name)) throw badRequest(`Cannot delete standard trait ${name}.`);
    await write(this.#db, async (trx) => {
      const row = await trx
        .selectFrom('traits')
        .select('id')
        .where('name', '=', name)
        .executeTakeFirst();
      if (!row) throw notFound(`No such trait(s): ${name}.`);
      const used = await trx
        .selectFrom('resource_provider_traits')
        .select('resource_provider_id')
        .where('trait_id', '=', row.id)
        .executeTakeFirst();
      if (used) throw conflict(`The trait ${name} is in use by a resource provider.`);
      await trx.deleteFrom('traits').where('id', '=', row.id).execute();
    });
  }
}

function checkCustomClass(name: string): void {
  if (!CUSTOM_NAME.test(name) || name.length > 255)
    throw badRequest(
      `JSON does not validate: '${name}' does not match '^CUSTOM_[A-Z0-9_]+$': a custom resource class name must start with CUSTOM_ and use only A-Z, 0-9 and _`,
    );
}
