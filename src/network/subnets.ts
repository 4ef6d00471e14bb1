/**
 * Subnets: CIDR checks (family, host bits, overlap with the network's other subnets), gateway
 * and allocation pools (defaults and the rules that relate them), DNS servers and host routes
 * within their limits, IPv6 address modes; deletion only while no port holds an address from it.
 */
import { sql, type Expression, type SqlBool } from 'kysely';
import {
  DuplicateKeyError,
  toDbBoolean,
  toDbJson,
  toDbTimestamp,
  withRetry,
} from '../common/db/portable.ts';
import type { NetworkConfig } from './config.ts';
import type { NetworkRow, SubnetRow } from './db/schema.ts';
import { badRequest, conflict, invalidInput, notFound } from './errors.ts';
import {
  formatAddress,
  formatPrefix,
  overlaps,
  parseAddress,
  parsePrefix,
  type Prefix,
} from './ip.ts';
import {
  checkGatewayOutsidePools,
  checkModes,
  checkNameservers,
  checkPools,
  checkRoutes,
  defaultPools,
  gatewayOf,
  type HostRoute,
  type Pool,
} from './subnet-checks.ts';
import { selectPage, type ListQuery, type ListSpec } from './listing.ts';
import { visibleNetworks } from './networks.ts';
import {
  checkRevision,
  newId,
  tagsOf,
  type Db,
  type Viewer,
  visibleRow,
  countOwned,
  revise,
} from './standard.ts';

export type Subnet = {
  readonly row: SubnetRow;
  readonly tags: readonly string[];
  readonly pools: readonly Pool[];
  readonly dnsNameservers: readonly string[];
  readonly hostRoutes: readonly HostRoute[];
  readonly serviceTypes: readonly string[];
  /** Whether its network is `router:external`. */
  readonly external: boolean;
};

export type SubnetInput = {
  projectId: string;
  networkId: string;
  ipVersion: number;
  cidr: string;
  name?: string;
  description?: string;
  /** null: no gateway; undefined: the first host. */
  gatewayIp?: string | null;
  enableDhcp?: boolean;
  allocationPools?: Pool[];
  dnsNameservers?: string[];
  hostRoutes?: HostRoute[];
  ipv6RaMode?: string | null;
  ipv6AddressMode?: string | null;
  serviceTypes?: string[];
  /** The pool the CIDR was allocated from. */
  subnetpoolId?: string;
};

export type SubnetChanges = {
  name?: string;
  description?: string;
  gatewayIp?: string | null;
  enableDhcp?: boolean;
  allocationPools?: Pool[];
  dnsNameservers?: string[];
  hostRoutes?: HostRoute[];
  serviceTypes?: string[];
};

export const SUBNET_LIST: ListSpec = {
  attrs: {
    id: { column: 'id', kind: 'string' },
    name: { column: 'name', kind: 'string' },
    description: { column: 'description', kind: 'string' },
    tenant_id: { column: 'project_id', kind: 'string' },
    project_id: { column: 'project_id', kind: 'string' },
    network_id: { column: 'network_id', kind: 'string' },
    ip_version: { column: 'ip_version', kind: 'int' },
    cidr: { column: 'cidr', kind: 'string' },
    gateway_ip: { column: 'gateway_ip', kind: 'string', nullable: true },
    enable_dhcp: { column: 'enable_dhcp', kind: 'bool' },
    ipv6_ra_mode: { column: 'ipv6_ra_mode', kind: 'string', nullable: true },
    ipv6_address_mode: { column: 'ipv6_address_mode', kind: 'string', nullable: true },
    subnetpool_id: { column: 'subnetpool_id', kind: 'string', nullable: true },
    revision_number: { column: 'revision_number', kind: 'int' },
  },
  special: new Set(['segment_id']),
  tagType: 'subnets',
};

/** A subnet whose addresses ports get from the prefix and their MAC (no address is picked). */
export function isAutoAddress(row: Pick<SubnetRow, 'ipv6_address_mode'>): boolean {
  return row.ipv6_address_mode === 'slaac' || row.ipv6_address_mode === 'dhcpv6-stateless';
}

