/**
 * The network client other services use (type-only; `src/cli` builds it): networks and ports
 * over the Neutron v2.0 HTTP API. Lookups made for a user pass the user's token, so a network or
 * port the user cannot see is "not found" exactly as the user would be told; work done later on
 * the user's behalf (creating and binding ports) uses the service's own token and names the
 * project.
 */
import { JsonClient, type JsonClientOptions } from '../common/http/json-client.ts';

export type NetworkSummary = {
  id: string;
  name: string;
  project_id: string;
  shared: boolean;
  'router:external': boolean;
  status: string;
  subnets: readonly string[];
  mtu: number;
};

export type PortSummary = {
  id: string;
  name: string;
  network_id: string;
  project_id: string;
  mac_address: string;
  fixed_ips: readonly { subnet_id: string; ip_address: string }[];
  status: string;
  device_id: string;
  device_owner: string;
  security_groups: readonly string[];
  'binding:host_id'?: string;
  'binding:vif_type'?: string;
};

export type NewPort = {
  network_id: string;
  project_id: string;
  device_id: string;
  device_owner: string;
  'binding:host_id'?: string;
  fixed_ips?: readonly { ip_address?: string; subnet_id?: string }[];
  security_groups?: readonly string[];
};

export type PortChanges = {
  device_id?: string;
  device_owner?: string;
  'binding:host_id'?: string;
};

/** `token`: a user's token, for a lookup the user's own visibility governs. */
export type AsUser = { token?: string; globalRequestId?: string | undefined };

export interface NetworkClient {
  /** The network, or undefined when it does not exist or the caller cannot see it. */
  getNetwork(id: string, as?: AsUser): Promise<NetworkSummary | undefined>;
  /** Networks the caller sees that `project_id` owns, and the shared ones. */
  listNetworks(filters: Readonly<Record<string, string>>, as?: AsUser): Promise<NetworkSummary[]>;
  getPort(id: string, as?: AsUser): Promise<PortSummary | undefined>;
  listPorts(filters: Readonly<Record<string, string>>, as?: AsUser): Promise<PortSummary[]>;
  /** Security group ids of `project_id` by name or id; a missing one is absent from the map. */
  securityGroupIds(projectId: string, names: readonly string[]): Promise<Map<string, string>>;
  /**
   * @throws UpstreamStatusError with the network service's status and message (409 when the
   *   address is taken or the network has none left).
   */
  createPort(port: NewPort, as?: AsUser): Promise<PortSummary>;
  updatePort(id: string, changes: PortChanges, as?: AsUser): Promise<PortSummary>;
  /** Deletes the port; one already gone is not an error. */
  deletePort(id: string, as?: AsUser): Promise<void>;
}

function query(filters: Readonly<Record<string, string>>): string {
  const params = new URLSearchParams(filters).toString();
  return params === '' ? '' : `?${params}`;
}

export class HttpNetworkClient implements NetworkClient {
  readonly #http: JsonClient;

  constructor(options: Omit<JsonClientOptions, 'service'>) {
    this.#http = new JsonClient({ ...options, service: 'network' });
  }

  async getNetwork(id: string, as: AsUser = {}): Promise<NetworkSummary | undefined> {
    const reply = await this.#http.request('GET', `/v2.0/networks/${encodeURIComponent(id)}`, {
      ...as,
      expect: [200, 404],
    });
    return reply.status === 404 ? undefined : (reply.body as { network: NetworkSummary }).network;
  }

  async listNetworks(
    filters: Readonly<Record<string, string>>,
    as: AsUser = {},
  ): Promise<NetworkSummary[]> {
    const reply = await this.#http.request('GET', `/v2.0/networks${query(filters)}`, as);
    return (reply.body as { networks: NetworkSummary[] }).networks;
  }

  async getPort(id: string, as: AsUser = {}): Promise<PortSummary | undefined> {
    const reply = await this.#http.request('GET', `/v2.0/ports/${encodeURIComponent(id)}`, {
      ...as,
      expect: [200, 404],
    });
    return reply.status === 404 ? undefined : (reply.body as { port: PortSummary }).port;
  }

  async listPorts(
    filters: Readonly<Record<string, string>>,
    as: AsUser = {},
  ): Promise<PortSummary[]> {
    const reply = await this.#http.request('GET', `/v2.0/ports${query(filters)}`, as);
    return (reply.body as { ports: PortSummary[] }).ports;
  }

  async securityGroupIds(
    projectId: string,
    names: readonly string[],
  ): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (names.length === 0) return out;
    const reply = await this.#http.request(
      'GET',
      `/v2.0/security-groups${query({ project_id: projectId, fields: 'id' })}&fields=name`,
    );
    for (const group of (reply.body as { security_groups: { id: string; name: string }[] })
      .security_groups) {
      if (names.includes(group.id)) out.set(group.id, group.id);
      if (names.includes(group.name) && !out.has(group.name)) out.set(group.name, group.id);
    }
    return out;
  }

  async createPort(port: NewPort, as: AsUser = {}): Promise<PortSummary> {
    const reply = await this.#http.request('POST', '/v2.0/ports', {
      ...as,
      body: { port },
      expect: [201],
    });
    return (reply.body as { port: PortSummary }).port;
  }

  async updatePort(id: string, changes: PortChanges, as: AsUser = {}): Promise<PortSummary> {
    const reply = await this.#http.request('PUT', `/v2.0/ports/${encodeURIComponent(id)}`, {
      ...as,
      body: { port: changes },
    });
    return (reply.body as { port: PortSummary }).port;
  }

  async deletePort(id: string, as: AsUser = {}): Promise<void> {
    await this.#http.request('DELETE', `/v2.0/ports/${encodeURIComponent(id)}`, {
      ...as,
      expect: [204, 404],
    });
  }
}
