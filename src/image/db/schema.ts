/**
 * The image tables as Kysely sees them. Column conventions are those of
 * `src/common/db/portable.ts`: ids `varchar(36)`, timestamps ISO strings, booleans 0/1,
 * `locations` JSON text.
 */

export type ImageRow = {
  id: string;
  name: string | null;
  status: string;
  visibility: string;
  protected: number;
  os_hidden: number;
  checksum: string | null;
  os_hash_algo: string | null;
  os_hash_value: string | null;
  /** The project that owns the image (Glance's `owner`). */
  owner: string | null;
  size: number | null;
  virtual_size: number | null;
  disk_format: string | null;
  container_format: string | null;
  min_disk: number;
  min_ram: number;
  created_at: string;
  updated_at: string;
  /** `[{url, metadata}]` where the data lives, JSON; written by the data path. */
  locations: string;
};

/** One extra property (`os_distro`, `hw_disk_bus`, …); Glance stores them all as strings. */
export type ImagePropertyRow = { image_id: string; name: string; value: string };

export type ImageTagRow = { image_id: string; value: string };

export type ImageMemberRow = {
  image_id: string;
  /** The project the image is shared with. */
  member: string;
  status: string;
  created_at: string;
  updated_at: string;
};

export type ImageDatabase = {
  image: ImageRow;
  image_property: ImagePropertyRow;
  image_tag: ImageTagRow;
  image_member: ImageMemberRow;
};
