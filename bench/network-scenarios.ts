/**
 * Network benchmarks over HTTP against a running network target (which seeds one network with a
 * /16 subnet and, for the list scenario, 10,000 ports): port create then delete on each
 * connection (a new address and MAC each time, the address freed again), and a full port list.
 * Each runs at 1 and 8 connections.
 */
import type autocannon from 'autocannon';
import type { Prepared } from './identity-scenarios.ts';

type Scenario = {
  prepare: (base: string, token?: string) => Promise<Prepared>;
  connections: readonly number[];
  env?: Record<string, string>;
};

const CONNECTIONS = [1, 8];
const MAX_REQUESTS = 100_000;

async function get<T>(base: string, token: string, path: string): Promise<T> {
  const res = await fetch(new URL(path, base), {
    headers: { 'x-auth-token': token },
    signal: AbortSignal.timeout(120_000),
  });
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

async function networkId(base: string, token: string): Promise<string> {
  const body = await get<{ networks: { id: string }[] }>(base, token, '/v2.0/networks?name=bench');
  const id = body.networks[0]?.id;
  if (id === undefined) throw new Error('the network target seeds a network named bench');
  return id;
}

/** `POST /v2.0/ports`, then `DELETE` of the port it made, on each connection in turn. */
async function createDelete(base: string, token?: string): Promise<Prepared> {
  if (token === undefined) throw new Error('the network target prints a token');
  const network = await networkId(base, token);
  const statuses = new Map<number, number>();
  const count = (status: number): void => {
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
  };
  const create: autocannon.Request = {
    method: 'POST',
    path: '/v2.0/ports',
    headers: { 'x-auth-token': token, 'content-type': 'application/json' },
    body: JSON.stringify({ port: { network_id: network } }),
    onResponse: (status, body, context: { port?: string }) => {
      count(status);
      context.port =
        status === 201 ? (JSON.parse(body) as { port: { id: string } }).port.id : undefined;
    },
  };
  const remove: autocannon.Request = {
    method: 'DELETE',
    headers: { 'x-auth-token': token },
    setupRequest: (request, context: { port?: string }) => ({
      ...request,
      path: `/v2.0/ports/${context.port ?? 'none'}`,
    }),
    onResponse: (status) => count(status),
  };
  return {
    method: 'POST',
    path: '/v2.0/ports',
    headers: { 'x-auth-token': token },
    maxRequests: MAX_REQUESTS,
    requests: [create, remove],
    about: 'POST /v2.0/ports then DELETE it (a pair is two requests), on a /16 subnet',
    after: async () => {
      const created = statuses.get(201) ?? 0;
      const deleted = statuses.get(204) ?? 0;
      const others = [...statuses].filter(([s]) => s !== 201 && s !== 204);
      statuses.clear();
      if (others.length > 0) throw new Error(`unexpected answers: ${JSON.stringify(others)}`);
      const left = await get<{ ports: unknown[] }>(
        base,
        token,
        `/v2.0/ports?network_id=${network}&fields=id`,
      );
      return { ports_created: created, ports_deleted: deleted, ports_left: left.ports.length };
    },
  };
}

/** `GET /v2.0/ports`: every port, as `openstack port list` asks for them. */
async function list(base: string, token?: string): Promise<Prepared> {
  if (token === undefined) throw new Error('the network target prints a token');
  const path =
    '/v2.0/ports?fields=id&fields=name&fields=mac_address&fields=fixed_ips&fields=status';
  const found = await get<{ ports: unknown[] }>(base, token, path);
  return {
    method: 'GET',
    path,
    headers: { 'x-auth-token': token },
    maxRequests: MAX_REQUESTS,
    about: `GET ${path} (as openstack port list), ${found.ports.length} ports`,
  };
}

export const NETWORK_SCENARIOS: Readonly<Record<string, Scenario>> = {
  'network-port-create-delete': { prepare: createDelete, connections: CONNECTIONS },
  'network-port-list-10k': {
    prepare: list,
    connections: CONNECTIONS,
    env: { TSTACK_BENCH_PORTS: '10000' },
  },
};
