/**
 * Benchmark target: the identity service as `tstack serve identity` runs it (SQLite in a
 * temporary data directory, bcrypt cost from TSTACK_BENCH_BCRYPT_COST, default 12), bootstrapped.
 * Prints its URL once listening; removes its data directory when stopped.
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
import {
  createIdentityService,
  IDENTITY_MIGRATIONS,
  IdentityConfigSchema,
} from '../../src/identity/service.ts';
import { stopOnSignal } from './lifecycle.ts';

const dir = mkdtempSync(join(tmpdir(), 'ts-bench-identity-'));
const config = loadConfigWith(withSections({ identity: IdentityConfigSchema }), {
  env: {},
  overrides: {
    data_dir: dir,
    identity: { password_hash_rounds: Number(process.env['TSTACK_BENCH_BCRYPT_COST'] ?? 12) },
  },
});
const database = await openDatabase<unknown>(`sqlite:///${join(dir, 'identity.db')}`);
await migrate(database, 'identity', IDENTITY_MIGRATIONS);
const bus = new InMemoryBus();
const logger = createLogger({ level: 'info', destination: '/dev/null' });
const auth = {
  protect: () => undefined,
  serviceToken: () => Promise.reject(new Error('unused')),
};
const service = createIdentityService({ config, logger, database, bus, auth }, config.identity);
await service.app.listen({ host: '127.0.0.1', port: 0 });
const address = service.app.server.address();
const port = typeof address === 'object' && address !== null ? address.port : 0;
await service.bootstrap({
  services: [
    {
      type: 'identity',
      name: 'keystone',
      description: 'Identity',
      url: `http://127.0.0.1:${port}/v3`,
    },
  ],
});
process.stdout.write(`listening http://127.0.0.1:${port}/\n`);
stopOnSignal(dir, [service.app, service, database, bus]);
