/**
 * The test guest image, built the way CirrOS is but from Debian's own packages: Debian's cloud
 * kernel and a busybox initramfs (see `guest-init.ts`) with Dropbear for SSH, on a FAT disk that
 * syslinux boots, as a qcow2. Packages are fetched with `apt-get download` and unpacked with
 * `dpkg-deb`, never installed. The result is cached under the directory given, named by a digest
 * of what goes into it, so a second build is a file lookup.
 */
import { createHash } from 'node:crypto';
import os from 'node:os';
import {
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  realpath,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  byteSize,
  debianPackage,
  flag,
  pathIn,
  PrivilegedRunner,
  qemuImgConvert,
  type Arg,
} from '../../../common/privileged/index.ts';
import { cpioNewc, type CpioEntry } from './cpio.ts';
import {
  GUEST_MODULES,
  INIT_SCRIPT,
  NIC_EVENT_SCRIPT,
  POWER_BUTTON_SCRIPT,
  SYSLINUX_CFG,
  UDHCPC_SCRIPT,
} from './guest-init.ts';

/** The Debian packages the image is made of. */
const KERNEL_META_PACKAGE = 'linux-image-cloud-amd64';
const BUSYBOX_PACKAGE = 'busybox-static';
/** Dropbear (the SSH server and client CirrOS has too) and the libraries it loads. */
const SSH_PACKAGES = [
  'dropbear-bin',
  'libc6',
  'libcrypt1',
  'zlib1g',
  'libtomcrypt1',
  'libtommath1',
  'libgmp10',
] as const;
/** Where the SSH programs and their libraries go in the image, by file name. */
const SSH_FILES: Readonly<Record<string, string>> = {
  dropbear: 'usr/sbin/dropbear',
  dbclient: 'usr/bin/dbclient',
  'ld-linux-x86-64.so.2': 'lib64/ld-linux-x86-64.so.2',
  'libc.so.6': 'lib/x86_64-linux-gnu/libc.so.6',
  'libcrypt.so.1': 'lib/x86_64-linux-gnu/libcrypt.so.1',
  'libz.so.1': 'lib/x86_64-linux-gnu/libz.so.1',
  'libtomcrypt.so.1': 'lib/x86_64-linux-gnu/libtomcrypt.so.1',
  'libtommath.so.1': 'lib/x86_64-linux-gnu/libtommath.so.1',
  'libgmp.so.10': 'lib/x86_64-linux-gnu/libgmp.so.10',
};
/** Room for the kernel (about 14 MB), the initramfs and syslinux. */
const DISK_KIB = 32 * 1024;
/** Changes when the layout changes in a way the scripts' digest would not show. */
const LAYOUT = 'v2';

export type TestImage = {
  /** The qcow2 file. */
  readonly path: string;
  /** Whether it was there already. */
  readonly cached: boolean;
};

export type BuildOptions = {
  /** Where images are kept (and built, in a temporary folder inside it). */
  readonly cacheDir: string;
  readonly runner?: PrivilegedRunner;
  readonly signal?: AbortSignal;
};

/**
 * Where built test images are kept unless told otherwise: the user's cache
 * (`$XDG_CACHE_HOME/tstack/guest-images`, by default `~/.cache/tstack/guest-images`), so every
 * cloud of the user shares one build.
 */
export function defaultTestImageCache(env: NodeJS.ProcessEnv = process.env): string {
  const cache = env['XDG_CACHE_HOME'] ?? join(env['HOME'] ?? os.homedir(), '.cache');
  return join(cache, 'tstack', 'guest-images');
}

