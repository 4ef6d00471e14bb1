/**
 * Flavors: the sizes servers come in. Public flavors are for every project; a private one only
 * for the projects on its access list (and admins). Extra specs are free-form key/value pairs
 * the scheduler and drivers read.
 */
import { sql } from 'kysely';
import type { Kysely, Selectable } from 'kysely';
import { randomUUID } from 'node:crypto';
import { DuplicateKeyError, toDbBoolean, toDbTimestamp, withRetry } from '../common/db/portable.ts';
import { BadRequestError, ConflictError, NotFoundError } from '../common/errors.ts';
import type { ComputeDatabase, FlavorRow } from './db/schema.ts';

export type Db = Kysely<ComputeDatabase>;

export type Viewer = { readonly projectId: string | undefined; readonly isAdmin: boolean };

/** A flavor row as read (the generated id is a number by then). */
export type FlavorRecord = Selectable<FlavorRow>;

export type Flavor = {
  readonly row: FlavorRecord;
  readonly extraSpecs: Readonly<Record<string, string>>;
};

export type FlavorInput = {
  name: string;
  id?: string;
  ram: number;
  vcpus: number;
  disk: number;
  ephemeral?: number;
  swap?: number;
  rxtxFactor?: number;
  isPublic?: boolean;
  description?: string | null;
};

export type FlavorListQuery = {
  /**
   * true: public only; false: private only (those open to the viewer, all for admins); 'all':
   * every flavor (admins); undefined: public ones and those open to the viewer's project.
   */
  isPublic?: boolean | 'all' | undefined;
  minRam?: number;
  minDisk?: number;
  sortKey: string;
  sortDir: 'asc' | 'desc';
  limit?: number;
  marker?: string;
};

/** Sort keys and their columns, as Nova's flavor list takes them. */
export const FLAVOR_SORT_KEYS: Readonly<Record<string, keyof FlavorRecord>> = {
  created_at: 'created_at',
  description: 'description',
  disabled: 'disabled',
  ephemeral_gb: 'ephemeral_gb',
  flavorid: 'flavorid',
  id: 'id',
  is_public: 'is_public',
  memory_mb: 'memory_mb',
  name: 'name',
  root_gb: 'root_gb',
  rxtx_factor: 'rxtx_factor',
  swap: 'swap',
  updated_at: 'updated_at',
  vcpus: 'vcpus',
};

export function flavorNotFound(id: string): NotFoundError {
  return new NotFoundError(`Flavor ${id} could not be found.`, 'compute.flavor_not_found');
}

export class Flavors {
  readonly #db: Db;
  readonly #now: () => Date;

  constructor(db: Db, now: () => Date = () => new Date()) {
    this.#db = db;
    this.#now = now;
  }

