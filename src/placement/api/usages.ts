/** `GET /resource_providers/{uuid}/usages` and `GET /usages` (1.9+; by consumer type 1.38+). */
import type { App } from '../../common/http/app.ts';
import { badRequest } from '../errors.ts';
import { atLeast, authorize, single, type ApiDeps } from './context.ts';
import { onlyKnown } from './query.ts';
import { providerOf, UuidParams } from './resource-providers.ts';

type Query = Record<string, string | string[] | undefined>;

export function usageRoutes(app: App, deps: ApiDeps): void {
  app.get(
    '/resource_providers/:uuid/usages',
    { schema: { params: UuidParams } },
    async (request) => {
      authorize(request, deps, 'resource_providers:usages');
      const snap = await deps.state.current();
      const rp = providerOf(snap, request.params.uuid);
      const usages: Record<string, number> = {};
      for (const [rcId, inv] of [...rp.inventories].sort((a, b) => a[0] - b[0]))
        usages[snap.classNames.get(rcId) ?? String(rcId)] = inv.used;
      return { resource_provider_generation: rp.generation, usages };
    },
  );

  app.get('/usages', { config: { microversion: { min: '1.9' } } }, async (request) => {
    authorize(request, deps, 'usages');
    const query = request.query as Query;
    const byType = atLeast(request, 38);
    onlyKnown(
      query,
      (k) => k === 'project_id' || k === 'user_id' || (byType && k === 'consumer_type'),
    );
    const projectId = single(query, 'project_id');
    if (projectId === undefined || projectId === '')
      throw badRequest("Invalid query string parameters: 'project_id' is a required property");
    const userId = single(query, 'user_id');
    const consumerType = byType ? single(query, 'consumer_type') : undefined;
    const found = await deps.allocations.usages({
      projectId,
      ...(userId !== undefined ? { userId } : {}),
      ...(consumerType !== undefined && consumerType !== 'all' ? { consumerType } : {}),
    });
    if (!byType || consumerType === 'all') {
      const total: Record<string, number> = {};
      let consumers = 0;
      for (const entry of found.values()) {
        consumers += entry.consumers;
        for (const [rc, n] of Object.entries(entry.resources)) total[rc] = (total[rc] ?? 0) + n;
      }
      if (!byType) return { usages: total };
      return { usages: { all: { consumer_count: consumers, ...total } } };
    }
    const usages: Record<string, unknown> = {};
    for (const [type, entry] of found)
      usages[type] = { consumer_count: entry.consumers, ...entry.resources };
    return { usages };
  });
}
