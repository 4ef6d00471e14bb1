/**
 * RBAC policies for networks: `access_as_shared` lets a project (or `*`, every project) use a
 * network, `access_as_external` lets it use the network as an external one. A network's `shared`
 * and `router:external` flags are its `*` entries: setting a flag writes the entry, and an entry
 * written through this API sets the flag. Withdrawing access that another project's ports rely on
 * is refused.
 */
import { sql, type Expression, type SqlBool } from 'kysely';
import { DuplicateKeyError, toDbTimestamp } from '../common/db/portable.ts';
import type { NetworkRow, RbacPolicyRow } from './db/schema.ts';
import { conflict, invalidInput, notFound } from './errors.ts';
import { selectPage, type ListQuery, type ListSpec } from './listing.ts';
import { newId, type Db, type Viewer, countOwned } from './standard.ts';

/** A policy as the domain hands it out. */
export type RbacPolicy = RbacPolicyRow;

export const RBAC_ACTIONS = ['access_as_shared', 'access_as_external'] as const;
export type RbacAction = (typeof RBAC_ACTIONS)[number];

export const RBAC_LIST: ListSpec = {
  attrs: {
    id: { column: 'id', kind: 'string' },
    tenant_id: { column: 'project_id', kind: 'string' },
    project_id: { column: 'project_id', kind: 'string' },
    object_type: { column: 'object_type', kind: 'string' },
    object_id: { column: 'object_id', kind: 'string' },
    action: { column: 'action', kind: 'string' },
    target_tenant: { column: 'target_project', kind: 'string' },
    target_project: { column: 'target_project', kind: 'string' },
  },
};

const FLAG: Readonly<Record<RbacAction, 'shared' | 'external'>> = {
  access_as_shared: 'shared',
  access_as_external: 'external',
};

/** Networks shared with the caller's project by an entry naming it. */
export function targetedTo(table: string, projectId: string): Expression<SqlBool> {
  return sql<SqlBool>`exists (select 1 from rbac_policies r where r.object_type = 'network' and r.object_id = ${sql.ref(`${table}.id`)} and r.target_project = ${projectId})`;
}

function rbacNotFound(id: string): Error {
  return notFound('rbac policy', id, `RBAC policy of type network with ID ${id} not found`);
}

/**
 * Writes (`on`) or removes the `*` entry of `action` for `network`, and its flag.
 * @throws ConflictError (409) InvalidSharedSetting when removing it strands other projects' ports.
 */
export async function setWildcard(
  db: Db,
  network: Pick<NetworkRow, 'id' | 'project_id'>,
  action: RbacAction,
  on: boolean,
  now: Date,
): Promise<void> {
  if (on) {
    await db
      .insertInto('rbac_policies')
      .values({
        id: newId(),
        project_id: network.project_id,
        object_type: 'network',
        object_id: network.id,
        action,
        target_project: '*',
      })
      .execute()
      .catch((err: unknown) => {
        if (!(err instanceof DuplicateKeyError)) throw err;
      });
  } else {
    await checkWithdraw(db, network, action, '*');
    await db
      .deleteFrom('rbac_policies')
      .where('object_id', '=', network.id)
      .where('action', '=', action)
      .where('target_project', '=', '*')
      .execute();
  }
  await db
    .updateTable('networks')
    .set({ [FLAG[action]]: on ? 1 : 0, updated_at: toDbTimestamp(now) })
    .where('id', '=', network.id)
    .execute();
}

/**
 * Refuses to withdraw `action` for `target` when a project that would lose access (not the
 * owner, not covered by another entry) still has ports on the network (or, for external
 * access, router gateways).
 */
async function checkWithdraw(
  db: Db,
  network: Pick<NetworkRow, 'id' | 'project_id'>,
  action: RbacAction,
  target: string,
): Promise<void> {
  const others = await db
    .selectFrom('rbac_policies')
    .select('target_project')
    .where('object_id', '=', network.id)
    .where('action', '=', action)
    .where('target_project', '!=', target)
    .execute();
  if (others.some((o) => o.target_project === '*')) return;
  const covered = new Set([network.project_id, '', ...others.map((o) => o.target_project)]);
  const owners =
    action === 'access_as_shared'
      ? await db
          .selectFrom('ports')
          .select('project_id')
          .distinct()
          .where('network_id', '=', network.id)
          .where('device_owner', 'not like', 'network:%')
          .execute()
      : await db
          .selectFrom('routers')
          .innerJoin('ports', 'ports.id', 'routers.gw_port_id')
          .select('routers.project_id')
          .distinct()
          .where('ports.network_id', '=', network.id)
          .execute();
  const stranded = owners.filter(
    (o) => (target === '*' || o.project_id === target) && !covered.has(o.project_id),
  );
  if (stranded.length > 0)
    throw conflict(
      'InvalidSharedSetting',
      `Unable to reconfigure sharing settings for network ${network.id}. Multiple projects are using it.`,
    );
}

export class RbacPolicies {
  readonly #db: Db;
  readonly #now: () => Date;

  constructor(db: Db, now: () => Date = () => new Date()) {
    this.#db = db;
    this.#now = now;
  }

