/**
 * Compute services and nodes: the rows each agent keeps fresh (registration, heartbeats, the
 * node's resources) and that the scheduler, the conductor and the API read. A service is up
 * while its last heartbeat is younger than `serviceDownTimeMs` (Nova's `service_down_time`).
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { DuplicateKeyError, toDbBoolean, toDbTimestamp } from '../common/db/portable.ts';
import type { ComputeDatabase, ComputeNodeRow, ServiceRow } from './db/schema.ts';
import type { HostResources } from './virt/driver.ts';

export type ServiceRecord = Omit<ServiceRow, 'id'> & { id: number };
export type NodeRecord = Omit<ComputeNodeRow, 'id'> & { id: number };

export type HostsOptions = { now?: () => Date; serviceDownTimeMs?: number };

export class Hosts {
  readonly #db: Kysely<ComputeDatabase>;
  readonly #now: () => Date;
  readonly serviceDownTimeMs: number;

  constructor(db: Kysely<ComputeDatabase>, options: HostsOptions = {}) {
    this.#db = db;
    this.#now = options.now ?? (() => new Date());
    this.serviceDownTimeMs = options.serviceDownTimeMs ?? 60_000;
  }

  /** Registers (or finds) the service `binary` on `host` and records a heartbeat. */
  async register(host: string, binary: string, topic: string): Promise<ServiceRecord> {
    const now = toDbTimestamp(this.#now());
    const existing = await this.service(host, binary);
    if (existing !== undefined) {
      await this.heartbeat(existing.id);
      return { ...existing, last_seen_up: now };
    }
    try {
      await this.#db
        .insertInto('services')
        .values({
          uuid: randomUUID(),
          host,
          binary,
          topic,
          disabled: 0,
          disabled_reason: null,
          forced_down: 0,
          last_seen_up: now,
          created_at: now,
          updated_at: now,
        })
        .execute();
    } catch (err) {
      // Registered meanwhile by another start of the same service.
      if (!(err instanceof DuplicateKeyError)) throw err;
    }
    const made = await this.service(host, binary);
    if (made === undefined) throw new Error(`service ${binary} on ${host} vanished`);
    return made;
  }

  /** The service `binary` on `host`, or undefined when it never registered. */
  async service(host: string, binary: string): Promise<ServiceRecord | undefined> {
    return this.#db
      .selectFrom('services')
      .selectAll()
      .where('host', '=', host)
      .where('binary', '=', binary)
      .executeTakeFirst();
  }

  async heartbeat(serviceId: number): Promise<void> {
    await this.#db
      .updateTable('services')
      .set({ last_seen_up: toDbTimestamp(this.#now()) })
      .where('id', '=', serviceId)
      .execute();
  }

  /** Creates or refreshes the node row of `host`; returns its uuid (its provider's too). */
  async upsertNode(host: string, resources: HostResources): Promise<string> {
    const now = toDbTimestamp(this.#now());
    const fields = {
      host,
      hypervisor_type: resources.hypervisorType,
      hypervisor_version: resources.hypervisorVersion,
      host_ip: resources.hostIp,
      vcpus: resources.vcpus,
      memory_mb: resources.memoryMb,
      local_gb: resources.localGb,
      cpu_info: JSON.stringify(resources.cpuInfo),
      updated_at: now,
    };
    const existing = await this.#db
      .selectFrom('compute_nodes')
      .select('uuid')
      .where('hypervisor_hostname', '=', resources.hypervisorHostname)
      .executeTakeFirst();
    if (existing !== undefined) {
      await this.#db
        .updateTable('compute_nodes')
        .set(fields)
        .where('hypervisor_hostname', '=', resources.hypervisorHostname)
        .execute();
      return existing.uuid;
    }
    const uuid = randomUUID();
    try {
      await this.#db
        .insertInto('compute_nodes')
        .values({
          ...fields,
          uuid,
          hypervisor_hostname: resources.hypervisorHostname,
          created_at: now,
        })
        .execute();
      return uuid;
    } catch (err) {
      if (!(err instanceof DuplicateKeyError)) throw err;
      return this.upsertNode(host, resources);
    }
  }

  async services(binary?: string): Promise<ServiceRecord[]> {
    let q = this.#db.selectFrom('services').selectAll().orderBy('id');
    if (binary !== undefined) q = q.where('binary', '=', binary);
    return q.execute();
  }

  async nodes(): Promise<NodeRecord[]> {
    return this.#db.selectFrom('compute_nodes').selectAll().orderBy('id').execute();
  }

  isUp(service: Pick<ServiceRecord, 'last_seen_up' | 'forced_down'>): boolean {
    if (service.forced_down === 1 || service.last_seen_up === null) return false;
    return this.#now().getTime() - Date.parse(service.last_seen_up) < this.serviceDownTimeMs;
  }

  async setForcedDown(id: number, down: boolean): Promise<void> {
    await this.#db
      .updateTable('services')
      .set({ forced_down: toDbBoolean(down), updated_at: toDbTimestamp(this.#now()) })
      .where('id', '=', id)
      .execute();
  }

  async deleteService(id: number): Promise<void> {
    await this.#db.deleteFrom('services').where('id', '=', id).execute();
  }

  /** What the live instances of each host use, in one query. */
  async usageByHost(): Promise<
    Map<string, { vms: number; vcpus: number; memoryMb: number; diskGb: number }>
  > {
    const rows = await this.#db
      .selectFrom('instances')
      .select((eb) => [
        'host',
        eb.fn.countAll<number>().as('vms'),
        eb.fn.sum<number>('vcpus').as('vcpus'),
        eb.fn.sum<number>('memory_mb').as('memory_mb'),
        eb.fn.sum<number>('root_gb').as('root_gb'),
      ])
      .where('deleted', '=', 0)
      .where('host', 'is not', null)
      .groupBy('host')
      .execute();
    return new Map(
      rows.map((r) => [
        r.host as string,
        {
          vms: Number(r.vms),
          vcpus: Number(r.vcpus),
          memoryMb: Number(r.memory_mb),
          diskGb: Number(r.root_gb),
        },
      ]),
    );
  }

  async setDisabled(id: number, disabled: boolean, reason: string | null): Promise<void> {
    await this.#db
      .updateTable('services')
      .set({
        disabled: toDbBoolean(disabled),
        disabled_reason: disabled ? reason : null,
        updated_at: toDbTimestamp(this.#now()),
      })
      .where('id', '=', id)
      .execute();
  }
}
