/**
 * Compute quotas (`os-quota-sets`, `os-quota-class-sets`, `limits`): a project's limit for a
 * resource is its own, else the `default` quota class's, else the configured default; -1 is
 * unlimited. Usage is counted from live rows (Nova's counting quotas), never reserved.
 */
import { BadRequestError } from '../common/errors.ts';
import type { Instances } from './instances.ts';

export const QUOTA_RESOURCES = [
  'instances',
  'cores',
  'ram',
  'metadata_items',
  'key_pairs',
  'server_groups',
  'server_group_members',
  'injected_files',
  'injected_file_content_bytes',
  'injected_file_path_bytes',
] as const;
export type QuotaResource = (typeof QUOTA_RESOURCES)[number];
export type QuotaLimits = Record<QuotaResource, number>;

export function isQuotaResource(name: string): name is QuotaResource {
  return (QUOTA_RESOURCES as readonly string[]).includes(name);
}

export const DEFAULT_CLASS = 'default';

export class Quotas {
  readonly #instances: Instances;
  readonly #defaults: QuotaLimits;

  constructor(instances: Instances, defaults: QuotaLimits) {
    this.#instances = instances;
    this.#defaults = defaults;
  }

  get #db() {
    return this.#instances.db;
  }

  /** The limits of a quota class (the configured defaults where the class sets none). */
  async classLimits(name: string): Promise<QuotaLimits> {
    const rows = await this.#db
      .selectFrom('quota_classes')
      .select(['resource', 'hard_limit'])
      .where('class_name', '=', name)
      .execute();
    const out = { ...this.#defaults };
    for (const r of rows) if (isQuotaResource(r.resource)) out[r.resource] = r.hard_limit;
    return out;
  }

  /** The limits in force for a project. */
  async limitsOf(projectId: string): Promise<QuotaLimits> {
    const [base, rows] = await Promise.all([
      this.classLimits(DEFAULT_CLASS),
      this.#db
        .selectFrom('quotas')
        .select(['resource', 'hard_limit'])
        .where('project_id', '=', projectId)
        .execute(),
    ]);
    for (const r of rows) if (isQuotaResource(r.resource)) base[r.resource] = r.hard_limit;
    return base;
  }

  /** What the project uses now of each resource. */
  async usageOf(projectId: string): Promise<QuotaLimits> {
    const [live, groups] = await Promise.all([
      this.#db
        .selectFrom('instances')
        .select((eb) => [
          eb.fn.countAll<number>().as('n'),
          eb.fn.sum<number>('vcpus').as('cores'),
          eb.fn.sum<number>('memory_mb').as('ram'),
        ])
        .where('project_id', '=', projectId)
        .where('deleted', '=', 0)
        .executeTakeFirstOrThrow(),
      this.#db
        .selectFrom('instance_groups')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('project_id', '=', projectId)
        .executeTakeFirstOrThrow(),
    ]);
    const zero = Object.fromEntries(QUOTA_RESOURCES.map((r) => [r, 0])) as QuotaLimits;
    return {
      ...zero,
      instances: Number(live.n),
      cores: Number(live.cores ?? 0),
      ram: Number(live.ram ?? 0),
      server_groups: Number(groups.n),
    };
  }

  /**
   * Sets some of a project's limits. Unless `force`, a limit below what the project already
   * uses is refused.
   * @throws BadRequestError (400) for a limit below usage.
   */
  async setProject(
    projectId: string,
    changes: Partial<QuotaLimits>,
    force: boolean,
  ): Promise<QuotaLimits> {
    if (!force) {
      const used = await this.usageOf(projectId);
      for (const [resource, limit] of Object.entries(changes) as [QuotaResource, number][])
        if (limit >= 0 && limit < used[resource])
          throw new BadRequestError(
            `Quota limit ${limit} for ${resource} must be greater than or equal to already used and reserved ${used[resource]}.`,
            'compute.quota_below_usage',
          );
    }
    await this.#db.transaction().execute(async (trx) => {
      for (const [resource, hard_limit] of Object.entries(changes)) {
        await trx
          .deleteFrom('quotas')
          .where('project_id', '=', projectId)
          .where('resource', '=', resource)
          .execute();
        await trx
          .insertInto('quotas')
          .values({ project_id: projectId, resource, hard_limit })
          .execute();
      }
    });
    return this.limitsOf(projectId);
  }

  /** Drops a project's own limits: it falls back to the defaults. */
  async deleteProject(projectId: string): Promise<void> {
    await this.#db.deleteFrom('quotas').where('project_id', '=', projectId).execute();
  }

  async setClass(name: string, changes: Partial<QuotaLimits>): Promise<QuotaLimits> {
    await this.#db.transaction().execute(async (trx) => {
      for (const [resource, hard_limit] of Object.entries(changes)) {
        await trx
          .deleteFrom('quota_classes')
          .where('class_name', '=', name)
          .where('resource', '=', resource)
          .execute();
        await trx
          .insertInto('quota_classes')
          .values({ class_name: name, resource, hard_limit })
          .execute();
      }
    });
    return this.classLimits(name);
  }
}
