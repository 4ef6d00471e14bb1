/** The `image:` section of the configuration (Glance's `[DEFAULT]` quotas and `[glance_store]`). */
import Type from 'typebox';
import type { Static } from 'typebox';

/** Store ids as Glance's enabled_backends names them. */
const STORE_ID = '^[a-z][a-z0-9_-]{0,63}$';

/** The store every deployment has, kept in `data_dir`. */
export const FILE_STORE = 'file';

export const ImageConfigSchema = Type.Object(
  {
    image_count_quota: Type.Integer({
      minimum: -1,
      default: -1,
      description: 'Images a project may own (image_count_total); -1 means no limit.',
    }),
    image_size_quota_bytes: Type.Integer({
      minimum: -1,
      default: -1,
      description: 'Total bytes of image data a project may store (image_size_total); -1: none.',
    }),
    image_size_cap: Type.Integer({
      minimum: 1,
      default: 1024 ** 4,
      description: 'Largest single image in bytes (Glance image_size_cap, default 1 TiB).',
    }),
    image_member_quota: Type.Integer({
      minimum: -1,
      default: 128,
      description: 'Members an image may have; -1 means no limit.',
    }),
    image_tag_quota: Type.Integer({
      minimum: -1,
      default: 128,
      description: 'Tags an image may have; -1 means no limit.',
    }),
    image_property_quota: Type.Integer({
      minimum: -1,
      default: 128,
      description: 'Extra properties an image may have; -1 means no limit.',
    }),
    limit_param_default: Type.Integer({
      minimum: 1,
      default: 25,
      description: 'Images a list returns when the request names no limit.',
    }),
    api_limit_max: Type.Integer({
      minimum: 1,
      default: 1000,
      description: 'Most images one list request returns.',
    }),
    stores: Type.Record(
      Type.String({ pattern: STORE_ID }),
      Type.Object(
        {
          data_dir: Type.String({ minLength: 1, description: 'Directory of this store.' }),
          description: Type.Optional(
            Type.String({ description: 'Shown by /v2/info/stores (store_description).' }),
          ),
        },
        { additionalProperties: false },
      ),
      {
        default: {},
        description:
          'More filesystem stores besides the default `file` one (Glance enabled_backends), ' +
          'by id; images can be uploaded to, imported to and copied between them.',
      },
    ),
    default_store: Type.String({
      pattern: STORE_ID,
      default: 'file',
      description: 'Where uploads go when the request names no store (default_backend).',
    }),
    test_image: Type.Boolean({
      default: true,
      description:
        'tstack up registers the public test image tstack-test at start (building it first when it is not in test_image_cache).',
    }),
    test_image_cache: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'Where built test images are kept; default $XDG_CACHE_HOME/tstack/guest-images (~/.cache/tstack/guest-images).',
      }),
    ),
    data_dir: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'Where the file store keeps image data (default <data_dir>/images).',
      }),
    ),
  },
  { additionalProperties: false, default: {} },
);

export type ImageConfig = Static<typeof ImageConfigSchema>;
