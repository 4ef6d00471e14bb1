/**
 * Routers: an optional gateway on an external network (a `network:router_gateway` port, SNAT on
 * by default), interfaces on project subnets (`network:router_interface` ports holding the
 * subnet's gateway address, or a given port), extra routes, and the rules that keep them
 * consistent: one interface per subnet, no overlapping interface subnets, no deletion while
 * interfaces remain, no gateway change while floating IPs need it.
 */
import { sql, type Expression, type SqlBool } from 'kysely';
import { toDbBoolean, toDbJson, toDbTimestamp } from '../common/db/portable.ts';
import { BadRequestError } from '../common/errors.ts';
import type { PortRow, RouterRow } from './db/schema.ts';
import { conflict, notFound } from './errors.ts';
import type { FixedIpRequest } from './ipam.ts';
import { overlaps, parseAddress, parsePrefix } from './ip.ts';
import { selectPage, type ListQuery, type ListSpec } from './listing.ts';
import type { Networks } from './networks.ts';
import type { Ports } from './ports.ts';
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

export type Route = { destination: string; nexthop: string };

export type Gateway = {
  networkId: string;
  enableSnat?: boolean;
  fixedIps?: FixedIpRequest[];
};

export type Router = {
  readonly row: RouterRow;
  readonly tags: readonly string[];
  readonly routes: readonly Route[];
  /** The gateway port's network and addresses, when the router has a gateway. */
  readonly gateway: {
    networkId: string;
    fixedIps: { subnetId: string; ipAddress: string }[];
  } | null;
};

export type RouterInput = {
  projectId: string;
  name?: string;
  description?: string;
  adminStateUp?: boolean;
  gateway?: Gateway | null;
  availabilityZoneHints?: string[];
};

export type RouterChanges = {
  name?: string;
  description?: string;
  adminStateUp?: boolean;
  /** null clears the gateway. */
  gateway?: Gateway | null;
  routes?: Route[];
};

export const ROUTER_LIST: ListSpec = {
  attrs: {
    id: { column: 'id', kind: 'string' },
    name: { column: 'name', kind: 'string' },
    description: { column: 'description', kind: 'string' },
    tenant_id: { column: 'project_id', kind: 'string' },
    project_id: { column: 'project_id', kind: 'string' },
    status: { column: 'status', kind: 'string' },
    admin_state_up: { column: 'admin_state_up', kind: 'bool' },
    revision_number: { column: 'revision_number', kind: 'int' },
  },
  tagType: 'routers',
};

const MAX_ROUTES = 30;

/** `Bad router request: …` (400), as neutron-lib's BadRequest words it. */
export function badRouterRequest(message: string): BadRequestError {
  return new BadRequestError(`Bad router request: ${message}.`, 'network.bad_request', {
    details: { type: 'BadRequest' },
  });
}

function routerNotFound(id: string): Error {
  return notFound('router', id, `Router ${id} could not be found`);
}

function visibleRouters(viewer: Viewer): Expression<SqlBool> | undefined {
  if (viewer.isAdmin) return undefined;
  return sql<SqlBool>`routers.project_id = ${viewer.projectId ?? ''}`;
}

export class Routers {
  readonly #db: Db;
  readonly #networks: Networks;
  readonly #subnets: Subnets;
  readonly #ports: Ports;
  readonly #now: () => Date;

  constructor(
    db: Db,
    networks: Networks,
    subnets: Subnets,
    ports: Ports,
    now: () => Date = () => new Date(),
  ) {
    this.#db = db;
    this.#networks = networks;
    this.#subnets = subnets;
    this.#ports = ports;
    this.#now = now;
  }

  /** The router's row as `viewer` may see it. @throws NotFoundError (404) RouterNotFound. */
  async row(viewer: Viewer, id: string): Promise<RouterRow> {
    return visibleRow(this.#db, 'routers', id, visibleRouters(viewer), routerNotFound);
  }

  /** @throws NotFoundError (404) RouterNotFound. */
  async get(viewer: Viewer, id: string): Promise<Router> {
    const [router] = await this.#hydrate([await this.row(viewer, id)]);
    return router as Router;
  }

  async list(viewer: Viewer, query: ListQuery): Promise<Router[]> {
    const visible = visibleRouters(viewer);
    const rows = await selectPage(this.#db, 'routers', query, visible ? [visible] : [], {
      tagType: 'routers',
      missingMarker: routerNotFound,
    });
    return this.#hydrate(rows);
  }

