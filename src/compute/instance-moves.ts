/**
 * Moving an instance between hosts: resize (a new flavor) and cold migration (the same flavor,
 * another host), then confirming or reverting the move. Each request records a migration (Nova's
 * `migrations` row), the instance's task state and a task, in one transaction; the conductor
 * schedules the destination and the hosts' agents do the rest (see `agent/move-steps.ts`).
 */
import { randomUUID } from 'node:crypto';
import type { Selectable } from 'kysely';
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError } from '../common/errors.ts';
import { fromDbJson, toDbJson, toDbTimestamp } from '../common/db/portable.ts';
import type { MigrationRow } from './db/schema.ts';
import type { FlavorSnapshot, Instance } from './instance-model.ts';
import type { Db, StateChange } from './instances.ts';
import type { Quotas } from './quotas.ts';
import {
  checkLock,
  checkState,
  requestWork,
  type ActionDeps,
  type Actor,
} from './server-actions.ts';
import { POWER_STATE } from './virt/driver.ts';

export type Migration = Selectable<MigrationRow>;

export type MoveKind = 'resize' | 'migration' | 'live-migration' | 'evacuation';

/** What a move task carries: its migration, and the step the next worker does. */
export type MoveStep =
  | 'schedule'
  | 'resize_source'
  | 'resize_dest'
  | 'confirm_source'
  | 'revert_dest'
  | 'revert_source'
  | 'live_dest_prepare'
  | 'live_source_run'
  | 'live_dest_finish'
  | 'evacuate_dest';

export function migrationNotFound(id: string | number): NotFoundError {
  return new NotFoundError(`Migration ${id} could not be found.`, 'compute.migration_not_found');
}

export async function migrationOf(db: Db, uuid: string): Promise<Migration | undefined> {
  return db.selectFrom('migrations').selectAll().where('uuid', '=', uuid).executeTakeFirst();
}

/** The instance's move waiting for a confirm or revert (status `finished`). */
export async function pendingMigration(
  db: Db,
  instanceUuid: string,
): Promise<Migration | undefined> {
  return db
    .selectFrom('migrations')
    .selectAll()
    .where('instance_uuid', '=', instanceUuid)
    .where('status', '=', 'finished')
    .orderBy('id', 'desc')
    .executeTakeFirst();
}

export async function setMigration(
  db: Db,
  uuid: string,
  change: Partial<Pick<MigrationRow, 'status' | 'dest_compute' | 'dest_node' | 'dest_host'>>,
  now: Date,
): Promise<void> {
  await db
    .updateTable('migrations')
    .set({ ...change, updated_at: toDbTimestamp(now) })
    .where('uuid', '=', uuid)
    .execute();
}

/** The instance columns that follow its flavor. */
export function flavorColumns(flavor: FlavorSnapshot): StateChange {
  return {
    flavor: toDbJson(flavor),
    flavor_id: flavor.flavorid,
    vcpus: flavor.vcpus,
    memory_mb: flavor.memory_mb,
    root_gb: flavor.root_gb,
  };
}

export function flavorOfColumn(json: string | null): FlavorSnapshot | undefined {
  return json === null ? undefined : (fromDbJson(json) as FlavorSnapshot);
}

export type MoveDeps = ActionDeps & { quotas: Quotas };

/**
 * Asks for a resize to `flavor` (or, with `kind` 'migration', a cold migration to `host` or any
 * other host).
 * @throws ConflictError (409) for a locked instance or a state that cannot move;
 *   BadRequestError (400) for the same flavor, a smaller disk, or an unknown host;
 *   ForbiddenError (403) when the bigger flavor does not fit the quota.
 */
/** Per kind: the instance action, the states it may start from, the task state it sets. */
const KINDS: Readonly<
  Record<MoveKind, { action: string; from: readonly string[]; taskState: string; status: string }>
