/**
 * `/allocations/{consumer_uuid}` (GET, PUT, DELETE), `POST /allocations` (1.13+) and
 * `GET /resource_providers/{uuid}/allocations`. The body shape changes with the version: a list
 * of providers before 1.12, a map by provider uuid after; project and user from 1.8, consumer
 * generation from 1.28, consumer type from 1.38.
 */
import Type, { type TSchema } from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { App } from '../../common/http/app.ts';
import type { ConsumerAllocations, ResourceAmount } from '../allocations.ts';
import { badRequest } from '../errors.ts';
import {
  atLeast,
  authorize,
  classRef,
  compile,
  isUuid,
  normalUuid,
  validate,
  UUID_PATTERN,
  type ApiDeps,
} from './context.ts';
import { providerOf, UuidParams } from './resource-providers.ts';

const Resources = Type.Record(
  Type.String({ pattern: '^[A-Z0-9_]+$', maxLength: 255 }),
  Type.Integer({ minimum: 1, maximum: 2147483647 }),
  { minProperties: 1 },
);
const Id = Type.String({ minLength: 1, maxLength: 255 });
const Uuid = Type.String({ pattern: UUID_PATTERN });
const ConsumerType = Type.String({ pattern: '^[A-Z0-9_]+$', minLength: 1, maxLength: 255 });

const ListForm = Type.Array(
  Type.Object(
    { resource_provider: Type.Object({ uuid: Uuid }), resources: Resources },
    { additionalProperties: false },
  ),
  { minItems: 1 },
);

function mapForm(allowEmpty: boolean): TSchema {
  return Type.Record(
    Uuid,
    Type.Object(
      { resources: Resources, generation: Type.Optional(Type.Integer()) },
      { additionalProperties: false },
    ),
    allowEmpty ? {} : { minProperties: 1 },
  );
}

/** One consumer's part of a body, for a microversion. */
export function consumerSchema(minor: number): TSchema {
  const props: Record<string, TSchema> = {
    allocations: minor >= 12 ? mapForm(minor >= 28) : ListForm,
    project_id: minor >= 8 ? Id : Type.Optional(Id),
    user_id: minor >= 8 ? Id : Type.Optional(Id),
  };
  if (minor >= 28) props['consumer_generation'] = Type.Union([Type.Integer(), Type.Null()]);
  if (minor >= 38) props['consumer_type'] = ConsumerType;
  return Type.Object(props, { additionalProperties: false });
}

const putValidators = new Map<number, ReturnType<typeof compile>>();
const postValidators = new Map<number, ReturnType<typeof compile>>();

function validatorFor(request: FastifyRequest, post: boolean): ReturnType<typeof compile> {
  const minor = request.apiVersion.minor;
  const cache = post ? postValidators : putValidators;
  let v = cache.get(minor);
  if (!v) {
    const one = consumerSchema(minor);
    v = compile(post ? Type.Record(Uuid, one, { minProperties: 1 }) : one);
    cache.set(minor, v);
  }
  return v;
}

export type ConsumerBody = {
  allocations:
    | Array<{ resource_provider: { uuid: string }; resources: Record<string, number> }>
    | Record<string, { resources: Record<string, number> }>;
  project_id?: string;
  user_id?: string;
  consumer_generation?: number | null;
  consumer_type?: string;
};

function amountsOf(
  classIds: ReadonlyMap<string, number>,
  consumer: string,
  body: ConsumerBody,
): ResourceAmount[] {
  const entries = Array.isArray(body.allocations)
    ? body.allocations.map((a) => [a.resource_provider.uuid, a.resources] as const)
    : Object.entries(body.allocations).map(([uuid, a]) => [uuid, a.resources] as const);
  const out: ResourceAmount[] = [];
  for (const [uuid, resources] of entries)
    for (const [name, amount] of Object.entries(resources)) {
      const rc = classRef(classIds, name, `Unable to allocate inventory for consumer ${consumer}`);
      out.push({ providerUuid: normalUuid(uuid), rcId: rc.id, rcName: rc.name, amount });
    }
  return out;
}

