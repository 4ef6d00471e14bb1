/**
 * `POST /reshaper` (1.30+): moves inventory and the allocations that use it between providers
 * in one transaction (a compute node splitting VGPU inventory into child providers, say).
 */
import Type from 'typebox';
import type { App } from '../../common/http/app.ts';
import type { ClassRef, InventoryInput } from '../providers.ts';
import { Providers } from '../providers.ts';
import {
  atLeast,
  authorize,
  classRef,
  compile,
  normalUuid,
  validate,
  UUID_PATTERN,
  type ApiDeps,
} from './context.ts';
import { consumerSchema, toConsumerAllocations, type ConsumerBody } from './allocations.ts';
import { INVENTORY_FIELDS, withDefaults } from './inventories.ts';
import { providerOf } from './resource-providers.ts';

const Uuid = Type.String({ pattern: UUID_PATTERN });

const validators = new Map<number, ReturnType<typeof compile>>();

function validator(minor: number): ReturnType<typeof compile> {
  let v = validators.get(minor);
  if (!v) {
    v = compile(
      Type.Object(
        {
          inventories: Type.Record(
            Uuid,
            Type.Object(
              {
                resource_provider_generation: Type.Integer({ minimum: 0 }),
                inventories: Type.Record(
                  Type.String({ pattern: '^[A-Z0-9_]+$' }),
                  Type.Object(INVENTORY_FIELDS, { additionalProperties: false }),
                ),
              },
              { additionalProperties: false },
            ),
          ),
          allocations: Type.Record(Uuid, consumerSchema(minor)),
        },
        { additionalProperties: false },
      ),
    );
    validators.set(minor, v);
  }
  return v;
}

type ReshapeBody = {
  inventories: Record<
    string,
    {
      resource_provider_generation: number;
      inventories: Record<string, Parameters<typeof withDefaults>[0]>;
    }
  >;
  allocations: Record<string, ConsumerBody>;
};

export function reshaperRoutes(app: App, deps: ApiDeps): void {
  app.post('/reshaper', { config: { microversion: { min: '1.30' } } }, async (request, reply) => {
    authorize(request, deps, 'reshaper:reshape');
    const body = validate(validator(request.apiVersion.minor), request.body) as ReshapeBody;
    const snap = await deps.state.current();
    const moves: Array<{
      uuid: string;
      generation: number;
      inventories: Map<ClassRef, InventoryInput>;
    }> = [];
    for (const [uuid, entry] of Object.entries(body.inventories)) {
      const rp = providerOf(snap, uuid);
      const inventories = new Map<ClassRef, InventoryInput>();
      for (const [name, f] of Object.entries(entry.inventories))
        inventories.set(
          classRef(
            snap.classIds,
            name,
            `Unknown resource class in inventory for resource provider ${rp.uuid}`,
          ),
          withDefaults(f),
        );
      Providers.check(rp.uuid, inventories, atLeast(request, 26));
      moves.push({ uuid: rp.uuid, generation: entry.resource_provider_generation, inventories });
    }
    const consumers = Object.entries(body.allocations).map(([consumer, part]) =>
      toConsumerAllocations(request, snap.classIds, normalUuid(consumer), part),
    );
    await deps.allocations.set(consumers, async (trx) => {
      for (const m of moves)
        await deps.providers.setInventoriesIn(trx, m.uuid, m.generation, m.inventories);
    });
    return reply.status(204).send();
  });
}
