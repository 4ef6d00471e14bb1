/**
 * Address management, as Neutron's built-in IPAM does it: a port asks for addresses by subnet, by
 * address, or not at all (then one IPv4 address from the first subnet with room, one from the
 * first stateful IPv6 subnet, and an EUI-64 address on every SLAAC subnet). A picked address is a
 * random one of the first 1,000 free ones of the pools, so concurrent creates rarely collide;
 * DHCP ports take the lowest free one. The `(subnet, address)` key of `ip_allocations` is what
 * keeps two ports from one address: a collision makes the caller pick again.
 */
import { randomBytes } from 'node:crypto';
import { DuplicateKeyError } from '../common/db/portable.ts';
import {
  badRequest,
  conflict,
  invalidInput,
  ipAddressGenerationFailure,
  notFound,
} from './errors.ts';
import { contains, eui64, formatAddress, parseAddress, rangeOf } from './ip.ts';
import type { Db } from './standard.ts';
import { isAutoAddress, poolRanges, prefixOf, type Subnet } from './subnets.ts';

/** One entry of a port's `fixed_ips` as the caller gave it. */
export type FixedIpRequest = { subnetId?: string; ipAddress?: string };

export type Allocation = { subnetId: string; ipAddress: string };

/** How many of the lowest free addresses a pick chooses among. */
const WINDOW = 1000;

/** Pools at least this big, and at most half used, are probed at random instead of scanned. */
const PROBE_MIN = 4096;

/** A uniform random number in [0, n). */
function randomBelow(n: bigint): bigint {
  if (n <= 0n) return 0n;
  const bytes = randomBytes(Math.ceil(n.toString(16).length / 2) + 8);
  let value = 0n;
  for (const b of bytes) value = (value << 8n) | BigInt(b);
  return value % n;
}

/** Addresses that two concurrent transactions picked alike: pick again. */
export class AddressTaken extends Error {}

function ipv6Auto(subnet: Subnet): boolean {
  return (
    subnet.row.ip_version === 6 &&
    (isAutoAddress(subnet.row) || isAutoAddress({ ipv6_address_mode: subnet.row.ipv6_ra_mode }))
  );
}

export class Ipam {
  readonly #trx: Db;
  readonly #networkId: string;
  readonly #subnets: readonly Subnet[];

  /** `subnets`: every subnet of the port's network. */
  constructor(trx: Db, networkId: string, subnets: readonly Subnet[]) {
    this.#trx = trx;
    this.#networkId = networkId;
    this.#subnets = subnets;
  }

