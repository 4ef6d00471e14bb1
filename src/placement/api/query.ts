/**
 * Placement's query-string mini-languages, shared by `GET /resource_providers` and
 * `GET /allocation_candidates`: `resources=VCPU:2,MEMORY_MB:512`, `required=A,!B` and
 * `required=in:A,B` (1.39), `member_of=in:agg1,agg2`, `member_of=!agg` (1.32).
 */
import { CODES, badRequest } from '../errors.ts';
import { isUuid, normalUuid } from './context.ts';

/** `VCPU:2,DISK_GB:10` → [[VCPU, 2], [DISK_GB, 10]]. @throws BadRequestError (400). */
export function parseResources(value: string, key = 'resources'): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  const seen = new Set<string>();
  if (value === '')
    throw badRequest(
      `Badly formed ${key} parameter. Expected ${key} query string parameter in form: ?${key}=VCPU:2,MEMORY_MB:1024. Got: empty string.`,
      CODES.badQueryValue,
    );
  for (const item of value.split(',')) {
    const [name, amount, ...rest] = item.split(':');
    if (name === undefined || name === '' || amount === undefined || rest.length > 0)
      throw badRequest(
        `Badly formed ${key} parameter. Expected ${key} query string parameter in form: ?${key}=VCPU:2,MEMORY_MB:1024. Got: ${value}.`,
        CODES.badQueryValue,
      );
    if (!/^[1-9]\d*$/.test(amount) || Number(amount) > 2147483647)
      throw badRequest(
        `Requested resource ${name} expected positive integer amount. Got: ${amount}.`,
        CODES.badQueryValue,
      );
    if (seen.has(name))
      throw badRequest(
        `Badly formed ${key} parameter. Resource class ${name} appears more than once. Got: ${value}.`,
        CODES.badQueryValue,
      );
    seen.add(name);
    out.push([name, Number(amount)]);
  }
  return out;
}

export type TraitFilter = { required: string[][]; forbidden: string[] };

/**
 * Values of `required` (each `A,!B` or, from 1.39, `in:A,B`).
 * @throws BadRequestError (400) for an empty or malformed value, or a trait both required and
 *   forbidden.
 */
export function parseRequired(
  values: readonly string[],
  opts: { allowForbidden: boolean; allowAnyOf: boolean; key?: string },
): TraitFilter {
  const key = opts.key ?? 'required';
  const required: string[][] = [];
  const forbidden: string[] = [];
  for (const value of values) {
    if (opts.allowAnyOf && value.startsWith('in:')) {
      const names = value
        .slice(3)
        .split(',')
        .map((s) => s.trim());
      if (names.some((n) => n === '' || n.startsWith('!')))
        throw badRequest(
          `Invalid query string parameters: Expected '${key}' parameter value of the form: in:HW_CPU_X86_VMX,CUSTOM_MAGIC. Got an empty trait name or a forbidden one: ${value}.`,
          CODES.badQueryValue,
        );
      required.push([...new Set(names)]);
      continue;
    }
    for (const raw of value.split(',')) {
      const name = raw.trim();
      const bare = name.startsWith('!') ? name.slice(1) : name;
      if (bare === '' || (name.startsWith('!') && !opts.allowForbidden))
        throw badRequest(
          `Invalid query string parameters: Expected '${key}' parameter value of the form: HW_CPU_X86_VMX,${opts.allowForbidden ? '!' : ''}CUSTOM_MAGIC. Got: ${value}`,
          CODES.badQueryValue,
        );
      if (name.startsWith('!')) forbidden.push(bare);
      else required.push([bare]);
    }
  }
  const conflicts = required.filter((anyOf) => anyOf.every((n) => forbidden.includes(n)));
  if (conflicts.length > 0)
    throw badRequest(
      `Conflicting required and forbidden traits found in the following traits keys: ${key}: (${conflicts.flat().join(', ')})`,
      CODES.badQueryValue,
    );
  return { required, forbidden: [...new Set(forbidden)] };
}

export type AggregateFilter = { memberOf: string[][]; forbidden: string[] };

/**
 * Values of `member_of`: a uuid or `in:uuid,uuid` (any of), and from 1.32 `!uuid` or
 * `!in:uuid,uuid` (none of). @throws BadRequestError (400) for anything that is not a uuid.
 */
export function parseMemberOf(
  values: readonly string[],
  opts: { allowForbidden: boolean; key?: string },
): AggregateFilter {
  const key = opts.key ?? 'member_of';
  const memberOf: string[][] = [];
  const forbidden: string[] = [];
  for (const value of values) {
    let text = value;
    const negative = text.startsWith('!');
    if (negative) {
      if (!opts.allowForbidden)
        throw badRequest(
          `Invalid query string parameters: Expected '${key}' parameter to contain valid UUID(s). Got: ${value}`,
          CODES.badQueryValue,
        );
      text = text.slice(1);
    }
    const anyOf = text.startsWith('in:');
    if (anyOf) text = text.slice(3);
    const uuids = text.split(',').map((s) => s.trim());
    if (uuids.some((u) => !isUuid(u)))
      throw badRequest(
        `Invalid query string parameters: Expected '${key}' parameter to contain valid UUID(s). Got: ${value}`,
        CODES.badQueryValue,
      );
    if (!anyOf && uuids.length > 1)
      throw badRequest(
        `Invalid query string parameters: Expected '${key}' parameter to contain valid UUID(s) with 'in:' before a list. Got: ${value}`,
        CODES.badQueryValue,
      );
    if (negative) forbidden.push(...uuids.map(normalUuid));
    else memberOf.push(uuids.map(normalUuid));
  }
  return { memberOf, forbidden: [...new Set(forbidden)] };
}

/** @throws BadRequestError (400) naming query parameters the version does not know. */
export function onlyKnown(query: Record<string, unknown>, known: (key: string) => boolean): void {
  const unknown = Object.keys(query).filter((k) => !known(k));
  if (unknown.length > 0)
    throw badRequest(
      `Invalid query string parameters: Additional properties are not allowed (${unknown.map((k) => `'${k}'`).join(', ')} ${unknown.length === 1 ? 'was' : 'were'} unexpected)`,
    );
}
