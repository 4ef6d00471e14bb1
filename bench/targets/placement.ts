/**
 * Benchmark target: the placement service as `tstack serve placement` runs it (SQLite in a
 * temporary data directory under TSTACK_BENCH_DIR or the system temp directory), with tokens from
 * a fake identity, seeded with TSTACK_BENCH_PROVIDERS compute-node-like root providers (default
 * 1000): VCPU 64 at allocation ratio 4, MEMORY_MB 262144, DISK_GB 2000, every fourth with trait
 * HW_CPU_X86_AVX2. Prints `token <t>` (admin), then its URL once listening; removes its data
 * directory when stopped.
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
import { ProviderState, type Db } from '../../src/placement/provider-state.ts';
import {
  INVENTORY_DEFAULTS,
  Providers,
  type ClassRef,
  type InventoryInput,
} from '../../src/placement/providers.ts';
import {
  createPlacementService,
  PLACEMENT_MIGRATIONS,
  PlacementConfigSchema,
} from '../../src/placement/service.ts';
import { benchAuth } from './fake-auth.ts';
import { stopOnSignal } from './lifecycle.ts';

const PROVIDERS = Math.min(
  Math.max(Math.floor(Number(process.env['TSTACK_BENCH_PROVIDERS'] ?? 1000) || 1000), 1),
  100_000,
);
const INVENTORY: Readonly<Record<string, Partial<InventoryInput> & { total: number }>> = {
  VCPU: { total: 64, allocation_ratio: 4 },
  MEMORY_MB: { total: 262144 },
  DISK_GB: { total: 2000 },
};

const dir = mkdtempSync(join(process.env['TSTACK_BENCH_DIR'] ?? tmpdir(), 'ts-bench-placement-'));
const config = loadConfigWith(withSections({ placement: PlacementConfigSchema }), {
  env: {},
  overrides: { data_dir: dir },
});
const database = await openDatabase<unknown>(`sqlite:///${join(dir, 'placement.db')}`);
await migrate(database, 'placement', PLACEMENT_MIGRATIONS);
const bus = new InMemoryBus();
const logger = createLogger({ level: 'info', destination: '/dev/null' });
const { auth, identity } = benchAuth();
// The service first: it adds the standard resource classes and traits the seed refers to.
const service = await createPlacementService(
  { config, logger, database, bus, auth },
  config.placement,
);

/**
 * Through the domain classes rather than HTTP: every placement write over HTTP first brings the
 * provider view up to date, which re-reads every provider row, so seeding that way is quadratic.
 */
async function seed(count: number): Promise<void> {
  const started = Date.now();
  const db = database.db as Db;
  const vocabulary = await new ProviderState(db).current();
  const id = (ids: ReadonlyMap<string, number>, name: string): number => {
    const found = ids.get(name);
    if (found === undefined) throw new Error(`placement does not know ${name}`);
    return found;
  };
  const inventories = new Map<ClassRef, InventoryInput>(
    Object.entries(INVENTORY).map(([name, inv]) => [
      { id: id(vocabulary.classIds, name), name },
      { ...INVENTORY_DEFAULTS, ...inv },
    ]),
  );
  const avx2 = id(vocabulary.traitIds, 'HW_CPU_X86_AVX2');
  const providers = new Providers(db);
  for (let i = 0; i < count; i++) {
    const rp = await providers.create({ name: `bench-cn-${String(i).padStart(6, '0')}` });
    const generation = await providers.setInventories(rp.uuid, rp.generation, inventories, false);
    if (i % 4 === 0) await providers.setTraits(rp.uuid, generation, [avx2]);
  }
  const seconds = (Date.now() - started) / 1000;
  console.error(
    `seeded ${count} providers in ${seconds.toFixed(1)} s (${(count / seconds).toFixed(0)}/s)`,
  );
}

stopOnSignal(dir, [service.app, service, database, bus]);
await seed(PROVIDERS);
await service.app.listen({ host: '127.0.0.1', port: 0 });
const address = service.app.server.address();
const port = typeof address === 'object' && address !== null ? address.port : 0;
const token = identity.issueToken({
  project: { id: 'bench', name: 'bench' },
  roles: ['admin', 'member', 'reader'],
});
process.stdout.write(`token ${token}\ndata ${dir}\nlistening http://127.0.0.1:${port}/\n`);
