/**
 * Unified limits: registered limits (a service's default for a resource, optionally per region)
 * and limits (a project's or a domain's override of one). The enforcement model is `flat`: the
 * project hierarchy plays no part, so no limit constrains another.
 *
 * Rules, as in Keystone: services, regions, projects and domains named must exist (400 naming the
 * field); a limit needs the registered limit of its service, region and resource (403); at most
 * one registered limit per service/region/resource and one limit per registered limit and
 * project or domain (409); a registered limit with limits on it can be neither changed nor deleted
 * (403). The tables have no unique keys for these (the region may be null), so the checks run in
 * the same transaction as the writes.
 */
import type { Kysely, Transaction } from 'kysely';
import { NotFoundError } from '../common/errors.ts';
import type { Catalog } from './catalog.ts';
import type { IdentityDatabase, LimitRow, RegisteredLimitRow } from './db/schema.ts';
import { duplicate, forbidden, invalid, notFound } from './errors.ts';
import { newId } from './ids.ts';
import type { Resources } from './resources.ts';

export type RegisteredLimit = {
  id: string;
  service_id: string;
  region_id: string | null;
  resource_name: string;
  default_limit: number;
  description: string | null;
};

export type Limit = {
  id: string;
  project_id: string | null;
  domain_id: string | null;
  service_id: string;
  region_id: string | null;
  resource_name: string;
  resource_limit: number;
  description: string | null;
};

export type RegisteredLimitInput = {
  service_id: string;
  region_id?: string | null | undefined;
  resource_name: string;
  default_limit: number;
  description?: string | null | undefined;
};

export type LimitInput = {
  project_id?: string | null | undefined;
  domain_id?: string | null | undefined;
  service_id: string;
  region_id?: string | null | undefined;
  resource_name: string;
  resource_limit: number;
  description?: string | null | undefined;
};

export type LimitFilter = {
  service_id?: string | undefined;
  region_id?: string | undefined;
  resource_name?: string | undefined;
  project_id?: string | undefined;
  domain_id?: string | undefined;
  /** Only these projects' limits, or domain limits of `domain_ids`; for scoped listing. */
  visible?: { project_ids: readonly string[]; domain_ids: readonly string[] } | undefined;
};

export const LIMIT_MODEL = {
  name: 'flat',
  description:
    'Limit enforcement and validation does not take project hierarchy into consideration.',
} as const;

type Db = Kysely<IdentityDatabase> | Transaction<IdentityDatabase>;
type Key = { service_id: string; region_id: string | null; resource_name: string };

function notFoundAs(field: string, target: 'registered_limit' | 'limit') {
  return invalid(
    `Expecting to find ${field} in ${target}. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.`,
  );
}

function sameKey(a: Key, b: Key): boolean {
  return (
    a.service_id === b.service_id &&
    a.region_id === b.region_id &&
    a.resource_name === b.resource_name
  );
}

export class Limits {
  readonly #db: Kysely<IdentityDatabase>;
  readonly #catalog: Catalog;
  readonly #resources: Resources;

  constructor(db: Kysely<IdentityDatabase>, catalog: Catalog, resources: Resources) {
    this.#db = db;
    this.#catalog = catalog;
    this.#resources = resources;
  }

  model(): typeof LIMIT_MODEL {
    return LIMIT_MODEL;
  }

  // ---- registered limits ----

