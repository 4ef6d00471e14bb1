/**
 * Regions, services and endpoints, and the service catalog built from them. The catalog is read
 * on every token issue and validation, so it is cached in memory: rebuilt after a change made here,
 * and every few seconds for changes made by other identity processes.
 */
import type { Kysely } from 'kysely';
import { DuplicateKeyError, fromDbBoolean, toDbBoolean, toDbJson } from '../common/db/portable.ts';
import type { EndpointRow, IdentityDatabase, RegionRow, ServiceRow } from './db/schema.ts';
import { duplicate, forbidden, invalid, notFound } from './errors.ts';
import { newId } from './ids.ts';

/** `extra`: attributes Keystone does not define but stores and returns (clients send some). */
export type Region = {
  id: string;
  description: string;
  parent_region_id: string | null;
  extra: Record<string, unknown>;
};
export type CatalogService = {
  id: string;
  type: string;
  name: string | null;
  description: string | null;
  enabled: boolean;
  extra: Record<string, unknown>;
};
export type Endpoint = {
  id: string;
  service_id: string;
  interface: 'public' | 'internal' | 'admin';
  region_id: string | null;
  url: string;
  enabled: boolean;
  extra: Record<string, unknown>;
};

export type CatalogEntry = {
  endpoints: {
    id: string;
    interface: string;
    region: string | null;
    region_id: string | null;
    url: string;
  }[];
  id: string;
  type: string;
  name: string;
};

/** How long a built catalog is reused when nothing in this process changed it. */
const CATALOG_TTL_MS = 5000;

export const INTERFACES = ['public', 'internal', 'admin'] as const;

const toRegion = (r: RegionRow): Region => ({
  id: r.id,
  description: r.description,
  parent_region_id: r.parent_region_id,
  extra: JSON.parse(r.extra) as Record<string, unknown>,
});
const toService = (r: ServiceRow): CatalogService => ({
  id: r.id,
  type: r.type,
  name: r.name,
  description: r.description,
  enabled: fromDbBoolean(r.enabled),
  extra: JSON.parse(r.extra) as Record<string, unknown>,
});
const toEndpoint = (r: EndpointRow): Endpoint => ({
  id: r.id,
  service_id: r.service_id,
  interface: r.interface as Endpoint['interface'],
  region_id: r.region_id,
  url: r.url,
  enabled: fromDbBoolean(r.enabled),
  extra: JSON.parse(r.extra) as Record<string, unknown>,
});

/** Endpoint URLs may name the project, as Keystone's templates do (`$(project_id)s`). */
function substitute(url: string, projectId: string | undefined): string | undefined {
  const needsProject = /\$\((project_id|tenant_id)\)s|%\((project_id|tenant_id)\)s/.test(url);
  if (!needsProject) return url;
  if (projectId === undefined) return undefined;
  return url.replace(/\$\((project_id|tenant_id)\)s|%\((project_id|tenant_id)\)s/g, projectId);
}

export class Catalog {
  readonly #db: Kysely<IdentityDatabase>;
  #cached: { services: CatalogService[]; endpoints: Endpoint[]; until: number } | undefined;

  constructor(db: Kysely<IdentityDatabase>) {
    this.#db = db;
  }

  // ---- regions ----

  async createRegion(input: {
    id?: string | undefined;
    description?: string | undefined;
    parent_region_id?: string | null | undefined;
    extra?: Record<string, unknown> | undefined;
  }): Promise<Region> {
    if (input.parent_region_id != null) await this.getRegion(input.parent_region_id);
    const row: RegionRow = {
      id: input.id ?? newId(),
      description: input.description ?? '',
      parent_region_id: input.parent_region_id ?? null,
      extra: toDbJson(input.extra ?? {}),
    };
    try {
      await this.#db.insertInto('region').values(row).execute();
    } catch (err) {
      if (err instanceof DuplicateKeyError) throw duplicate('region', `Duplicate ID, ${row.id}`);
      throw err;
    }
    return toRegion(row);
  }

