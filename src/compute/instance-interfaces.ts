/**
 * A running server's network interfaces (`os-interface`): attach a port (made on a network, or
 * one the user brings) and detach one. The host's agent does both, so the guest gets or loses
 * the interface (drivers that hot-plug do it live); the API waits for its answer, as Nova does
 * for an attach.
 */
import { ApiError, BadRequestError, ConflictError, NotFoundError } from '../common/errors.ts';
import type { NetworkClient, PortSummary } from '../network/client.ts';
import { callHost } from './host-rpc.ts';
import type { Instance } from './instance-model.ts';
import { onlyNetwork } from './instance-network.ts';
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

/** What the API shows of an attached port. */
export type AttachedPort = Pick<
  PortSummary,
  'id' | 'network_id' | 'mac_address' | 'status' | 'fixed_ips'
>;

/**
 * The network for an interface attached without a network or port: the one the server's
 * project has (its own, else a shared one), as Nova allocates it.
 * @throws BadRequestError (400) when there is none; ConflictError (409) when there are several.
 */
async function defaultNetwork(network: NetworkClient, instance: Instance): Promise<string> {
  const projectId = instance.row.project_id;
  const [own, shared] = await Promise.all([
    network.listNetworks({ project_id: projectId }),
    network.listNetworks({ shared: 'true' }),
  ]);
  const only = onlyNetwork([...own, ...shared], projectId);
  if (only === undefined)
    throw new BadRequestError(
      `No specific network was requested and none are available for project '${projectId}'.`,
      'compute.no_network',
    );
  return only.id;
}

/**
 * Attaches an interface and returns its port; with neither a network nor a port, on the
 * project's only network.
 * @throws ConflictError (409) for a locked server, a state that cannot take one, a port in use,
 *   several networks to choose from; NotFoundError (404) for an unknown network or port;
 *   BadRequestError (400) when no network was named and the project has none.
 */

export async function attachInterface(
  deps: ActionDeps & { network: NetworkClient },
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
  const networkId =
    request.networkId ??
    (request.portId === undefined ? await defaultNetwork(deps.network, instance) : undefined);
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
    ...(networkId !== undefined ? { net_id: networkId } : {}),
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
