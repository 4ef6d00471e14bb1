/**
 * Durable compute work (ARCHITECTURE.md §1.3): every build, delete or action is a task row
 * written in the same transaction as the state change that asks for it. A message then tells
 * the worker (conductor or a host's agent) to start, but the row is the truth: a worker takes a
 * lease on it before working, and the conductor's sweep hands every task whose lease ran out
 * (message lost, worker killed) to a worker again. Handlers are idempotent, so running one twice
 * is harmless.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { fromDbJson, toDbJson, toDbTimestamp } from '../common/db/portable.ts';
import type { MessageBus } from '../common/messaging/bus.ts';
import type { ComputeDatabase, ComputeTaskRow } from './db/schema.ts';

/** Each host's agent serves `compute.<host>`; conductors share `compute-conductor`. */
export const COMPUTE_TOPIC = 'compute';
export const CONDUCTOR_TOPIC = 'compute-conductor';

export type TaskKind = 'build' | 'delete' | 'action' | 'move' | 'unshelve';
/** `conductor`: scheduling or clean-up; `host`: the agent of `host`. */
export type TaskStage = 'conductor' | 'host';

export type Task = {
  id: string;
  instanceUuid: string;
  kind: TaskKind;
  stage: TaskStage;
  host: string | null;
  attempts: number;
  payload: Record<string, unknown>;
  requestId: string;
  leaseUntil: Date;
};

/**
 * Tells a task's worker to start (the conductor, or the agent of the task's host). A lost
 * message only delays the task, which the sweep resends; returns whether the message went out.
 */
export async function dispatch(
  bus: MessageBus,
  task: { id: string; stage: TaskStage; host: string | null },
  requestId: string,
): Promise<boolean> {
  const target =
    task.stage === 'host' && task.host !== null
      ? { topic: COMPUTE_TOPIC, server: task.host }
      : { topic: CONDUCTOR_TOPIC };
  return bus
    .cast(target, 'run_task', { task_id: task.id }, { context: { global_request_id: requestId } })
    .then(
      () => true,
      () => false,
    );
}

/** The task id a `run_task` message carries ('' when it carries none, which claims nothing). */
export function taskIdOf(args: Record<string, unknown>): string {
  const id = args['task_id'];
  return typeof id === 'string' ? id : '';
}

/** Hosts a build or an unshelve must not go to again (they failed it, or went down). */
export function ignoredHosts(task: Task): string[] {
  const hosts = task.payload['ignoreHosts'];
  return Array.isArray(hosts) ? hosts.filter((h): h is string => typeof h === 'string') : [];
}

export type NewTask = {
  instanceUuid: string;
  kind: TaskKind;
  stage: TaskStage;
  host?: string | null;
  payload?: Record<string, unknown>;
  requestId: string;
};

type Db = Kysely<ComputeDatabase> | Transaction<ComputeDatabase>;

function taskOf(row: ComputeTaskRow): Task {
  return {
    id: row.id,
    instanceUuid: row.instance_uuid,
    kind: row.kind as TaskKind,
    stage: row.stage as TaskStage,
    host: row.host,
    attempts: row.attempts,
    payload: fromDbJson(row.payload) as Record<string, unknown>,
    requestId: row.request_id,
    leaseUntil: new Date(row.lease_until),
  };
}

export type TaskOptions = {
  now?: () => Date;
  /** How long a worker holds a task before the sweep may hand it to another (default 60 s). */
  leaseMs?: number;
  /** How long a new or handed-over task waits for its message before the sweep resends it. */
  dispatchGraceMs?: number;
};

export class Tasks {
  readonly #db: Kysely<ComputeDatabase>;
  readonly #now: () => Date;
  readonly leaseMs: number;
  readonly #graceMs: number;

  constructor(db: Kysely<ComputeDatabase>, options: TaskOptions = {}) {
    this.#db = db;
    this.#now = options.now ?? (() => new Date());
    this.leaseMs = options.leaseMs ?? 60_000;
    this.#graceMs = options.dispatchGraceMs ?? 10_000;
  }

