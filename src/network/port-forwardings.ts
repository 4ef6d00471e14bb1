/**
 * Port forwardings: a protocol's port (or range) on a floating IP forwarded to an address of an
 * internal port, reached through the router that joins the port's subnet to the floating IP's
 * network. A floating IP that forwards is not associated with a port; the first forwarding sets
 * its router, the last one leaving clears it. Writes lock the floating IP first, so two cannot
 * both claim one external port.
 */
import { sql } from 'kysely';
import { toDbTimestamp, withRetry } from '../common/db/portable.ts';
import { BadRequestError } from '../common/errors.ts';
import type { PortForwardingRow } from './db/schema.ts';
import { conflict, notFound } from './errors.ts';
import { alreadyAssociated, type FloatingIp, type FloatingIps } from './floating-ips.ts';
import type { Ports } from './ports.ts';
import type { Routers } from './routers.ts';
import { newId, type Db, type Viewer } from './standard.ts';

export type ForwardingInput = {
  protocol: string;
  internalPortId: string;
  internalIpAddress?: string;
  internalPort: [number, number];
  externalPort: [number, number];
  description?: string;
};

export const FORWARDING_PROTOCOLS = ['tcp', 'udp', 'icmp', 'ipv6-icmp', 'sctp', 'dccp'] as const;

function badForwarding(message: string): BadRequestError {
  return new BadRequestError(`Bad port_forwarding request: ${message}.`, 'network.bad_request', {
    details: { type: 'BadRequest' },
  });
}

function forwardingNotFound(id: string): Error {
  return notFound('port forwarding', id, `Port Forwarding ${id} could not be found.`);
}

export class PortForwardings {
  readonly #db: Db;
  readonly #fips: FloatingIps;
  readonly #ports: Ports;
  readonly #routers: Routers;
  readonly #now: () => Date;

  constructor(
    db: Db,
    deps: { floatingIps: FloatingIps; ports: Ports; routers: Routers },
    now: () => Date = () => new Date(),
  ) {
    this.#db = db;
    this.#fips = deps.floatingIps;
    this.#ports = deps.ports;
    this.#routers = deps.routers;
    this.#now = now;
  }

  async list(viewer: Viewer, fipId: string): Promise<PortForwardingRow[]> {
    return [...(await this.#fips.get(viewer, fipId)).forwardings];
  }

  /** @throws NotFoundError (404) for an unknown floating IP or forwarding. */
  async get(viewer: Viewer, fipId: string, id: string): Promise<PortForwardingRow> {
    const found = (await this.#fips.get(viewer, fipId)).forwardings.find((f) => f.id === id);
    if (!found) throw forwardingNotFound(id);
    return found;
  }

  /** @throws BadRequestError (400), ConflictError (409) as upstream words them. */
  async create(viewer: Viewer, fipId: string, input: ForwardingInput): Promise<PortForwardingRow> {
    const fip = await this.#fips.get(viewer, fipId);
    const checked = await this.#check(viewer, fip, input);
    const row: PortForwardingRow = {
      id: newId(),
      floatingip_id: fipId,
      project_id: fip.row.project_id,
      ...checked.columns,
    };
    await this.#write(
      fipId,
      row.id,
      checked.routerId,
      input.protocol,
      input.externalPort,
      async (trx) => {
        await trx.insertInto('port_forwardings').values(row).execute();
      },
    );
    return row;
  }

  /** Changes any of the forwarding's values; the result is checked as a new one would be. */
  async update(
    viewer: Viewer,
    fipId: string,
    id: string,
    changes: Partial<ForwardingInput>,
  ): Promise<PortForwardingRow> {
    const current = await this.get(viewer, fipId, id);
    const merged: ForwardingInput = {
      protocol: changes.protocol ?? current.protocol,
      internalPortId: changes.internalPortId ?? current.internal_port_id,
      internalPort: changes.internalPort ?? [
        current.internal_port_start,
        current.internal_port_end,
      ],
      externalPort: changes.externalPort ?? [
        current.external_port_start,
        current.external_port_end,
      ],
      description: changes.description ?? current.description,
    };
    const ip =
      changes.internalIpAddress ??
      (changes.internalPortId === undefined ? current.internal_ip_address : undefined);
    if (ip !== undefined) merged.internalIpAddress = ip;
    const fip = await this.#fips.get(viewer, fipId);
    const checked = await this.#check(viewer, fip, merged, id);
    await this.#write(
      fipId,
      id,
      checked.routerId,
      merged.protocol,
      merged.externalPort,
      async (trx) => {
        await trx
          .updateTable('port_forwardings')
          .set(checked.columns)
          .where('id', '=', id)
          .execute();
      },
    );
    return this.get(viewer, fipId, id);
  }

  async delete(viewer: Viewer, fipId: string, id: string): Promise<void> {
    await this.get(viewer, fipId, id);
    await withRetry(() =>
      this.#db.transaction().execute(async (trx) => {
        await trx.deleteFrom('port_forwardings').where('id', '=', id).execute();
        await trx
          .updateTable('floatingips')
          .set({
            router_id: sql<
              string | null
            >`case when fixed_port_id is null and not exists (select 1 from port_forwardings f where f.floatingip_id = floatingips.id) then null else router_id end`,
            revision_number: sql<number>`revision_number + 1`,
            updated_at: toDbTimestamp(this.#now()),
          })
          .where('id', '=', fipId)
          .execute();
      }),
    );
  }

