/**
 * Usage per project over a period (`os-simple-tenant-usage`): every instance that ran during the
 * period, deleted or not, with the hours it ran in it, as Nova counts them (from `launched_at`
 * to `terminated_at`, clipped to the period).
 */
import { BadRequestError } from '../common/errors.ts';
import { instanceOf, type FlavorSnapshot } from './instance-model.ts';
import type { Db } from './instances.ts';

export type ServerUsage = {
  instanceId: string;
  name: string;
  projectId: string;
  flavor: string;
  hours: number;
  memoryMb: number;
  localGb: number;
  vcpus: number;
  startedAt: string | null;
  endedAt: string | null;
  state: string;
  uptime: number;
};

export type ProjectUsage = {
  projectId: string;
  totalHours: number;
  totalLocalGbUsage: number;
  totalVcpusUsage: number;
  totalMemoryMbUsage: number;
  servers: ServerUsage[];
};

function hoursIn(
  launched: string | null,
  terminated: string | null,
  start: Date,
  stop: Date,
): number {
  if (launched === null) return 0;
  const from = new Date(launched);
  const to = terminated === null ? null : new Date(terminated);
  if (to !== null && to < start) return 0;
  if (from > stop) return 0;
  const a = Math.max(from.getTime(), start.getTime());
  const b = Math.min(stop.getTime(), to?.getTime() ?? stop.getTime());
  return (b - a) / 3_600_000;
}

/**
 * The usage of each project (or of `projectId`) in [start, stop), projects in the order their
 * first instance was made; `limit`/`marker` page over instances as Nova pages from 2.40.
 * @throws BadRequestError (400) when the marker is not an instance of the window.
 */
export async function usageOf(
  db: Db,
  window: { start: Date; stop: Date; now: Date },
  options: { projectId?: string; limit?: number; marker?: string } = {},
): Promise<{ projects: ProjectUsage[]; servers: ServerUsage[] }> {
  const { start, stop, now } = window;
  let q = db
    .selectFrom('instances')
    .selectAll()
    .where((eb) =>
      eb.or([eb('terminated_at', 'is', null), eb('terminated_at', '>', start.toISOString())]),
    )
    .where((eb) =>
      eb.or([eb('launched_at', 'is', null), eb('launched_at', '<', stop.toISOString())]),
    )
    .orderBy('created_at')
    .orderBy('uuid');
  if (options.projectId !== undefined) q = q.where('project_id', '=', options.projectId);
  if (options.marker !== undefined) {
    const marker = await db
      .selectFrom('instances')
      .select(['created_at', 'uuid'])
      .where('uuid', '=', options.marker)
      .executeTakeFirst();
    if (marker === undefined)
      throw new BadRequestError(
        `Marker ${options.marker} could not be found.`,
        'compute.marker_not_found',
      );
    q = q.where((eb) =>
      eb.or([
        eb('created_at', '>', marker.created_at),
        eb.and([eb('created_at', '=', marker.created_at), eb('uuid', '>', marker.uuid)]),
      ]),
    );
  }
  if (options.limit !== undefined) q = q.limit(options.limit);
  const rows = await q.execute();
  const projects = new Map<string, ProjectUsage>();
  const servers: ServerUsage[] = [];
  for (const row of rows) {
    const flavor: FlavorSnapshot = instanceOf(row).flavor;
    const hours = hoursIn(row.launched_at, row.terminated_at, start, stop);
    const ended = row.terminated_at;
    const started = row.launched_at;
    const until = ended !== null ? new Date(ended) : now;
    const usage: ServerUsage = {
      instanceId: row.uuid,
      name: row.display_name,
      projectId: row.project_id,
      flavor: flavor.name,
      hours,
      memoryMb: flavor.memory_mb,
      localGb: flavor.root_gb + flavor.ephemeral_gb,
      vcpus: flavor.vcpus,
      startedAt: started,
      endedAt: ended,
      state: ended !== null ? 'terminated' : row.vm_state,
      uptime:
        started === null ? 0 : Math.floor((until.getTime() - new Date(started).getTime()) / 1000),
    };
    servers.push(usage);
    const project = projects.get(row.project_id) ?? {
      projectId: row.project_id,
      totalHours: 0,
      totalLocalGbUsage: 0,
      totalVcpusUsage: 0,
      totalMemoryMbUsage: 0,
      servers: [],
    };
    project.totalHours += hours;
    project.totalLocalGbUsage += usage.localGb * hours;
    project.totalVcpusUsage += usage.vcpus * hours;
    project.totalMemoryMbUsage += usage.memoryMb * hours;
    project.servers.push(usage);
    projects.set(row.project_id, project);
  }
  return { projects: [...projects.values()], servers };
}
