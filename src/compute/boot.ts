/**
 * Creating servers (POST /servers without HTTP): the request is checked against the flavor, the
 * image, the key pair, the networks and the quota the way Nova's API checks it, then the
 * instances are written with `vm_state` building and `task_state` scheduling together with their
 * build tasks, in one transaction. The caller then tells the conductor; if that message is lost,
 * the conductor's sweep finds the tasks anyway.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError } from '../common/errors.ts';
import { toDbJson, toDbTimestamp } from '../common/db/portable.ts';
import type { ImageClient } from '../image/client.ts';
import type { NetworkClient } from '../network/client.ts';
import type { Aggregates } from './aggregates.ts';
import type { Flavors, Viewer } from './flavors.ts';
import type { FlavorSnapshot, RequestSpec, RequestedNetwork } from './instance-model.ts';
import type { Instances } from './instances.ts';
import { onlyNetwork } from './instance-network.ts';
import type { Quotas } from './quotas.ts';
import { groupNotFound, type ServerGroup, type ServerGroups } from './server-groups.ts';
import type { KeyPairs } from './keypairs.ts';
import type { Hosts } from './hosts.ts';
import type { Tasks } from './tasks.ts';

export type BootNetworks =
  'auto' | 'none' | { uuid?: string; port?: string; fixed_ip?: string; tag?: string }[];

export type BootRequest = {
  name: string;
  imageRef: string;
  flavorRef: string;
  /** undefined: not given (before 2.37, Nova then behaves as for 'auto' without failing). */
  networks: BootNetworks | undefined;
  keyName: string | undefined;
  userData: string | undefined;
  metadata: Record<string, string>;
  securityGroups: string[];
  availabilityZone: string | undefined;
  /** A host or node the server must go to; `force`d ones skip the filters (admins only). */
  destination?: { host?: string; node?: string; force: boolean };
  configDrive: boolean;
  minCount: number;
  maxCount: number;
  hints: { sameHost: string[]; differentHost: string[]; group?: string };
  tags: string[];
  description: string | null;
  hostname: string | undefined;
  accessIPv4: string | undefined;
  accessIPv6: string | undefined;
  adminPass: string | undefined;
};

export type Booter = {
  projectId: string;
  userId: string;
  isAdmin: boolean;
  /** The user's token: image, network and port lookups see what the user sees. */
  token: string;
  requestId: string;
};

export type BootResult = {
  uuids: string[];
  taskIds: string[];
  reservationId: string;
  adminPass: string;
};

export type BootDeps = {
  flavors: Flavors;
  keyPairs: KeyPairs;
  instances: Instances;
  tasks: Tasks;
  images: ImageClient;
  network: NetworkClient;
  quotas: Quotas;
  groups: ServerGroups;
  aggregates: Aggregates;
  hosts: Hosts;
  defaultAvailabilityZone: string;
};

function bad(message: string): BadRequestError {
  return new BadRequestError(message, 'compute.bad_request');
}

/** Nova's generated password: 12 characters with no look-alikes (`[api] password_length`). */
export function generatePassword(): string {
  const groups = ['23456789', 'ABCDEFGHJKLMNPQRSTUVWXYZ', 'abcdefghijkmnopqrstuvwxyz'];
  const all = groups.join('');
  const bytes = randomBytes(12);
  const chars = [...bytes].map((b, i) => {
    const pool = i < groups.length ? (groups[i] as string) : all;
    return pool[b % pool.length] as string;
  });
  // The first three (one of each group) go to random places.
  for (let i = chars.length - 1; i > 0; i--) {
    const j = (bytes[i] ?? 0) % (i + 1);
    [chars[i], chars[j]] = [chars[j] as string, chars[i] as string];
  }
  return chars.join('');
}

