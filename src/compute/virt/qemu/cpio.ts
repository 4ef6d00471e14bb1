/**
 * A cpio archive in the "newc" format, the one the Linux kernel unpacks as an initramfs: each
 * entry is a 110-byte ASCII header (magic `070701`, then thirteen 8-digit hex fields), the
 * NUL-terminated name padded to 4 bytes, then the data padded to 4 bytes; a `TRAILER!!!` entry
 * ends it. Built in memory, so making the test image's initramfs needs no cpio program.
 */

export type CpioEntry =
  | { readonly path: string; readonly type: 'dir'; readonly mode?: number }
  | {
      readonly path: string;
      readonly type: 'file';
      readonly data: Uint8Array;
      readonly mode?: number;
    }
  | { readonly path: string; readonly type: 'symlink'; readonly target: string };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function header(ino: number, mode: number, size: number, nameSize: number): string {
  // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor,
  // rdevminor, namesize, check. Owner root, mtime 0: the archive depends on its content only.
  const nlink = (mode & S_IFDIR) === S_IFDIR ? 2 : 1;
  return '070701' + [ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, nameSize, 0].map(hex8).join('');
}

/**
 * The archive of `entries`, in the order given (a directory must come before what it holds).
 * @throws Error for an absolute path or one with `..`, which the kernel would refuse or misplace.
 */
export function cpioNewc(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  const push = (b: Buffer) => {
    parts.push(b);
    offset += b.length;
  };
  const entry = (ino: number, name: string, mode: number, data: Uint8Array) => {
    const nameBytes = Buffer.from(`${name}\0`, 'utf8');
    push(Buffer.from(header(ino, mode, data.length, nameBytes.length), 'ascii'));
    push(nameBytes);
    push(Buffer.alloc(pad4(offset)));
    push(Buffer.from(data));
    push(Buffer.alloc(pad4(offset)));
  };
  entries.forEach((e, i) => {
    if (e.path.startsWith('/') || e.path.split('/').includes('..') || e.path === '')
      throw new Error(`cpio: path ${JSON.stringify(e.path)} must be relative, without '..'`);
    if (e.type === 'dir') entry(i + 1, e.path, S_IFDIR | (e.mode ?? 0o755), new Uint8Array());
    else if (e.type === 'file') entry(i + 1, e.path, S_IFREG | (e.mode ?? 0o644), e.data);
    else entry(i + 1, e.path, S_IFLNK | 0o777, Buffer.from(e.target, 'utf8'));
  });
  entry(0, 'TRAILER!!!', 0, new Uint8Array());
  return Buffer.concat(parts);
}
