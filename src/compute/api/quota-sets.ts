/**
 * `/os-quota-sets`, `/os-quota-class-sets` and `/limits`: what a project may use and does use.
 * Older microversions also show the nova-network era limits (-1 here, as Nova with Neutron
 * shows them); 2.36 drops those, 2.57 drops the injected-file limits.
 */
import type { FastifyRequest } from 'fastify';
import type { App } from '../../common/http/app.ts';
import { BadRequestError } from '../../common/errors.ts';
import { DEFAULT_CLASS, isQuotaResource, QUOTA_RESOURCES, type QuotaLimits } from '../quotas.ts';
import {
  atLeast,
  authorize,
  invalidField,
  last,
  repr,
  unwrap,
  type ApiDeps,
  type Query,
} from './context.ts';

/** Resources of nova-network days, shown (as unlimited) before 2.36. */
const NETWORK_ERA = ['fixed_ips', 'floating_ips', 'security_groups', 'security_group_rules'];
const INJECTED = ['injected_files', 'injected_file_content_bytes', 'injected_file_path_bytes'];
/** Resources a quota class shows only from 2.50. */
const GROUP_RESOURCES = ['server_groups', 'server_group_members'];

function shownResources(request: FastifyRequest, forClass = false): string[] {
  const out: string[] = QUOTA_RESOURCES.filter(
    (r) =>
      !(atLeast(request, 57) && INJECTED.includes(r)) &&
      !(forClass && !atLeast(request, 50) && GROUP_RESOURCES.includes(r)),
  );
  if (!atLeast(request, 36)) out.push(...NETWORK_ERA);
  return out.sort();
}

function quotaView(
  request: FastifyRequest,
  id: string | undefined,
  value: (resource: string) => unknown,
  forClass = false,
): Record<string, unknown> {
  const out: Record<string, unknown> = id === undefined ? {} : { id };
  for (const r of shownResources(request, forClass)) out[r] = value(r);
  return out;
}

function limitOf(limits: QuotaLimits, resource: string): number {
  return isQuotaResource(resource) ? limits[resource] : -1;
}

/** The limits of an update body. @throws BadRequestError (400) naming a bad key or value. */
function changesOf(
  request: FastifyRequest,
  body: Record<string, unknown>,
  key: string,
): { changes: Partial<QuotaLimits>; force: boolean } {
  const settable = new Set<string>(shownResources(request));
  const changes: Partial<QuotaLimits> = {};
  let force = false;
  for (const [name, raw] of Object.entries(body)) {
    if (name === 'force' && key === 'quota_set') {
      if (typeof raw === 'boolean') force = raw;
      else if (typeof raw === 'string' && /^(true|false)$/i.test(raw))
        force = raw.toLowerCase() === 'true';
      else throw invalidField('force', raw, `${repr(raw)} is not of type 'boolean'`);
      continue;
    }
    if (!settable.has(name))
      throw new BadRequestError(
        `Invalid input for field/attribute ${key}. Value: ${JSON.stringify(body)}. Additional properties are not allowed ('${name}' was unexpected)`,
        'compute.bad_request',
      );
    const n = typeof raw === 'string' && /^-?[0-9]+$/.test(raw) ? Number(raw) : raw;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < -1 || n > 0x7fffffff)
      throw invalidField(name, raw, `${repr(raw)} is not an integer from -1 to 2147483647`);
    // The network-era resources are accepted and ignored, as Nova with Neutron does.
    if (isQuotaResource(name)) changes[name] = n;
  }
  return { changes, force };
}

