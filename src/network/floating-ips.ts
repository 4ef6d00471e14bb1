/**
 * Floating IPs: an IPv4 address on an external network (held by a `network:floatingip` port),
 * associated with one fixed IPv4 address of a project port through the router that connects the
 * port's subnet to that external network; and port forwardings from a floating IP's ports to an
 * internal port.
 */
import { sql, type Expression, type SqlBool } from 'kysely';
import { DuplicateKeyError, toDbTimestamp, withRetry } from '../common/db/portable.ts';
import { ApiError, BadRequestError } from '../common/errors.ts';
import type { FloatingIpRow, PortForwardingRow } from './db/schema.ts';
import { conflict, notFound } from './errors.ts';
import { parseAddress } from './ip.ts';
import { selectPage, type ListQuery, type ListSpec } from './listing.ts';
import type { Networks } from './networks.ts';
import type { Port, Ports } from './ports.ts';
import type { Routers } from './routers.ts';
import {
  checkRevision,
  newId,
  tagsOf,
  type Db,
  type Viewer,
  SYSTEM,
  visibleRow,
  countOwned,
  revise,
} from './standard.ts';
import type { Subnets } from './subnets.ts';

export type FloatingIp = {
  readonly row: FloatingIpRow;
  readonly tags: readonly string[];
  readonly forwardings: readonly PortForwardingRow[];
  /** The associated port's details, when there is one. */
  readonly port: Port | undefined;
};

export type FloatingIpInput = {
  projectId: string;
  floatingNetworkId: string;
  floatingIpAddress?: string;
  subnetId?: string;
  portId?: string | null;
  fixedIpAddress?: string;
  description?: string;
};

export const FLOATING_IP_LIST: ListSpec = {
  attrs: {
    id: { column: 'id', kind: 'string' },
    description: { column: 'description', kind: 'string' },
    tenant_id: { column: 'project_id', kind: 'string' },
    project_id: { column: 'project_id', kind: 'string' },
    floating_ip_address: { column: 'floating_ip_address', kind: 'string' },
    floating_network_id: { column: 'floating_network_id', kind: 'string' },
    port_id: { column: 'fixed_port_id', kind: 'string', nullable: true },
    fixed_ip_address: { column: 'fixed_ip_address', kind: 'string', nullable: true },
    router_id: { column: 'router_id', kind: 'string', nullable: true },
    status: { column: 'status', kind: 'string' },
    revision_number: { column: 'revision_number', kind: 'int' },
  },
  tagType: 'floatingips',
};

function badFip(message: string): BadRequestError {
  return new BadRequestError(`Bad floatingip request: ${message}.`, 'network.bad_request', {
    details: { type: 'BadRequest' },
  });
}

/** FloatingIPPortAlreadyAssociated (409). */
export function alreadyAssociated(
  address: string,
  id: string,
  a: { portId: string; fixedIp: string },
  networkId: string,
): Error {
  return conflict(
    'FloatingIPPortAlreadyAssociated',
    `Cannot associate floating IP ${address} (${id}) with port ${a.portId} using fixed IP ${a.fixedIp}, as that fixed IP already has a floating IP on external network ${networkId}.`,
  );
}

function fipNotFound(id: string): Error {
  return notFound('floating IP', id, `Floating IP ${id} could not be found`);
}

function visibleFips(viewer: Viewer): Expression<SqlBool> | undefined {
  if (viewer.isAdmin) return undefined;
  return sql<SqlBool>`floatingips.project_id = ${viewer.projectId ?? ''}`;
}

export class FloatingIps {
  readonly #db: Db;
  readonly #networks: Networks;
  readonly #subnets: Subnets;
  readonly #ports: Ports;
  readonly #routers: Routers;
  readonly #now: () => Date;

  constructor(
    db: Db,
    deps: { networks: Networks; subnets: Subnets; ports: Ports; routers: Routers },
    now: () => Date = () => new Date(),
  ) {
    this.#db = db;
    this.#networks = deps.networks;
    this.#subnets = deps.subnets;
    this.#ports = deps.ports;
    this.#routers = deps.routers;
    this.#now = now;
  }

  async #row(viewer: Viewer, id: string): Promise<FloatingIpRow> {
    return visibleRow(this.#db, 'floatingips', id, visibleFips(viewer), fipNotFound);
  }

  /** @throws NotFoundError (404) FloatingIPNotFound. */
  async get(viewer: Viewer, id: string): Promise<FloatingIp> {
    const [fip] = await this.#hydrate([await this.#row(viewer, id)]);
    return fip as FloatingIp;
  }

