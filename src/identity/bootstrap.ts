/**
 * `tstack bootstrap`, like `keystone-manage bootstrap`: the default domain, the admin, member,
 * reader and service roles (admin implies member implies reader), the admin project and user,
 * the service project and one user per service, the region and the catalog. Idempotent: a second
 * run changes nothing but endpoint URLs that moved (say, to other ports), and never resets a
 * password an operator changed.
 */
import type { Catalog, Endpoint } from './catalog.ts';
import type { Identity } from './identity.ts';
import { DEFAULT_DOMAIN_ID } from './ids.ts';
import type { Role } from './roles.ts';

export type CatalogRegistration = {
  /** Catalog type, e.g. `compute`. */
  type: string;
  /** Catalog name, e.g. `nova`. */
  name: string;
  description: string;
  /** The same URL is registered for the public, internal and admin interfaces. */
  url: string;
  /** The service user to create in the `service` project, e.g. `nova`; none for identity. */
  serviceUser?: string;
};

export type BootstrapOptions = {
  adminPassword: string;
  servicePassword: string;
  region: string;
  services: readonly CatalogRegistration[];
};

export type BootstrapResult = {
  adminUserId: string;
  adminProjectId: string;
  serviceProjectId: string;
  /** What was created or changed, for the operator. */
  changes: string[];
};

const INTERFACES: readonly Endpoint['interface'][] = ['public', 'internal', 'admin'];

export async function bootstrap(
  identity: Identity,
  options: BootstrapOptions,
): Promise<BootstrapResult> {
  const { resources, users, roles, catalog } = identity;
  const changes: string[] = [];
  if (!(await resources.findDomain(DEFAULT_DOMAIN_ID))) {
    await resources.createDomain({
      id: DEFAULT_DOMAIN_ID,
      name: 'Default',
      description: 'The default domain',
    });
    changes.push('domain Default');
  }
  const role = async (name: string): Promise<Role> => {
    const found = await roles.findByName(name);
    if (found) return found;
    changes.push(`role ${name}`);
    return roles.create({ name });
  };
  const admin = await role('admin');
  const member = await role('member');
  const reader = await role('reader');
  const service = await role('service');
  await roles.imply(admin.id, member.id);
  await roles.imply(member.id, reader.id);

  const project = async (name: string, description: string) => {
    const found = await resources.getProjectByName(name, DEFAULT_DOMAIN_ID).catch(() => undefined);
    if (found) return found;
    changes.push(`project ${name}`);
    return resources.createProject({ name, domain_id: DEFAULT_DOMAIN_ID, description });
  };
  const adminProject = await project('admin', 'Bootstrap project for initializing the cloud.');
  const serviceProject = await project('service', 'Project of the service users.');

  const user = async (name: string, password: string) => {
    const found = await users.findByName(name, DEFAULT_DOMAIN_ID);
    if (found) return found;
    changes.push(`user ${name}`);
    return users.create({ name, domain_id: DEFAULT_DOMAIN_ID, password, default_project_id: null });
  };
  const adminUser = await user('admin', options.adminPassword);
  await roles.grant({
    actor: { kind: 'user', id: adminUser.id },
    target: { kind: 'project', id: adminProject.id },
    role_id: admin.id,
    inherited: false,
  });
  await roles.grant({
    actor: { kind: 'user', id: adminUser.id },
    target: { kind: 'system' },
    role_id: admin.id,
    inherited: false,
  });
  await roles.grant({
    actor: { kind: 'user', id: adminUser.id },
    target: { kind: 'domain', id: DEFAULT_DOMAIN_ID },
    role_id: admin.id,
    inherited: false,
  });

  for (const s of options.services) {
    if (s.serviceUser === undefined) continue;
    const u = await user(s.serviceUser, options.servicePassword);
    await roles.grant({
      actor: { kind: 'user', id: u.id },
      target: { kind: 'project', id: serviceProject.id },
      role_id: service.id,
      inherited: false,
    });
    // Services act for users across projects (placement claims, port bindings): admin too, as
    // deployment tools grant it.
    await roles.grant({
      actor: { kind: 'user', id: u.id },
      target: { kind: 'project', id: serviceProject.id },
      role_id: admin.id,
      inherited: false,
    });
  }

  await catalog.getRegion(options.region).catch(async () => {
    changes.push(`region ${options.region}`);
    await catalog.createRegion({ id: options.region, description: '' });
  });
  for (const s of options.services) await register(catalog, s, options.region, changes);

  return {
    adminUserId: adminUser.id,
    adminProjectId: adminProject.id,
    serviceProjectId: serviceProject.id,
    changes,
  };
}

async function register(
  catalog: Catalog,
  s: CatalogRegistration,
  region: string,
  changes: string[],
): Promise<void> {
  let entry = (await catalog.listServices({ type: s.type, name: s.name }))[0];
  if (!entry) {
    entry = await catalog.createService({ type: s.type, name: s.name, description: s.description });
    changes.push(`service ${s.name} (${s.type})`);
  }
  const endpoints = await catalog.listEndpoints({ service_id: entry.id, region_id: region });
  for (const iface of INTERFACES) {
    const existing = endpoints.find((e) => e.interface === iface);
    if (!existing) {
      await catalog.createEndpoint({
        service_id: entry.id,
        interface: iface,
        url: s.url,
        region_id: region,
      });
      changes.push(`endpoint ${s.type} ${iface} ${s.url}`);
    } else if (existing.url !== s.url) {
      await catalog.updateEndpoint(existing.id, { url: s.url });
      changes.push(`endpoint ${s.type} ${iface} moved to ${s.url}`);
    }
  }
}
