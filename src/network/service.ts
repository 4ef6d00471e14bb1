/** Network (Neutron v2.0): version discovery, extensions, and the core resource API. */
import type { Kysely } from 'kysely';
import { createApp, type App } from '../common/http/app.ts';
import { baseUrlOf } from '../common/http/version-discovery.ts';
import { PolicyEnforcer } from '../common/policy/enforcer.ts';
import type { Service, ServiceContext } from '../common/service.ts';
import type { ApiDeps } from './api/context.ts';
import { extensionRoutes } from './api/extensions.ts';
import { floatingIpRoutes } from './api/floating-ips.ts';
import { ipAvailabilityRoutes } from './api/ip-availability.ts';
import { networkRoutes } from './api/networks.ts';
import { portForwardingRoutes } from './api/port-forwardings.ts';
import { portRoutes } from './api/ports.ts';
import { quotaRoutes } from './api/quotas.ts';
import { rbacRoutes } from './api/rbac.ts';
import { routerRoutes } from './api/routers.ts';
import { securityGroupRoutes } from './api/security-groups.ts';
import { subnetPoolRoutes } from './api/subnet-pools.ts';
import { subnetRoutes } from './api/subnets.ts';
import { tagRoutes } from './api/tags.ts';
import type { NetworkConfig } from './config.ts';
import type { NetworkDatabase } from './db/schema.ts';
import { FloatingIps } from './floating-ips.ts';
import { IpAvailability } from './ip-availability.ts';
import { Networks } from './networks.ts';
import { NETWORK_POLICY } from './policy.ts';
import { PortForwardings } from './port-forwardings.ts';
import { Ports } from './ports.ts';
import { Quotas } from './quotas.ts';
import { RbacPolicies } from './rbac.ts';
import { RouterInterfaces } from './router-interfaces.ts';
import { Routers } from './routers.ts';
import { SecurityGroups } from './security-groups.ts';
import { SubnetPools } from './subnet-pools.ts';
import { Subnets } from './subnets.ts';
import { Tags } from './tags.ts';

export { NETWORK_MIGRATIONS } from './db/migrations.ts';
export { NetworkConfigSchema, type NetworkConfig } from './config.ts';

/** The collections the `/v2.0/` index lists. */
const RESOURCES = [
  ['network', 'networks'],
  ['subnet', 'subnets'],
  ['subnetpool', 'subnetpools'],
  ['port', 'ports'],
  ['security_group', 'security-groups'],
  ['security_group_rule', 'security-group-rules'],
  ['router', 'routers'],
  ['floatingip', 'floatingips'],
  ['quota', 'quotas'],
  ['rbac_policy', 'rbac-policies'],
  ['network_ip_availability', 'network-ip-availabilities'],
] as const;

export type NetworkServiceOptions = { now?: () => Date };

export function createNetworkService(
  ctx: ServiceContext,
  config: NetworkConfig,
  options: NetworkServiceOptions = {},
): Service {
  const db = ctx.database.db as Kysely<NetworkDatabase>;
  const now = options.now ?? (() => new Date());
  const networks = new Networks(db, config, now);
  const subnets = new Subnets(db, config, now);
  const groups = new SecurityGroups(db, now);
  const ports = new Ports(db, config, subnets, groups, now);
  const routers = new Routers(db, networks, subnets, ports, now);
  const routerInterfaces = new RouterInterfaces(db, { routers, networks, subnets, ports });
  const floatingIps = new FloatingIps(db, { networks, subnets, ports, routers }, now);
  const portForwardings = new PortForwardings(db, { floatingIps, ports, routers }, now);
  const rbac = new RbacPolicies(db, now);
  const subnetPools = new SubnetPools(db, now);
  const quotas = new Quotas(db, config, {
    network: (p) => networks.count(p),
    subnet: (p) => subnets.count(p),
    port: (p) => ports.count(p),
    security_group: async (p) => (await groups.count(p)).groups,
    security_group_rule: async (p) => (await groups.count(p)).rules,
    router: (p) => routers.count(p),
    floatingip: (p) => floatingIps.count(p),
    rbac_policy: (p) => rbac.count(p),
    subnetpool: (p) => subnetPools.count(p),
  });
  const deps: ApiDeps = {
    networks,
    subnets,
    ports,
    groups,
    routers,
    routerInterfaces,
    floatingIps,
    portForwardings,
    rbac,
    subnetPools,
    quotas,
    policy: new PolicyEnforcer(NETWORK_POLICY, { enforceScope: false }),
    config,
    notify: (event, payload) => {
      ctx.bus
        .notify({
          publisherId: 'network.api',
          eventType: event,
          priority: 'info',
          payload: JSON.parse(JSON.stringify(payload)) as Record<string, never>,
        })
        .catch((err: unknown) => ctx.logger.warn({ err, event }, 'network notification not sent'));
    },
  };
  const app = createApp({
    service: 'network',
    errorStyle: 'neutron',
    logger: ctx.logger,
    bodyLimit: ctx.config.http.body_limit,
  });
  app.get('/', async (request) => ({
    versions: [
      {
        id: 'v2.0',
        status: 'CURRENT',
        links: [{ href: `${baseUrlOf(request)}/v2.0/`, rel: 'self' }],
      },
    ],
  }));
  void app.register(async (scope) => {
    const v2 = scope as unknown as App;
    ctx.auth.protect(scope);
    v2.get('/v2.0/', async (request) => ({
      resources: RESOURCES.map(([name, collection]) => ({
        name,
        collection,
        links: [{ rel: 'self', href: `${baseUrlOf(request)}/v2.0/${collection}` }],
      })),
    }));
    extensionRoutes(v2);
    networkRoutes(v2, deps);
    subnetRoutes(v2, deps);
    subnetPoolRoutes(v2, deps);
    portRoutes(v2, deps);
    securityGroupRoutes(v2, deps);
    routerRoutes(v2, deps);
    floatingIpRoutes(v2, deps);
    portForwardingRoutes(v2, deps);
    quotaRoutes(v2, deps);
    rbacRoutes(v2, deps);
    tagRoutes(v2, deps, new Tags(db, now));
    ipAvailabilityRoutes(v2, deps, new IpAvailability(db, networks, subnets));
  });
  return { name: 'network', app, close: async () => undefined };
}
