/**
 * Where the request asks the server to go: a zone, and a host or node, either forced through
 * the zone (`zone:host`, `zone:host:node`, `zone::node`; filters do not apply, as in Nova) or
 * requested with `host`/`hypervisor_hostname` from 2.74 (filters apply).
 * @throws BadRequestError (400) for a zone that does not parse or both ways at once.
 */
function placementOf(
  request: FastifyRequest,
  body: Body,
): Pick<BootRequest, 'availabilityZone' | 'destination'> {
  const given = str(body, 'availability_zone', { min: 1, max: 255 });
  let zone = given;
  let host: string | undefined;
  let node: string | undefined;
  if (given?.includes(':') === true) {
    const parts = given.split(':');
    if (parts.length === 2) [zone, host] = parts;
    else if (parts.length === 3 && given.includes('::')) [zone, , node] = parts;
    else if (parts.length === 3) [zone, host, node] = parts;
    else
      throw new BadRequestError(
        'Invalid input received: Unable to parse availability_zone',
        'compute.bad_request',
      );
  }
  const forced = { ...(host ? { host } : {}), ...(node ? { node } : {}) };
  const requested = atLeast(request, 74)
    ? {
        ...(body['host'] !== undefined ? { host: hostName(body, 'host') } : {}),
        ...(body['hypervisor_hostname'] !== undefined
          ? { node: hostName(body, 'hypervisor_hostname') }
          : {}),
      }
    : {};
  const isForced = Object.keys(forced).length > 0;
  if (isForced && Object.keys(requested).length > 0)
    throw new BadRequestError(
      'One mechanism with host and/or hypervisor_hostname and another mechanism with zone:host:node are mutually exclusive.',
      'compute.bad_request',
    );
  const out: Pick<BootRequest, 'availabilityZone' | 'destination'> = {
    availabilityZone: zone === '' ? undefined : zone,
  };
  if (isForced) out.destination = { ...forced, force: true };
  else if (Object.keys(requested).length > 0) out.destination = { ...requested, force: false };
  return out;
}

/** A host or node name (2.74's `host` and `hypervisor_hostname`). */
function hostName(body: Body, key: string): string {
  const v = str(body, key, { min: 1, max: 255 }) as string;
  if (!/^[a-zA-Z0-9._-]*$/.test(v))
    throw invalidField(key, v, `'${v}' does not match '^[a-zA-Z0-9-._]*$'`);
  return v;
}

/**
 * The body of POST /servers, checked as Nova's JSON schema checks it for the request's
 * microversion: unknown keys, wrong types and bad values are a 400 naming the field.
 */
import type { FastifyRequest } from 'fastify';
import { BadRequestError } from '../../common/errors.ts';
import type { BootNetworks, BootRequest } from '../boot.ts';
import { atLeast, invalidField, onlyKeys, unwrap, type Body } from './context.ts';
import { parseMetadata } from './server-metadata.schema.ts';

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
/** Nova's name rule for create: printable, no leading or trailing whitespace. */
const NAME = /^(?![ ])[^\p{C}]*(?<![ ])$/u;
const HOSTNAME = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;

const BASE_KEYS = [
  'name',
  'imageRef',
  'flavorRef',
  'networks',
  'key_name',
  'user_data',
  'metadata',
  'security_groups',
  'availability_zone',
  'config_drive',
  'min_count',
  'max_count',
  'return_reservation_id',
  'accessIPv4',
  'accessIPv6',
  'adminPass',
  'OS-DCF:diskConfig',
  'block_device_mapping',
  'block_device_mapping_v2',
  'personality',
];

function str(
  body: Body,
  key: string,
  options: { max?: number; min?: number } = {},
): string | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string')
    throw invalidField(key, v, `${JSON.stringify(v)} is not of type 'string'`);
  if (options.min !== undefined && v.length < options.min)
    throw invalidField(key, v, `'${v}' is too short`);
  if (options.max !== undefined && v.length > options.max)
    throw invalidField(key, v, `'${v}' is too long`);
  return v;
}

function count(body: Body, key: string): number | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n))
    throw invalidField(key, v, `${JSON.stringify(v)} is not of type 'integer', 'string'`);
  if (n < 1) throw invalidField(key, v, `${n} is less than the minimum of 1`);
  return n;
}

function bool(body: Body, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|false|yes|no|1|0|on|off|t|f|y|n)$/i.test(v))
    return /^(true|yes|1|on|t|y)$/i.test(v);
  if (v === '') return false;
  throw invalidField(key, v, `${JSON.stringify(v)} is not of type 'boolean', 'string', 'null'`);
}

