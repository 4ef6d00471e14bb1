/**
 * `/os-migrations` (admin): every move of an instance between hosts, newest first, with Nova's
 * filters; 2.23 adds the migration type, 2.59 the uuid with paging and `changes-since`, 2.66
 * `changes-before`, 2.80 the owner's ids and their filters.
 */
import type { FastifyRequest } from 'fastify';
import type { App } from '../../common/http/app.ts';
import { listMigrations, type Migration, type MigrationFilters } from '../instance-moves.ts';
import {
  atLeast,
  authorize,
  last,
  pageOf,
  timeQuery,
  type ApiDeps,
  type Query,
} from './context.ts';
import { isoMicros } from './servers.view.ts';

function view(request: FastifyRequest, m: Migration): Record<string, unknown> {
  return {
    created_at: isoMicros(m.created_at),
    dest_compute: m.dest_compute,
    dest_host: m.dest_host,
    dest_node: m.dest_node,
    id: m.id,
    instance_uuid: m.instance_uuid,
    new_instance_type_id: m.new_flavor_id,
    old_instance_type_id: m.old_flavor_id,
    source_compute: m.source_compute,
    source_node: m.source_node,
    status: m.status,
    updated_at: isoMicros(m.updated_at),
    ...(atLeast(request, 23) ? { migration_type: m.migration_type } : {}),
    ...(atLeast(request, 59) ? { uuid: m.uuid } : {}),
    ...(atLeast(request, 80) ? { user_id: m.user_id, project_id: m.project_id } : {}),
  };
}

export function migrationRoutes(app: App, deps: ApiDeps): void {
  app.get('/os-migrations', async (request) => {
    authorize(request, deps, 'os_compute_api:os-migrations:index', {
      project_id: request.auth.projectId ?? '',
    });
    const query = request.query as Query;
    const filters: MigrationFilters = {};
    const put = <K extends keyof MigrationFilters>(key: K, v: MigrationFilters[K] | undefined) => {
      if (v !== undefined) filters[key] = v;
    };
    put('host', last(query, 'host'));
    put('status', last(query, 'status'));
    put('instanceUuid', last(query, 'instance_uuid'));
    put('migrationType', last(query, 'migration_type'));
    if (atLeast(request, 59)) {
      const page = pageOf(query);
      put('limit', page.limit);
      put('marker', page.marker);
      put('changesSince', timeQuery(query, 'changes-since'));
    }
    if (atLeast(request, 66)) put('changesBefore', timeQuery(query, 'changes-before'));
    if (atLeast(request, 80)) {
      put('projectId', last(query, 'project_id'));
      put('userId', last(query, 'user_id'));
    }
    const found = await listMigrations(deps.instances.db, filters);
    const out: Record<string, unknown> = { migrations: found.map((m) => view(request, m)) };
    const lastOne = found.at(-1);
    if (filters.limit !== undefined && lastOne !== undefined && found.length === filters.limit)
      out['migrations_links'] = [
        {
          rel: 'next',
          href: `/v2.1/os-migrations?limit=${filters.limit}&marker=${lastOne.uuid}`,
        },
      ];
    return out;
  });
}
