/**
 * Per-project quotas as Neutron's DB quota driver keeps them: a default per resource (from the
 * configuration), overridden per project; -1 is unlimited. A create that would go past the limit
 * is a 409 OverQuota naming the resource.
 */
import { sql } from 'kysely';
import { DuplicateKeyError, withRetry } from '../common/db/portable.ts';
import type { NetworkConfig } from './config.ts';
import { badRequest, invalidInput, notFound, overQuota } from './errors.ts';
import type { Db } from './standard.ts';

export const QUOTA_RESOURCES = [
  'network',
  'subnet',
  'port',
  'security_group',
  'security_group_rule',
  'router',
  'floatingip',
  'rbac_policy',
  'router_route',
  'subnetpool',
] as const;
export type QuotaResource = (typeof QUOTA_RESOURCES)[number];

export type Limits = Record<QuotaResource, number>;

/** Resources whose creates are ranked against each other after the fact (see `recheck`). */
const RANKED = {
  network: 'networks',
  subnet: 'subnets',
  port: 'ports',
  router: 'routers',
  floatingip: 'floatingips',
} as const;

/** The largest limit upstream stores (a signed 32-bit column). */
const MAX_LIMIT = 2147483647;

/** Counts a project's resources of one kind. */
export type Counter = (projectId: string) => Promise<number>;

export class Quotas {
  readonly #db: Db;
  readonly #defaults: Limits;
  readonly #counters: Partial<Record<QuotaResource, Counter>>;
  /** The last create queued per project and resource (see `serially`). */
  readonly #queues = new Map<string, Promise<void>>();

  constructor(db: Db, config: NetworkConfig, counters: Partial<Record<QuotaResource, Counter>>) {
    this.#db = db;
    this.#defaults = { ...config.quotas };
    this.#counters = counters;
  }

  defaults(): Limits {
    return { ...this.#defaults };
  }

  async limits(projectId: string): Promise<Limits> {
    const out = this.defaults();
    for (const row of await this.#db
      .selectFrom('quotas')
      .select(['resource', 'hard_limit'])
      .where('project_id', '=', projectId)
      .execute())
      if ((QUOTA_RESOURCES as readonly string[]).includes(row.resource))
        out[row.resource as QuotaResource] = row.hard_limit;
    return out;
  }

  /** Projects with limits of their own. */
  async projects(): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('quotas')
      .select('project_id')
      .distinct()
      .orderBy('project_id')
      .execute();
    return rows.map((r) => r.project_id);
  }

  async used(projectId: string): Promise<Limits> {
    const out = Object.fromEntries(QUOTA_RESOURCES.map((r) => [r, 0])) as Limits;
    for (const r of QUOTA_RESOURCES) {
      const counter = this.#counters[r];
      if (counter) out[r] = await counter(projectId);
    }
    return out;
  }

