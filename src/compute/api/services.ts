/**
 * `/os-services` and `/os-hypervisors`: the compute services with their state (up while their
 * heartbeat is fresh), enabling and disabling them (by host and binary before 2.53, by id from
 * 2.53), forcing them down (2.11), and the hypervisors with what they offer and use.
 */
import type { FastifyRequest } from 'fastify';
import type { App } from '../../common/http/app.ts';
import { BadRequestError, ConflictError, NotFoundError } from '../../common/errors.ts';
import { hostUptime } from '../host-rpc.ts';
import type { NodeRecord, ServiceRecord } from '../hosts.ts';
import {
  atLeast,
  authorize,
  invalidField,
  last,
  type ApiDeps,
  type Body,
  type Query,
} from './context.ts';
import { isoMicros } from './servers.view.ts';

function serviceView(request: FastifyRequest, deps: ApiDeps, s: ServiceRecord, zone: string) {
  return {
    id: atLeast(request, 53) ? s.uuid : s.id,
    binary: s.binary,
    host: s.host,
    zone: s.binary === 'nova-compute' ? zone : 'internal',
    status: s.disabled === 1 ? 'disabled' : 'enabled',
    state: deps.hosts.isUp(s) ? 'up' : 'down',
    updated_at: isoMicros(s.last_seen_up),
    disabled_reason: s.disabled_reason,
    ...(atLeast(request, 11) ? { forced_down: s.forced_down === 1 } : {}),
  };
}

function body(request: FastifyRequest): Body {
  const b = request.body;
  if (typeof b !== 'object' || b === null || Array.isArray(b))
    throw new BadRequestError('Malformed request body', 'compute.bad_request');
  return b as Body;
}

function text(b: Body, key: string): string {
  const v = b[key];
  if (typeof v !== 'string' || v === '')
    throw invalidField(key, v, `${JSON.stringify(v ?? null)} is not of type 'string'`);
  return v;
}

