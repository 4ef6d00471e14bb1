/**
 * Security group rules as upstream converts and checks them: protocols by name or number (a
 * number stays the text it was given), port ranges and ICMP type and code, the remote prefix
 * against the ethertype, one remote at most; and what makes two rules the same.
 */
import { BadRequestError } from '../common/errors.ts';
import type { SecurityGroupRuleRow } from './db/schema.ts';
import { invalidAttribute } from './errors.ts';
import { formatAddress, formatPrefix, parsePrefix } from './ip.ts';

export type RuleInput = {
  securityGroupId: string;
  direction: string;
  ethertype?: string;
  protocol?: string | number | null;
  portRangeMin?: number | string | null;
  portRangeMax?: number | string | null;
  remoteIpPrefix?: string | null;
  remoteGroupId?: string | null;
  remoteAddressGroupId?: string | null;
  description?: string;
};

/** A rule's values after upstream's converters and checks. */
export type CheckedRule = {
  direction: 'ingress' | 'egress';
  ethertype: 'IPv4' | 'IPv6';
  protocol: string | null;
  min: number | null;
  max: number | null;
  prefix: string | null;
};

/** IANA protocol numbers of the names upstream accepts. */
const PROTOCOLS: Readonly<Record<string, number>> = {
  ah: 51,
  dccp: 33,
  egp: 8,
  esp: 50,
  gre: 47,
  hopopt: 0,
  icmp: 1,
  igmp: 2,
  ip: 0,
  ipip: 4,
  'ipv6-encap': 41,
  'ipv6-frag': 44,
  'ipv6-icmp': 58,
  icmpv6: 58,
  'ipv6-nonxt': 59,
  'ipv6-opts': 60,
  'ipv6-route': 43,
  ospf: 89,
  pgm: 113,
  rsvp: 46,
  sctp: 132,
  tcp: 6,
  udp: 17,
  udplite: 136,
  vrrp: 112,
};
const IPV6_ONLY = new Set([41, 44, 58, 59, 60, 43]);
const PORTED = new Set([6, 17, 33, 132, 136]);

function protocolNumber(protocol: string | null): number | undefined {
  if (protocol === null) return undefined;
  return /^\d+$/.test(protocol) ? Number(protocol) : PROTOCOLS[protocol];
}

const UNSUPPORTED_PROTOCOL = (p: string): string =>
  `Security group rule protocol ${p} not supported. Only protocol values (None, 'any', ${Object.keys(
    PROTOCOLS,
  )
    .map((n) => `'${n}'`)
    .join(', ')}) and integer representations [0 to 255] are supported.`;

/**
 * A 400 of one of the security group extension's InvalidInput subclasses: upstream words each
 * one itself (no `Invalid input for operation:` prefix) and names it in `type`.
 */
function invalidRule(type: string, message: string): BadRequestError {
  return new BadRequestError(message, 'network.invalid_input', { details: { type } });
}

/** upstream's convert_protocol: null/any → null, a number stays the text it was given. */
function convertProtocol(value: string | number | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  const text = String(value).toLowerCase();
  if (text === 'any') return null;
  if (/^\d+$/.test(text)) {
    if (Number(text) > 255)
      throw invalidRule('SecurityGroupRuleInvalidProtocol', UNSUPPORTED_PROTOCOL(String(value)));
    return text;
  }
  if (PROTOCOLS[text] === undefined)
    throw invalidRule('SecurityGroupRuleInvalidProtocol', UNSUPPORTED_PROTOCOL(String(value)));
  return text;
}

function convertPort(value: number | string | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  const text = String(value);
  if (!/^\d+$/.test(text) || Number(text) > 65535)
    throw invalidRule('SecurityGroupInvalidPortValue', `Invalid value for port ${text}`);
  return Number(text);
}

/** netaddr's str(IPNetwork(x)): a mask added to a bare address, host bits kept. */
function convertPrefix(value: string | null | undefined): string | null {
  if (value === null || value === undefined || value === '') return null;
  const prefix = parsePrefix(value);
  if (!prefix)
    throw new BadRequestError(`Invalid CIDR ${value} given as IP prefix.`, 'network.bad_request', {
      details: { type: 'InvalidCIDR' },
    });
  return `${formatAddress(prefix.version, prefix.address)}/${prefix.length}`;
}

