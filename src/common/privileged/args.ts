/**
 * Per-argument validation. `run` accepts only `Arg` values, and an `Arg` is made only here, so
 * every argument of a privileged command has passed one of these checks. Arguments go to the
 * child as an array (no shell), so the checks are about meaning, not quoting: a path must stay
 * inside its root, a format must be one we know, nothing may carry a NUL byte.
 */
import { realpathSync } from 'node:fs';
import { dirname, isAbsolute, normalize, relative } from 'node:path';
import { PrivilegedArgumentError } from './errors.ts';

declare const argBrand: unique symbol;
/** A validated argument; build one with `flag`, `pathIn`, `diskFormat` or `byteSize`. */
export type Arg = string & { readonly [argBrand]: true };

/** Disk formats qemu-img may be told to read or write (the Glance disk formats it handles). */
export const DISK_FORMATS = ['raw', 'qcow2', 'vmdk', 'vdi', 'vhd', 'vhdx', 'qed'] as const;
export type DiskFormat = (typeof DISK_FORMATS)[number];

function noNul(value: string, what: string): void {
  if (value.includes('\0')) throw new PrivilegedArgumentError(`${what} contains a NUL byte`);
}

/** A constant option or word written in the code (`--output=json`, `info`); never user input. */
export function flag(value: string): Arg {
  noNul(value, 'argument');
  if (!/^[A-Za-z0-9=_.,:+-]+$/.test(value)) {
    throw new PrivilegedArgumentError(`argument ${JSON.stringify(value)} is not a plain word`);
  }
  return value as Arg;
}

/** Constant words with single spaces between them, written in the code (`OpenStack Compute`). */
export function phrase(value: string): Arg {
  noNul(value, 'argument');
  if (!/^[A-Za-z0-9_.-]+( [A-Za-z0-9_.-]+)*$/.test(value))
    throw new PrivilegedArgumentError(`argument ${JSON.stringify(value)} is not plain words`);
  return value as Arg;
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

/** The real path of `path`'s deepest existing ancestor, so a symlink cannot lead out of a root. */
function realAncestor(path: string): string {
  let current = path;
  for (;;) {
    try {
      const real = realpathSync(current);
      return current === path ? real : `${real}/${relative(current, path)}`;
    } catch {
      const parent = dirname(current);
      if (parent === current) return path;
      current = parent;
    }
  }
}

/**
 * An absolute, normalised path strictly inside one of `roots` (also after resolving symlinks of
 * its existing part). Throws `PrivilegedArgumentError` otherwise.
 */
export function pathIn(path: string, roots: readonly string[]): Arg {
  noNul(path, 'path');
  if (!isAbsolute(path)) throw new PrivilegedArgumentError('path must be absolute');
  if (normalize(path) !== path || path.endsWith('/')) {
    throw new PrivilegedArgumentError('path must be normalised (no ., .., // or trailing /)');
  }
  const real = realAncestor(path);
  const ok = roots.some((root) => {
    noNul(root, 'root');
    if (!isAbsolute(root)) return false;
    const realRoot = realAncestor(normalize(root));
    return inside(normalize(root), path) && inside(realRoot, real);
  });
  if (!ok) throw new PrivilegedArgumentError('path is outside the allowed directories');
  return path as Arg;
}

/** A disk format from `DISK_FORMATS`. */
export function diskFormat(format: string): Arg & DiskFormat {
  if (!(DISK_FORMATS as readonly string[]).includes(format)) {
    throw new PrivilegedArgumentError(`unknown disk format ${JSON.stringify(format)}`);
  }
  return format as Arg & DiskFormat;
}

/** A size in bytes, a non-negative safe integer. */
export function byteSize(bytes: number): Arg {
  if (!Number.isSafeInteger(bytes) || bytes < 0) {
    throw new PrivilegedArgumentError('size must be a non-negative integer number of bytes');
  }
  return String(bytes) as Arg;
}

/** A Debian package name (policy 5.6.1: lower case letters, digits, `+ - .`, two or more). */
export function debianPackage(name: string): Arg {
  noNul(name, 'package');
  if (!/^[a-z0-9][a-z0-9+.-]+$/.test(name)) {
    throw new PrivilegedArgumentError(`${JSON.stringify(name)} is not a Debian package name`);
  }
  return name as Arg;
}

/**
 * A QEMU option list such as `file=/…/disk.qcow2,format=qcow2,if=virtio` (after `head`, a plain
 * word, when given: `socket,id=qmp,path=…`), from plain-word keys
 * and validated values; a comma inside a value is doubled, QEMU's escape, so a path cannot add
 * an option.
 */
export function qemuOptions(pairs: readonly (readonly [string, Arg])[], head?: Arg): Arg {
  const parts = pairs.map(([key, value]) => {
    if (!/^[a-z][a-z0-9_.-]*$/.test(key))
      throw new PrivilegedArgumentError(`${JSON.stringify(key)} is not a QEMU option name`);
    return `${key}=${value.replaceAll(',', ',,')}`;
  });
  // A leading bare word, as in `socket,id=qmp,…`, is a constant of the caller's.
  if (head !== undefined) parts.unshift(flag(head));
  return parts.join(',') as Arg;
}

/** A validated value after a fixed prefix, as in `-serial file:/…/console.log`. */
export function prefixed(prefix: 'file:' | 'unix:', value: Arg): Arg {
  return `${prefix}${value}` as Arg;
}

/**
 * A network interface tstack made: `ts-` then lower-case letters, digits and dashes, 15
 * characters at most (Linux's IFNAMSIZ less its NUL). The prefix keeps every command on links
 * the project created; cleanup finds them by it.
 */
export function linkName(name: string): Arg {
  noNul(name, 'link name');
  if (!/^ts-[a-z0-9-]{1,12}$/.test(name))
    throw new PrivilegedArgumentError(`${JSON.stringify(name)} is not a ts- interface name`);
  return name as Arg;
}

/** A unicast Ethernet address, `aa:bb:cc:dd:ee:ff`. */
export function macAddress(mac: string): Arg {
  noNul(mac, 'MAC address');
  if (!/^[0-9a-f][02468ace](:[0-9a-f]{2}){5}$/i.test(mac))
    throw new PrivilegedArgumentError(`${JSON.stringify(mac)} is not a unicast MAC address`);
  return mac.toLowerCase() as Arg;
}