  async list(viewer: Viewer, query: ListQuery): Promise<FloatingIp[]> {
    const visible = visibleFips(viewer);
    const rows = await selectPage(this.#db, 'floatingips', query, visible ? [visible] : [], {
      tagType: 'floatingips',
      missingMarker: fipNotFound,
    });
    return this.#hydrate(rows);
  }

  async #hydrate(rows: readonly FloatingIpRow[]): Promise<FloatingIp[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const tags = await tagsOf(this.#db, 'floatingips', ids);
    const forwardings = new Map<string, PortForwardingRow[]>(ids.map((id) => [id, []]));
    for (const f of await this.#db
      .selectFrom('port_forwardings')
      .selectAll()
      .where('floatingip_id', 'in', ids)
      .orderBy('id')
      .execute())
      forwardings.get(f.floatingip_id)?.push(f);
    const fixed = [
      ...new Set(rows.map((r) => r.fixed_port_id).filter((p): p is string => p !== null)),
    ];
    const ports = new Map((await this.#ports.many(fixed)).map((p) => [p.row.id, p]));
    return rows.map((row) => ({
      row,
      tags: tags.get(row.id) ?? [],
      forwardings: forwardings.get(row.id) ?? [],
      port: row.fixed_port_id === null ? undefined : ports.get(row.fixed_port_id),
    }));
  }

  /**
   * @throws BadRequestError (400) for a network that is not external or has no IPv4 subnet, and
   *   for association problems; ConflictError (409) for a taken address.
   */
  async create(viewer: Viewer, input: FloatingIpInput): Promise<FloatingIp> {
    const network = await this.#networks.get(SYSTEM, input.floatingNetworkId);
    if (network.row.external !== 1)
      throw badFip(`Network ${input.floatingNetworkId} is not a valid external network`);
    const v4 = (await this.#subnets.ofNetwork(network.row.id)).filter(
      (s) => s.row.ip_version === 4,
    );
    if (v4.length === 0) throw badFip(`Network ${network.row.id} does not contain any IPv4 subnet`);
    const id = newId();
    const association =
      input.portId !== undefined && input.portId !== null
        ? await this.#association(
            viewer,
            input.projectId,
            id,
            network.row.id,
            input.portId,
            input.fixedIpAddress,
          )
        : undefined;
    if (input.fixedIpAddress !== undefined && association === undefined)
      throw badFip('fixed_ip_address cannot be specified without a port_id');
    if (input.subnetId !== undefined && !v4.some((s) => s.row.id === input.subnetId))
      throw badFip(`Subnet ${input.subnetId} is not an IPv4 subnet of network ${network.row.id}`);
    if (
      input.floatingIpAddress !== undefined &&
      parseAddress(input.floatingIpAddress)?.version !== 4
    )
      throw badFip(`${input.floatingIpAddress} is not an IPv4 address`);
    // A given address or subnet, else each IPv4 subnet in turn until one has room.
    const choices =
      input.floatingIpAddress !== undefined || input.subnetId !== undefined
        ? [
            {
              ...(input.subnetId !== undefined ? { subnetId: input.subnetId } : {}),
              ...(input.floatingIpAddress !== undefined
                ? { ipAddress: input.floatingIpAddress }
                : {}),
            },
          ]
        : v4.map((s) => ({ subnetId: s.row.id }));
    let port: Port | undefined;
    for (const choice of choices) {
      try {
        port = await this.#ports.create(SYSTEM, network.row, {
          projectId: '',
          name: '',
          deviceId: id,
          deviceOwner: 'network:floatingip',
          fixedIps: [choice],
          status: 'N/A',
        });
        break;
      } catch (err) {
        if (!(err instanceof ApiError && err.details?.['type'] === 'IpAddressGenerationFailure'))
          throw err;
      }
    }
    if (!port)
      throw new BadRequestError(
        `Unable to find any IP address on external network ${network.row.id}.`,
        'network.bad_request',
        { details: { type: 'ExternalIpAddressExhausted' } },
      );
    const address = port.fixedIps.find((f) => !f.ipAddress.includes(':'))?.ipAddress ?? '';
    const at = toDbTimestamp(this.#now());
    try {
      await this.#db
        .insertInto('floatingips')
        .values({
          id,
          project_id: input.projectId,
          name: '',
          description: input.description ?? '',
          revision_number: 0,
          created_at: at,
          updated_at: at,
          floating_ip_address: address,
          floating_network_id: network.row.id,
          floating_port_id: port.row.id,
          fixed_port_id: association?.portId ?? null,
          fixed_ip_address: association?.fixedIp ?? null,
          router_id: association?.routerId ?? null,
          status: association ? 'ACTIVE' : 'DOWN',
        })
        .execute();
    } catch (err) {
      await this.#ports.delete(SYSTEM, port.row.id, undefined, true);
      if (err instanceof DuplicateKeyError && association)
        throw alreadyAssociated(address, id, association, network.row.id);
      throw err;
    }
    return this.get(SYSTEM, id);
  }

  /** Which fixed IP of which port the floating IP maps to, and through which router. */
  async #association(
    viewer: Viewer,
    projectId: string,
    fipId: string,
    networkId: string,
    portId: string,
    fixedIp: string | undefined,
  ): Promise<{ portId: string; fixedIp: string; routerId: string }> {
    const port = await this.#ports.get(viewer, portId);
    if (!viewer.isAdmin && port.row.project_id !== projectId)
      throw badFip(
        `Cannot process floating IP association with Port ${portId}, since that port is owned by a different project`,
      );
    if (port.row.device_owner.startsWith('network:'))
      throw badFip('Port %(id)s is unable to be assigned a floating IP');
    const v4 = port.fixedIps.filter((f) => !f.ipAddress.includes(':'));
    let chosen: { subnetId: string; ipAddress: string } | undefined;
    if (fixedIp !== undefined) {
      const parsed = parseAddress(fixedIp);
      if (!parsed || parsed.version !== 4)
        throw badFip(
          `Cannot process floating IP association with ${fixedIp}, since that is not an IPv4 address`,
        );
      chosen = v4.find((f) => f.ipAddress === fixedIp);
      if (!chosen) throw badFip(`Port ${portId} does not have fixed ip ${fixedIp}`);
    } else {
      if (v4.length === 0)
        throw badFip(`Cannot add floating IP to port ${portId} that has no fixed IPv4 addresses`);
      if (v4.length > 1)
        throw badFip(
          `Port ${portId} has multiple fixed IPv4 addresses.  Must provide a specific IPv4 address when assigning a floating IP`,
        );
      chosen = v4[0];
    }
    const subnetId = (chosen as { subnetId: string }).subnetId;
    const routerId = await this.#routers.routerFor(subnetId, networkId);
    if (routerId === undefined)
      throw notFound(
        'external gateway for floating IP',
        networkId,
        `External network ${networkId} is not reachable from subnet ${subnetId}.  Therefore, cannot associate Port ${portId} with a Floating IP.`,
      );
    void fipId;
    return { portId, fixedIp: (chosen as { ipAddress: string }).ipAddress, routerId };
  }

  /** Associates (`portId`), disassociates (null) or leaves the association (undefined). */
  async update(
    viewer: Viewer,
    id: string,
    changes: { portId?: string | null; fixedIpAddress?: string; description?: string },
    revision?: number,
  ): Promise<FloatingIp> {
    const fip = await this.get(viewer, id);
    const row = fip.row;
    checkRevision(revision, row.revision_number);
    const set: Partial<FloatingIpRow> = {};
    if (changes.description !== undefined) set.description = changes.description;
    if (changes.portId === null) {
      set.fixed_port_id = null;
      set.fixed_ip_address = null;
      set.router_id = fip.forwardings.length > 0 ? row.router_id : null;
      set.status = 'DOWN';
    } else if (
      changes.portId !== undefined &&
      !(changes.portId === row.fixed_port_id && changes.fixedIpAddress === undefined)
    ) {
      if (fip.forwardings.length > 0)
        throw conflict(
          'FipInUseByPortForwarding',
          `Floating IP ${id} in use by Port Forwarding resources.`,
        );
      const a = await this.#association(
        viewer,
        row.project_id,
        id,
        row.floating_network_id,
        changes.portId,
        changes.fixedIpAddress,
      );
      set.fixed_port_id = a.portId;
      set.fixed_ip_address = a.fixedIp;
      set.router_id = a.routerId;
      set.status = 'ACTIVE';
    } else if (changes.fixedIpAddress !== undefined && changes.portId === undefined) {
      throw badFip('fixed_ip_address cannot be specified without a port_id');
    }
    if (Object.keys(set).length > 0) {
      try {
        await revise(this.#db, 'floatingips', id, this.#now(), set);
      } catch (err) {
        if (err instanceof DuplicateKeyError && set.fixed_port_id)
          throw alreadyAssociated(
            row.floating_ip_address,
            id,
            { portId: set.fixed_port_id, fixedIp: set.fixed_ip_address ?? '' },
            row.floating_network_id,
          );
        throw err;
      }
    }
    return this.get(viewer, id);
  }

  async delete(viewer: Viewer, id: string, revision?: number): Promise<FloatingIpRow> {
    const row = await this.#row(viewer, id);
    checkRevision(revision, row.revision_number);
    await withRetry(() =>
      this.#db.transaction().execute(async (trx) => {
        await trx.deleteFrom('port_forwardings').where('floatingip_id', '=', id).execute();
        await trx
          .deleteFrom('tags')
          .where('resource_type', '=', 'floatingips')
          .where('resource_id', '=', id)
          .execute();
        await trx.deleteFrom('floatingips').where('id', '=', id).execute();
      }),
    );
    await this.#ports.delete(SYSTEM, row.floating_port_id, undefined, true).catch(() => undefined);
    return row;
  }

  async count(projectId: string): Promise<number> {
    return countOwned(this.#db, 'floatingips', projectId);
  }
}
