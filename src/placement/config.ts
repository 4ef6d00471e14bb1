/** The `placement:` section of the configuration (upstream's `[placement]` options). */
import Type from 'typebox';
import type { Static } from 'typebox';

export const PlacementConfigSchema = Type.Object(
  {
    randomize_allocation_candidates: Type.Boolean({
      default: true,
      description:
        'Return allocation candidates in random order (upstream: false), so that `limit` takes ' +
        'a random sample and schedulers asking at once spread over providers instead of racing ' +
        'for the same ones. Their order is undefined either way.',
    }),
  },
  { additionalProperties: false, default: {} },
);

export type PlacementConfig = Static<typeof PlacementConfigSchema>;