/** A DNS label from a display name, as Nova sanitises one (`my_server 1` → `my-server-1`). */
export function hostnameFrom(name: string): string {
  const cleaned = name
    .toLowerCase()
    .replace(/[ _.]/g, '-')
    .replace(/[^a-z0-9-]/g, '')
    .replace(/^[-]+|[-]+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return cleaned;
}

/**
 * The flavor as an instance keeps it.
 * @throws BadRequestError (400) for a flavor that is unknown, invisible or disabled.
 */
export async function snapshotOf(
  flavors: Flavors,
  viewer: Viewer,
  flavorRef: string,
): Promise<FlavorSnapshot> {
  const flavor = await flavors.get(viewer, flavorRef).catch((err: unknown) => {
    if (err instanceof NotFoundError) throw bad(`Flavor ${flavorRef} could not be found.`);
    throw err;
  });
  const r = flavor.row;
  if (r.disabled === 1) throw bad(`Flavor ${flavorRef} could not be found.`);
  return {
    flavorid: r.flavorid,
    name: r.name,
    vcpus: r.vcpus,
    memory_mb: r.memory_mb,
    root_gb: r.root_gb,
    ephemeral_gb: r.ephemeral_gb,
    swap: r.swap,
    description: r.description,
    extra_specs: { ...flavor.extraSpecs },
  };
}

/** The image's properties the scheduler's filters read, as strings. */
function imageProperties(image: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(image))
    if (/^(hw_|img_|os_|hypervisor_type$|architecture$)/.test(key) && typeof value === 'string')
      out[key] = value;
  return out;
}

async function resolveNetworks(
  deps: BootDeps,
  booter: Booter,
  networks: BootNetworks | undefined,
  maxCount: number,
): Promise<RequestSpec['networks']> {
  const as = { token: booter.token, globalRequestId: booter.requestId };
  if (networks === 'none') return 'none';
  if (networks === undefined || networks === 'auto' || networks.length === 0) {
    const only = onlyNetwork(await deps.network.listNetworks({}, as), booter.projectId);
    if (only === undefined) {
      if (networks !== 'auto') return [];
      throw bad('Unable to automatically allocate a network for project ' + booter.projectId);
    }
    return [{ networkId: only.id, network: { name: only.name, mtu: only.mtu } }];
  }
  const out: RequestedNetwork[] = [];
  for (const entry of networks) {
    if (entry.port !== undefined) {
      const port = await deps.network.getPort(entry.port, as);
      if (port === undefined) throw bad(`Port id ${entry.port} could not be found.`);
      if (port.device_id !== '')
        throw new ConflictError(`Port ${entry.port} is still in use.`, 'compute.port_in_use');
      if (maxCount > 1)
        throw bad(
          'Unable to launch multiple instances with a single configured port ID. Please launch your instance one by one with different ports.',
        );
      out.push({
        portId: port.id,
        networkId: port.network_id,
        ...(entry.tag !== undefined ? { tag: entry.tag } : {}),
      });
      continue;
    }
    const id = entry.uuid ?? '';
    const net = await deps.network.getNetwork(id, as);
    if (net === undefined) throw bad(`Network ${id} could not be found.`);
    if (entry.fixed_ip !== undefined && maxCount > 1)
      throw bad('max_count cannot be greater than 1 if an fixed_ip is specified.');
    out.push({
      networkId: net.id,
      network: { name: net.name, mtu: net.mtu },
      ...(entry.fixed_ip !== undefined ? { fixedIp: entry.fixed_ip } : {}),
      ...(entry.tag !== undefined ? { tag: entry.tag } : {}),
    });
  }
  return out;
}

/**
 * The host a server must go to. A requested one (2.74) must exist; a forced one that does not
 * ends in NoValidHost when it is scheduled, as in Nova. A node is looked up by its
 * `hypervisor_hostname`.
 * @throws BadRequestError (400) for a requested host or node that is not a compute host.
 */
async function destinationOf(
  deps: BootDeps,
  req: BootRequest,
): Promise<RequestSpec['destination']> {
  const wanted = req.destination;
  if (wanted === undefined) return undefined;
  const nodes = await deps.hosts.nodes();
  const missing = () => bad(`Compute host ${wanted.host ?? wanted.node} could not be found.`);
  let host = wanted.host;
  if (wanted.node !== undefined) {
    const node = nodes.find(
      (n) => n.hypervisor_hostname === wanted.node && (host === undefined || n.host === host),
    );
    if (node === undefined && !wanted.force) throw missing();
    host = node?.host ?? host ?? wanted.node;
  }
  if (host === undefined || (!wanted.force && !nodes.some((n) => n.host === host))) throw missing();
  return { host, force: wanted.force };
}

/**
 * The zone of a server forced onto `host`: the one asked for when the host is in it, else none
 * (Nova ignores a zone the forced host is not in, so the zone filter cannot refuse the host).
 */
async function forcedZone(
  deps: BootDeps,
  asked: string | undefined,
  host: string,
): Promise<string | null> {
  if (asked === undefined) return null;
  const hostZone = (await deps.aggregates.zonesByHost()).get(host) ?? deps.defaultAvailabilityZone;
  return asked === hostZone ? asked : null;
}

