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

export type ComputeDatabase = {
  flavors: FlavorRow;
  flavor_extra_specs: FlavorExtraSpecRow;
  flavor_projects: FlavorProjectRow;
  key_pairs: KeyPairRow;
};
