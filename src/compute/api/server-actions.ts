/**
 * `POST /servers/{id}/action`: one action per request, named by the body's only key, as Nova
 * dispatches them (an unknown name is a 400 "There is no such action"). Actions a host carries
 * out answer 202 once the task is recorded; lock, unlock and reset-state are done here.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../common/http/app.ts';
import { BadRequestError } from '../../common/errors.ts';
import type { GuestActionName } from '../guest-actions.ts';
import { generatePassword, snapshotOf } from '../boot.ts';
import type { Instance } from '../instance-model.ts';
import { requestMove, requestMoveEnd } from '../instance-moves.ts';
import {
  checkState,
  consoleOutput,
  lockInstance,
  ownsLock,
  requestDelete,
  requestGuestAction,
  resetState,
  unlockInstance,
  type Actor,
} from '../server-actions.ts';
import {
  atLeast,
  authorize,
  invalidField,
  onlyKeys,
  repr,
  viewerOf,
  type ApiDeps,
  actorOf,
} from './context.ts';

export type ActionContext = {
  request: FastifyRequest;
  deps: ApiDeps;
  instance: Instance;
  actor: Actor;
  /** The value under the action's key. */
  value: unknown;
};

/** What an action answers: its status and, for some, a body. */
export type ActionResult = {
  status: number;
  body?: unknown;
  headers?: Readonly<Record<string, string>>;
};

export type ActionHandler = (ctx: ActionContext) => Promise<ActionResult>;

export const ACCEPTED: ActionResult = { status: 202 };

function guest(policy: string, name: GuestActionName): ActionHandler {
  return async ({ request, deps, instance, actor }) => {
    authorize(request, deps, policy, { project_id: instance.row.project_id });
    await requestGuestAction(deps, instance, actor, name);
    return ACCEPTED;
  };
}

/** An action's value when it must be an object. @throws BadRequestError (400) otherwise. */
export function objectValue(action: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalidField(action, value, `${repr(value)} is not of type 'object'`);
  return value as Record<string, unknown>;
}

const reboot: ActionHandler = async ({ request, deps, instance, actor, value }) => {
  const body = objectValue('reboot', value);
  onlyKeys(body, ['type'], 'reboot');
  const type = body['type'];
  const types = ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft'];
  if (type === undefined) throw invalidField('reboot', body, "'type' is a required property");
  if (typeof type !== 'string' || !types.includes(type))
    throw invalidField(
      'type',
      type,
      `${repr(type)} is not one of [${types.map((t) => `'${t}'`).join(', ')}]`,
    );
  authorize(request, deps, 'os_compute_api:servers:reboot', {
    project_id: instance.row.project_id,
  });
  await requestGuestAction(
    deps,
    instance,
    actor,
    type.toUpperCase() === 'HARD' ? 'reboot_hard' : 'reboot_soft',
  );
  return ACCEPTED;
};

const lock: ActionHandler = async ({ request, deps, instance, actor, value }) => {
  let reason: string | null = null;
  if (atLeast(request, 73) && value !== null) {
    const body = objectValue('lock', value);
    onlyKeys(body, ['locked_reason'], 'lock');
    const r = body['locked_reason'];
    if (r !== undefined) {
      if (typeof r !== 'string' || r.length < 1 || r.length > 255)
        throw invalidField('locked_reason', r, `${repr(r)} is not a string of 1 to 255 characters`);
      reason = r;
    }
  }
  authorize(request, deps, 'os_compute_api:os-lock-server:lock', {
    project_id: instance.row.project_id,
  });
  await lockInstance(deps, instance, actor, reason);
  return ACCEPTED;
};

const unlock: ActionHandler = async ({ request, deps, instance, actor }) => {
  const target = { project_id: instance.row.project_id };
  authorize(request, deps, 'os_compute_api:os-lock-server:unlock', target);
  if (!ownsLock(instance, actor))
    authorize(request, deps, 'os_compute_api:os-lock-server:unlock:unlock_override', target);
  await unlockInstance(deps, instance, actor);
  return ACCEPTED;
};

/** Control characters a console may print that are not text (Nova strips them too). */
const NOT_TEXT = new RegExp('[\\x00-\\x08\\x0B-\\x1F]', 'g');

