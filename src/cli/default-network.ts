/**
 * The network `tstack up` makes so `openstack server create` works right after start: `private`,
 * owned by the admin project, with the subnet `private-subnet` in the benchmarking range
 * 198.18.0.0/15 (198.18.0.0/24), which no real network uses. Made once; a later start finds it.
 */
import type { Logger } from '../common/logging.ts';
import { adminToken, call } from './admin-calls.ts';
import { urlHost } from './clouds.ts';
import type { TstackConfig } from './config.ts';

export const DEFAULT_NETWORK_NAME = 'private';
export const DEFAULT_SUBNET_CIDR = '198.18.0.0/24';

export async function ensureDefaultNetwork(config: TstackConfig, logger: Logger): Promise<string> {
  const token = await adminToken(config);
  const base = `http://${urlHost(config.public_host)}:${config.services.network.port}/v2.0`;
  const headers = { 'x-auth-token': token, accept: 'application/json' };
  const json = { ...headers, 'content-type': 'application/json' };
  const found = (await (
    await call(`${base}/networks?name=${DEFAULT_NETWORK_NAME}`, { headers }, [200])
  ).json()) as { networks: { id: string; subnets: string[] }[] };
  let network = found.networks[0];
  if (network === undefined) {
    const created = (await (
      await call(
        `${base}/networks`,
        {
          method: 'POST',
          headers: json,
          body: JSON.stringify({ network: { name: DEFAULT_NETWORK_NAME } }),
        },
        [201],
      )
    ).json()) as { network: { id: string; subnets: string[] } };
    network = created.network;
  }
  if (network.subnets.length > 0) return `network ${DEFAULT_NETWORK_NAME} present`;
  await call(
    `${base}/subnets`,
    {
      method: 'POST',
      headers: json,
      body: JSON.stringify({
        subnet: {
          name: `${DEFAULT_NETWORK_NAME}-subnet`,
          network_id: network.id,
          ip_version: 4,
          cidr: DEFAULT_SUBNET_CIDR,
        },
      }),
    },
    [201],
  );
  logger.info({ network_id: network.id }, 'made the default network');
  return `network ${DEFAULT_NETWORK_NAME} (${DEFAULT_SUBNET_CIDR}) made`;
}
