/**
 * Networks: ownership and visibility (own, shared, external), provider segments (a VXLAN or VLAN
 * id picked from the configured ranges for project networks; given by an admin for provider
 * networks), MTU by network type, and deletion rules (not while non-network ports use it).
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
import type { NetworkRow } from './db/schema.ts';
import { badRequest, conflict, invalidInput, notFound } from './errors.ts';
import { selectPage, toBoolean, type ListQuery, type ListSpec } from './listing.ts';
import { setWildcard, targetedTo } from './rbac.ts';
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

export const NETWORK_TYPES = ['flat', 'vlan', 'vxlan', 'local'] as const;
export type NetworkType = (typeof NETWORK_TYPES)[number];

export type Network = {
  readonly row: NetworkRow;
  /** Shared with everyone, or with the viewer's project by an RBAC entry. */
  readonly shared: boolean;
  readonly subnets: readonly string[];
  readonly tags: readonly string[];
};

export type NetworkInput = {
  projectId: string;
  name?: string;
  description?: string;
  adminStateUp?: boolean;
  shared?: boolean;
  external?: boolean;
  mtu?: number;
  portSecurityEnabled?: boolean;
  availabilityZoneHints?: string[];
  dnsDomain?: string;
  networkType?: string;
  physicalNetwork?: string | null;
  segmentationId?: number | null;
};

export type NetworkChanges = Omit<
  NetworkInput,
  'projectId' | 'networkType' | 'physicalNetwork' | 'segmentationId' | 'availabilityZoneHints'
>;

export const NETWORK_LIST: ListSpec = {
  attrs: {
    id: { column: 'id', kind: 'string' },
    name: { column: 'name', kind: 'string' },
    description: { column: 'description', kind: 'string' },
    tenant_id: { column: 'project_id', kind: 'string' },
    project_id: { column: 'project_id', kind: 'string' },
    status: { column: 'status', kind: 'string' },
    admin_state_up: { column: 'admin_state_up', kind: 'bool' },
    'router:external': { column: 'external', kind: 'bool' },
    mtu: { column: 'mtu', kind: 'int' },
    port_security_enabled: { column: 'port_security_enabled', kind: 'bool' },
    'provider:network_type': { column: 'network_type', kind: 'string' },
    'provider:physical_network': { column: 'physical_network', kind: 'string' },
    'provider:segmentation_id': { column: 'segmentation_id', kind: 'int', nullable: true },
    revision_number: { column: 'revision_number', kind: 'int' },
  },
  special: new Set(['subnets', 'is_default', 'shared']),
  tagType: 'networks',
};

/** VXLAN's outer headers take 50 bytes of the physical MTU. */
const VXLAN_OVERHEAD = 50;

type Ranges = readonly { readonly min: number; readonly max: number }[];

function parseRange(text: string): { min: number; max: number } {
  const [min = 0, max = 0] = text.split(':').map(Number);
  return { min, max };
}

/**
 * The visibility condition of networks for `viewer`: own, shared with everyone or with its
 * project (RBAC), external; admins see all.
 */
export function visibleNetworks(
  viewer: Viewer,
  table = 'networks',
): Expression<SqlBool> | undefined {
  if (viewer.isAdmin) return undefined;
  const own = viewer.projectId ?? '';
  return sql<SqlBool>`(${sql.ref(`${table}.project_id`)} = ${own} or ${sql.ref(`${table}.shared`)} = 1 or ${sql.ref(`${table}.external`)} = 1 or ${targetedTo(table, own)})`;
}

/** Networks shared with `projectId` by an `access_as_shared` entry naming it. */
function targetedShare(projectId: string): Expression<SqlBool> {
  return sql<SqlBool>`exists (select 1 from rbac_policies r where r.object_id = networks.id and r.action = 'access_as_shared' and r.target_project = ${projectId})`;
}

export class Networks {
  readonly #db: Db;
  readonly #config: NetworkConfig;
  readonly #now: () => Date;
  readonly #vni: Ranges;
  readonly #vlans: ReadonlyMap<string, Ranges>;

  constructor(db: Db, config: NetworkConfig, now: () => Date = () => new Date()) {
    this.#db = db;
    this.#config = config;
    this.#now = now;
    this.#vni = config.vni_ranges.map(parseRange);
    const vlans = new Map<string, { min: number; max: number }[]>();
    for (const entry of config.network_vlan_ranges) {
      const [physnet = '', ...range] = entry.split(':');
      const list = vlans.get(physnet) ?? [];
      if (range.length === 2) list.push(parseRange(range.join(':')));
      vlans.set(physnet, list);
    }
    this.#vlans = vlans;
  }