/** The image's file name: a digest of everything in it but the packages' exact versions. */
export function testImageName(): string {
  const digest = createHash('sha256')
    .update(
      [
        LAYOUT,
        INIT_SCRIPT,
        UDHCPC_SCRIPT,
        NIC_EVENT_SCRIPT,
        POWER_BUTTON_SCRIPT,
        SYSLINUX_CFG,
        ...GUEST_MODULES,
        ...SSH_PACKAGES,
        ...Object.entries(SSH_FILES).flat(),
      ].join('\0'),
    )
    .digest('hex')
    .slice(0, 16);
  return `tstack-test-${digest}.qcow2`;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Every file under `dir`, recursively; with `links`, symbolic links too. */
async function filesUnder(dir: string, links = false): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true }))
    if (entry.isFile() || (links && entry.isSymbolicLink()))
      out.push(join(entry.parentPath, entry.name));
  return out;
}

/**
 * The SSH programs and libraries from the unpacked packages in `tree`, as initramfs files. A
 * library is often a link to its versioned file; one that leads out of `tree` (the loader's
 * absolute link) is passed over for the real file.
 */
async function sshFiles(tree: string): Promise<CpioEntry[]> {
  const root = await realpath(tree);
  const found = new Map<string, string>();
  for (const file of await filesUnder(tree, true)) {
    const name = file.slice(file.lastIndexOf('/') + 1);
    if (SSH_FILES[name] === undefined || found.has(name)) continue;
    if ((await realpath(file).catch(() => '')).startsWith(`${root}/`)) found.set(name, file);
  }
  const entries: CpioEntry[] = [];
  for (const [name, path] of Object.entries(SSH_FILES)) {
    const file = found.get(name);
    if (file === undefined) throw new Error(`the SSH packages hold no ${name}`);
    entries.push({ path, type: 'file', mode: 0o755, data: await readFile(file) });
  }
  return entries;
}

/**
 * Builds the test image into `cacheDir` unless it is there.
 * @throws ExecutableMissingError naming the Debian package of a missing tool;
 *   PrivilegedCommandError when a step fails (e.g. `apt-get download` without package lists:
 *   run `apt-get update`); Error when the kernel package lacks a file the image needs.
 */
