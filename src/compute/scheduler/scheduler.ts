/**
 * The scheduler: asks placement for allocation candidates (a sample first, all of them when no
 * host of the sample passes), turns them into host states, runs the filters and weighers, then
 * claims the allocation of the best host atomically in placement, going down the list when a
 * claim loses a race. When no host is left it throws
 * `NoValidHostError` saying which filter removed how many hosts.
 */
import type { PlacementClient, Allocations, Candidates } from '../../placement/client.ts';
import type { Aggregates } from '../aggregates.ts';
import type { Hosts, NodeRecord, ServiceRecord } from '../hosts.ts';
import type { HostFilter } from './filter.ts';
import type { HostState, SchedulingRequest } from './host-state.ts';
import { weighHosts, type HostWeigher } from './weigher.ts';
import { availabilityZoneFilter } from './filters/availability-zone-filter.ts';
import { computeFilter } from './filters/compute-filter.ts';
import { differentHostFilter } from './filters/different-host-filter.ts';
import { aggregateInstanceExtraSpecsFilter } from './filters/aggregate-instance-extra-specs-filter.ts';
import { imagePropertiesFilter } from './filters/image-properties-filter.ts';
import { retryFilter } from './filters/retry-filter.ts';
import { sameHostFilter } from './filters/same-host-filter.ts';
import { serverGroupAffinityFilter } from './filters/server-group-affinity-filter.ts';
import { serverGroupAntiAffinityFilter } from './filters/server-group-anti-affinity-filter.ts';
import { cpuWeigher } from './weighers/cpu-weigher.ts';
import { diskWeigher } from './weighers/disk-weigher.ts';
import { ramWeigher } from './weighers/ram-weigher.ts';
import { serverGroupSoftAffinityWeigher } from './weighers/server-group-soft-affinity-weigher.ts';
import { serverGroupSoftAntiAffinityWeigher } from './weighers/server-group-soft-anti-affinity-weigher.ts';

export const DEFAULT_FILTERS: readonly HostFilter[] = [
  retryFilter,
  computeFilter,
  availabilityZoneFilter,
  imagePropertiesFilter,
  aggregateInstanceExtraSpecsFilter,
  sameHostFilter,
  differentHostFilter,
  serverGroupAntiAffinityFilter,
  serverGroupAffinityFilter,
];

export const DEFAULT_WEIGHERS: readonly { weigher: HostWeigher; multiplier: number }[] = [
  { weigher: ramWeigher, multiplier: 1 },
  { weigher: cpuWeigher, multiplier: 1 },
  { weigher: diskWeigher, multiplier: 1 },
  { weigher: serverGroupSoftAffinityWeigher, multiplier: 1 },
  { weigher: serverGroupSoftAntiAffinityWeigher, multiplier: 1 },
];

export class NoValidHostError extends Error {
  constructor(reason: string) {
    super(`No valid host was found. ${reason}`);
    this.name = 'NoValidHostError';
  }
}

export type Selection = {
  host: string;
  nodename: string;
  /** The chosen host's availability zone. */
  availabilityZone: string;
  nodeUuid: string;
  allocations: Allocations;
};

/** Instances per host, for the filters that need them (same/different host, groups). */
export type InstanceLocator = (uuids: readonly string[]) => Promise<Map<string, string>>;

export type SchedulerOptions = {
  placement: PlacementClient;
  hosts: Hosts;
  locate: InstanceLocator;
  aggregates?: AggregateSource;
  filters?: readonly HostFilter[];
  weighers?: readonly { weigher: HostWeigher; multiplier: number }[];
  /** Candidates asked of placement per request at most (Nova's `max_placement_results`). */
  maxPlacementResults?: number;
  /**
   * Candidates asked first; only when none of them passes the filters is placement asked for
   * `maxPlacementResults`. Fewer candidates are much cheaper to list, send and weigh.
   */
  placementSample?: number;
  /** How long the host list (nodes and services) is reused before it is read again. */
  hostCacheMs?: number;
  defaultAvailabilityZone?: string;
  now?: () => number;
};