> = {
  resize: {
    action: 'resize',
    from: ['active', 'stopped'],
    taskState: 'resize_prep',
    status: 'pre-migrating',
  },
  migration: {
    action: 'migrate',
    from: ['active', 'stopped'],
    taskState: 'resize_prep',
    status: 'pre-migrating',
  },
  'live-migration': {
    action: 'live-migration',
    from: ['active', 'paused'],
    taskState: 'migrating',
    status: 'accepted',
  },
  evacuation: {
    action: 'evacuate',
    from: ['active', 'stopped', 'paused', 'suspended', 'error'],
    taskState: 'rebuilding',
    status: 'accepted',
  },
};

export async function requestMove(
  deps: MoveDeps,
  instance: Instance,
  actor: Actor,
  move: { kind: MoveKind; flavor: FlavorSnapshot; host?: string },
): Promise<void> {
  const kind = KINDS[move.kind];
  const action = kind.action;
  checkLock(instance, actor);
  checkState(instance, action, kind.from);
  const { row, flavor: old } = instance;
  if (row.host === null)
    throw new BadRequestError(
      `Instance ${row.uuid} has no host to move from.`,
      'compute.bad_request',
    );
  if (move.kind === 'resize') {
    if (move.flavor.flavorid === old.flavorid)
      throw new BadRequestError(
        'When resizing, instances must change flavor!',
        'compute.bad_request',
      );
    if (move.flavor.root_gb < old.root_gb && move.flavor.root_gb !== 0)
      throw new BadRequestError(
        'Resizing to a smaller disk flavor is not allowed.',
        'compute.bad_request',
      );
    await checkGrowth(deps, instance, move.flavor);
  }
  if (move.kind === 'evacuation') {
    const service = await deps.hosts.service(row.host, 'nova-compute');
    if (service !== undefined && deps.hosts.isUp(service))
      throw new ConflictError(
        `Compute service of ${row.host} is still in use.`,
        'compute.host_in_use',
      );
  }
  if (move.host !== undefined) {
    if ((await deps.hosts.service(move.host, 'nova-compute')) === undefined)
      throw new BadRequestError(
        `Compute host ${move.host} could not be found.`,
        'compute.bad_request',
      );
    if (move.host === row.host)
      throw new BadRequestError(
        `Unable to migrate instance (${row.uuid}) to current host (${row.host}).`,
        'compute.bad_request',
      );
  }
  const migration = randomUUID();
  const now = toDbTimestamp(deps.instances.now());
  await requestWork(deps, instance, actor, {
    action,
    change: {
      task_state: kind.taskState,
      ...(kind.taskState === 'resize_prep'
        ? { new_flavor: toDbJson(move.flavor), old_flavor: toDbJson(old) }
        : {}),
    },
    expected: { vmState: kind.from, taskState: [null] },
    within: async (trx) => {
      await trx
        .insertInto('migrations')
        .values({
          uuid: migration,
          instance_uuid: row.uuid,
          migration_type: move.kind,
          status: kind.status,
          source_compute: row.host,
          source_node: row.node,
          dest_compute: null,
          dest_node: null,
          dest_host: move.host ?? null,
          old_flavor_id: old.flavorid,
          new_flavor_id: move.flavor.flavorid,
          project_id: row.project_id,
          user_id: row.user_id,
          created_at: now,
          updated_at: now,
        })
        .execute();
    },
    task: {
      kind: 'move',
      stage: 'conductor',
      payload: {
        migration,
        step: 'schedule',
        oldVmState: row.vm_state,
        ...(move.host !== undefined ? { host: move.host } : {}),
      },
    },
  });
}

