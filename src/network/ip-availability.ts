/**
 * Network IP availability: per subnet, the addresses its allocation pools hold (the whole prefix
 * when it has none) and the addresses ports hold (every allocation, router and DHCP ports
 * included); per network, the sums. IPv6 totals exceed 2^53 and are reported as the nearest
 * number, as upstream's JSON does.
 */
import { sql, type SqlBool } from 'kysely';
import { notFound } from './errors.ts';
import { rangeOf } from './ip.ts';
import type { Networks } from './networks.ts';
import { SYSTEM, type Db } from './standard.ts';
import { poolRanges, prefixOf, type Subnets } from './subnets.ts';

export type SubnetAvailability = {
  subnet_id: string;
  subnet_name: string;
  cidr: string;
  ip_version: number;
  total_ips: number;
  used_ips: number;
};

export type NetworkAvailability = {
  network_id: string;
  network_name: string;
  tenant_id: string;
  project_id: string;
  total_ips: number;
  used_ips: number;
  subnet_ip_availability: SubnetAvailability[];
};

export type AvailabilityFilter = {
  networkIds?: readonly string[];
  networkNames?: readonly string[];
  projectIds?: readonly string[];
  ipVersion?: number;
};

export class IpAvailability {
  readonly #db: Db;
  readonly #networks: Networks;
  readonly #subnets: Subnets;

  constructor(db: Db, networks: Networks, subnets: Subnets) {
    this.#db = db;
    this.#networks = networks;
    this.#subnets = subnets;
  }

  async list(filter: AvailabilityFilter): Promise<NetworkAvailability[]> {
    let query = this.#db.selectFrom('networks').select(['id', 'name', 'project_id']).orderBy('id');
    if (filter.networkIds && filter.networkIds.length > 0)
      query = query.where('id', 'in', [...filter.networkIds]);
    if (filter.networkNames && filter.networkNames.length > 0)
      query = query.where('name', 'in', [...filter.networkNames]);
    if (filter.projectIds && filter.projectIds.length > 0)
      query = query.where('project_id', 'in', [...filter.projectIds]);
    if (filter.ipVersion !== undefined)
      query = query.where(
        sql<SqlBool>`exists (select 1 from subnets s where s.network_id = networks.id and s.ip_version = ${filter.ipVersion})`,
      );
    const networks = await query.execute();
    const used = new Map<string, number>();
    for (const row of await this.#db
      .selectFrom('ip_allocations')
      .select((eb) => ['subnet_id', eb.fn.countAll<number>().as('n')])
      .groupBy('subnet_id')
      .execute())
      used.set(row.subnet_id, Number(row.n));
    const out: NetworkAvailability[] = [];
    for (const net of networks) {
      const subnets = (await this.#subnets.ofNetwork(net.id)).filter(
        (s) => filter.ipVersion === undefined || s.row.ip_version === filter.ipVersion,
      );
      const per = subnets.map((s): SubnetAvailability => {
        const pools = poolRanges(s.pools);
        const range = rangeOf(prefixOf(s.row));
        const total =
          pools.length > 0
            ? pools.reduce((sum, p) => sum + (p.end - p.start + 1n), 0n)
            : range.end - range.start + 1n;
        return {
          subnet_id: s.row.id,
          subnet_name: s.row.name,
          cidr: s.row.cidr,
          ip_version: s.row.ip_version,
          total_ips: Number(total),
          used_ips: used.get(s.row.id) ?? 0,
        };
      });
      out.push({
        network_id: net.id,
        network_name: net.name,
        tenant_id: net.project_id,
        project_id: net.project_id,
        total_ips: per.reduce((sum, s) => sum + s.total_ips, 0),
        used_ips: per.reduce((sum, s) => sum + s.used_ips, 0),
        subnet_ip_availability: per,
      });
    }
    return out;
  }

  /** @throws NotFoundError (404) NetworkNotFound. */
  async get(networkId: string): Promise<NetworkAvailability> {
    await this.#networks.get(SYSTEM, networkId);
    const [found] = await this.list({ networkIds: [networkId] });
    if (!found) throw notFound('network', networkId);
    return found;
  }
}
