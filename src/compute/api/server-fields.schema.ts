/**
 * The server fields both an update (`PUT /servers/{id}`) and a rebuild may change: name,
 * description (2.19), hostname (2.90) and the access addresses, checked as Nova's schemas do.
 */
import type { StateChange } from '../instances.ts';
import { invalidField, repr, type Body } from './context.ts';

const HOSTNAME = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;

/** The changes `body` asks for. @throws BadRequestError (400) naming a bad field. */
export function serverFieldChanges(body: Body): StateChange {
  const change: StateChange = {};
  const name = body['name'];
  if (name !== undefined) {
    if (typeof name !== 'string' || name.length < 1 || name.length > 255 || /^ | $/.test(name))
      throw invalidField('name', name, `${repr(name)} is not valid under any of the given schemas`);
    change.display_name = name;
  }
  const description = body['description'];
  if (description !== undefined) {
    if (description !== null && (typeof description !== 'string' || description.length > 255))
      throw invalidField(
        'description',
        description,
        `${repr(description)} is not valid under any of the given schemas`,
      );
    change.display_description = description;
  }
  const hostname = body['hostname'];
  if (hostname !== undefined) {
    if (typeof hostname !== 'string' || !HOSTNAME.test(hostname))
      throw invalidField(
        'hostname',
        hostname,
        `${repr(hostname)} does not match the hostname pattern`,
      );
    change.hostname = hostname;
  }
  for (const [field, column] of [
    ['accessIPv4', 'access_ip_v4'],
    ['accessIPv6', 'access_ip_v6'],
  ] as const) {
    const v = body[field];
    if (v === undefined) continue;
    if (typeof v !== 'string' && v !== null)
      throw invalidField(
        field,
        v,
        `${repr(v)} is not a '${field === 'accessIPv4' ? 'ipv4' : 'ipv6'}'`,
      );
    change[column] = v === '' ? null : v;
  }
  return change;
}