  /**
   * The addresses a new port (or a port whose `fixed_ips` changed) gets.
   * @param requests undefined: automatic; `[]`: none.
   * @param keep addresses the port already holds (an update keeps those it lists again).
   * @throws BadRequestError (400) InvalidIpForSubnet, InvalidIpForNetwork, InvalidInput;
   *   NotFoundError (404) SubnetNotFound; ConflictError (409) IpAddressAlreadyAllocated,
   *   IpAddressGenerationFailure.
   */
  async allocate(
    requests: readonly FixedIpRequest[] | undefined,
    mac: string,
    lowest: boolean,
    keep: readonly Allocation[] = [],
  ): Promise<Allocation[]> {
    const out: Allocation[] = [];
    if (requests === undefined) {
      if (this.#subnets.length === 0) return out;
      const v4 = this.#subnets.filter((s) => s.row.ip_version === 4);
      const v6 = this.#subnets.filter((s) => s.row.ip_version === 6 && !ipv6Auto(s));
      for (const family of [v4, v6]) {
        if (family.length === 0) continue;
        let got: Allocation | undefined;
        for (const subnet of family) {
          got = await this.#pick(subnet, lowest, out);
          if (got) break;
        }
        if (!got) throw ipAddressGenerationFailure(this.#networkId);
        out.push(got);
      }
      for (const subnet of this.#subnets.filter(ipv6Auto)) out.push(this.#eui64(subnet, mac));
      return out;
    }
    // An explicit empty list asks for an unaddressed port, SLAAC included.
    if (requests.length === 0) return out;
    const seen = new Set<string>();
    for (const r of requests) {
      if (r.subnetId === undefined && r.ipAddress === undefined)
        throw invalidInput('IP allocation requires subnet_id or ip_address');
      const subnet = this.#subnetFor(r);
      if (r.ipAddress !== undefined) {
        const address = parseAddress(r.ipAddress);
        if (!address)
          throw badRequest(
            `Invalid input for fixed_ips. Reason: '${r.ipAddress}' is not a valid IP address.`,
          );
        const text = formatAddress(address.version, address.value);
        if (seen.has(text))
          throw badRequest(
            `Invalid input for fixed_ips. Reason: Duplicate IP address '${r.ipAddress}'.`,
          );
        seen.add(text);
        if (ipv6Auto(subnet) && address.value !== this.#eui64Value(subnet, mac))
          throw badRequest(
            `IPv6 address ${text} cannot be directly assigned to a port on subnet ${subnet.row.id} as the subnet is configured for automatic addresses`,
          );
        const kept = keep.some((k) => k.subnetId === subnet.row.id && k.ipAddress === text);
        if (!kept) await this.#checkFree(subnet, text);
        out.push({ subnetId: subnet.row.id, ipAddress: text });
        continue;
      }
      if (ipv6Auto(subnet)) {
        out.push(this.#eui64(subnet, mac));
        continue;
      }
      const kept = keep.find(
        (k) => k.subnetId === subnet.row.id && !out.some((o) => o.ipAddress === k.ipAddress),
      );
      if (kept) {
        out.push(kept);
        continue;
      }
      const got = await this.#pick(subnet, lowest, out);
      if (!got) throw ipAddressGenerationFailure(this.#networkId);
      out.push(got);
    }
    // SLAAC addresses come whether or not the request named their subnets.
    for (const subnet of this.#subnets.filter(ipv6Auto))
      if (!out.some((o) => o.subnetId === subnet.row.id)) out.push(this.#eui64(subnet, mac));
    return out;
  }

  #subnetFor(r: FixedIpRequest): Subnet {
    if (r.subnetId !== undefined) {
      const subnet = this.#subnets.find((s) => s.row.id === r.subnetId);
      if (!subnet) throw notFound('subnet', r.subnetId);
      if (r.ipAddress !== undefined) {
        const address = parseAddress(r.ipAddress);
        if (!address || !this.#valid(subnet, address.value, address.version))
          throw badRequest(`IP address ${r.ipAddress} is not a valid IP for the specified subnet.`);
      }
      return subnet;
    }
    const address = parseAddress(r.ipAddress ?? '');
    const subnet = address
      ? this.#subnets.find((s) => this.#valid(s, address.value, address.version))
      : undefined;
    if (!subnet)
      throw badRequest(
        `IP address ${r.ipAddress ?? ''} is not a valid IP for any of the subnets on the specified network.`,
      );
    return subnet;
  }

  /** In the prefix, and for IPv4 not its network or broadcast address. */
  #valid(subnet: Subnet, value: bigint, version: number): boolean {
    const prefix = prefixOf(subnet.row);
    if (!contains(prefix, { version: version as 4 | 6, value })) return false;
    if (prefix.version === 4 && prefix.length < 31) {
      const { start, end } = rangeOf(prefix);
      return value !== start && value !== end;
    }
    return true;
  }

  async #checkFree(subnet: Subnet, address: string): Promise<void> {
    const holder = await this.#trx
      .selectFrom('ip_allocations')
      .select('port_id')
      .where('subnet_id', '=', subnet.row.id)
      .where('ip_address', '=', address)
      .executeTakeFirst();
    if (holder)
      throw conflict(
        'IpAddressAlreadyAllocated',
        `IP address ${address} already allocated in subnet ${subnet.row.id}`,
      );
  }

  #eui64Value(subnet: Subnet, mac: string): bigint {
    return eui64(prefixOf(subnet.row), mac);
  }

  #eui64(subnet: Subnet, mac: string): Allocation {
    return { subnetId: subnet.row.id, ipAddress: formatAddress(6, this.#eui64Value(subnet, mac)) };
  }

  /**
   * A free address of the subnet's pools, or undefined when none is left. While most of the
   * pools is free, a few random probes find one without reading the subnet's allocations (so a
   * create costs the same with 10 or 10,000 ports); a fuller subnet is scanned.
   */
  async #pick(
    subnet: Subnet,
    lowest: boolean,
    taken: readonly Allocation[],
  ): Promise<Allocation | undefined> {
    if (!lowest) {
      const probed = await this.#probe(subnet, taken);
      if (probed) return probed;
    }
    const rows = await this.#trx
      .selectFrom('ip_allocations')
      .select('ip_address')
      .where('subnet_id', '=', subnet.row.id)
      .execute();
    const used = new Set<bigint>();
    for (const r of [
      ...rows.map((x) => x.ip_address),
      ...taken.filter((t) => t.subnetId === subnet.row.id).map((t) => t.ipAddress),
    ]) {
      const a = parseAddress(r);
      if (a) used.add(a.value);
    }
    if (subnet.row.gateway_ip !== null) {
      const gw = parseAddress(subnet.row.gateway_ip);
      if (gw) used.add(gw.value);
    }
    const free: bigint[] = [];
    for (const pool of poolRanges(subnet.pools)) {
      for (let a = pool.start; a <= pool.end && free.length < WINDOW; a++)
        if (!used.has(a)) free.push(a);
      if (free.length >= WINDOW || (lowest && free.length > 0)) break;
    }
    if (free.length === 0) return undefined;
    const chosen = lowest ? free[0] : free[Math.floor(Math.random() * free.length)];
    return {
      subnetId: subnet.row.id,
      ipAddress: formatAddress(subnet.row.ip_version as 4 | 6, chosen as bigint),
    };
  }

  async #probe(subnet: Subnet, taken: readonly Allocation[]): Promise<Allocation | undefined> {
    const pools = poolRanges(subnet.pools);
    const total = pools.reduce((sum, p) => sum + (p.end - p.start + 1n), 0n);
    if (total < BigInt(PROBE_MIN)) return undefined;
    const { n } = await this.#trx
      .selectFrom('ip_allocations')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('subnet_id', '=', subnet.row.id)
      .executeTakeFirstOrThrow();
    if (BigInt(Number(n)) * 2n > total) return undefined;
    const version = subnet.row.ip_version as 4 | 6;
    for (let i = 0; i < 8; i++) {
      let offset = randomBelow(total);
      let value = 0n;
      for (const p of pools) {
        const size = p.end - p.start + 1n;
        if (offset < size) {
          value = p.start + offset;
          break;
        }
        offset -= size;
      }
      const text = formatAddress(version, value);
      if (
        text === subnet.row.gateway_ip ||
        taken.some((t) => t.subnetId === subnet.row.id && t.ipAddress === text)
      )
        continue;
      const holder = await this.#trx
        .selectFrom('ip_allocations')
        .select('port_id')
        .where('subnet_id', '=', subnet.row.id)
        .where('ip_address', '=', text)
        .executeTakeFirst();
      if (!holder) return { subnetId: subnet.row.id, ipAddress: text };
    }
    return undefined;
  }

  /** Writes the allocations of `portId`. @throws AddressTaken when another port got one first. */
  async write(portId: string, allocations: readonly Allocation[]): Promise<void> {
    if (allocations.length === 0) return;
    try {
      await this.#trx
        .insertInto('ip_allocations')
        .values(
          allocations.map((a) => ({
            subnet_id: a.subnetId,
            ip_address: a.ipAddress,
            port_id: portId,
            network_id: this.#networkId,
          })),
        )
        .execute();
    } catch (err) {
      if (err instanceof DuplicateKeyError) throw new AddressTaken();
      throw err;
    }
  }
}
