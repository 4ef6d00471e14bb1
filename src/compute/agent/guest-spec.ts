/** What the driver is told about a guest: the instance, its interfaces and a flavor. */
import type { FlavorSnapshot, Instance } from '../instance-model.ts';
import type { GuestSpec } from '../virt/driver.ts';

/** The guest of `instance` with `vifs`, sized by `flavor` (the instance's own by default). */
export function guestSpecOf(
  instance: Instance,
  vifs: Instance['networkInfo'],
  flavor: FlavorSnapshot = instance.flavor,
): GuestSpec {
  const { row } = instance;
  return {
    uuid: row.uuid,
    name: `instance-${row.uuid}`,
    hostname: row.hostname,
    vcpus: flavor.vcpus,
    memoryMb: flavor.memory_mb,
    rootGb: flavor.root_gb,
    ephemeralGb: flavor.ephemeral_gb,
    swapMb: flavor.swap,
    imageId: row.image_ref,
    vifs: vifs.map((v) => ({
      portId: v.portId,
      networkId: v.networkId,
      macAddress: v.macAddress,
      addresses: v.ips.map((ip) => ip.address),
      mtu: v.mtu,
    })),
    userData: row.user_data,
    keyName: row.key_name,
    keyData: row.key_data,
    metadata: {},
    configDrive: row.config_drive === 'True',
  };
}
