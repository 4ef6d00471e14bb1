/**
 * Server groups (`os-server-groups`): a project's named set of servers with a placement policy
 * the scheduler enforces (affinity, anti-affinity and their soft variants). Members are the
 * group's live instances; a deleted instance leaves its group by being deleted.
 */
import { randomUUID } from 'node:crypto';
import type { Selectable } from 'kysely';
import { NotFoundError } from '../common/errors.ts';
import { fromDbJson, toDbJson, toDbTimestamp } from '../common/db/portable.ts';
import type { InstanceGroupRow } from './db/schema.ts';
import type { Db, Instances } from './instances.ts';

export const GROUP_POLICIES = [
  'anti-affinity',
  'affinity',
  'soft-anti-affinity',
  'soft-affinity',
] as const;
export type GroupPolicy = (typeof GROUP_POLICIES)[number];

export type GroupRules = { max_server_per_host?: number };

export type ServerGroup = {
  id: number;
  uuid: string;
  name: string;
  projectId: string;
  userId: string;
  policy: GroupPolicy;
  rules: GroupRules;
  members: string[];
};

/** What the scheduler needs of an instance's group: its policy and where its members run. */
export type GroupPlacement = {
  uuid: string;
  policy: GroupPolicy;
  maxServerPerHost: number;
  /** Hosts of the other live members, with how many of them each runs. */
  memberHosts: Record<string, number>;
};

export function groupNotFound(uuid: string): NotFoundError {
  return new NotFoundError(
    `Instance group ${uuid} could not be found.`,
    'compute.server_group_not_found',
  );
}

export class ServerGroups {
  readonly #instances: Instances;

  constructor(instances: Instances) {
    this.#instances = instances;
  }

  get #db() {
    return this.#instances.db;
  }

  async create(group: {
    name: string;
    projectId: string;
    userId: string;
    policy: GroupPolicy;
    rules: GroupRules;
  }): Promise<ServerGroup> {
    const uuid = randomUUID();
    await this.#db
      .insertInto('instance_groups')
      .values({
        uuid,
        name: group.name,
        project_id: group.projectId,
        user_id: group.userId,
        policy: group.policy,
        rules: toDbJson(group.rules),
        created_at: toDbTimestamp(this.#instances.now()),
      })
      .execute();
    return this.get(uuid);
  }

  /** @throws NotFoundError (404) for an unknown group. */
  async get(uuid: string): Promise<ServerGroup> {
    const row = await this.#db
      .selectFrom('instance_groups')
      .selectAll()
      .where('uuid', '=', uuid)
      .executeTakeFirst();
    if (row === undefined) throw groupNotFound(uuid);
    const [group] = await this.#withMembers([row]);
    return group as ServerGroup;
  }

  /** The groups of a project (every group when `projectId` is undefined), oldest first. */
  async list(
    projectId: string | undefined,
    page: { limit?: number; offset?: number },
  ): Promise<ServerGroup[]> {
    let q = this.#db.selectFrom('instance_groups').selectAll().orderBy('id');
    if (projectId !== undefined) q = q.where('project_id', '=', projectId);
    if (page.limit !== undefined) q = q.limit(page.limit);
    if (page.offset !== undefined && page.offset > 0)
      q = q.offset(page.offset).limit(page.limit ?? 1_000_000);
    return this.#withMembers(await q.execute());
  }

  async delete(uuid: string): Promise<void> {
    const result = await this.#db
      .deleteFrom('instance_groups')
      .where('uuid', '=', uuid)
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw groupNotFound(uuid);
  }

  async countOf(projectId: string): Promise<number> {
    const row = await this.#db
      .selectFrom('instance_groups')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('project_id', '=', projectId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Adds instances to a group inside the boot's transaction. */
  async addMembers(trx: Db, groupId: number, uuids: readonly string[]): Promise<void> {
    if (uuids.length === 0) return;
    const now = toDbTimestamp(this.#instances.now());
    await trx
      .insertInto('instance_group_members')
      .values(uuids.map((instance_uuid) => ({ group_id: groupId, instance_uuid, created_at: now })))
      .execute();
  }

  /** The group of an instance with where its other members run, or undefined. */
  async placementOf(instanceUuid: string): Promise<GroupPlacement | undefined> {
    const group = await this.#db
      .selectFrom('instance_group_members as m')
      .innerJoin('instance_groups as g', 'g.id', 'm.group_id')
      .select(['g.id', 'g.uuid', 'g.policy', 'g.rules'])
      .where('m.instance_uuid', '=', instanceUuid)
      .executeTakeFirst();
    if (group === undefined) return undefined;
    const hosts = await this.#db
      .selectFrom('instance_group_members as m')
      .innerJoin('instances as i', 'i.uuid', 'm.instance_uuid')
      .select('i.host')
      .where('m.group_id', '=', group.id)
      .where('i.deleted', '=', 0)
      .where('i.uuid', '!=', instanceUuid)
      .where('i.host', 'is not', null)
      .execute();
    const memberHosts: Record<string, number> = {};
    for (const { host } of hosts)
      if (host !== null) memberHosts[host] = (memberHosts[host] ?? 0) + 1;
    const rules = fromDbJson(group.rules) as GroupRules;
    return {
      uuid: group.uuid,
      policy: group.policy as GroupPolicy,
      maxServerPerHost: rules.max_server_per_host ?? 1,
      memberHosts,
    };
  }

  /** The groups each instance belongs to (for the server view from 2.71). */
  async groupsOf(instanceUuids: readonly string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    if (instanceUuids.length === 0) return out;
    const rows = await this.#db
      .selectFrom('instance_group_members as m')
      .innerJoin('instance_groups as g', 'g.id', 'm.group_id')
      .select(['m.instance_uuid', 'g.uuid'])
      .where('m.instance_uuid', 'in', [...instanceUuids])
      .execute();
    for (const r of rows) out.set(r.instance_uuid, [...(out.get(r.instance_uuid) ?? []), r.uuid]);
    return out;
  }

  async #withMembers(rows: Selectable<InstanceGroupRow>[]): Promise<ServerGroup[]> {
    const ids = rows.map((r) => r.id);
    const members = new Map<number, string[]>();
    if (ids.length > 0) {
      const found = await this.#db
        .selectFrom('instance_group_members as m')
        .innerJoin('instances as i', 'i.uuid', 'm.instance_uuid')
        .select(['m.group_id', 'm.instance_uuid'])
        .where('m.group_id', 'in', ids)
        .where('i.deleted', '=', 0)
        .orderBy('m.created_at')
        .execute();
      for (const m of found)
        members.set(m.group_id, [...(members.get(m.group_id) ?? []), m.instance_uuid]);
    }
    return rows.map((r) => ({
      id: r.id,
      uuid: r.uuid,
      name: r.name,
      projectId: r.project_id,
      userId: r.user_id,
      policy: r.policy as GroupPolicy,
      rules: fromDbJson(r.rules) as GroupRules,
      members: members.get(r.id) ?? [],
    }));
  }
}

/**
 * Whether `host` keeps the group's hard policy for a member placed there (Nova's late check on
 * the compute host): undefined when it does, else why not.
 */
export function groupViolation(group: GroupPlacement, host: string): string | undefined {
  const here = group.memberHosts[host] ?? 0;
  if (group.policy === 'anti-affinity' && here >= group.maxServerPerHost)
    return `Anti-affinity instance group policy was violated on ${host}.`;
  if (group.policy === 'affinity') {
    const elsewhere = Object.keys(group.memberHosts).some((h) => h !== host);
    if (elsewhere) return `Affinity instance group policy was violated on ${host}.`;
  }
  return undefined;
}
