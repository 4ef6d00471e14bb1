/** `/resource_providers` and `/resource_providers/{uuid}`: list, create, show, update, delete. */
import Type from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { App } from '../../common/http/app.ts';
import { fits, type ProviderNode, type Snapshot } from '../provider-state.ts';
import { providerNotFound } from '../errors.ts';
import {
  all,
  atLeast,
  authorize,
  classRef,
  compile,
  normalUuid,
  isUuid,
  single,
  traitIdsOf,
  unexpectedField,
  validate,
  UUID_PATTERN,
  type ApiDeps,
} from './context.ts';
import { onlyKnown, parseMemberOf, parseRequired, parseResources } from './query.ts';
import { providerView } from './views.ts';

const Name = Type.String({ minLength: 1, maxLength: 200 });
const Uuid = Type.String({ pattern: UUID_PATTERN });

const createBody = compile(
  Type.Object(
    {
      name: Name,
      uuid: Type.Optional(Uuid),
      parent_provider_uuid: Type.Optional(Type.Union([Uuid, Type.Null()])),
    },
    { additionalProperties: false },
  ),
);

const updateBody = compile(
  Type.Object(
    {
      name: Name,
      parent_provider_uuid: Type.Optional(Type.Union([Uuid, Type.Null()])),
    },
    { additionalProperties: false },
  ),
);

export const UuidParams = Type.Object({ uuid: Type.String({ maxLength: 64 }) });

/** The provider `uuid` from the current view. @throws NotFoundError (404). */
export function providerOf(snap: Snapshot, uuid: string): ProviderNode {
  const rp = isUuid(uuid) ? snap.byUuid.get(normalUuid(uuid)) : undefined;
  if (!rp) throw providerNotFound(uuid);
  return rp;
}

export function resourceProviderRoutes(app: App, deps: ApiDeps): void {
  app.get('/resource_providers', async (request) => {
    authorize(request, deps, 'resource_providers:list');
    const snap = await deps.state.current();
    const match = listFilter(request, snap);
    const out = [];
    for (const rp of snap.providers.values()) if (match(rp)) out.push(rp);
    out.sort((a, b) => a.id - b.id);
    return { resource_providers: out.map((rp) => providerView(request, snap, rp)) };
  });

  app.post('/resource_providers', async (request, reply) => {
    authorize(request, deps, 'resource_providers:create');
    const body = validate(createBody, request.body);
    if (body.parent_provider_uuid !== undefined && !atLeast(request, 14))
      throw unexpectedField('parent_provider_uuid');
    const row = await deps.providers.create({
      name: body.name,
      ...(body.uuid !== undefined ? { uuid: normalUuid(body.uuid) } : {}),
      ...(body.parent_provider_uuid != null
        ? { parentUuid: normalUuid(body.parent_provider_uuid) }
        : {}),
    });
    void reply.header('location', `/resource_providers/${row.uuid}`);
    if (!atLeast(request, 20)) return reply.status(201).send();
    const snap = await deps.state.current();
    return reply.status(200).send(providerView(request, snap, providerOf(snap, row.uuid)));
  });

  app.get('/resource_providers/:uuid', { schema: { params: UuidParams } }, async (request) => {
    authorize(request, deps, 'resource_providers:show');
    const snap = await deps.state.current();
    return providerView(request, snap, providerOf(snap, request.params.uuid));
  });

  app.put('/resource_providers/:uuid', { schema: { params: UuidParams } }, async (request) => {
    authorize(request, deps, 'resource_providers:update');
    const body = validate(updateBody, request.body);
    if (body.parent_provider_uuid !== undefined && !atLeast(request, 14))
      throw unexpectedField('parent_provider_uuid');
    const current = providerOf(await deps.state.current(), request.params.uuid);
    const row = await deps.providers.update(
      current.uuid,
      {
        name: body.name,
        ...(body.parent_provider_uuid !== undefined
          ? {
              parentUuid:
                body.parent_provider_uuid === null ? null : normalUuid(body.parent_provider_uuid),
            }
          : {}),
      },
      atLeast(request, 37),
    );
    const snap = await deps.state.current();
    return providerView(request, snap, providerOf(snap, row.uuid));
  });

  app.delete(
    '/resource_providers/:uuid',
    { schema: { params: UuidParams } },
    async (request, reply) => {
      authorize(request, deps, 'resource_providers:delete');
      const current = providerOf(await deps.state.current(), request.params.uuid);
      await deps.providers.delete(current.uuid);
      return reply.status(204).send();
    },
  );
}

