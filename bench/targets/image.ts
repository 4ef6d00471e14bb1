/**
 * Benchmark target: the image service as `tstack serve image` runs it (SQLite and the file store
 * in a temporary data directory under TSTACK_BENCH_DIR or the system temp directory), with
 * tokens from a fake identity. Prints `token <t>` (admin of project `bench`), then its URL once
 * listening; removes its data directory when stopped.
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
  createImageService,
  IMAGE_MIGRATIONS,
  ImageConfigSchema,
} from '../../src/image/service.ts';
import { benchAuth } from './fake-auth.ts';
import { stopOnSignal } from './lifecycle.ts';

const dir = mkdtempSync(join(process.env['TSTACK_BENCH_DIR'] ?? tmpdir(), 'ts-bench-image-'));
const config = loadConfigWith(withSections({ image: ImageConfigSchema }), {
  env: {},
  overrides: { data_dir: dir, image: { api_limit_max: 1000 } },
});
const database = await openDatabase<unknown>(`sqlite:///${join(dir, 'image.db')}`);
await migrate(database, 'image', IMAGE_MIGRATIONS);
const bus = new InMemoryBus();
const logger = createLogger({ level: 'info', destination: '/dev/null' });
const { auth, identity } = benchAuth();
const service = await createImageService({ config, logger, database, bus, auth }, config.image);
await service.app.listen({ host: '127.0.0.1', port: 0 });
const address = service.app.server.address();
const port = typeof address === 'object' && address !== null ? address.port : 0;
const token = identity.issueToken({
  project: { id: 'bench', name: 'bench' },
  roles: ['admin', 'member', 'reader'],
});
process.stdout.write(`token ${token}\ndata ${dir}\nlistening http://127.0.0.1:${port}/\n`);
stopOnSignal(dir, [service.app, service, database, bus]);
