/**
 * The compute agent of one host: registers its service and node, reports the node's inventory to
 * placement, and works the tasks handed to its host (build, delete) through its virt driver.
 * Every handler first takes the task's lease and re-reads the instance, so a repeated or late
 * message does nothing twice; work on one instance is serialised within the agent. A reconcile
 * loop compares the driver's guests with the database: guests of deleted instances are
 * destroyed, power states are brought up to date, shelved guests are offloaded when due.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Logger } from '../../common/logging.ts';
import type { MessageBus, Subscription } from '../../common/messaging/bus.ts';
import { UpstreamStatusError } from '../../common/http/json-client.ts';
import { fromDbTimestamp, toDbTimestamp } from '../../common/db/portable.ts';
import type { Hosts } from '../hosts.ts';
import type { Instance } from '../instance-model.ts';
import { allocatePorts, releasePorts } from '../instance-network.ts';
import { GUEST_ACTIONS, isGuestActionName } from '../guest-actions.ts';
import { completeDelete, failAction, failBuild, type WorkerDeps } from '../lifecycle.ts';
import { groupViolation } from '../server-groups.ts';
import { requestGuestAction, type Actor } from '../server-actions.ts';
import { COMPUTE_TOPIC, dispatch, ignoredHosts, taskIdOf, type Task } from '../tasks.ts';
import {
  cachesImages,
  GuestBuildError,
  GuestNotFoundError,
  hasConsole,
  POWER_STATE,
  type VirtDriver,
} from '../virt/driver.ts';
import { runGuestAction } from './guest-action-runner.ts';
import { guestSpecOf } from './guest-spec.ts';
import { runMoveStep } from './move-steps.ts';
import { unshelveHere } from './unshelve-step.ts';
import { attachInterface, detachInterface, textArg } from './interface-steps.ts';

export type AllocationRatios = { cpu: number; ram: number; disk: number };

export type ComputeAgentOptions = WorkerDeps & {
  host: string;
  driver: VirtDriver;
  hosts: Hosts;
  bus: MessageBus;
  /** Builds that fail on a host are retried elsewhere this many times in all (Nova: 3). */
  maxAttempts: number;
  ratios: AllocationRatios;
  reservedHostMemoryMb: number;
  /** Heartbeat period (Nova's `report_interval`). */
  reportIntervalMs: number;
  /** Reconcile period (Nova's `sync_power_state_interval`). */
  reconcileIntervalMs: number;
  /**
   * Seconds a shelved guest stays on its host before the reconcile lets it go (Nova's
   * `shelved_offload_time`): 0 at once, -1 never.
   */
  shelvedOffloadTime: number;
  /** How long an unused image stays in the driver's cache (Nova's minimum age); default a day. */
  imageCacheMinimumAgeMs?: number;
};

export class ComputeAgent {
  readonly #o: ComputeAgentOptions;
  readonly #log: Logger;
  readonly #busy = new Map<string, Promise<void>>();
  #serviceId: number | undefined;
  #hypervisorType = 'virt';
  #subscription: Subscription | undefined;
  #timers: NodeJS.Timeout[] = [];
  #stopped = false;

