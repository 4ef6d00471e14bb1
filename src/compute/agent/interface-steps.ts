/**
 * The host side of `os-interface`: a port is made (or the user's is taken), bound to this host
 * and plugged into the guest; or unplugged, and deleted when the server made it. Failures the
 * user caused come back as data (`{error}`) for the API to answer with.
 */
import { UpstreamStatusError } from '../../common/http/json-client.ts';
import type { JsonObject } from '../../common/messaging/bus.ts';
import type { PortSummary } from '../../network/client.ts';
import type { Instance, Vif } from '../instance-model.ts';
import { releasePort, vifOf } from '../instance-network.ts';
import type { WorkerDeps } from '../lifecycle.ts';
import { canPlug, GuestDeviceError, type VirtDriver } from '../virt/driver.ts';

export type InterfaceContext = WorkerDeps & { host: string; driver: VirtDriver };

/** A string argument of an RPC call ('' when it is missing or not a string). */
export function textArg(args: Record<string, unknown>, key: string): string {
  const v = args[key];
  return typeof v === 'string' ? v : '';
}

type Failure = { error: { status: number; code: string; message: string } };

function failure(status: number, code: string, message: string): Failure {
  return { error: { status, code, message } };
}

function guestVif(v: Vif) {
  return {
    portId: v.portId,
    networkId: v.networkId,
    macAddress: v.macAddress,
    addresses: v.ips.map((ip) => ip.address),
    mtu: v.mtu,
  };
}

export async function attachInterface(
  ctx: InterfaceContext,
  instance: Instance,
  args: Record<string, unknown>,
): Promise<{ port: JsonObject } | Failure> {
  const start = ctx.instances.now();
  const uuid = instance.row.uuid;
  const requestId = textArg(args, 'request_id');
  const as = { globalRequestId: requestId };
  const owner = `compute:${instance.row.availability_zone ?? 'nova'}`;
  let port: PortSummary;
  let owned: boolean;
  try {
    if (typeof args['port_id'] === 'string') {
      const found = await ctx.network.getPort(args['port_id'], as);
      if (found === undefined || found.project_id !== instance.row.project_id)
        return failure(
          404,
          'compute.port_not_found',
          `Port ${args['port_id']} could not be found.`,
        );
      if (found.device_id !== '' && found.device_id !== uuid)
        return failure(409, 'compute.port_in_use', `Port ${found.id} is still in use.`);
      port = await ctx.network.updatePort(
        found.id,
        { device_id: uuid, device_owner: owner, 'binding:host_id': ctx.host },
        as,
      );
      owned = false;
    } else {
      const networkId = textArg(args, 'net_id');
      const net = await ctx.network.getNetwork(networkId, as);
      if (net === undefined)
        return failure(
          404,
          'compute.network_not_found',
          `Network ${networkId} could not be found.`,
        );
      const fixedIp = args['fixed_ip'];
      port = await ctx.network.createPort(
        {
          network_id: networkId,
          project_id: instance.row.project_id,
          device_id: uuid,
          device_owner: owner,
          'binding:host_id': ctx.host,
          ...(typeof fixedIp === 'string' ? { fixed_ips: [{ ip_address: fixedIp }] } : {}),
        },
        as,
      );
      owned = true;
    }
  } catch (err) {
    if (err instanceof UpstreamStatusError)
      return failure(
        err.status === 409 ? 409 : 400,
        'compute.interface_attach_failed',
        err.upstreamMessage,
      );
    throw err;
  }
  const net = await ctx.network.getNetwork(port.network_id, as);
  const vif = vifOf(port, net?.name ?? '', net?.mtu ?? 1500, owned);
  if (canPlug(ctx.driver)) {
    try {
      await ctx.driver.attachInterface(uuid, guestVif(vif));
    } catch (err) {
      // The guest did not take it: the port goes back as it was, not left bound to nothing.
      await releasePort(ctx.network, port.id, owned, as);
      if (err instanceof GuestDeviceError)
        return failure(
          409,
          'compute.interface_attach_failed',
          `Failed to attach network adapter device to ${uuid}: ${err.message}`,
        );
      throw err;
    }
  }
  const current = (await ctx.instances.row(uuid)) ?? instance;
  await ctx.instances.db.transaction().execute(async (trx) => {
    await ctx.instances.update(
      uuid,
      { networkInfo: [...current.networkInfo.filter((v) => v.portId !== port.id), vif] },
      {},
      trx,
    );
    await ctx.instances.recordEvent(trx, uuid, requestId, {
      event: 'compute_attach_interface',
      host: ctx.host,
      result: 'Success',
      start,
    });
  });
  return {
    port: {
      id: port.id,
      network_id: port.network_id,
      mac_address: port.mac_address,
      status: port.status,
      fixed_ips: port.fixed_ips.map((ip) => ({
        subnet_id: ip.subnet_id,
        ip_address: ip.ip_address,
      })),
    },
  };
}

export async function detachInterface(
  ctx: InterfaceContext,
  instance: Instance,
  args: Record<string, unknown>,
): Promise<Record<string, never> | Failure> {
  const start = ctx.instances.now();
  const uuid = instance.row.uuid;
  const portId = textArg(args, 'port_id');
  const requestId = textArg(args, 'request_id');
  const vif = instance.networkInfo.find((v) => v.portId === portId);
  if (vif === undefined)
    return failure(404, 'compute.port_not_found', `Port ${portId} could not be found.`);
  if (canPlug(ctx.driver)) await ctx.driver.detachInterface(uuid, portId);
  await releasePort(ctx.network, portId, vif.ownedByInstance, { globalRequestId: requestId });
  await ctx.instances.db.transaction().execute(async (trx) => {
    await ctx.instances.update(
      uuid,
      { networkInfo: instance.networkInfo.filter((v) => v.portId !== portId) },
      {},
      trx,
    );
    await ctx.instances.recordEvent(trx, uuid, requestId, {
      event: 'compute_detach_interface',
      host: ctx.host,
      result: 'Success',
      start,
    });
  });
  return {};
}
