/**
 * The compute tables as Kysely sees them. Column conventions are those of
 * `src/common/db/portable.ts` (booleans as smallint, timestamps as ISO strings).
 */
import type { Generated } from 'kysely';

export type FlavorRow = {
  id: Generated<number>;
  /** The id clients see (`"1"`, a UUID, or one the admin chose). */
  flavorid: string;
  name: string;
  memory_mb: number;
  vcpus: number;
  root_gb: number;
  ephemeral_gb: number;
  swap: number;
  rxtx_factor: number;
  is_public: number;
  disabled: number;
  description: string | null;
  created_at: string;
  updated_at: string | null;
};

export type FlavorExtraSpecRow = { flavor_id: number; key: string; value: string };

/** Projects a private flavor is open to. */
export type FlavorProjectRow = { flavor_id: number; project_id: string };

export type KeyPairRow = {
  id: Generated<number>;
  user_id: string;
  name: string;
  fingerprint: string;
  public_key: string;
  /** `ssh` or `x509`. */
  type: string;
  created_at: string;
};

export type InstanceRow = {
  uuid: string;
  project_id: string;
  user_id: string;
  display_name: string;
  display_description: string | null;
  hostname: string;
  reservation_id: string;
  launch_index: number;
  /** The image id; '' when the server boots from a volume. */
  image_ref: string;
  /** JSON: the flavor at boot (`FlavorSnapshot`). */
  flavor: string;
  /** The flavor's id as clients know it, for the `flavor` list filter. */
  flavor_id: string;
  vcpus: number;
  memory_mb: number;
  root_gb: number;
  key_name: string | null;
  key_data: string | null;
  user_data: string | null;
  /** '' or 'True', as Nova stores it. */
  config_drive: string;
  vm_state: string;
  task_state: string | null;
  power_state: number;
  host: string | null;
  node: string | null;
  availability_zone: string | null;
  locked: number;
  locked_by: string | null;
  locked_reason: string | null;
  access_ip_v4: string | null;
  access_ip_v6: string | null;
  progress: number;
  /** JSON: `RequestSpec`. */
  request_spec: string;
  /** JSON: `NetworkInfo` (the ports and their addresses). */
  network_info: string;
  launched_at: string | null;
  terminated_at: string | null;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
  deleted: number;
  /** JSON `FlavorSnapshot`s of a resize in progress (null otherwise). */
  old_flavor: string | null;
  new_flavor: string | null;
  /** The snapshot a shelved instance is unshelved from, when it was shelved and on which host. */
  shelved_image_id: string | null;
  shelved_at: string | null;
  shelved_host: string | null;
};

export type InstanceMetadataRow = { instance_uuid: string; key: string; value: string };
export type InstanceTagRow = { instance_uuid: string; tag: string };

export type InstanceFaultRow = {
  id: Generated<number>;
  instance_uuid: string;
  code: number;
  message: string;
  details: string;
  created_at: string;
};

export type InstanceActionRow = {
  id: Generated<number>;
  instance_uuid: string;
  request_id: string;
  action: string;
  project_id: string;
  user_id: string;
  message: string | null;
  start_time: string;
  finish_time: string | null;
  updated_at: string;
};

export type InstanceActionEventRow = {
  id: Generated<number>;
  action_id: number;
  event: string;
  result: string | null;
  host: string | null;
  details: string | null;
  traceback: string | null;
  start_time: string;
  finish_time: string | null;
};

/**
 * A unit of work that must not be lost: who works on it next (`stage`, `host`), and a lease that
 * says until when the worker holding it is trusted to be alive.
 */
export type ComputeTaskRow = {
  id: string;
  instance_uuid: string;
  kind: string;
  stage: string;
  host: string | null;
  /** `pending` or `done`. */
  state: string;
  attempts: number;
  /** JSON: kind-specific arguments. */
  payload: string;
  request_id: string;
  lease_owner: string | null;
  lease_until: string;
  created_at: string;
  updated_at: string;
};

export type ServiceRow = {
  id: Generated<number>;
  uuid: string;
  host: string;
  binary: string;
  topic: string;
  disabled: number;
  disabled_reason: string | null;
  forced_down: number;
  last_seen_up: string | null;
  created_at: string;
  updated_at: string;
};

export type ComputeNodeRow = {
  id: Generated<number>;
  uuid: string;
  host: string;
  hypervisor_hostname: string;
  hypervisor_type: string;
  hypervisor_version: number;
  host_ip: string;
  vcpus: number;
  memory_mb: number;
  local_gb: number;
  cpu_info: string;
  created_at: string;
  updated_at: string;
};

export type InstanceGroupRow = {
  id: Generated<number>;
  uuid: string;
  name: string;
  project_id: string;
  user_id: string;
  /** `affinity`, `anti-affinity`, `soft-affinity` or `soft-anti-affinity`. */
  policy: string;
  /** JSON: `{max_server_per_host?: number}`. */
  rules: string;
  created_at: string;
};

export type InstanceGroupMemberRow = {
  group_id: number;
  instance_uuid: string;
  created_at: string;
};

export type AggregateRow = {
  id: Generated<number>;
  uuid: string;
  name: string;
  created_at: string;
  updated_at: string | null;
};

export type AggregateHostRow = { aggregate_id: number; host: string };
export type AggregateMetadataRow = { aggregate_id: number; key: string; value: string };

/** A project's own limit for one resource (`instances`, `cores`, …); -1 is unlimited. */
export type QuotaRow = { project_id: string; resource: string; hard_limit: number };
/** Limits of a quota class; the `default` class stands in for projects without their own. */
export type QuotaClassRow = { class_name: string; resource: string; hard_limit: number };

/** A move of an instance between hosts: Nova's `migrations` record. */
export type MigrationRow = {
  id: Generated<number>;
  uuid: string;
  instance_uuid: string;
  /** `resize`, `migration`, `live-migration` or `evacuation`. */
  migration_type: string;
  /** `pre-migrating`, `migrating`, `finished`, `confirming`, `confirmed`, `reverting`, `reverted`, `error`. */
  status: string;
  source_compute: string | null;
  source_node: string | null;
  dest_compute: string | null;
  dest_node: string | null;
  dest_host: string | null;
  old_flavor_id: string;
  new_flavor_id: string;
  project_id: string;
  user_id: string;
  created_at: string;
  updated_at: string;
};

export type ComputeDatabase = {
  migrations: MigrationRow;
  instance_groups: InstanceGroupRow;
  instance_group_members: InstanceGroupMemberRow;
  aggregates: AggregateRow;
  aggregate_hosts: AggregateHostRow;
  aggregate_metadata: AggregateMetadataRow;
  quotas: QuotaRow;
  quota_classes: QuotaClassRow;
  instances: InstanceRow;
  instance_metadata: InstanceMetadataRow;
  instance_tags: InstanceTagRow;
  instance_faults: InstanceFaultRow;
  instance_actions: InstanceActionRow;
  instance_action_events: InstanceActionEventRow;
  compute_tasks: ComputeTaskRow;
  services: ServiceRow;
  compute_nodes: ComputeNodeRow;
  flavors: FlavorRow;
  flavor_extra_specs: FlavorExtraSpecRow;
  flavor_projects: FlavorProjectRow;
  key_pairs: KeyPairRow;
};
