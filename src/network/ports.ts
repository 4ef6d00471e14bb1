/**
 * Ports: a MAC (generated from `base_mac`, unique on the network), addresses from IPAM, security
 * groups (the project's `default` one unless told otherwise, none for the network's own ports or
 * with port security off), binding attributes, and status `DOWN` until a data plane reports the
 * port up. A create or an address change is one transaction, run again when a concurrent one
 * took the address or MAC it picked.
 */
import { randomInt } from 'node:crypto';
import { sql, type Expression, type SqlBool } from 'kysely';
import {
  DuplicateKeyError,
  toDbBoolean,
  toDbJson,
  toDbTimestamp,
  withRetry,
} from '../common/db/portable.ts';
import type { NetworkConfig } from './config.ts';
import type { NetworkRow, PortRow } from './db/schema.ts';
import { badRequest, conflict, ipAddressGenerationFailure, notFound } from './errors.ts';
import { AddressTaken, Ipam, type Allocation, type FixedIpRequest } from './ipam.ts';
import { selectPage, type ListQuery } from './listing.ts';
import { normalizeMac, portFilters, SERVICE_OWNERS, trusted, vifFor } from './port-fields.ts';
import type { SecurityGroups } from './security-groups.ts';
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
import type { Subnets } from './subnets.ts';

export {
  AUTO_DELETE_OWNERS,
  normalizeMac,
  PORT_LIST,
  SERVICE_OWNERS,
  VNIC_TYPES,
} from './port-fields.ts';

export type AddressPair = { ip_address: string; mac_address: string };
export type DhcpOption = { opt_name: string; opt_value: string; ip_version: number };

export type Port = {
  readonly row: PortRow;
  readonly fixedIps: readonly Allocation[];
  readonly securityGroups: readonly string[];
  readonly tags: readonly string[];
  readonly allowedAddressPairs: readonly AddressPair[];
  readonly extraDhcpOpts: readonly DhcpOption[];
  readonly vifDetails: Record<string, unknown>;
  readonly profile: Record<string, unknown>;
};

export type PortInput = {
  projectId: string;
  name?: string;
  description?: string;
  adminStateUp?: boolean;
  macAddress?: string;
  fixedIps?: FixedIpRequest[];
  deviceId?: string;
  deviceOwner?: string;
  portSecurityEnabled?: boolean;
  securityGroups?: string[];
  allowedAddressPairs?: { ip_address: string; mac_address?: string }[];
  extraDhcpOpts?: DhcpOption[];
  hostId?: string;
  vnicType?: string;
  profile?: Record<string, unknown>;
  tags?: string[];
  /** For a floating IP's own port, which is never plugged: `N/A`. Default `DOWN`. */
  status?: 'DOWN' | 'N/A';
};

export type PortChanges = Omit<PortInput, 'projectId' | 'tags' | 'status'>;

/** Visible ports: own, or (for the network's owner) every port on an own network. */
function visiblePorts(viewer: Viewer): Expression<SqlBool> | undefined {
  if (viewer.isAdmin) return undefined;
  const own = viewer.projectId ?? '';
  return sql<SqlBool>`(ports.project_id = ${own} or exists (select 1 from networks n where n.id = ports.network_id and n.project_id = ${own}))`;
}

export class Ports {
  readonly #db: Db;
  readonly #config: NetworkConfig;
  readonly #subnets: Subnets;
  readonly #groups: SecurityGroups;
  readonly #now: () => Date;

  constructor(
    db: Db,
    config: NetworkConfig,
    subnets: Subnets,
    groups: SecurityGroups,
    now: () => Date = () => new Date(),
  ) {
    this.#db = db;
    this.#config = config;
    this.#subnets = subnets;
    this.#groups = groups;
    this.#now = now;
  }