  /**
   * Creates all of them or none.
   * @throws BadRequestError for an unknown service or region; ConflictError for a duplicate.
   */
  async createRegistered(inputs: readonly RegisteredLimitInput[]): Promise<RegisteredLimit[]> {
    const rows: RegisteredLimitRow[] = [];
    for (const input of inputs) {
      const row: RegisteredLimitRow = {
        id: newId(),
        service_id: input.service_id,
        region_id: input.region_id ?? null,
        resource_name: input.resource_name,
        default_limit: input.default_limit,
        description: input.description ?? null,
      };
      await this.#checkCatalog(row, 'registered_limit');
      if (rows.some((r) => sameKey(r, row))) throw duplicate('registered limit', 'Duplicate entry');
      rows.push(row);
    }
    await this.#db.transaction().execute(async (tx) => {
      for (const row of rows) {
        if (await this.#findRegistered(tx, row))
          throw duplicate('registered limit', 'Duplicate entry');
      }
      await tx.insertInto('registered_limit').values(rows).execute();
    });
    return rows;
  }

  async listRegistered(
    filter: { service_id?: string; region_id?: string; resource_name?: string } = {},
  ): Promise<RegisteredLimit[]> {
    let q = this.#db
      .selectFrom('registered_limit')
      .selectAll()
      .orderBy('service_id')
      .orderBy('resource_name')
      .orderBy('id');
    if (filter.service_id !== undefined) q = q.where('service_id', '=', filter.service_id);
    if (filter.region_id !== undefined) q = q.where('region_id', '=', filter.region_id);
    if (filter.resource_name !== undefined) q = q.where('resource_name', '=', filter.resource_name);
    return q.execute();
  }

  /** @throws NotFoundError */
  async getRegistered(id: string): Promise<RegisteredLimit> {
    const row = await this.#db
      .selectFrom('registered_limit')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) throw notFound('registered limit', id);
    return row;
  }

  /**
   * @throws NotFoundError; ForbiddenError when limits refer to it; BadRequestError for an unknown
   *   service or region; ConflictError when the change makes it a duplicate.
   */
  async updateRegistered(
    id: string,
    patch: Partial<Omit<RegisteredLimitInput, 'region_id' | 'description'>> & {
      region_id?: string | null | undefined;
      description?: string | null | undefined;
    },
  ): Promise<RegisteredLimit> {
    const current = await this.getRegistered(id);
    const next: RegisteredLimit = {
      ...current,
      ...(patch.service_id !== undefined ? { service_id: patch.service_id } : {}),
      ...(patch.region_id !== undefined ? { region_id: patch.region_id } : {}),
      ...(patch.resource_name !== undefined ? { resource_name: patch.resource_name } : {}),
      ...(patch.default_limit !== undefined ? { default_limit: patch.default_limit } : {}),
      ...(patch.description !== undefined ? { description: patch.description } : {}),
    };
    await this.#checkCatalog(next, 'registered_limit');
    await this.#db.transaction().execute(async (tx) => {
      await this.#assertUnreferenced(tx, current);
      if (!sameKey(current, next)) {
        const other = await this.#findRegistered(tx, next);
        if (other && other.id !== id) throw duplicate('registered limit', 'Duplicate entry');
      }
      await tx
        .updateTable('registered_limit')
        .set({
          service_id: next.service_id,
          region_id: next.region_id,
          resource_name: next.resource_name,
          default_limit: next.default_limit,
          description: next.description,
        })
        .where('id', '=', id)
        .execute();
    });
    return next;
  }

  /** @throws NotFoundError; ForbiddenError when limits refer to it. */
  async deleteRegistered(id: string): Promise<void> {
    const current = await this.getRegistered(id);
    await this.#db.transaction().execute(async (tx) => {
      await this.#assertUnreferenced(tx, current);
      await tx.deleteFrom('registered_limit').where('id', '=', id).execute();
    });
  }

  // ---- limits ----

  /**
   * Creates all of them or none. Each names exactly one of a project or a domain.
   * @throws BadRequestError for an unknown service, region, project or domain; ForbiddenError
   *   when no registered limit matches; ConflictError for a duplicate.
   */
  async createLimits(inputs: readonly LimitInput[]): Promise<Limit[]> {
    const rows: LimitRow[] = [];
    for (const input of inputs) {
      let projectId = input.project_id ?? null;
      let domainId = input.domain_id ?? null;
      if ((projectId === null) === (domainId === null)) {
        throw invalid(
          'A limit is for exactly one of a project (project_id) or a domain (domain_id).',
        );
      }
      const row: LimitRow = {
        id: newId(),
        project_id: projectId,
        domain_id: domainId,
        service_id: input.service_id,
        region_id: input.region_id ?? null,
        resource_name: input.resource_name,
        resource_limit: input.resource_limit,
        description: input.description ?? null,
      };
      await this.#checkCatalog(row, 'limit');
      if (projectId !== null && !(await this.#resources.findProject(projectId))) {
        // Keystone's domains are projects too: a domain's id given as a project makes a domain
        // limit.
        if (!(await this.#resources.findDomain(projectId))) throw notFoundAs('project_id', 'limit');
        domainId = projectId;
        projectId = null;
        row.domain_id = domainId;
        row.project_id = null;
      }
      if (domainId !== null && !(await this.#resources.findDomain(domainId)))
        throw notFoundAs('domain_id', 'limit');
      if (rows.some((r) => sameLimit(r, row))) throw duplicate('limit', 'Duplicate entry');
      rows.push(row);
    }
    await this.#db.transaction().execute(async (tx) => {
      for (const row of rows) {
        if (!(await this.#findRegistered(tx, row))) {
          throw forbidden('Unable to create a limit that has no corresponding registered limit.');
        }
        let q = tx
          .selectFrom('project_limit')
          .select('id')
          .where('service_id', '=', row.service_id)
          .where('resource_name', '=', row.resource_name);
        q =
          row.region_id === null
            ? q.where('region_id', 'is', null)
            : q.where('region_id', '=', row.region_id);
        q =
          row.project_id !== null
            ? q.where('project_id', '=', row.project_id)
            : q.where('domain_id', '=', row.domain_id ?? '');
        if (await q.executeTakeFirst()) throw duplicate('limit', 'Duplicate entry');
      }
      await tx.insertInto('project_limit').values(rows).execute();
    });
    return rows;
  }

  async listLimits(filter: LimitFilter = {}): Promise<Limit[]> {
    let q = this.#db
      .selectFrom('project_limit')
      .selectAll()
      .orderBy('service_id')
      .orderBy('resource_name')
      .orderBy('id');
    if (filter.service_id !== undefined) q = q.where('service_id', '=', filter.service_id);
    if (filter.region_id !== undefined) q = q.where('region_id', '=', filter.region_id);
    if (filter.resource_name !== undefined) q = q.where('resource_name', '=', filter.resource_name);
    if (filter.project_id !== undefined) q = q.where('project_id', '=', filter.project_id);
    if (filter.domain_id !== undefined) q = q.where('domain_id', '=', filter.domain_id);
    const visible = filter.visible;
    if (visible !== undefined) {
      if (visible.project_ids.length === 0 && visible.domain_ids.length === 0) return [];
      q = q.where((eb) =>
        eb.or([
          ...(visible.project_ids.length > 0
            ? [eb('project_id', 'in', [...visible.project_ids])]
            : []),
          ...(visible.domain_ids.length > 0
            ? [eb('domain_id', 'in', [...visible.domain_ids])]
            : []),
        ]),
      );
    }
    return q.execute();
  }

  async findLimit(id: string): Promise<Limit | undefined> {
    return this.#db.selectFrom('project_limit').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** @throws NotFoundError */
  async getLimit(id: string): Promise<Limit> {
    const limit = await this.findLimit(id);
    if (!limit) throw notFound('limit', id);
    return limit;
  }

  /** Only the value and the description of a limit change. @throws NotFoundError */
  async updateLimit(
    id: string,
    patch: { resource_limit?: number | undefined; description?: string | null | undefined },
  ): Promise<Limit> {
    const current = await this.getLimit(id);
    const next: Limit = {
      ...current,
      ...(patch.resource_limit !== undefined ? { resource_limit: patch.resource_limit } : {}),
      ...(patch.description !== undefined ? { description: patch.description } : {}),
    };
    await this.#db
      .updateTable('project_limit')
      .set({ resource_limit: next.resource_limit, description: next.description })
      .where('id', '=', id)
      .execute();
    return next;
  }

  /** @throws NotFoundError */
  async deleteLimit(id: string): Promise<void> {
    const result = await this.#db
      .deleteFrom('project_limit')
      .where('id', '=', id)
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw notFound('limit', id);
  }

  async #checkCatalog(key: Key, target: 'registered_limit' | 'limit'): Promise<void> {
    await this.#catalog.getService(key.service_id).catch((err: unknown) => {
      throw err instanceof NotFoundError ? notFoundAs('service_id', target) : err;
    });
    if (key.region_id !== null) {
      await this.#catalog.getRegion(key.region_id).catch((err: unknown) => {
        throw err instanceof NotFoundError ? notFoundAs('region_id', target) : err;
      });
    }
  }

  async #findRegistered(db: Db, key: Key): Promise<RegisteredLimitRow | undefined> {
    let q = db
      .selectFrom('registered_limit')
      .selectAll()
      .where('service_id', '=', key.service_id)
      .where('resource_name', '=', key.resource_name);
    q =
      key.region_id === null
        ? q.where('region_id', 'is', null)
        : q.where('region_id', '=', key.region_id);
    return q.executeTakeFirst();
  }

  async #assertUnreferenced(db: Db, registered: RegisteredLimit): Promise<void> {
    let q = db
      .selectFrom('project_limit')
      .select('id')
      .where('service_id', '=', registered.service_id)
      .where('resource_name', '=', registered.resource_name);
    q =
      registered.region_id === null
        ? q.where('region_id', 'is', null)
        : q.where('region_id', '=', registered.region_id);
    if (await q.executeTakeFirst()) {
      throw forbidden(
        `Unable to update or delete registered limit ${registered.id} because there are project limits associated with it.`,
      );
    }
  }
}

function sameLimit(a: LimitRow, b: LimitRow): boolean {
  return sameKey(a, b) && a.project_id === b.project_id && a.domain_id === b.domain_id;
}
