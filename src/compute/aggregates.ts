/**
 * Host aggregates (`os-aggregates`): named sets of compute hosts with metadata, which the
 * scheduler matches against flavors, and whose `availability_zone` key makes the hosts an
 * availability zone. A host belongs to one zone at most.
 */
import { randomUUID } from 'node:crypto';
import { BadRequestError, ConflictError, NotFoundError } from '../common/errors.ts';
import { DuplicateKeyError, toDbTimestamp } from '../common/db/portable.ts';
import type { Hosts, ServiceRecord } from './hosts.ts';
import type { Instances } from './instances.ts';

export const AZ_KEY = 'availability_zone';
/** Nova's `internal_service_availability_zone`, where services other than compute live. */
export const INTERNAL_ZONE = 'internal';

export type Aggregate = {
  id: number;
  uuid: string;
  name: string;
  availabilityZone: string | null;
  hosts: string[];
  metadata: Record<string, string>;
  createdAt: string;
  updatedAt: string | null;
};

export function aggregateNotFound(id: number | string): NotFoundError {
  return new NotFoundError(`Aggregate ${id} could not be found.`, 'compute.aggregate_not_found');
}

export class Aggregates {
  readonly #instances: Instances;
  readonly #hosts: Hosts;

  constructor(instances: Instances, hosts: Hosts) {
    this.#instances = instances;
    this.#hosts = hosts;
  }

