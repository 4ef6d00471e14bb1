/** `/v2.0/network-ip-availabilities`: how full each network and subnet is (admins). */
import type { App } from '../../common/http/app.ts';
import { invalidInput } from '../errors.ts';
import type { AvailabilityFilter, IpAvailability } from '../ip-availability.ts';
import { parseListQuery, pick } from '../listing.ts';
import { authorize, type ApiDeps } from './context.ts';
import { IdParams } from './networks.ts';
import { showAnswer } from './lists.ts';

const FILTERS = {
  attrs: {
    network_id: { column: 'network_id', kind: 'string' },
    network_name: { column: 'network_name', kind: 'string' },
    project_id: { column: 'project_id', kind: 'string' },
    tenant_id: { column: 'project_id', kind: 'string' },
    ip_version: { column: 'ip_version', kind: 'int' },
  },
} as const;

export function ipAvailabilityRoutes(app: App, deps: ApiDeps, availability: IpAvailability): void {
  app.get('/v2.0/network-ip-availabilities', async (request) => {
    authorize(request, deps, 'get_network_ip_availability', {});
    const list = parseListQuery(request.query as Record<string, unknown>, FILTERS);
    const filter: AvailabilityFilter = {};
    const strings = (column: string): string[] => (list.filters.get(column) ?? []).map(String);
    if (strings('network_id').length > 0) filter.networkIds = strings('network_id');
    if (strings('network_name').length > 0) filter.networkNames = strings('network_name');
    if (strings('project_id').length > 0) filter.projectIds = strings('project_id');
    const version = list.filters.get('ip_version')?.[0];
    if (version !== undefined) {
      if (version !== 4 && version !== 6)
        throw invalidInput(`${String(version)} is not a valid IP version`);
      filter.ipVersion = version;
    }
    const found = await availability.list(filter);
    return { network_ip_availabilities: found.map((a) => pick(a, list.fields)) };
  });

  app.get(
    '/v2.0/network-ip-availabilities/:id',
    { schema: { params: IdParams } },
    async (request) => {
      authorize(request, deps, 'get_network_ip_availability', {});
      return showAnswer(
        request,
        'network_ip_availability',
        await availability.get(request.params.id),
      );
    },
  );
}