  /** Whether `viewer` may use the flavor: public, on its access list, or an admin. */
  async #visible(viewer: Viewer, row: FlavorRecord): Promise<boolean> {
    if (viewer.isAdmin || row.is_public === 1) return true;
    if (viewer.projectId === undefined) return false;
    const access = await this.#db
      .selectFrom('flavor_projects')
      .select('project_id')
      .where('flavor_id', '=', row.id)
      .where('project_id', '=', viewer.projectId)
      .executeTakeFirst();
    return access !== undefined;
  }

  /** @throws NotFoundError (404) for a flavor that is unknown or not open to the viewer. */
  async get(viewer: Viewer, flavorid: string): Promise<Flavor> {
    const row = await this.#db
      .selectFrom('flavors')
      .selectAll()
      .where('flavorid', '=', flavorid)
      .executeTakeFirst();
    if (!row || !(await this.#visible(viewer, row))) throw flavorNotFound(flavorid);
    const [flavor] = await this.#hydrate([row]);
    return flavor as Flavor;
  }

  async list(viewer: Viewer, query: FlavorListQuery): Promise<Flavor[]> {
    let q = this.#db.selectFrom('flavors').selectAll();
    const own = viewer.projectId ?? '';
    const accessible = sql<boolean>`(is_public = 1 or exists (select 1 from flavor_projects p where p.flavor_id = flavors.id and p.project_id = ${own}))`;
    if (query.isPublic === true) q = q.where('is_public', '=', 1);
    else if (query.isPublic === false) {
      q = q.where('is_public', '=', 0);
      if (!viewer.isAdmin) q = q.where(accessible);
    } else if (query.isPublic === undefined || !viewer.isAdmin) q = q.where(accessible);
    if (query.minRam !== undefined) q = q.where('memory_mb', '>=', query.minRam);
    if (query.minDisk !== undefined) q = q.where('root_gb', '>=', query.minDisk);
    const column = FLAVOR_SORT_KEYS[query.sortKey] ?? 'flavorid';
    if (query.marker !== undefined) {
      const marker = await this.#db
        .selectFrom('flavors')
        .selectAll()
        .where('flavorid', '=', query.marker)
        .executeTakeFirst();
      if (!marker)
        throw new BadRequestError(
          `Marker ${query.marker} could not be found.`,
          'compute.marker_not_found',
        );
      const value = marker[column];
      const op = query.sortDir === 'asc' ? '>' : '<';
      q = q.where((eb) =>
        eb.or([eb(column, op, value), eb.and([eb(column, '=', value), eb('id', op, marker.id)])]),
      );
    }
    q = q.orderBy(column, query.sortDir).orderBy('id', query.sortDir);
    if (query.limit !== undefined) q = q.limit(query.limit);
    return this.#hydrate(await q.execute());
  }

  async #hydrate(rows: readonly FlavorRecord[]): Promise<Flavor[]> {
    if (rows.length === 0) return [];
    const specs = new Map<number, Record<string, string>>(rows.map((r) => [r.id, {}]));
    for (let i = 0; i < rows.length; i += 500)
      for (const s of await this.#db
        .selectFrom('flavor_extra_specs')
        .selectAll()
        .where(
          'flavor_id',
          'in',
          rows.slice(i, i + 500).map((r) => r.id),
        )
        .orderBy('key')
        .execute()) {
        const map = specs.get(s.flavor_id);
        if (map) map[s.key] = s.value;
      }
    return rows.map((row) => ({ row, extraSpecs: specs.get(row.id) ?? {} }));
  }

  /** @throws ConflictError (409) for a name or id already taken. */
  async create(input: FlavorInput): Promise<Flavor> {
    const flavorid = input.id ?? randomUUID();
    try {
      await this.#db
        .insertInto('flavors')
        .values({
          flavorid,
          name: input.name,
          memory_mb: input.ram,
          vcpus: input.vcpus,
          root_gb: input.disk,
          ephemeral_gb: input.ephemeral ?? 0,
          swap: input.swap ?? 0,
          rxtx_factor: input.rxtxFactor ?? 1,
          is_public: toDbBoolean(input.isPublic ?? true),
          disabled: 0,
          description: input.description ?? null,
          created_at: toDbTimestamp(this.#now()),
          updated_at: null,
        })
        .execute();
    } catch (err) {
      if (!(err instanceof DuplicateKeyError)) throw err;
      const byName = await this.#db
        .selectFrom('flavors')
        .select('id')
        .where('name', '=', input.name)
        .executeTakeFirst();
      throw byName
        ? new ConflictError(
            `Flavor with name ${input.name} already exists.`,
            'compute.flavor_exists',
          )
        : new ConflictError(
            `Flavor with ID ${flavorid} already exists.`,
            'compute.flavor_id_exists',
          );
    }
    return this.get({ projectId: undefined, isAdmin: true }, flavorid);
  }

  async setDescription(flavorid: string, description: string | null): Promise<Flavor> {
    const flavor = await this.get({ projectId: undefined, isAdmin: true }, flavorid);
    await this.#db
      .updateTable('flavors')
      .set({ description, updated_at: toDbTimestamp(this.#now()) })
      .where('id', '=', flavor.row.id)
      .execute();
    return this.get({ projectId: undefined, isAdmin: true }, flavorid);
  }

  async delete(flavorid: string): Promise<void> {
    const flavor = await this.get({ projectId: undefined, isAdmin: true }, flavorid);
    await withRetry(() =>
      this.#db.transaction().execute(async (trx) => {
        await trx.deleteFrom('flavor_extra_specs').where('flavor_id', '=', flavor.row.id).execute();
        await trx.deleteFrom('flavor_projects').where('flavor_id', '=', flavor.row.id).execute();
        await trx.deleteFrom('flavors').where('id', '=', flavor.row.id).execute();
      }),
    );
  }

  /** Adds or replaces extra specs. */
  async setExtraSpecs(
    viewer: Viewer,
    flavorid: string,
    specs: Readonly<Record<string, string>>,
  ): Promise<Record<string, string>> {
    const flavor = await this.get(viewer, flavorid);
    await withRetry(() =>
      this.#db.transaction().execute(async (trx) => {
        for (const [key, value] of Object.entries(specs)) {
          await trx
            .deleteFrom('flavor_extra_specs')
            .where('flavor_id', '=', flavor.row.id)
            .where('key', '=', key)
            .execute();
          await trx
            .insertInto('flavor_extra_specs')
            .values({ flavor_id: flavor.row.id, key, value })
            .execute();
        }
      }),
    );
    return { ...(await this.get(viewer, flavorid)).extraSpecs };
  }

  /** @throws NotFoundError (404) when the flavor has no such spec. */
  async deleteExtraSpec(viewer: Viewer, flavorid: string, key: string): Promise<void> {
    const flavor = await this.get(viewer, flavorid);
    const result = await this.#db
      .deleteFrom('flavor_extra_specs')
      .where('flavor_id', '=', flavor.row.id)
      .where('key', '=', key)
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 0)
      throw new NotFoundError(
        `Flavor ${flavorid} has no extra specs with key ${key}.`,
        'compute.flavor_extra_spec_not_found',
      );
  }

  async access(flavorid: string): Promise<string[]> {
    const flavor = await this.get({ projectId: undefined, isAdmin: true }, flavorid);
    if (flavor.row.is_public === 1)
      throw new NotFoundError(
        'Access list not available for public flavors.',
        'compute.flavor_access_public',
      );
    const rows = await this.#db
      .selectFrom('flavor_projects')
      .select('project_id')
      .where('flavor_id', '=', flavor.row.id)
      .orderBy('project_id')
      .execute();
    return rows.map((r) => r.project_id);
  }

  /** @throws ConflictError (409) for a public flavor or a project already on the list. */
  async addAccess(flavorid: string, projectId: string): Promise<string[]> {
    const flavor = await this.get({ projectId: undefined, isAdmin: true }, flavorid);
    if (flavor.row.is_public === 1)
      throw new ConflictError(
        'Can not add access to a public flavor.',
        'compute.flavor_access_public',
      );
    try {
      await this.#db
        .insertInto('flavor_projects')
        .values({ flavor_id: flavor.row.id, project_id: projectId })
        .execute();
    } catch (err) {
      if (!(err instanceof DuplicateKeyError)) throw err;
      throw new ConflictError(
        `Flavor access already exists for flavor ${flavorid} and project ${projectId} combination.`,
        'compute.flavor_access_exists',
      );
    }
    return this.access(flavorid);
  }

  /** @throws NotFoundError (404) when the project is not on the list. */
  async removeAccess(flavorid: string, projectId: string): Promise<string[]> {
    const flavor = await this.get({ projectId: undefined, isAdmin: true }, flavorid);
    const result = await this.#db
      .deleteFrom('flavor_projects')
      .where('flavor_id', '=', flavor.row.id)
      .where('project_id', '=', projectId)
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 0)
      throw new NotFoundError(
        `Flavor access not found for ${flavorid} / ${projectId} combination.`,
        'compute.flavor_access_not_found',
      );
    return this.access(flavorid);
  }
}

/** The flavors `tstack up` creates, as devstack and Nova's old defaults made them. */
export const DEFAULT_FLAVORS: readonly FlavorInput[] = [
  { id: '1', name: 'm1.tiny', ram: 512, vcpus: 1, disk: 1 },
  { id: '2', name: 'm1.small', ram: 2048, vcpus: 1, disk: 20 },
  { id: '3', name: 'm1.medium', ram: 4096, vcpus: 2, disk: 40 },
  { id: '4', name: 'm1.large', ram: 8192, vcpus: 4, disk: 80 },
  { id: '5', name: 'm1.xlarge', ram: 16384, vcpus: 8, disk: 160 },
];