export function prefixOf(row: Pick<SubnetRow, 'cidr'>): Prefix {
  const prefix = parsePrefix(row.cidr);
  if (!prefix) throw new Error(`stored cidr ${row.cidr} does not parse`);
  return prefix;
}

export { IPV6_MODES, poolRanges, type HostRoute, type Pool } from './subnet-checks.ts';

/** Subnets of networks the viewer sees, plus (for admins) all. */
function visibleSubnets(viewer: Viewer): Expression<SqlBool> | undefined {
  if (viewer.isAdmin) return undefined;
  const own = viewer.projectId ?? '';
  const network = visibleNetworks(viewer, 'n');
  return sql<SqlBool>`(subnets.project_id = ${own} or exists (select 1 from networks n where n.id = subnets.network_id and n.project_id != ${own} and ${network}))`;
}

export class Subnets {
  readonly #db: Db;
  readonly #config: NetworkConfig;
  readonly #now: () => Date;

  constructor(db: Db, config: NetworkConfig, now: () => Date = () => new Date()) {
    this.#db = db;
    this.#config = config;
    this.#now = now;
  }

  async #row(viewer: Viewer, id: string): Promise<SubnetRow> {
    return visibleRow(this.#db, 'subnets', id, visibleSubnets(viewer), (missingId) =>
      notFound('subnet', missingId),
    );
  }

  /** @throws NotFoundError (404) SubnetNotFound. */
  async get(viewer: Viewer, id: string): Promise<Subnet> {
    const [subnet] = await this.#hydrate([await this.#row(viewer, id)]);
    return subnet as Subnet;
  }

  async list(viewer: Viewer, query: ListQuery): Promise<Subnet[]> {
    const visible = visibleSubnets(viewer);
    const conditions = visible ? [visible] : [];
    const segment = query.special.get('segment_id');
    // Subnets belong to no routed segment here.
    if (segment && segment.some((v) => v !== '' && v.toLowerCase() !== 'none')) return [];
    const rows = await selectPage(this.#db, 'subnets', query, conditions, {
      tagType: 'subnets',
      missingMarker: (id) => notFound('subnet', id),
    });
    return this.#hydrate(rows);
  }

  /** Every subnet of `networkId` (for address allocation), oldest first. */
  async ofNetwork(networkId: string): Promise<Subnet[]> {
    const rows = await this.#db
      .selectFrom('subnets')
      .selectAll()
      .where('network_id', '=', networkId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return this.#hydrate(rows);
  }

  async #hydrate(rows: readonly SubnetRow[]): Promise<Subnet[]> {
    if (rows.length === 0) return [];
    const tags = await tagsOf(
      this.#db,
      'subnets',
      rows.map((r) => r.id),
    );
    const networkIds = [...new Set(rows.map((r) => r.network_id))];
    const external = new Set<string>();
    for (let i = 0; i < networkIds.length; i += 500)
      for (const n of await this.#db
        .selectFrom('networks')
        .select('id')
        .where('id', 'in', networkIds.slice(i, i + 500))
        .where('external', '=', 1)
        .execute())
        external.add(n.id);
    return rows.map((row) => ({
      row,
      external: external.has(row.network_id),
      tags: tags.get(row.id) ?? [],
      pools: JSON.parse(row.allocation_pools) as Pool[],
      dnsNameservers: JSON.parse(row.dns_nameservers) as string[],
      hostRoutes: JSON.parse(row.host_routes) as HostRoute[],
      serviceTypes: JSON.parse(row.service_types) as string[],
    }));
  }

  /**
   * @throws BadRequestError (400) for a bad CIDR, gateway, pool, nameserver, route or IPv6 mode;
   *   ConflictError (409) for pools that overlap each other or the gateway.
   */
  async create(network: NetworkRow, input: SubnetInput): Promise<Subnet> {
    const version = input.ipVersion;
    if (version !== 4 && version !== 6)
      throw badRequest(
        `Invalid input for ip_version. Reason: ${String(version)} is not in valid_values.`,
      );
    const prefix = parsePrefix(input.cidr);
    if (!prefix || !input.cidr.includes('/'))
      throw badRequest(`Invalid input for cidr. Reason: '${input.cidr}' is not a valid IP subnet.`);
    if (prefix.version !== version)
      throw invalidInput(`cidr '${input.cidr}' does not match the ip_version '${version}'`);
    if (prefix.length === 0) throw invalidInput('0 is not allowed as CIDR prefix length');
    const enableDhcp = input.enableDhcp ?? true;
    if (enableDhcp && prefix.length > (version === 4 ? 30 : 126))
      throw invalidInput(
        'Subnet has a prefix length that is incompatible with DHCP service enabled',
      );
    const cidr = formatPrefix(prefix);
    checkModes(version, input.ipv6RaMode ?? null, input.ipv6AddressMode ?? null, enableDhcp);
    if (
      isAutoAddress({ ipv6_address_mode: input.ipv6AddressMode ?? input.ipv6RaMode ?? null }) &&
      prefix.length !== 64
    )
      throw invalidInput(
        `Invalid CIDR ${cidr} for IPv6 address mode. OpenStack uses the EUI-64 address format, which requires the prefix to be /64`,
      );
    const gateway = gatewayOf(prefix, input.gatewayIp);
    const pools =
      input.allocationPools !== undefined
        ? checkPools(prefix, cidr, input.allocationPools)
        : defaultPools(prefix, gateway);
    if (gateway !== null) checkGatewayOutsidePools(gateway, pools);
    const dns = checkNameservers(
      input.dnsNameservers ?? [],
      version,
      'new subnet',
      this.#config.max_dns_nameservers,
    );
    const routes = checkRoutes(
      input.hostRoutes ?? [],
      version,
      'new subnet',
      this.#config.max_subnet_host_routes,
    );
    const id = newId();
    const now = this.#now();
    const at = toDbTimestamp(now);
    await withRetry(() =>
      this.#db.transaction().execute(async (trx) => {
        // The network row first: it serialises subnet creates on one network, so two cannot both
        // pass the overlap check.
        await revise(trx, 'networks', network.id, now);
        const others = await trx
          .selectFrom('subnets')
          .select(['id', 'cidr'])
          .where('network_id', '=', network.id)
          .execute();
        for (const other of others) {
          const p = parsePrefix(other.cidr);
          if (p && overlaps(p, prefix))
            throw invalidInput(
              `Requested subnet with cidr: ${cidr} for network: ${network.id} overlaps with another subnet`,
            );
        }
        await trx
          .insertInto('subnets')
          .values({
            id,
            project_id: input.projectId,
            name: input.name ?? '',
            description: input.description ?? '',
            revision_number: 0,
            created_at: at,
            updated_at: at,
            network_id: network.id,
            ip_version: version,
            cidr,
            gateway_ip: gateway === null ? null : formatAddress(prefix.version, gateway),
            enable_dhcp: toDbBoolean(enableDhcp),
            ipv6_ra_mode: input.ipv6RaMode ?? null,
            ipv6_address_mode: input.ipv6AddressMode ?? null,
            subnetpool_id: input.subnetpoolId ?? null,
            allocation_pools: toDbJson(pools),
            dns_nameservers: toDbJson(dns),
            host_routes: toDbJson(routes),
            service_types: toDbJson(input.serviceTypes ?? []),
          })
          .execute();
      }),
    );
    return this.get({ projectId: input.projectId, isAdmin: true }, id);
  }

  /**
   * Creates a subnet whose CIDR `allocate` picks from a pool, picking again when a concurrent
   * create took the same block.
   */
  async createFromPool(
    network: NetworkRow,
    input: SubnetInput,
    allocate: () => Promise<string>,
  ): Promise<Subnet> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.create(network, { ...input, cidr: await allocate() });
      } catch (err) {
        if (!(err instanceof DuplicateKeyError) || attempt >= 8) throw err;
      }
    }
  }

  /** @throws as `create` for the changed attributes; the 412 of a failed `If-Match`. */
  async update(
    viewer: Viewer,
    id: string,
    changes: SubnetChanges,
    revision?: number,
  ): Promise<Subnet> {
    const current = await this.get(viewer, id);
    const row = current.row;
    checkRevision(revision, row.revision_number);
    const prefix = prefixOf(row);
    const set: Partial<SubnetRow> = {};
    let gateway = row.gateway_ip === null ? null : (parseAddress(row.gateway_ip)?.value ?? null);
    if (changes.gatewayIp !== undefined) {
      gateway = changes.gatewayIp === null ? null : gatewayOf(prefix, changes.gatewayIp);
      set.gateway_ip = gateway === null ? null : formatAddress(prefix.version, gateway);
    }
    let pools = current.pools;
    if (changes.allocationPools !== undefined) {
      pools = checkPools(prefix, row.cidr, changes.allocationPools);
      set.allocation_pools = toDbJson(pools);
    }
    if (
      gateway !== null &&
      (changes.gatewayIp !== undefined || changes.allocationPools !== undefined)
    )
      checkGatewayOutsidePools(gateway, pools);
    if (changes.dnsNameservers !== undefined)
      set.dns_nameservers = toDbJson(
        checkNameservers(
          changes.dnsNameservers,
          row.ip_version,
          id,
          this.#config.max_dns_nameservers,
        ),
      );
    if (changes.hostRoutes !== undefined)
      set.host_routes = toDbJson(
        checkRoutes(changes.hostRoutes, row.ip_version, id, this.#config.max_subnet_host_routes),
      );
    if (changes.name !== undefined) set.name = changes.name;
    if (changes.description !== undefined) set.description = changes.description;
    if (changes.enableDhcp !== undefined) set.enable_dhcp = toDbBoolean(changes.enableDhcp);
    if (changes.serviceTypes !== undefined) set.service_types = toDbJson(changes.serviceTypes);
    if (set.gateway_ip !== undefined && set.gateway_ip !== null) {
      const holder = await this.#db
        .selectFrom('ip_allocations')
        .select('port_id')
        .where('subnet_id', '=', id)
        .where('ip_address', '=', set.gateway_ip)
        .executeTakeFirst();
      if (holder)
        throw conflict(
          'IpAddressInUse',
          `Unable to complete operation for network ${row.network_id}. The IP address ${set.gateway_ip} is in use.`,
        );
    }
    if (Object.keys(set).length > 0) await revise(this.#db, 'subnets', id, this.#now(), set);
    return this.get(viewer, id);
  }

  /**
   * @throws ConflictError (409) SubnetInUse while a port other than the network's own (DHCP)
   *   holds an address from it.
   */
  async delete(viewer: Viewer, id: string, revision?: number): Promise<SubnetRow> {
    const row = await this.#row(viewer, id);
    checkRevision(revision, row.revision_number);
    await withRetry(() =>
      this.#db.transaction().execute(async (trx) => {
        const used = await trx
          .selectFrom('ip_allocations')
          .innerJoin('ports', 'ports.id', 'ip_allocations.port_id')
          .select('ports.id')
          .where('ip_allocations.subnet_id', '=', id)
          .where('ports.device_owner', '!=', 'network:dhcp')
          .executeTakeFirst();
        if (used && !isAutoAddress(row))
          throw conflict(
            'SubnetInUse',
            `Unable to complete operation on subnet ${id}: One or more ports have an IP allocation from this subnet.`,
          );
        await trx.deleteFrom('ip_allocations').where('subnet_id', '=', id).execute();
        await trx
          .deleteFrom('tags')
          .where('resource_type', '=', 'subnets')
          .where('resource_id', '=', id)
          .execute();
        await trx.deleteFrom('subnets').where('id', '=', id).execute();
        await revise(trx, 'networks', row.network_id, this.#now());
      }),
    );
    return row;
  }

  async count(projectId: string): Promise<number> {
    return countOwned(this.#db, 'subnets', projectId);
  }
}
