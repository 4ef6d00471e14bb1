/**
 * The actions between a server and images: `rebuild` (a new image, optionally a new name,
 * metadata, key or user data; 202 with the server), `rescue`/`unrescue` (boot from a rescue
 * image with the server's disk attached; the rescue answers 200 with the password) and
 * `createImage` (a snapshot of the server's disk).
 */
import type { FastifyRequest } from 'fastify';
import { BadRequestError } from '../../common/errors.ts';
import { generatePassword } from '../boot.ts';
import type { StateChange } from '../instances.ts';
import { GUEST_ACTIONS } from '../guest-actions.ts';
import { checkLock, checkState, requestGuestAction } from '../server-actions.ts';
import type { ImageSummary } from '../../image/client.ts';
import {
  atLeast,
  authorize,
  invalidField,
  onlyKeys,
  repr,
  viewerOf,
  type ApiDeps,
} from './context.ts';
import {
  ACCEPTED,
  objectValue,
  type ActionContext,
  type ActionHandler,
  type ServerActionTable,
} from './server-actions.ts';
import { serverFieldChanges } from './server-fields.schema.ts';
import { parseMetadata } from './server-metadata.schema.ts';
import { serverDetail } from './servers.view.ts';

/** An image the caller may boot from. @throws BadRequestError (400) otherwise. */
async function usableImage(request: FastifyRequest, deps: ApiDeps, ref: unknown, field: string) {
  if (typeof ref !== 'string' || ref.length === 0)
    throw invalidField(field, ref, `${repr(ref)} is not an image reference`);
  const id = ref.replace(/^.*\//, '');
  const image = await deps.images.getImage(id, {
    token: request.auth.authToken,
    globalRequestId: request.globalRequestId,
  });
  if (image === undefined)
    throw new BadRequestError(`Image ${id} could not be found.`, 'compute.image_not_found');
  if (image.status !== 'active')
    throw new BadRequestError(`Image ${id} is not active.`, 'compute.image_not_active');
  return image;
}

function adminPassOf(body: Record<string, unknown>, key = 'adminPass'): string {
  const given = body[key];
  if (given === undefined) return generatePassword();
  if (typeof given !== 'string')
    throw invalidField(key, given, `${repr(given)} is not of type 'string'`);
  return given;
}

const rescue: ActionHandler = async ({ request, deps, instance, actor, value }) => {
  const body = value === null || value === undefined ? {} : objectValue('rescue', value);
  onlyKeys(body, ['adminPass', 'rescue_image_ref'], 'rescue');
  const adminPass = adminPassOf(body);
  authorize(request, deps, 'os_compute_api:os-rescue', { project_id: instance.row.project_id });
  const ref = body['rescue_image_ref'];
  const image =
    ref === undefined ? undefined : (await usableImage(request, deps, ref, 'rescue_image_ref')).id;
  await requestGuestAction(deps, instance, actor, 'rescue', {
    ...(image !== undefined ? { payload: { rescueImage: image } } : {}),
  });
  return { status: 200, body: { adminPass } };
};

const unrescue: ActionHandler = async ({ request, deps, instance, actor }) => {
  authorize(request, deps, 'os_compute_api:os-unrescue', { project_id: instance.row.project_id });
  await requestGuestAction(deps, instance, actor, 'unrescue');
  return ACCEPTED;
};

const rebuild: ActionHandler = async ({ request, deps, instance, actor, value }) => {
  const body = objectValue('rebuild', value);
  const allowed = [
    'imageRef',
    'name',
    'adminPass',
    'metadata',
    'preserve_ephemeral',
    'OS-DCF:diskConfig',
    'accessIPv4',
    'accessIPv6',
  ];
  if (!atLeast(request, 57)) allowed.push('personality');
  if (atLeast(request, 19)) allowed.push('description');
  if (atLeast(request, 54)) allowed.push('key_name');
  if (atLeast(request, 57)) allowed.push('user_data');
  if (atLeast(request, 63)) allowed.push('trusted_image_certificates');
  if (atLeast(request, 90)) allowed.push('hostname');
  onlyKeys(body, allowed, 'rebuild');
  if (body['imageRef'] === undefined)
    throw invalidField('rebuild', body, "'imageRef' is a required property");
  const change: StateChange = serverFieldChanges(body);
  const userData = body['user_data'];
  if (userData !== undefined) {
    if (
      userData !== null &&
      (typeof userData !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(userData))
    )
      throw invalidField('user_data', userData, `${repr(userData)} is not base64`);
    change.user_data = userData;
  }
  const keyName = body['key_name'];
  if (keyName !== undefined) {
    if (keyName === null) {
      change.key_name = null;
      change.key_data = null;
    } else {
      if (typeof keyName !== 'string')
        throw invalidField('key_name', keyName, `${repr(keyName)} is not of type 'string'`);
      const key = await deps.keyPairs.get(request.auth.userId, keyName).catch(() => {
        throw new BadRequestError('Invalid key_name provided.', 'compute.bad_request');
      });
      change.key_name = keyName;
      change.key_data = key.public_key;
    }
  }
  const metadata =
    body['metadata'] === undefined ? undefined : parseMetadata('metadata', body['metadata']);
  const adminPass = adminPassOf(body);
  authorize(request, deps, 'os_compute_api:servers:rebuild', {
    project_id: instance.row.project_id,
  });
  const image = await usableImage(request, deps, body['imageRef'], 'imageRef');
  const flavor = instance.flavor;
  if ((image.min_ram ?? 0) > flavor.memory_mb)
    throw new BadRequestError(
      "Flavor's memory is too small for requested image.",
      'compute.bad_request',
    );
  if (flavor.root_gb > 0 && (image.min_disk ?? 0) > flavor.root_gb)
    throw new BadRequestError(
      "Flavor's disk is too small for requested image.",
      'compute.bad_request',
    );
  change.image_ref = image.id;
  await requestGuestAction(deps, instance, actor, 'rebuild', {
    change,
    ...(metadata !== undefined ? { metadata } : {}),
  });
  const viewer = viewerOf(request, deps);
  const [detail] = await deps.instances.details([
    await deps.instances.get(viewer, instance.row.uuid),
  ]);
  const server = serverDetail(request, detail as never, { isAdmin: viewer.isAdmin, single: true });
  return { status: 202, body: { server: { ...server, adminPass } } };
};

/**
 * Makes the queued image a snapshot (or a shelve) fills, with the caller's token so their
 * project owns it, and asks the host for the action that fills it; the image goes again when
 * the request is refused.
 */
export async function requestSnapshot(
  { request, deps, instance, actor }: Omit<ActionContext, 'value'>,
  action: 'snapshot' | 'shelve',
  name: string,
  metadata: Readonly<Record<string, string>>,
): Promise<ImageSummary> {
  const spec = GUEST_ACTIONS[action];
  checkLock(instance, actor);
  checkState(instance, spec.action, spec.from, spec.fromTask);
  const as = { token: request.auth.authToken, globalRequestId: request.globalRequestId };
  const base =
    instance.row.image_ref === ''
      ? undefined
      : await deps.images.getImage(instance.row.image_ref, as);
  const image = await deps.images.createImage(
    {
      ...metadata,
      name,
      disk_format: base?.disk_format ?? 'raw',
      container_format: base?.container_format ?? 'bare',
      visibility: 'private',
      min_disk: Math.max(instance.row.root_gb, base?.min_disk ?? 0),
      min_ram: base?.min_ram ?? 0,
      image_type: 'snapshot',
      instance_uuid: instance.row.uuid,
      base_image_ref: instance.row.image_ref,
      user_id: request.auth.userId,
    },
    as,
  );
  try {
    await requestGuestAction(deps, instance, actor, action, { payload: { imageId: image.id } });
  } catch (err) {
    await deps.images.deleteImage(image.id, as).catch(() => undefined);
    throw err;
  }
  return image;
}

/**
 * `createImage`: the image record is made first, with the caller's token (so their project owns
 * it), then the host's agent uploads the guest's disk into it. 2.45 answers with the image id,
 * older versions with its `Location`.
 */
const createImage: ActionHandler = async ({ request, deps, instance, actor, value }) => {
  const body = objectValue('createImage', value);
  onlyKeys(body, ['name', 'metadata'], 'createImage');
  const name = body['name'];
  if (name === undefined) throw invalidField('createImage', body, "'name' is a required property");
  if (typeof name !== 'string' || name.trim().length === 0 || name.length > 255)
    throw invalidField('name', name, `${repr(name)} is not a name of 1 to 255 characters`);
  const metadata =
    body['metadata'] === undefined ? {} : parseMetadata('metadata', body['metadata']);
  authorize(request, deps, 'os_compute_api:servers:create_image', {
    project_id: instance.row.project_id,
  });
  const image = await requestSnapshot(
    { request, deps, instance, actor },
    'snapshot',
    name,
    metadata,
  );
  if (atLeast(request, 45)) return { status: 202, body: { image_id: image.id } };
  return { status: 202, headers: { location: deps.images.imageUrl(image.id) } };
};

export const REBUILD_ACTIONS: ServerActionTable = { rebuild, rescue, unrescue, createImage };