  /** Everything about a forwarding but which other forwardings it collides with. */
  async #check(
    viewer: Viewer,
    fip: FloatingIp,
    input: ForwardingInput,
    self?: string,
  ): Promise<{
    routerId: string;
    columns: Omit<PortForwardingRow, 'id' | 'floatingip_id' | 'project_id'>;
  }> {
    if (fip.row.fixed_port_id !== null)
      throw alreadyAssociated(
        fip.row.floating_ip_address,
        fip.row.id,
        { portId: fip.row.fixed_port_id, fixedIp: fip.row.fixed_ip_address ?? '' },
        fip.row.floating_network_id,
      );
    const port = await this.#ports.get(viewer, input.internalPortId);
    const v4 = port.fixedIps.filter((f) => !f.ipAddress.includes(':'));
    if (v4.length === 0)
      throw badForwarding(
        `Requested internal port ${port.row.id} must allocate an IPv4 address at least`,
      );
    const ip =
      input.internalIpAddress === undefined
        ? v4[0]
        : v4.find((f) => f.ipAddress === input.internalIpAddress);
    if (!ip)
      throw badForwarding(
        `Requested internal IP address ${input.internalIpAddress ?? ''} is not suitable for internal neutron port ${port.row.id}, as its fixed_ips are ${JSON.stringify(port.fixedIps.map((f) => ({ subnet_id: f.subnetId, ip_address: f.ipAddress })))}`,
      );
    const bound = await this.#db
      .selectFrom('floatingips')
      .select('id')
      .where('fixed_port_id', '=', port.row.id)
      .executeTakeFirst();
    if (bound)
      throw conflict(
        'PortHasBindingFloatingIP',
        `Cannot create port forwarding to floating IP ${fip.row.floating_ip_address} (${fip.row.id}) with port ${port.row.id} using fixed IP ${ip.ipAddress}, as that port already has a binding floating IP.`,
      );
    const routerId = await this.#routers.routerFor(ip.subnetId, fip.row.floating_network_id);
    if (routerId === undefined)
      throw badForwarding(
        `External network ${fip.row.floating_network_id} is not reachable from subnet ${ip.subnetId}. Cannot set Port forwarding for port ${port.row.id} with Floating IP ${fip.row.id}`,
      );
    const others = fip.forwardings.filter((f) => f.id !== self);
    if (fip.row.router_id !== null && fip.row.router_id !== routerId && others.length > 0)
      throw badForwarding(
        `The Floating IP ${fip.row.id} had been set on router ${fip.row.router_id}, the internal Neutron port ${port.row.id} can not reach it`,
      );
    const [inStart, inEnd] = input.internalPort;
    const [exStart, exEnd] = input.externalPort;
    if (inEnd - inStart !== exEnd - exStart && inStart !== inEnd)
      throw badForwarding(
        'Invalid ranges of internal and/or external ports. The relation between internal and external ports must be N-N or 1-N',
      );
    return {
      routerId,
      columns: {
        protocol: input.protocol,
        internal_port_id: port.row.id,
        internal_ip_address: ip.ipAddress,
        internal_port_start: inStart,
        internal_port_end: inEnd,
        external_port_start: exStart,
        external_port_end: exEnd,
        description: input.description ?? '',
      },
    };
  }

  /**
   * Runs `change` with the floating IP locked, after checking that no other forwarding of it
   * holds the external ports, and points the floating IP at `routerId`.
   */
  async #write(
    fipId: string,
    self: string,
    routerId: string,
    protocol: string,
    [start, end]: [number, number],
    change: (trx: Db) => Promise<void>,
  ): Promise<void> {
    await withRetry(() =>
      this.#db.transaction().execute(async (trx) => {
        await trx
          .updateTable('floatingips')
          .set({
            router_id: routerId,
            revision_number: sql<number>`revision_number + 1`,
            updated_at: toDbTimestamp(this.#now()),
          })
          .where('id', '=', fipId)
          .execute();
        const others = await trx
          .selectFrom('port_forwardings')
          .selectAll()
          .where('floatingip_id', '=', fipId)
          .where('id', '!=', self)
          .where('protocol', '=', protocol)
          .execute();
        for (const other of others)
          if (other.external_port_start <= end && start <= other.external_port_end)
            throw badForwarding(
              `There is a port collision with the external_port_range. The following ranges collide: ${other.external_port_start}:${other.external_port_end} and ${start}:${end}`,
            );
        await change(trx);
      }),
    );
  }
}