export function serviceRoutes(app: App, deps: ApiDeps): void {
  const { hosts } = deps;
  const zone = deps.defaultAvailabilityZone;
  const admin = (request: FastifyRequest, rule: string) =>
    authorize(request, deps, rule, { project_id: request.auth.projectId ?? '' });

  app.get('/os-services', async (request) => {
    admin(request, 'os_compute_api:os-services:list');
    const query = request.query as Query;
    const host = last(query, 'host');
    const binary = last(query, 'binary');
    const [all, zones] = await Promise.all([hosts.services(), deps.aggregates.zonesByHost()]);
    return {
      services: all
        .filter(
          (s) =>
            (host === undefined || s.host === host) &&
            (binary === undefined || s.binary === binary),
        )
        .map((s) => serviceView(request, deps, s, zones.get(s.host) ?? zone)),
    };
  });

  /** Before 2.53: PUT /os-services/{enable,disable,disable-log-reason,force-down}. */
  app.put<{ Params: { action: string } }>('/os-services/:action', async (request) => {
    admin(request, 'os_compute_api:os-services:update');
    const action = request.params.action;
    if (atLeast(request, 53)) return updateById(request, deps, action, zone);
    const b = body(request);
    const host = text(b, 'host');
    const binary = text(b, 'binary');
    const service = (await hosts.services()).find((s) => s.host === host && s.binary === binary);
    if (service === undefined)
      throw new NotFoundError(
        `Service ${binary} on host ${host} could not be found.`,
        'compute.service_not_found',
      );
    switch (action) {
      case 'enable':
        await hosts.setDisabled(service.id, false, null);
        return { service: { host, binary, status: 'enabled' } };
      case 'disable':
        await hosts.setDisabled(service.id, true, null);
        return { service: { host, binary, status: 'disabled' } };
      case 'disable-log-reason': {
        const reason = text(b, 'disabled_reason');
        if (reason.length > 255) throw invalidField('disabled_reason', reason, 'is too long');
        await hosts.setDisabled(service.id, true, reason);
        return { service: { host, binary, status: 'disabled', disabled_reason: reason } };
      }
      case 'force-down': {
        if (!atLeast(request, 11)) break;
        const down = b['forced_down'];
        if (typeof down !== 'boolean')
          throw invalidField('forced_down', down, 'is not of type boolean');
        await hosts.setForcedDown(service.id, down);
        return { service: { host, binary, forced_down: down } };
      }
    }
    throw new NotFoundError('The resource could not be found.', 'compute.not_found');
  });

  app.delete<{ Params: { action: string } }>('/os-services/:action', async (request, reply) => {
    admin(request, 'os_compute_api:os-services:delete');
    const service = await findService(request, deps, request.params.action);
    if (service.binary === 'nova-compute') {
      const busy = await deps.instances.onHost(service.host);
      if (busy.length > 0)
        throw new ConflictError(
          `Unable to delete compute service that is hosting instances. Migrate or delete the instances first.`,
          'compute.service_in_use',
        );
    }
    await hosts.deleteService(service.id);
    reply.code(204);
    return reply.send();
  });

  app.get('/os-hypervisors', async (request) => {
    admin(request, 'os_compute_api:os-hypervisors:list');
    return { hypervisors: (await hypervisors(request, deps)).map((h) => h.summary) };
  });

  app.get('/os-hypervisors/detail', async (request) => {
    admin(request, 'os_compute_api:os-hypervisors:list-detail');
    return { hypervisors: (await hypervisors(request, deps)).map((h) => h.detail) };
  });

  app.get('/os-hypervisors/statistics', async (request) => {
    admin(request, 'os_compute_api:os-hypervisors:statistics');
    const all = await hypervisors(request, deps);
    const sum = (key: string) => all.reduce((n, h) => n + Number(h.detail[key] ?? 0), 0);
    return {
      hypervisor_statistics: Object.fromEntries(
        [
          'count',
          'vcpus',
          'memory_mb',
          'local_gb',
          'vcpus_used',
          'memory_mb_used',
          'local_gb_used',
          'free_ram_mb',
          'free_disk_gb',
          'current_workload',
          'running_vms',
          'disk_available_least',
        ].map((k) => [k, k === 'count' ? all.length : sum(k)]),
      ),
    };
  });

  app.get<{ Params: { id: string } }>('/os-hypervisors/:id', async (request) => {
    admin(request, 'os_compute_api:os-hypervisors:show');
    const found = (await hypervisors(request, deps)).find(
      (h) => String(h.summary['id']) === request.params.id,
    );
    if (found === undefined)
      throw new NotFoundError(
        `Hypervisor with ID ${request.params.id} could not be found.`,
        'compute.hypervisor_not_found',
      );
    return { hypervisor: found.detail };
  });

  /** Before 2.88: the host's uptime, asked of its agent. */
  app.get<{ Params: { id: string } }>('/os-hypervisors/:id/uptime', async (request) => {
    admin(request, 'os_compute_api:os-hypervisors:uptime');
    const found = (await hypervisors(request, deps)).find(
      (h) => String(h.summary['id']) === request.params.id,
    );
    if (found === undefined || atLeast(request, 88))
      throw new NotFoundError(
        `Hypervisor with ID ${request.params.id} could not be found.`,
        'compute.hypervisor_not_found',
      );
    return {
      hypervisor: { ...found.summary, uptime: await hostUptime(deps.bus, found.node.host) },
    };
  });

  for (const kind of ['search', 'servers'] as const)
    app.get<{ Params: { name: string } }>(`/os-hypervisors/:name/${kind}`, async (request) => {
      admin(request, `os_compute_api:os-hypervisors:${kind}`);
      const matching = (await hypervisors(request, deps)).filter((h) =>
        String(h.summary['hypervisor_hostname']).includes(request.params.name),
      );
      if (matching.length === 0)
        throw new NotFoundError(
          `No hypervisor matching '${request.params.name}' could be found.`,
          'compute.hypervisor_not_found',
        );
      if (kind === 'search') return { hypervisors: matching.map((h) => h.summary) };
      const out = [];
      for (const h of matching) {
        const on = await deps.instances.onHost(h.node.host);
        out.push({
          ...h.summary,
          ...(on.length > 0
            ? {
                servers: on.map((i) => ({
                  uuid: i.row.uuid,
                  name: `instance-${i.row.uuid.slice(0, 8)}`,
                })),
              }
            : {}),
        });
      }
      return { hypervisors: out };
    });
}

