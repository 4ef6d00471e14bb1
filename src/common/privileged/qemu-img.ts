/**
 * qemu-img on top of `run`: image inspection and conversion. Every path must sit inside one of
 * the caller's `roots` (the image store, the volume directory…).
 */
import { byteSize, diskFormat, flag, pathIn, type Arg, type DiskFormat } from './args.ts';
import { PrivilegedCommandError } from './errors.ts';
import { PrivilegedRunner, type RunOptions } from './run.ts';

export type QemuImgOptions = RunOptions & {
  /** Directories the image paths must be inside. */
  roots: readonly string[];
  /** Runner to use; defaults to the module's allow-listed one. */
  runner?: PrivilegedRunner;
};

export type QemuImgInfo = {
  /** Format qemu-img detected (or was told), e.g. `qcow2`, `raw`. */
  format: string;
  /** Size of the virtual disk in bytes. */
  virtualSize: number;
  /** Bytes the file occupies on disk; absent when qemu-img cannot tell. */
  actualSize: number | undefined;
  clusterSize: number | undefined;
  /** A backing file named inside the image. Untrusted images with one must be refused. */
  backingFilename: string | undefined;
  /** qcow2 external data file. Untrusted images with one must be refused (CVE-2024-32498). */
  dataFile: string | undefined;
  dirtyFlag: boolean;
  /** qcow2 `corrupt` flag, when reported. */
  corrupt: boolean | undefined;
};

const DEFAULT_RUNNER = new PrivilegedRunner();
const INFO_TIMEOUT_MS = 30_000;

function runnerOf(options: QemuImgOptions): PrivilegedRunner {
  return options.runner ?? DEFAULT_RUNNER;
}

function runOptions(options: QemuImgOptions, timeoutMs: number): RunOptions {
  return {
    timeoutMs: options.timeoutMs ?? timeoutMs,
    ...(options.maxOutputBytes === undefined ? {} : { maxOutputBytes: options.maxOutputBytes }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  };
}

/**
 * `qemu-img info --output=json --force-share -- <path>`, parsed and checked. Pass `format` to
 * skip probing (recommended for untrusted data whose format is known). Throws the errors of
 * `run`, and `PrivilegedCommandError` when the JSON is not what qemu-img documents.
 */
export async function qemuImgInfo(
  path: string,
  options: QemuImgOptions & { format?: DiskFormat },
): Promise<QemuImgInfo> {
  const args: Arg[] = [flag('info'), flag('--output=json'), flag('--force-share')];
  if (options.format !== undefined) args.push(flag('-f'), diskFormat(options.format));
  args.push(flag('--'), pathIn(path, options.roots));
  const { stdout } = await runnerOf(options).run(
    'qemu-img',
    args,
    runOptions(options, INFO_TIMEOUT_MS),
  );
  return parseInfo(stdout, args);
}

function parseInfo(stdout: string, args: readonly string[]): QemuImgInfo {
  const bad = (why: string) =>
    new PrivilegedCommandError({
      command: 'qemu-img',
      args,
      reason: 'exit',
      exitCode: 0,
      stderr: why,
    });
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch (err) {
    throw bad(`qemu-img info printed invalid JSON: ${String(err)}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw bad('not a JSON object');
  const o = doc as Record<string, unknown>;
  const num = (key: string): number | undefined => {
    const v = o[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad(`bad ${key}`);
    return v;
  };
  const str = (v: unknown, key: string): string | undefined => {
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw bad(`bad ${key}`);
    return v;
  };
  const format = str(o['format'], 'format');
  const virtualSize = num('virtual-size');
  if (format === undefined || virtualSize === undefined)
    throw bad('missing format or virtual-size');
  const specific = o['format-specific'] as { data?: Record<string, unknown> } | undefined;
  const data = typeof specific?.data === 'object' && specific.data !== null ? specific.data : {};
  const corrupt = data['corrupt'];
  return {
    format,
    virtualSize,
    actualSize: num('actual-size'),
    clusterSize: num('cluster-size'),
    backingFilename: str(o['backing-filename'], 'backing-filename'),
    dataFile: str(data['data-file'], 'data-file'),
    dirtyFlag: o['dirty-flag'] === true,
    corrupt: typeof corrupt === 'boolean' ? corrupt : undefined,
  };
}

/**
 * `qemu-img convert -f <srcFormat> -O <dstFormat> -- <src> <dst>`. The source format is always
 * given (never probed). Callers converting untrusted images must first check `qemuImgInfo` shows
 * no backing file or data file.
 */
export async function qemuImgConvert(
  src: string,
  srcFormat: DiskFormat,
  dst: string,
  dstFormat: DiskFormat,
  options: QemuImgOptions & {
    /** Read a source a running QEMU holds open (`-U`); the caller keeps it still meanwhile. */
    forceShare?: boolean;
  },
): Promise<void> {
  const args = [
    flag('convert'),
    ...(options.forceShare === true ? [flag('-U')] : []),
    flag('-f'),
    diskFormat(srcFormat),
    flag('-O'),
    diskFormat(dstFormat),
    flag('--'),
    pathIn(src, options.roots),
    pathIn(dst, options.roots),
  ];
  await runnerOf(options).run('qemu-img', args, runOptions(options, 3_600_000));
}

/** `qemu-img create -f <format> [backing…] -- <path> [bytes]`, the two creates below. */
async function create(
  path: string,
  format: DiskFormat,
  backing: readonly Arg[],
  virtualSize: number | undefined,
  options: QemuImgOptions,
): Promise<void> {
  const args = [
    flag('create'),
    flag('-q'),
    flag('-f'),
    diskFormat(format),
    ...backing,
    flag('--'),
    pathIn(path, options.roots),
    ...(virtualSize === undefined ? [] : [byteSize(virtualSize)]),
  ];
  await runnerOf(options).run('qemu-img', args, runOptions(options, 60_000));
}

/** `qemu-img create -f <format> -- <path> <bytes>`: a new empty image. */
export async function qemuImgCreate(
  path: string,
  format: DiskFormat,
  virtualSize: number,
  options: QemuImgOptions,
): Promise<void> {
  await create(path, format, [], virtualSize, options);
}

/**
 * `qemu-img create -f qcow2 -b <backing> -F <format> -- <path> [bytes]`: a qcow2 overlay whose
 * reads fall through to `backing` (a guest's disk over a cached base image). Without
 * `virtualSize` the overlay is as large as its backing file; a larger one grows the disk.
 */
export async function qemuImgCreateOverlay(
  path: string,
  backing: string,
  backingFormat: DiskFormat,
  virtualSize: number | undefined,
  options: QemuImgOptions,
): Promise<void> {
  const from = [flag('-b'), pathIn(backing, options.roots), flag('-F'), diskFormat(backingFormat)];
  await create(path, 'qcow2', from, virtualSize, options);
}

/** `qemu-img resize -q -f <format> -- <path> <bytes>`: grows the virtual disk (never shrinks it). */
export async function qemuImgResize(
  path: string,
  format: DiskFormat,
  virtualSize: number,
  options: QemuImgOptions,
): Promise<void> {
  const args = [
    flag('resize'),
    flag('-q'),
    flag('-f'),
    diskFormat(format),
    flag('--'),
    pathIn(path, options.roots),
    byteSize(virtualSize),
  ];
  await runnerOf(options).run('qemu-img', args, runOptions(options, 60_000));
}
