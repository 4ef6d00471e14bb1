/**
 * Subnet pools: prefixes a project's subnets can be carved from. A subnet asked for by size gets
 * the lowest block of that size from the smallest free space that holds it (upstream's best
 * fit), so pools fragment as little as possible; one asked for by CIDR must fit in free space.
 */
import { sql, type Expression, type SqlBool } from 'kysely';
import { toDbBoolean, toDbJson, toDbTimestamp } from '../common/db/portable.ts';
import { BadRequestError, ConflictError } from '../common/errors.ts';
import type { SubnetPoolRow } from './db/schema.ts';
import { invalidInput, notFound } from './errors.ts';
import {
  bitsOf,
  formatPrefix,
  mergeRanges,
  parsePrefix,
  prefixesOf,
  rangeOf,
  subtractRange,
  type IpVersion,
  type Prefix,
} from './ip.ts';
import { selectPage, type ListQuery, type ListSpec } from './listing.ts';
import {
  checkRevision,
  newId,
  tagsOf,
  type Db,
  type Viewer,
  visibleRow,
  countOwned,
  revise,
} from './standard.ts';

export type SubnetPool = {
  readonly row: SubnetPoolRow;
  readonly prefixes: readonly string[];
  readonly tags: readonly string[];
};

export type SubnetPoolInput = {
  projectId: string;
  name: string;
  prefixes: string[];
  description?: string;
  defaultPrefixlen?: number;
  minPrefixlen?: number;
  maxPrefixlen?: number;
  defaultQuota?: number | null;
  isDefault?: boolean;
  shared?: boolean;
  addressScopeId?: string | null;
};

export type SubnetPoolChanges = Partial<Omit<SubnetPoolInput, 'projectId' | 'shared'>>;

export const SUBNET_POOL_LIST: ListSpec = {
  attrs: {
    id: { column: 'id', kind: 'string' },
    name: { column: 'name', kind: 'string' },
    description: { column: 'description', kind: 'string' },
    tenant_id: { column: 'project_id', kind: 'string' },
    project_id: { column: 'project_id', kind: 'string' },
    ip_version: { column: 'ip_version', kind: 'int' },
    default_prefixlen: { column: 'default_prefixlen', kind: 'int' },
    min_prefixlen: { column: 'min_prefixlen', kind: 'int' },
    max_prefixlen: { column: 'max_prefixlen', kind: 'int' },
    is_default: { column: 'is_default', kind: 'bool' },
    shared: { column: 'shared', kind: 'bool' },
    address_scope_id: { column: 'address_scope_id', kind: 'string', nullable: true },
    revision_number: { column: 'revision_number', kind: 'int' },
  },
  tagType: 'subnetpools',
};

function poolNotFound(id: string): Error {
  return notFound('subnet pool', id);
}

function badBounds(text: string): BadRequestError {
  return new BadRequestError(`Illegal prefix bounds: ${text}.`, 'network.bad_request', {
    details: { type: 'IllegalSubnetPoolPrefixBounds' },
  });
}

/** Upstream answers these with a 500 carrying this type; a full pool is a conflict here. */
function allocationError(reason: string): ConflictError {
  return new ConflictError(`Failed to allocate subnet: ${reason}`, 'network.conflict', {
    details: { type: 'SubnetAllocationError' },
  });
}

/** Merged prefixes of one family. @throws BadRequestError (400) for a bad or mixed list. */
function compact(prefixes: readonly string[]): { version: IpVersion; prefixes: Prefix[] } {
  if (prefixes.length === 0)
    throw new BadRequestError('Empty subnet pool prefix list.', 'network.bad_request', {
      details: { type: 'EmptySubnetPoolPrefixList' },
    });
  const parsed = prefixes.map((p) => {
    const prefix = parsePrefix(p);
    if (!prefix || !p.includes('/'))
      throw new BadRequestError(
        `Invalid input for prefixes. Reason: '${p}' is not a valid IP subnet.`,
        'network.bad_request',
        {
          details: { type: 'HTTPBadRequest' },
        },
      );
    return prefix;
  });
  const version = (parsed[0] as Prefix).version;
  if (parsed.some((p) => p.version !== version))
    throw new BadRequestError(
      'Cannot mix IPv4 and IPv6 prefixes in a subnet pool.',
      'network.bad_request',
      {
        details: { type: 'PrefixVersionMismatch' },
      },
    );
  const ranges = mergeRanges(parsed.map(rangeOf));
  return { version, prefixes: ranges.flatMap((r) => prefixesOf(version, r)) };
}

function visiblePools(viewer: Viewer): Expression<SqlBool> | undefined {
  if (viewer.isAdmin) return undefined;
  return sql<SqlBool>`(subnetpools.project_id = ${viewer.projectId ?? ''} or subnetpools.shared = 1)`;
}

export class SubnetPools {
  readonly #db: Db;
  readonly #now: () => Date;

  constructor(db: Db, now: () => Date = () => new Date()) {
    this.#db = db;
    this.#now = now;
  }

