/**
 * `/os-availability-zone`: the zones a user may boot into (the default zone of hosts in no
 * zone aggregate, and each aggregate's zone that has compute hosts), and for admins their
 * hosts and services.
 */
import type { App } from '../../common/http/app.ts';
import { computeZones, INTERNAL_ZONE, isAvailable } from '../aggregates.ts';
import { authorize, type ApiDeps } from './context.ts';
import { isoMicros } from './servers.view.ts';

const zones = (deps: ApiDeps) =>
  computeZones(deps.hosts, deps.aggregates, deps.defaultAvailabilityZone);

export function availabilityZoneRoutes(app: App, deps: ApiDeps): void {
  app.get('/os-availability-zone', async (request) => {
    authorize(request, deps, 'os_compute_api:os-availability-zone:list', {
      project_id: request.auth.projectId ?? '',
    });
    return {
      availabilityZoneInfo: (await zones(deps)).map((z) => ({
        zoneName: z.name,
        zoneState: { available: isAvailable(z) },
        hosts: null,
      })),
    };
  });

  app.get('/os-availability-zone/detail', async (request) => {
    authorize(request, deps, 'os_compute_api:os-availability-zone:detail', {
      project_id: request.auth.projectId ?? '',
    });
    const found = await zones(deps);
    const info = found.map((z) => ({
      zoneName: z.name,
      zoneState: { available: isAvailable(z) },
      hosts: Object.fromEntries(
        z.services.map((s) => [
          s.host,
          {
            [s.binary]: {
              available: deps.hosts.isUp(s),
              active: s.disabled === 0,
              updated_at: isoMicros(s.last_seen_up),
            },
          },
        ]),
      ),
    }));
    // The services that are not compute live in the internal zone; this process runs them.
    return {
      availabilityZoneInfo: [
        { zoneName: INTERNAL_ZONE, zoneState: { available: true }, hosts: {} },
        ...info,
      ],
    };
  });
}
