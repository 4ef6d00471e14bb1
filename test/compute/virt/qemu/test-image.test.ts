/**
 * The test guest image: built from Debian's packages (fetched with apt-get, so this needs the
 * package lists `.ci/run` refreshes), then booted under QEMU (TCG, no network) with a config
 * drive; the serial console must show the marker line, the hostname, the installed key and the
 * user-data script's output. The QEMU process is this test's own and is killed when it ends.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  flag,
  pathIn,
  prefixed,
  PrivilegedRunner,
  qemuOptions,
} from '../../../../src/common/privileged/index.ts';
import { buildConfigDrive } from '../../../../src/compute/virt/qemu/config-drive.ts';
import { READY_MARKER } from '../../../../src/compute/virt/qemu/guest-init.ts';
import { buildTestImage, testImageName } from '../../../../src/compute/virt/qemu/test-image.ts';
import { testSshKey } from '../../../helpers/ssh-key.ts';

const BOOT_TIMEOUT_MS = 90_000;

/** Runs QEMU on `disks` until `done(console)` holds or the time is up; returns the console. */
async function bootUntil(
  dir: string,
  disks: { path: string; format: 'qcow2' | 'raw'; readonly?: boolean }[],
  done: (console: string) => boolean,
): Promise<string> {
  const log = join(dir, `console-${Date.now()}.log`);
  const roots = [dir];
  const abort = new AbortController();
  const args = [
    flag('-machine'),
    flag('q35,accel=tcg'),
    flag('-m'),
    flag('128'),
    flag('-smp'),
    flag('1'),
    flag('-nodefaults'),
    flag('-display'),
    flag('none'),
    flag('-no-reboot'),
    flag('-serial'),
    prefixed('file:', pathIn(log, roots)),
  ];
  for (const d of disks)
    args.push(
      flag('-drive'),
      qemuOptions([
        ['file', pathIn(d.path, roots)],
        ['format', flag(d.format)],
        ['if', flag('virtio')],
        ...(d.readonly === true ? [['readonly', flag('on')] as const] : []),
      ]),
    );
  const qemu = new PrivilegedRunner()
    .run('qemu-system-x86_64', args, { timeoutMs: BOOT_TIMEOUT_MS, signal: abort.signal })
    .catch((err: unknown) => err);
  const read = () => {
    try {
      return readFileSync(log, 'utf8');
    } catch {
      return '';
    }
  };
  const started = Date.now();
  try {
    while (!done(read()) && Date.now() - started < BOOT_TIMEOUT_MS) {
      const ended = await Promise.race([
        qemu.then(() => true),
        new Promise((resolve) => setTimeout(resolve, 200, false)),
      ]);
      if (ended === true) break;
    }
  } finally {
    abort.abort();
    await qemu;
  }
  return read();
}

describe('test guest image', () => {
  let dir: string;
  let image: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ts-test-image-'));
    const built = await buildTestImage({ cacheDir: join(dir, 'cache') });
    assert.equal(built.cached, false);
    image = built.path;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('is a qcow2 disk, cached by a name that says what is in it', async () => {
    assert.equal(image, join(dir, 'cache', testImageName()));
    const info = JSON.parse(
      execFileSync('qemu-img', ['info', '--output=json', image], { encoding: 'utf8' }),
    ) as { format: string; 'virtual-size': number };
    assert.equal(info.format, 'qcow2');
    assert.equal(info['virtual-size'], 32 * 1024 * 1024);
    const again = await buildTestImage({ cacheDir: join(dir, 'cache') });
    assert.deepEqual(again, { path: image, cached: true });
    assert.ok(statSync(image).size > 4 * 1024 * 1024, 'holds a kernel');
  });

  it('boots, reads the config drive, installs the keys, runs the user-data script, takes an SSH login with a key', async () => {
    const drive = join(dir, 'config.iso');
    const key = testSshKey('k2@test');
    const meta = {
      uuid: '6f1e3a0c-0000-4000-8000-000000000001',
      name: 'vm one',
      hostname: 'vm-one',
      public_keys: {
        k1: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHh0c3RhY2sgdGVzdCBrZXkgb25lIG9ubHk k1@test\n',
        k2: `${key.publicLine}\n`,
      },
    };
    await buildConfigDrive(
      {
        'openstack/latest/meta_data.json': JSON.stringify(meta),
        // The guest logs in to itself over SSH with k2's private key (busybox has no ssh).
        'openstack/latest/user_data': [
          '#!/bin/sh',
          'echo "user-data says $(hostname) has $(wc -l < /root/.ssh/authorized_keys) keys"',
          `echo ${key.dropbearPrivate.toString('base64')} | base64 -d > /tmp/k2`,
          `dbclient -y -i /tmp/k2 root@127.0.0.1 'echo "ssh login as $(id -un) on $(hostname)"'`,
          '',
        ].join('\n'),
      },
      { path: drive, roots: [dir] },
    );
    const overlay = join(dir, 'disk.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', image, overlay]);
    const console = await bootUntil(
      dir,
      [
        { path: overlay, format: 'qcow2' },
        { path: drive, format: 'raw', readonly: true },
      ],
      (text) => text.includes(READY_MARKER),
    );
    assert.match(console, /tstack-test: cloud data from config-drive/, console);
    assert.match(console, /tstack-test: hostname vm-one/);
    assert.match(console, /tstack-test: ssh keys installed: 2/);
    assert.match(console, /user-data says vm-one has 2 keys/);
    assert.match(console, /tstack-test: ssh server listening on port 22/);
    assert.match(console, /ssh login as root on vm-one/);
    assert.match(console, /tstack-test: ready hostname=vm-one keys=2 source=config-drive/);
  });

  it('boots with no cloud data at all and still says it is up', async () => {
    const overlay = join(dir, 'bare.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', image, overlay]);
    const console = await bootUntil(dir, [{ path: overlay, format: 'qcow2' }], (text) =>
      text.includes(READY_MARKER),
    );
    assert.match(
      console,
      /tstack-test: ready hostname=tstack-test keys=0 source=none network=none/,
    );
  });
});
