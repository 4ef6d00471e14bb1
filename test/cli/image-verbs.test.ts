/** `tstack image build-test`: builds the test guest image once, then finds it. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { testImageName } from '../../src/compute/virt/qemu/test-image.ts';
import { runTstack, type Running } from '../helpers/process.ts';

const dir = mkdtempSync(join(tmpdir(), 'ts-image-verbs-'));
const running: Running[] = [];
after(() => {
  for (const r of running) r.kill();
  rmSync(dir, { recursive: true, force: true });
});

const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'], HOME: process.env['HOME'] };

function tstack(args: string[]): Running {
  const r = runTstack(args, env);
  running.push(r);
  return r;
}

describe('tstack image build-test', { timeout: 180_000 }, () => {
  it('builds the image into the guest image cache, and the second time finds it', async () => {
    const dataDir = join(dir, 'data');
    const cache = join(dir, 'cache');
    env['TSTACK_IMAGE__TEST_IMAGE_CACHE'] = cache;
    const first = tstack(['image', 'build-test', '--data-dir', dataDir]);
    assert.equal(await first.exited, 0, first.stderr());
    const path = join(cache, testImageName());
    assert.equal(first.stdout(), `${path}\n`);
    const info = JSON.parse(
      execFileSync('qemu-img', ['info', '--output=json', '-f', 'qcow2', path], {
        encoding: 'utf8',
      }),
    ) as { format: string };
    assert.equal(info.format, 'qcow2');
    const second = tstack(['image', 'build-test', '--data-dir', dataDir]);
    assert.equal(await second.exited, 0, second.stderr());
    assert.equal(second.stdout(), `${path} (already built)\n`);
  });

  it('says why when it cannot build', async () => {
    const notADir = join(dir, 'file');
    writeFileSync(notADir, '');
    env['TSTACK_IMAGE__TEST_IMAGE_CACHE'] = join(notADir, 'cache');
    const r = tstack(['image', 'build-test', '--data-dir', join(dir, 'data')]);
    assert.equal(await r.exited, 2);
    assert.match(r.stderr(), /^tstack: cannot build the test image: .*ENOTDIR/m);
  });
});
