/**
 * `/v2/schemas/*`: the JSON schemas Glance serves (glance/api/v2/images.py `get_schema`,
 * image_members.py, glance/schema.py). The CLI and openstacksdk read them to tell base
 * attributes from extra properties, so the shape follows upstream closely.
 */
import type { App } from '../../common/http/app.ts';
import {
  CONTAINER_FORMATS,
  DISK_FORMATS,
  MEMBER_STATUSES,
  STATUSES,
  VISIBILITIES,
} from '../image-fields.ts';

const UUID_PATTERN =
  '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$';

const str = (description: string, extra: Record<string, unknown> = {}) => ({
  type: 'string',
  description,
  ...extra,
});
const nullable = (type: string, description: string, extra: Record<string, unknown> = {}) => ({
  type: ['null', type],
  description,
  ...extra,
});

const IMAGE_PROPERTIES = {
  id: str('An identifier for the image', { pattern: UUID_PATTERN }),
  name: nullable('string', 'Descriptive name for the image', { maxLength: 255 }),
  status: str('Status of the image', { readOnly: true, enum: [...STATUSES] }),
  visibility: str('Scope of image accessibility', { enum: [...VISIBILITIES] }),
  protected: { type: 'boolean', description: 'If true, image will not be deletable.' },
  os_hidden: {
    type: 'boolean',
    description: 'If true, image will not appear in default image list response.',
  },
  checksum: nullable('string', 'md5 hash of image contents.', { readOnly: true, maxLength: 32 }),
  os_hash_algo: nullable('string', 'Algorithm to calculate the os_hash_value', {
    readOnly: true,
    maxLength: 64,
  }),
  os_hash_value: nullable(
    'string',
    'Hexdigest of the image contents using the algorithm specified by the os_hash_algo',
    { readOnly: true, maxLength: 128 },
  ),
  owner: nullable('string', 'Owner of the image', { maxLength: 255 }),
  size: nullable('integer', 'Size of image file in bytes', { readOnly: true }),
  virtual_size: nullable('integer', 'Virtual size of image in bytes', { readOnly: true }),
  container_format: nullable('string', 'Format of the container', {
    enum: [null, ...CONTAINER_FORMATS],
  }),
  disk_format: nullable('string', 'Format of the disk', { enum: [null, ...DISK_FORMATS] }),
  created_at: str('Date and time of image registration', { readOnly: true }),
  updated_at: str('Date and time of the last image modification', { readOnly: true }),
  tags: {
    type: 'array',
    description: 'List of strings related to the image',
    items: { type: 'string', maxLength: 255 },
  },
  direct_url: str('URL to access the image file kept in external store', { readOnly: true }),
  min_ram: { type: 'integer', description: 'Amount of ram (in MB) required to boot image.' },
  min_disk: {
    type: 'integer',
    description: 'Amount of disk space (in GB) required to boot image.',
  },
  self: str('An image self url', { readOnly: true }),
  file: str('An image file url', { readOnly: true }),
  stores: str(
    'Store in which image data resides.  Only present when the operator has enabled multiple stores.  May be a comma-separated list of store identifiers.',
    { readOnly: true },
  ),
  schema: str('An image schema url', { readOnly: true }),
  locations: {
    type: 'array',
    items: {
      type: 'object',
      properties: {
        url: { type: 'string', maxLength: 255 },
        metadata: { type: 'object' },
      },
      required: ['url', 'metadata'],
    },
    description: 'A set of URLs to access the image file kept in external store',
  },
  // Glance's default schema-image.json: the common extra properties, with their types.
  kernel_id: nullable(
    'string',
    'ID of image stored in Glance that should be used as the kernel when booting an AMI-style image.',
    { pattern: UUID_PATTERN, is_base: false },
  ),
  ramdisk_id: nullable(
    'string',
    'ID of image stored in Glance that should be used as the ramdisk when booting an AMI-style image.',
    { pattern: UUID_PATTERN, is_base: false },
  ),
  instance_uuid: str(
    'Metadata which can be used to record which instance this image is associated with. (Informational only, does not create an instance snapshot.)',
    { is_base: false },
  ),
  architecture: str(
    'Operating system architecture as specified in https://docs.openstack.org/python-glanceclient/latest/cli/property-keys.html',
    { is_base: false },
  ),
  os_distro: str(
    'Common name of operating system distribution as specified in https://docs.openstack.org/python-glanceclient/latest/cli/property-keys.html',
    { is_base: false },
  ),
  os_version: str('Operating system version as specified by the distributor.', { is_base: false }),
  description: str('A human-readable string describing this image.', { is_base: false }),
};

export function imageSchema(): Record<string, unknown> {
  return {
    name: 'image',
    properties: IMAGE_PROPERTIES,
    additionalProperties: { type: 'string' },
    links: [
      { rel: 'self', href: '{self}' },
      { rel: 'enclosure', href: '{file}' },
      { rel: 'describedby', href: '{schema}' },
    ],
  };
}

function collection(name: string, item: Record<string, unknown>): Record<string, unknown> {
  return {
    name,
    properties: {
      [name]: { type: 'array', items: item },
      first: { type: 'string' },
      next: { type: 'string' },
      schema: { type: 'string' },
    },
    links: [
      { rel: 'first', href: '{first}' },
      { rel: 'next', href: '{next}' },
      { rel: 'describedby', href: '{schema}' },
    ],
  };
}

export function memberSchema(): Record<string, unknown> {
  return {
    name: 'member',
    properties: {
      member_id: str('An identifier for the image member (tenantId)'),
      image_id: str('An identifier for the image', { pattern: UUID_PATTERN }),
      created_at: str('Date and time of image member creation'),
      updated_at: str('Date and time of last modification of image member'),
      status: str('The status of this image member', { enum: [...MEMBER_STATUSES] }),
      schema: { readOnly: true, type: 'string' },
    },
    additionalProperties: false,
  };
}

export function schemaRoutes(app: App): void {
  app.get('/v2/schemas/image', async () => imageSchema());
  app.get('/v2/schemas/images', async () => collection('images', imageSchema()));
  app.get('/v2/schemas/member', async () => memberSchema());
  app.get('/v2/schemas/members', async () => collection('members', memberSchema()));
}