async function findService(
  request: FastifyRequest,
  deps: ApiDeps,
  id: string,
): Promise<ServiceRecord> {
  const found = (await deps.hosts.services()).find((s) =>
    atLeast(request, 53) ? s.uuid === id : String(s.id) === id,
  );
  if (found === undefined)
    throw new NotFoundError(`Service ${id} could not be found.`, 'compute.service_not_found');
  return found;
}

/** 2.53: PUT /os-services/{id} with `status`, `disabled_reason` and `forced_down`. */
async function updateById(request: FastifyRequest, deps: ApiDeps, id: string, zone: string) {
  const service = await findService(request, deps, id);
  const b = body(request);
  const status = b['status'];
  if (status !== undefined && status !== 'enabled' && status !== 'disabled')
    throw invalidField(
      'status',
      status,
      `${JSON.stringify(status)} is not one of ['enabled', 'disabled']`,
    );
  const reason = b['disabled_reason'];
  if (reason !== undefined && status !== 'disabled')
    throw new BadRequestError(
      'Specifying a disabled reason is not supported unless disabling a service.',
      'compute.bad_request',
    );
  if (status !== undefined)
    await deps.hosts.setDisabled(
      service.id,
      status === 'disabled',
      typeof reason === 'string' ? reason : null,
    );
  const down = b['forced_down'];
  if (down !== undefined) {
    if (typeof down !== 'boolean')
      throw invalidField('forced_down', down, 'is not of type boolean');
    await deps.hosts.setForcedDown(service.id, down);
  }
  const updated = await findService(request, deps, id);
  const zones = await deps.aggregates.zonesByHost();
  return { service: serviceView(request, deps, updated, zones.get(updated.host) ?? zone) };
}

type Hypervisor = {
  node: NodeRecord;
  summary: Record<string, unknown>;
  detail: Record<string, unknown>;
};

async function hypervisors(request: FastifyRequest, deps: ApiDeps): Promise<Hypervisor[]> {
  const [nodes, services, usage] = await Promise.all([
    deps.hosts.nodes(),
    deps.hosts.services('nova-compute'),
    deps.hosts.usageByHost(),
  ]);
  const byHost = new Map(services.map((s) => [s.host, s]));
  const uuids = atLeast(request, 53);
  return nodes.map((node) => {
    const service = byHost.get(node.host);
    const used = usage.get(node.host) ?? { vms: 0, vcpus: 0, memoryMb: 0, diskGb: 0 };
    const summary = {
      id: uuids ? node.uuid : node.id,
      hypervisor_hostname: node.hypervisor_hostname,
      state: service !== undefined && deps.hosts.isUp(service) ? 'up' : 'down',
      status: service?.disabled === 1 ? 'disabled' : 'enabled',
    };
    const memoryUsed = used.memoryMb + 512;
    const detail: Record<string, unknown> = {
      ...summary,
      hypervisor_type: node.hypervisor_type,
      hypervisor_version: node.hypervisor_version,
      host_ip: node.host_ip,
      service: {
        host: node.host,
        id: uuids ? service?.uuid : service?.id,
        disabled_reason: service?.disabled_reason ?? null,
      },
    };
    if (!atLeast(request, 88))
      Object.assign(detail, {
        vcpus: node.vcpus,
        memory_mb: node.memory_mb,
        local_gb: node.local_gb,
        vcpus_used: used.vcpus,
        memory_mb_used: memoryUsed,
        local_gb_used: used.diskGb,
        free_ram_mb: node.memory_mb - memoryUsed,
        free_disk_gb: node.local_gb - used.diskGb,
        current_workload: 0,
        running_vms: used.vms,
        disk_available_least: node.local_gb - used.diskGb,
        // A JSON string until 2.28, an object from then on.
        cpu_info: atLeast(request, 28) ? parseCpuInfo(node.cpu_info) : node.cpu_info,
      });
    else detail['uptime'] = null;
    return { node, summary, detail };
  });
}

function parseCpuInfo(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return {};
  }
}
