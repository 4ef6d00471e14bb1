/**
 * `/os-simple-tenant-usage`: what projects used over a period (`start`, `end`; by default the
 * last day up to now). Admins list every project; a member reads their own. 2.40 pages the
 * instances with `limit`/`marker`.
 */
import type { FastifyRequest } from 'fastify';
import type { App } from '../../common/http/app.ts';
import { BadRequestError } from '../../common/errors.ts';
import { usageOf, type ProjectUsage, type ServerUsage } from '../usage.ts';
import { atLeast, authorize, last, pageOf, type ApiDeps, type Query } from './context.ts';
import { isoMicros } from './servers.view.ts';

function parseTime(value: string | undefined, fallback: Date): Date {
  if (value === undefined || value === '') return fallback;
  if (!/^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?$/.test(value))
    throw new BadRequestError('Datetime is in invalid format', 'compute.bad_request');
  return new Date(`${value.replace(' ', 'T')}Z`);
}

function windowOf(request: FastifyRequest, now: Date) {
  const query = request.query as Query;
  const start = parseTime(last(query, 'start'), now);
  let stop = parseTime(last(query, 'end'), now);
  if (start > stop)
    throw new BadRequestError(
      'Invalid start time. The start time cannot occur after the end time.',
      'compute.bad_request',
    );
  if (stop > now) stop = now;
  return { start, stop, now, detailed: last(query, 'detailed') === '1' };
}

function serverView(s: ServerUsage): Record<string, unknown> {
  return {
    instance_id: s.instanceId,
    name: s.name,
    tenant_id: s.projectId,
    flavor: s.flavor,
    hours: s.hours,
    memory_mb: s.memoryMb,
    local_gb: s.localGb,
    vcpus: s.vcpus,
    started_at: isoMicros(s.startedAt),
    ended_at: isoMicros(s.endedAt),
    state: s.state,
    uptime: s.uptime,
  };
}

function projectView(
  p: ProjectUsage,
  window: { start: Date; stop: Date },
  detailed: boolean,
): Record<string, unknown> {
  return {
    tenant_id: p.projectId,
    total_local_gb_usage: p.totalLocalGbUsage,
    total_vcpus_usage: p.totalVcpusUsage,
    total_memory_mb_usage: p.totalMemoryMbUsage,
    total_hours: p.totalHours,
    start: isoMicros(window.start.toISOString()),
    stop: isoMicros(window.stop.toISOString()),
    ...(detailed ? { server_usages: p.servers.map(serverView) } : {}),
  };
}

export function tenantUsageRoutes(app: App, deps: ApiDeps): void {
  const db = deps.instances.db;

  app.get('/os-simple-tenant-usage', async (request) => {
    authorize(request, deps, 'os_compute_api:os-simple-tenant-usage:list', {
      project_id: request.auth.projectId ?? '',
    });
    const window = windowOf(request, deps.instances.now());
    const page = atLeast(request, 40) ? pageOf(request.query as Query) : {};
    const found = await usageOf(db, window, page);
    const out: Record<string, unknown> = {
      tenant_usages: found.projects.map((p) => projectView(p, window, window.detailed)),
    };
    const lastOne = found.servers.at(-1);
    if (page.limit !== undefined && lastOne !== undefined && found.servers.length === page.limit)
      out['tenant_usages_links'] = [
        {
          rel: 'next',
          href: `/v2.1/os-simple-tenant-usage?limit=${page.limit}&marker=${lastOne.instanceId}`,
        },
      ];
    return out;
  });

  app.get<{ Params: { id: string } }>('/os-simple-tenant-usage/:id', async (request) => {
    authorize(request, deps, 'os_compute_api:os-simple-tenant-usage:show', {
      project_id: request.params.id,
    });
    const window = windowOf(request, deps.instances.now());
    const page = atLeast(request, 40) ? pageOf(request.query as Query) : {};
    const found = await usageOf(db, window, { ...page, projectId: request.params.id });
    const project = found.projects[0];
    return { tenant_usage: project === undefined ? {} : projectView(project, window, true) };
  });
}
