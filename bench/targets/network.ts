/**
 * Benchmark target: the network service as `tstack serve network` runs it (SQLite in a temporary
 * data directory under TSTACK_BENCH_DIR or the system temp directory), with tokens from a fake
 * identity, seeded with one network `bench` and a /16 subnet in 198.18.0.0/15 holding
 * TSTACK_BENCH_PORTS ports (default 0). Prints `token <t>` (admin), `network <id>`, then its URL
 * once listening; removes its data directory when stopped.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigWith } from '../../src/common/config/load.ts';
import { withSections } from '../../src/common/config/schema.ts';
import { openDatabase } from '../../src/common/db/database.ts';
import { migrate } from '../../src/common/db/migrate.ts';
import { createLogger } from '../../src/common/logging.ts';
import { InMemoryBus } from '../../src/common/messaging/in-memory-bus.ts';
import type { NetworkDatabase } from '../../src/network/db/schema.ts';
import { Networks } from '../../src/network/networks.ts';
import { Ports } from '../../src/network/ports.ts';
import { SecurityGroups } from '../../src/network/security-groups.ts';
import {
  createNetworkService,
  NETWORK_MIGRATIONS,
  NetworkConfigSchema,
} from '../../src/network/service.ts';
import { Subnets } from '../../src/network/subnets.ts';
import type { Kysely } from 'kysely';
import { benchAuth } from './fake-auth.ts';
import { stopOnSignal } from './lifecycle.ts';

const PORTS = Math.min(
  Math.max(Math.floor(Number(process.env['TSTACK_BENCH_PORTS'] ?? 0) || 0), 0),
  60_000,
);
const PROJECT = 'bench';

const dir = mkdtempSync(join(process.env['TSTACK_BENCH_DIR'] ?? tmpdir(), 'ts-bench-network-'));
const config = loadConfigWith(withSections({ network: NetworkConfigSchema }), {
  env: {},
  overrides: { data_dir: dir, network: { quotas: { port: -1 } } },
});
const database = await openDatabase<unknown>(`sqlite:///${join(dir, 'network.db')}`);
await migrate(database, 'network', NETWORK_MIGRATIONS);
const bus = new InMemoryBus();
const logger = createLogger({ level: 'info', destination: '/dev/null' });
const { auth, identity } = benchAuth();
const service = createNetworkService({ config, logger, database, bus, auth }, config.network);

/** Through the domain classes: the same code the API runs, without HTTP in the seeding time. */
async function seed(count: number): Promise<string> {
  const started = Date.now();
  const db = database.db as Kysely<NetworkDatabase>;
  const networks = new Networks(db, config.network);
  const subnets = new Subnets(db, config.network);
  const ports = new Ports(db, config.network, subnets, new SecurityGroups(db));
  const network = await networks.create({ projectId: PROJECT, name: 'bench' });
  await subnets.create(network.row, {
    projectId: PROJECT,
    networkId: network.row.id,
    ipVersion: 4,
    cidr: '198.18.0.0/16',
  });
  const viewer = { projectId: PROJECT, isAdmin: false };
  for (let i = 0; i < count; i++)
    await ports.create(viewer, network.row, { projectId: PROJECT, name: `bench-${i}` });
  const seconds = (Date.now() - started) / 1000;
  console.error(
    `seeded ${count} ports in ${seconds.toFixed(1)} s (${(count / Math.max(seconds, 0.001)).toFixed(0)}/s)`,
  );
  return network.row.id;
}

stopOnSignal(dir, [service.app, service, database, bus]);
const networkId = await seed(PORTS);
await service.app.listen({ host: '127.0.0.1', port: 0 });
const address = service.app.server.address();
const port = typeof address === 'object' && address !== null ? address.port : 0;
const token = identity.issueToken({
  project: { id: PROJECT, name: PROJECT },
  roles: ['admin', 'member', 'reader'],
});
process.stdout.write(
  `token ${token}\nnetwork ${networkId}\ndata ${dir}\nlistening http://127.0.0.1:${port}/\n`,
);
