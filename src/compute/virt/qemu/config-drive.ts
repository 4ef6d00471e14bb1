/**
 * A config drive: an ISO 9660 image labelled `config-2` holding the instance's cloud data under
 * `openstack/<version>/` (`meta_data.json`, `network_data.json`, `user_data`…), as Nova writes
 * it with genisoimage (Rock Ridge and Joliet names, so file names keep their case and length).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';
import { flag, pathIn, PrivilegedRunner } from '../../../common/privileged/index.ts';
import type { GuestSpec } from '../driver.ts';

export type ConfigDriveOptions = {
  /** The ISO file to write; it and the staging folder must be inside `roots`. */
  readonly path: string;
  readonly roots: readonly string[];
  readonly runner?: PrivilegedRunner;
};

/**
 * Writes `files` (relative path → content, e.g. `openstack/latest/meta_data.json`) to a
 * config drive at `options.path`.
 * @throws Error for a path that is absolute or leaves the drive; the errors of
 *   `PrivilegedRunner.run` (genisoimage missing or failing).
 */
export async function buildConfigDrive(
  files: Readonly<Record<string, string | Uint8Array>>,
  options: ConfigDriveOptions,
): Promise<void> {
  const staging = await mkdtemp(join(dirname(options.path), 'config-drive-'));
  try {
    for (const [name, content] of Object.entries(files)) {
      const rel = normalize(name);
      if (rel.startsWith('/') || rel.startsWith('..') || rel === '.')
        throw new Error(`config drive: ${JSON.stringify(name)} is not a path inside the drive`);
      await mkdir(dirname(join(staging, rel)), { recursive: true });
      await writeFile(join(staging, rel), content);
    }
    await (options.runner ?? new PrivilegedRunner()).run(
      'genisoimage',
      [
        flag('-o'),
        pathIn(options.path, options.roots),
        flag('-V'),
        flag('config-2'),
        flag('-r'),
        flag('-J'),
        flag('-l'),
        flag('-quiet'),
        pathIn(staging, options.roots),
      ],
      { timeoutMs: 60_000 },
    );
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** The config drive's files of a guest as Nova lays them out (`openstack/latest/…`). */
export function configDriveFiles(spec: GuestSpec): Record<string, string> {
  const keys: Record<string, string> = {};
  if (spec.keyData !== null) keys[spec.keyName ?? 'key'] = spec.keyData;
  const meta = {
    uuid: spec.uuid,
    name: spec.name,
    hostname: spec.hostname,
    launch_index: 0,
    availability_zone: null,
    meta: spec.metadata,
    public_keys: keys,
    keys: Object.entries(keys).map(([name, data]) => ({ name, type: 'ssh', data })),
    project_id: null,
    devices: [],
  };
  const files: Record<string, string> = {
    'openstack/latest/meta_data.json': JSON.stringify(meta),
    'openstack/latest/network_data.json': JSON.stringify(networkData(spec)),
  };
  if (spec.userData !== null)
    files['openstack/latest/user_data'] = Buffer.from(spec.userData, 'base64').toString('utf8');
  return files;
}

/** `network_data.json`: the guest's links and networks, DHCP-configured (Nova's shape). */
function networkData(spec: GuestSpec): Record<string, unknown> {
  return {
    links: spec.vifs.map((v, i) => ({
      id: `tap${i}`,
      vif_id: v.portId,
      type: 'ovs',
      mtu: v.mtu,
      ethernet_mac_address: v.macAddress,
    })),
    networks: spec.vifs.map((v, i) => ({
      id: `network${i}`,
      link: `tap${i}`,
      network_id: v.networkId,
      type: 'ipv4_dhcp',
    })),
    services: [],
  };
}
