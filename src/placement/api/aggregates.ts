/** `/resource_providers/{uuid}/aggregates` (1.1+; generations from 1.19). */
import Type from 'typebox';
import type { App } from '../../common/http/app.ts';
import {
  atLeast,
  authorize,
  compile,
  normalUuid,
  validate,
  UUID_PATTERN,
  type ApiDeps,
} from './context.ts';
import { providerOf, UuidParams } from './resource-providers.ts';
import { aggregateUuids } from './views.ts';

const Aggregates = Type.Array(Type.String({ pattern: UUID_PATTERN }), { uniqueItems: true });

const listBody = compile(Aggregates);
const generationBody = compile(
  Type.Object(
    { aggregates: Aggregates, resource_provider_generation: Type.Integer({ minimum: 0 }) },
    { additionalProperties: false },
  ),
);

const FROM_1_1 = { microversion: { min: '1.1' } };

export function aggregateRoutes(app: App, deps: ApiDeps): void {
  const path = '/resource_providers/:uuid/aggregates';

  app.get(path, { schema: { params: UuidParams }, config: FROM_1_1 }, async (request) => {
    authorize(request, deps, 'resource_providers:aggregates:list');
    const snap = await deps.state.current();
    const rp = providerOf(snap, request.params.uuid);
    const aggregates = aggregateUuids(snap, rp.aggregates);
    return atLeast(request, 19)
      ? { aggregates, resource_provider_generation: rp.generation }
      : { aggregates };
  });

  app.put(path, { schema: { params: UuidParams }, config: FROM_1_1 }, async (request) => {
    authorize(request, deps, 'resource_providers:aggregates:update');
    const rp = providerOf(await deps.state.current(), request.params.uuid);
    let aggregates: string[];
    let generation: number | undefined;
    if (atLeast(request, 19)) {
      const body = validate(generationBody, request.body);
      aggregates = body.aggregates;
      generation = body.resource_provider_generation;
    } else aggregates = validate(listBody, request.body);
    const normal = aggregates.map(normalUuid);
    const next = await deps.providers.setAggregates(rp.uuid, generation, normal);
    const sorted = [...new Set(normal)].sort();
    return atLeast(request, 19)
      ? { aggregates: sorted, resource_provider_generation: next }
      : { aggregates: sorted };
  });
}
