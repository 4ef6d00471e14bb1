/** Placement's response shapes, microversion by microversion. */
import type { FastifyRequest } from 'fastify';
import type { InventoryView, ProviderNode, Snapshot } from '../provider-state.ts';
import { atLeast } from './context.ts';

type Link = { rel: string; href: string };

export function providerLinks(request: FastifyRequest, uuid: string): Link[] {
  const base = `/resource_providers/${uuid}`;
  const links: Link[] = [
    { rel: 'self', href: base },
    { rel: 'inventories', href: `${base}/inventories` },
    { rel: 'usages', href: `${base}/usages` },
  ];
  if (atLeast(request, 1)) links.push({ rel: 'aggregates', href: `${base}/aggregates` });
  if (atLeast(request, 6)) links.push({ rel: 'traits', href: `${base}/traits` });
  if (atLeast(request, 11)) links.push({ rel: 'allocations', href: `${base}/allocations` });
  return links;
}

export function providerView(
  request: FastifyRequest,
  snap: Snapshot,
  rp: ProviderNode,
): Record<string, unknown> {
  const view: Record<string, unknown> = {
    uuid: rp.uuid,
    name: rp.name,
    generation: rp.generation,
    links: providerLinks(request, rp.uuid),
  };
  if (atLeast(request, 14)) {
    view['parent_provider_uuid'] =
      rp.parentId === null ? null : (snap.providers.get(rp.parentId)?.uuid ?? null);
    view['root_provider_uuid'] = snap.providers.get(rp.rootId)?.uuid ?? rp.uuid;
  }
  return view;
}

export function inventoryView(inv: InventoryView): Record<string, number> {
  return {
    allocation_ratio: inv.allocation_ratio,
    max_unit: inv.max_unit,
    min_unit: inv.min_unit,
    reserved: inv.reserved,
    step_size: inv.step_size,
    total: inv.total,
  };
}

/** The class names of a provider's inventory, in id order (standard classes first). */
export function inventoriesView(
  snap: Snapshot,
  rp: ProviderNode,
): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const [rcId, inv] of [...rp.inventories].sort((a, b) => a[0] - b[0]))
    out[snap.classNames.get(rcId) ?? String(rcId)] = inventoryView(inv);
  return out;
}

export function traitNames(snap: Snapshot, ids: Iterable<number>): string[] {
  return [...ids].map((id) => snap.traitNames.get(id) ?? String(id)).sort();
}

export function aggregateUuids(snap: Snapshot, ids: Iterable<number>): string[] {
  return [...ids].map((id) => snap.aggregateUuids.get(id) ?? String(id)).sort();
}
