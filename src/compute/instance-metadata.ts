/**
 * A server's metadata (key/value pairs) and tags, changed by their owner through the API. Each
 * change is one transaction, checked against the instance's state as Nova checks it: metadata
 * and tags change only while the instance is settled (active, paused, suspended or stopped).
 */
import { BadRequestError, ForbiddenError, NotFoundError } from '../common/errors.ts';
import type { Instance } from './instance-model.ts';
import type { Db, Instances } from './instances.ts';
import { checkLock, checkState, type Actor } from './server-actions.ts';

const SETTLED = ['active', 'paused', 'suspended', 'stopped'] as const;

/** Nova's `MAX_TAG_COUNT` and tag length. */
export const MAX_TAGS = 50;
export const MAX_TAG_LENGTH = 60;

export async function metadataOf(
  instances: Instances,
  uuid: string,
  db: Db = instances.db,
): Promise<Record<string, string>> {
  const rows = await db
    .selectFrom('instance_metadata')
    .select(['key', 'value'])
    .where('instance_uuid', '=', uuid)
    .execute();
  return Object.fromEntries(rows.map((r) => [r.key, r.value]));
}

/**
 * Sets `items` (all of the metadata when `replace`, else merged into it); returns the result.
 * @throws ConflictError (409) for a locked instance or one that is not settled;
 *   ForbiddenError (403) beyond `limit` items.
 */
export async function setMetadata(
  instances: Instances,
  instance: Instance,
  actor: Actor,
  items: Readonly<Record<string, string>>,
  replace: boolean,
  /** The project's `metadata_items` quota (-1: unlimited). */
  limit: number,
): Promise<Record<string, string>> {
  checkLock(instance, actor);
  checkState(instance, 'update metadata', SETTLED);
  const uuid = instance.row.uuid;
  return instances.db.transaction().execute(async (trx) => {
    const current = replace ? {} : await metadataOf(instances, uuid, trx);
    const next = { ...current, ...items };
    if (limit >= 0 && Object.keys(next).length > limit)
      throw new ForbiddenError(
        `Maximum number of metadata items exceeds ${limit}`,
        'compute.over_quota',
      );
    const keys = Object.keys(items);
    const del = trx.deleteFrom('instance_metadata').where('instance_uuid', '=', uuid);
    if (replace) await del.execute();
    else if (keys.length > 0) await del.where('key', 'in', keys).execute();
    const rows = Object.entries(replace ? next : items).map(([key, value]) => ({
      instance_uuid: uuid,
      key,
      value,
    }));
    if (rows.length > 0) await trx.insertInto('instance_metadata').values(rows).execute();
    await instances.update(uuid, {}, {}, trx);
    return next;
  });
}

/**
 * Removes one key.
 * @throws NotFoundError (404) when there is no such key; ConflictError (409) as `setMetadata`.
 */
export async function deleteMetadataKey(
  instances: Instances,
  instance: Instance,
  actor: Actor,
  key: string,
): Promise<void> {
  const uuid = instance.row.uuid;
  const current = await metadataOf(instances, uuid);
  if (!Object.hasOwn(current, key))
    throw new NotFoundError('Metadata item was not found', 'compute.metadata_not_found');
  checkLock(instance, actor);
  checkState(instance, 'delete metadata', SETTLED);
  await instances.db.transaction().execute(async (trx) => {
    await trx
      .deleteFrom('instance_metadata')
      .where('instance_uuid', '=', uuid)
      .where('key', '=', key)
      .execute();
    await instances.update(uuid, {}, {}, trx);
  });
}

export async function tagsOf(instances: Instances, uuid: string): Promise<string[]> {
  const rows = await instances.db
    .selectFrom('instance_tags')
    .select('tag')
    .where('instance_uuid', '=', uuid)
    .orderBy('tag')
    .execute();
  return rows.map((r) => r.tag);
}

/** A tag as Nova takes it: 1–60 characters with no '/' or ','. */
export function isValidTag(tag: unknown): boolean {
  return (
    typeof tag === 'string' && tag.length >= 1 && tag.length <= MAX_TAG_LENGTH && !/[,/]/.test(tag)
  );
}

/**
 * Replaces every tag (duplicates collapse); returns them sorted.
 * @throws ConflictError (409) for an instance that is not settled.
 */
export async function replaceTags(
  instances: Instances,
  instance: Instance,
  tags: readonly string[],
): Promise<string[]> {
  checkState(instance, 'update tags', SETTLED, [instance.row.task_state]);
  const uuid = instance.row.uuid;
  const unique = [...new Set(tags)].sort();
  await instances.db.transaction().execute(async (trx) => {
    await trx.deleteFrom('instance_tags').where('instance_uuid', '=', uuid).execute();
    if (unique.length > 0)
      await trx
        .insertInto('instance_tags')
        .values(unique.map((tag) => ({ instance_uuid: uuid, tag })))
        .execute();
    await instances.update(uuid, {}, {}, trx);
  });
  return unique;
}

/**
 * Adds one tag; returns false when the server had it already.
 * @throws BadRequestError (400) beyond `MAX_TAGS`; ConflictError (409) as `replaceTags`.
 */
export async function addTag(
  instances: Instances,
  instance: Instance,
  tag: string,
): Promise<boolean> {
  checkState(instance, 'update tag', SETTLED, [instance.row.task_state]);
  const uuid = instance.row.uuid;
  return instances.db.transaction().execute(async (trx) => {
    const existing = await trx
      .selectFrom('instance_tags')
      .select('tag')
      .where('instance_uuid', '=', uuid)
      .execute();
    if (existing.some((r) => r.tag === tag)) return false;
    if (existing.length >= MAX_TAGS)
      throw new BadRequestError(
        `The number of tags exceeded the per-server limit ${MAX_TAGS}`,
        'compute.too_many_tags',
      );
    await trx.insertInto('instance_tags').values({ instance_uuid: uuid, tag }).execute();
    await instances.update(uuid, {}, {}, trx);
    return true;
  });
}

/**
 * Removes one tag, or every tag when `tag` is undefined.
 * @throws NotFoundError (404) when the server has no such tag; ConflictError (409) as
 *   `replaceTags`.
 */
export async function deleteTags(
  instances: Instances,
  instance: Instance,
  tag: string | undefined,
): Promise<void> {
  checkState(instance, tag === undefined ? 'delete tags' : 'delete tag', SETTLED, [
    instance.row.task_state,
  ]);
  const uuid = instance.row.uuid;
  await instances.db.transaction().execute(async (trx) => {
    let q = trx.deleteFrom('instance_tags').where('instance_uuid', '=', uuid);
    if (tag !== undefined) q = q.where('tag', '=', tag);
    const result = await q.executeTakeFirst();
    if (tag !== undefined && Number(result.numDeletedRows) === 0)
      throw new NotFoundError(`Instance ${uuid} has no tag '${tag}'`, 'compute.tag_not_found');
    await instances.update(uuid, {}, {}, trx);
  });
}