  /** Records new tasks inside the caller's transaction; returns their ids. */
  async add(trx: Db, tasks: readonly NewTask[]): Promise<string[]> {
    if (tasks.length === 0) return [];
    const now = this.#now();
    const rows = tasks.map((t) => ({
      id: randomUUID(),
      instance_uuid: t.instanceUuid,
      kind: t.kind,
      stage: t.stage,
      host: t.host ?? null,
      state: 'pending',
      attempts: 0,
      payload: toDbJson(t.payload ?? {}),
      request_id: t.requestId,
      lease_owner: null,
      lease_until: toDbTimestamp(new Date(now.getTime() + this.#graceMs)),
      created_at: toDbTimestamp(now),
      updated_at: toDbTimestamp(now),
    }));
    await trx.insertInto('compute_tasks').values(rows).execute();
    return rows.map((r) => r.id);
  }

  /**
   * Takes the lease on a pending task at `stage`: one nobody holds, or whose holder's lease ran
   * out, or that `owner` already holds. Undefined when someone else holds it or it is done.
   */
  async claim(id: string, owner: string, stage: TaskStage): Promise<Task | undefined> {
    const now = this.#now();
    const result = await this.#db
      .updateTable('compute_tasks')
      .set({
        lease_owner: owner,
        lease_until: toDbTimestamp(new Date(now.getTime() + this.leaseMs)),
        updated_at: toDbTimestamp(now),
      })
      .where('id', '=', id)
      .where('state', '=', 'pending')
      .where('stage', '=', stage)
      .where((eb) =>
        eb.or([
          eb('lease_owner', 'is', null),
          eb('lease_owner', '=', owner),
          eb('lease_until', '<', toDbTimestamp(now)),
        ]),
      )
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) return undefined;
    const row = await this.#db
      .selectFrom('compute_tasks')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row === undefined || row.lease_owner !== owner ? undefined : taskOf(row);
  }

  /**
   * Passes a task the caller holds to its next worker: the lease is let go, and the sweep
   * resends it if the worker has not claimed it within the grace period.
   */
  async handOver(
    trx: Db,
    id: string,
    owner: string,
    next: {
      stage: TaskStage;
      host: string | null;
      payload?: Record<string, unknown>;
      attempts?: number;
    },
  ): Promise<boolean> {
    const now = this.#now();
    const result = await trx
      .updateTable('compute_tasks')
      .set({
        stage: next.stage,
        host: next.host,
        lease_owner: null,
        lease_until: toDbTimestamp(new Date(now.getTime() + this.#graceMs)),
        updated_at: toDbTimestamp(now),
        ...(next.payload !== undefined ? { payload: toDbJson(next.payload) } : {}),
        ...(next.attempts !== undefined ? { attempts: next.attempts } : {}),
      })
      .where('id', '=', id)
      .where('lease_owner', '=', owner)
      .where('state', '=', 'pending')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Marks the task done (inside the transaction that records its outcome). */
  async finish(trx: Db, id: string): Promise<void> {
    await trx
      .updateTable('compute_tasks')
      .set({ state: 'done', lease_owner: null, updated_at: toDbTimestamp(this.#now()) })
      .where('id', '=', id)
      .execute();
  }

  /** Finishes every pending task of an instance (it is gone; nothing is left to do). */
  async finishAllOf(trx: Db, instanceUuid: string, except?: string): Promise<void> {
    let q = trx
      .updateTable('compute_tasks')
      .set({ state: 'done', lease_owner: null, updated_at: toDbTimestamp(this.#now()) })
      .where('instance_uuid', '=', instanceUuid)
      .where('state', '=', 'pending');
    if (except !== undefined) q = q.where('id', '!=', except);
    await q.execute();
  }

  /** Pending tasks whose lease or grace period ran out, oldest first. */
  async due(limit: number): Promise<Task[]> {
    const rows = await this.#db
      .selectFrom('compute_tasks')
      .selectAll()
      .where('state', '=', 'pending')
      .where('lease_until', '<', toDbTimestamp(this.#now()))
      .orderBy('lease_until')
      .limit(limit)
      .execute();
    return rows.map(taskOf);
  }

  /** Pushes a due task's deadline on by the grace period, so one sweep resends it once. */
  async extendGrace(id: string): Promise<void> {
    const now = this.#now();
    await this.#db
      .updateTable('compute_tasks')
      .set({
        lease_owner: null,
        lease_until: toDbTimestamp(new Date(now.getTime() + this.#graceMs)),
      })
      .where('id', '=', id)
      .where('state', '=', 'pending')
      .where('lease_until', '<', toDbTimestamp(now))
      .execute();
  }

  async pendingOf(instanceUuid: string): Promise<Task[]> {
    const rows = await this.#db
      .selectFrom('compute_tasks')
      .selectAll()
      .where('instance_uuid', '=', instanceUuid)
      .where('state', '=', 'pending')
      .execute();
    return rows.map(taskOf);
  }
}