  /**
   * Sets limits; unless `force`, a limit below what the project already uses is refused.
   * @throws BadRequestError (400) for an unknown resource, a limit below -1, or below usage.
   */
  async set(projectId: string, changes: Readonly<Record<string, unknown>>): Promise<Limits> {
    const parsed: [QuotaResource, number][] = [];
    const force = changes['force'] === true;
    const entries = Object.entries(changes).filter(
      ([key]) => key !== 'force' && key !== 'check_limit',
    );
    // As upstream's prepare_request_body: every unknown key first, then each value.
    const unknown = entries
      .map(([key]) => key)
      .filter((key) => !(QUOTA_RESOURCES as readonly string[]).includes(key));
    if (unknown.length > 0) throw badRequest(`Unrecognized attribute(s) '${unknown.join(', ')}'`);
    for (const [key, value] of entries) {
      const limit = toInt(value);
      if (limit < -1)
        throw badRequest(
          `Invalid input for ${key}. Reason: '${limit}' is too small - must be at least '-1'.`,
        );
      if (limit > MAX_LIMIT)
        throw badRequest(
          `Invalid input for ${key}. Reason: '${limit}' is too large - must be no larger than '${MAX_LIMIT}'.`,
        );
      parsed.push([key as QuotaResource, limit]);
    }
    if (!force) {
      const used = await this.used(projectId);
      for (const [resource, limit] of parsed)
        if (limit !== -1 && used[resource] > limit)
          throw badRequest(
            `Quota limit ${limit} for ${resource} must be greater than or equal to already used ${used[resource]}`,
          );
    }
    // Two concurrent sets for one project can both find no row and both insert: run it again.
    for (let attempt = 0; ; attempt++) {
      try {
        await withRetry(() =>
          this.#db.transaction().execute(async (trx) => {
            for (const [resource, limit] of parsed) {
              await trx
                .deleteFrom('quotas')
                .where('project_id', '=', projectId)
                .where('resource', '=', resource)
                .execute();
              await trx
                .insertInto('quotas')
                .values({ project_id: projectId, resource, hard_limit: limit })
                .execute();
            }
          }),
        );
        break;
      } catch (err) {
        if (!(err instanceof DuplicateKeyError) || attempt >= 5) throw err;
      }
    }
    return this.limits(projectId);
  }

  /** Back to the defaults. @throws NotFoundError (404) when the project had none of its own. */
  async reset(projectId: string): Promise<void> {
    const result = await this.#db
      .deleteFrom('quotas')
      .where('project_id', '=', projectId)
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 0)
      throw notFound(
        'tenant quota',
        projectId,
        `Quota for project ${projectId} could not be found.`,
      );
  }

  /**
   * Runs `create` within the project's limit for `resource`: checked before, and after, when the
   * ones created last undo themselves (`undo`) should concurrent creates in other processes have
   * taken the project past it (a burst keeps exactly the limit; creates that commit long apart but
   * check in between may still pass it by one). Creates of this process for the same project and
   * resource run one after the other, so among them the limit is exact.
   * @throws ConflictError (409) OverQuota.
   */
  async within<T extends { row: { id: string } }>(
    projectId: string,
    resource: keyof typeof RANKED,
    create: () => Promise<T>,
    undo: (created: T) => Promise<unknown>,
  ): Promise<T> {
    const limit = (await this.limits(projectId))[resource];
    if (limit < 0) return create();
    return this.#serially(`${resource}\u0000${projectId}`, async () => {
      await this.#checkAgainst(projectId, resource, limit, 1);
      const created = await create();
      if ((await this.#rank(projectId, resource, created.row.id)) > limit) {
        await undo(created);
        throw overQuota([resource]);
      }
      return created;
    });
  }

  /** How many of the project's rows of `resource` were created before row `id`, itself included. */
  async #rank(projectId: string, resource: keyof typeof RANKED, id: string): Promise<number> {
    const table = RANKED[resource];
    const { rows } = await sql<{ n: number | string }>`
      select count(*) as n from ${sql.table(table)} t
      where t.project_id = ${projectId}
        and exists (select 1 from ${sql.table(table)} me where me.id = ${id}
          and (t.created_at < me.created_at or (t.created_at = me.created_at and t.id <= me.id)))`.execute(
      this.#db,
    );
    return Number(rows[0]?.n ?? 0);
  }

  /** Runs `run` after the one queued last under `key`. */
  async #serially<T>(key: string, run: () => Promise<T>): Promise<T> {
    const before = this.#queues.get(key) ?? Promise.resolve();
    const result = before.then(run, run);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#queues.set(key, tail);
    try {
      return await result;
    } finally {
      if (this.#queues.get(key) === tail) this.#queues.delete(key);
    }
  }

  /** @throws ConflictError (409) OverQuota when `adding` more would pass the project's limit. */
  async check(projectId: string, resource: QuotaResource, adding = 1): Promise<void> {
    await this.#checkAgainst(projectId, resource, (await this.limits(projectId))[resource], adding);
  }

  async #checkAgainst(
    projectId: string,
    resource: QuotaResource,
    limit: number,
    adding: number,
  ): Promise<void> {
    if (limit < 0) return;
    const counter = this.#counters[resource];
    const used = counter ? await counter(projectId) : 0;
    if (used + adding > limit) throw overQuota([resource]);
  }
}

/**
 * neutron-lib's convert_to_int, which is Python's int(): a JSON number is cut to an integer, a
 * boolean is 0 or 1, a string must spell an integer. @throws BadRequestError (400) InvalidInput.
 */
function toInt(value: unknown): number {
  if (typeof value === 'number' && Number.isFinite(value)) return Math.trunc(value);
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'string' && /^\s*[-+]?\d+\s*$/.test(value)) return Number(value.trim());
  const shown = value === null ? 'None' : typeof value === 'string' ? value : JSON.stringify(value);
  throw invalidInput(`'${shown}' is not an integer`);
}
