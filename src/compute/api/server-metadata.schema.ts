/** Server metadata as Nova's `parameter_types.metadata` takes it. */
import { invalidField, repr } from './context.ts';

const KEY = /^[a-zA-Z0-9-_:. ]{1,255}$/;

/**
 * A metadata map: keys of 1–255 characters from `[a-zA-Z0-9-_:. ]`, string values of at most
 * 255 characters. @throws BadRequestError (400) naming `field` otherwise.
 */
export function parseMetadata(field: string, value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalidField(field, value, `${repr(value)} is not of type 'object'`);
  const out: Record<string, string> = {};
  const bad = Object.keys(value).filter((k) => !KEY.test(k));
  if (bad.length > 0)
    throw invalidField(
      field,
      value,
      `Additional properties are not allowed (${bad.map((k) => `'${k}'`).join(', ')} ${bad.length === 1 ? 'was' : 'were'} unexpected)`,
    );
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v !== 'string')
      throw invalidField(`${field}/${k}`, v, `${repr(v)} is not of type 'string'`);
    if (v.length > 255) throw invalidField(`${field}/${k}`, v, `'${v}' is too long`);
    out[k] = v;
  }
  return out;
}
