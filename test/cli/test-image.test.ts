/** The test image's qcow2: qemu-img reads it, checks it clean, and sees the virtual size. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { emptyQcow2 } from '../../src/cli/test-image.ts';

describe('emptyQcow2', () => {
  const cases: { name: string; size: number; clusterBits?: number }[] = [
    { name: '512 MiB, 64 KiB clusters', size: 512 * 1024 ** 2 },
    { name: '1 GiB: two L2 tables', size: 1024 ** 3 },
    {
      name: '3 GiB with 4 KiB clusters: the L1 table spans clusters',
      size: 3 * 1024 ** 3,
      clusterBits: 12,
    },
    { name: 'an odd size', size: 10 * 1024 ** 2 + 512 },
  ];
  for (const c of cases) {
    it(c.name, (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'ts-qcow2-'));
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      const file = join(dir, 'disk.qcow2');
      writeFileSync(file, emptyQcow2(c.size, c.clusterBits));
      const info = JSON.parse(
        execFileSync('qemu-img', ['info', '--output=json', '-f', 'qcow2', file], {
          encoding: 'utf8',
        }),
      ) as { format: string; 'virtual-size': number; 'cluster-size': number };
      assert.equal(info.format, 'qcow2');
      assert.equal(info['virtual-size'], c.size);
      assert.equal(info['cluster-size'], 2 ** (c.clusterBits ?? 16));
      // Exit status 0: no corruption, no leaked clusters.
      execFileSync('qemu-img', ['check', '-f', 'qcow2', file], { stdio: 'pipe' });
    });
  }
});
