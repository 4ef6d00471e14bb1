/**
 * What an image is made of, as Glance's image schema defines it (glance/api/v2/images.py
 * `get_base_properties`): the base attributes with their types and enums, which are read-only or
 * reserved, and the checks that refuse a bad value with a 400 naming the field.
 */
import { forbidden, invalid } from './errors.ts';

export const STATUSES = [
  'queued',
  'saving',
  'active',
  'killed',
  'deleted',
  'uploading',
  'importing',
  'pending_delete',
  'deactivated',
] as const;
export type ImageStatus = (typeof STATUSES)[number];

export const VISIBILITIES = ['community', 'public', 'private', 'shared'] as const;
export type Visibility = (typeof VISIBILITIES)[number];

export const CONTAINER_FORMATS = [
  'ami',
  'ari',
  'aki',
  'bare',
  'ovf',
  'ova',
  'docker',
  'compressed',
] as const;
export const DISK_FORMATS = [
  'ami',
  'ari',
  'aki',
  'vhd',
  'vhdx',
  'vmdk',
  'raw',
  'qcow2',
  'vdi',
  'iso',
  'ploop',
] as const;

export const MEMBER_STATUSES = ['pending', 'accepted', 'rejected'] as const;
export type MemberStatus = (typeof MEMBER_STATUSES)[number];

/** Attributes only the service sets (Glance `_readonly_properties`). */
export const READ_ONLY = new Set([
  'created_at',
  'updated_at',
  'status',
  'checksum',
  'os_hash_algo',
  'os_hash_value',
  'size',
  'virtual_size',
  'direct_url',
  'self',
  'file',
  'schema',
  'id',
  'stores',
]);

/** Attributes nobody may set (Glance `_reserved_properties`), plus the `os_glance_` namespace. */
export const RESERVED = new Set(['location', 'deleted', 'deleted_at']);

/** The base attributes a caller may write. */
export const WRITABLE = new Set([
  'name',
  'visibility',
  'protected',
  'os_hidden',
  'owner',
  'container_format',
  'disk_format',
  'min_ram',
  'min_disk',
  'tags',
]);

/** Base attributes (writable, read-only, reserved): never extra properties. */
export function isBase(key: string): boolean {
  return WRITABLE.has(key) || READ_ONLY.has(key) || key === 'locations';
}

export type WritableFields = {
  name: string | null;
  visibility: Visibility;
  protected: boolean;
  os_hidden: boolean;
  owner: string | null;
  container_format: string | null;
  disk_format: string | null;
  min_ram: number;
  min_disk: number;
  tags: string[];
  /** Extra properties, all strings as Glance stores them. */
  properties: Record<string, string>;
};

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

function schemaError(detail: string): Error {
  return invalid(`Provided object does not match schema 'image': ${detail}`);
}

function show(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

/** Refuses an attribute no caller may write: 403 as Glance answers it. */
export function checkWritableKey(key: string): void {
  if (RESERVED.has(key) || key.startsWith('os_glance_'))
    throw forbidden(`Attribute '${key}' is reserved.`);
  if (READ_ONLY.has(key) || key === 'locations')
    throw forbidden(`Attribute '${key}' is read-only.`);
}

/** Checks and normalises one writable base attribute's value; 400 naming it when bad. */
export function checkBaseValue(key: string, value: unknown): unknown {
  const nullableString = (max: number): string | null => {
    if (value === null) return null;
    if (typeof value !== 'string')
      throw schemaError(`${show(value)} is not of type 'null', 'string' (${key})`);
    if (value.length > max) throw schemaError(`${show(value)} is too long (${key})`);
    return value;
  };
  const oneOf = (allowed: readonly string[], nullable: boolean): string | null => {
    if (value === null && nullable) return null;
    if (typeof value !== 'string' || !allowed.includes(value))
      throw schemaError(
        `${show(value)} is not one of [${allowed.map((a) => `'${a}'`).join(', ')}] (${key})`,
      );
    return value;
  };
  switch (key) {
    case 'name':
    case 'owner':
      return nullableString(255);
    case 'visibility':
      return oneOf(VISIBILITIES, false);
    case 'disk_format':
      return oneOf(DISK_FORMATS, true);
    case 'container_format':
      return oneOf(CONTAINER_FORMATS, true);
    case 'protected':
    case 'os_hidden':
      if (typeof value !== 'boolean')
        throw schemaError(`${show(value)} is not of type 'boolean' (${key})`);
      return value;
    case 'min_ram':
    case 'min_disk':
      if (typeof value !== 'number' || !Number.isSafeInteger(value))
        throw schemaError(`${show(value)} is not of type 'integer' (${key})`);
      if (value < 0) throw invalid(`Cannot set ${key} to a negative value.`);
      return value;
    case 'tags':
      return checkTags(value);
    default:
      throw schemaError(`unknown attribute ${key}`);
  }
}

export function checkTags(value: unknown): string[] {
  if (!Array.isArray(value)) throw schemaError(`${show(value)} is not of type 'array' (tags)`);
  for (const tag of value as unknown[]) checkTag(tag);
  return [...new Set(value as string[])];
}

export function checkTag(tag: unknown): string {
  if (typeof tag !== 'string') throw schemaError(`${show(tag)} is not of type 'string' (tags)`);
  if (tag.length === 0 || tag.length > 255)
    throw invalid(`Invalid tag '${tag.slice(0, 300)}': tags are 1 to 255 characters.`);
  return tag;
}

/** An extra property: any name but the base ones, a string value. */
export function checkProperty(key: string, value: unknown): string {
  checkWritableKey(key);
  if (key.length === 0 || key.length > 255)
    throw invalid(`Invalid property name '${key.slice(0, 300)}': 1 to 255 characters.`);
  if (typeof value !== 'string')
    throw schemaError(`${show(value)} is not of type 'string' (${key})`);
  if (value.length > 65535) throw schemaError(`the value of ${key} is too long`);
  return value;
}
