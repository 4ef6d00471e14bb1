/**
 * IP addresses and prefixes as numbers (bigint for both families), so pools, overlap checks and
 * address picking are arithmetic. Text forms are the canonical ones Neutron returns: dotted quad,
 * and RFC 5952 for IPv6.
 */
import ipaddr from 'ipaddr.js';

export type IpVersion = 4 | 6;

export type Address = { readonly version: IpVersion; readonly value: bigint };

export type Prefix = {
  readonly version: IpVersion;
  /** The network address. */
  readonly network: bigint;
  readonly length: number;
};

export type Range = { readonly start: bigint; readonly end: bigint };

export function bitsOf(version: IpVersion): number {
  return version === 4 ? 32 : 128;
}

function toBigInt(bytes: readonly number[]): bigint {
  let value = 0n;
  for (const b of bytes) value = (value << 8n) | BigInt(b);
  return value;
}

/** The address `text` stands for, or undefined when it is not one. */
export function parseAddress(text: string): Address | undefined {
  if (typeof text !== 'string' || !ipaddr.isValid(text)) return undefined;
  // ipaddr accepts shorthand IPv4 ("10.1", octal); Neutron accepts only four decimal parts.
  if (!text.includes(':') && !ipaddr.IPv4.isValidFourPartDecimal(text)) return undefined;
  if (text.includes('%')) return undefined;
  const parsed = ipaddr.parse(text);
  return { version: parsed.kind() === 'ipv4' ? 4 : 6, value: toBigInt(parsed.toByteArray()) };
}

export function formatAddress(version: IpVersion, value: bigint): string {
  const count = version === 4 ? 4 : 16;
  const bytes: number[] = [];
  for (let i = count - 1; i >= 0; i--) bytes.push(Number((value >> BigInt(i * 8)) & 0xffn));
  return ipaddr.fromByteArray(bytes).toString();
}

/** The canonical text of an address, or undefined when `text` is not one. */
export function normalizeAddress(text: string): string | undefined {
  const a = parseAddress(text);
  return a ? formatAddress(a.version, a.value) : undefined;
}

/**
 * A prefix in CIDR notation. `host` (an address with bits set past the prefix) is kept in
 * `address` so callers can tell `10.0.0.1/24` from `10.0.0.0/24`.
 */
export function parsePrefix(text: string): (Prefix & { readonly address: bigint }) | undefined {
  if (typeof text !== 'string') return undefined;
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const address = parseAddress(addressText);
  if (!address) return undefined;
  const bits = bitsOf(address.version);
  let length = bits;
  if (slash >= 0) {
    const lengthText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lengthText)) return undefined;
    length = Number(lengthText);
    if (length > bits) return undefined;
  }
  const mask = maskOf(address.version, length);
  return {
    version: address.version,
    network: address.value & mask,
    length,
    address: address.value,
  };
}

function maskOf(version: IpVersion, length: number): bigint {
  const bits = BigInt(bitsOf(version));
  const all = (1n << bits) - 1n;
  return all ^ ((1n << (bits - BigInt(length))) - 1n);
}

export function formatPrefix(prefix: Prefix): string {
  return `${formatAddress(prefix.version, prefix.network)}/${prefix.length}`;
}

/** The first and last address of the prefix. */
export function rangeOf(prefix: Prefix): Range {
  const size = 1n << BigInt(bitsOf(prefix.version) - prefix.length);
  return { start: prefix.network, end: prefix.network + size - 1n };
}

export function contains(prefix: Prefix, address: Address): boolean {
  if (prefix.version !== address.version) return false;
  const { start, end } = rangeOf(prefix);
  return address.value >= start && address.value <= end;
}

export function overlaps(a: Prefix, b: Prefix): boolean {
  if (a.version !== b.version) return false;
  const ra = rangeOf(a);
  const rb = rangeOf(b);
  return ra.start <= rb.end && rb.start <= ra.end;
}

/**
 * The addresses hosts may use: IPv4 leaves out the network and broadcast addresses (except in
 * /31 and /32); IPv6 leaves out the subnet-router anycast address (the prefix's first one).
 */
export function usableRange(prefix: Prefix): Range {
  const { start, end } = rangeOf(prefix);
  if (prefix.version === 4) {
    if (prefix.length >= 31) return { start, end };
    return { start: start + 1n, end: end - 1n };
  }
  if (prefix.length >= 127) return { start, end };
  return { start: start + 1n, end };
}

/** `ranges` minus the single address `hole`, keeping order. */
export function withoutAddress(ranges: readonly Range[], hole: bigint): Range[] {
  const out: Range[] = [];
  for (const r of ranges) {
    if (hole < r.start || hole > r.end) {
      out.push(r);
      continue;
    }
    if (r.start < hole) out.push({ start: r.start, end: hole - 1n });
    if (hole < r.end) out.push({ start: hole + 1n, end: r.end });
  }
  return out;
}

/** EUI-64 interface identifier address for `mac` in a /64 (SLAAC). */
export function eui64(prefix: Prefix, mac: string): bigint {
  const bytes = mac.split(':').map((h) => parseInt(h, 16));
  const [b0 = 0, b1 = 0, b2 = 0, b3 = 0, b4 = 0, b5 = 0] = bytes;
  const iid = toBigInt([b0 ^ 0x02, b1, b2, 0xff, 0xfe, b3, b4, b5]);
  return prefix.network | iid;
}

/** Ranges merged where they overlap or touch, in address order. */
export function mergeRanges(ranges: readonly Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out.at(-1);
    if (last && r.start <= last.end + 1n) {
      if (r.end > last.end) out[out.length - 1] = { start: last.start, end: r.end };
    } else out.push(r);
  }
  return out;
}

/** `ranges` minus `cut`. */
export function subtractRange(ranges: readonly Range[], cut: Range): Range[] {
  const out: Range[] = [];
  for (const r of ranges) {
    if (cut.end < r.start || cut.start > r.end) {
      out.push(r);
      continue;
    }
    if (r.start < cut.start) out.push({ start: r.start, end: cut.start - 1n });
    if (cut.end < r.end) out.push({ start: cut.end + 1n, end: r.end });
  }
  return out;
}

/** The fewest prefixes that cover exactly `range`, in address order. */
export function prefixesOf(version: IpVersion, range: Range): Prefix[] {
  const bits = bitsOf(version);
  const out: Prefix[] = [];
  let start = range.start;
  while (start <= range.end) {
    // The largest block aligned at `start` that stays within the range.
    let length = bits;
    while (length > 0) {
      const size = 1n << BigInt(bits - length + 1);
      if (start % size !== 0n || start + size - 1n > range.end) break;
      length--;
    }
    out.push({ version, network: start, length });
    start += 1n << BigInt(bits - length);
  }
  return out;
}
