/** `/resource_providers/{uuid}/inventories[/{resource_class}]`. */
import Type from 'typebox';
import type { App } from '../../common/http/app.ts';
import { notFound } from '../errors.ts';
import { INVENTORY_DEFAULTS, MAX_INT, type ClassRef, type InventoryInput } from '../providers.ts';
import type { Snapshot } from '../provider-state.ts';
import { atLeast, authorize, classRef, compile, validate, type ApiDeps } from './context.ts';
import { providerOf, UuidParams } from './resource-providers.ts';
import { inventoriesView, inventoryView } from './views.ts';

const Int = (minimum: number) => Type.Integer({ minimum, maximum: MAX_INT });

export const INVENTORY_FIELDS = {
  total: Int(1),
  reserved: Type.Optional(Int(0)),
  min_unit: Type.Optional(Int(1)),
  max_unit: Type.Optional(Int(1)),
  step_size: Type.Optional(Int(1)),
  allocation_ratio: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 3.40282e38 })),
};

const Generation = Type.Integer({ minimum: 0 });

const inventoryBody = compile(
  Type.Object(
    { resource_provider_generation: Generation, ...INVENTORY_FIELDS },
    { additionalProperties: false },
  ),
);

const createBody = compile(
  Type.Object(
    {
      resource_class: Type.String({ pattern: '^[A-Z0-9_]+$', maxLength: 255 }),
      resource_provider_generation: Type.Optional(Generation),
      ...INVENTORY_FIELDS,
    },
    { additionalProperties: false },
  ),
);

const replaceBody = compile(
  Type.Object(
    {
      resource_provider_generation: Generation,
      inventories: Type.Record(
        Type.String({ pattern: '^[A-Z0-9_]+$' }),
        Type.Object(INVENTORY_FIELDS, { additionalProperties: false }),
      ),
    },
    { additionalProperties: false },
  ),
);

const ClassParams = Type.Object({
  uuid: Type.String({ maxLength: 64 }),
  resource_class: Type.String({ maxLength: 255 }),
});

type Fields = {
  total: number;
  reserved?: number;
  min_unit?: number;
  max_unit?: number;
  step_size?: number;
  allocation_ratio?: number;
};

export function withDefaults(f: Fields): InventoryInput {
  return {
    total: f.total,
    reserved: f.reserved ?? INVENTORY_DEFAULTS.reserved,
    min_unit: f.min_unit ?? INVENTORY_DEFAULTS.min_unit,
    max_unit: f.max_unit ?? INVENTORY_DEFAULTS.max_unit,
    step_size: f.step_size ?? INVENTORY_DEFAULTS.step_size,
    allocation_ratio: f.allocation_ratio ?? INVENTORY_DEFAULTS.allocation_ratio,
  };
}

function classFor(snap: Snapshot, uuid: string, name: string): ClassRef {
  return classRef(
    snap.classIds,
    name,
    `Unknown resource class in inventory for resource provider ${uuid}`,
  );
}

export function inventoryRoutes(app: App, deps: ApiDeps): void {
  const base = '/resource_providers/:uuid/inventories';

  app.get(base, { schema: { params: UuidParams } }, async (request) => {
    authorize(request, deps, 'resource_providers:inventories:list');
    const snap = await deps.state.current();
    const rp = providerOf(snap, request.params.uuid);
    return { inventories: inventoriesView(snap, rp), resource_provider_generation: rp.generation };
  });

  app.post(base, { schema: { params: UuidParams } }, async (request, reply) => {
    authorize(request, deps, 'resource_providers:inventories:create');
    const body = validate(createBody, request.body);
    const snap = await deps.state.current();
    const rp = providerOf(snap, request.params.uuid);
    const rc = classFor(snap, rp.uuid, body.resource_class);
    const inv = withDefaults(body);
    const generation = await deps.providers.putInventory(
      rp.uuid,
      body.resource_provider_generation ?? rp.generation,
      rc,
      inv,
      'create',
      atLeast(request, 26),
    );
    void reply.header('location', `/resource_providers/${rp.uuid}/inventories/${rc.name}`);
    return reply.status(201).send({
      ...inventoryView({ ...inv, capacity: 0, used: 0 }),
      resource_provider_generation: generation,
    });
  });

  app.put(base, { schema: { params: UuidParams } }, async (request) => {
    authorize(request, deps, 'resource_providers:inventories:update');
    const body = validate(replaceBody, request.body);
    const snap = await deps.state.current();
    const rp = providerOf(snap, request.params.uuid);
    const inventories = new Map<ClassRef, InventoryInput>();
    for (const [name, f] of Object.entries(body.inventories))
      inventories.set(classFor(snap, rp.uuid, name), withDefaults(f));
    const generation = await deps.providers.setInventories(
      rp.uuid,
      body.resource_provider_generation,
      inventories,
      atLeast(request, 26),
    );
    const after = await deps.state.current();
    return {
      inventories: inventoriesView(after, providerOf(after, rp.uuid)),
      resource_provider_generation: generation,
    };
  });

  app.delete(
    base,
    { schema: { params: UuidParams }, config: { microversion: { min: '1.5' } } },
    async (request, reply) => {
      authorize(request, deps, 'resource_providers:inventories:delete');
      const rp = providerOf(await deps.state.current(), request.params.uuid);
      await deps.providers.deleteInventory(rp.uuid, undefined);
      return reply.status(204).send();
    },
  );

  const one = `${base}/:resource_class`;

  app.get(one, { schema: { params: ClassParams } }, async (request) => {
    authorize(request, deps, 'resource_providers:inventories:show');
    const snap = await deps.state.current();
    const rp = providerOf(snap, request.params.uuid);
    const rcId = snap.classIds.get(request.params.resource_class);
    const inv = rcId === undefined ? undefined : rp.inventories.get(rcId);
    if (!inv)
      throw notFound(`No inventory of class ${request.params.resource_class} for ${rp.uuid}`);
    return { ...inventoryView(inv), resource_provider_generation: rp.generation };
  });

  app.put(one, { schema: { params: ClassParams } }, async (request) => {
    authorize(request, deps, 'resource_providers:inventories:update');
    const body = validate(inventoryBody, request.body);
    const snap = await deps.state.current();
    const rp = providerOf(snap, request.params.uuid);
    const rc = classFor(snap, rp.uuid, request.params.resource_class);
    const inv = withDefaults(body);
    const generation = await deps.providers.putInventory(
      rp.uuid,
      body.resource_provider_generation,
      rc,
      inv,
      'update',
      atLeast(request, 26),
    );
    return {
      ...inventoryView({ ...inv, capacity: 0, used: 0 }),
      resource_provider_generation: generation,
    };
  });

  app.delete(one, { schema: { params: ClassParams } }, async (request, reply) => {
    authorize(request, deps, 'resource_providers:inventories:delete');
    const snap = await deps.state.current();
    const rp = providerOf(snap, request.params.uuid);
    const rc = classFor(snap, rp.uuid, request.params.resource_class);
    await deps.providers.deleteInventory(rp.uuid, rc);
    return reply.status(204).send();
  });
}
