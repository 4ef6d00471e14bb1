/**
 * Chooses QEMU's accelerator. `/dev/kvm` opening and `KVM_CREATE_VM` working is not enough: on
 * some machines guests abort or hang on it (see the notes on this machine kind). So `auto` boots
 * a real guest, the test image, on KVM, and takes KVM only when it prints its marker line in
 * time; otherwise TCG, with the reason kept for the hypervisor's details. The answer holds until
 * the machine reboots or QEMU changes, so it is kept in `cacheFile` under the boot's id.
 */
import { access, constants, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  byteSize,
  flag,
  pathIn,
  prefixed,
  PrivilegedCommandError,
  PrivilegedRunner,
  qemuOptions,
} from '../../../common/privileged/index.ts';
import { READY_MARKER } from './guest-init.ts';

export type Accel = { accel: 'kvm' | 'tcg'; reason: string };

export type ProbeOptions = {
  /** The test image to boot (its disk is not written: QEMU's `-snapshot`). */
  image: string | undefined;
  /** A folder for the probe's console file. */
  workDir: string;
  /** Where the answer is kept for later starts on this boot of the machine. */
  cacheFile?: string;
  runner?: PrivilegedRunner;
  /** A guest on working KVM prints its marker within a second or two. */
  timeoutMs?: number;
  kvmDevice?: string;
};

/** What makes a kept answer stale: another boot of the machine, another QEMU. */
async function probeKey(): Promise<string> {
  const boot = await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => 'unknown');
  const qemu = await stat('/usr/bin/qemu-system-x86_64').then(
    (s) => String(s.mtimeMs),
    () => 'unknown',
  );
  return `${boot.trim()}/${qemu}`;
}

export async function chooseAccel(
  want: 'auto' | 'kvm' | 'tcg',
  options: ProbeOptions,
): Promise<Accel> {
  if (want !== 'auto' || options.cacheFile === undefined) return probe(want, options);
  const key = await probeKey();
  try {
    const kept = JSON.parse(await readFile(options.cacheFile, 'utf8')) as Accel & { key: string };
    if (kept.key === key && (kept.accel === 'kvm' || kept.accel === 'tcg'))
      return { accel: kept.accel, reason: kept.reason };
  } catch {
    // Nothing kept yet.
  }
  const found = await probe(want, options);
  // Without a test image the probe proved nothing; ask again next time.
  if (options.image !== undefined) {
    await mkdir(dirname(options.cacheFile), { recursive: true });
    await writeFile(options.cacheFile, JSON.stringify({ ...found, key }));
  }
  return found;
}

async function probe(want: 'auto' | 'kvm' | 'tcg', options: ProbeOptions): Promise<Accel> {
  if (want !== 'auto') return { accel: want, reason: `configured (compute.qemu_accel: ${want})` };
  const device = options.kvmDevice ?? '/dev/kvm';
  try {
    await access(device, constants.R_OK | constants.W_OK);
  } catch {
    return { accel: 'tcg', reason: `${device} cannot be opened` };
  }
  if (options.image === undefined)
    return { accel: 'tcg', reason: 'no test image to probe KVM with' };
  const dir = await mkdtemp(join(options.workDir, 'kvm-probe-'));
  const roots = [options.workDir];
  const log = join(dir, 'console.log');
  const done = new AbortController();
  const timeoutMs = options.timeoutMs ?? 5000;
  const run = (options.runner ?? new PrivilegedRunner()).run(
    'qemu-system-x86_64',
    [
      flag('-machine'),
      qemuOptions([['accel', flag('kvm')]], flag('q35')),
      flag('-cpu'),
      flag('host'),
      flag('-m'),
      byteSize(128),
      flag('-nodefaults'),
      flag('-no-user-config'),
      flag('-display'),
      flag('none'),
      flag('-snapshot'),
      flag('-drive'),
      qemuOptions([
        ['file', pathIn(options.image, [dirname(options.image)])],
        ['format', flag('qcow2')],
        ['if', flag('virtio')],
      ]),
      flag('-serial'),
      prefixed('file:', pathIn(log, roots)),
    ],
    { timeoutMs, signal: done.signal },
  );
  const booted = (async () => {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until && !done.signal.aborted) {
      const text = await readFile(log, 'utf8').catch(() => '');
      if (text.includes(READY_MARKER)) return true;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return false;
  })();
  try {
    const outcome = await Promise.race([
      booted,
      run.then(
        () => 'exited without booting',
        (err: unknown) =>
          err instanceof PrivilegedCommandError
            ? err.stderr.trim().split('\n')[0] || err.message
            : String(err),
      ),
    ]);
    if (outcome === true) return { accel: 'kvm', reason: 'a probe guest booted on /dev/kvm' };
    const why = outcome === false ? `no marker within ${timeoutMs} ms` : outcome;
    return { accel: 'tcg', reason: `guests do not run on /dev/kvm here: ${why}` };
  } finally {
    done.abort();
    await run.catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}
