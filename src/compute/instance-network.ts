/**
 * An instance's ports, made and bound through the network API on the instance's behalf (with
 * the compute service's token, naming the instance's project). Both steps are idempotent: ports
 * are found again by their `device_id`, so a build that runs twice makes each port once, and a
 * teardown that runs twice deletes nothing twice.
 */
import { ConflictError } from '../common/errors.ts';
import type { AsUser, NetworkClient, NetworkSummary, PortSummary } from '../network/client.ts';
import type { Instance, RequestedNetwork, Vif } from './instance-model.ts';

const COMPUTE_OWNER = 'compute:';

/**
 * The network a server gets when the user names none (a boot with `auto`, an interface attached
 * without `net_id`), as Nova picks it: the project's own networks, else the shared ones, never
 * an external one.
 * @returns undefined when there is none.
 * @throws ConflictError (409) NetworkAmbiguous when there are several to choose from.
 */
export function onlyNetwork(
  visible: readonly NetworkSummary[],
  projectId: string,
): NetworkSummary | undefined {
  const usable = visible.filter((n) => !n['router:external']);
  const own = usable.filter((n) => n.project_id === projectId);
  const choice = own.length > 0 ? own : usable.filter((n) => n.shared);
  if (new Set(choice.map((n) => n.id)).size > 1)
    throw new ConflictError(
      'Multiple possible networks found, use a Network ID to be more specific.',
      'compute.network_ambiguous',
    );
  return choice[0];
}

export function vifOf(port: PortSummary, networkName: string, mtu: number, owned: boolean): Vif {
  return {
    portId: port.id,
    networkId: port.network_id,
    networkName,
    macAddress: port.mac_address,
    ips: port.fixed_ips.map((ip) => ({
      address: ip.ip_address,
      version: ip.ip_address.includes(':') ? 6 : 4,
      type: 'fixed' as const,
    })),
    ownedByInstance: owned,
    mtu,
  };
}

/**
 * Makes (or finds) and binds to `host` one port per requested network, and binds the ports the
 * user brought. Returns the interfaces in the order the request named them.
 * @throws UpstreamStatusError from the network service (e.g. 409 when no address is left).
 */
export async function allocatePorts(
  network: NetworkClient,
  instance: Instance,
  host: string,
  globalRequestId: string,
): Promise<Vif[]> {
  const spec = instance.requestSpec;
  const requested: RequestedNetwork[] = Array.isArray(spec.networks) ? spec.networks : [];
  if (requested.length === 0) return [];
  const uuid = instance.row.uuid;
  const as = { globalRequestId };
  const existing = await network.listPorts({ device_id: uuid }, as);
  const taken = new Set<string>();
  const names = new Map<string, { name: string; mtu: number }>();
  for (const req of requested)
    if (req.networkId !== undefined && req.network !== undefined)
      names.set(req.networkId, req.network);
  const networkOf = async (id: string): Promise<{ name: string; mtu: number }> => {
    const known = names.get(id);
    if (known !== undefined) return known;
    const found = await network.getNetwork(id, as);
    const entry = { name: found?.name ?? '', mtu: found?.mtu ?? 1500 };
    names.set(id, entry);
    return entry;
  };
  const owner = `${COMPUTE_OWNER}${instance.row.availability_zone ?? 'nova'}`;
  const vifs: Vif[] = [];
  for (const req of requested) {
    let port: PortSummary;
    let owned: boolean;
    if (req.portId !== undefined) {
      port = await network.updatePort(
        req.portId,
        { device_id: uuid, device_owner: owner, 'binding:host_id': host },
        as,
      );
      owned = false;
    } else {
      const again = existing.find(
        (p) =>
          p.network_id === req.networkId &&
          !taken.has(p.id) &&
          (req.fixedIp === undefined || p.fixed_ips.some((ip) => ip.ip_address === req.fixedIp)),
      );
      port =
        again ??
        (await network.createPort(
          {
            network_id: req.networkId ?? '',
            project_id: instance.row.project_id,
            device_id: uuid,
            device_owner: owner,
            'binding:host_id': host,
            ...(req.fixedIp !== undefined ? { fixed_ips: [{ ip_address: req.fixedIp }] } : {}),
            ...(spec.securityGroups.length > 0 ? { security_groups: spec.securityGroups } : {}),
          },
          as,
        ));
      owned = true;
    }
    taken.add(port.id);
    const net = await networkOf(port.network_id);
    vifs.push(vifOf(port, net.name, net.mtu, owned));
  }
  return vifs;
}

/**
 * Deletes the ports the instance made and unbinds the ones the user brought, at create or by an
 * interface attach (they stay, free for another server), as Nova does on delete.
 */
export async function releasePorts(
  network: NetworkClient,
  instance: Instance,
  globalRequestId: string,
): Promise<void> {
  const as = { globalRequestId };
  const brought = new Set(
    (Array.isArray(instance.requestSpec.networks) ? instance.requestSpec.networks : [])
      .map((r) => r.portId)
      .filter((id): id is string => id !== undefined),
  );
  for (const vif of instance.networkInfo) if (!vif.ownedByInstance) brought.add(vif.portId);
  const ports = await network.listPorts({ device_id: instance.row.uuid }, as);
  for (const port of ports) await releasePort(network, port.id, !brought.has(port.id), as);
}

/** A port the server made is deleted; one the user brought is unbound and left to them. */
export async function releasePort(
  network: NetworkClient,
  portId: string,
  owned: boolean,
  as: AsUser,
): Promise<void> {
  if (owned) await network.deletePort(portId, as);
  else
    await network.updatePort(
      portId,
      { device_id: '', device_owner: '', 'binding:host_id': '' },
      as,
    );
}

/**
 * Binds every port of the instance to `host` (after a move); returns its interfaces as the
 * network service has them now. Binding a port to the host it is bound to changes nothing.
 */
export async function bindPorts(
  network: NetworkClient,
  instance: Instance,
  host: string,
  globalRequestId: string,
): Promise<Vif[]> {
  const as = { globalRequestId };
  const ports = await network.listPorts({ device_id: instance.row.uuid }, as);
  const known = new Map(instance.networkInfo.map((v) => [v.portId, v]));
  const out: Vif[] = [];
  for (const port of ports) {
    const bound =
      port['binding:host_id'] === host
        ? port
        : await network.updatePort(port.id, { 'binding:host_id': host }, as);
    const before = known.get(port.id);
    out.push(
      vifOf(bound, before?.networkName ?? '', before?.mtu ?? 1500, before?.ownedByInstance ?? true),
    );
  }
  return out;
}
