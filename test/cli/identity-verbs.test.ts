/** The identity operator verbs: `tstack bootstrap` (idempotent) and `tstack identity rotate-keys`. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import { runTstack, type Running } from '../helpers/process.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'ts-idverbs-'));
const running: Running[] = [];
after(() => {
  for (const r of running) r.kill();
  rmSync(dataDir, { recursive: true, force: true });
});

const env: NodeJS.ProcessEnv = {
  PATH: process.env['PATH'],
  HOME: process.env['HOME'],
  TSTACK_IDENTITY__PASSWORD_HASH_ROUNDS: '4',
};

async function tstack(args: string[]): Promise<Running> {
  const r = runTstack([...args, '--data-dir', dataDir], env);
  running.push(r);
  assert.equal(await r.exited, 0, r.stderr());
  return r;
}

describe('tstack bootstrap and identity rotate-keys', { timeout: 60_000 }, () => {
  it('bootstrap creates the cloud once and then has nothing to do', async () => {
    const first = await tstack(['bootstrap']);
    assert.match(first.stdout(), /^domain Default$/m);
    assert.match(first.stdout(), /^role admin$/m);
    assert.match(first.stdout(), /^user admin$/m);
    assert.match(first.stdout(), /^user nova$/m);
    assert.match(first.stdout(), /^endpoint compute public http:\/\/127\.0\.0\.1:8774\/v2\.1$/m);
    const second = await tstack(['bootstrap']);
    assert.match(second.stdout(), /^nothing to do: already bootstrapped$/m);
    const clouds = parse(readFileSync(join(dataDir, 'clouds.yaml'), 'utf8')) as {
      clouds: { tstack: { auth: { auth_url: string; username: string } } };
    };
    assert.equal(clouds.clouds.tstack.auth.auth_url, 'http://127.0.0.1:5000/v3');
    assert.equal(clouds.clouds.tstack.auth.username, 'admin');
  });

  it('bootstrap moves endpoints when a port changes', async () => {
    const moved = runTstack(['bootstrap', '--data-dir', dataDir], {
      ...env,
      TSTACK_SERVICES__COMPUTE__PORT: '18774',
    });
    running.push(moved);
    assert.equal(await moved.exited, 0, moved.stderr());
    assert.match(
      moved.stdout(),
      /^endpoint compute public moved to http:\/\/127\.0\.0\.1:18774\/v2\.1$/m,
    );
  });

  it('rotate-keys makes the staged key primary and keeps at most the asked number', async () => {
    const keys = join(dataDir, 'fernet-keys');
    assert.ok(existsSync(keys));
    const rotate = await tstack(['identity', 'rotate-keys', '--max-active-keys', '3']);
    assert.match(rotate.stdout(), /^primary key is now 2 \(was 1\)$/m);
    await tstack(['identity', 'rotate-keys', '--max-active-keys', '3']);
    const third = await tstack(['identity', 'rotate-keys', '--max-active-keys', '3']);
    assert.match(third.stdout(), /primary key is now 4 \(was 3\); removed 2/);
    assert.deepEqual(readdirSync(keys).sort(), ['0', '3', '4']);
  });
});