export async function buildTestImage(options: BuildOptions): Promise<TestImage> {
  const roots = [options.cacheDir];
  const target = join(options.cacheDir, testImageName());
  if (await exists(target)) return { path: target, cached: true };
  await mkdir(options.cacheDir, { recursive: true });
  const work = await mkdtemp(join(options.cacheDir, 'build-'));
  const runner = options.runner ?? new PrivilegedRunner();
  const signal = options.signal === undefined ? {} : { signal: options.signal };
  const run = (command: string, args: Arg[], cwd = work) =>
    runner.run(command, args, { timeoutMs: 120_000, cwd: pathIn(cwd, roots), ...signal });
  const at = (name: string) => pathIn(join(work, name), roots);
  try {
    // The meta package names the kernel package of the release in its Depends field.
    await run('apt-get', [
      flag('download'),
      debianPackage(KERNEL_META_PACKAGE),
      debianPackage(BUSYBOX_PACKAGE),
    ]);
    const debs = await readdir(work);
    const meta = debs.find((f) => f.startsWith(`${KERNEL_META_PACKAGE}_`));
    const busyboxDeb = debs.find((f) => f.startsWith(`${BUSYBOX_PACKAGE}_`));
    if (meta === undefined || busyboxDeb === undefined)
      throw new Error(`apt-get download gave no ${KERNEL_META_PACKAGE} or ${BUSYBOX_PACKAGE}`);
    const depends = (await run('dpkg-deb', [flag('-f'), at(meta), flag('Depends')])).stdout;
    const kernelPackage = /^\s*([a-z0-9][a-z0-9+.-]+)/.exec(depends)?.[1];
    if (kernelPackage === undefined)
      throw new Error(`${KERNEL_META_PACKAGE} names no kernel package (Depends: ${depends})`);
    await run('apt-get', [flag('download'), debianPackage(kernelPackage)]);
    const kernelDeb = (await readdir(work)).find((f) => f.startsWith(`${kernelPackage}_`));
    if (kernelDeb === undefined) throw new Error(`apt-get download gave no ${kernelPackage}`);
    await run('dpkg-deb', [flag('-x'), at(kernelDeb), at('kernel')]);
    await run('dpkg-deb', [flag('-x'), at(busyboxDeb), at('busybox')]);
    await mkdir(join(work, 'ssh-debs'));
    await run(
      'apt-get',
      [flag('download'), ...SSH_PACKAGES.map(debianPackage)],
      join(work, 'ssh-debs'),
    );
    for (const deb of await readdir(join(work, 'ssh-debs')))
      await run('dpkg-deb', [flag('-x'), at(`ssh-debs/${deb}`), at('ssh')]);

    const kernelFiles = await filesUnder(join(work, 'kernel'));
    const vmlinuz = kernelFiles.find((f) => /\/boot\/vmlinuz-[^/]+$/.test(f));
    if (vmlinuz === undefined) throw new Error(`${kernelPackage} holds no /boot/vmlinuz-*`);
    const entries: CpioEntry[] = [
      { path: 'bin', type: 'dir' },
      { path: 'etc', type: 'dir' },
      { path: 'lib', type: 'dir' },
      { path: 'lib/modules', type: 'dir' },
      { path: 'lib/x86_64-linux-gnu', type: 'dir' },
      { path: 'lib64', type: 'dir' },
      { path: 'usr', type: 'dir' },
      { path: 'usr/bin', type: 'dir' },
      { path: 'usr/sbin', type: 'dir' },
      { path: 'etc/passwd', type: 'file', data: Buffer.from('root:x:0:0:root:/root:/bin/sh\n') },
      { path: 'etc/group', type: 'file', data: Buffer.from('root:x:0:\n') },
      {
        path: 'bin/busybox',
        type: 'file',
        mode: 0o755,
        data: await readFile(join(work, 'busybox', 'bin', 'busybox')),
      },
      { path: 'init', type: 'file', mode: 0o755, data: Buffer.from(INIT_SCRIPT) },
      { path: 'etc/udhcpc.script', type: 'file', mode: 0o755, data: Buffer.from(UDHCPC_SCRIPT) },
      { path: 'etc/nic-event', type: 'file', mode: 0o755, data: Buffer.from(NIC_EVENT_SCRIPT) },
      { path: 'etc/modules', type: 'file', data: Buffer.from(`${GUEST_MODULES.join('\n')}\n`) },
      { path: 'etc/acpi', type: 'dir' },
      { path: 'etc/acpi/PWRF', type: 'dir' },
      {
        path: 'etc/acpi/PWRF/00000080',
        type: 'file',
        mode: 0o755,
        data: Buffer.from(POWER_BUTTON_SCRIPT),
      },
    ];
    entries.push(...(await sshFiles(join(work, 'ssh'))));
    for (const module of GUEST_MODULES) {
      const file = kernelFiles.find((f) => f.endsWith(`/${module}.ko`));
      if (file === undefined)
        throw new Error(`${kernelPackage} has no uncompressed module ${module}.ko`);
      entries.push({ path: `lib/modules/${module}.ko`, type: 'file', data: await readFile(file) });
    }
    await writeFile(join(work, 'initrd.gz'), gzipSync(cpioNewc(entries), { level: 6 }));
    await writeFile(join(work, 'vmlinuz'), await readFile(vmlinuz));
    await writeFile(join(work, 'syslinux.cfg'), SYSLINUX_CFG);

    const disk = at('disk.img');
    await run('mkfs.vfat', [flag('-n'), flag('TSTACK'), flag('-C'), disk, byteSize(DISK_KIB)]);
    await run('syslinux', [flag('--install'), disk]);
    await run('mcopy', [
      flag('-i'),
      disk,
      at('vmlinuz'),
      at('initrd.gz'),
      at('syslinux.cfg'),
      flag('::'),
    ]);
    const partial = join(work, 'image.qcow2');
    await qemuImgConvert(join(work, 'disk.img'), 'raw', partial, 'qcow2', {
      roots,
      runner,
      ...signal,
    });
    await rename(partial, target);
    return { path: target, cached: false };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