  get #db() {
    return this.#instances.db;
  }

  #now(): string {
    return toDbTimestamp(this.#instances.now());
  }

  async list(): Promise<Aggregate[]> {
    const rows = await this.#db.selectFrom('aggregates').selectAll().orderBy('id').execute();
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const [hosts, meta] = await Promise.all([
      this.#db.selectFrom('aggregate_hosts').selectAll().where('aggregate_id', 'in', ids).execute(),
      this.#db
        .selectFrom('aggregate_metadata')
        .selectAll()
        .where('aggregate_id', 'in', ids)
        .execute(),
    ]);
    return rows.map((r) => {
      const metadata = Object.fromEntries(
        meta.filter((m) => m.aggregate_id === r.id).map((m) => [m.key, m.value]),
      );
      return {
        id: r.id,
        uuid: r.uuid,
        name: r.name,
        availabilityZone: metadata[AZ_KEY] ?? null,
        hosts: hosts
          .filter((h) => h.aggregate_id === r.id)
          .map((h) => h.host)
          .sort(),
        metadata,
        createdAt: r.created_at,
        updatedAt: r.updated_at,
      };
    });
  }

  /** @throws NotFoundError (404) for an unknown aggregate. */
  async get(id: number): Promise<Aggregate> {
    const found = (await this.list()).find((a) => a.id === id);
    if (found === undefined) throw aggregateNotFound(id);
    return found;
  }

  /**
   * @throws ConflictError (409) for a name in use; BadRequestError (400) for the internal zone.
   */
  async create(name: string, zone: string | null): Promise<Aggregate> {
    if (zone === INTERNAL_ZONE) throw internalZone();
    const uuid = randomUUID();
    try {
      await this.#db.transaction().execute(async (trx) => {
        await trx
          .insertInto('aggregates')
          .values({ uuid, name, created_at: this.#now(), updated_at: null })
          .execute();
        if (zone !== null) {
          const row = await trx
            .selectFrom('aggregates')
            .select('id')
            .where('uuid', '=', uuid)
            .executeTakeFirstOrThrow();
          await trx
            .insertInto('aggregate_metadata')
            .values({ aggregate_id: row.id, key: AZ_KEY, value: zone })
            .execute();
        }
      });
    } catch (err) {
      if (err instanceof DuplicateKeyError) throw nameExists(name);
      throw err;
    }
    const made = (await this.list()).find((a) => a.uuid === uuid);
    if (made === undefined) throw new Error(`aggregate ${name} vanished`);
    return made;
  }

  /** Renames it and/or changes its zone. */
  async update(
    id: number,
    change: { name?: string; availabilityZone?: string | null },
  ): Promise<Aggregate> {
    const current = await this.get(id);
    if (change.availabilityZone !== undefined) {
      if (change.availabilityZone === INTERNAL_ZONE) throw internalZone();
      await this.#checkZone(current, change.availabilityZone, current.hosts);
    }
    try {
      await this.#db.transaction().execute(async (trx) => {
        await trx
          .updateTable('aggregates')
          .set({
            ...(change.name !== undefined ? { name: change.name } : {}),
            updated_at: this.#now(),
          })
          .where('id', '=', id)
          .execute();
        if (change.availabilityZone !== undefined) {
          await trx
            .deleteFrom('aggregate_metadata')
            .where('aggregate_id', '=', id)
            .where('key', '=', AZ_KEY)
            .execute();
          if (change.availabilityZone !== null)
            await trx
              .insertInto('aggregate_metadata')
              .values({ aggregate_id: id, key: AZ_KEY, value: change.availabilityZone })
              .execute();
        }
      });
    } catch (err) {
      if (err instanceof DuplicateKeyError) throw nameExists(change.name ?? current.name);
      throw err;
    }
    return this.get(id);
  }

  /** @throws BadRequestError (400) while it still has hosts. */
  async delete(id: number): Promise<void> {
    const current = await this.get(id);
    if (current.hosts.length > 0)
      throw new BadRequestError(
        `Cannot remove host from aggregate ${id}. Reason: Host aggregate is not empty.`,
        'compute.aggregate_not_empty',
      );
    await this.#db.deleteFrom('aggregates').where('id', '=', id).execute();
  }

  /**
   * @throws NotFoundError (404) for an unknown host; ConflictError (409) when it is a member
   *   already or sits in another zone.
   */
  async addHost(id: number, host: string): Promise<Aggregate> {
    const current = await this.get(id);
    if ((await this.#hosts.service(host, 'nova-compute')) === undefined)
      throw new NotFoundError(`Compute host ${host} could not be found.`, 'compute.host_not_found');
    if (current.hosts.includes(host))
      throw new ConflictError(
        `Aggregate ${id} already has host ${host}.`,
        'compute.aggregate_host_exists',
      );
    await this.#checkZone(current, current.availabilityZone, [host]);
    await this.#db.insertInto('aggregate_hosts').values({ aggregate_id: id, host }).execute();
    await this.#touch(id);
    return this.get(id);
  }

  /** @throws NotFoundError (404) when the host is not a member. */
  async removeHost(id: number, host: string): Promise<Aggregate> {
    await this.get(id);
    const result = await this.#db
      .deleteFrom('aggregate_hosts')
      .where('aggregate_id', '=', id)
      .where('host', '=', host)
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 0)
      throw new NotFoundError(
        `Cannot remove host ${host} in aggregate ${id}`,
        'compute.aggregate_host_not_found',
      );
    await this.#touch(id);
    return this.get(id);
  }

  /** Merges metadata; a null value removes its key. `availability_zone` moves the zone. */
  async setMetadata(id: number, metadata: Record<string, string | null>): Promise<Aggregate> {
    const current = await this.get(id);
    if (AZ_KEY in metadata) {
      const zone = metadata[AZ_KEY] ?? null;
      if (zone === INTERNAL_ZONE) throw internalZone();
      await this.#checkZone(current, zone, current.hosts);
    }
    await this.#db.transaction().execute(async (trx) => {
      for (const [key, value] of Object.entries(metadata)) {
        await trx
          .deleteFrom('aggregate_metadata')
          .where('aggregate_id', '=', id)
          .where('key', '=', key)
          .execute();
        if (value !== null)
          await trx
            .insertInto('aggregate_metadata')
            .values({ aggregate_id: id, key, value })
            .execute();
      }
      await trx
        .updateTable('aggregates')
        .set({ updated_at: this.#now() })
        .where('id', '=', id)
        .execute();
    });
    return this.get(id);
  }

  /** Each host's zone, for hosts in an aggregate that has one. */
  async zonesByHost(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const a of await this.list())
      if (a.availabilityZone !== null) for (const h of a.hosts) out.set(h, a.availabilityZone);
    return out;
  }

  /** Each host's aggregate metadata, a key's values from every aggregate of the host. */
  async metadataByHost(): Promise<Map<string, Record<string, string[]>>> {
    const out = new Map<string, Record<string, string[]>>();
    for (const a of await this.list())
      for (const h of a.hosts) {
        const own = out.get(h) ?? {};
        for (const [k, v] of Object.entries(a.metadata)) own[k] = [...(own[k] ?? []), v];
        out.set(h, own);
      }
    return out;
  }

  /** A host sits in one zone at most: moving `hosts` into `zone` must not split them. */
  async #checkZone(aggregate: Aggregate, zone: string | null, hosts: readonly string[]) {
    if (zone === null) return;
    const conflicting = new Set<string>();
    for (const other of await this.list()) {
      if (other.id === aggregate.id || other.availabilityZone === null) continue;
      if (other.availabilityZone === zone) continue;
      if (other.hosts.some((h) => hosts.includes(h))) conflicting.add(other.availabilityZone);
    }
    if (conflicting.size > 0)
      throw new ConflictError(
        `Cannot add host to aggregate ${aggregate.id}. Reason: One or more hosts already in availability zone(s) [${[...conflicting].map((z) => `'${z}'`).join(', ')}].`,
        'compute.aggregate_zone_conflict',
      );
  }

  async #touch(id: number): Promise<void> {
    await this.#db
      .updateTable('aggregates')
      .set({ updated_at: this.#now() })
      .where('id', '=', id)
      .execute();
  }
}

/** An availability zone with its compute services. */
export type Zone = { name: string; services: ServiceRecord[] };

/**
 * The zones compute hosts are in, by name: each zone-bearing aggregate's, and the default zone
 * for hosts in none.
 */
export async function computeZones(
  hosts: Hosts,
  aggregates: Aggregates,
  defaultZone: string,
): Promise<Zone[]> {
  const [services, byHost] = await Promise.all([
    hosts.services('nova-compute'),
    aggregates.zonesByHost(),
  ]);
  const out = new Map<string, Zone>();
  for (const s of services) {
    const name = byHost.get(s.host) ?? defaultZone;
    const zone = out.get(name) ?? { name, services: [] };
    zone.services.push(s);
    out.set(name, zone);
  }
  return [...out.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Whether a zone takes new servers: one of its compute services is enabled. */
export function isAvailable(zone: Zone): boolean {
  return zone.services.some((s) => s.disabled === 0);
}

function nameExists(name: string): ConflictError {
  return new ConflictError(`Aggregate ${name} already exists.`, 'compute.aggregate_exists');
}

function internalZone(): BadRequestError {
  return new BadRequestError(
    `Cannot use the internal availability zone '${INTERNAL_ZONE}' for an aggregate.`,
    'compute.bad_request',
  );
}