  constructor(options: ComputeAgentOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'compute-agent', host: options.host });
  }

  get host(): string {
    return this.#o.host;
  }

  get driver(): VirtDriver {
    return this.#o.driver;
  }

  /** Registers the host, reports its inventory, and starts serving its tasks. */
  async start(): Promise<void> {
    const { hosts, host, driver, placement } = this.#o;
    const service = await hosts.register(host, 'nova-compute', COMPUTE_TOPIC);
    this.#serviceId = service.id;
    const resources = await driver.hostResources();
    this.#hypervisorType = resources.hypervisorType;
    const uuid = await hosts.upsertNode(host, resources);
    await placement.ensureProvider(uuid, resources.hypervisorHostname);
    const { ratios } = this.#o;
    const unit = (total: number, ratio: number, reserved = 0) => ({
      total,
      reserved,
      min_unit: 1,
      max_unit: total,
      step_size: 1,
      allocation_ratio: ratio,
    });
    await placement.setInventory(uuid, {
      VCPU: unit(resources.vcpus, ratios.cpu),
      MEMORY_MB: unit(resources.memoryMb, ratios.ram, this.#o.reservedHostMemoryMb),
      DISK_GB: unit(resources.localGb, ratios.disk),
    });
    this.#subscription = await this.#o.bus.serve(
      { topic: COMPUTE_TOPIC, server: host },
      {
        run_task: (args) => this.runTask(taskIdOf(args)),
        get_console_output: (args) => this.consoleOutput(args),
        get_host_uptime: () => ({ uptime: uptimeLine() }),
        attach_interface: (args) =>
          this.#onInstance(args, (i) => attachInterface(this.#o, i, args)),
        detach_interface: (args) =>
          this.#onInstance(args, (i) => detachInterface(this.#o, i, args)),
      },
    );
    this.#every(this.#o.reportIntervalMs, () => this.#heartbeat());
    this.#every(this.#o.reconcileIntervalMs, () => this.reconcile());
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    await this.#subscription?.stop();
    await Promise.allSettled([...this.#busy.values()]);
  }

  #every(ms: number, fn: () => Promise<void>): void {
    if (ms <= 0) return;
    const timer = setInterval(() => {
      fn().catch((err: unknown) => this.#log.warn({ err }, 'periodic task failed'));
    }, ms);
    timer.unref();
    this.#timers.push(timer);
  }

  async #heartbeat(): Promise<void> {
    if (this.#serviceId !== undefined) await this.#o.hosts.heartbeat(this.#serviceId);
  }

  /** Works one task of this host; a task someone else holds, or that is done, is left alone. */
  async runTask(taskId: string): Promise<void> {
    if (this.#stopped) return;
    const task = await this.#o.tasks.claim(taskId, this.#o.host, 'host');
    if (task === undefined || task.host !== this.#o.host) return;
    await this.#serialised(task.instanceUuid, async () => {
      const instance = await this.#o.instances.row(task.instanceUuid);
      if (instance === undefined) return;
      if (task.kind === 'build') await this.#build(task, instance);
      else if (task.kind === 'delete') await this.#delete(task, instance);
      else if (task.kind === 'unshelve')
        await unshelveHere(
          { ...this.#o, log: this.#log, publisher: this.#publisher },
          task,
          instance,
        );
      else if (task.kind === 'move')
        await runMoveStep(
          { ...this.#o, log: this.#log, publisher: this.#publisher },
          task,
          instance,
        );
      else await this.#act(task, instance);
    });
  }

  /**
   * The console log of a guest of this host: `{output}`, or `{}` when there is none (no such
   * guest here, or a driver without a console).
   */
  async consoleOutput(args: Record<string, unknown>): Promise<{ output?: string }> {
    const uuid = args['instance_uuid'];
    const length = args['length'];
    const { driver } = this.#o;
    if (typeof uuid !== 'string' || !hasConsole(driver)) return {};
    try {
      return {
        output: await driver.consoleOutput(uuid, typeof length === 'number' ? length : undefined),
      };
    } catch (err) {
      if (err instanceof GuestNotFoundError) return {};
      throw err;
    }
  }

  /** Runs `fn` on the live instance of this host the call names, after the instance's other work. */
  async #onInstance<T>(
    args: Record<string, unknown>,
    fn: (instance: Instance) => Promise<T>,
  ): Promise<T | { error: { status: number; code: string; message: string } }> {
    const uuid = textArg(args, 'instance_uuid');
    let out: T | undefined;
    await this.#serialised(uuid, async () => {
      const instance = await this.#o.instances.row(uuid);
      if (
        instance !== undefined &&
        instance.row.deleted === 0 &&
        instance.row.host === this.#o.host
      )
        out = await fn(instance);
    });
    return (
      out ?? {
        error: {
          status: 409,
          code: 'compute.instance_not_ready',
          message: `Instance ${uuid} is not ready`,
        },
      }
    );
  }

  async #serialised(uuid: string, fn: () => Promise<void>): Promise<void> {
    const before = this.#busy.get(uuid) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.#busy.set(uuid, tail);
    try {
      await run;
    } finally {
      if (this.#busy.get(uuid) === tail) this.#busy.delete(uuid);
    }
  }

  get #publisher(): string {
    return `compute.${this.#o.host}`;
  }

  async #build(task: Task, instance: Instance): Promise<void> {
    const { instances, tasks, driver } = this.#o;
    const uuid = instance.row.uuid;
    const start = instances.now();
    if (instance.row.deleted === 1 || instance.row.vm_state !== 'building') {
      await instances.db.transaction().execute((trx) => tasks.finish(trx, task.id));
      return;
    }
    this.#o.notify(this.#publisher, 'create.start', instance.row);
    await instances.update(uuid, { task_state: 'networking' }, { vmState: ['building'] });
    let vifs;
    try {
      vifs = await allocatePorts(this.#o.network, instance, this.#o.host, task.requestId);
    } catch (err) {
      if (!(err instanceof UpstreamStatusError)) throw err;
      await failBuild(
        this.#o,
        instance,
        task,
        { code: 500, message: `Build of instance ${uuid} aborted: ${err.upstreamMessage}` },
        this.#publisher,
      );
      return;
    }
    await instances.update(
      uuid,
      { task_state: 'spawning', networkInfo: vifs },
      { vmState: ['building'] },
    );
    // Nova's late check: another scheduler may have placed a member of the group here meanwhile.
    const group =
      instance.requestSpec.hints.group === undefined
        ? undefined
        : await this.#o.groups.placementOf(uuid);
    const violation = group === undefined ? undefined : groupViolation(group, this.#o.host);
    if (violation !== undefined) {
      await this.#reschedule(task, instance, violation);
      return;
    }
    try {
      await driver.spawn(guestSpecOf(instance, vifs));
    } catch (err) {
      if (!(err instanceof GuestBuildError)) throw err;
      await this.#reschedule(task, instance, err.message);
      return;
    }
    const now = instances.now();
    const done = await instances.db.transaction().execute(async (trx) => {
      const changed = await instances.update(
        uuid,
        {
          vm_state: 'active',
          task_state: null,
          power_state: POWER_STATE.RUNNING,
          launched_at: toDbTimestamp(now),
          progress: 0,
        },
        { vmState: ['building'] },
        trx,
      );
      await tasks.finish(trx, task.id);
      if (changed)
        await instances.recordEvent(trx, uuid, task.requestId, {
          event: 'compute__do_build_and_run_instance',
          host: this.#o.host,
          result: 'Success',
          start,
        });
      return changed;
    });
    const after = await instances.row(uuid);
    if (done && after !== undefined) this.#o.notify(this.#publisher, 'create.end', after.row);
  }

  /** Undoes this host's part of a failed build and sends it back to the scheduler. */
  async #reschedule(task: Task, instance: Instance, why: string): Promise<void> {
    const { instances, tasks, driver } = this.#o;
    await driver.destroy(instance.row.uuid);
    await releasePorts(this.#o.network, instance, task.requestId);
    await this.#o.placement.deleteAllocations(instance.row.uuid);
    const attempts = task.attempts + 1;
    if (attempts >= this.#o.maxAttempts) {
      await failBuild(
        this.#o,
        instance,
        task,
        {
          code: 500,
          message: `Exceeded maximum number of retries. Exhausted all hosts available for retrying build failures for instance ${instance.row.uuid}.`,
          details: why,
        },
        this.#publisher,
      );
      return;
    }
    const handed = await instances.db.transaction().execute(async (trx) => {
      const moved = await instances.update(
        instance.row.uuid,
        { host: null, node: null, task_state: 'scheduling', networkInfo: [] },
        { vmState: ['building'] },
        trx,
      );
      if (!moved) return false;
      return tasks.handOver(trx, task.id, this.#o.host, {
        stage: 'conductor',
        host: null,
        attempts,
        payload: { ...task.payload, ignoreHosts: [...ignoredHosts(task), this.#o.host] },
      });
    });
    this.#log.warn({ instance: instance.row.uuid, why }, 'build failed here; rescheduling');
    if (handed)
      await dispatch(this.#o.bus, { id: task.id, stage: 'conductor', host: null }, task.requestId);
  }

  /**
   * A guest action (stop, start, reboot, …): done only while the instance still holds the
   * action's task state, so a repeated or overtaken message does nothing. A driver failure
   * leaves the instance in its state with a fault, and clears the task state.
   */
  async #act(task: Task, instance: Instance): Promise<void> {
    const { instances, tasks, driver } = this.#o;
    const name = task.payload['action'];
    const uuid = instance.row.uuid;
    if (
      !isGuestActionName(name) ||
      instance.row.deleted === 1 ||
      instance.row.task_state !== GUEST_ACTIONS[name].taskState
    ) {
      await instances.db.transaction().execute((trx) => tasks.finish(trx, task.id));
      return;
    }
    const spec = GUEST_ACTIONS[name];
    const start = instances.now();
    this.#o.notify(this.#publisher, `${spec.notify}.start`, instance.row);
    let outcome;
    try {
      outcome = await runGuestAction(
        {
          driver,
          driverName: this.#hypervisorType,
          images: this.#o.images,
          network: this.#o.network,
          placement: this.#o.placement,
          host: this.#o.host,
          requestId: task.requestId,
          offloadAtOnce: this.#o.shelvedOffloadTime === 0,
          now: () => instances.now(),
        },
        instance,
        name,
        task.payload,
      );
    } catch (err) {
      this.#log.warn({ err, instance: uuid, action: name }, 'guest action failed');
      await failAction(this.#o, instance, task, {
        event: spec.event,
        host: this.#o.host,
        taskState: spec.taskState,
        message: err instanceof Error ? err.message : String(err),
        publisher: this.#publisher,
        notify: spec.notify,
      });
      return;
    }
    const power = (await driver.getInfo(uuid))?.powerState ?? POWER_STATE.NOSTATE;
    await instances.db.transaction().execute(async (trx) => {
      const changed = await instances.update(
        uuid,
        {
          vm_state: outcome.to ?? spec.to,
          task_state: null,
          power_state: power,
          ...(name === 'rebuild' ? { launched_at: toDbTimestamp(instances.now()) } : {}),
          ...outcome.change,
        },
        { taskState: [spec.taskState] },
        trx,
      );
      await tasks.finish(trx, task.id);
      if (changed)
        await instances.recordEvent(trx, uuid, task.requestId, {
          event: spec.event,
          host: this.#o.host,
          result: 'Success',
          start,
        });
    });
    const after = await instances.row(uuid);
    if (after !== undefined) this.#o.notify(this.#publisher, `${spec.notify}.end`, after.row);
  }

  async #delete(task: Task, instance: Instance): Promise<void> {
    if (instance.row.deleted === 0) {
      this.#o.notify(this.#publisher, 'delete.start', instance.row);
      await this.#o.driver.destroy(instance.row.uuid);
    }
    await completeDelete(this.#o, instance, task, this.#publisher);
  }

  /** Whether a shelved guest has kept its host for `shelvedOffloadTime` seconds. */
  #offloadDue(instance: Instance): boolean {
    const after = this.#o.shelvedOffloadTime;
    const at = instance.row.shelved_at;
    if (instance.row.vm_state !== 'shelved' || after <= 0 || at === null) return false;
    return this.#o.instances.now().getTime() - fromDbTimestamp(at).getTime() >= after * 1000;
  }

  /** Who the host's own requests (a periodic offload) are recorded as: the instance's owner. */
  #systemActor(instance: Instance): Actor {
    return {
      requestId: `req-${randomUUID()}`,
      projectId: instance.row.project_id,
      userId: instance.row.user_id,
      isAdmin: true,
    };
  }

  /**
   * Converges the host's guests and the database: a guest with no live instance here is
   * destroyed; an instance's recorded power state follows its guest's.
   */
  async reconcile(): Promise<void> {
    const { instances, driver } = this.#o;
    const mine = await instances.onHost(this.#o.host);
    const live = new Map(mine.map((i) => [i.row.uuid, i]));
    for (const uuid of await driver.listInstances()) {
      if (live.has(uuid) || this.#busy.has(uuid)) continue;
      const row = await instances.row(uuid);
      // A guest whose build is still being placed here is not an orphan, nor the source guest
      // of a move that may still be reverted, nor the guest a live migration is filling here.
      if (
        row !== undefined &&
        row.row.deleted === 0 &&
        (row.row.host === this.#o.host ||
          row.row.vm_state === 'resized' ||
          row.row.task_state === 'migrating' ||
          (row.row.task_state ?? '').startsWith('resize'))
      )
        continue;
      this.#log.warn({ instance: uuid }, 'destroying a guest no live instance owns');
      await driver.destroy(uuid);
    }
    if (cachesImages(driver)) {
      const removed = await driver.cleanImageCache(this.#o.imageCacheMinimumAgeMs ?? 86_400_000);
      if (removed.length > 0) this.#log.info({ removed }, 'removed unused cached images');
    }
    for (const instance of mine) {
      if (instance.row.task_state !== null || this.#busy.has(instance.row.uuid)) continue;
      if (this.#offloadDue(instance)) {
        await requestGuestAction(this.#o, instance, this.#systemActor(instance), 'shelve_offload');
        continue;
      }
      if (instance.row.vm_state === 'building' || instance.row.vm_state === 'error') continue;
      const info = await driver.getInfo(instance.row.uuid);
      const power = info?.powerState ?? POWER_STATE.NOSTATE;
      if (power !== instance.row.power_state)
        await instances.update(
          instance.row.uuid,
          { power_state: power },
          { taskState: [null], vmState: [instance.row.vm_state] },
        );
    }
  }
}

/** This machine's uptime as `uptime` prints it (Nova's libvirt driver runs that command). */
function uptimeLine(): string {
  const now = new Date();
  const clock = now.toTimeString().slice(0, 8);
  const up = Math.floor(os.uptime());
  const days = Math.floor(up / 86_400);
  const hours = Math.floor((up % 86_400) / 3600);
  const minutes = String(Math.floor((up % 3600) / 60)).padStart(2, '0');
  const load = os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');
  const span =
    days > 0 ? `${days} day${days === 1 ? '' : 's'}, ${hours}:${minutes}` : `${hours}:${minutes}`;
  return ` ${clock} up ${span},  0 users,  load average: ${load}`;
}
