/**
 * The checks a subnet's values go through, as upstream makes them: IPv6 modes, the gateway
 * (first host for IPv4, the prefix itself for IPv6, never the IPv4 network or broadcast
 * address), allocation pools (inside the prefix, not overlapping, not holding the gateway), DNS
 * servers and host routes within their limits.
 */
import { badRequest, conflict, invalidInput } from './errors.ts';
import {
  formatAddress,
  formatPrefix,
  parseAddress,
  parsePrefix,
  rangeOf,
  usableRange,
  withoutAddress,
  type IpVersion,
  type Prefix,
  type Range,
} from './ip.ts';

export type Pool = { start: string; end: string };
export type HostRoute = { destination: string; nexthop: string };

export const IPV6_MODES = ['dhcpv6-stateful', 'dhcpv6-stateless', 'slaac'] as const;

/** The pools of a subnet as ranges of numbers. */
export function poolRanges(pools: readonly Pool[]): Range[] {
  return pools.map((p) => ({
    start: parseAddress(p.start)?.value ?? 0n,
    end: parseAddress(p.end)?.value ?? 0n,
  }));
}

function poolText(p: Pool): string {
  return `${p.start}-${p.end}`;
}

export function checkModes(
  version: number,
  ra: string | null,
  address: string | null,
  dhcp: boolean,
): void {
  for (const [name, value] of [
    ['ipv6_ra_mode', ra],
    ['ipv6_address_mode', address],
  ] as const) {
    if (value === null) continue;
    if (!(IPV6_MODES as readonly string[]).includes(value))
      throw badRequest(`Invalid input for ${name}. Reason: ${value} is not in valid_values.`);
    if (version === 4) throw invalidInput(`${name} is not valid when ip_version is 4`);
  }
  if ((ra !== null || address !== null) && !dhcp)
    throw invalidInput(
      'ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to False',
    );
  if (ra !== null && address !== null && ra !== address)
    throw invalidInput(
      `ipv6_ra_mode set to '${ra}' with ipv6_address_mode set to '${address}' is not valid. If both attributes are set, they must be the same value`,
    );
}

/**
 * The gateway as a number, null for none. By default the first host for IPv4 and the prefix's
 * own address for IPv6 (as upstream). A gateway outside the prefix is allowed (on-link).
 */
export function gatewayOf(prefix: Prefix, given: string | null | undefined): bigint | null {
  if (given === null) return null;
  if (given === undefined) {
    if (prefix.version === 6) return prefix.network;
    const usable = usableRange(prefix);
    return usable.start <= usable.end ? usable.start : null;
  }
  const address = parseAddress(given);
  if (!address)
    throw badRequest(`Invalid input for gateway_ip. Reason: '${given}' is not a valid IP address.`);
  if (address.version !== prefix.version)
    throw invalidInput(`gateway_ip '${given}' does not match the ip_version '${prefix.version}'`);
  const { start, end } = rangeOf(prefix);
  if (
    prefix.version === 4 &&
    prefix.length < 31 &&
    (address.value === start || address.value === end)
  )
    throw invalidInput('Gateway is not valid on subnet');
  return address.value;
}

export function defaultPools(prefix: Prefix, gateway: bigint | null): Pool[] {
  let ranges: Range[] = [usableRange(prefix)];
  if (gateway !== null) ranges = withoutAddress(ranges, gateway);
  return ranges
    .filter((r) => r.start <= r.end)
    .map((r) => ({
      start: formatAddress(prefix.version, r.start),
      end: formatAddress(prefix.version, r.end),
    }));
}

export function checkPools(prefix: Prefix, cidr: string, pools: readonly Pool[]): Pool[] {
  const usable = usableRange(prefix);
  const out: { pool: Pool; range: Range }[] = [];
  for (const p of pools) {
    const start = parseAddress(p.start);
    const end = parseAddress(p.end);
    if (
      !start ||
      !end ||
      start.version !== prefix.version ||
      end.version !== prefix.version ||
      start.value > end.value
    )
      throw badRequest(`The allocation pool ${poolText(p)} is not valid.`);
    if (start.value < usable.start || end.value > usable.end)
      throw badRequest(`The allocation pool ${poolText(p)} spans beyond the subnet cidr ${cidr}.`);
    const pool = {
      start: formatAddress(prefix.version, start.value),
      end: formatAddress(prefix.version, end.value),
    };
    out.push({ pool, range: { start: start.value, end: end.value } });
  }
  for (let i = 0; i < out.length; i++)
    for (let j = i + 1; j < out.length; j++) {
      const a = out[i] as (typeof out)[number];
      const b = out[j] as (typeof out)[number];
      if (a.range.start <= b.range.end && b.range.start <= a.range.end)
        throw conflict(
          'OverlappingAllocationPools',
          `Found overlapping allocation pools: ${poolText(a.pool)} ${poolText(b.pool)} for subnet ${cidr}.`,
        );
    }
  return out.map((o) => o.pool);
}

export function checkGatewayOutsidePools(gateway: bigint, pools: readonly Pool[]): void {
  for (const [i, r] of poolRanges(pools).entries())
    if (gateway >= r.start && gateway <= r.end) {
      const pool = pools[i] as Pool;
      const version: IpVersion = pool.start.includes(':') ? 6 : 4;
      throw conflict(
        'GatewayConflictWithAllocationPools',
        `Gateway ip ${formatAddress(version, gateway)} conflicts with allocation pool ${poolText(pool)}.`,
      );
    }
}

export function checkNameservers(
  list: readonly string[],
  version: number,
  subnetId: string,
  max: number,
): string[] {
  if (list.length > max)
    throw badRequest(
      `Unable to complete operation for ${subnetId}. The number of DNS nameservers exceeds the limit ${max}.`,
    );
  const seen = new Set<string>();
  for (const ns of list) {
    const a = parseAddress(ns);
    if (!a)
      throw badRequest(
        `Invalid input for dns_nameservers. Reason: '${ns}' is not a valid nameserver.`,
      );
    if (a.version !== version)
      throw invalidInput(`dns_nameserver '${ns}' does not match the ip_version '${version}'`);
    if (seen.has(ns))
      throw badRequest(`Invalid input for dns_nameservers. Reason: Duplicate nameserver '${ns}'.`);
    seen.add(ns);
  }
  return [...list];
}

export function checkRoutes(
  list: readonly HostRoute[],
  version: number,
  subnetId: string,
  max: number,
): HostRoute[] {
  if (list.length > max)
    throw badRequest(
      `Unable to complete operation for ${subnetId}. The number of host routes exceeds the limit ${max}.`,
    );
  return list.map((r) => {
    const dest = parsePrefix(r.destination);
    const hop = parseAddress(r.nexthop);
    if (!dest || !r.destination.includes('/'))
      throw badRequest(
        `Invalid input for host_routes. Reason: '${r.destination}' is not a valid IP subnet.`,
      );
    if (!hop)
      throw badRequest(
        `Invalid input for host_routes. Reason: '${r.nexthop}' is not a valid IP address.`,
      );
    if (dest.version !== version)
      throw invalidInput(
        `destination '${r.destination}' does not match the ip_version '${version}'`,
      );
    if (hop.version !== version)
      throw invalidInput(`nexthop '${r.nexthop}' does not match the ip_version '${version}'`);
    return { destination: formatPrefix(dest), nexthop: formatAddress(hop.version, hop.value) };
  });
}