  async #hydrate(rows: readonly RouterRow[]): Promise<Router[]> {
    if (rows.length === 0) return [];
    const tags = await tagsOf(
      this.#db,
      'routers',
      rows.map((r) => r.id),
    );
    const gwIds = rows.map((r) => r.gw_port_id).filter((id): id is string => id !== null);
    const gateways = new Map<
      string,
      { networkId: string; fixedIps: { subnetId: string; ipAddress: string }[] }
    >();
    if (gwIds.length > 0) {
      const ports = await this.#db
        .selectFrom('ports')
        .select(['id', 'network_id'])
        .where('id', 'in', gwIds)
        .execute();
      for (const p of ports) gateways.set(p.id, { networkId: p.network_id, fixedIps: [] });
      for (const a of await this.#db
        .selectFrom('ip_allocations')
        .select(['port_id', 'subnet_id', 'ip_address'])
        .where('port_id', 'in', gwIds)
        .execute())
        gateways.get(a.port_id)?.fixedIps.push({ subnetId: a.subnet_id, ipAddress: a.ip_address });
    }
    return rows.map((row) => ({
      row,
      tags: tags.get(row.id) ?? [],
      routes: JSON.parse(row.routes) as Route[],
      gateway: row.gw_port_id === null ? null : (gateways.get(row.gw_port_id) ?? null),
    }));
  }

  async create(input: RouterInput): Promise<Router> {
    const id = newId();
    const at = toDbTimestamp(this.#now());
    await this.#db
      .insertInto('routers')
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
        gw_port_id: null,
        enable_snat: 1,
        routes: '[]',
        availability_zone_hints: toDbJson(input.availabilityZoneHints ?? []),
      })
      .execute();
    if (input.gateway) {
      try {
        await this.#setGateway(id, input.gateway);
      } catch (err) {
        await this.#db.deleteFrom('routers').where('id', '=', id).execute();
        throw err;
      }
    }
    return this.get(SYSTEM, id);
  }

  /**
   * Gives the router a gateway port on `gateway.networkId`, replacing any other only once the new
   * one exists, so a refused change leaves the old gateway in place.
   */
  async #setGateway(routerId: string, gateway: Gateway): Promise<void> {
    const network = await this.#networks.get(SYSTEM, gateway.networkId);
    if (network.row.external !== 1)
      throw badRouterRequest(`Network ${gateway.networkId} is not an external network`);
    const row = await this.row(SYSTEM, routerId);
    const current =
      row.gw_port_id === null ? undefined : await this.#ports.get(SYSTEM, row.gw_port_id);
    if (current && current.row.network_id === gateway.networkId && gateway.fixedIps === undefined) {
      if (gateway.enableSnat !== undefined)
        await this.bump(routerId, { enable_snat: toDbBoolean(gateway.enableSnat) });
      return;
    }
    if (current) await this.#checkGatewayUnused(row, current.row.network_id);
    for (const f of gateway.fixedIps ?? []) {
      if (f.ipAddress === undefined) continue;
      const subnets = await this.#subnets.ofNetwork(gateway.networkId);
      if (subnets.some((s) => s.row.gateway_ip === f.ipAddress))
        throw badRouterRequest(`External IP ${f.ipAddress} is the same as the gateway IP`);
    }
    const port = await this.#ports.create(SYSTEM, network.row, {
      projectId: '',
      name: '',
      deviceId: routerId,
      deviceOwner: 'network:router_gateway',
      adminStateUp: true,
      ...(gateway.fixedIps !== undefined ? { fixedIps: gateway.fixedIps } : {}),
    });
    // Only the first of two concurrent changes swaps its port in; the other's port goes.
    const swapped = await this.#db
      .updateTable('routers')
      .set({
        gw_port_id: port.row.id,
        enable_snat: toDbBoolean(gateway.enableSnat ?? true),
        revision_number: sql<number>`revision_number + 1`,
        updated_at: toDbTimestamp(this.#now()),
      })
      .where('id', '=', routerId)
      .where((eb) =>
        row.gw_port_id === null
          ? eb('gw_port_id', 'is', null)
          : eb('gw_port_id', '=', row.gw_port_id),
      )
      .executeTakeFirst();
    if (Number(swapped.numUpdatedRows) !== 1) {
      await this.#ports.delete(SYSTEM, port.row.id, undefined, true);
      throw conflict('RouterInUse', `Router ${routerId} was changed by another request; retry`);
    }
    if (current) await this.#ports.delete(SYSTEM, current.row.id, undefined, true);
  }

  /** @throws ConflictError (409) while floating IPs reach the external network through it. */
  async #checkGatewayUnused(row: RouterRow, networkId: string): Promise<void> {
    const fip = await this.#db
      .selectFrom('floatingips')
      .select('id')
      .where('router_id', '=', row.id)
      .where('floating_network_id', '=', networkId)
      .executeTakeFirst();
    if (fip)
      throw conflict(
        'RouterExternalGatewayInUseByFloatingIp',
        `Gateway cannot be updated for router ${row.id}, since a gateway to external network ${networkId} is required by one or more floating IPs.`,
      );
  }

  async #clearGateway(row: RouterRow): Promise<void> {
    if (row.gw_port_id === null) return;
    const port = await this.#ports.get(SYSTEM, row.gw_port_id);
    await this.#checkGatewayUnused(row, port.row.network_id);
    await this.bump(row.id, { gw_port_id: null, enable_snat: 1 });
    await this.#ports.delete(SYSTEM, row.gw_port_id, undefined, true);
  }

  /** Writes `set` and moves the revision on. */
  async bump(id: string, set: Partial<RouterRow>): Promise<void> {
    await revise(this.#db, 'routers', id, this.#now(), set);
  }

  async update(
    viewer: Viewer,
    id: string,
    changes: RouterChanges,
    revision?: number,
  ): Promise<Router> {
    const row = await this.row(viewer, id);
    checkRevision(revision, row.revision_number);
    const set: Partial<RouterRow> = {};
    if (changes.name !== undefined) set.name = changes.name;
    if (changes.description !== undefined) set.description = changes.description;
    if (changes.adminStateUp !== undefined) set.admin_state_up = toDbBoolean(changes.adminStateUp);
    if (changes.routes !== undefined)
      set.routes = toDbJson(await this.#checkRoutes(id, changes.routes));
    if (changes.gateway === null) await this.#clearGateway(row);
    else if (changes.gateway !== undefined) await this.#setGateway(id, changes.gateway);
    if (Object.keys(set).length > 0) await this.bump(id, set);
    return this.get(viewer, id);
  }

  async #checkRoutes(id: string, routes: readonly Route[]): Promise<Route[]> {
    if (routes.length > MAX_ROUTES)
      throw new BadRequestError(
        `Unable to complete operation for ${id}. The number of routes exceeds the maximum ${MAX_ROUTES}.`,
        'network.bad_request',
        { details: { type: 'RoutesExhausted' } },
      );
    const connected = await this.#connectedPrefixes(id);
    return routes.map((r) => {
      const destination = parsePrefix(r.destination);
      const hop = parseAddress(r.nexthop);
      if (!destination || !hop)
        throw new BadRequestError(
          `Invalid format for routes: ${JSON.stringify(routes)}, the nexthop is not connected with router`,
          'network.bad_request',
          {
            details: { type: 'InvalidRoutes' },
          },
        );
      const reachable = connected.some(
        (p) =>
          p.version === hop.version &&
          overlaps(p, {
            version: hop.version,
            network: hop.value,
            length: hop.version === 4 ? 32 : 128,
          }),
      );
      if (!reachable)
        throw new BadRequestError(
          `Invalid format for routes: ${JSON.stringify(routes)}, the nexthop is not connected with router`,
          'network.bad_request',
          { details: { type: 'InvalidRoutes' } },
        );
      return { destination: r.destination, nexthop: r.nexthop };
    });
  }

  /** Prefixes of the subnets the router has ports on. */
  async #connectedPrefixes(id: string): Promise<NonNullable<ReturnType<typeof parsePrefix>>[]> {
    const rows = await this.#db
      .selectFrom('ip_allocations')
      .innerJoin('ports', 'ports.id', 'ip_allocations.port_id')
      .innerJoin('subnets', 'subnets.id', 'ip_allocations.subnet_id')
      .select('subnets.cidr')
      .where('ports.device_id', '=', id)
      .where('ports.device_owner', 'in', ['network:router_interface', 'network:router_gateway'])
      .execute();
    return rows
      .map((r) => parsePrefix(r.cidr))
      .filter((p): p is NonNullable<typeof p> => p !== undefined);
  }

  /** The router's interface ports, in id order. */
  async interfaces(id: string): Promise<PortRow[]> {
    return this.#db
      .selectFrom('ports')
      .selectAll()
      .where('device_id', '=', id)
      .where('device_owner', '=', 'network:router_interface')
      .orderBy('id')
      .execute();
  }

  /** @throws ConflictError (409) RouterInUse while interfaces remain. */
  async delete(viewer: Viewer, id: string, revision?: number): Promise<RouterRow> {
    const row = await this.row(viewer, id);
    checkRevision(revision, row.revision_number);
    const interfaces = await this.interfaces(id);
    if (interfaces.length > 0)
      throw conflict(
        'RouterInUse',
        `Router ${id} has ports still attached: ${interfaces.map((p) => p.id).join(', ')}`,
      );
    await this.#clearGateway(row);
    await this.#db
      .deleteFrom('tags')
      .where('resource_type', '=', 'routers')
      .where('resource_id', '=', id)
      .execute();
    await this.#db.deleteFrom('routers').where('id', '=', id).execute();
    return row;
  }

  /**
   * The router that connects `subnetId` to external network `networkId`: one with a gateway
   * there and an interface on the subnet, the one holding the subnet's gateway address first.
   */
  async routerFor(subnetId: string, networkId: string): Promise<string | undefined> {
    const rows = await this.#db
      .selectFrom('routers')
      .innerJoin('ports as gw', 'gw.id', 'routers.gw_port_id')
      .innerJoin('ports as itf', 'itf.device_id', 'routers.id')
      .innerJoin('ip_allocations as a', 'a.port_id', 'itf.id')
      .innerJoin('subnets as s', 's.id', 'a.subnet_id')
      .select(['routers.id', 'a.ip_address', 's.gateway_ip'])
      .where('gw.network_id', '=', networkId)
      .where('itf.device_owner', '=', 'network:router_interface')
      .where('a.subnet_id', '=', subnetId)
      .orderBy('routers.id')
      .execute();
    return (rows.find((r) => r.ip_address === r.gateway_ip) ?? rows[0])?.id;
  }

  async count(projectId: string): Promise<number> {
    return countOwned(this.#db, 'routers', projectId);
  }
}
