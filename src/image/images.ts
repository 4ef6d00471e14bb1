/**
 * Images (Glance's image domain, without the data path): create, show, update, delete, the status
 * machine, visibility (who may see what), tags and per-project quotas. Policy (who may *change*
 * what) is the API's; this layer decides what exists for a caller: an image a caller may not see
 * is a 404, never a 403, so ids of other projects' private images are not confirmed.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import {
  DuplicateKeyError,
  fromDbBoolean,
  toDbBoolean,
  toDbJson,
  toDbTimestamp,
} from '../common/db/portable.ts';
import type { ImageConfig } from './config.ts';
import type { ImageDatabase, ImageRow } from './db/schema.ts';
import { conflict, forbidden, imageNotFound, invalid, overLimit, tagNotFound } from './errors.ts';
import {
  checkProperty,
  checkTag,
  isUuid,
  type ImageStatus,
  type Visibility,
  type WritableFields,
} from './image-fields.ts';

/** Who is asking: the project of the token, and whether it is an admin (`context_is_admin`). */
export type Viewer = { projectId: string | undefined; isAdmin: boolean };

export type Image = WritableFields & {
  id: string;
  status: ImageStatus;
  checksum: string | null;
  os_hash_algo: string | null;
  os_hash_value: string | null;
  size: number | null;
  virtual_size: number | null;
  /** ISO timestamps as stored (`toISOString`). */
  created_at: string;
  updated_at: string;
  locations: unknown[];
};

export type NewImage = Partial<WritableFields> & { id?: string };

/** Fields the data path sets when it moves an image along the status machine. */
export type DataFields = Partial<
  Pick<Image, 'checksum' | 'os_hash_algo' | 'os_hash_value' | 'size' | 'virtual_size' | 'locations'>
>;

export type Db = Kysely<ImageDatabase>;

/** The property that marks an import or copy in progress (Glance's lock). */
export const IMPORT_LOCK = 'os_glance_import_task';

export function toImage(row: ImageRow, tags: string[], properties: Record<string, string>): Image {
  return {
    id: row.id,
    name: row.name,
    status: row.status as ImageStatus,
    visibility: row.visibility as Visibility,
    protected: fromDbBoolean(row.protected),
    os_hidden: fromDbBoolean(row.os_hidden),
    checksum: row.checksum,
    os_hash_algo: row.os_hash_algo,
    os_hash_value: row.os_hash_value,
    owner: row.owner,
    size: row.size === null ? null : Number(row.size),
    virtual_size: row.virtual_size === null ? null : Number(row.virtual_size),
    disk_format: row.disk_format,
    container_format: row.container_format,
    min_disk: row.min_disk,
    min_ram: row.min_ram,
    created_at: row.created_at,
    updated_at: row.updated_at,
    locations: JSON.parse(row.locations) as unknown[],
    tags,
    properties,
  };
}

/** Whether `viewer` may see `image` at all; `membership` is the viewer's member row, if any. */
export function canSee(viewer: Viewer, image: Image, isMember: boolean): boolean {
  if (viewer.isAdmin) return true;
  if (image.owner !== null && image.owner === viewer.projectId) return true;
  if (image.visibility === 'public' || image.visibility === 'community') return true;
  return image.visibility === 'shared' && isMember;
}

export class Images {
  readonly #db: Db;
  readonly #config: ImageConfig;
  readonly #now: () => Date;

  constructor(db: Db, config: ImageConfig, now: () => Date = () => new Date()) {
    this.#db = db;
    this.#config = config;
    this.#now = now;
  }

  /** Loads tags and properties of many images in two queries. */
  async hydrate(rows: readonly ImageRow[]): Promise<Image[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const [tags, props] = await Promise.all([
      this.#db
        .selectFrom('image_tag')
        .selectAll()
        .where('image_id', 'in', ids)
        .orderBy('value')
        .execute(),
      this.#db
        .selectFrom('image_property')
        .selectAll()
        .where('image_id', 'in', ids)
        .orderBy('name')
        .execute(),
    ]);
    const tagsOf = new Map<string, string[]>();
    for (const t of tags) tagsOf.set(t.image_id, [...(tagsOf.get(t.image_id) ?? []), t.value]);
    const propsOf = new Map<string, Record<string, string>>();
    for (const p of props) {
      const bag = propsOf.get(p.image_id) ?? {};
      bag[p.name] = p.value;
      propsOf.set(p.image_id, bag);
    }
    return rows.map((r) => toImage(r, tagsOf.get(r.id) ?? [], propsOf.get(r.id) ?? {}));
  }

