/** Identity (Keystone v3): version discovery, the v3 API, bootstrap. */
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { createApp } from '../common/http/app.ts';
import { baseUrlOf, type VersionEntry } from '../common/http/version-discovery.ts';
import { PolicyEnforcer } from '../common/policy/enforcer.ts';
import type { Service, ServiceContext } from '../common/service.ts';
import { authRoutes } from './api/auth.ts';
import { callerOf } from './api/context.ts';
import { applicationCredentialRoutes } from './api/application-credentials.ts';
import { catalogRoutes } from './api/catalog.ts';
import { credentialRoutes } from './api/credentials.ts';
import { domainRoutes } from './api/domains.ts';
import { limitRoutes } from './api/limits.ts';
import { projectRoutes } from './api/projects.ts';
import { userRoutes } from './api/users.ts';
import { groupRoutes } from './api/groups.ts';
import { roleRoutes } from './api/roles.ts';
import { grantRoutes } from './api/grants.ts';
import { roleAssignmentRoutes } from './api/role-assignments.ts';
import { bootstrap, type BootstrapOptions, type BootstrapResult } from './bootstrap.ts';
import type { IdentityConfig } from './config.ts';
import type { IdentityDatabase } from './db/schema.ts';
import { createIdentity } from './identity.ts';
import { IDENTITY_POLICY } from './policy.ts';
import { FernetKeyRepository } from './token/key-repository.ts';

export { IDENTITY_MIGRATIONS } from './db/migrations.ts';
export { IdentityConfigSchema, type IdentityConfig } from './config.ts';
export type { CatalogRegistration, BootstrapResult } from './bootstrap.ts';

const PUBLIC_ROUTES = new Set([
  'GET /',
  'HEAD /',
  'GET /v3',
  'HEAD /v3',
  'POST /v3/auth/tokens',
  'POST /v3/users/:user_id/password',
]);

function v3(base: string): VersionEntry {
  return {
    id: 'v3.14',
    status: 'stable',
    updated: '2020-04-07T00:00:00Z',
    links: [{ rel: 'self', href: `${base}/v3/` }],
    'media-types': [
      { base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' },
    ],
  };
}

export type IdentityService = Service & {
  /** Creates what `tstack bootstrap` creates; idempotent. */
  bootstrap(
    options: Omit<BootstrapOptions, 'adminPassword' | 'servicePassword' | 'region'>,
  ): Promise<BootstrapResult>;
};

export function isIdentityService(service: Service): service is IdentityService {
  return service.name === 'identity' && 'bootstrap' in service;
}

/** Where the Fernet keys live: `<data_dir>/fernet-keys`, made on first start. */
export function keyRepositoryDir(dataDir: string): string {
  return join(dataDir, 'fernet-keys');
}

/** `tstack identity rotate-keys`. */
export function rotateKeys(dataDir: string, maxActiveKeys: number) {
  const repo = new FernetKeyRepository(keyRepositoryDir(dataDir));
  repo.setup();
  return repo.rotate(maxActiveKeys);
}

export function createIdentityService(
  ctx: ServiceContext,
  config: IdentityConfig,
): IdentityService {
  const db = ctx.database.db as Kysely<IdentityDatabase>;
  const keys = new FernetKeyRepository(keyRepositoryDir(ctx.config.data_dir), {
    onReloadError: (err) =>
      ctx.logger.error({ err }, 'reloading Fernet keys failed; keeping the previous ones'),
  });
  keys.setup();
  const identity = createIdentity(db, keys, config);
  const policy = new PolicyEnforcer(IDENTITY_POLICY, { enforceScope: false });
  const deps = { identity, policy };

  const app = createApp({
    service: 'identity',
    errorStyle: 'keystone',
    logger: ctx.logger,
    bodyLimit: ctx.config.http.body_limit,
  });
  // Keystone answers its root with 300 Multiple Choices, the list wrapped in `values`.
  app.get('/', async (request, reply) =>
    reply.status(300).send({ versions: { values: [v3(baseUrlOf(request))] } }),
  );
  app.get('/v3', async (request) => ({ version: v3(baseUrlOf(request)) }));
  // Everything but discovery, authentication and the self-service password change needs a valid
  // token, checked before anything else so that nothing (not even whether an id exists) is
  // told to an anonymous caller.
  app.addHook('onRequest', async (request) => {
    const route = `${request.method} ${request.routeOptions.url ?? ''}`;
    if (request.routeOptions.url === undefined || PUBLIC_ROUTES.has(route)) return;
    await callerOf(request, deps);
  });
  authRoutes(app, deps);
  domainRoutes(app, deps);
  projectRoutes(app, deps);
  userRoutes(app, deps);
  groupRoutes(app, deps);
  roleRoutes(app, deps);
  grantRoutes(app, deps);
  roleAssignmentRoutes(app, deps);
  catalogRoutes(app, deps);
  applicationCredentialRoutes(app, deps);
  credentialRoutes(app, deps);
  limitRoutes(app, deps);

  app.addHook('onReady', async () => {
    await identity.revocations.refresh();
    identity.revocations.start(1000, (err) =>
      ctx.logger.warn({ err }, 'reading revocation events failed'),
    );
  });

  return {
    name: 'identity',
    app,
    close: async () => identity.revocations.stop(),
    bootstrap: (options) =>
      bootstrap(identity, {
        ...options,
        adminPassword: config.admin_password,
        servicePassword: config.service_password,
        region: config.region,
      }),
  };
}
