/**
 * What filters and weighers know about a host and about the request: plain data, gathered by
 * the scheduler before any filter runs, so filters and weighers do no I/O.
 */

export type HostState = {
  /** The compute service's host name. */
  host: string;
  /** The hypervisor (compute node) name. */
  nodename: string;
  /** The compute node's uuid, also its resource provider's. */
  uuid: string;
  availabilityZone: string;
  hypervisorType: string;
  serviceUp: boolean;
  serviceDisabled: boolean;
  disabledReason: string | null;
  /** Free amounts after allocations, from placement's provider summaries. */
  freeVcpus: number;
  freeRamMb: number;
  freeDiskGb: number;
  /** The metadata of the host's aggregates: each key's values across them. */
  aggregateMetadata: Readonly<Record<string, readonly string[]>>;
  /** Uuids of the live instances on the host (only gathered when a filter needs them). */
  instances: ReadonlySet<string>;
};

export type SchedulingRequest = {
  instanceUuid: string;
  projectId: string;
  userId: string;
  vcpus: number;
  memoryMb: number;
  diskGb: number;
  availabilityZone: string | null;
  /** Instances whose hosts the new one must share (`same_host`). */
  sameHost: readonly string[];
  /** Instances whose hosts the new one must avoid (`different_host`). */
  differentHost: readonly string[];
  /** Hosts that failed this build already (or a move leaves). */
  ignoreHosts: readonly string[];
  /** When set, the only hosts considered (an admin's chosen destination). */
  onlyHosts?: readonly string[];
  /** The `onlyHosts` are taken as they are, without the filters (Nova's forced host). */
  force?: boolean;
  imageProperties: Readonly<Record<string, string>>;
  /** The flavor's extra specs (the aggregate filter matches them against host aggregates). */
  flavorExtraSpecs: Readonly<Record<string, string>>;
  /** The instance's server group, when it has one. */
  group?: SchedulingGroup;
};

/** A server group's policy and where its other members run. */
export type SchedulingGroup = {
  policy: 'anti-affinity' | 'affinity' | 'soft-anti-affinity' | 'soft-affinity';
  maxServerPerHost: number;
  memberHosts: Readonly<Record<string, number>>;
};