  /** The image as stored, whoever asks (for the data path and internal checks). */
  async find(id: string): Promise<Image | undefined> {
    if (!isUuid(id)) return undefined;
    const row = await this.#db
      .selectFrom('image')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && (await this.hydrate([row]))[0];
  }

  /** The viewer's membership status on an image, if it is a member. */
  async membership(imageId: string, projectId: string | undefined): Promise<string | undefined> {
    if (projectId === undefined) return undefined;
    const row = await this.#db
      .selectFrom('image_member')
      .select('status')
      .where('image_id', '=', imageId)
      .where('member', '=', projectId)
      .executeTakeFirst();
    return row?.status;
  }

  /** @throws NotFoundError (404) if the image does not exist or the viewer may not see it. */
  async get(viewer: Viewer, id: string): Promise<Image> {
    const image = await this.find(id);
    if (!image) throw imageNotFound(id);
    const member =
      image.visibility === 'shared' ? await this.membership(id, viewer.projectId) : undefined;
    if (!canSee(viewer, image, member !== undefined)) throw imageNotFound(id);
    return image;
  }

  /** Images and bytes a project owns. */
  async usage(projectId: string): Promise<{ count: number; bytes: number }> {
    const row = await this.#db
      .selectFrom('image')
      .select((eb) => [
        eb.fn.countAll<number>().as('count'),
        eb.fn.sum<number | null>('size').as('bytes'),
      ])
      .where('owner', '=', projectId)
      .executeTakeFirstOrThrow();
    return { count: Number(row.count), bytes: Number(row.bytes ?? 0) };
  }

  /**
   * For the data path, before accepting `bytes` more for an image of `owner`: the single-image
   * cap and the project's total.
   * @throws PayloadTooLargeError (413).
   */
  async checkSizeQuota(owner: string | null, bytes: number): Promise<void> {
    if (bytes > this.#config.image_size_cap)
      throw overLimit(
        `Image exceeds the storage quota: the size cap is ${this.#config.image_size_cap} bytes.`,
      );
    const quota = this.#config.image_size_quota_bytes;
    if (quota < 0 || owner === null) return;
    const { bytes: used } = await this.usage(owner);
    if (used + bytes > quota)
      throw overLimit(
        `Project ${owner} is over a limit for [Resource image_size_total is over limit of ${quota} due to current usage ${used} and delta ${bytes}]`,
      );
  }

  /**
   * Creates an image in `queued`. The owner is the viewer's project unless an admin names one.
   * @throws PayloadTooLargeError (413) over the project's image count or a per-image quota;
   *   ConflictError (409) if the id is taken.
   */
  async create(viewer: Viewer, input: NewImage): Promise<Image> {
    const owner = input.owner !== undefined ? input.owner : (viewer.projectId ?? null);
    if (owner !== viewer.projectId && !viewer.isAdmin)
      throw forbidden('You are not permitted to create images owned by another project.');
    const quota = this.#config.image_count_quota;
    if (quota >= 0 && owner !== null) {
      const { count } = await this.usage(owner);
      if (count + 1 > quota)
        throw overLimit(
          `Project ${owner} is over a limit for [Resource image_count_total is over limit of ${quota} due to current usage ${count} and delta 1]`,
        );
    }
    const now = toDbTimestamp(this.#now());
    const id = input.id ?? randomUUID();
    if (!isUuid(id))
      throw invalid(
        `Provided object does not match schema 'image': '${id}' is not a valid id (id)`,
      );
    const fields = this.#checkCollections(input.tags ?? [], input.properties ?? {});
    const row: ImageRow = {
      id: id.toLowerCase(),
      name: input.name ?? null,
      status: 'queued',
      visibility: input.visibility ?? 'shared',
      protected: toDbBoolean(input.protected ?? false),
      os_hidden: toDbBoolean(input.os_hidden ?? false),
      checksum: null,
      os_hash_algo: null,
      os_hash_value: null,
      owner,
      size: null,
      virtual_size: null,
      disk_format: input.disk_format ?? null,
      container_format: input.container_format ?? null,
      min_disk: input.min_disk ?? 0,
      min_ram: input.min_ram ?? 0,
      created_at: now,
      updated_at: now,
      locations: '[]',
    };
    try {
      await this.#db.transaction().execute(async (tx) => {
        await tx.insertInto('image').values(row).execute();
        await writeCollections(tx, row.id, fields.tags, fields.properties);
      });
    } catch (err) {
      if (err instanceof DuplicateKeyError)
        throw conflict(`An image with identifier ${row.id} already exists`);
      throw err;
    }
    return toImage(row, fields.tags, fields.properties);
  }