  async getRegion(id: string): Promise<Region> {
    const row = await this.#db
      .selectFrom('region')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) throw notFound('region', id);
    return toRegion(row);
  }

  async listRegions(filter: { parent_region_id?: string | undefined } = {}): Promise<Region[]> {
    let q = this.#db.selectFrom('region').selectAll().orderBy('id');
    if (filter.parent_region_id !== undefined)
      q = q.where('parent_region_id', '=', filter.parent_region_id);
    return (await q.execute()).map(toRegion);
  }

  async updateRegion(
    id: string,
    patch: {
      description?: string | undefined;
      parent_region_id?: string | null | undefined;
      extra?: Record<string, unknown> | undefined;
    },
  ): Promise<Region> {
    const current = await this.getRegion(id);
    if (patch.parent_region_id != null) {
      if (patch.parent_region_id === id) throw invalid('A region cannot be its own parent.');
      await this.getRegion(patch.parent_region_id);
    }
    const next = {
      ...current,
      ...(patch.description !== undefined ? { description: patch.description } : {}),
      ...(patch.parent_region_id !== undefined ? { parent_region_id: patch.parent_region_id } : {}),
      extra: { ...current.extra, ...patch.extra },
    };
    await this.#db
      .updateTable('region')
      .set({
        description: next.description,
        parent_region_id: next.parent_region_id,
        extra: toDbJson(next.extra),
      })
      .where('id', '=', id)
      .execute();
    return next;
  }

  async deleteRegion(id: string): Promise<void> {
    await this.getRegion(id);
    const child = await this.#db
      .selectFrom('region')
      .select('id')
      .where('parent_region_id', '=', id)
      .executeTakeFirst();
    if (child) throw forbidden(`Cannot delete region ${id}: it has child regions.`);
    const used = await this.#db
      .selectFrom('endpoint')
      .select('id')
      .where('region_id', '=', id)
      .executeTakeFirst();
    if (used) throw forbidden(`Cannot delete region ${id}: endpoints are in it.`);
    await this.#db.deleteFrom('region').where('id', '=', id).execute();
    this.#cached = undefined;
  }

  // ---- services ----

  async createService(input: {
    type: string;
    name?: string | null | undefined;
    description?: string | null | undefined;
    enabled?: boolean | undefined;
    extra?: Record<string, unknown> | undefined;
  }): Promise<CatalogService> {
    const row: ServiceRow = {
      id: newId(),
      type: input.type,
      name: input.name ?? null,
      description: input.description ?? null,
      enabled: toDbBoolean(input.enabled ?? true),
      extra: toDbJson(input.extra ?? {}),
    };
    await this.#db.insertInto('service').values(row).execute();
    this.#cached = undefined;
    return toService(row);
  }

  async getService(id: string): Promise<CatalogService> {
    const row = await this.#db
      .selectFrom('service')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) throw notFound('service', id);
    return toService(row);
  }

  async listServices(
    filter: { type?: string | undefined; name?: string | undefined } = {},
  ): Promise<CatalogService[]> {
    let q = this.#db.selectFrom('service').selectAll().orderBy('type').orderBy('id');
    if (filter.type !== undefined) q = q.where('type', '=', filter.type);
    if (filter.name !== undefined) q = q.where('name', '=', filter.name);
    return (await q.execute()).map(toService);
  }

  async updateService(
    id: string,
    patch: {
      type?: string | undefined;
      name?: string | null | undefined;
      description?: string | null | undefined;
      enabled?: boolean | undefined;
      extra?: Record<string, unknown> | undefined;
    },
  ): Promise<CatalogService> {
    const current = await this.getService(id);
    const next: CatalogService = {
      ...current,
      ...(patch.type !== undefined ? { type: patch.type } : {}),
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      ...(patch.description !== undefined ? { description: patch.description } : {}),
      ...(patch.enabled !== undefined ? { enabled: patch.enabled } : {}),
      extra: { ...current.extra, ...patch.extra },
    };
    await this.#db
      .updateTable('service')
      .set({
        type: next.type,
        name: next.name,
        description: next.description,
        enabled: toDbBoolean(next.enabled),
        extra: toDbJson(next.extra),
      })
      .where('id', '=', id)
      .execute();
    this.#cached = undefined;
    return next;
  }

  async deleteService(id: string): Promise<void> {
    await this.getService(id);
    await this.#db.transaction().execute(async (tx) => {
      await tx.deleteFrom('endpoint').where('service_id', '=', id).execute();
      await tx.deleteFrom('service').where('id', '=', id).execute();
    });
    this.#cached = undefined;
  }

  // ---- endpoints ----

  async createEndpoint(input: {
    service_id: string;
    interface: Endpoint['interface'];
    url: string;
    region_id?: string | null | undefined;
    enabled?: boolean | undefined;
    extra?: Record<string, unknown> | undefined;
  }): Promise<Endpoint> {
    await this.getService(input.service_id);
    if (input.region_id != null) await this.getRegion(input.region_id);
    const row: EndpointRow = {
      id: newId(),
      service_id: input.service_id,
      interface: input.interface,
      region_id: input.region_id ?? null,
      url: input.url,
      enabled: toDbBoolean(input.enabled ?? true),
      extra: toDbJson(input.extra ?? {}),
    };
    await this.#db.insertInto('endpoint').values(row).execute();
    this.#cached = undefined;
    return toEndpoint(row);
  }

  async getEndpoint(id: string): Promise<Endpoint> {
    const row = await this.#db
      .selectFrom('endpoint')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) throw notFound('endpoint', id);
    return toEndpoint(row);
  }

  async listEndpoints(
    filter: {
      service_id?: string | undefined;
      interface?: string | undefined;
      region_id?: string | undefined;
    } = {},
  ): Promise<Endpoint[]> {
    let q = this.#db
      .selectFrom('endpoint')
      .selectAll()
      .orderBy('service_id')
      .orderBy('interface')
      .orderBy('id');
    if (filter.service_id !== undefined) q = q.where('service_id', '=', filter.service_id);
    if (filter.interface !== undefined) q = q.where('interface', '=', filter.interface);
    if (filter.region_id !== undefined) q = q.where('region_id', '=', filter.region_id);
    return (await q.execute()).map(toEndpoint);
  }

  async updateEndpoint(
    id: string,
    patch: {
      service_id?: string | undefined;
      interface?: Endpoint['interface'] | undefined;
      url?: string | undefined;
      region_id?: string | null | undefined;
      enabled?: boolean | undefined;
      extra?: Record<string, unknown> | undefined;
    },
  ): Promise<Endpoint> {
    const current = await this.getEndpoint(id);
    if (patch.service_id !== undefined) await this.getService(patch.service_id);
    if (patch.region_id != null) await this.getRegion(patch.region_id);
    const next: Endpoint = {
      ...current,
      ...(patch.service_id !== undefined ? { service_id: patch.service_id } : {}),
      ...(patch.interface !== undefined ? { interface: patch.interface } : {}),
      ...(patch.url !== undefined ? { url: patch.url } : {}),
      ...(patch.region_id !== undefined ? { region_id: patch.region_id } : {}),
      ...(patch.enabled !== undefined ? { enabled: patch.enabled } : {}),
      extra: { ...current.extra, ...patch.extra },
    };
    await this.#db
      .updateTable('endpoint')
      .set({
        service_id: next.service_id,
        interface: next.interface,
        url: next.url,
        region_id: next.region_id,
        enabled: toDbBoolean(next.enabled),
        extra: toDbJson(next.extra),
      })
      .where('id', '=', id)
      .execute();
    this.#cached = undefined;
    return next;
  }

  async deleteEndpoint(id: string): Promise<void> {
    await this.getEndpoint(id);
    await this.#db.deleteFrom('endpoint').where('id', '=', id).execute();
    this.#cached = undefined;
  }

  /** Forgets the cached catalog, e.g. after another process changed it. */
  invalidate(): void {
    this.#cached = undefined;
  }

  /** The catalog of a token: enabled services with their enabled endpoints. */
  async forProject(projectId: string | undefined): Promise<CatalogEntry[]> {
    // Changes made here clear the cache at once; those of other identity processes show within
    // CATALOG_TTL_MS.
    if (this.#cached !== undefined && this.#cached.until <= Date.now()) this.#cached = undefined;
    this.#cached ??= {
      until: Date.now() + CATALOG_TTL_MS,
      services: (
        await this.#db
          .selectFrom('service')
          .selectAll()
          .where('enabled', '=', 1)
          .orderBy('type')
          .execute()
      ).map(toService),
      endpoints: (
        await this.#db
          .selectFrom('endpoint')
          .selectAll()
          .where('enabled', '=', 1)
          .orderBy('interface')
          .execute()
      ).map(toEndpoint),
    };
    const { services, endpoints } = this.#cached;
    return services.map((s) => ({
      endpoints: endpoints
        .filter((e) => e.service_id === s.id)
        .flatMap((e) => {
          const url = substitute(e.url, projectId);
          return url === undefined
            ? []
            : [
                {
                  id: e.id,
                  interface: e.interface,
                  region: e.region_id,
                  region_id: e.region_id,
                  url,
                },
              ];
        }),
      id: s.id,
      type: s.type,
      name: s.name ?? '',
    }));
  }
}