/**
 * Checks and records the servers of one boot request.
 * @throws BadRequestError (400) naming what is wrong; ForbiddenError (403) over quota;
 *   ConflictError (409) for an ambiguous network or a port in use.
 */
export async function bootServers(
  deps: BootDeps,
  booter: Booter,
  req: BootRequest,
): Promise<BootResult> {
  const viewer: Viewer = { projectId: booter.projectId, isAdmin: booter.isAdmin };
  const flavor = await snapshotOf(deps.flavors, viewer, req.flavorRef);
  const as = { token: booter.token, globalRequestId: booter.requestId };
  let props: Record<string, string> = {};
  if (req.imageRef !== '') {
    const image = await deps.images.getImage(req.imageRef, as);
    if (image === undefined) throw bad('Can not find requested image');
    if (image.status !== 'active') throw bad(`Image ${req.imageRef} is not active.`);
    if ((image.min_ram ?? 0) > flavor.memory_mb)
      throw bad("Flavor's memory is too small for requested image.");
    if (flavor.root_gb > 0) {
      if ((image.min_disk ?? 0) > flavor.root_gb)
        throw bad("Flavor's disk is too small for requested image.");
      const size = image.size ?? 0;
      if (size > flavor.root_gb * 1024 ** 3)
        throw bad(
          `Flavor's disk is too small for requested image. Flavor disk is ${flavor.root_gb * 1024 ** 3} bytes, image is ${size} bytes.`,
        );
    }
    props = imageProperties(image);
  } else {
    throw bad('Missing imageRef attribute');
  }
  let keyData: string | null = null;
  if (req.keyName !== undefined) {
    const key = await deps.keyPairs.get(booter.userId, req.keyName).catch((err: unknown) => {
      if (err instanceof NotFoundError) throw bad('Invalid key_name provided.');
      throw err;
    });
    keyData = key.public_key;
  }
  const networks = await resolveNetworks(deps, booter, req.networks, req.maxCount);
  let securityGroups: string[] = [];
  if (req.securityGroups.length > 0 && Array.isArray(networks) && networks.length > 0) {
    const ids = await deps.network.securityGroupIds(booter.projectId, req.securityGroups);
    for (const name of req.securityGroups)
      if (!ids.has(name))
        throw bad(`Security group ${name} not found for project ${booter.projectId}.`);
    securityGroups = [...new Set(req.securityGroups.map((n) => ids.get(n) as string))];
  }
  if (
    req.availabilityZone !== undefined &&
    req.availabilityZone !== deps.defaultAvailabilityZone &&
    ![...(await deps.aggregates.zonesByHost()).values()].includes(req.availabilityZone)
  )
    throw bad(`The requested availability zone is not available`);
  const destination = await destinationOf(deps, req);
  const count = await allowedCount(deps, booter.projectId, flavor, req);
  const group = await groupFor(deps, booter, req, count);
  const reservationId = `r-${randomBytes(4).toString('hex')}`;
  const adminPass = req.adminPass ?? generatePassword();
  const requestSpec: RequestSpec = {
    networks,
    securityGroups,
    securityGroupNames: [...new Set(req.securityGroups)],
    availabilityZone:
      destination?.force === true
        ? await forcedZone(deps, req.availabilityZone, destination.host)
        : (req.availabilityZone ?? null),
    ...(destination !== undefined ? { destination } : {}),
    hints: {
      ...(req.hints.sameHost.length > 0 ? { sameHost: req.hints.sameHost } : {}),
      ...(req.hints.differentHost.length > 0 ? { differentHost: req.hints.differentHost } : {}),
      ...(req.hints.group !== undefined ? { group: req.hints.group } : {}),
    },
    ignoreHosts: [],
    imageProperties: props,
  };
  const now = toDbTimestamp(deps.instances.now());
  const uuids = Array.from({ length: count }, () => randomUUID());
  const rows = uuids.map((uuid, i) => {
    const name = count > 1 ? `${req.name}-${i + 1}` : req.name;
    return {
      uuid,
      project_id: booter.projectId,
      user_id: booter.userId,
      display_name: name,
      display_description: req.description,
      hostname:
        req.hostname !== undefined
          ? count > 1
            ? `${req.hostname}-${i + 1}`
            : req.hostname
          : hostnameFrom(name) || `Server-${uuid}`,
      reservation_id: reservationId,
      launch_index: i,
      image_ref: req.imageRef,
      flavor: toDbJson(flavor),
      flavor_id: flavor.flavorid,
      vcpus: flavor.vcpus,
      memory_mb: flavor.memory_mb,
      root_gb: flavor.root_gb,
      key_name: req.keyName ?? null,
      key_data: keyData,
      user_data: req.userData ?? null,
      config_drive: req.configDrive ? 'True' : '',
      vm_state: 'building',
      task_state: 'scheduling',
      power_state: 0,
      host: null,
      node: null,
      availability_zone: req.availabilityZone ?? null,
      locked: 0,
      locked_by: null,
      locked_reason: null,
      access_ip_v4: req.accessIPv4 ?? null,
      access_ip_v6: req.accessIPv6 ?? null,
      progress: 0,
      request_spec: toDbJson(requestSpec),
      network_info: '[]',
      launched_at: null,
      terminated_at: null,
      created_at: now,
      updated_at: now,
      deleted_at: null,
      deleted: 0,
    };
  });
  const taskIds = await deps.instances.db.transaction().execute(async (trx) => {
    await trx.insertInto('instances').values(rows).execute();
    const meta = uuids.flatMap((uuid) =>
      Object.entries(req.metadata).map(([key, value]) => ({ instance_uuid: uuid, key, value })),
    );
    if (meta.length > 0) await trx.insertInto('instance_metadata').values(meta).execute();
    const tags = uuids.flatMap((uuid) => req.tags.map((tag) => ({ instance_uuid: uuid, tag })));
    if (tags.length > 0) await trx.insertInto('instance_tags').values(tags).execute();
    if (group !== undefined) await deps.groups.addMembers(trx, group.id, uuids);
    await deps.instances.startAction(trx, {
      uuids,
      requestId: booter.requestId,
      action: 'create',
      projectId: booter.projectId,
      userId: booter.userId,
    });
    return deps.tasks.add(
      trx,
      uuids.map((uuid) => ({
        instanceUuid: uuid,
        kind: 'build' as const,
        stage: 'conductor' as const,
        requestId: booter.requestId,
      })),
    );
  });
  return { uuids, taskIds, reservationId, adminPass };
}

