/** The privileged-command module: import it from here (see STYLE.md for who may). */
export {
  byteSize,
  debianPackage,
  diskFormat,
  DISK_FORMATS,
  flag,
  linkName,
  macAddress,
  pathIn,
  phrase,
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
  bridgePorts,
  deleteLink,
  ensureBridge,
  linkExists,
  plugIntoBridge,
  type IpOptions,
} from './ip-link.ts';
export {
  qemuImgConvert,
  qemuImgCreate,
  qemuImgCreateOverlay,
  qemuImgInfo,
  qemuImgResize,
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
