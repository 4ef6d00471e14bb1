/**
 * Glance's JSON-patch dialects for `PATCH /v2/images/{id}`: `openstack-images-v2.1-json-patch`
 * (`{"op": "replace", "path": "/name", "value": …}`) and the older v2.0 one
 * (`{"replace": "/name", "value": …}`). Paths are one level deep; read-only attributes are a 403,
 * malformed patches a 400, a replace or remove of a missing property a 409, as in Glance.
 */
import { conflict, forbidden, invalid } from '../errors.ts';
import {
  checkBaseValue,
  checkProperty,
  checkWritableKey,
  WRITABLE,
  type WritableFields,
} from '../image-fields.ts';
import type { Image } from '../images.ts';

export const PATCH_V21 = 'application/openstack-images-v2.1-json-patch';
export const PATCH_V20 = 'application/openstack-images-v2.0-json-patch';

export type PatchOp = { op: 'add' | 'replace' | 'remove'; key: string; value: unknown };

const OPS = ['add', 'replace', 'remove'] as const;

function decodePointer(pointer: unknown): string {
  if (typeof pointer !== 'string') throw invalid('Unable to find `path` in JSON Schema change');
  if (!pointer.startsWith('/')) throw invalid(`Pointer \`${pointer}\` does not start with "/".`);
  const parts = pointer.slice(1).split('/');
  if (parts.length !== 1 || parts[0] === '')
    throw invalid(`Invalid JSON pointer for this resource: '${pointer}'`);
  const raw = parts[0] as string;
  if (/~[^01]/.test(raw) || raw.endsWith('~'))
    throw invalid(`Pointer \`${pointer}\` contains "~" not part of a recognized escape sequence.`);
  return raw.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** Reads a patch document. @throws BadRequestError (400) naming what is wrong. */
export function parsePatch(body: unknown, v20: boolean): PatchOp[] {
  if (!Array.isArray(body))
    throw invalid('Request body must be a JSON array of operation objects.');
  return (body as unknown[]).map((raw) => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      throw invalid('Operations must be JSON objects.');
    const change = raw as Record<string, unknown>;
    let op: string | undefined;
    let path: unknown;
    if (v20) {
      const found = OPS.filter((o) => o in change);
      if (found.length !== 1)
        throw invalid(
          'Operation objects must contain exactly one member named "add", "remove", or "replace".',
        );
      op = found[0];
      path = change[op as string];
    } else {
      if (typeof change['op'] !== 'string')
        throw invalid(
          'Unable to find `op` in JSON Schema change. It must be one of the following: add, remove, replace.',
        );
      op = change['op'];
      path = change['path'];
      if (!(OPS as readonly string[]).includes(op))
        throw invalid(
          `Invalid operation: \`${op.slice(0, 50)}\`: it must be one of the following: add, remove, replace.`,
        );
    }
    const key = decodePointer(path);
    if (op !== 'remove' && !('value' in change))
      throw invalid('Unable to find `value` in JSON Schema change');
    return { op: op as PatchOp['op'], key, value: change['value'] };
  });
}

/** The writable state after applying `ops` to `image`; validates every value. */
export function applyPatch(image: Image, ops: readonly PatchOp[]): WritableFields {
  const next: WritableFields = {
    name: image.name,
    visibility: image.visibility,
    protected: image.protected,
    os_hidden: image.os_hidden,
    owner: image.owner,
    container_format: image.container_format,
    disk_format: image.disk_format,
    min_ram: image.min_ram,
    min_disk: image.min_disk,
    tags: [...image.tags],
    properties: { ...image.properties },
  };
  const base = next as unknown as Record<string, unknown>;
  for (const { op, key, value } of ops) {
    checkWritableKey(key);
    if (WRITABLE.has(key)) {
      if (op === 'remove') throw forbidden(`Property ${key} may not be removed.`);
      base[key] = checkBaseValue(key, value);
      continue;
    }
    const exists = Object.hasOwn(next.properties, key);
    if (op === 'remove') {
      if (!exists) throw conflict(`Property ${key} does not exist.`);
      delete next.properties[key];
    } else {
      if (op === 'replace' && !exists) throw conflict(`Property ${key} does not exist.`);
      next.properties[key] = checkProperty(key, value);
    }
  }
  return next;
}
