/**
 * Listing instances as GET /servers filters them: SQL does the exact filters, the sort and the
 * keyset page; the name regular expression and the address filter, which SQL cannot express
 * portably, are applied while reading pages until the page is full.
 */
import type { Kysely, SelectQueryBuilder } from 'kysely';
import { BadRequestError } from '../common/errors.ts';
import type { ComputeDatabase, InstanceRow } from './db/schema.ts';
import { instanceOf, type Instance } from './instance-model.ts';

export type InstanceFilters = {
  /** undefined: every project (an admin's all_tenants). */
  projectId?: string;
  /** Live instances, deleted ones, or both (what changed since a time). */
  deleted: 'live' | 'deleted' | 'any';
  /** A regular expression searched in the display name (Nova's `name`). */
  name?: RegExp;
  vmStates?: string[];
  taskStates?: string[];
  imageRef?: string;
  flavorId?: string;
  host?: string;
  node?: string;
  reservationId?: string;
  userId?: string;
  changesSince?: string;
  changesBefore?: string;
  /** A regular expression searched in the instance's addresses. */
  ip?: RegExp;
  locked?: boolean;
  availabilityZone?: string;
  keyName?: string;
  tags?: string[];
  uuids?: string[];
};

export const INSTANCE_SORT_KEYS: Readonly<Record<string, keyof InstanceRow>> = {
  created_at: 'created_at',
  updated_at: 'updated_at',
  launched_at: 'launched_at',
  display_name: 'display_name',
  uuid: 'uuid',
  vm_state: 'vm_state',
  task_state: 'task_state',
  power_state: 'power_state',
  host: 'host',
  node: 'node',
  hostname: 'hostname',
  availability_zone: 'availability_zone',
  key_name: 'key_name',
  project_id: 'project_id',
  user_id: 'user_id',
  terminated_at: 'terminated_at',
  locked: 'locked',
  image_ref: 'image_ref',
  progress: 'progress',
};

export type InstancePage = {
  sortKey: keyof InstanceRow;
  sortDir: 'asc' | 'desc';
  limit: number;
  marker?: string;
};

type Q = SelectQueryBuilder<ComputeDatabase, 'instances', InstanceRow>;

function applyFilters(q: Q, f: InstanceFilters): Q {
  let out = f.deleted === 'any' ? q : q.where('deleted', '=', f.deleted === 'deleted' ? 1 : 0);
  if (f.projectId !== undefined) out = out.where('project_id', '=', f.projectId);
  if (f.vmStates !== undefined) out = out.where('vm_state', 'in', f.vmStates);
  if (f.taskStates !== undefined) out = out.where('task_state', 'in', f.taskStates);
  if (f.imageRef !== undefined) out = out.where('image_ref', '=', f.imageRef);
  if (f.flavorId !== undefined) out = out.where('flavor_id', '=', f.flavorId);
  if (f.host !== undefined) out = out.where('host', '=', f.host);
  if (f.node !== undefined) out = out.where('node', '=', f.node);
  if (f.reservationId !== undefined) out = out.where('reservation_id', '=', f.reservationId);
  if (f.userId !== undefined) out = out.where('user_id', '=', f.userId);
  if (f.changesSince !== undefined) out = out.where('updated_at', '>=', f.changesSince);
  if (f.changesBefore !== undefined) out = out.where('updated_at', '<=', f.changesBefore);
  if (f.locked !== undefined) out = out.where('locked', '=', f.locked ? 1 : 0);
  if (f.availabilityZone !== undefined)
    out = out.where('availability_zone', '=', f.availabilityZone);
  if (f.keyName !== undefined) out = out.where('key_name', '=', f.keyName);
  if (f.uuids !== undefined) out = out.where('uuid', 'in', f.uuids.length > 0 ? f.uuids : ['']);
  for (const tag of f.tags ?? [])
    out = out.where((eb) =>
      eb.exists(
        eb
          .selectFrom('instance_tags')
          .select('tag')
          .whereRef('instance_tags.instance_uuid', '=', 'instances.uuid')
          .where('instance_tags.tag', '=', tag),
      ),
    );
  return out;
}

function matches(row: InstanceRow, f: InstanceFilters): boolean {
  if (f.name !== undefined && !f.name.test(row.display_name)) return false;
  if (f.ip !== undefined) {
    const info = JSON.parse(row.network_info) as { ips: { address: string }[] }[];
    if (!info.some((v) => v.ips.some((ip) => f.ip?.test(ip.address)))) return false;
  }
  return true;
}

/**
 * One page of instances.
 * @throws BadRequestError (400) "marker [x] not found", as Nova words it.
 */
export async function listInstances(
  db: Kysely<ComputeDatabase>,
  filters: InstanceFilters,
  page: InstancePage,
): Promise<Instance[]> {
  const key = page.sortKey;
  const dir = page.sortDir;
  let after: { value: unknown; uuid: string } | undefined;
  if (page.marker !== undefined) {
    const marker = await db
      .selectFrom('instances')
      .selectAll()
      .where('uuid', '=', page.marker)
      .executeTakeFirst();
    if (marker === undefined)
      throw new BadRequestError(`marker [${page.marker}] not found`, 'compute.marker_not_found');
    after = { value: marker[key], uuid: marker.uuid };
  }
  const out: Instance[] = [];
  const batch =
    filters.name !== undefined || filters.ip !== undefined
      ? Math.max(200, page.limit * 2)
      : page.limit;
  for (;;) {
    let q = applyFilters(db.selectFrom('instances').selectAll(), filters);
    if (after !== undefined) {
      const { value, uuid } = after;
      const op = dir === 'asc' ? '>' : '<';
      q = q.where((eb) =>
        value === null
          ? dir === 'asc'
            ? eb.or([eb(key, 'is not', null), eb.and([eb(key, 'is', null), eb('uuid', op, uuid)])])
            : eb.and([eb(key, 'is', null), eb('uuid', op, uuid)])
          : eb.or([
              eb(key, op, value as never),
              eb.and([eb(key, '=', value as never), eb('uuid', op, uuid)]),
              ...(dir === 'desc' ? [eb(key, 'is', null)] : []),
            ]),
      );
    }
    // NULLs first when ascending and last when descending, the same on all three databases.
    q = q
      .orderBy((eb) => eb.case().when(key, 'is', null).then(0).else(1).end(), dir)
      .orderBy(key, dir)
      .orderBy('uuid', dir)
      .limit(batch);
    const rows = await q.execute();
    for (const row of rows) {
      if (matches(row, filters)) out.push(instanceOf(row));
      if (out.length >= page.limit) return out;
    }
    const last = rows.at(-1);
    if (rows.length < batch || last === undefined) return out;
    after = { value: last[key], uuid: last.uuid };
  }
}
