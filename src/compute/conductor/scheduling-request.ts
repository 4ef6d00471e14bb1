/** What the conductor asks the scheduler for an instance: its flavor, zone, hints and group. */
import type { FlavorSnapshot, Instance } from '../instance-model.ts';
import type { SchedulingGroup, SchedulingRequest } from '../scheduler/host-state.ts';

export function schedulingRequestOf(
  instance: Instance,
  placing: {
    /** The flavor to claim (a resize's new one); the instance's own by default. */
    flavor?: FlavorSnapshot;
    ignoreHosts?: readonly string[];
    onlyHosts?: readonly string[];
    group: SchedulingGroup | undefined;
  },
): SchedulingRequest {
  const { row, requestSpec: spec } = instance;
  const flavor = placing.flavor ?? instance.flavor;
  return {
    instanceUuid: row.uuid,
    projectId: row.project_id,
    userId: row.user_id,
    vcpus: flavor.vcpus,
    memoryMb: flavor.memory_mb,
    diskGb: flavor.root_gb + flavor.ephemeral_gb + Math.ceil(flavor.swap / 1024),
    availabilityZone: spec.availabilityZone,
    sameHost: spec.hints.sameHost ?? [],
    differentHost: spec.hints.differentHost ?? [],
    ignoreHosts: placing.ignoreHosts ?? [],
    imageProperties: spec.imageProperties,
    flavorExtraSpecs: flavor.extra_specs,
    ...(placing.onlyHosts !== undefined ? { onlyHosts: placing.onlyHosts } : {}),
    ...(placing.group !== undefined ? { group: placing.group } : {}),
  };
}
