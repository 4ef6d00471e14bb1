/**
 * Router interfaces: a subnet joins a router through a new `network:router_interface` port holding
 * the subnet's gateway address, or through an unattached port of the router's project; one
 * interface per subnet, interface subnets may not overlap, and an interface floating IPs or port
 * forwardings reach through stays.
 */
import { BadRequestError } from '../common/errors.ts';
import type { PortRow, RouterRow } from './db/schema.ts';
import { conflict, notFound } from './errors.ts';
import { overlaps, parsePrefix } from './ip.ts';
import type { Networks } from './networks.ts';
import type { Ports } from './ports.ts';
import { badRouterRequest, type Routers } from './routers.ts';
import { SYSTEM, type Db, type Viewer } from './standard.ts';
import type { Subnets } from './subnets.ts';

export type InterfaceInfo = {
  id: string;
  project_id: string;
  tenant_id: string;
  port_id: string;
  network_id: string;
  subnet_id: string;
  subnet_ids: string[];
};

export class RouterInterfaces {
  readonly #db: Db;
  readonly #routers: Routers;
  readonly #networks: Networks;
  readonly #subnets: Subnets;
  readonly #ports: Ports;

  constructor(
    db: Db,
    deps: { routers: Routers; networks: Networks; subnets: Subnets; ports: Ports },
  ) {
    this.#db = db;
    this.#routers = deps.routers;
    this.#networks = deps.networks;
    this.#subnets = deps.subnets;
    this.#ports = deps.ports;
  }

