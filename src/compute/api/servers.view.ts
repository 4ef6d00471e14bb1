/**
 * Servers as Nova renders them, per microversion: the summary (`id`, `name`, `links`) and the
 * detail with the `OS-EXT-*` extension attributes, admin-only ones for admins only.
 */
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { baseUrlOf } from '../../common/http/version-discovery.ts';
import { statusOf } from '../instance-model.ts';
import type { InstanceDetail } from '../instances.ts';
import { atLeast } from './context.ts';

type Json = Record<string, unknown>;

function links(request: FastifyRequest, kind: string, id: string): Json[] {
  const base = baseUrlOf(request);
  return [
    { rel: 'self', href: `${base}/v2.1/${kind}/${id}` },
    { rel: 'bookmark', href: `${base}/${kind}/${id}` },
  ];
}

/** `2024-05-01T12:00:00Z`: Nova's `created`/`updated`. */
export function isoSeconds(ts: string): string {
  return `${ts.slice(0, 19)}Z`;
}

/** `2024-05-01T12:00:00.000000`: Nova's `OS-SRV-USG:*` and fault-free timestamps. */
export function isoMicros(ts: string | null): string | null {
  return ts === null ? null : `${ts.slice(0, 19)}.${ts.slice(20, 23)}000`;
}

/** Nova's hostId: the host hashed with the project, so projects cannot compare hosts. */
export function hostIdOf(projectId: string, host: string | null): string {
  if (host === null || host === '') return '';
  return createHash('sha224').update(`${projectId}${host}`).digest('hex');
}

export function serverSummary(request: FastifyRequest, i: InstanceDetail): Json {
  return {
    id: i.row.uuid,
    name: i.row.display_name,
    links: links(request, 'servers', i.row.uuid),
  };
}

function addresses(i: InstanceDetail): Json {
  const out: Record<string, Json[]> = {};
  for (const vif of i.networkInfo) {
    const list = out[vif.networkName] ?? [];
    for (const ip of vif.ips)
      list.push({
        version: ip.version,
        addr: ip.address,
        'OS-EXT-IPS:type': ip.type,
        'OS-EXT-IPS-MAC:mac_addr': vif.macAddress,
      });
    out[vif.networkName] = list;
  }
  return out;
}

function flavorView(request: FastifyRequest, i: InstanceDetail): Json {
  const f = i.flavor;
  if (!atLeast(request, 47))
    return { id: f.flavorid, links: [links(request, 'flavors', f.flavorid)[1]] };
  return {
    vcpus: f.vcpus,
    ram: f.memory_mb,
    disk: f.root_gb,
    ephemeral: f.ephemeral_gb,
    swap: f.swap,
    original_name: f.name,
    extra_specs: f.extra_specs,
  };
}

export type ViewOptions = {
  isAdmin: boolean;
  /** GET /servers/{id} (and update) show `server_groups` from 2.71; the list does not. */
  single?: boolean;
  /** The uuids of the server's groups, for `single` views. */
  serverGroups?: readonly string[];
};

const PROGRESS_STATUSES = new Set([
  'ACTIVE',
  'BUILD',
  'REBUILD',
  'RESIZE',
  'VERIFY_RESIZE',
  'MIGRATING',
]);

export function serverDetail(
  request: FastifyRequest,
  i: InstanceDetail,
  options: ViewOptions,
): Json {
  const r = i.row;
  const status = statusOf(r.vm_state, r.task_state);
  const out: Json = {
    id: r.uuid,
    name: r.display_name,
    status,
    tenant_id: r.project_id,
    user_id: r.user_id,
    metadata: i.metadata,
    hostId: hostIdOf(r.project_id, r.host),
    image:
      r.image_ref === ''
        ? ''
        : { id: r.image_ref, links: [links(request, 'images', r.image_ref)[1]] },
    flavor: flavorView(request, i),
    created: isoSeconds(r.created_at),
    updated: isoSeconds(r.updated_at),
    addresses: addresses(i),
    accessIPv4: r.access_ip_v4 ?? '',
    accessIPv6: r.access_ip_v6 ?? '',
    links: links(request, 'servers', r.uuid),
    'OS-DCF:diskConfig': 'MANUAL',
    'OS-EXT-AZ:availability_zone': r.availability_zone ?? (r.host !== null ? 'nova' : ''),
    config_drive: r.config_drive,
    key_name: r.key_name,
    'OS-SRV-USG:launched_at': isoMicros(r.launched_at),
    'OS-SRV-USG:terminated_at': isoMicros(r.terminated_at),
    'OS-EXT-STS:task_state': r.task_state,
    'OS-EXT-STS:vm_state': r.vm_state,
    'OS-EXT-STS:power_state': r.power_state,
    'os-extended-volumes:volumes_attached': [],
  };
  if (PROGRESS_STATUSES.has(status)) out['progress'] = r.progress;
  if (i.networkInfo.length > 0) {
    const names = i.requestSpec.securityGroupNames ?? [];
    out['security_groups'] = (names.length > 0 ? names : ['default']).map((name) => ({ name }));
  }
  if (options.isAdmin) {
    out['OS-EXT-SRV-ATTR:host'] = r.host;
    out['OS-EXT-SRV-ATTR:hypervisor_hostname'] = r.node;
    out['OS-EXT-SRV-ATTR:instance_name'] = `instance-${r.uuid.slice(0, 8)}`;
    if (atLeast(request, 3)) {
      out['OS-EXT-SRV-ATTR:reservation_id'] = r.reservation_id;
      out['OS-EXT-SRV-ATTR:launch_index'] = r.launch_index;
      out['OS-EXT-SRV-ATTR:hostname'] = r.hostname;
      out['OS-EXT-SRV-ATTR:kernel_id'] = '';
      out['OS-EXT-SRV-ATTR:ramdisk_id'] = '';
      out['OS-EXT-SRV-ATTR:root_device_name'] = '/dev/vda';
      out['OS-EXT-SRV-ATTR:user_data'] = r.user_data;
    }
  }
  if (atLeast(request, 9)) out['locked'] = r.locked === 1;
  if (atLeast(request, 16) && options.isAdmin) out['host_status'] = r.host === null ? '' : 'UP';
  if (atLeast(request, 19)) out['description'] = r.display_description;
  if (atLeast(request, 26)) out['tags'] = i.tags;
  if (atLeast(request, 63)) out['trusted_image_certificates'] = null;
  if (atLeast(request, 71) && options.single === true)
    out['server_groups'] = [...(options.serverGroups ?? [])];
  if (atLeast(request, 73)) out['locked_reason'] = r.locked_reason;
  if (atLeast(request, 90) && !options.isAdmin) out['OS-EXT-SRV-ATTR:hostname'] = r.hostname;
  if (i.fault !== undefined && (status === 'ERROR' || status === 'DELETED')) {
    const fault: Json = {
      code: i.fault.code,
      created: isoSeconds(i.fault.created),
      message: i.fault.message,
    };
    if (i.fault.details !== '' && (options.isAdmin || i.fault.code !== 500))
      fault['details'] = i.fault.details;
    out['fault'] = fault;
  }
  return out;
}
