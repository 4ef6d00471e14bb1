/**
 * The placement tables as Kysely sees them. Column conventions are those of
 * `src/common/db/portable.ts`. Providers, resource classes, traits and aggregates have integer
 * surrogate keys, as upstream Placement's do, so the hot tables (inventories, allocations) stay
 * narrow.
 */
import type { Generated } from 'kysely';

export type ResourceProviderRow = {
  id: Generated<number>;
  uuid: string;
  name: string;
  /** Bumped by every change to the provider, its inventory, traits, aggregates or allocations. */
  generation: number;
  /**
   * The state version of the last write that changed the provider (including changes that leave
   * the generation alone, like aggregates set before 1.19): what tells the read view to reload it.
   */
  changed_version: Generated<number>;
  parent_provider_id: number | null;
  root_provider_id: number;
  created_at: string;
  updated_at: string;
};

export type InventoryRow = {
  resource_provider_id: number;
  resource_class_id: number;
  total: number;
  reserved: number;
  min_unit: number;
  max_unit: number;
  step_size: number;
  allocation_ratio: number;
  created_at: string;
  updated_at: string;
};

/** Standard classes have the ids of their place in the os-resource-classes list; custom ≥ 10000. */
export type ResourceClassRow = { id: number; name: string; created_at: string; updated_at: string };

export type TraitRow = {
  id: Generated<number>;
  name: string;
  created_at: string;
  updated_at: string;
};

export type ProviderTraitRow = { resource_provider_id: number; trait_id: number };

export type AggregateRow = { id: Generated<number>; uuid: string };

export type ProviderAggregateRow = { resource_provider_id: number; aggregate_id: number };

export type ConsumerRow = {
  id: Generated<number>;
  uuid: string;
  project_id: string;
  user_id: string;
  generation: number;
  /** Microversion 1.38; null for consumers written before it (listed as `unknown`). */
  consumer_type: string | null;
  created_at: string;
  updated_at: string;
};

export type AllocationRow = {
  id: Generated<number>;
  resource_provider_id: number;
  consumer_id: number;
  resource_class_id: number;
  used: number;
  created_at: string;
};

/** One row: a counter every write bumps, so readers know when their cached view is stale. */
export type PlacementStateRow = { id: number; version: number };

export type PlacementDatabase = {
  resource_providers: ResourceProviderRow;
  inventories: InventoryRow;
  resource_classes: ResourceClassRow;
  traits: TraitRow;
  resource_provider_traits: ProviderTraitRow;
  placement_aggregates: AggregateRow;
  resource_provider_aggregates: ProviderAggregateRow;
  consumers: ConsumerRow;
  allocations: AllocationRow;
  placement_state: PlacementStateRow;
};
