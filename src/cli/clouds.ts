/**
 * The client configuration `tstack up` hands to its user: `<data-dir>/clouds.yaml` with an admin
 * cloud named `tstack` (openstacksdk's format, so `OS_CLOUD=tstack openstack …` works), and the
 * equivalent `export OS_*` lines.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { TstackConfig } from './config.ts';

export const CLOUD_NAME = 'tstack';

/** A host as it stands in a URL: IPv6 addresses in brackets. */
export function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export function authUrl(config: TstackConfig): string {
  return `http://${urlHost(config.public_host)}:${config.services.identity.port}/v3`;
}

/** Writes `clouds.yaml` (mode 0600: it holds the admin password) and returns its path. */
export function writeCloudsYaml(config: TstackConfig): string {
  const path = join(config.data_dir, 'clouds.yaml');
  const doc = {
    clouds: {
      [CLOUD_NAME]: {
        auth: {
          auth_url: authUrl(config),
          username: 'admin',
          password: config.identity.admin_password,
          project_name: 'admin',
          user_domain_name: 'Default',
          project_domain_name: 'Default',
        },
        region_name: config.identity.region,
        interface: 'public',
        identity_api_version: 3,
      },
    },
  };
  writeFileSync(path, stringify(doc), { mode: 0o600 });
  return path;
}

export function exportLines(config: TstackConfig): string[] {
  return [
    `export OS_AUTH_URL=${authUrl(config)}`,
    'export OS_USERNAME=admin',
    `export OS_PASSWORD=${config.identity.admin_password}`,
    'export OS_PROJECT_NAME=admin',
    'export OS_USER_DOMAIN_NAME=Default',
    'export OS_PROJECT_DOMAIN_NAME=Default',
    `export OS_REGION_NAME=${config.identity.region}`,
    'export OS_IDENTITY_API_VERSION=3',
  ];
}
