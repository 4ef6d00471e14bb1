/**
 * Instance rows and what hangs off them (metadata, tags, faults, action records): reads for the
 * API and the workers, and guarded state changes. A state change names the states it expects
 * (Nova's `expected_task_state`), so two workers racing on one instance cannot both win.
 */
import type { Kysely, Transaction } from 'kysely';
import { NotFoundError } from '../common/errors.ts';
import { toDbJson, toDbTimestamp } from '../common/db/portable.ts';
import type { ComputeDatabase, InstanceRow } from './db/schema.ts';
import { instanceOf, type Instance, type Vif } from './instance-model.ts';

export type Db = Kysely<ComputeDatabase> | Transaction<ComputeDatabase>;

/** Who is looking: a project's member sees its own instances, an admin every one. */
export type InstanceViewer = { readonly projectId: string | undefined; readonly isAdmin: boolean };

export type Fault = { code: number; message: string; details: string; created: string };

/** What a view needs besides the row. */
export type InstanceDetail = Instance & {
  metadata: Record<string, string>;
  tags: string[];
  fault: Fault | undefined;
};

export type StateChange = Partial<
  Pick<
    InstanceRow,
    | 'vm_state'
    | 'task_state'
    | 'power_state'
    | 'host'
    | 'node'
    | 'launched_at'
    | 'terminated_at'
    | 'progress'
    | 'locked'
    | 'locked_by'
    | 'locked_reason'
    | 'display_name'
    | 'display_description'
    | 'hostname'
    | 'access_ip_v4'
    | 'access_ip_v6'
    | 'availability_zone'
    | 'deleted'
    | 'deleted_at'
    | 'flavor'
    | 'flavor_id'
    | 'vcpus'
    | 'memory_mb'
    | 'root_gb'
    | 'old_flavor'
    | 'new_flavor'
    | 'image_ref'
    | 'user_data'
    | 'key_name'
    | 'key_data'
    | 'shelved_image_id'
    | 'shelved_at'
    | 'shelved_host'
    | 'request_spec'
  >
> & { networkInfo?: Vif[] };

/** The states a change requires the instance to be in; null stands for "no task". */
export type Expected = { vmState?: readonly string[]; taskState?: readonly (string | null)[] };

export function instanceNotFound(uuid: string): NotFoundError {
  return new NotFoundError(`Instance ${uuid} could not be found.`, 'compute.instance_not_found');
}

export class Instances {
  readonly #db: Kysely<ComputeDatabase>;
  readonly #now: () => Date;

  constructor(db: Kysely<ComputeDatabase>, now: () => Date = () => new Date()) {
    this.#db = db;
    this.#now = now;
  }

  get db(): Kysely<ComputeDatabase> {
    return this.#db;
  }

  now(): Date {
    return this.#now();
  }

  /** The instance, deleted or not; undefined when there never was one. */
  async row(uuid: string, db: Db = this.#db): Promise<Instance | undefined> {
    const row = await db
      .selectFrom('instances')
      .selectAll()
      .where('uuid', '=', uuid)
      .executeTakeFirst();
    return row === undefined ? undefined : instanceOf(row);
  }

  /**
   * The live instance `viewer` may see.
   * @throws NotFoundError (404) for one that is unknown, deleted, or another project's.
   */
  async get(viewer: InstanceViewer, uuid: string): Promise<Instance> {
    const found = await this.row(uuid);
    if (
      found === undefined ||
      found.row.deleted === 1 ||
      (!viewer.isAdmin && found.row.project_id !== viewer.projectId)
    )
      throw instanceNotFound(uuid);
    return found;
  }

  /** Metadata, tags and the latest fault of each instance, in three queries. */
  async details(instances: readonly Instance[]): Promise<InstanceDetail[]> {
    if (instances.length === 0) return [];
    const uuids = instances.map((i) => i.row.uuid);
    const metadata = new Map<string, Record<string, string>>();
    const tags = new Map<string, string[]>();
    const faults = new Map<string, Fault>();
    for (let i = 0; i < uuids.length; i += 500) {
      const chunk = uuids.slice(i, i + 500);
      const [meta, tagRows, faultRows] = await Promise.all([
        this.#db
          .selectFrom('instance_metadata')
          .selectAll()
          .where('instance_uuid', 'in', chunk)
          .execute(),
        this.#db
          .selectFrom('instance_tags')
          .selectAll()
          .where('instance_uuid', 'in', chunk)
          .execute(),
        this.#db
          .selectFrom('instance_faults')
          .selectAll()
          .where('instance_uuid', 'in', chunk)
          .orderBy('id')
          .execute(),
      ]);
      for (const m of meta) {
        const own = metadata.get(m.instance_uuid) ?? {};
        own[m.key] = m.value;
        metadata.set(m.instance_uuid, own);
      }
      for (const t of tagRows)
        tags.set(t.instance_uuid, [...(tags.get(t.instance_uuid) ?? []), t.tag]);
      for (const f of faultRows)
        faults.set(f.instance_uuid, {
          code: f.code,
          message: f.message,
          details: f.details,
          created: f.created_at,
        });
    }
    return instances.map((i) => ({
      ...i,
      metadata: metadata.get(i.row.uuid) ?? {},
      tags: (tags.get(i.row.uuid) ?? []).sort(),
      fault: faults.get(i.row.uuid),
    }));
  }

