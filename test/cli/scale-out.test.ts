/**
 * `tstack serve` on the scale-out engines: a service process on PostgreSQL or MariaDB and
 * RabbitMQ starts, migrates its own database (compute: and makes its default flavors there),
 * answers, and stops cleanly.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { sql } from 'kysely';
import { COMPUTE_MIGRATIONS } from '../../src/compute/service.ts';
import { createTestVhost } from '../common/messaging/rabbitmq-harness.ts';
import { freshDatabase } from '../helpers/databases.ts';
import { freePort } from '../helpers/ports.ts';
import { runTstack, type Running } from '../helpers/process.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'ts-scale-'));
const running: Running[] = [];
after(() => {
  for (const r of running) r.kill();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('tstack serve on a database server and RabbitMQ', { timeout: 90_000 }, () => {
  for (const dialect of ['postgres', 'mysql'] as const) {
    it(`serves compute on ${dialect} and RabbitMQ`, async (t) => {
      const database = await freshDatabase(t, dialect);
      const vhost = await createTestVhost();
      t.after(() => vhost.remove());
      const port = await freePort();
      const serve = runTstack(['serve', 'compute', '--data-dir', dataDir], {
        PATH: process.env['PATH'],
        HOME: process.env['HOME'],
        TSTACK_SERVICES__COMPUTE__PORT: String(port),
        TSTACK_DATABASE__URL: database.url,
        TSTACK_MESSAGING__URL: vhost.url,
      });
      running.push(serve);
      await serve.waitFor(/compute\s+http/);
      const res = await fetch(`http://127.0.0.1:${port}/v2.1/`);
      assert.equal(res.status, 200);

      // The service's schema lives on the server, recorded by the migration runner, and the
      // service made its default flavors there.
      const handle = await database.open();
      const applied = await sql<{ n: number }>`select count(*) as n from tstack_migrations`.execute(
        handle.db,
      );
      assert.equal(Number(applied.rows[0]?.n), COMPUTE_MIGRATIONS.length);
      const flavors = await sql<{ n: number }>`select count(*) as n from flavors`.execute(
        handle.db,
      );
      assert.equal(Number(flavors.rows[0]?.n), 5);

      serve.child.kill('SIGTERM');
      assert.equal(await serve.exited, 0, serve.stderr());
    });
  }
});