function networksOf(request: FastifyRequest, body: Body): BootNetworks | undefined {
  const v = body['networks'];
  if (v === undefined) {
    if (atLeast(request, 37))
      throw new BadRequestError("'networks' is a required property", 'compute.bad_request');
    return undefined;
  }
  if (v === 'auto' || v === 'none') {
    if (!atLeast(request, 37)) throw invalidField('networks', v, `'${v}' is not of type 'array'`);
    return v;
  }
  if (!Array.isArray(v))
    throw invalidField(
      'networks',
      v,
      `${JSON.stringify(v)} is not valid under any of the given schemas`,
    );
  return v.map((entry: unknown) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
      throw invalidField('networks', entry, `${JSON.stringify(entry)} is not of type 'object'`);
    const e = entry as Body;
    onlyKeys(
      e,
      atLeast(request, 32) ? ['uuid', 'port', 'fixed_ip', 'tag'] : ['uuid', 'port', 'fixed_ip'],
      'networks',
    );
    const uuid = str(e, 'uuid');
    const port = str(e, 'port');
    const fixedIp = str(e, 'fixed_ip');
    const tag = str(e, 'tag', { min: 1, max: 60 });
    if (uuid !== undefined && !UUID.test(uuid))
      throw new BadRequestError(
        `Bad networks format: network uuid is not in proper format (${uuid})`,
        'compute.bad_request',
      );
    if (port !== undefined && !UUID.test(port))
      throw invalidField('port', port, `'${port}' is not a 'uuid'`);
    if (port === undefined && uuid === undefined)
      throw new BadRequestError(
        'Bad networks format: network uuid is not in proper format ()',
        'compute.bad_request',
      );
    if (fixedIp !== undefined && !/^[0-9a-fA-F.:]+$/.test(fixedIp))
      throw new BadRequestError(`Invalid fixed IP address (${fixedIp})`, 'compute.bad_request');
    return {
      ...(uuid !== undefined ? { uuid: uuid.toLowerCase() } : {}),
      ...(port !== undefined ? { port: port.toLowerCase() } : {}),
      ...(fixedIp !== undefined ? { fixed_ip: fixedIp } : {}),
      ...(tag !== undefined ? { tag } : {}),
    };
  });
}

function hints(root: Body): BootRequest['hints'] {
  const raw = root['os:scheduler_hints'] ?? root['OS-SCH-HNT:scheduler_hints'];
  if (raw === undefined) return { sameHost: [], differentHost: [] };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw invalidField('os:scheduler_hints', raw, `${JSON.stringify(raw)} is not of type 'object'`);
  const h = raw as Body;
  const uuids = (key: string): string[] => {
    const v = h[key];
    if (v === undefined) return [];
    const list = Array.isArray(v) ? v : [v];
    for (const item of list)
      if (typeof item !== 'string' || !UUID.test(item))
        throw invalidField(key, item, `'${String(item)}' is not a 'uuid'`);
    return (list as string[]).map((s) => s.toLowerCase());
  };
  const group = h['group'];
  if (group !== undefined && (typeof group !== 'string' || !UUID.test(group)))
    throw invalidField('group', group, `${JSON.stringify(group)} is not a 'uuid'`);
  return {
    sameHost: uuids('same_host'),
    differentHost: uuids('different_host'),
    ...(typeof group === 'string' ? { group: group.toLowerCase() } : {}),
  };
}

/**
 * Boot from the image is all there is until volumes exist: the only mapping taken is the one
 * newer clients send beside `imageRef` for it (image → local, boot index 0).
 */
function checkBlockDevices(body: Body, imageRef: string): void {
  if (body['block_device_mapping'] !== undefined)
    throw new BadRequestError(
      'Block Device Mapping is Invalid: volumes are not supported yet.',
      'compute.bad_request',
    );
  const v2 = body['block_device_mapping_v2'];
  if (v2 === undefined) return;
  if (!Array.isArray(v2))
    throw invalidField(
      'block_device_mapping_v2',
      v2,
      `${JSON.stringify(v2)} is not of type 'array'`,
    );
  for (const raw of v2 as unknown[]) {
    const bdm = (typeof raw === 'object' && raw !== null ? raw : {}) as Body;
    const imageLocal =
      bdm['source_type'] === 'image' &&
      (bdm['destination_type'] ?? 'local') === 'local' &&
      String(bdm['boot_index']) === '0' &&
      typeof bdm['uuid'] === 'string' &&
      bdm['uuid'] === imageRef;
    if (!imageLocal)
      throw new BadRequestError(
        'Block Device Mapping is Invalid: only booting from the image is supported until volumes exist.',
        'compute.bad_request',
      );
  }
}