  /**
   * Changes the instance if it is in the expected states; returns whether it did.
   * `updated_at` moves on with every change.
   */
  async update(
    uuid: string,
    change: StateChange,
    expected: Expected = {},
    db: Db = this.#db,
  ): Promise<boolean> {
    const { networkInfo, ...columns } = change;
    let q = db
      .updateTable('instances')
      .set({
        ...columns,
        ...(networkInfo !== undefined ? { network_info: toDbJson(networkInfo) } : {}),
        updated_at: toDbTimestamp(this.#now()),
      })
      .where('uuid', '=', uuid)
      .where('deleted', '=', 0);
    if (expected.vmState !== undefined) q = q.where('vm_state', 'in', [...expected.vmState]);
    if (expected.taskState !== undefined) {
      const states = expected.taskState.filter((s): s is string => s !== null);
      const none = expected.taskState.includes(null);
      q = q.where((eb) => {
        const terms = [];
        if (states.length > 0) terms.push(eb('task_state', 'in', states));
        if (none) terms.push(eb('task_state', 'is', null));
        return terms.length === 0 ? eb.lit(false) : eb.or(terms);
      });
    }
    const result = await q.executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Records a fault (the newest is the one clients see). */
  async addFault(uuid: string, code: number, message: string, details = '', db: Db = this.#db) {
    await db
      .insertInto('instance_faults')
      .values({
        instance_uuid: uuid,
        code,
        message: message.slice(0, 255),
        details,
        created_at: toDbTimestamp(this.#now()),
      })
      .execute();
  }

  /** Live instances on `host` (the agent's own view of its guests). */
  async onHost(host: string): Promise<Instance[]> {
    const rows = await this.#db
      .selectFrom('instances')
      .selectAll()
      .where('host', '=', host)
      .where('deleted', '=', 0)
      .execute();
    return rows.map(instanceOf);
  }

  /** Starts an instance action record (`create`, `stop`, …) with its first event. */
  async startAction(
    db: Db,
    action: {
      uuids: readonly string[];
      requestId: string;
      action: string;
      projectId: string;
      userId: string;
      /** The API did all of it (lock, unlock): the action is finished as it starts. */
      finished?: boolean;
    },
  ): Promise<void> {
    if (action.uuids.length === 0) return;
    const now = toDbTimestamp(this.#now());
    await db
      .insertInto('instance_actions')
      .values(
        action.uuids.map((uuid) => ({
          instance_uuid: uuid,
          request_id: action.requestId,
          action: action.action,
          project_id: action.projectId,
          user_id: action.userId,
          message: null,
          start_time: now,
          finish_time: action.finished === true ? now : null,
          updated_at: now,
        })),
      )
      .execute();
  }

  /**
   * Records one event of the instance's action for `requestId` (`compute__do_build_and_run_instance`
   * …), and finishes the action with `message` 'Error' when the event failed.
   */
  async recordEvent(
    db: Db,
    uuid: string,
    requestId: string,
    event: {
      event: string;
      host: string | null;
      result: 'Success' | 'Error';
      start: Date;
      details?: string;
    },
  ): Promise<void> {
    const action = await db
      .selectFrom('instance_actions')
      .select('id')
      .where('instance_uuid', '=', uuid)
      .where('request_id', '=', requestId)
      .orderBy('id', 'desc')
      .executeTakeFirst();
    if (action === undefined) return;
    const now = toDbTimestamp(this.#now());
    await db
      .insertInto('instance_action_events')
      .values({
        action_id: action.id,
        event: event.event,
        result: event.result,
        host: event.host,
        details: event.details ?? null,
        traceback: null,
        start_time: toDbTimestamp(event.start),
        finish_time: now,
      })
      .execute();
    await db
      .updateTable('instance_actions')
      .set({
        updated_at: now,
        finish_time: now,
        ...(event.result === 'Error' ? { message: 'Error' } : {}),
      })
      .where('id', '=', action.id)
      .execute();
  }
}
