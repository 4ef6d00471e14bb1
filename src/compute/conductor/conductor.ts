/**
 * The conductor: works the tasks at the conductor stage (scheduling a build, deleting an instance
 * whose host is gone) and, by its sweep, keeps every task moving: a task whose lease or grace
 * period ran out is sent to its worker again, and a host task whose host is down is taken back
 * (a build goes to another host, a delete completes here, an action fails with a fault).
 */
import type { Logger } from '../../common/logging.ts';
import type { MessageBus, Subscription } from '../../common/messaging/bus.ts';
import type { Hosts } from '../hosts.ts';
import type { Instance } from '../instance-model.ts';
import { GUEST_ACTIONS, isGuestActionName } from '../guest-actions.ts';
import {
  abandonMove,
  completeDelete,
  failAction,
  failBuild,
  releasePortsAndClaims,
  type WorkerDeps,
} from '../lifecycle.ts';
import { NoValidHostError, type Scheduler } from '../scheduler/scheduler.ts';
import { migrationOf } from '../instance-moves.ts';
import { scheduleMove } from './schedule-move.ts';
import { schedulingRequestOf } from './scheduling-request.ts';
import { CONDUCTOR_TOPIC, dispatch, ignoredHosts, taskIdOf, type Task } from '../tasks.ts';

export type ConductorOptions = WorkerDeps & {
  /** Names this conductor as a lease owner (several may run). */
  name: string;
  scheduler: Scheduler;
  hosts: Hosts;
  bus: MessageBus;
  /** How often the sweep runs; 0 turns the timer off (tests call `sweep()`). */
  sweepIntervalMs: number;
  /** Nova's `allow_resize_to_same_host`. */
  allowResizeToSameHost: boolean;
};

const PUBLISHER = 'compute.conductor';

export class Conductor {
  readonly #o: ConductorOptions;
  readonly #log: Logger;
  #subscription: Subscription | undefined;
  #timer: NodeJS.Timeout | undefined;
  #sweeping: Promise<void> | undefined;
  readonly #groupTurns = new Map<string, Promise<void>>();
  #stopped = false;