/**
 * The server group a boot joins (`group` hint): the project's own (any for an admin), with
 * room for `count` more members.
 * @throws BadRequestError (400) for an unknown group; ForbiddenError (403) when it is full.
 */
async function groupFor(
  deps: BootDeps,
  booter: Booter,
  req: BootRequest,
  count: number,
): Promise<ServerGroup | undefined> {
  const uuid = req.hints.group;
  if (uuid === undefined) return undefined;
  const group = await deps.groups.get(uuid).catch((err: unknown) => {
    if (err instanceof NotFoundError) throw bad(err.message);
    throw err;
  });
  if (group.projectId !== booter.projectId && !booter.isAdmin)
    throw bad(groupNotFound(uuid).message);
  const limit = (await deps.quotas.limitsOf(group.projectId)).server_group_members;
  if (limit >= 0 && group.members.length + count > limit)
    throw new ForbiddenError('Quota exceeded, too many servers in group', 'compute.quota_exceeded');
  return group;
}

/**
 * How many of min_count…max_count fit the quota (the most that fit, as Nova boots).
 * @throws ForbiddenError (403) when not even min_count fits, worded as Nova words it.
 */
async function allowedCount(
  deps: BootDeps,
  projectId: string,
  flavor: FlavorSnapshot,
  req: BootRequest,
): Promise<number> {
  const [limits, used] = await Promise.all([
    deps.quotas.limitsOf(projectId),
    deps.quotas.usageOf(projectId),
  ]);
  const items = Object.keys(req.metadata).length;
  if (limits.metadata_items >= 0 && items > limits.metadata_items)
    throw new ForbiddenError(
      `Maximum number of metadata items exceeds ${limits.metadata_items}`,
      'compute.quota_exceeded',
    );
  const per = { instances: 1, cores: flavor.vcpus, ram: flavor.memory_mb };
  const fits = (n: number) =>
    (['instances', 'cores', 'ram'] as const).filter(
      (r) => limits[r] >= 0 && used[r] + per[r] * n > limits[r],
    );
  for (let n = req.maxCount; n >= req.minCount; n--) if (fits(n).length === 0) return n;
  const over = fits(req.minCount);
  const first = over[0] as 'instances' | 'cores' | 'ram';
  throw new ForbiddenError(
    `Quota exceeded for ${over.join(', ')}: Requested ${per[first] * req.minCount}, but already used ${used[first]} of ${limits[first]} ${first}`,
    'compute.quota_exceeded',
  );
}
