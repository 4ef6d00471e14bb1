/**
 * The placement client other services use (type-only; `src/cli` builds it): resource providers
 * and their inventory for compute nodes, allocation candidates for the scheduler, and allocation
 * claims for instances, over the placement HTTP API at microversion 1.36.
 */
import { JsonClient, type JsonClientOptions } from '../common/http/json-client.ts';

export type Inventory = {
  total: number;
  reserved: number;
  min_unit: number;
  max_unit: number;
  step_size: number;
  allocation_ratio: number;
};

/** Resource class → amount, e.g. `{VCPU: 1, MEMORY_MB: 512, DISK_GB: 1}`. */
export type Resources = Readonly<Record<string, number>>;

/** Provider uuid → what is taken from it. */
export type Allocations = Readonly<Record<string, { resources: Resources }>>;

export type CandidateQuery = {
  resources: Resources;
  limit?: number;
  /** Required traits (`HW_CPU_X86_AVX`) and forbidden ones (`!CUSTOM_X`). */
  required?: readonly string[];
  /** Provider uuids the candidates' root must be one of (as `in_tree` can't express several). */
  memberOf?: readonly string[];
};

export type ProviderSummary = {
  resources: Readonly<Record<string, { capacity: number; used: number }>>;
  traits: readonly string[];
  root_provider_uuid: string;
};

export type Candidates = {
  allocation_requests: readonly { allocations: Allocations }[];
  provider_summaries: Readonly<Record<string, ProviderSummary>>;
};

export type Claim = {
  allocations: Allocations;
  projectId: string;
  userId: string;
};

export interface PlacementClient {
  /** Creates the provider unless one with this uuid exists. Idempotent. */
  ensureProvider(uuid: string, name: string): Promise<void>;
  /** Replaces the provider's inventory (retrying on generation conflicts). Idempotent. */
  setInventory(uuid: string, inventories: Readonly<Record<string, Inventory>>): Promise<void>;
  allocationCandidates(query: CandidateQuery): Promise<Candidates>;
  /**
   * Claims `allocations` for a new consumer, atomically.
   * @returns false when the claim conflicts (capacity taken meanwhile, or the consumer exists).
   */
  claim(consumer: string, claim: Claim): Promise<boolean>;
  /** The consumer's allocations; `{}` when it has none. */
  allocationsOf(consumer: string): Promise<Allocations>;
  /** Removes every allocation of the consumer; nothing to remove is not an error. */
  deleteAllocations(consumer: string): Promise<void>;
  /**
   * Moves every allocation of `from` to `to` (which must hold none) in one atomic request, as
   * Nova hands an instance's allocations to its migration while it moves. Moving when `from`
   * holds nothing is a no-op.
   * @returns false when the move conflicts (either consumer changed meanwhile).
   */
  moveAllocations(
    from: string,
    to: string,
    owner: { projectId: string; userId: string },
  ): Promise<boolean>;
}

export const PLACEMENT_CLIENT_VERSION = '1.36';

export class HttpPlacementClient implements PlacementClient {
  readonly #http: JsonClient;

  constructor(options: Omit<JsonClientOptions, 'service'>) {
    this.#http = new JsonClient({
      ...options,
      service: 'placement',
      headers: { 'openstack-api-version': `placement ${PLACEMENT_CLIENT_VERSION}` },
    });
  }

  async ensureProvider(uuid: string, name: string): Promise<void> {
    const found = await this.#http.request('GET', `/resource_providers/${uuid}`, {
      expect: [200, 404],
    });
    if (found.status === 200) return;
    // 409: created meanwhile by another start of the same agent, which is what we wanted.
    await this.#http.request('POST', '/resource_providers', {
      body: { uuid, name },
      expect: [200, 409],
    });
  }

  async setInventory(
    uuid: string,
    inventories: Readonly<Record<string, Inventory>>,
  ): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const current = (await this.#http.request('GET', `/resource_providers/${uuid}/inventories`))
        .body as { resource_provider_generation: number };
      const put = await this.#http.request('PUT', `/resource_providers/${uuid}/inventories`, {
        body: {
          resource_provider_generation: current.resource_provider_generation,
          inventories,
        },
        expect: attempt < 5 ? [200, 409] : [200],
      });
      if (put.status === 200) return;
    }
  }

  async allocationCandidates(query: CandidateQuery): Promise<Candidates> {
    const params = new URLSearchParams();
    params.set(
      'resources',
      Object.entries(query.resources)
        .filter(([, amount]) => amount > 0)
        .map(([rc, amount]) => `${rc}:${amount}`)
        .join(','),
    );
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    if (query.required !== undefined && query.required.length > 0)
      params.set('required', query.required.join(','));
    if (query.memberOf !== undefined && query.memberOf.length > 0)
      params.set('member_of', `in:${query.memberOf.join(',')}`);
    const reply = await this.#http.request('GET', `/allocation_candidates?${params.toString()}`);
    return reply.body as Candidates;
  }

  async claim(consumer: string, claim: Claim): Promise<boolean> {
    const reply = await this.#http.request('PUT', `/allocations/${consumer}`, {
      body: {
        allocations: claim.allocations,
        project_id: claim.projectId,
        user_id: claim.userId,
        consumer_generation: null,
      },
      expect: [204, 409],
    });
    return reply.status === 204;
  }

  async allocationsOf(consumer: string): Promise<Allocations> {
    const reply = await this.#http.request('GET', `/allocations/${consumer}`);
    return (reply.body as { allocations: Allocations }).allocations;
  }

  async deleteAllocations(consumer: string): Promise<void> {
    await this.#http.request('DELETE', `/allocations/${consumer}`, { expect: [204, 404] });
  }

  async moveAllocations(
    from: string,
    to: string,
    owner: { projectId: string; userId: string },
  ): Promise<boolean> {
    const current = (await this.#http.request('GET', `/allocations/${from}`)).body as {
      allocations: Allocations;
      consumer_generation?: number;
    };
    if (Object.keys(current.allocations).length === 0) return true;
    const reply = await this.#http.request('POST', '/allocations', {
      body: {
        [to]: {
          allocations: current.allocations,
          project_id: owner.projectId,
          user_id: owner.userId,
          consumer_generation: null,
        },
        [from]: {
          allocations: {},
          project_id: owner.projectId,
          user_id: owner.userId,
          consumer_generation: current.consumer_generation ?? null,
        },
      },
      expect: [204, 409],
    });
    return reply.status === 204;
  }
}