const getConsoleOutput: ActionHandler = async ({ request, deps, instance, value }) => {
  const body = objectValue('os-getConsoleOutput', value);
  onlyKeys(body, ['length'], 'os-getConsoleOutput');
  const raw = body['length'];
  let length: number | undefined;
  if (raw !== undefined && raw !== null) {
    const n = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw) : NaN;
    if (!Number.isInteger(n) || n < -1 || (typeof raw === 'string' && !/^-?[0-9]+$/.test(raw)))
      throw invalidField('length', raw, `${repr(raw)} is not an integer of at least -1`);
    if (n >= 0) length = n;
  }
  authorize(request, deps, 'os_compute_api:os-console-output', {
    project_id: instance.row.project_id,
  });
  const output = await consoleOutput(deps, instance, length);
  return { status: 200, body: { output: output.replace(NOT_TEXT, '') } };
};

const resetStateAction: ActionHandler = async ({ request, deps, instance, actor, value }) => {
  const body = objectValue('os-resetState', value);
  onlyKeys(body, ['state'], 'os-resetState');
  const state = body['state'];
  if (state === undefined)
    throw invalidField('os-resetState', body, "'state' is a required property");
  if (state !== 'active' && state !== 'error')
    throw invalidField('state', state, `${repr(state)} is not one of ['active', 'error']`);
  authorize(request, deps, 'os_compute_api:os-admin-actions:reset_state', {
    project_id: instance.row.project_id,
  });
  await resetState(deps, instance, actor, state);
  return ACCEPTED;
};

const forceDelete: ActionHandler = async ({ request, deps, instance, actor }) => {
  authorize(request, deps, 'os_compute_api:os-deferred-delete:force', {
    project_id: instance.row.project_id,
  });
  checkState(instance, 'forceDelete', [instance.row.vm_state]);
  await requestDelete(deps, instance, actor);
  return ACCEPTED;
};