type HostCatalog = {
  at: number;
  nodes: Map<string, NodeRecord>;
  services: Map<string, ServiceRecord>;
  zones: Map<string, string>;
  aggregateMetadata: Map<string, Record<string, string[]>>;
};

/** Where the scheduler learns hosts' zones and aggregate metadata (the aggregates table). */
export type AggregateSource = Pick<Aggregates, 'zonesByHost' | 'metadataByHost'>;

export class Scheduler {
  readonly #o: SchedulerOptions;
  readonly #now: () => number;
  #catalog: HostCatalog | undefined;
  #loading: Promise<HostCatalog> | undefined;

  constructor(options: SchedulerOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Picks a host for the request and claims its resources for the instance in placement.
   * @throws NoValidHostError when no host fits or every claim lost its race.
   */
  async select(request: SchedulingRequest): Promise<Selection> {
    const full = this.#o.maxPlacementResults ?? 1000;
    // A request tied to particular hosts (named ones, another instance's, a zone's) may find
    // none of them in a sample: it asks for every candidate at once.
    const narrow =
      request.onlyHosts !== undefined ||
      request.sameHost.length > 0 ||
      request.availabilityZone !== null;
    const sample = narrow ? full : Math.min(this.#o.placementSample ?? full, full);
    let found = await this.#candidates(request, sample);
    if (found.passed.length === 0 && sample < full && found.truncated)
      found = await this.#candidates(request, full);
    const { candidates, hosts, passed, removed } = found;
    if (candidates.allocation_requests.length === 0)
      throw new NoValidHostError(
        `There are not enough hosts available: no host has ${request.vcpus} VCPU, ${request.memoryMb} MB of memory and ${request.diskGb} GB of disk free.`,
      );
    if (passed.length === 0) {
      const why = removed.map(([filter, n]) => `${filter} removed ${n}`).join(', ');
      throw new NoValidHostError(
        `There are not enough hosts available: ${hosts.length} host(s) had room; ${why}.`,
      );
    }
    const weights = weighHosts(passed, request, this.#o.weighers ?? DEFAULT_WEIGHERS);
    const order = passed.map((host, i) => ({ host, weight: weights[i] ?? 0 }));
    order.sort((a, b) => b.weight - a.weight);
    const byProvider = new Map<string, Allocations>();
    for (const r of candidates.allocation_requests) {
      const root = Object.keys(r.allocations)[0];
      if (root !== undefined && !byProvider.has(root)) byProvider.set(root, r.allocations);
    }
    for (const { host } of order) {
      const allocations = byProvider.get(host.uuid);
      if (allocations === undefined) continue;
      const claimed = await this.#o.placement.claim(request.instanceUuid, {
        allocations,
        projectId: request.projectId,
        userId: request.userId,
      });
      if (claimed)
        return {
          host: host.host,
          nodename: host.nodename,
          availabilityZone: host.availabilityZone,
          nodeUuid: host.uuid,
          allocations,
        };
      // The instance may hold a claim from an earlier attempt of this same build.
      const held = await this.#o.placement.allocationsOf(request.instanceUuid);
      const heldOn = Object.keys(held)[0];
      const node = heldOn === undefined ? undefined : hosts.find((h) => h.uuid === heldOn);
      if (node !== undefined)
        return {
          host: node.host,
          nodename: node.nodename,
          availabilityZone: node.availabilityZone,
          nodeUuid: node.uuid,
          allocations: held,
        };
    }
    throw new NoValidHostError(
      'There are not enough hosts available: every claim lost a race for the last resources.',
    );
  }

  /**
   * Up to `limit` candidates from placement (a random sample of them when placement shuffles),
   * as host states, filtered. `truncated`: placement may have had more.
   */
  async #candidates(request: SchedulingRequest, limit: number) {
    const candidates = await this.#o.placement.allocationCandidates({
      resources: { VCPU: request.vcpus, MEMORY_MB: request.memoryMb, DISK_GB: request.diskGb },
      limit,
    });
    const all =
      candidates.allocation_requests.length === 0
        ? []
        : await this.#hostStates(candidates, request);
    const only = request.onlyHosts;
    const hosts = only === undefined ? all : all.filter((h) => only.includes(h.host));
    return {
      candidates,
      hosts,
      // A forced host skips the filters, but a build that failed there does not go back.
      ...(request.force === true
        ? { passed: hosts.filter((h) => !request.ignoreHosts.includes(h.host)), removed: [] }
        : this.#filter(hosts, request)),
      truncated: candidates.allocation_requests.length >= limit,
    };
  }

  #filter(
    hosts: readonly HostState[],
    request: SchedulingRequest,
  ): { passed: HostState[]; removed: [string, number][] } {
    let left = [...hosts];
    const removed: [string, number][] = [];
    for (const filter of this.#o.filters ?? DEFAULT_FILTERS) {
      if (!filter.applies(request)) continue;
      const kept = left.filter((h) => filter.passes(h, request) === true);
      if (kept.length < left.length) removed.push([filter.name, left.length - kept.length]);
      left = kept;
      if (left.length === 0) break;
    }
    return { passed: left, removed };
  }

  async #hostStates(candidates: Candidates, request: SchedulingRequest): Promise<HostState[]> {
    const catalog = await this.#hostCatalog();
    const wanted = [...request.sameHost, ...request.differentHost];
    const located = wanted.length > 0 ? await this.#o.locate(wanted) : new Map<string, string>();
    const instancesOn = new Map<string, Set<string>>();
    for (const [uuid, host] of located) {
      const set = instancesOn.get(host) ?? new Set<string>();
      set.add(uuid);
      instancesOn.set(host, set);
    }
    const out: HostState[] = [];
    for (const [uuid, summary] of Object.entries(candidates.provider_summaries)) {
      const node = catalog.nodes.get(uuid);
      if (node === undefined) continue;
      const service = catalog.services.get(node.host);
      const free = (rc: string): number => {
        const r = summary.resources[rc];
        return r === undefined ? 0 : r.capacity - r.used;
      };
      out.push({
        host: node.host,
        nodename: node.hypervisor_hostname,
        uuid,
        availabilityZone: catalog.zones.get(node.host) ?? this.#o.defaultAvailabilityZone ?? 'nova',
        aggregateMetadata: catalog.aggregateMetadata.get(node.host) ?? {},
        hypervisorType: node.hypervisor_type,
        serviceUp: service !== undefined && this.#o.hosts.isUp(service),
        serviceDisabled: service?.disabled === 1,
        disabledReason: service?.disabled_reason ?? null,
        freeVcpus: free('VCPU'),
        freeRamMb: free('MEMORY_MB'),
        freeDiskGb: free('DISK_GB'),
        instances: instancesOn.get(node.host) ?? new Set(),
      });
    }
    return out;
  }

  async #hostCatalog(): Promise<HostCatalog> {
    const cached = this.#catalog;
    if (cached !== undefined && this.#now() - cached.at < (this.#o.hostCacheMs ?? 1000))
      return cached;
    this.#loading ??= (async () => {
      try {
        const [nodes, services, zones, aggregateMetadata] = await Promise.all([
          this.#o.hosts.nodes(),
          this.#o.hosts.services('nova-compute'),
          this.#o.aggregates?.zonesByHost() ?? new Map<string, string>(),
          this.#o.aggregates?.metadataByHost() ?? new Map<string, Record<string, string[]>>(),
        ]);
        const catalog: HostCatalog = {
          at: this.#now(),
          nodes: new Map(nodes.map((n) => [n.uuid, n])),
          services: new Map(services.map((s) => [s.host, s])),
          zones,
          aggregateMetadata,
        };
        this.#catalog = catalog;
        return catalog;
      } finally {
        this.#loading = undefined;
      }
    })();
    return this.#loading;
  }
}