  /** Writes the new writable fields of an image the caller may change (the API checked policy). */
  async update(current: Image, next: WritableFields): Promise<Image> {
    const fields = this.#checkCollections(next.tags, next.properties);
    const updated_at = toDbTimestamp(this.#now());
    await this.#db.transaction().execute(async (tx) => {
      await tx
        .updateTable('image')
        .set({
          name: next.name,
          visibility: next.visibility,
          protected: toDbBoolean(next.protected),
          os_hidden: toDbBoolean(next.os_hidden),
          owner: next.owner,
          disk_format: next.disk_format,
          container_format: next.container_format,
          min_disk: next.min_disk,
          min_ram: next.min_ram,
          updated_at,
        })
        .where('id', '=', current.id)
        .execute();
      await tx.deleteFrom('image_tag').where('image_id', '=', current.id).execute();
      await tx.deleteFrom('image_property').where('image_id', '=', current.id).execute();
      await writeCollections(tx, current.id, fields.tags, fields.properties);
    });
    return { ...current, ...next, ...fields, updated_at };
  }

  /** Adds one tag; idempotent. @throws PayloadTooLargeError (413) over the tag quota. */
  async addTag(image: Image, tag: string): Promise<void> {
    checkTag(tag);
    if (image.tags.includes(tag)) return;
    this.#checkCollections([...image.tags, tag], {});
    try {
      await this.#db.insertInto('image_tag').values({ image_id: image.id, value: tag }).execute();
    } catch (err) {
      if (!(err instanceof DuplicateKeyError)) throw err;
    }
    await this.#touch(image.id);
  }

  /** @throws NotFoundError (404) if the image has no such tag. */
  async removeTag(image: Image, tag: string): Promise<void> {
    if (!image.tags.includes(tag)) throw tagNotFound(tag);
    await this.#db
      .deleteFrom('image_tag')
      .where('image_id', '=', image.id)
      .where('value', '=', tag)
      .execute();
    await this.#touch(image.id);
  }

  /**
   * Deletes an image and what hangs off it; returns it as it was, so the data path can remove
   * its data from `locations`. @throws ForbiddenError (403) if protected.
   */
  async delete(image: Image): Promise<Image> {
    if (image.protected) throw forbidden(`Image ${image.id} is protected and cannot be deleted.`);
    await this.#db.deleteFrom('image').where('id', '=', image.id).execute();
    return image;
  }

  /** active → deactivated (idempotent). @throws ForbiddenError (403) from any other status. */
  async deactivate(image: Image): Promise<void> {
    if (image.status === 'deactivated') return;
    if (image.status !== 'active')
      throw forbidden(`Not allowed to deactivate image in status '${image.status}'`);
    await this.transition(image.id, ['active'], 'deactivated');
  }

  /** deactivated → active (idempotent). @throws ForbiddenError (403) from any other status. */
  async reactivate(image: Image): Promise<void> {
    if (image.status === 'active') return;
    if (image.status !== 'deactivated')
      throw forbidden(`Not allowed to reactivate image in status '${image.status}'`);
    await this.transition(image.id, ['deactivated'], 'active');
  }

  /**
   * Moves an image from one of `from` to `to` in one conditional update, with the data fields
   * the step sets (the data path: queued → saving → active, or → killed).
   * @throws ConflictError (409) if the image is no longer in one of `from`.
   */
  async transition(
    id: string,
    from: readonly ImageStatus[],
    to: ImageStatus,
    data: DataFields = {},
  ): Promise<void> {
    const { locations, ...rest } = data;
    const result = await this.#db
      .updateTable('image')
      .set({
        ...rest,
        ...(locations !== undefined ? { locations: toDbJson(locations) } : {}),
        status: to,
        updated_at: toDbTimestamp(this.#now()),
      })
      .where('id', '=', id)
      .where('status', 'in', [...from])
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0)
      throw conflict(`Image ${id} is not in a status that allows it to become ${to}.`);
  }

  /**
   * Sets or removes (`null`) properties the service itself keeps (`os_glance_*`), which callers
   * may not write; the image's `updated_at` moves with them.
   */
  async setSystemProperties(id: string, props: Record<string, string | null>): Promise<void> {
    await this.#db.transaction().execute(async (tx) => {
      for (const [name, value] of Object.entries(props)) {
        await tx
          .deleteFrom('image_property')
          .where('image_id', '=', id)
          .where('name', '=', name)
          .execute();
        if (value !== null)
          await tx.insertInto('image_property').values({ image_id: id, name, value }).execute();
      }
      await tx
        .updateTable('image')
        .set({ updated_at: toDbTimestamp(this.#now()) })
        .where('id', '=', id)
        .execute();
    });
  }

  /**
   * Takes the image's import lock (`os_glance_import_task`), as Glance does, in one insert.
   * @throws ConflictError (409) while another import or copy holds it.
   */
  async lockImport(id: string, task: string): Promise<void> {
    try {
      await this.#db
        .insertInto('image_property')
        .values({ image_id: id, name: IMPORT_LOCK, value: task })
        .execute();
    } catch (err) {
      if (err instanceof DuplicateKeyError)
        throw conflict(
          `New operation on image '${id}' is not permitted as prior operation is still in progress`,
        );
      throw err;
    }
    await this.#touch(id);
  }

  /** Replaces where the data lives, whatever the status (copy-image adds stores). */
  async setLocations(id: string, locations: readonly unknown[]): Promise<void> {
    await this.#db
      .updateTable('image')
      .set({ locations: toDbJson(locations), updated_at: toDbTimestamp(this.#now()) })
      .where('id', '=', id)
      .execute();
  }

  /** Renews the lease of work in progress on an image (its `updated_at`). */
  async touch(id: string): Promise<void> {
    await this.#touch(id);
  }

  /**
   * Images whose work in progress stopped renewing its lease before `before`: uploads and
   * imports (`statuses`) and imports holding the import lock.
   */
  async stalled(statuses: readonly ImageStatus[], before: Date): Promise<Image[]> {
    const cutoff = toDbTimestamp(before);
    const rows = await this.#db
      .selectFrom('image')
      .selectAll()
      .where('updated_at', '<', cutoff)
      .where((eb) =>
        eb.or([
          eb('status', 'in', [...statuses]),
          eb(
            'id',
            'in',
            eb.selectFrom('image_property').select('image_id').where('name', '=', IMPORT_LOCK),
          ),
        ]),
      )
      .execute();
    return this.hydrate(rows);
  }

  /** Every image's locations, for the stores' orphan sweep. */
  async allLocations(): Promise<{ id: string; status: ImageStatus; locations: unknown[] }[]> {
    const rows = await this.#db.selectFrom('image').select(['id', 'status', 'locations']).execute();
    return rows.map((r) => ({
      id: r.id,
      status: r.status as ImageStatus,
      locations: JSON.parse(r.locations) as unknown[],
    }));
  }

  #checkCollections(tags: string[], properties: Record<string, string>) {
    const tagQuota = this.#config.image_tag_quota;
    const uniqueTags = [...new Set(tags.map(checkTag))];
    if (tagQuota >= 0 && uniqueTags.length > tagQuota)
      throw overLimit(`Maximum number of tags exceeded: an image may have ${tagQuota}.`);
    const propQuota = this.#config.image_property_quota;
    for (const [k, v] of Object.entries(properties)) checkProperty(k, v);
    if (propQuota >= 0 && Object.keys(properties).length > propQuota)
      throw overLimit(`Maximum number of properties exceeded: an image may have ${propQuota}.`);
    return { tags: uniqueTags, properties };
  }

  async #touch(id: string): Promise<void> {
    await this.#db
      .updateTable('image')
      .set({ updated_at: toDbTimestamp(this.#now()) })
      .where('id', '=', id)
      .execute();
  }
}

async function writeCollections(
  tx: Transaction<ImageDatabase>,
  id: string,
  tags: readonly string[],
  properties: Record<string, string>,
): Promise<void> {
  if (tags.length > 0)
    await tx
      .insertInto('image_tag')
      .values(tags.map((value) => ({ image_id: id, value })))
      .execute();
  const props = Object.entries(properties);
  if (props.length > 0)
    await tx
      .insertInto('image_property')
      .values(props.map(([name, value]) => ({ image_id: id, name, value })))
      .execute();
}
