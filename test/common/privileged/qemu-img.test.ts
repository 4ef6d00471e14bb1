import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  PrivilegedArgumentError,
  PrivilegedCommandError,
  qemuImgConvert,
  qemuImgCreate,
  qemuImgInfo,
} from '../../../src/common/privileged/index.ts';

describe('qemu-img through the privileged module', () => {
  let root = '';
  let roots: string[] = [];
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tstack-qemu-img-'));
    roots = [root];
  });
  after(async () => rm(root, { recursive: true, force: true }));

  it('creates a qcow2 and reads its virtual size back exactly', async () => {
    const path = join(root, 'disk.qcow2');
    await qemuImgCreate(path, 'qcow2', 64 * 1024 * 1024, { roots });
    const info = await qemuImgInfo(path, { roots });
    assert.equal(info.format, 'qcow2');
    assert.equal(info.virtualSize, 64 * 1024 * 1024);
    assert.equal(info.clusterSize, 65536);
    assert.ok(info.actualSize !== undefined && info.actualSize > 0);
    assert.equal(info.backingFilename, undefined);
    assert.equal(info.dataFile, undefined);
    assert.equal(info.corrupt, false);
  });

  it('converts raw to qcow2 and back, bytes intact', async () => {
    const raw = join(root, 'in.raw');
    const data = Buffer.alloc(1024 * 1024, 0x5a);
    await writeFile(raw, data);
    await qemuImgConvert(raw, 'raw', join(root, 'out.qcow2'), 'qcow2', { roots });
    const info = await qemuImgInfo(join(root, 'out.qcow2'), { roots, format: 'qcow2' });
    assert.deepEqual([info.format, info.virtualSize], ['qcow2', data.length]);
    await qemuImgConvert(join(root, 'out.qcow2'), 'qcow2', join(root, 'back.raw'), 'raw', {
      roots,
    });
    assert.equal(
      (await qemuImgInfo(join(root, 'back.raw'), { roots, format: 'raw' })).virtualSize,
      data.length,
    );
  });

  it('passes a name with spaces, ;, $() and backticks as ONE argument', async () => {
    const name = 'a b; touch pwned; $(touch pwned2) `touch pwned3` \'"&|>x.qcow2';
    const path = join(root, name);
    await qemuImgCreate(path, 'qcow2', 1024 * 1024, { roots });
    const info = await qemuImgInfo(path, { roots });
    assert.equal(info.virtualSize, 1024 * 1024);
    const files = await readdir(root);
    assert.ok(files.includes(name));
    assert.equal(
      files.some((f) => f.startsWith('pwned')),
      false,
    );
    assert.equal(
      (await readdir(process.cwd())).some((f) => f.startsWith('pwned')),
      false,
    );
  });

  it('refuses paths outside its roots before running anything', async () => {
    await assert.rejects(qemuImgInfo('/etc/passwd', { roots }), PrivilegedArgumentError);
    await assert.rejects(qemuImgInfo('disk.qcow2', { roots }), PrivilegedArgumentError);
    await assert.rejects(
      qemuImgConvert(join(root, 'disk.qcow2'), 'qcow2', '/tmp/x.raw', 'raw', { roots }),
      PrivilegedArgumentError,
    );
  });

  it('a file that is not an image of the stated format is a PrivilegedCommandError', async () => {
    const path = join(root, 'not-qcow2');
    await writeFile(path, 'hello');
    await assert.rejects(qemuImgInfo(path, { roots, format: 'qcow2' }), (err: unknown) => {
      assert.ok(err instanceof PrivilegedCommandError);
      assert.equal(err.reason, 'exit');
      assert.ok(err.stderr.length > 0);
      return true;
    });
  });
});