const resize: ActionHandler = async ({ request, deps, instance, actor, value }) => {
  const body = objectValue('resize', value);
  onlyKeys(body, ['flavorRef', 'OS-DCF:diskConfig'], 'resize');
  const ref = body['flavorRef'];
  if (ref === undefined) throw invalidField('resize', body, "'flavorRef' is a required property");
  if ((typeof ref !== 'string' && typeof ref !== 'number') || String(ref).length === 0)
    throw invalidField('flavorRef', ref, `${repr(ref)} is not a flavor reference`);
  authorize(request, deps, 'os_compute_api:servers:resize', {
    project_id: instance.row.project_id,
  });
  const flavor = await snapshotOf(
    deps.flavors,
    viewerOf(request, deps),
    String(ref).replace(/^.*\//, ''),
  );
  await requestMove(deps, instance, actor, { kind: 'resize', flavor });
  return ACCEPTED;
};

const migrate: ActionHandler = async ({ request, deps, instance, actor, value }) => {
  let host: string | undefined;
  if (value !== null && value !== undefined) {
    const body = objectValue('migrate', value);
    onlyKeys(body, atLeast(request, 56) ? ['host'] : [], 'migrate');
    host = hostOf(body);
  }
  authorize(request, deps, 'os_compute_api:os-migrate-server:migrate', {
    project_id: instance.row.project_id,
  });
  await requestMove(deps, instance, actor, {
    kind: 'migration',
    flavor: instance.flavor,
    ...(host !== undefined ? { host } : {}),
  });
  return ACCEPTED;
};

/** An optional target host of a move. @throws BadRequestError (400) for a bad value. */
function hostOf(body: Record<string, unknown>): string | undefined {
  const h = body['host'];
  if (h === undefined || h === null) return undefined;
  if (typeof h !== 'string' || h.length < 1 || h.length > 255)
    throw invalidField('host', h, `${repr(h)} is not a host name`);
  return h;
}

const migrateLive: ActionHandler = async ({ request, deps, instance, actor, value }) => {
  const body = objectValue('os-migrateLive', value);
  const allowed = ['host', 'block_migration'];
  if (!atLeast(request, 25)) allowed.push('disk_over_commit');
  if (atLeast(request, 30) && !atLeast(request, 68)) allowed.push('force');
  onlyKeys(body, allowed, 'os-migrateLive');
  if (!('host' in body))
    throw invalidField('os-migrateLive', body, "'host' is a required property");
  if (!atLeast(request, 25) && !('block_migration' in body))
    throw invalidField('os-migrateLive', body, "'block_migration' is a required property");
  const host = hostOf(body);
  authorize(request, deps, 'os_compute_api:os-migrate-server:migrate_live', {
    project_id: instance.row.project_id,
  });
  await requestMove(deps, instance, actor, {
    kind: 'live-migration',
    flavor: instance.flavor,
    ...(host !== undefined ? { host } : {}),
  });
  return ACCEPTED;
};

const evacuate: ActionHandler = async ({ request, deps, instance, actor, value }) => {
  const body = value === null || value === undefined ? {} : objectValue('evacuate', value);
  const allowed = ['host', 'adminPass'];
  if (!atLeast(request, 14)) allowed.push('onSharedStorage');
  if (atLeast(request, 29) && !atLeast(request, 68)) allowed.push('force');
  if (atLeast(request, 95)) allowed.push('targetState');
  onlyKeys(body, allowed, 'evacuate');
  if (!atLeast(request, 14) && !('onSharedStorage' in body))
    throw invalidField('evacuate', body, "'onSharedStorage' is a required property");
  const host = hostOf(body);
  const pass = body['adminPass'];
  if (pass !== undefined && typeof pass !== 'string')
    throw invalidField('adminPass', pass, `${repr(pass)} is not of type 'string'`);
  authorize(request, deps, 'os_compute_api:os-evacuate', {
    project_id: instance.row.project_id,
  });
  await requestMove(deps, instance, actor, {
    kind: 'evacuation',
    flavor: instance.flavor,
    ...(host !== undefined ? { host } : {}),
  });
  // Before 2.14 the answer carries the new password; from 2.14 it is empty.
  if (atLeast(request, 14)) return { status: 200 };
  return { status: 200, body: { adminPass: typeof pass === 'string' ? pass : generatePassword() } };
};

function moveEnd(end: 'confirm' | 'revert'): ActionHandler {
  return async ({ request, deps, instance, actor }) => {
    authorize(request, deps, `os_compute_api:servers:${end}_resize`, {
      project_id: instance.row.project_id,
    });
    await requestMoveEnd(deps, instance, actor, end);
    return { status: end === 'confirm' ? 204 : 202 };
  };
}

const ACTIONS: Readonly<Record<string, ActionHandler>> = {
  'os-migrateLive': migrateLive,
  evacuate,
  resize,
  migrate,
  confirmResize: moveEnd('confirm'),
  revertResize: moveEnd('revert'),
  'os-stop': guest('os_compute_api:servers:stop', 'stop'),
  'os-start': guest('os_compute_api:servers:start', 'start'),
  reboot,
  pause: guest('os_compute_api:os-pause-server:pause', 'pause'),
  unpause: guest('os_compute_api:os-pause-server:unpause', 'unpause'),
  suspend: guest('os_compute_api:os-suspend-server:suspend', 'suspend'),
  resume: guest('os_compute_api:os-suspend-server:resume', 'resume'),
  lock,
  unlock,
  'os-getConsoleOutput': getConsoleOutput,
  'os-resetState': resetStateAction,
  forceDelete,
};

/** Extra actions other modules register (resize, rebuild, …), by name. */
export type ServerActionTable = Record<string, ActionHandler>;

export function serverActionRoutes(app: App, deps: ApiDeps, more: ServerActionTable = {}): void {
  const table: Record<string, ActionHandler> = { ...ACTIONS, ...more };
  app.post<{ Params: { id: string } }>(
    '/servers/:id/action',
    async (request, reply: FastifyReply) => {
      const body = request.body;
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        throw new BadRequestError('Malformed request body', 'compute.bad_request');
      const keys = Object.keys(body);
      if (keys.length !== 1)
        throw new BadRequestError('Malformed request body', 'compute.bad_request');
      const name = keys[0] as string;
      const handler = Object.hasOwn(table, name) ? table[name] : undefined;
      if (handler === undefined)
        throw new BadRequestError(`There is no such action: ${name}`, 'compute.bad_request');
      const viewer = viewerOf(request, deps);
      const instance = await deps.instances.get(viewer, request.params.id);
      const result = await handler({
        request,
        deps,
        instance,
        actor: actorOf(request, viewer, instance),
        value: (body as Record<string, unknown>)[name],
      });
      reply.code(result.status);
      for (const [name, value] of Object.entries(result.headers ?? {})) reply.header(name, value);
      return result.body === undefined ? reply.send() : result.body;
    },
  );
}