/** A resize to more vCPUs or memory must fit the project's quota. */
async function checkGrowth(deps: MoveDeps, instance: Instance, flavor: FlavorSnapshot) {
  const [limits, used] = await Promise.all([
    deps.quotas.limitsOf(instance.row.project_id),
    deps.quotas.usageOf(instance.row.project_id),
  ]);
  const growth = {
    cores: flavor.vcpus - instance.flavor.vcpus,
    ram: flavor.memory_mb - instance.flavor.memory_mb,
  };
  for (const resource of ['cores', 'ram'] as const) {
    const delta = growth[resource];
    if (delta > 0 && limits[resource] >= 0 && used[resource] + delta > limits[resource])
      throw new ForbiddenError(
        `Quota exceeded for ${resource}: Requested ${delta}, but already used ${used[resource]} of ${limits[resource]} ${resource}`,
        'compute.quota_exceeded',
      );
  }
}

/**
 * Confirms (`confirmResize`) or reverts (`revertResize`) a finished move.
 * @throws ConflictError (409) unless the instance is in VERIFY_RESIZE; BadRequestError (400)
 *   when it has no finished move.
 */
export async function requestMoveEnd(
  deps: ActionDeps,
  instance: Instance,
  actor: Actor,
  end: 'confirm' | 'revert',
): Promise<void> {
  const action = end === 'confirm' ? 'confirmResize' : 'revertResize';
  checkLock(instance, actor);
  checkState(instance, action, ['resized']);
  const migration = await pendingMigration(deps.instances.db, instance.row.uuid);
  if (migration === undefined)
    throw new BadRequestError(`Instance has not been resized.`, 'compute.migration_not_found');
  const step: MoveStep = end === 'confirm' ? 'confirm_source' : 'revert_dest';
  const host = end === 'confirm' ? migration.source_compute : migration.dest_compute;
  await requestWork(deps, instance, actor, {
    action,
    change: end === 'revert' ? { task_state: 'resize_reverting' } : {},
    expected: { vmState: ['resized'], taskState: [null] },
    within: (trx) =>
      setMigration(
        trx,
        migration.uuid,
        { status: end === 'confirm' ? 'confirming' : 'reverting' },
        deps.instances.now(),
      ),
    task: {
      kind: 'move',
      stage: 'host',
      host,
      payload: {
        migration: migration.uuid,
        step,
        oldVmState: instance.row.power_state === POWER_STATE.SHUTDOWN ? 'stopped' : 'active',
      },
    },
  });
}

export type MigrationFilters = {
  host?: string;
  status?: string;
  instanceUuid?: string;
  migrationType?: string;
  projectId?: string;
  userId?: string;
  changesSince?: string;
  changesBefore?: string;
  limit?: number;
  marker?: string;
};

/** Migrations newest first, filtered as `os-migrations` filters them. */
export async function listMigrations(db: Db, f: MigrationFilters): Promise<Migration[]> {
  let q = db
    .selectFrom('migrations')
    .selectAll()
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc');
  if (f.host !== undefined)
    q = q.where((eb) =>
      eb.or([
        eb('source_compute', '=', f.host as string),
        eb('dest_compute', '=', f.host as string),
      ]),
    );
  if (f.status !== undefined) q = q.where('status', '=', f.status);
  if (f.instanceUuid !== undefined) q = q.where('instance_uuid', '=', f.instanceUuid);
  if (f.migrationType !== undefined) q = q.where('migration_type', '=', f.migrationType);
  if (f.projectId !== undefined) q = q.where('project_id', '=', f.projectId);
  if (f.userId !== undefined) q = q.where('user_id', '=', f.userId);
  if (f.changesSince !== undefined) q = q.where('updated_at', '>=', f.changesSince);
  if (f.changesBefore !== undefined) q = q.where('updated_at', '<=', f.changesBefore);
  if (f.marker !== undefined) {
    const marker = await migrationOf(db, f.marker);
    if (marker === undefined)
      throw new BadRequestError(
        `Marker ${f.marker} could not be found.`,
        'compute.marker_not_found',
      );
    q = q.where((eb) =>
      eb.or([
        eb('created_at', '<', marker.created_at),
        eb.and([eb('created_at', '=', marker.created_at), eb('id', '<', marker.id)]),
      ]),
    );
  }
  if (f.limit !== undefined) q = q.limit(f.limit);
  return q.execute();
}