/** @throws BadRequestError (400) naming the first field that is wrong. */
export function parseBoot(
  request: FastifyRequest,
  root: unknown,
): BootRequest & { returnReservationId: boolean } {
  const body = unwrap(root, 'server');
  const allowed = [...BASE_KEYS];
  if (atLeast(request, 19)) allowed.push('description');
  if (atLeast(request, 52)) allowed.push('tags');
  if (atLeast(request, 63)) allowed.push('trusted_image_certificates');
  if (atLeast(request, 74)) allowed.push('host', 'hypervisor_hostname');
  if (atLeast(request, 90)) allowed.push('hostname');
  onlyKeys(body, allowed);
  const name = str(body, 'name', { min: 1, max: 255 });
  if (name === undefined)
    throw new BadRequestError("'name' is a required property", 'compute.bad_request');
  if (!NAME.test(name))
    throw new BadRequestError(
      "An invalid 'name' value was provided. The name must be: printable characters. Can not start or end with whitespace.",
      'compute.bad_request',
    );
  const flavorRef = body['flavorRef'];
  if (flavorRef === undefined)
    throw new BadRequestError("'flavorRef' is a required property", 'compute.bad_request');
  if ((typeof flavorRef !== 'string' && typeof flavorRef !== 'number') || String(flavorRef) === '')
    throw invalidField(
      'flavorRef',
      flavorRef,
      `${JSON.stringify(flavorRef)} is not valid under any of the given schemas`,
    );
  const imageRef = str(body, 'imageRef') ?? '';
  if (imageRef !== '' && !UUID.test(imageRef))
    throw new BadRequestError(`Invalid imageRef provided.`, 'compute.bad_request');
  const userData = str(body, 'user_data', { max: 65535 });
  if (userData !== undefined && !/^[A-Za-z0-9+/]*={0,2}$/.test(userData.replace(/\s/g, '')))
    throw new BadRequestError('User data needs to be valid base 64.', 'compute.bad_request');
  const groups = body['security_groups'];
  let securityGroups: string[] = [];
  if (groups !== undefined) {
    if (!Array.isArray(groups))
      throw invalidField(
        'security_groups',
        groups,
        `${JSON.stringify(groups)} is not of type 'array'`,
      );
    securityGroups = groups.map((g: unknown) => {
      const n = typeof g === 'object' && g !== null ? (g as Body)['name'] : undefined;
      if (typeof n !== 'string' || n === '')
        throw invalidField('security_groups', g, `'name' is a required property`);
      return n;
    });
  }
  const minCount = count(body, 'min_count') ?? 1;
  const maxCount = count(body, 'max_count') ?? minCount;
  if (minCount > maxCount)
    throw new BadRequestError('min_count must be <= max_count', 'compute.bad_request');
  let tags: string[] = [];
  if (body['tags'] !== undefined) {
    const t = body['tags'];
    if (!Array.isArray(t))
      throw invalidField('tags', t, `${JSON.stringify(t)} is not of type 'array'`);
    if (t.length > 50) throw invalidField('tags', t, 'is too long');
    tags = t.map((tag: unknown) => {
      if (typeof tag !== 'string' || tag.length < 1 || tag.length > 60 || /[,/]/.test(tag))
        throw invalidField('tags', tag, `'${String(tag)}' does not match '^[^,/]*$'`);
      return tag;
    });
  }
  const description = body['description'];
  if (
    description !== undefined &&
    description !== null &&
    (typeof description !== 'string' || description.length > 255)
  )
    throw invalidField(
      'description',
      description,
      `${JSON.stringify(description)} is not valid under any of the given schemas`,
    );
  const hostname = str(body, 'hostname');
  if (hostname !== undefined && !HOSTNAME.test(hostname))
    throw invalidField(
      'hostname',
      hostname,
      `'${hostname}' does not match '^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$'`,
    );
  checkBlockDevices(body, imageRef);
  return {
    name,
    imageRef,
    flavorRef: String(flavorRef),
    networks: networksOf(request, body),
    keyName: str(body, 'key_name', { min: 1, max: 255 }),
    userData,
    metadata: body['metadata'] === undefined ? {} : parseMetadata('metadata', body['metadata']),
    securityGroups,
    ...placementOf(request, body),
    configDrive: bool(body, 'config_drive') ?? false,
    minCount,
    maxCount,
    hints: hints(root as Body),
    tags,
    // Before 2.19 a server's description is its name, as Nova stores it.
    description: atLeast(request, 19)
      ? typeof description === 'string'
        ? description
        : null
      : name,
    hostname,
    accessIPv4: str(body, 'accessIPv4'),
    accessIPv6: str(body, 'accessIPv6'),
    adminPass: str(body, 'adminPass'),
    returnReservationId: bool(body, 'return_reservation_id') ?? false,
  };
}