type Query = Record<string, string | string[] | undefined>;

/** The `GET /resource_providers` filters the request's version knows, as one predicate. */
function listFilter(request: FastifyRequest, snap: Snapshot): (rp: ProviderNode) => boolean {
  const query = request.query as Query;
  const known = new Set(['name', 'uuid']);
  if (atLeast(request, 3)) known.add('member_of');
  if (atLeast(request, 4)) known.add('resources');
  if (atLeast(request, 14)) known.add('in_tree');
  if (atLeast(request, 18)) known.add('required');
  onlyKnown(query, (k) => known.has(k));
  const tests: Array<(rp: ProviderNode) => boolean> = [];
  const name = single(query, 'name');
  if (name !== undefined) tests.push((rp) => rp.name === name);
  const uuid = single(query, 'uuid');
  if (uuid !== undefined) {
    if (!isUuid(uuid)) return () => false;
    const wanted = normalUuid(uuid);
    tests.push((rp) => rp.uuid === wanted);
  }
  const memberOfValues = atLeast(request, 24) ? all(query, 'member_of') : [];
  const memberOfSingle = atLeast(request, 24) ? undefined : single(query, 'member_of');
  if (memberOfSingle !== undefined) memberOfValues.push(memberOfSingle);
  if (memberOfValues.length > 0) {
    const filter = parseMemberOf(memberOfValues, { allowForbidden: atLeast(request, 32) });
    const anyOf = filter.memberOf.map((set) => set.map((u) => snap.aggregateIds.get(u)));
    const bad = filter.forbidden.map((u) => snap.aggregateIds.get(u));
    tests.push(
      (rp) =>
        anyOf.every((set) => set.some((id) => id !== undefined && rp.aggregates.has(id))) &&
        !bad.some((id) => id !== undefined && rp.aggregates.has(id)),
    );
  }
  const resources = single(query, 'resources');
  if (resources !== undefined) {
    const wanted = parseResources(resources).map(
      ([rc, amount]) =>
        [
          classRef(snap.classIds, rc, 'Invalid resource class in resources parameter').id,
          amount,
        ] as const,
    );
    tests.push((rp) => wanted.every(([rc, amount]) => fits(rp.inventories.get(rc), amount)));
  }
  const inTree = single(query, 'in_tree');
  if (inTree !== undefined) {
    const root = isUuid(inTree) ? snap.byUuid.get(normalUuid(inTree))?.rootId : undefined;
    tests.push((rp) => root !== undefined && rp.rootId === root);
  }
  const requiredValues = atLeast(request, 39) ? all(query, 'required') : [];
  const requiredSingle = atLeast(request, 39) ? undefined : single(query, 'required');
  if (requiredSingle !== undefined) requiredValues.push(requiredSingle);
  if (requiredValues.length > 0) {
    const traits = parseRequired(requiredValues, {
      allowForbidden: atLeast(request, 22),
      allowAnyOf: atLeast(request, 39),
    });
    const ids = traitIdsOf(snap, [...traits.required.flat(), ...traits.forbidden]);
    const anyOf = traits.required.map((set) => set.map((n) => ids.get(n) ?? -1));
    const bad = traits.forbidden.map((n) => ids.get(n) ?? -1);
    tests.push(
      (rp) =>
        anyOf.every((set) => set.some((id) => rp.traits.has(id))) &&
        !bad.some((id) => rp.traits.has(id)),
    );
  }
  return (rp) => tests.every((t) => t(rp));
}