  /**
   * Attaches a subnet (a new port holding its gateway address) or an existing port.
   * @throws BadRequestError (400) as upstream words it; ConflictError (409) PortInUse.
   */
  async add(
    viewer: Viewer,
    id: string,
    by: { subnetId?: string; portId?: string },
  ): Promise<InterfaceInfo> {
    const router = await this.#routers.row(viewer, id);
    if (by.subnetId === undefined && by.portId === undefined)
      throw badRouterRequest('Either subnet_id or port_id must be specified');
    if (by.subnetId !== undefined && by.portId !== undefined)
      throw badRouterRequest('Cannot specify both subnet-id and port-id');
    const attached = await this.#attachedSubnets(id);
    if (by.portId !== undefined) {
      const port = await this.#ports.get(viewer, by.portId);
      if (!viewer.isAdmin && port.row.project_id !== router.project_id)
        throw badRouterRequest(
          `Cannot add interface to router because port ${port.row.id} is not owned by project making the request`,
        );
      if (port.row.device_id !== '')
        throw conflict(
          'PortInUse',
          `Unable to complete operation on port ${port.row.id} for network ${port.row.network_id}. Port already has an attached device ${port.row.device_id}.`,
        );
      if (port.fixedIps.length === 0)
        throw badRouterRequest('Router port must have at least one fixed IP');
      for (const ip of port.fixedIps) await this.#checkAttachable(id, ip.subnetId, attached);
      await this.#ports.update(SYSTEM, port.row.id, {
        deviceId: id,
        deviceOwner: 'network:router_interface',
      });
      await this.#routers.bump(id, {});
      return this.#info(
        router,
        port.row.id,
        port.row.network_id,
        port.fixedIps.map((f) => f.subnetId),
      );
    }
    const subnet = await this.#subnets.get(viewer, by.subnetId as string);
    if (!viewer.isAdmin && subnet.row.project_id !== router.project_id) {
      const network = await this.#networks.get(SYSTEM, subnet.row.network_id);
      if (network.row.shared !== 1)
        throw badRouterRequest(
          `Cannot add interface to router because subnet ${subnet.row.id} is not owned by project making the request`,
        );
    }
    if (subnet.row.gateway_ip === null)
      throw badRouterRequest('Subnet for router interface must have a gateway IP');
    await this.#checkAttachable(id, subnet.row.id, attached);
    const network = await this.#networks.get(SYSTEM, subnet.row.network_id);
    const port = await this.#ports.create(SYSTEM, network.row, {
      projectId: router.project_id,
      name: '',
      deviceId: id,
      deviceOwner: 'network:router_interface',
      adminStateUp: true,
      fixedIps: [{ subnetId: subnet.row.id, ipAddress: subnet.row.gateway_ip }],
    });
    await this.#routers.bump(id, {});
    return this.#info(router, port.row.id, network.row.id, [subnet.row.id]);
  }

  async #attachedSubnets(id: string): Promise<{ id: string; cidr: string }[]> {
    return this.#db
      .selectFrom('ip_allocations')
      .innerJoin('ports', 'ports.id', 'ip_allocations.port_id')
      .innerJoin('subnets', 'subnets.id', 'ip_allocations.subnet_id')
      .select(['subnets.id', 'subnets.cidr'])
      .where('ports.device_id', '=', id)
      .where('ports.device_owner', 'in', ['network:router_interface', 'network:router_gateway'])
      .execute();
  }

  async #checkAttachable(
    routerId: string,
    subnetId: string,
    attached: readonly { id: string; cidr: string }[],
  ): Promise<void> {
    if (attached.some((a) => a.id === subnetId))
      throw badRouterRequest(`Router already has a port on subnet ${subnetId}`);
    const subnet = await this.#subnets.get(SYSTEM, subnetId);
    const prefix = parsePrefix(subnet.row.cidr);
    for (const a of attached) {
      const other = parsePrefix(a.cidr);
      if (prefix && other && overlaps(prefix, other))
        throw badRouterRequest(
          `Cidr ${subnet.row.cidr} of subnet ${subnetId} overlaps with cidr ${a.cidr} of subnet ${a.id}`,
        );
    }
    void routerId;
  }

  #info(router: RouterRow, portId: string, networkId: string, subnetIds: string[]): InterfaceInfo {
    return {
      id: router.id,
      tenant_id: router.project_id,
      project_id: router.project_id,
      port_id: portId,
      network_id: networkId,
      subnet_id: subnetIds[0] ?? '',
      subnet_ids: subnetIds,
    };
  }

  /**
   * Detaches by subnet or port (deleting the interface port).
   * @throws NotFoundError (404) RouterInterfaceNotFound(ForSubnet); ConflictError (409)
   *   RouterInterfaceInUseByFloatingIP.
   */
  async remove(
    viewer: Viewer,
    id: string,
    by: { subnetId?: string; portId?: string },
  ): Promise<InterfaceInfo> {
    const router = await this.#routers.row(viewer, id);
    if (by.subnetId === undefined && by.portId === undefined)
      throw badRouterRequest('Either subnet_id or port_id must be specified');
    const interfaces = await this.#routers.interfaces(id);
    let port: PortRow | undefined;
    let subnetIds: string[] = [];
    if (by.portId !== undefined) {
      port = interfaces.find((p) => p.id === by.portId);
      if (!port)
        throw notFound(
          'router interface',
          by.portId,
          `Router ${id} does not have an interface with id ${by.portId}`,
        );
      subnetIds = (await this.#ports.get(SYSTEM, port.id)).fixedIps.map((f) => f.subnetId);
      if (by.subnetId !== undefined && !subnetIds.includes(by.subnetId))
        throw new BadRequestError(
          `Subnet on port ${port.id} does not match the requested subnet ${by.subnetId}.`,
          'network.bad_request',
          {
            details: { type: 'SubnetMismatchForPort' },
          },
        );
    } else {
      for (const p of interfaces) {
        const full = await this.#ports.get(SYSTEM, p.id);
        if (full.fixedIps.some((f) => f.subnetId === by.subnetId)) {
          port = p;
          subnetIds = full.fixedIps.map((f) => f.subnetId);
          break;
        }
      }
      if (!port)
        throw notFound(
          'router interface for subnet',
          by.subnetId ?? '',
          `Router ${id} has no interface on subnet ${by.subnetId ?? ''}`,
        );
    }
    for (const subnetId of subnetIds) {
      const associated = await this.#db
        .selectFrom('floatingips')
        .innerJoin('ip_allocations', 'ip_allocations.port_id', 'floatingips.fixed_port_id')
        .select('floatingips.id')
        .where('floatingips.router_id', '=', id)
        .where('ip_allocations.subnet_id', '=', subnetId)
        .executeTakeFirst();
      // A port forwarding reaches its internal address through the router too (upstream checks
      // both in _check_router_interface_not_in_use).
      const forwarded = associated
        ? undefined
        : await this.#db
            .selectFrom('port_forwardings')
            .innerJoin('floatingips', 'floatingips.id', 'port_forwardings.floatingip_id')
            .innerJoin('ip_allocations', (join) =>
              join
                .onRef('ip_allocations.port_id', '=', 'port_forwardings.internal_port_id')
                .onRef('ip_allocations.ip_address', '=', 'port_forwardings.internal_ip_address'),
            )
            .select('port_forwardings.id')
            .where('floatingips.router_id', '=', id)
            .where('ip_allocations.subnet_id', '=', subnetId)
            .executeTakeFirst();
      if (associated || forwarded)
        throw conflict(
          'RouterInterfaceInUseByFloatingIP',
          `Router interface for subnet ${subnetId} on router ${id} cannot be deleted, as it is required by one or more floating IPs.`,
        );
    }
    await this.#ports.delete(SYSTEM, port.id, undefined, true);
    await this.#routers.bump(id, {});
    return this.#info(router, port.id, port.network_id, subnetIds);
  }
}
