/**
 * An operator's mistake at start-up is one line on stderr that says what to fix, exit status 2,
 * and nothing left listening: never a stack trace.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.ts';
import { runTstack, type Running } from '../helpers/process.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'ts-startup-'));
const running: Running[] = [];
after(() => {
  for (const r of running) r.kill();
  rmSync(dataDir, { recursive: true, force: true });
});

async function serveCompute(extraEnv: Record<string, string>): Promise<Running> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    HOME: process.env['HOME'],
    TSTACK_SERVICES__COMPUTE__PORT: String(await freePort()),
    ...extraEnv,
  };
  const r = runTstack(['serve', 'compute', '--data-dir', dataDir], env);
  running.push(r);
  return r;
}

describe('start-up errors are one line that says what to fix', { timeout: 60_000 }, () => {
  const cases: { name: string; env: Record<string, string>; line: RegExp }[] = [
    {
      name: 'unreachable PostgreSQL',
      env: { TSTACK_DATABASE__URL: 'postgresql://postgres:s3cret@127.0.0.1:1/nova' },
      line: /^tstack: cannot connect to the database at postgresql:\/\/postgres:\*+@127\.0\.0\.1:1\/nova \(.*ECONNREFUSED.*\); start PostgreSQL .*database\.url$/,
    },
    {
      name: 'unreachable MariaDB, named by the service key',
      env: { TSTACK_SERVICES__COMPUTE__DATABASE_URL: 'mysql://root@127.0.0.1:1/nova' },
      line: /^tstack: cannot connect to the database at mysql:\/\/root@127\.0\.0\.1:1\/nova \(.*ECONNREFUSED.*\); start MariaDB .*services\.compute\.database_url$/,
    },
    {
      name: 'a database URL of an unknown kind',
      env: { TSTACK_DATABASE__URL: 'oracle://db/nova' },
      line: /^tstack: .*database\.url.*oracle/,
    },
    {
      name: 'unreachable RabbitMQ, without its password',
      env: { TSTACK_MESSAGING__URL: 'amqp://guest:s3cret@127.0.0.1:1/' },
      line: /^tstack: cannot reach the message broker at amqp:\/\/guest(:\*+)?@127\.0\.0\.1:1\/ \(.*ECONNREFUSED.*\); start RabbitMQ .*messaging\.url$/,
    },
    {
      name: 'a bus URL of an unknown kind',
      env: { TSTACK_MESSAGING__URL: 'kafka://127.0.0.1:9092' },
      line: /^tstack: messaging\.url has an unknown scheme 'kafka'; use memory:\/\/ or amqp:\/\//,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const r = await serveCompute(c.env);
      assert.equal(await r.exited, 2, r.stderr());
      const lines = r.stderr().trim().split('\n');
      assert.equal(lines.length, 1, r.stderr());
      assert.match(lines[0] ?? '', c.line);
      assert.doesNotMatch(r.stderr(), /s3cret/);
    });
  }

  it('with the embedded defaults, each service gets its own SQLite database in the data directory', async () => {
    const r = await serveCompute({});
    await r.waitFor(/compute\s+http/);
    assert.ok(existsSync(join(dataDir, 'compute.db')));
    r.child.kill('SIGTERM');
    assert.equal(await r.exited, 0);
  });
});
