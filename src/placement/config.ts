/** The `placement:` section of the configuration (upstream's `[placement]` options). */
import Type from 'typebox';
import type { Static } from 'typebox';

export const PlacementConfigSchema = Type.Object(
  {
    randomize_allocation_candidates: Type.Boolean({
      default: false,
      description:
        'Shuffle allocation candidates before `limit` takes the first ones, so that schedulers ' +
        'asking at once spread over providers instead of racing for the same ones.',
    }),
  },
  { additionalProperties: false, default: {} },
);

export type PlacementConfig = Static<typeof PlacementConfigSchema>;
