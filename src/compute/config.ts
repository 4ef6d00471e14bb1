/** The `compute:` section of the configuration. */
import Type from 'typebox';
import type { Static } from 'typebox';

export const ComputeConfigSchema = Type.Object(
  {
    default_flavors: Type.Boolean({
      default: true,
      description: 'Create the upstream default flavors (m1.tiny … m1.xlarge) when there are none.',
    }),
  },
  { additionalProperties: false, default: {} },
);

export type ComputeConfig = Static<typeof ComputeConfigSchema>;
