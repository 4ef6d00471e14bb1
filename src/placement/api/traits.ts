/** `/traits[/{name}]` and `/resource_providers/{uuid}/traits` (1.6+). */
import Type from 'typebox';
import type { App } from '../../common/http/app.ts';
import { badRequest, notFound } from '../errors.ts';
import { authorize, compile, single, traitIdsOf, validate, type ApiDeps } from './context.ts';
import { onlyKnown } from './query.ts';
import { providerOf, UuidParams } from './resource-providers.ts';
import { traitNames } from './views.ts';

const FROM_1_6 = { microversion: { min: '1.6' } };

const NameParams = Type.Object({ name: Type.String({ maxLength: 255 }) });

const providerTraitsBody = compile(
  Type.Object(
    {
      traits: Type.Array(Type.String({ minLength: 1, maxLength: 255 }), { uniqueItems: true }),
      resource_provider_generation: Type.Integer({ minimum: 0 }),
    },
    { additionalProperties: false },
  ),
);

type Query = Record<string, string | string[] | undefined>;

export function traitRoutes(app: App, deps: ApiDeps): void {
  app.get('/traits', { config: FROM_1_6 }, async (request) => {
    authorize(request, deps, 'traits:list');
    const query = request.query as Query;
    onlyKnown(query, (k) => k === 'name' || k === 'associated');
    const snap = await deps.state.current();
    let names = [...snap.traitIds.keys()];
    const name = single(query, 'name');
    if (name !== undefined) {
      if (name.startsWith('in:')) {
        const wanted = new Set(name.slice(3).split(','));
        names = names.filter((n) => wanted.has(n));
      } else if (name.startsWith('startswith:')) {
        const prefix = name.slice('startswith:'.length);
        names = names.filter((n) => n.startsWith(prefix));
      } else
        throw badRequest(
          `Badly formatted name parameter. Expected name query string parameter in form: ?name=[in|startswith]:[name1,name2|prefix]. Got: "${name}"`,
        );
    }
    // Upstream compares case-insensitively; osc-placement sends `True`.
    const associated = single(query, 'associated')?.toLowerCase();
    if (associated !== undefined) {
      if (associated !== 'true' && associated !== 'false')
        throw badRequest(
          `The query parameter "associated" only accepts "true" or "false": got ${associated}`,
        );
      const inUse = new Set<string>();
      for (const rp of snap.providers.values())
        for (const t of rp.traits) inUse.add(snap.traitNames.get(t) ?? '');
      names = names.filter((n) => inUse.has(n) === (associated === 'true'));
    }
    return { traits: names.sort() };
  });

  app.get(
    '/traits/:name',
    { schema: { params: NameParams }, config: FROM_1_6 },
    async (request, reply) => {
      authorize(request, deps, 'traits:show');
      const snap = await deps.state.current();
      if (!snap.traitIds.has(request.params.name))
        throw notFound(`No such trait(s): ${request.params.name}.`);
      return reply.status(204).send();
    },
  );

  app.put(
    '/traits/:name',
    { schema: { params: NameParams }, config: FROM_1_6 },
    async (request, reply) => {
      authorize(request, deps, 'traits:update');
      const created = await deps.vocabulary.ensureTrait(request.params.name);
      void reply.header('location', `/traits/${request.params.name}`);
      return reply.status(created ? 201 : 204).send();
    },
  );

  app.delete(
    '/traits/:name',
    { schema: { params: NameParams }, config: FROM_1_6 },
    async (request, reply) => {
      authorize(request, deps, 'traits:delete');
      await deps.vocabulary.deleteTrait(request.params.name);
      return reply.status(204).send();
    },
  );

  const path = '/resource_providers/:uuid/traits';

  app.get(path, { schema: { params: UuidParams }, config: FROM_1_6 }, async (request) => {
    authorize(request, deps, 'resource_providers:traits:list');
    const snap = await deps.state.current();
    const rp = providerOf(snap, request.params.uuid);
    return { traits: traitNames(snap, rp.traits), resource_provider_generation: rp.generation };
  });

  app.put(path, { schema: { params: UuidParams }, config: FROM_1_6 }, async (request) => {
    authorize(request, deps, 'resource_providers:traits:update');
    const body = validate(providerTraitsBody, request.body);
    const snap = await deps.state.current();
    const rp = providerOf(snap, request.params.uuid);
    const ids = traitIdsOf(snap, body.traits);
    const generation = await deps.providers.setTraits(rp.uuid, body.resource_provider_generation, [
      ...ids.values(),
    ]);
    return { traits: [...body.traits].sort(), resource_provider_generation: generation };
  });

  app.delete(path, { schema: { params: UuidParams }, config: FROM_1_6 }, async (request, reply) => {
    authorize(request, deps, 'resource_providers:traits:delete');
    const rp = providerOf(await deps.state.current(), request.params.uuid);
    await deps.providers.clearTraits(rp.uuid);
    return reply.status(204).send();
  });
}
