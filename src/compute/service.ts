/** Compute (Nova v2.1). For now: version discovery and microversion negotiation only. */
import { createApp } from '../common/http/app.ts';
import { useMicroversions } from '../common/http/microversion.ts';
import { baseUrlOf, type VersionEntry } from '../common/http/version-discovery.ts';
import type { Service, ServiceContext } from '../common/service.ts';
import { COMPUTE_MAX_VERSION, COMPUTE_MIN_VERSION } from './api-versions.ts';

function versions(base: string): VersionEntry[] {
  return [
    {
      id: 'v2.0',
      status: 'SUPPORTED',
      version: '',
      min_version: '',
      updated: '2011-01-21T11:33:21Z',
      links: [{ rel: 'self', href: `${base}/v2/` }],
    },
    v21(base),
  ];
}

function v21(base: string): VersionEntry {
  return {
    id: 'v2.1',
    status: 'CURRENT',
    version: COMPUTE_MAX_VERSION,
    min_version: COMPUTE_MIN_VERSION,
    updated: '2013-07-23T11:33:21Z',
    links: [{ rel: 'self', href: `${base}/v2.1/` }],
  };
}

export function createComputeService(ctx: ServiceContext): Service {
  const app = createApp({
    service: 'compute',
    errorStyle: 'nova',
    logger: ctx.logger,
    requestIdAlias: 'x-compute-request-id',
    bodyLimit: ctx.config.http.body_limit,
  });
  app.get('/', async (request) => ({ versions: versions(baseUrlOf(request)) }));
  void app.register(
    async (v2) => {
      useMicroversions(v2, {
        serviceType: 'compute',
        min: COMPUTE_MIN_VERSION,
        max: COMPUTE_MAX_VERSION,
        legacyHeader: 'x-openstack-nova-api-version',
      });
      v2.get('/', async (request) => {
        const base = baseUrlOf(request);
        return {
          version: {
            ...v21(base),
            links: [
              { rel: 'self', href: `${base}/v2.1/` },
              { rel: 'describedby', type: 'text/html', href: 'http://docs.openstack.org/' },
            ],
            'media-types': [
              {
                base: 'application/json',
                type: 'application/vnd.openstack.compute+json;version=2.1',
              },
            ],
          },
        };
      });
    },
    { prefix: '/v2.1' },
  );
  return { name: 'compute', app, close: async () => undefined };
}