/** One consumer's part of a body as the domain takes it. */
export function toConsumerAllocations(
  request: FastifyRequest,
  classIds: ReadonlyMap<string, number>,
  consumer: string,
  body: ConsumerBody,
): ConsumerAllocations {
  return {
    consumerUuid: consumer,
    // Upstream fills project and user from the token when a pre-1.8 body leaves them out.
    projectId: body.project_id ?? request.auth.projectId ?? '',
    userId: body.user_id ?? request.auth.userId,
    ...(atLeast(request, 28) ? { consumerGeneration: body.consumer_generation ?? null } : {}),
    ...(body.consumer_type !== undefined ? { consumerType: body.consumer_type } : {}),
    allocations: amountsOf(classIds, consumer, body),
  };
}

const ConsumerParams = Type.Object({ consumer_uuid: Type.String({ maxLength: 64 }) });

function consumerUuidOf(text: string): string {
  if (!isUuid(text)) throw badRequest(`Malformed consumer_uuid: '${text}' is not a UUID.`);
  return normalUuid(text);
}

export function allocationRoutes(app: App, deps: ApiDeps): void {
  const path = '/allocations/:consumer_uuid';

  app.get(path, { schema: { params: ConsumerParams } }, async (request) => {
    authorize(request, deps, 'allocations:list');
    const consumer = consumerUuidOf(request.params.consumer_uuid);
    const found = await deps.allocations.get(consumer);
    const allocations: Record<string, unknown> = {};
    for (const [uuid, entry] of found.providers) allocations[uuid] = entry;
    const out: Record<string, unknown> = { allocations };
    const c = found.consumer;
    if (c && found.providers.size > 0 && atLeast(request, 12)) {
      out['project_id'] = c.project_id;
      out['user_id'] = c.user_id;
      if (atLeast(request, 28)) out['consumer_generation'] = c.generation;
      if (atLeast(request, 38)) out['consumer_type'] = c.consumer_type ?? 'unknown';
    }
    return out;
  });

  app.put(path, { schema: { params: ConsumerParams } }, async (request, reply) => {
    authorize(request, deps, 'allocations:update');
    const consumer = consumerUuidOf(request.params.consumer_uuid);
    const body = validate(validatorFor(request, false), request.body) as ConsumerBody;
    const classIds = await deps.state.classIds();
    await deps.allocations.set([toConsumerAllocations(request, classIds, consumer, body)]);
    return reply.status(204).send();
  });

  app.delete(path, { schema: { params: ConsumerParams } }, async (request, reply) => {
    authorize(request, deps, 'allocations:delete');
    await deps.allocations.delete(consumerUuidOf(request.params.consumer_uuid));
    return reply.status(204).send();
  });

  app.post(
    '/allocations',
    { config: { microversion: { min: '1.13' } } },
    async (request, reply) => {
      authorize(request, deps, 'allocations:manage');
      const body = validate(validatorFor(request, true), request.body) as Record<
        string,
        ConsumerBody
      >;
      const classIds = await deps.state.classIds();
      await deps.allocations.set(
        Object.entries(body).map(([consumer, part]) =>
          toConsumerAllocations(request, classIds, normalUuid(consumer), part),
        ),
      );
      return reply.status(204).send();
    },
  );

  app.get(
    '/resource_providers/:uuid/allocations',
    { schema: { params: UuidParams } },
    async (request) => {
      authorize(request, deps, 'resource_providers:allocations:list');
      const rp = providerOf(await deps.state.current(), request.params.uuid);
      const found = await deps.allocations.forProvider(rp.uuid);
      const allocations: Record<string, unknown> = {};
      for (const [consumer, resources] of found.consumers) allocations[consumer] = { resources };
      return { allocations, resource_provider_generation: found.generation };
    },
  );
}
