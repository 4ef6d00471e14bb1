/** The whole configuration: the common schema plus each service's own section. */
import type { Static } from 'typebox';
import { loadConfigWith, type LoadOptions, type ResolvedConfig } from '../common/config/load.ts';
import { withSections } from '../common/config/schema.ts';
import { ComputeConfigSchema } from '../compute/service.ts';
import { IdentityConfigSchema } from '../identity/service.ts';
import { ImageConfigSchema } from '../image/service.ts';
import { NetworkConfigSchema } from '../network/service.ts';
import { PlacementConfigSchema } from '../placement/service.ts';

export const TstackConfigSchema = withSections({
  compute: ComputeConfigSchema,
  identity: IdentityConfigSchema,
  image: ImageConfigSchema,
  network: NetworkConfigSchema,
  placement: PlacementConfigSchema,
});

export type TstackConfig = Static<typeof TstackConfigSchema> & ResolvedConfig;

export function loadTstackConfig(options: LoadOptions = {}): TstackConfig {
  return loadConfigWith(TstackConfigSchema, options);
}
