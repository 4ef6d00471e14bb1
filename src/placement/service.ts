/** Placement. For now: version discovery and microversion negotiation only. */
import { createApp } from '../common/http/app.ts';
import { useMicroversions } from '../common/http/microversion.ts';
import type { Service, ServiceContext } from '../common/service.ts';

export const PLACEMENT_MIN_VERSION = '1.0';
export const PLACEMENT_MAX_VERSION = '1.39';

export function createPlacementService(ctx: ServiceContext): Service {
  const app = createApp({
    service: 'placement',
    errorStyle: 'placement',
    logger: ctx.logger,
    requestIdAlias: 'openstack-request-id',
    bodyLimit: ctx.config.http.body_limit,
  });
  void app.register(async (scope) => {
    useMicroversions(scope, {
      serviceType: 'placement',
      min: PLACEMENT_MIN_VERSION,
      max: PLACEMENT_MAX_VERSION,
    });
    // Placement's root is the version document itself, with an empty self link as upstream has.
    scope.get('/', async () => ({
      versions: [
        {
          id: 'v1.0',
          max_version: PLACEMENT_MAX_VERSION,
          min_version: PLACEMENT_MIN_VERSION,
          status: 'CURRENT',
          links: [{ rel: 'self', href: '' }],
        },
      ],
    }));
  });
  return { name: 'placement', app, close: async () => undefined };
}
