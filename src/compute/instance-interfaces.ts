/**
 * A running server's network interfaces (`os-interface`): attach a port (made on a network, or
 * one the user brings) and detach one. The host's agent does both, so the guest gets or loses
 * the interface (drivers that hot-plug do it live); the API waits for its answer, as Nova does
 * for an attach.
 */
import { ApiError, ConflictError, NotFoundError } from '../common/errors.ts';
import type { NetworkClient, PortSummary } from '../network/client.ts';
import { callHost } from './host-rpc.ts';
import type { Instance } from './instance-model.ts';
import { checkLock, checkState, type ActionDeps, type Actor } from './server-actions.ts';

const ATTACHABLE = ['active', 'paused', 'stopped'] as const;

export type AttachRequest = { networkId?: string; portId?: string; fixedIp?: string };

/** The instance's ports, as the network service has them. */
export async function interfacesOf(
  network: NetworkClient,
  instance: Instance,
): Promise<PortSummary[]> {
  return network.listPorts({ device_id: instance.row.uuid });
}

/** An error the agent reports as data, rebuilt as the API error it stands for. */
function rethrow(reply: unknown): void {
  if (typeof reply !== 'object' || reply === null || !('error' in reply)) return;
  const error = (reply as { error: { status: number; code: string; message: string } }).error;
  throw new ApiError(error.status, error.code, error.message);
}

/**
 * Attaches an interface and returns its port.
 * @throws ConflictError (409) for a locked server, a state that cannot take one, a port in use;
 *   NotFoundError (404) for an unknown network or port.
 */
/** What the API shows of an attached port. */
export type AttachedPort = Pick<
  PortSummary,
  'id' | 'network_id' | 'mac_address' | 'status' | 'fixed_ips'
>;

export async function attachInterface(
  deps: ActionDeps,
  instance: Instance,
  actor: Actor,
  request: AttachRequest,
): Promise<AttachedPort> {
  checkLock(instance, actor);
  checkState(instance, 'attach_interface', ATTACHABLE);
  const host = instance.row.host;
  if (host === null)
    throw new ConflictError(
      `Instance ${instance.row.uuid} is not ready`,
      'compute.instance_not_ready',
    );
  await deps.instances.db.transaction().execute((trx) =>
    deps.instances.startAction(trx, {
      uuids: [instance.row.uuid],
      requestId: actor.requestId,
      action: 'attach_interface',
      projectId: actor.projectId,
      userId: actor.userId,
    }),
  );
  const reply = await callHost(deps.bus, host, 'attach_interface', {
    instance_uuid: instance.row.uuid,
    request_id: actor.requestId,
    ...(request.networkId !== undefined ? { net_id: request.networkId } : {}),
    ...(request.portId !== undefined ? { port_id: request.portId } : {}),
    ...(request.fixedIp !== undefined ? { fixed_ip: request.fixedIp } : {}),
  });
  rethrow(reply);
  return (reply as unknown as { port: AttachedPort }).port;
}

/**
 * Detaches the interface of `portId`.
 * @throws NotFoundError (404) when the server has no such port; ConflictError (409) as attach.
 */
export async function detachInterface(
  deps: ActionDeps,
  instance: Instance,
  actor: Actor,
  portId: string,
): Promise<void> {
  checkLock(instance, actor);
  checkState(instance, 'detach_interface', ATTACHABLE);
  const host = instance.row.host;
  if (host === null)
    throw new ConflictError(
      `Instance ${instance.row.uuid} is not ready`,
      'compute.instance_not_ready',
    );
  if (!instance.networkInfo.some((v) => v.portId === portId))
    throw new NotFoundError(`Port ${portId} could not be found.`, 'compute.port_not_found');
  await deps.instances.db.transaction().execute((trx) =>
    deps.instances.startAction(trx, {
      uuids: [instance.row.uuid],
      requestId: actor.requestId,
      action: 'detach_interface',
      projectId: actor.projectId,
      userId: actor.userId,
    }),
  );
  rethrow(
    await callHost(deps.bus, host, 'detach_interface', {
      instance_uuid: instance.row.uuid,
      port_id: portId,
      request_id: actor.requestId,
    }),
  );
}
