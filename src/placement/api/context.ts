/** What every placement route needs, and the checks they share. */
import type { FastifyRequest } from 'fastify';
import type { Static, TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import type { PolicyEnforcer } from '../../common/policy/enforcer.ts';
import type { Allocations } from '../allocations.ts';
import { badRequest } from '../errors.ts';
import type { PlacementOperation } from '../policy.ts';
import type { ProviderState, Snapshot } from '../provider-state.ts';
import type { ClassRef, Providers } from '../providers.ts';
import type { Vocabulary } from '../vocabulary.ts';

export type PlacementConfigView = {
  /** Shuffle allocation candidates before `limit` takes the first ones (upstream's option). */
  readonly randomize_allocation_candidates: boolean;
};

export type ApiDeps = {
  readonly state: ProviderState;
  readonly providers: Providers;
  readonly allocations: Allocations;
  readonly vocabulary: Vocabulary;
  readonly policy: PolicyEnforcer;
  readonly config: PlacementConfigView;
};

/** @throws ForbiddenError (403) when the caller may not do `operation`. */
export function authorize(
  request: FastifyRequest,
  deps: ApiDeps,
  operation: PlacementOperation,
): void {
  deps.policy.authorize(`placement:${operation}`, {}, request.auth.toPolicyCredentials());
}

/** Whether the request's microversion is at least 1.`minor`. */
export function atLeast(request: FastifyRequest, minor: number): boolean {
  return request.apiVersion.major > 1 || request.apiVersion.minor >= minor;
}

type Validator<T extends TSchema> = ReturnType<typeof Compile<T>>;

/** Compiles a body schema once, for checking by `validate`. */
export function compile<T extends TSchema>(schema: T): Validator<T> {
  return Compile(schema);
}

/**
 * The body as the schema types it. Placement picks its body schema by microversion, so bodies are
 * checked in the handler rather than by the route.
 * @throws BadRequestError (400) naming the first field that does not validate.
 */
export function validate<T extends TSchema>(validator: Validator<T>, body: unknown): Static<T> {
  if (validator.Check(body)) return body;
  const first = validator.Errors(body)[0];
  const where = first?.instancePath
    ? first.instancePath.replace(/^\//, '').replaceAll('/', '.')
    : 'body';
  throw badRequest(`JSON does not validate: ${where}: ${first?.message ?? 'invalid value'}`);
}

/** A body field the request's microversion does not know yet. */
export function unexpectedField(name: string): ReturnType<typeof badRequest> {
  return badRequest(
    `JSON does not validate: Additional properties are not allowed ('${name}' was unexpected)`,
  );
}

/** The resource class named `name`. @throws BadRequestError (400) when there is none. */
export function classRef(
  classIds: ReadonlyMap<string, number>,
  name: string,
  context: string,
): ClassRef {
  const id = classIds.get(name);
  if (id === undefined) throw badRequest(`${context}: No such resource class ${name}.`);
  return { id, name };
}

/** Trait ids for names. @throws BadRequestError (400) listing the names that do not exist. */
export function traitIdsOf(snap: Snapshot, names: Iterable<string>): Map<string, number> {
  const out = new Map<string, number>();
  const missing: string[] = [];
  for (const name of names) {
    const id = snap.traitIds.get(name);
    if (id === undefined) missing.push(name);
    else out.set(name, id);
  }
  if (missing.length > 0) throw badRequest(`No such trait(s): ${missing.join(', ')}.`);
  return out;
}

/** The one value of a query parameter; a repeated one is a 400 unless `many` allows it. */
export function single(
  query: Record<string, string | string[] | undefined>,
  name: string,
): string | undefined {
  const value = query[name];
  if (Array.isArray(value)) {
    if (value.length > 1)
      throw badRequest(
        `Query parameter '${name}' may be specified only once.`,
        'placement.query.duplicate_key',
      );
    return value[0];
  }
  return value;
}

export function all(query: Record<string, string | string[] | undefined>, name: string): string[] {
  const value = query[name];
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

export const UUID_PATTERN =
  '^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$';

/** UUIDs as upstream stores them: lower case with dashes. */
export function normalUuid(text: string): string {
  const hex = text.replaceAll('-', '').toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const UUID = new RegExp(UUID_PATTERN);

export function isUuid(text: string): boolean {
  return UUID.test(text);
}
