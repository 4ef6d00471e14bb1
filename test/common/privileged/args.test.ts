import assert from 'node:assert/strict';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  byteSize,
  debianPackage,
  diskFormat,
  flag,
  pathIn,
  prefixed,
  PrivilegedArgumentError,
  qemuOptions,
} from '../../../src/common/privileged/index.ts';

describe('privileged argument validation', () => {
  let root = '';
  let outside = '';
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tstack-priv-args-'));
    outside = await mkdtemp(join(tmpdir(), 'tstack-priv-outside-'));
    await symlink(outside, join(root, 'escape'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });

  it('accepts an absolute path inside the root, existing or not', () => {
    assert.equal(pathIn(join(root, 'a b; $(x)'), [root]), join(root, 'a b; $(x)'));
    assert.equal(
      pathIn(join(root, 'new', 'deeper.qcow2'), ['/nonexistent-root', root]),
      join(root, 'new', 'deeper.qcow2'),
    );
  });

  const refused = [
    { name: 'a relative path', path: () => 'images/x.qcow2' },
    { name: 'a path outside the root', path: () => join(outside, 'x') },
    { name: 'the root itself', path: () => root },
    { name: 'a .. segment', path: () => `${root}/../x` },
    { name: 'a sibling with the root as prefix', path: () => `${root}-evil/x` },
    { name: 'a NUL byte', path: () => join(root, 'x\0y') },
    { name: 'a trailing slash', path: () => `${root}/x/` },
    { name: 'a symlink leading out of the root', path: () => join(root, 'escape', 'x') },
  ];
  for (const c of refused) {
    it(`refuses ${c.name}`, () => {
      assert.throws(() => pathIn(c.path(), [root]), PrivilegedArgumentError);
    });
  }

  it('formats come from a fixed list', () => {
    assert.equal(diskFormat('qcow2'), 'qcow2');
    for (const bad of ['QCOW2', 'raw,qcow2', 'json:{}', '', 'vmdk\0']) {
      assert.throws(() => diskFormat(bad), PrivilegedArgumentError, bad);
    }
  });

  it('flags are plain words; sizes are non-negative integers', () => {
    assert.equal(flag('--output=json'), '--output=json');
    for (const bad of ['a b', '$(id)', ';', 'x\0']) {
      assert.throws(() => flag(bad), PrivilegedArgumentError, bad);
    }
    assert.equal(byteSize(65536), '65536');
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 60]) {
      assert.throws(() => byteSize(bad), PrivilegedArgumentError, String(bad));
    }
  });

  it('Debian package names follow Debian policy', () => {
    assert.equal(
      debianPackage('linux-image-6.1.0-56-cloud-amd64'),
      'linux-image-6.1.0-56-cloud-amd64',
    );
    assert.equal(debianPackage('libstdc++6'), 'libstdc++6');
    for (const bad of ['-o', 'Busybox', 'a', 'x y', 'pkg=1.0', 'a/../b', 'p\0']) {
      assert.throws(() => debianPackage(bad), PrivilegedArgumentError, bad);
    }
  });

  it('QEMU option lists double commas inside values, so a path cannot add an option', () => {
    const disk = pathIn(join(root, 'a,format=raw'), [root]);
    assert.equal(
      qemuOptions([
        ['file', disk],
        ['format', flag('qcow2')],
      ]),
      `file=${root}/a,,format=raw,format=qcow2`,
    );
    for (const bad of ['File', 'a=b', 'x,y', '']) {
      assert.throws(() => qemuOptions([[bad, flag('on')]]), PrivilegedArgumentError, bad);
    }
    assert.equal(prefixed('file:', disk), `file:${root}/a,format=raw`);
  });
});
