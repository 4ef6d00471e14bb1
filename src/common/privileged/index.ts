/** The privileged-command module: import it from here (see STYLE.md for who may). */
export {
  byteSize,
  debianPackage,
  diskFormat,
  DISK_FORMATS,
  flag,
  pathIn,
  prefixed,
  qemuOptions,
  type Arg,
  type DiskFormat,
} from './args.ts';
export {
  ExecutableMissingError,
  PrivilegedArgumentError,
  PrivilegedCommandError,
  type FailureReason,
} from './errors.ts';
export {
  qemuImgConvert,
  qemuImgCreate,
  qemuImgCreateOverlay,
  qemuImgInfo,
  type QemuImgInfo,
  type QemuImgOptions,
} from './qemu-img.ts';
export {
  EXECUTABLES,
  PrivilegedRunner,
  run,
  type Executable,
  type ExecutableSpec,
  type RunOptions,
  type RunResult,
} from './run.ts';