  /** The network `id` as `viewer` may see it. @throws NotFoundError (404) NetworkNotFound. */
  async get(viewer: Viewer, id: string): Promise<Network> {
    const row = await this.#row(viewer, id);
    const [network] = await this.#hydrate([row], viewer);
    return network as Network;
  }

  async #row(viewer: Viewer, id: string): Promise<NetworkRow> {
    return visibleRow(this.#db, 'networks', id, visibleNetworks(viewer), (missingId) =>
      notFound('network', missingId),
    );
  }

  async list(viewer: Viewer, query: ListQuery): Promise<Network[]> {
    const visible = visibleNetworks(viewer);
    const conditions = visible ? [visible] : [];
    const subnetIds = query.special.get('subnets');
    if (subnetIds && subnetIds.length > 0)
      conditions.push(
        sql<SqlBool>`networks.id in (select network_id from subnets where id in (${sql.join(subnetIds)}))`,
      );
    const shared = query.special.get('shared')?.at(-1);
    if (shared !== undefined) {
      const wanted = toBoolean(shared);
      const own = viewer.projectId ?? '';
      const cond = sql<SqlBool>`(networks.shared = 1 or ${targetedShare(own)})`;
      conditions.push(wanted ? cond : sql<SqlBool>`not ${cond}`);
    }
    const isDefault = query.special.get('is_default');
    // No network is a default external network (auto-allocated topology is not offered).
    if (isDefault && isDefault.some((v) => v.toLowerCase() === 'true')) return [];
    const rows = await selectPage(this.#db, 'networks', query, conditions, {
      tagType: 'networks',
      missingMarker: (id) => notFound('network', id),
    });
    return this.#hydrate(rows, viewer);
  }

  async #hydrate(rows: readonly NetworkRow[], viewer: Viewer): Promise<Network[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const sharedWith = new Set<string>();
    if (viewer.projectId !== undefined)
      for (let i = 0; i < ids.length; i += 500)
        for (const r of await this.#db
          .selectFrom('rbac_policies')
          .select('object_id')
          .where('object_id', 'in', ids.slice(i, i + 500))
          .where('action', '=', 'access_as_shared')
          .where('target_project', '=', viewer.projectId)
          .execute())
          sharedWith.add(r.object_id);
    const subnets = new Map<string, string[]>(ids.map((id) => [id, []]));
    for (let i = 0; i < ids.length; i += 500) {
      const found = await this.#db
        .selectFrom('subnets')
        .select(['id', 'network_id'])
        .where('network_id', 'in', ids.slice(i, i + 500))
        .orderBy('created_at')
        .orderBy('id')
        .execute();
      for (const s of found) subnets.get(s.network_id)?.push(s.id);
    }
    const tags = await tagsOf(this.#db, 'networks', ids);
    return rows.map((row) => ({
      row,
      shared: row.shared === 1 || sharedWith.has(row.id),
      subnets: subnets.get(row.id) ?? [],
      tags: tags.get(row.id) ?? [],
    }));
  }

  /**
   * @throws BadRequestError (400) for inconsistent provider attributes; ConflictError (409)
   *   SegmentationIdInUse / NoNetworkAvailable.
   */
  async create(input: NetworkInput): Promise<Network> {
    const segment = this.#segmentOf(input);
    const at = toDbTimestamp(this.#now());
    const mtu = input.mtu ?? this.#defaultMtu(segment.type);
    if (mtu > this.#defaultMtu(segment.type) && input.mtu !== undefined)
      throw invalidInput(`Requested MTU is too big, maximum is ${this.#defaultMtu(segment.type)}`);
    const id = newId();
    await withRetry(async () => {
      for (let attempt = 0; ; attempt++) {
        const segmentationId =
          segment.id !== undefined
            ? segment.id
            : await this.#freeSegment(segment.type, segment.physnet, attempt > 0);
        try {
          await this.#db
            .insertInto('networks')
            .values({
              id,
              project_id: input.projectId,
              name: input.name ?? '',
              description: input.description ?? '',
              revision_number: 1,
              created_at: at,
              updated_at: at,
              admin_state_up: toDbBoolean(input.adminStateUp ?? true),
              status: 'ACTIVE',
              shared: toDbBoolean(input.shared ?? false),
              external: toDbBoolean(input.external ?? false),
              mtu,
              port_security_enabled: toDbBoolean(input.portSecurityEnabled ?? true),
              network_type: segment.type,
              physical_network: segment.physnet,
              segmentation_id: segmentationId,
              availability_zone_hints: toDbJson(input.availabilityZoneHints ?? []),
              dns_domain: input.dnsDomain ?? '',
            })
            .execute();
          return;
        } catch (err) {
          if (!(err instanceof DuplicateKeyError)) throw err;
          if (segment.id !== undefined)
            throw conflict(
              'SegmentationIdInUse',
              `Unable to create the network. The segmentation ID ${segment.id} is in use on physical network ${segment.physnet || 'None'}.`,
            );
          // Another network took the same free id between the read and the insert.
          if (attempt >= 20) throw err;
        }
      }
    });
    const now = this.#now();
    if (input.shared === true)
      await setWildcard(
        this.#db,
        { id, project_id: input.projectId },
        'access_as_shared',
        true,
        now,
      );
    if (input.external === true)
      await setWildcard(
        this.#db,
        { id, project_id: input.projectId },
        'access_as_external',
        true,
        now,
      );
    return this.get({ projectId: input.projectId, isAdmin: true }, id);
  }

  #defaultMtu(type: string): number {
    return type === 'vxlan'
      ? this.#config.global_physnet_mtu - VXLAN_OVERHEAD
      : this.#config.global_physnet_mtu;
  }

  /** The segment a new network gets: the given provider attributes, or a project network's. */
  #segmentOf(input: NetworkInput): {
    type: NetworkType;
    physnet: string;
    id: number | null | undefined;
  } {
    const given =
      input.networkType !== undefined ||
      input.physicalNetwork !== undefined ||
      input.segmentationId !== undefined;
    if (!given) {
      const type = this.#config.tenant_network_type;
      if (type === 'vlan') {
        const physnet = [...this.#vlans].find(([, ranges]) => ranges.length > 0)?.[0];
        if (physnet === undefined)
          throw conflict(
            'NoNetworkAvailable',
            'Unable to create the network. No tenant network is available for allocation.',
          );
        return { type, physnet, id: undefined };
      }
      if (type === 'flat')
        throw conflict(
          'NoNetworkAvailable',
          'Unable to create the network. No tenant network is available for allocation.',
        );
      return { type, physnet: '', id: undefined };
    }
    const type = input.networkType;
    if (type === undefined) throw invalidInput('provider:network_type required');
    if (!(NETWORK_TYPES as readonly string[]).includes(type))
      throw invalidInput(`network_type value '${type}' not supported`);
    const physnet = input.physicalNetwork ?? '';
    const id = input.segmentationId ?? undefined;
    switch (type as NetworkType) {
      case 'flat': {
        if (id !== undefined) throw invalidInput('segmentation_id specified for flat network');
        if (physnet === '')
          throw invalidInput('physical_network required for flat provider network');
        const allowed = this.#config.flat_networks;
        if (!allowed.includes('*') && !allowed.includes(physnet))
          throw invalidInput(`physical_network '${physnet}' unknown for flat provider network`);
        return { type: 'flat', physnet, id: null };
      }
      case 'vlan': {
        if (physnet === '')
          throw invalidInput('physical_network required for VLAN provider network');
        if (!this.#vlans.has(physnet))
          throw invalidInput(`physical_network '${physnet}' unknown for VLAN provider network`);
        if (id !== undefined && (id < 1 || id > 4094))
          throw invalidInput(`segmentation_id out of range (1 through 4094)`);
        return { type: 'vlan', physnet, id };
      }
      case 'vxlan': {
        if (physnet !== '')
          throw invalidInput('provider:physical_network specified for vxlan network');
        if (id !== undefined && (id < 1 || id > 16777215))
          throw invalidInput('segmentation_id out of range (1 through 16777215)');
        return { type: 'vxlan', physnet: '', id };
      }
      case 'local':
        if (physnet !== '' || id !== undefined)
          throw invalidInput(
            'provider:physical_network and provider:segmentation_id are not allowed for local network',
          );
        return { type: 'local', physnet: '', id: null };
    }
  }

  /**
   * The lowest id of the configured ranges no network of `type` on `physnet` uses; after a
   * collision (`spread`), one of the 32 lowest, so concurrent creates stop picking alike.
   */
  async #freeSegment(type: NetworkType, physnet: string, spread: boolean): Promise<number | null> {
    const ranges =
      type === 'vxlan' ? this.#vni : type === 'vlan' ? (this.#vlans.get(physnet) ?? []) : undefined;
    if (ranges === undefined) return null;
    const used = new Set(
      (
        await this.#db
          .selectFrom('networks')
          .select('segmentation_id')
          .where('network_type', '=', type)
          .where('physical_network', '=', physnet)
          .execute()
      ).map((r) => r.segmentation_id),
    );
    const free: number[] = [];
    const want = spread ? 32 : 1;
    for (const r of ranges)
      for (let id = r.min; id <= r.max && free.length < want; id++)
        if (!used.has(id)) free.push(id);
    const chosen = free[Math.floor(Math.random() * free.length)];
    if (chosen === undefined)
      throw conflict(
        'NoNetworkAvailable',
        'Unable to create the network. No tenant network is available for allocation.',
      );
    return chosen;
  }

  /** @throws NotFoundError (404); the 412 of a failed `If-Match`. */
  async update(
    viewer: Viewer,
    id: string,
    changes: NetworkChanges,
    revision?: number,
  ): Promise<Network> {
    const row = await this.#row(viewer, id);
    checkRevision(revision, row.revision_number);
    if (changes.mtu !== undefined && changes.mtu > this.#defaultMtu(row.network_type))
      throw invalidInput(
        `Requested MTU is too big, maximum is ${this.#defaultMtu(row.network_type)}`,
      );
    const now = this.#now();
    if (changes.shared !== undefined && changes.shared !== (row.shared === 1))
      await setWildcard(this.#db, row, 'access_as_shared', changes.shared, now);
    if (changes.external === false && row.external === 1) {
      const gateway = await this.#db
        .selectFrom('ports')
        .select('id')
        .where('network_id', '=', id)
        .where('device_owner', 'in', ['network:router_gateway', 'network:floatingip'])
        .executeTakeFirst();
      if (gateway)
        throw conflict(
          'ExternalNetworkInUse',
          `External network ${id} cannot be updated to be made non-external, since it has existing gateway ports.`,
        );
    }
    if (changes.external !== undefined && changes.external !== (row.external === 1))
      await setWildcard(this.#db, row, 'access_as_external', changes.external, now);
    const set: Partial<NetworkRow> = {};
    if (changes.name !== undefined) set.name = changes.name;
    if (changes.description !== undefined) set.description = changes.description;
    if (changes.adminStateUp !== undefined) set.admin_state_up = toDbBoolean(changes.adminStateUp);
    if (changes.mtu !== undefined) set.mtu = changes.mtu;
    if (changes.portSecurityEnabled !== undefined)
      set.port_security_enabled = toDbBoolean(changes.portSecurityEnabled);
    if (changes.dnsDomain !== undefined) set.dns_domain = changes.dnsDomain;
    await this.bump(id, set);
    return this.get(viewer, id);
  }

  /** Writes `set` and moves the revision on (also for an empty change, as Neutron does not). */
  async bump(id: string, set: Partial<NetworkRow>): Promise<void> {
    if (Object.keys(set).length === 0) return;
    await revise(this.#db, 'networks', id, this.#now(), set);
  }

  /**
   * Deletes the network, its subnets and the ports the network itself owns (DHCP).
   * @throws ConflictError (409) NetworkInUse while other ports use it.
   */
  async delete(viewer: Viewer, id: string, revision?: number): Promise<NetworkRow> {
    const row = await this.#row(viewer, id);
    checkRevision(revision, row.revision_number);
    await withRetry(() =>
      this.#db.transaction().execute(async (trx) => {
        const used = await trx
          .selectFrom('ports')
          .select('id')
          .where('network_id', '=', id)
          .where('device_owner', 'not in', ['network:dhcp'])
          .orderBy('id')
          .execute();
        if (used.length > 0)
          throw conflict(
            'NetworkInUse',
            `Unable to complete operation on network ${id}. There are one or more ports still in use on the network, id for these ports is: ${used.map((p) => p.id).join(',')}.`,
          );
        const ports = trx.selectFrom('ports').select('id').where('network_id', '=', id);
        await trx.deleteFrom('ip_allocations').where('network_id', '=', id).execute();
        await trx.deleteFrom('port_security_groups').where('port_id', 'in', ports).execute();
        await trx.deleteFrom('ports').where('network_id', '=', id).execute();
        const subnets = trx.selectFrom('subnets').select('id').where('network_id', '=', id);
        await trx
          .deleteFrom('tags')
          .where('resource_type', '=', 'subnets')
          .where('resource_id', 'in', subnets)
          .execute();
        await trx.deleteFrom('subnets').where('network_id', '=', id).execute();
        await trx
          .deleteFrom('tags')
          .where('resource_type', '=', 'networks')
          .where('resource_id', '=', id)
          .execute();
        await trx.deleteFrom('rbac_policies').where('object_id', '=', id).execute();
        await trx.deleteFrom('networks').where('id', '=', id).execute();
      }),
    );
    return row;
  }

  /** How many networks `projectId` owns (for quotas). */
  async count(projectId: string): Promise<number> {
    return countOwned(this.#db, 'networks', projectId);
  }
}

export { badRequest };
