/** The `compute:` section of the configuration. */
import Type from 'typebox';
import type { Static } from 'typebox';

const Url = (what: string) =>
  Type.Optional(
    Type.String({
      minLength: 1,
      description: `Base URL of the ${what} API; default: this configuration's own ${what} endpoint.`,
    }),
  );

const Seconds = (value: number, description: string) =>
  Type.Number({ minimum: 0, default: value, description });

export const ComputeConfigSchema = Type.Object(
  {
    default_flavors: Type.Boolean({
      default: true,
      description: 'Create the upstream default flavors (m1.tiny … m1.xlarge) when there are none.',
    }),
    qemu_hosts: Type.Integer({
      minimum: 0,
      maximum: 16,
      default: 1,
      description:
        'Hypervisors of the QEMU virt driver (real VMs) this process runs agents for: the first is named qemu_host_name, the others <qemu_host_name>-2, -3…. They share one folder, so guests move between them (cold and live migration). 0 runs none.',
    }),
    qemu_host_name: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        pattern: '^[A-Za-z0-9][A-Za-z0-9.-]*$',
        description: "Name of the first QEMU hypervisor; default: this machine's host name.",
      }),
    ),
    qemu_accel: Type.Union([Type.Literal('auto'), Type.Literal('kvm'), Type.Literal('tcg')], {
      default: 'auto',
      description:
        'QEMU accelerator: kvm, tcg, or auto (KVM when a probe guest boots on /dev/kvm, else TCG; the hypervisor details say which and why).',
    }),
    qemu_path: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          "The QEMU hosts' folder: base images and guests' disks, consoles and sockets; default <data_dir>/qemu.",
      }),
    ),
    image_cache_minimum_age: Seconds(
      86400,
      "Seconds an unused base image stays in the QEMU hosts' image cache (Nova's remove_unused_original_minimum_age_seconds).",
    ),
    fake_hosts: Type.Integer({
      minimum: 0,
      maximum: 10000,
      default: 0,
      description:
        'Hypervisors of the fake virt driver this process runs (guests are records in memory), ' +
        "named '<fake_host_prefix><n>'. 0 runs none.",
    }),
    fake_host_prefix: Type.String({
      minLength: 1,
      maxLength: 200,
      pattern: '^[A-Za-z0-9][A-Za-z0-9.-]*$',
      default: 'fake-host-',
      description: 'Host name prefix of the fake hypervisors.',
    }),
    fake_host_resources: Type.Object(
      {
        vcpus: Type.Integer({ minimum: 1, default: 32 }),
        memory_mb: Type.Integer({ minimum: 1, default: 131072 }),
        local_gb: Type.Integer({ minimum: 1, default: 2048 }),
      },
      {
        additionalProperties: false,
        default: {},
        description: 'What each fake hypervisor offers.',
      },
    ),
    conductor: Type.Boolean({
      default: true,
      description: 'Run a conductor (scheduling and the task sweep) in this process.',
    }),
    default_availability_zone: Type.String({
      minLength: 1,
      maxLength: 255,
      default: 'nova',
      description: 'Availability zone of hosts in no zone-bearing aggregate.',
    }),
    cpu_allocation_ratio: Type.Number({ exclusiveMinimum: 0, default: 4.0 }),
    ram_allocation_ratio: Type.Number({ exclusiveMinimum: 0, default: 1.0 }),
    disk_allocation_ratio: Type.Number({ exclusiveMinimum: 0, default: 1.0 }),
    reserved_host_memory_mb: Type.Integer({ minimum: 0, default: 512 }),
    allow_resize_to_same_host: Type.Boolean({
      default: true,
      description:
        'Whether a resize may stay on its host (Nova defaults to false; one host is common here).',
    }),
    shelved_offload_time: Type.Integer({
      minimum: -1,
      default: 0,
      description:
        'Seconds a shelved server keeps its host before it is offloaded: 0 at once, -1 never (as Nova).',
    }),
    max_attempts: Type.Integer({
      minimum: 1,
      default: 3,
      description: 'Hosts a build is tried on before it fails (Nova: scheduler.max_attempts).',
    }),
    max_placement_results: Type.Integer({
      minimum: 1,
      default: 1000,
      description: 'Allocation candidates the scheduler asks placement for.',
    }),
    placement_sample: Type.Integer({
      minimum: 1,
      default: 50,
      description:
        'Allocation candidates the scheduler asks for first; all of them (up to max_placement_results) only when none of the sample passes the filters. Placement shuffles candidates by default, so the sample is random.',
    }),
    scheduler_cache_seconds: Seconds(
      1,
      'How long the scheduler reuses its list of hosts and their services before reading it again.',
    ),
    report_interval: Seconds(10, 'Seconds between compute service heartbeats.'),
    service_down_time: Seconds(60, 'A service with no heartbeat for this long is down.'),
    sync_power_state_interval: Seconds(60, 'Seconds between agent reconcile passes.'),
    task_lease: Seconds(120, 'Seconds a worker holds a task before another may take it over.'),
    task_sweep_interval: Seconds(5, 'Seconds between the conductor sweeps for stalled tasks.'),
    quotas: Type.Object(
      {
        instances: Type.Integer({ minimum: -1, default: 10 }),
        cores: Type.Integer({ minimum: -1, default: 20 }),
        ram: Type.Integer({ minimum: -1, default: 51200 }),
        metadata_items: Type.Integer({ minimum: -1, default: 128 }),
        key_pairs: Type.Integer({ minimum: -1, default: 100 }),
        server_groups: Type.Integer({ minimum: -1, default: 10 }),
        server_group_members: Type.Integer({ minimum: -1, default: 10 }),
        injected_files: Type.Integer({ minimum: -1, default: 5 }),
        injected_file_content_bytes: Type.Integer({ minimum: -1, default: 10240 }),
        injected_file_path_bytes: Type.Integer({ minimum: -1, default: 255 }),
      },
      {
        additionalProperties: false,
        default: {},
        description:
          "Every project's default limits (Nova's [quota] section), until quota sets or the default quota class change them; -1 is unlimited.",
      },
    ),
    placement_url: Url('placement'),
    network_url: Url('network'),
    image_url: Url('image'),
  },
  { additionalProperties: false, default: {} },
);

export type ComputeConfig = Static<typeof ComputeConfigSchema>;
