/** The initramfs archive writer, read back field by field as the kernel reads "newc". */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cpioNewc } from '../../../../src/compute/virt/qemu/cpio.ts';

type Read = { name: string; mode: number; nlink: number; data: Buffer };

function readNewc(archive: Buffer): Read[] {
  const out: Read[] = [];
  let at = 0;
  const align = () => (at = (at + 3) & ~3);
  for (;;) {
    assert.equal(archive.toString('ascii', at, at + 6), '070701', `magic at ${at}`);
    const field = (i: number) =>
      parseInt(archive.toString('ascii', at + 6 + 8 * i, at + 14 + 8 * i), 16);
    const mode = field(1);
    const nlink = field(4);
    const size = field(6);
    const nameSize = field(11);
    const name = archive.toString('utf8', at + 110, at + 110 + nameSize - 1);
    assert.equal(archive[at + 110 + nameSize - 1], 0, 'name ends with NUL');
    at += 110 + nameSize;
    align();
    const data = archive.subarray(at, at + size);
    at += size;
    align();
    if (name === 'TRAILER!!!') break;
    out.push({ name, mode, nlink, data: Buffer.from(data) });
  }
  assert.equal(at, archive.length, 'nothing after the trailer');
  return out;
}

describe('cpioNewc', () => {
  it('writes directories, files and symlinks with their modes, padded to 4 bytes', () => {
    const archive = cpioNewc([
      { path: 'bin', type: 'dir' },
      { path: 'bin/busybox', type: 'file', mode: 0o755, data: Buffer.from('abcde') },
      { path: 'etc/x', type: 'file', data: Buffer.from('') },
      { path: 'bin/sh', type: 'symlink', target: 'busybox' },
    ]);
    assert.equal(archive.length % 4, 0);
    assert.deepEqual(readNewc(archive), [
      { name: 'bin', mode: 0o040755, nlink: 2, data: Buffer.alloc(0) },
      { name: 'bin/busybox', mode: 0o100755, nlink: 1, data: Buffer.from('abcde') },
      { name: 'etc/x', mode: 0o100644, nlink: 1, data: Buffer.alloc(0) },
      { name: 'bin/sh', mode: 0o120777, nlink: 1, data: Buffer.from('busybox') },
    ]);
  });

  it('gives the same bytes for the same entries (the image cache relies on content alone)', () => {
    const entries = [{ path: 'init', type: 'file', data: Buffer.from('#!/bin/sh\n') }] as const;
    assert.deepEqual(cpioNewc(entries), cpioNewc(entries));
  });

  for (const path of ['/init', '../init', 'a/../../b', ''])
    it(`refuses the path ${JSON.stringify(path)}`, () => {
      assert.throws(() => cpioNewc([{ path, type: 'dir' }]), /must be relative/);
    });
});
