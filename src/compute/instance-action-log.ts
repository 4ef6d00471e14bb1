/**
 * The action log of an instance (`os-instance-actions`): one record per user request that
 * changed it, newest first, each with the events the workers recorded while doing it.
 */
import { BadRequestError } from '../common/errors.ts';
import type { Selectable } from 'kysely';
import type { InstanceActionEventRow, InstanceActionRow } from './db/schema.ts';
import type { Db } from './instances.ts';

export type ActionRecord = Selectable<InstanceActionRow>;
export type ActionEvent = Selectable<InstanceActionEventRow>;

export type ActionFilters = {
  limit?: number;
  /** The request id of the last action of the previous page. */
  marker?: string;
  changesSince?: string;
  changesBefore?: string;
};

/**
 * The instance's actions, newest first.
 * @throws BadRequestError (400) when the marker is not one of the instance's actions.
 */
export async function listActions(
  db: Db,
  uuid: string,
  filters: ActionFilters = {},
): Promise<ActionRecord[]> {
  let q = db
    .selectFrom('instance_actions')
    .selectAll()
    .where('instance_uuid', '=', uuid)
    .orderBy('start_time', 'desc')
    .orderBy('id', 'desc');
  if (filters.marker !== undefined) {
    const marker = await db
      .selectFrom('instance_actions')
      .select(['id', 'start_time'])
      .where('instance_uuid', '=', uuid)
      .where('request_id', '=', filters.marker)
      .executeTakeFirst();
    if (marker === undefined)
      throw new BadRequestError(
        `Marker ${filters.marker} could not be found.`,
        'compute.marker_not_found',
      );
    q = q.where((eb) =>
      eb.or([
        eb('start_time', '<', marker.start_time),
        eb.and([eb('start_time', '=', marker.start_time), eb('id', '<', marker.id)]),
      ]),
    );
  }
  if (filters.changesSince !== undefined) q = q.where('updated_at', '>=', filters.changesSince);
  if (filters.changesBefore !== undefined) q = q.where('updated_at', '<=', filters.changesBefore);
  if (filters.limit !== undefined) q = q.limit(filters.limit);
  return q.execute();
}

/** The action of `requestId` with its events (oldest first), or undefined. */
export async function actionWithEvents(
  db: Db,
  uuid: string,
  requestId: string,
): Promise<{ action: ActionRecord; events: ActionEvent[] } | undefined> {
  const action = await db
    .selectFrom('instance_actions')
    .selectAll()
    .where('instance_uuid', '=', uuid)
    .where('request_id', '=', requestId)
    .orderBy('id', 'desc')
    .executeTakeFirst();
  if (action === undefined) return undefined;
  const events = await db
    .selectFrom('instance_action_events')
    .selectAll()
    .where('action_id', '=', action.id)
    .orderBy('id')
    .execute();
  return { action, events };
}