export function quotaRoutes(app: App, deps: ApiDeps): void {
  const { quotas } = deps;
  type Params = { id: string };

  app.get<{ Params: Params }>('/os-quota-sets/:id', async (request) => {
    authorize(request, deps, 'os_compute_api:os-quota-sets:show', {
      project_id: request.params.id,
    });
    const limits = await quotas.limitsOf(request.params.id);
    return {
      quota_set: quotaView(request, request.params.id, (r) => limitOf(limits, r)),
    };
  });

  app.get<{ Params: Params }>('/os-quota-sets/:id/detail', async (request) => {
    authorize(request, deps, 'os_compute_api:os-quota-sets:detail', {
      project_id: request.params.id,
    });
    const [limits, used] = await Promise.all([
      quotas.limitsOf(request.params.id),
      quotas.usageOf(request.params.id),
    ]);
    return {
      quota_set: quotaView(request, request.params.id, (r) => ({
        in_use: isQuotaResource(r) ? used[r] : 0,
        limit: limitOf(limits, r),
        reserved: 0,
      })),
    };
  });

  app.get<{ Params: Params }>('/os-quota-sets/:id/defaults', async (request) => {
    authorize(request, deps, 'os_compute_api:os-quota-sets:defaults', {
      project_id: request.params.id,
    });
    const limits = await quotas.classLimits(DEFAULT_CLASS);
    return {
      quota_set: quotaView(request, request.params.id, (r) => limitOf(limits, r)),
    };
  });

  app.put<{ Params: Params }>('/os-quota-sets/:id', async (request) => {
    authorize(request, deps, 'os_compute_api:os-quota-sets:update', {
      project_id: request.params.id,
    });
    if (last(request.query as Query, 'user_id') !== undefined)
      throw new BadRequestError(
        'Per-user quotas are not supported here; set the project quota.',
        'compute.bad_request',
      );
    const { changes, force } = changesOf(request, unwrap(request.body, 'quota_set'), 'quota_set');
    const limits = await quotas.setProject(request.params.id, changes, force);
    return { quota_set: quotaView(request, undefined, (r) => limitOf(limits, r)) };
  });

  app.delete<{ Params: Params }>('/os-quota-sets/:id', async (request, reply) => {
    authorize(request, deps, 'os_compute_api:os-quota-sets:delete', {
      project_id: request.params.id,
    });
    await quotas.deleteProject(request.params.id);
    reply.code(202);
    return reply.send();
  });

  app.get<{ Params: Params }>('/os-quota-class-sets/:id', async (request) => {
    authorize(request, deps, 'os_compute_api:os-quota-class-sets:show', {
      quota_class: request.params.id,
    });
    const limits = await quotas.classLimits(request.params.id);
    return {
      quota_class_set: quotaView(request, request.params.id, (r) => limitOf(limits, r), true),
    };
  });

  app.put<{ Params: Params }>('/os-quota-class-sets/:id', async (request) => {
    authorize(request, deps, 'os_compute_api:os-quota-class-sets:update', {
      quota_class: request.params.id,
    });
    const { changes } = changesOf(
      request,
      unwrap(request.body, 'quota_class_set'),
      'quota_class_set',
    );
    const limits = await quotas.setClass(request.params.id, changes);
    return {
      quota_class_set: quotaView(request, undefined, (r) => limitOf(limits, r), true),
    };
  });

  app.get('/limits', async (request) => {
    const own = request.auth.projectId ?? '';
    authorize(request, deps, 'os_compute_api:limits', { project_id: own });
    const asked = last(request.query as Query, 'tenant_id');
    let projectId = own;
    if (asked !== undefined && asked !== own) {
      authorize(request, deps, 'os_compute_api:limits:other_project', { project_id: asked });
      projectId = asked;
    }
    const [limits, used] = await Promise.all([
      quotas.limitsOf(projectId),
      quotas.usageOf(projectId),
    ]);
    const absolute: Record<string, number> = {
      maxServerMeta: limits.metadata_items,
      maxTotalCores: limits.cores,
      maxTotalInstances: limits.instances,
      maxTotalKeypairs: limits.key_pairs,
      maxTotalRAMSize: limits.ram,
      maxServerGroups: limits.server_groups,
      maxServerGroupMembers: limits.server_group_members,
      totalCoresUsed: used.cores,
      totalInstancesUsed: used.instances,
      totalRAMUsed: used.ram,
      totalServerGroupsUsed: used.server_groups,
    };
    if (!atLeast(request, 36))
      Object.assign(absolute, {
        maxSecurityGroupRules: -1,
        maxSecurityGroups: -1,
        maxTotalFloatingIps: -1,
        totalSecurityGroupsUsed: 0,
        totalFloatingIpsUsed: 0,
      });
    if (!atLeast(request, 39)) absolute['maxImageMeta'] = limits.metadata_items;
    if (!atLeast(request, 57))
      Object.assign(absolute, {
        maxPersonality: limits.injected_files,
        maxPersonalitySize: limits.injected_file_content_bytes,
      });
    return { limits: { absolute, rate: [] } };
  });
}