  async #row(viewer: Viewer, id: string): Promise<PortRow> {
    return visibleRow(this.#db, 'ports', id, visiblePorts(viewer), (missingId) =>
      notFound('port', missingId),
    );
  }

  /** @throws NotFoundError (404) PortNotFound. */
  async get(viewer: Viewer, id: string): Promise<Port> {
    const [port] = await this.#hydrate([await this.#row(viewer, id)]);
    return port as Port;
  }

  /** The ports among `ids` that exist, in one round of queries. */
  async many(ids: readonly string[]): Promise<Port[]> {
    if (ids.length === 0) return [];
    const rows: PortRow[] = [];
    for (let i = 0; i < ids.length; i += 500)
      rows.push(
        ...(await this.#db
          .selectFrom('ports')
          .selectAll()
          .where('id', 'in', ids.slice(i, i + 500))
          .execute()),
      );
    return this.#hydrate(rows);
  }

  async list(viewer: Viewer, query: ListQuery): Promise<Port[]> {
    const visible = visiblePorts(viewer);
    const conditions = visible ? [visible] : [];
    conditions.push(...portFilters(query));
    const rows = await selectPage(this.#db, 'ports', query, conditions, {
      tagType: 'ports',
      missingMarker: (id) => notFound('port', id),
    });
    return this.#hydrate(rows);
  }

  async #hydrate(rows: readonly PortRow[]): Promise<Port[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const ips = new Map<string, Allocation[]>(ids.map((id) => [id, []]));
    const groups = new Map<string, string[]>(ids.map((id) => [id, []]));
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      for (const a of await this.#db
        .selectFrom('ip_allocations')
        .select(['port_id', 'subnet_id', 'ip_address'])
        .where('port_id', 'in', chunk)
        // Neutron's order (models_v2 Port.fixed_ips).
        .orderBy('ip_address')
        .orderBy('subnet_id')
        .execute())
        ips.get(a.port_id)?.push({ subnetId: a.subnet_id, ipAddress: a.ip_address });
      for (const g of await this.#db
        .selectFrom('port_security_groups')
        .select(['port_id', 'security_group_id'])
        .where('port_id', 'in', chunk)
        .execute())
        groups.get(g.port_id)?.push(g.security_group_id);
    }
    const tags = await tagsOf(this.#db, 'ports', ids);
    return rows.map((row) => ({
      row,
      fixedIps: ips.get(row.id) ?? [],
      securityGroups: (groups.get(row.id) ?? []).sort(),
      tags: tags.get(row.id) ?? [],
      allowedAddressPairs: JSON.parse(row.allowed_address_pairs) as AddressPair[],
      extraDhcpOpts: JSON.parse(row.extra_dhcp_opts) as DhcpOption[],
      vifDetails: JSON.parse(row.binding_vif_details) as Record<string, unknown>,
      profile: JSON.parse(row.binding_profile) as Record<string, unknown>,
    }));
  }

  /** A MAC from `base_mac`: its first three octets (and any later non-zero ones) kept. */
  #generateMac(): string {
    const base = this.#config.base_mac.toLowerCase().split(':');
    return base
      .map((octet, i) =>
        i < 3 || octet !== '00' ? octet : randomInt(256).toString(16).padStart(2, '0'),
      )
      .join(':');
  }

  /**
   * @throws NotFoundError (404) for an unknown subnet or security group; BadRequestError (400)
   *   for addresses outside the network or bad pairs; ConflictError (409) MacAddressInUse,
   *   IpAddressAlreadyAllocated, IpAddressGenerationFailure.
   */
  async create(viewer: Viewer, network: NetworkRow, input: PortInput): Promise<Port> {
    const deviceOwner = input.deviceOwner ?? '';
    const portSecurity = input.portSecurityEnabled ?? network.port_security_enabled === 1;
    const subnets = await this.#subnets.ofNetwork(network.id);
    const addressless = input.fixedIps !== undefined && input.fixedIps.length === 0;
    let groups: string[] = [];
    if (input.securityGroups !== undefined && input.securityGroups.length > 0) {
      if (!portSecurity || (addressless && subnets.length > 0))
        throw badRequest(
          'Port security must be enabled and port must have an IP address in order to use security groups.',
        );
      groups = [...new Set(input.securityGroups)];
      await this.#groups.checkUsable(viewer, groups);
    } else if (input.securityGroups === undefined && portSecurity && !trusted(deviceOwner)) {
      groups = [await this.#groups.ensureDefault(input.projectId)];
    }
    const mac = input.macAddress !== undefined ? normalizeMac(input.macAddress) : undefined;
    const pairs = this.#pairs(input.allowedAddressPairs ?? [], portSecurity);
    const vif = vifFor(input.hostId ?? '');
    const id = newId();
    for (let attempt = 0; ; attempt++) {
      const chosenMac = mac ?? this.#generateMac();
      try {
        await withRetry(() =>
          this.#db.transaction().execute(async (trx) => {
            const at = toDbTimestamp(this.#now());
            await trx
              .insertInto('ports')
              .values({
                id,
                project_id: input.projectId,
                name: input.name ?? '',
                description: input.description ?? '',
                revision_number: 1,
                created_at: at,
                updated_at: at,
                network_id: network.id,
                mac_address: chosenMac,
                admin_state_up: toDbBoolean(input.adminStateUp ?? true),
                status: input.status ?? 'DOWN',
                device_id: input.deviceId ?? '',
                device_owner: deviceOwner,
                port_security_enabled: toDbBoolean(portSecurity),
                binding_host_id: input.hostId ?? '',
                binding_vif_type: vif.type,
                binding_vif_details: toDbJson(vif.details),
                binding_vnic_type: input.vnicType ?? 'normal',
                binding_profile: toDbJson(input.profile ?? {}),
                allowed_address_pairs: toDbJson(
                  pairs.map((p) => ({
                    ip_address: p.ip_address,
                    mac_address: p.mac_address ?? chosenMac,
                  })),
                ),
                extra_dhcp_opts: toDbJson(input.extraDhcpOpts ?? []),
                dns_name: '',
              })
              .execute();
            const ipam = new Ipam(trx, network.id, subnets);
            const allocations = await ipam.allocate(
              input.fixedIps,
              chosenMac,
              deviceOwner === 'network:dhcp',
            );
            await ipam.write(id, allocations);
            if (groups.length > 0)
              await trx
                .insertInto('port_security_groups')
                .values(groups.map((g) => ({ port_id: id, security_group_id: g })))
                .execute();
            if (input.tags !== undefined && input.tags.length > 0)
              await trx
                .insertInto('tags')
                .values(
                  [...new Set(input.tags)].map((tag) => ({
                    resource_type: 'ports',
                    resource_id: id,
                    tag,
                  })),
                )
                .execute();
          }),
        );
        break;
      } catch (err) {
        if (
          err instanceof DuplicateKeyError &&
          (err.constraint === 'ports_network_mac' || err.columns?.includes('mac_address'))
        ) {
          if (mac !== undefined) throw macInUse(network.id, mac);
          if (attempt < 16) continue;
        }
        if (err instanceof AddressTaken && attempt < 32) continue;
        if (err instanceof AddressTaken) throw ipAddressGenerationFailure(network.id);
        throw err;
      }
    }
    return this.get({ projectId: input.projectId, isAdmin: true }, id);
  }

  #pairs(
    pairs: readonly { ip_address: string; mac_address?: string }[],
    portSecurity: boolean,
  ): { ip_address: string; mac_address?: string }[] {
    if (pairs.length === 0) return [];
    if (!portSecurity)
      throw conflict(
        'AddressPairAndPortSecurityRequired',
        'Port Security must be enabled in order to have allowed address pairs on a port.',
      );
    if (pairs.length > 10)
      throw badRequest('The number of allowed address pair exceeds the maximum 10.');
    return pairs.map((p) => ({
      ip_address: p.ip_address,
      ...(p.mac_address !== undefined ? { mac_address: normalizeMac(p.mac_address) } : {}),
    }));
  }

  /** @throws as `create`; the 412 of a failed `If-Match`. */
  async update(viewer: Viewer, id: string, changes: PortChanges, revision?: number): Promise<Port> {
    const port = await this.get(viewer, id);
    const row = port.row;
    checkRevision(revision, row.revision_number);
    const set: Partial<PortRow> = {};
    if (changes.name !== undefined) set.name = changes.name;
    if (changes.description !== undefined) set.description = changes.description;
    if (changes.adminStateUp !== undefined) set.admin_state_up = toDbBoolean(changes.adminStateUp);
    if (changes.deviceId !== undefined) set.device_id = changes.deviceId;
    if (changes.deviceOwner !== undefined) set.device_owner = changes.deviceOwner;
    if (changes.vnicType !== undefined) set.binding_vnic_type = changes.vnicType;
    if (changes.profile !== undefined) set.binding_profile = toDbJson(changes.profile);
    if (changes.extraDhcpOpts !== undefined) set.extra_dhcp_opts = toDbJson(changes.extraDhcpOpts);
    if (changes.hostId !== undefined) {
      const vif = vifFor(changes.hostId);
      set.binding_host_id = changes.hostId;
      set.binding_vif_type = vif.type;
      set.binding_vif_details = toDbJson(vif.details);
    }
    let mac = row.mac_address;
    if (changes.macAddress !== undefined) {
      mac = normalizeMac(changes.macAddress);
      if (mac !== row.mac_address) {
        if (row.binding_host_id !== '' && changes.hostId !== '')
          throw conflict(
            'PortBound',
            `Unable to complete operation on port ${id}, port is already bound, port type: ${row.binding_vif_type}, old_mac ${row.mac_address}, new_mac ${mac}.`,
          );
        set.mac_address = mac;
      }
    }
    const portSecurity = changes.portSecurityEnabled ?? row.port_security_enabled === 1;
    if (changes.portSecurityEnabled !== undefined)
      set.port_security_enabled = toDbBoolean(portSecurity);
    let groups: string[] | undefined;
    if (changes.securityGroups !== undefined) {
      groups = [...new Set(changes.securityGroups)];
      if (groups.length > 0 && !portSecurity)
        throw badRequest(
          'Port security must be enabled and port must have an IP address in order to use security groups.',
        );
      await this.#groups.checkUsable(viewer, groups);
    } else if (!portSecurity && port.securityGroups.length > 0)
      throw conflict(
        'PortSecurityPortHasSecurityGroup',
        'Port has security group associated. Cannot disable port security or IP address until security group is removed.',
      );
    if (changes.allowedAddressPairs !== undefined)
      set.allowed_address_pairs = toDbJson(
        this.#pairs(changes.allowedAddressPairs, portSecurity).map((p) => ({
          ip_address: p.ip_address,
          mac_address: p.mac_address ?? mac,
        })),
      );
    else if (!portSecurity && port.allowedAddressPairs.length > 0)
      throw conflict(
        'AddressPairAndPortSecurityRequired',
        'Port Security must be enabled in order to have allowed address pairs on a port.',
      );
    const subnets =
      changes.fixedIps !== undefined ? await this.#subnets.ofNetwork(row.network_id) : [];
    for (let attempt = 0; ; attempt++) {
      try {
        await withRetry(() =>
          this.#db.transaction().execute(async (trx) => {
            if (changes.fixedIps !== undefined) {
              const ipam = new Ipam(trx, row.network_id, subnets);
              const wanted = await ipam.allocate(
                changes.fixedIps,
                mac,
                row.device_owner === 'network:dhcp',
                port.fixedIps,
              );
              await trx.deleteFrom('ip_allocations').where('port_id', '=', id).execute();
              await ipam.write(id, wanted);
            }
            if (groups !== undefined) {
              await trx.deleteFrom('port_security_groups').where('port_id', '=', id).execute();
              if (groups.length > 0)
                await trx
                  .insertInto('port_security_groups')
                  .values(groups.map((g) => ({ port_id: id, security_group_id: g })))
                  .execute();
            }
            await revise(trx, 'ports', id, this.#now(), set);
          }),
        );
        break;
      } catch (err) {
        if (err instanceof DuplicateKeyError && set.mac_address !== undefined)
          throw macInUse(row.network_id, mac);
        if (err instanceof AddressTaken && attempt < 32) continue;
        if (err instanceof AddressTaken) throw ipAddressGenerationFailure(row.network_id);
        throw err;
      }
    }
    return this.get(viewer, id);
  }

  /**
   * Deletes the port; floating IPs on it let go of it and its port forwardings go with it.
   * @throws ConflictError (409) ServicePortInUse for a router's or floating IP's own port, which
   *   only the router or floating IP (`service`) deletes.
   */
  async delete(viewer: Viewer, id: string, revision?: number, service = false): Promise<PortRow> {
    const row = await this.#row(viewer, id);
    checkRevision(revision, row.revision_number);
    if (!service && SERVICE_OWNERS.has(row.device_owner) && (await this.#serviceExists(row)))
      throw conflict(
        'ServicePortInUse',
        `Port ${id} cannot be deleted directly via the port API: has device owner ${row.device_owner}.`,
      );
    await withRetry(() =>
      this.#db.transaction().execute(async (trx) => {
        const forwarded = await trx
          .selectFrom('port_forwardings')
          .select('floatingip_id')
          .where('internal_port_id', '=', id)
          .execute();
        await trx.deleteFrom('port_forwardings').where('internal_port_id', '=', id).execute();
        // A floating IP that reached this port only by forwarding lets go of its router.
        if (forwarded.length > 0)
          await trx
            .updateTable('floatingips')
            .set({ router_id: null, revision_number: sql<number>`revision_number + 1` })
            .where(
              'id',
              'in',
              forwarded.map((f) => f.floatingip_id),
            )
            .where('fixed_port_id', 'is', null)
            .where(
              sql<SqlBool>`not exists (select 1 from port_forwardings f where f.floatingip_id = floatingips.id)`,
            )
            .execute();
        await trx
          .updateTable('floatingips')
          .set({
            fixed_port_id: null,
            fixed_ip_address: null,
            router_id: sql<
              string | null
            >`case when exists (select 1 from port_forwardings f where f.floatingip_id = floatingips.id) then router_id else null end`,
            status: 'DOWN',
            revision_number: sql<number>`revision_number + 1`,
          })
          .where('fixed_port_id', '=', id)
          .execute();
        await trx.deleteFrom('ip_allocations').where('port_id', '=', id).execute();
        await trx.deleteFrom('port_security_groups').where('port_id', '=', id).execute();
        await trx
          .deleteFrom('tags')
          .where('resource_type', '=', 'ports')
          .where('resource_id', '=', id)
          .execute();
        await trx.deleteFrom('ports').where('id', '=', id).execute();
      }),
    );
    return row;
  }

  /** Whether the router or floating IP a service port belongs to still exists. */
  async #serviceExists(row: PortRow): Promise<boolean> {
    if (row.device_id === '') return false;
    const found =
      row.device_owner === 'network:floatingip'
        ? await this.#db
            .selectFrom('floatingips')
            .select('id')
            .where('id', '=', row.device_id)
            .executeTakeFirst()
        : await this.#db
            .selectFrom('routers')
            .select('id')
            .where('id', '=', row.device_id)
            .executeTakeFirst();
    return found !== undefined;
  }

  async count(projectId: string): Promise<number> {
    return countOwned(this.#db, 'ports', projectId);
  }
}

function macInUse(networkId: string, mac: string): Error {
  return conflict(
    'MacAddressInUse',
    `Unable to complete operation for network ${networkId}. The mac address ${mac} is in use.`,
  );
}