  async #row(viewer: Viewer, id: string): Promise<SubnetPoolRow> {
    return visibleRow(this.#db, 'subnetpools', id, visiblePools(viewer), poolNotFound);
  }

  /** @throws NotFoundError (404) SubnetPoolNotFound. */
  async get(viewer: Viewer, id: string): Promise<SubnetPool> {
    const [pool] = await this.#hydrate([await this.#row(viewer, id)]);
    return pool as SubnetPool;
  }

  async list(viewer: Viewer, query: ListQuery): Promise<SubnetPool[]> {
    const visible = visiblePools(viewer);
    const rows = await selectPage(this.#db, 'subnetpools', query, visible ? [visible] : [], {
      tagType: 'subnetpools',
      missingMarker: poolNotFound,
    });
    return this.#hydrate(rows);
  }

  async #hydrate(rows: readonly SubnetPoolRow[]): Promise<SubnetPool[]> {
    if (rows.length === 0) return [];
    const tags = await tagsOf(
      this.#db,
      'subnetpools',
      rows.map((r) => r.id),
    );
    return rows.map((row) => ({
      row,
      prefixes: JSON.parse(row.prefixes) as string[],
      tags: tags.get(row.id) ?? [],
    }));
  }

  /** The default pool of a family, if one is set. */
  async defaultFor(viewer: Viewer, version: number): Promise<SubnetPool | undefined> {
    const visible = visiblePools(viewer);
    const row = await this.#db
      .selectFrom('subnetpools')
      .selectAll()
      .where('is_default', '=', 1)
      .where('ip_version', '=', version)
      .$if(visible !== undefined, (q) => q.where(visible as Expression<SqlBool>))
      .executeTakeFirst();
    return row ? this.get(viewer, row.id) : undefined;
  }

  #bounds(
    version: IpVersion,
    given: { min?: number | undefined; max?: number | undefined; def?: number | undefined },
  ): { min: number; max: number; def: number } {
    const bits = bitsOf(version);
    const min = given.min ?? (version === 4 ? 8 : 64);
    const max = given.max ?? bits;
    const def = given.def ?? min;
    if (max > bits) throw badBounds(`max_prefixlen=${max}, ip_version_max=${bits}`);
    if (min > max) throw badBounds(`min_prefixlen=${min}, max_prefixlen=${max}`);
    if (def < min) throw badBounds(`default_prefixlen=${def}, min_prefixlen=${min}`);
    if (def > max) throw badBounds(`default_prefixlen=${def}, max_prefixlen=${max}`);
    return { min, max, def };
  }

  async #checkDefault(version: number, except?: string): Promise<void> {
    const other = await this.#db
      .selectFrom('subnetpools')
      .select('id')
      .where('is_default', '=', 1)
      .where('ip_version', '=', version)
      .$if(except !== undefined, (q) => q.where('id', '!=', except ?? ''))
      .executeTakeFirst();
    if (other)
      throw invalidInput(
        'A default subnetpool for this IP family has already been set. Only one default may exist per IP family',
      );
  }

  async create(input: SubnetPoolInput): Promise<SubnetPool> {
    const { version, prefixes } = compact(input.prefixes);
    const bounds = this.#bounds(version, {
      min: input.minPrefixlen,
      max: input.maxPrefixlen,
      def: input.defaultPrefixlen,
    });
    if (input.isDefault === true) await this.#checkDefault(version);
    const id = newId();
    const at = toDbTimestamp(this.#now());
    await this.#db
      .insertInto('subnetpools')
      .values({
        id,
        project_id: input.projectId,
        name: input.name,
        description: input.description ?? '',
        revision_number: 0,
        created_at: at,
        updated_at: at,
        ip_version: version,
        prefixes: toDbJson(prefixes.map(formatPrefix)),
        default_prefixlen: bounds.def,
        min_prefixlen: bounds.min,
        max_prefixlen: bounds.max,
        default_quota: input.defaultQuota ?? null,
        is_default: toDbBoolean(input.isDefault ?? false),
        shared: toDbBoolean(input.shared ?? false),
        address_scope_id: input.addressScopeId ?? null,
      })
      .execute();
    return this.get({ projectId: undefined, isAdmin: true }, id);
  }

  async update(
    viewer: Viewer,
    id: string,
    changes: SubnetPoolChanges,
    revision?: number,
  ): Promise<SubnetPool> {
    const pool = await this.get(viewer, id);
    const row = pool.row;
    checkRevision(revision, row.revision_number);
    const set: Partial<SubnetPoolRow> = {};
    const version = row.ip_version as IpVersion;
    if (changes.prefixes !== undefined) {
      const next = compact(changes.prefixes);
      if (next.version !== version)
        throw new BadRequestError(
          'Cannot mix IPv4 and IPv6 prefixes in a subnet pool.',
          'network.bad_request',
          {
            details: { type: 'PrefixVersionMismatch' },
          },
        );
      const covered = mergeRanges(next.prefixes.map(rangeOf));
      for (const old of pool.prefixes) {
        const r = rangeOf(parsePrefix(old) as Prefix);
        if (!covered.some((c) => c.start <= r.start && r.end <= c.end))
          throw new BadRequestError(
            'Illegal update to prefixes: Existing prefixes must be a subset of the new prefixes.',
            'network.bad_request',
            { details: { type: 'IllegalSubnetPoolPrefixUpdate' } },
          );
      }
      set.prefixes = toDbJson(next.prefixes.map(formatPrefix));
    }
    if (
      changes.minPrefixlen !== undefined ||
      changes.maxPrefixlen !== undefined ||
      changes.defaultPrefixlen !== undefined
    ) {
      const b = this.#bounds(version, {
        min: changes.minPrefixlen ?? row.min_prefixlen,
        max: changes.maxPrefixlen ?? row.max_prefixlen,
        def: changes.defaultPrefixlen ?? row.default_prefixlen,
      });
      set.min_prefixlen = b.min;
      set.max_prefixlen = b.max;
      set.default_prefixlen = b.def;
    }
    if (changes.isDefault === true && row.is_default !== 1) await this.#checkDefault(version, id);
    if (changes.isDefault !== undefined) set.is_default = toDbBoolean(changes.isDefault);
    if (changes.name !== undefined) set.name = changes.name;
    if (changes.description !== undefined) set.description = changes.description;
    if (changes.defaultQuota !== undefined) set.default_quota = changes.defaultQuota;
    if (changes.addressScopeId !== undefined) set.address_scope_id = changes.addressScopeId;
    if (Object.keys(set).length > 0) await revise(this.#db, 'subnetpools', id, this.#now(), set);
    return this.get(viewer, id);
  }

  /** @throws BadRequestError (400) SubnetPoolDeleteError while subnets use it. */
  async delete(viewer: Viewer, id: string, revision?: number): Promise<void> {
    const row = await this.#row(viewer, id);
    checkRevision(revision, row.revision_number);
    const used = await this.#db
      .selectFrom('subnets')
      .select('id')
      .where('subnetpool_id', '=', id)
      .executeTakeFirst();
    if (used)
      throw new BadRequestError(
        'Unable to delete subnet pool: Subnet pool has existing allocations.',
        'network.bad_request',
        { details: { type: 'SubnetPoolDeleteError' } },
      );
    await this.#db
      .deleteFrom('tags')
      .where('resource_type', '=', 'subnetpools')
      .where('resource_id', '=', id)
      .execute();
    await this.#db.deleteFrom('subnetpools').where('id', '=', id).execute();
  }

  /**
   * A CIDR for a new subnet of `pool`: `cidr` when it lies in free space, else the lowest block of
   * `prefixlen` (the pool's default) in the smallest free space that holds one.
   * @throws BadRequestError (400) for a length outside the pool's bounds; ConflictError (409)
   *   SubnetAllocationError when nothing fits.
   */
  async allocate(
    pool: SubnetPool,
    request: { cidr?: string; prefixlen?: number },
  ): Promise<string> {
    const row = pool.row;
    const version = row.ip_version as IpVersion;
    let free = mergeRanges(pool.prefixes.map((p) => rangeOf(parsePrefix(p) as Prefix)));
    for (const s of await this.#db
      .selectFrom('subnets')
      .select('cidr')
      .where('subnetpool_id', '=', row.id)
      .execute()) {
      const p = parsePrefix(s.cidr);
      if (p) free = subtractRange(free, rangeOf(p));
    }
    if (request.cidr !== undefined) {
      const wanted = parsePrefix(request.cidr);
      if (!wanted) throw invalidInput(`'${request.cidr}' is not a valid IP subnet`);
      const r = rangeOf(wanted);
      if (!free.some((f) => f.start <= r.start && r.end <= f.end))
        throw allocationError(
          'Cannot allocate requested subnet from the available set of prefixes.',
        );
      return formatPrefix(wanted);
    }
    const length = request.prefixlen ?? row.default_prefixlen;
    if (length > row.max_prefixlen)
      throw new BadRequestError(
        `Unable to allocate subnet with prefix length ${length}, maximum allowed prefix is ${row.max_prefixlen}.`,
        'network.bad_request',
        { details: { type: 'MaxPrefixSubnetAllocationError' } },
      );
    if (length < row.min_prefixlen)
      throw new BadRequestError(
        `Unable to allocate subnet with prefix length ${length}, minimum allowed prefix is ${row.min_prefixlen}.`,
        'network.bad_request',
        { details: { type: 'MinPrefixSubnetAllocationError' } },
      );
    const blocks = free
      .flatMap((f) => prefixesOf(version, f))
      .map((p, i) => ({ p, i }))
      .sort((a, b) => b.p.length - a.p.length || a.i - b.i)
      .map((x) => x.p);
    const block = blocks.find((b) => b.length <= length);
    if (!block)
      throw allocationError(`Insufficient prefix space to allocate subnet size /${length}.`);
    return formatPrefix({ version, network: block.network, length });
  }

  async count(projectId: string): Promise<number> {
    return countOwned(this.#db, 'subnetpools', projectId);
  }
}