  constructor(options: ConductorOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'conductor' });
  }

  async start(): Promise<void> {
    this.#subscription = await this.#o.bus.serve(
      { topic: CONDUCTOR_TOPIC },
      { run_task: (args) => this.runTask(taskIdOf(args)) },
    );
    if (this.#o.sweepIntervalMs > 0) {
      this.#timer = setInterval(() => void this.sweep(), this.#o.sweepIntervalMs);
      this.#timer.unref();
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#subscription?.stop();
    await this.#sweeping;
  }

  /** Works one conductor-stage task; one held by another worker, or done, is left alone. */
  async runTask(taskId: string): Promise<void> {
    if (this.#stopped) return;
    const task = await this.#o.tasks.claim(taskId, this.#o.name, 'conductor');
    if (task === undefined) return;
    const instance = await this.#o.instances.row(task.instanceUuid);
    if (instance === undefined) {
      await this.#o.instances.db.transaction().execute((trx) => this.#o.tasks.finish(trx, task.id));
      return;
    }
    if (task.kind === 'build' || task.kind === 'unshelve') await this.#schedule(task, instance);
    else if (task.kind === 'delete') await completeDelete(this.#o, instance, task, PUBLISHER);
    else if (task.kind === 'move')
      await scheduleMove({ ...this.#o, log: this.#log, publisher: PUBLISHER }, task, instance);
  }

  /**
   * Members of one server group are placed one after another, each seeing where the previous
   * ones went (their host is written before the next is scheduled), as Nova schedules a group.
   */
  async #schedule(task: Task, instance: Instance): Promise<void> {
    const group = instance.requestSpec.hints.group;
    if (group === undefined) return this.#scheduleOne(task, instance);
    const before = this.#groupTurns.get(group) ?? Promise.resolve();
    const mine = before.then(() => this.#scheduleOne(task, instance));
    const tail = mine.catch(() => undefined);
    this.#groupTurns.set(group, tail);
    try {
      await mine;
    } finally {
      if (this.#groupTurns.get(group) === tail) this.#groupTurns.delete(group);
    }
  }

  /**
   * Places a build, or the unshelve of an offloaded instance (which keeps its state and task
   * state while it is placed, and goes back to no host with a fault when none fits).
   */
  async #scheduleOne(task: Task, instance: Instance): Promise<void> {
    const { instances, tasks } = this.#o;
    const { row } = instance;
    const unshelve = task.kind === 'unshelve';
    const expected = unshelve
      ? { vmState: ['shelved_offloaded'], taskState: ['unshelving'] }
      : { vmState: ['building'] };
    if (
      row.deleted === 1 ||
      !expected.vmState.includes(row.vm_state) ||
      (unshelve && row.task_state !== 'unshelving')
    ) {
      await instances.db.transaction().execute((trx) => tasks.finish(trx, task.id));
      return;
    }
    // An unshelve may name its host; a build keeps the destination it was asked for (a move
    // or an unshelve forgets it, as Nova resets forced destinations).
    const only = unshelve ? task.payload['host'] : instance.requestSpec.destination?.host;
    const force = !unshelve && instance.requestSpec.destination?.force === true;
    let selection;
    try {
      selection = await this.#o.scheduler.select({
        ...schedulingRequestOf(instance, {
          ignoreHosts: ignoredHosts(task),
          ...(typeof only === 'string' ? { onlyHosts: [only] } : {}),
          group: await this.#o.groups.placementOf(row.uuid),
        }),
        ...(force ? { force } : {}),
      });
    } catch (err) {
      if (!(err instanceof NoValidHostError)) throw err;
      if (unshelve)
        await failAction(this.#o, instance, task, {
          event: 'conductor_unshelve_instance',
          host: null,
          taskState: 'unshelving',
          message: err.message,
          publisher: PUBLISHER,
          notify: 'unshelve',
        });
      else
        await failBuild(
          this.#o,
          instance,
          task,
          { code: 500, message: err.message, details: err.message },
          PUBLISHER,
        );
      return;
    }
    const handed = await instances.db.transaction().execute(async (trx) => {
      const placed = await instances.update(
        row.uuid,
        {
          host: selection.host,
          node: selection.nodename,
          availability_zone: selection.availabilityZone,
          ...(unshelve ? {} : { task_state: null }),
        },
        expected,
        trx,
      );
      if (!placed) return false;
      return tasks.handOver(trx, task.id, this.#o.name, { stage: 'host', host: selection.host });
    });
    if (!handed) {
      // Deleted while it was being scheduled: the claim just made must not leak.
      await this.#o.placement.deleteAllocations(row.uuid);
      const now = await instances.row(row.uuid);
      if (now !== undefined && now.row.deleted === 1)
        await instances.db.transaction().execute((trx) => tasks.finish(trx, task.id));
      return;
    }
    await dispatch(
      this.#o.bus,
      { id: task.id, stage: 'host', host: selection.host },
      task.requestId,
    );
  }

  /** One pass over the due tasks (also what the timer runs). */
  async sweep(limit = 200): Promise<void> {
    this.#sweeping ??= this.#sweep(limit).finally(() => {
      this.#sweeping = undefined;
    });
    return this.#sweeping;
  }

  async #sweep(limit: number): Promise<void> {
    try {
      const due = await this.#o.tasks.due(limit);
      if (due.length === 0) return;
      const services = new Map(
        (await this.#o.hosts.services('nova-compute')).map((s) => [s.host, s]),
      );
      for (const task of due) {
        if (this.#stopped) return;
        await this.#o.tasks.extendGrace(task.id);
        if (task.stage === 'conductor') {
          await this.runTask(task.id);
          continue;
        }
        const service = task.host === null ? undefined : services.get(task.host);
        if (service !== undefined && this.#o.hosts.isUp(service)) {
          await dispatch(
            this.#o.bus,
            { id: task.id, stage: 'host', host: service.host },
            task.requestId,
          );
          continue;
        }
        await this.#takeBack(task);
      }
    } catch (err) {
      this.#log.warn({ err }, 'task sweep failed');
    }
  }

  /**
   * A host task whose host is down: a build or an unshelve is scheduled again, a delete
   * completes here, an action fails, a move is given up.
   */
  async #takeBack(task: Task): Promise<void> {
    const { instances, tasks } = this.#o;
    const claimed = await tasks.claim(task.id, this.#o.name, 'host');
    if (claimed === undefined) return;
    const instance = await instances.row(task.instanceUuid);
    if (instance === undefined) return;
    this.#log.warn(
      { instance: instance.row.uuid, host: task.host, kind: task.kind },
      'host is down; taking its task back',
    );
    if (task.kind === 'delete') {
      await completeDelete(this.#o, instance, claimed, PUBLISHER);
      return;
    }
    if (task.kind === 'move') {
      const uuid = claimed.payload['migration'];
      const migration =
        typeof uuid === 'string' ? await migrationOf(instances.db, uuid) : undefined;
      if (migration === undefined)
        await instances.db.transaction().execute((trx) => tasks.finish(trx, claimed.id));
      else
        await abandonMove(
          { ...this.#o, host: task.host, publisher: PUBLISHER },
          claimed,
          instance,
          migration,
          `Compute host ${task.host ?? '(none)'} is down; the move was given up.`,
        );
      return;
    }
    if (task.kind === 'action') {
      // Nothing of the guest can change while its host is down: the request fails visibly
      // instead of leaving the instance in its task state.
      const name = claimed.payload['action'];
      const spec = isGuestActionName(name) ? GUEST_ACTIONS[name] : undefined;
      // A snapshot (or shelve) that will not be taken leaves no queued image behind.
      const image = claimed.payload['imageId'];
      if ((name === 'snapshot' || name === 'shelve') && typeof image === 'string')
        await this.#o.images.deleteImage(image).catch(() => undefined);
      await failAction(this.#o, instance, claimed, {
        event: spec?.event ?? 'compute_action',
        host: task.host,
        taskState: spec?.taskState ?? (instance.row.task_state as string),
        message: `Compute host ${task.host ?? '(none)'} is down; the action was not done.`,
        publisher: PUBLISHER,
        notify: spec?.notify ?? 'action',
      });
      return;
    }
    // A build or an unshelve goes back to the scheduler, without this host.
    const unshelve = task.kind === 'unshelve';
    if (unshelve) await this.#o.placement.deleteAllocations(instance.row.uuid);
    else await releasePortsAndClaims(this.#o, instance, task.requestId);
    const ignore = [...ignoredHosts(task)];
    if (task.host !== null) ignore.push(task.host);
    await instances.db.transaction().execute(async (trx) => {
      await instances.update(
        instance.row.uuid,
        unshelve
          ? { host: null, node: null, task_state: 'unshelving' }
          : { host: null, node: null, task_state: 'scheduling', networkInfo: [] },
        { vmState: [unshelve ? 'shelved_offloaded' : 'building'] },
        trx,
      );
      await tasks.handOver(trx, task.id, this.#o.name, {
        stage: 'conductor',
        host: null,
        payload: { ...task.payload, ignoreHosts: ignore },
      });
    });
    await this.runTask(task.id);
  }
}
