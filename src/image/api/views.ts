/** Images and members as Glance renders them: timestamps without fractions, links as paths. */
import type { Image } from '../images.ts';
import type { Member } from '../members.ts';
import { locationsOf, storeIdOf, type StoreSet } from '../store/store-set.ts';

/** `2016-06-29T16:13:07Z`, Glance's form. */
export function glanceTime(iso: string): string {
  return iso.replace(/\.\d+Z$/, 'Z');
}

/** An image as Glance shows it; with several stores, `stores` names those holding its data. */
export function imageView(image: Image, stores?: StoreSet): Record<string, unknown> {
  const held = stores?.multiple
    ? locationsOf(image.locations).map((l) => storeIdOf(l, stores.defaultId))
    : [];
  return {
    // Extra properties first, so a base attribute can never be shadowed by one.
    ...image.properties,
    id: image.id,
    name: image.name,
    status: image.status,
    visibility: image.visibility,
    protected: image.protected,
    os_hidden: image.os_hidden,
    checksum: image.checksum,
    os_hash_algo: image.os_hash_algo,
    os_hash_value: image.os_hash_value,
    size: image.size,
    virtual_size: image.virtual_size,
    disk_format: image.disk_format,
    container_format: image.container_format,
    min_disk: image.min_disk,
    min_ram: image.min_ram,
    owner: image.owner,
    tags: image.tags,
    created_at: glanceTime(image.created_at),
    updated_at: glanceTime(image.updated_at),
    self: `/v2/images/${image.id}`,
    file: `/v2/images/${image.id}/file`,
    schema: '/v2/schemas/image',
    ...(held.length > 0 ? { stores: held.join(',') } : {}),
  };
}

export function memberView(member: Member): Record<string, unknown> {
  return {
    image_id: member.image_id,
    member_id: member.member_id,
    status: member.status,
    created_at: glanceTime(member.created_at),
    updated_at: glanceTime(member.updated_at),
    schema: '/v2/schemas/member',
  };
}