/** What makes two rules the same rule (`tcp` is `6`; no prefix is any prefix). */
export function ruleKey(
  r: Omit<
    SecurityGroupRuleRow,
    'id' | 'project_id' | 'description' | 'revision_number' | 'created_at' | 'updated_at'
  >,
): string {
  const anyPrefix =
    r.remote_ip_prefix === null ||
    r.remote_ip_prefix === '0.0.0.0/0' ||
    r.remote_ip_prefix === '::/0';
  return JSON.stringify([
    r.security_group_id,
    r.direction,
    r.ethertype,
    protocolNumber(r.protocol) ?? null,
    r.port_range_min,
    r.port_range_max,
    anyPrefix ? null : r.remote_ip_prefix,
    r.remote_group_id,
  ]);
}

/**
 * @throws BadRequestError (400) with the type and wording of upstream's check that refuses it.
 */
export function checkRule(input: RuleInput): CheckedRule {
  if (input.direction !== 'ingress' && input.direction !== 'egress')
    throw invalidAttribute('direction', `${input.direction} is not in valid_values`);
  const ethertypeText = (input.ethertype ?? 'IPv4').toLowerCase();
  if (ethertypeText !== 'ipv4' && ethertypeText !== 'ipv6')
    throw invalidRule(
      'SecurityGroupRuleInvalidEtherType',
      `Security group rule for ethertype '${input.ethertype ?? ''}' not supported. Allowed values are ['IPv4', 'IPv6'].`,
    );
  const ethertype = ethertypeText === 'ipv4' ? 'IPv4' : 'IPv6';
  let protocol = convertProtocol(input.protocol);
  let min = convertPort(input.portRangeMin);
  let max = convertPort(input.portRangeMax);
  const prefix = convertPrefix(input.remoteIpPrefix);
  if (ethertype === 'IPv6') {
    if (protocol === 'icmp' || protocol === 'icmpv6') protocol = 'ipv6-icmp';
    else if (protocol === '1') protocol = '58';
  }
  if (min === 1 && max === 65535) {
    min = null;
    max = null;
  }
  const number = protocolNumber(protocol);
  if (min !== null || max !== null) {
    if (number === undefined)
      throw invalidRule(
        'SecurityGroupProtocolRequiredWithPorts',
        'Must also specify protocol if port range is given.',
      );
    if (PORTED.has(number)) {
      if (min === 0 || max === 0)
        throw invalidRule('SecurityGroupInvalidPortValue', 'Invalid value for port 0');
      if (min === null || max === null || min > max)
        throw invalidRule(
          'SecurityGroupInvalidPortRange',
          'For TCP/UDP protocols, port_range_min must be <= port_range_max',
        );
    } else if (number === 1 || number === 58) {
      if (min !== null && min > 255)
        throw invalidRule(
          'SecurityGroupInvalidIcmpValue',
          `Invalid value for ICMP type (port_range_min) ${min}. It must be 0 to 255.`,
        );
      if (max !== null && max > 255)
        throw invalidRule(
          'SecurityGroupInvalidIcmpValue',
          `Invalid value for ICMP code (port_range_max) ${max}. It must be 0 to 255.`,
        );
      if (min === null && max !== null)
        throw invalidRule(
          'SecurityGroupMissingIcmpType',
          `ICMP code (port-range-max) ${max} is provided but ICMP type (port-range-min) is missing.`,
        );
    } else
      throw invalidRule(
        'SecurityGroupInvalidProtocolForPort',
        `Ports cannot be specified for protocol ${number}. Ports are only supported for DCCP, SCTP, TCP, UDP, UDPLITE.`,
      );
  }
  if (prefix !== null) {
    const parsed = parsePrefix(prefix);
    if (parsed && `IPv${parsed.version}` !== ethertype)
      throw invalidRule(
        'SecurityGroupRuleParameterConflict',
        `Conflicting value ethertype ${ethertype} for CIDR ${prefix}`,
      );
  }
  if (number !== undefined && IPV6_ONLY.has(number) && ethertype === 'IPv4')
    throw invalidRule(
      'SecurityGroupEthertypeConflictWithProtocol',
      `Invalid ethertype IPv4 for protocol ${protocol ?? ''}.`,
    );
  const remotes = [prefix, input.remoteGroupId ?? null, input.remoteAddressGroupId ?? null].filter(
    (r) => r !== null,
  );
  if (remotes.length > 1)
    throw invalidRule(
      'SecurityGroupMultipleRemoteEntites',
      'Only one of remote_ip_prefix or remote_group_id or remote_address_group_id may be provided.',
    );
  return { direction: input.direction, ethertype, protocol, min, max, prefix };
}

/** `remote_ip_prefix` with the host bits cleared, as `normalized_cidr` shows it. */
export function normalizedCidr(prefix: string | null): string | null {
  if (prefix === null) return null;
  const parsed = parsePrefix(prefix);
  return parsed ? formatPrefix(parsed) : prefix;
}