  #visible(viewer: Viewer): Expression<SqlBool> | undefined {
    if (viewer.isAdmin) return undefined;
    const own = viewer.projectId ?? '';
    return sql<SqlBool>`(rbac_policies.project_id = ${own} or rbac_policies.target_project = ${own})`;
  }

  async get(viewer: Viewer, id: string): Promise<RbacPolicyRow> {
    const visible = this.#visible(viewer);
    const row = await this.#db
      .selectFrom('rbac_policies')
      .selectAll()
      .where('id', '=', id)
      .$if(visible !== undefined, (q) => q.where(visible as Expression<SqlBool>))
      .executeTakeFirst();
    if (!row) throw rbacNotFound(id);
    return row;
  }

  async list(viewer: Viewer, query: ListQuery): Promise<RbacPolicyRow[]> {
    const visible = this.#visible(viewer);
    return selectPage(this.#db, 'rbac_policies', query, visible ? [visible] : [], {
      missingMarker: rbacNotFound,
    });
  }

  /**
   * @throws BadRequestError (400) InvalidInput for a bad type, action or target, or a network
   *   the caller does not own; ConflictError (409) DuplicateRbacPolicy.
   */
  async create(
    viewer: Viewer,
    input: {
      projectId: string;
      objectType: string;
      objectId: string;
      action: string;
      target: string;
    },
  ): Promise<RbacPolicyRow> {
    if (input.objectType !== 'network')
      throw invalidInput(`'${input.objectType}' is not a valid RBAC object type`);
    if (!(RBAC_ACTIONS as readonly string[]).includes(input.action))
      throw invalidInput(
        `Invalid action '${input.action}' for object type 'network'. Valid actions: ('access_as_shared', 'access_as_external')`,
      );
    if (input.target !== '*' && !/^[0-9a-zA-Z_-]{1,64}$/.test(input.target))
      throw invalidInput(
        `'${input.target}' is not a valid target project ID; expected a UUID or '*'`,
      );
    const network = await this.#db
      .selectFrom('networks')
      .select(['id', 'project_id'])
      .where('id', '=', input.objectId)
      .executeTakeFirst();
    if (!network || (!viewer.isAdmin && network.project_id !== viewer.projectId))
      throw invalidInput('Only admins can manipulate policies on networks they do not own');
    const row: RbacPolicyRow = {
      id: newId(),
      project_id: input.projectId,
      object_type: 'network',
      object_id: network.id,
      action: input.action,
      target_project: input.target,
    };
    try {
      await this.#db.transaction().execute(async (trx) => {
        await trx.insertInto('rbac_policies').values(row).execute();
        if (input.target === '*' || input.action === 'access_as_external')
          await trx
            .updateTable('networks')
            .set({ [FLAG[input.action as RbacAction]]: 1, updated_at: toDbTimestamp(this.#now()) })
            .where('id', '=', network.id)
            .execute();
      });
    } catch (err) {
      if (err instanceof DuplicateKeyError)
        throw conflict('DuplicateRbacPolicy', 'An RBAC policy already exists with those values.');
      throw err;
    }
    return row;
  }

  /** Retargets the policy. @throws as `delete` for the target it leaves. */
  async update(viewer: Viewer, id: string, target: string): Promise<RbacPolicyRow> {
    const row = await this.get(viewer, id);
    if (!viewer.isAdmin && row.project_id !== viewer.projectId) throw rbacNotFound(id);
    await this.#withdraw(row);
    try {
      await this.#db
        .updateTable('rbac_policies')
        .set({ target_project: target })
        .where('id', '=', id)
        .execute();
    } catch (err) {
      if (err instanceof DuplicateKeyError)
        throw conflict('DuplicateRbacPolicy', 'An RBAC policy already exists with those values.');
      throw err;
    }
    await this.#syncFlags(row.object_id);
    return this.get(viewer, id);
  }

  /** @throws ConflictError (409) RbacPolicyInUse while projects relying on it have ports. */
  async delete(viewer: Viewer, id: string): Promise<void> {
    const row = await this.get(viewer, id);
    if (!viewer.isAdmin && row.project_id !== viewer.projectId) throw rbacNotFound(id);
    await this.#withdraw(row);
    await this.#db.deleteFrom('rbac_policies').where('id', '=', id).execute();
    await this.#syncFlags(row.object_id);
  }

  async #withdraw(row: RbacPolicyRow): Promise<void> {
    const network = await this.#db
      .selectFrom('networks')
      .select(['id', 'project_id'])
      .where('id', '=', row.object_id)
      .executeTakeFirst();
    if (!network) return;
    try {
      await checkWithdraw(this.#db, network, row.action as RbacAction, row.target_project);
    } catch (err) {
      throw conflict(
        'RbacPolicyInUse',
        `RBAC policy on object ${row.object_id} cannot be removed because other objects depend on it.\nDetails: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }

  /** `shared` follows the `*` sharing entry; `router:external` any external entry. */
  async #syncFlags(networkId: string): Promise<void> {
    const rows = await this.#db
      .selectFrom('rbac_policies')
      .select(['action', 'target_project'])
      .where('object_id', '=', networkId)
      .execute();
    await this.#db
      .updateTable('networks')
      .set({
        shared: rows.some((r) => r.action === 'access_as_shared' && r.target_project === '*')
          ? 1
          : 0,
        external: rows.some((r) => r.action === 'access_as_external') ? 1 : 0,
        updated_at: toDbTimestamp(this.#now()),
      })
      .where('id', '=', networkId)
      .execute();
  }

  async count(projectId: string): Promise<number> {
    return countOwned(this.#db, 'rbac_policies', projectId);
  }
}
