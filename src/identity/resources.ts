/**
 * Domains and projects (Keystone's resource backend): hierarchy, tags, enable/disable. Disabling
 * or deleting one revokes the tokens scoped to it.
 */
import type { Kysely } from 'kysely';
import {
  DuplicateKeyError,
  ForeignKeyError,
  fromDbBoolean,
  toDbBoolean,
  toDbJson,
} from '../common/db/portable.ts';
import type { IdentityDatabase, ProjectRow, DomainRow } from './db/schema.ts';
import { duplicate, forbidden, invalid, notFound } from './errors.ts';
import { newId } from './ids.ts';
import type { Revocations } from './revocations.ts';

export type Domain = {
  id: string;
  name: string;
  description: string | null;
  enabled: boolean;
  options: Record<string, unknown>;
};

export type Project = {
  id: string;
  name: string;
  domain_id: string;
  /** The parent project, or the domain for a top-level project. */
  parent_id: string;
  description: string | null;
  enabled: boolean;
  tags: string[];
  options: Record<string, unknown>;
  /** Attributes Keystone does not define but stores and returns (`--property k=v`). */
  extra: Record<string, unknown>;
};

export type ProjectFilter = {
  domain_id?: string | undefined;
  name?: string | undefined;
  parent_id?: string | undefined;
  enabled?: boolean | undefined;
  ids?: readonly string[] | undefined;
  /** All of these tags. */
  tags?: readonly string[] | undefined;
  /** Any of these tags. */
  tags_any?: readonly string[] | undefined;
  not_tags?: readonly string[] | undefined;
  not_tags_any?: readonly string[] | undefined;
};

const MAX_TAGS = 80;
const TAG = /^[^,/]{1,255}$/;

function toDomain(row: DomainRow): Domain {
  const extra = JSON.parse(row.extra) as { options?: Record<string, unknown> };
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    enabled: fromDbBoolean(row.enabled),
    options: extra.options ?? {},
  };
}

export function checkTags(tags: readonly string[]): string[] {
  if (tags.length > MAX_TAGS) throw invalid(`A project may have at most ${MAX_TAGS} tags.`);
  for (const tag of tags) {
    if (!TAG.test(tag))
      throw invalid(`Invalid tag '${tag}': tags are 1 to 255 characters without ',' or '/'.`);
  }
  return [...new Set(tags)];
}

export class Resources {
  readonly #db: Kysely<IdentityDatabase>;
  readonly #revocations: Revocations;

  constructor(db: Kysely<IdentityDatabase>, revocations: Revocations) {
    this.#db = db;
    this.#revocations = revocations;
  }

  // ---- domains ----

  async createDomain(input: {
    id?: string;
    name: string;
    description?: string | null;
    enabled?: boolean;
    options?: Record<string, unknown>;
  }): Promise<Domain> {
    const row: DomainRow = {
      id: input.id ?? newId(),
      name: input.name,
      description: input.description ?? null,
      enabled: toDbBoolean(input.enabled ?? true),
      extra: toDbJson({ options: input.options ?? {} }),
    };
    try {
      await this.#db.insertInto('domain').values(row).execute();
    } catch (err) {
      if (err instanceof DuplicateKeyError)
        throw duplicate('domain', `Duplicate entry found with name ${input.name}`);
      throw err;
    }
    return toDomain(row);
  }

  async findDomain(id: string): Promise<Domain | undefined> {
    const row = await this.#db
      .selectFrom('domain')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toDomain(row);
  }

  async getDomain(id: string): Promise<Domain> {
    const domain = await this.findDomain(id);
    if (!domain) throw notFound('domain', id);
    return domain;
  }

  async getDomainByName(name: string): Promise<Domain> {
    const row = await this.#db
      .selectFrom('domain')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row) throw notFound('domain', name);
    return toDomain(row);
  }

  async listDomains(
    filter: {
      name?: string | undefined;
      enabled?: boolean | undefined;
      ids?: readonly string[];
    } = {},
  ): Promise<Domain[]> {
    let q = this.#db.selectFrom('domain').selectAll().orderBy('name');
    if (filter.name !== undefined) q = q.where('name', '=', filter.name);
    if (filter.enabled !== undefined) q = q.where('enabled', '=', toDbBoolean(filter.enabled));
    if (filter.ids !== undefined) {
      if (filter.ids.length === 0) return [];
      q = q.where('id', 'in', [...filter.ids]);
    }
    return (await q.execute()).map(toDomain);
  }

  async updateDomain(
    id: string,
    patch: {
      name?: string;
      description?: string | null;
      enabled?: boolean;
      options?: Record<string, unknown>;
    },
  ): Promise<Domain> {
    const current = await this.getDomain(id);
    const next: Domain = {
      ...current,
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      ...(patch.description !== undefined ? { description: patch.description } : {}),
      ...(patch.enabled !== undefined ? { enabled: patch.enabled } : {}),
      ...(patch.options !== undefined ? { options: { ...current.options, ...patch.options } } : {}),
    };
    try {
      await this.#db
        .updateTable('domain')
        .set({
          name: next.name,
          description: next.description,
          enabled: toDbBoolean(next.enabled),
          extra: toDbJson({ options: next.options }),
        })
        .where('id', '=', id)
        .execute();
    } catch (err) {
      if (err instanceof DuplicateKeyError)
        throw duplicate('domain', `Duplicate entry found with name ${next.name}`);
      throw err;
    }
    if (current.enabled && !next.enabled) await this.#revocations.revoke({ domain_id: id });
    return next;
  }

  /** Keystone refuses to delete an enabled domain, so a mistaken delete needs two steps. */
  async deleteDomain(id: string): Promise<void> {
    const domain = await this.getDomain(id);
    if (domain.enabled)
      throw forbidden('Cannot delete a domain that is enabled, please disable it first.');
    const used = await this.#db
      .selectFrom('project')
      .select('id')
      .where('domain_id', '=', id)
      .executeTakeFirst();
    if (used)
      throw forbidden(`Cannot delete domain ${id}: it still owns projects; delete them first.`);
    try {
      await this.#db.deleteFrom('domain').where('id', '=', id).execute();
    } catch (err) {
      if (err instanceof ForeignKeyError)
        throw forbidden(
          `Cannot delete domain ${id}: it still owns users or groups; delete them first.`,
        );
      throw err;
    }
    await this.#revocations.revoke({ domain_id: id });
  }

  // ---- projects ----

  async createProject(input: {
    id?: string;
    name: string;
    domain_id?: string | undefined;
    parent_id?: string | null | undefined;
    description?: string | null | undefined;
    enabled?: boolean | undefined;
    tags?: readonly string[] | undefined;
    options?: Record<string, unknown> | undefined;
    extra?: Record<string, unknown> | undefined;
  }): Promise<Project> {
    let domainId = input.domain_id;
    let parentId = input.parent_id ?? undefined;
    if (parentId !== undefined && parentId !== domainId) {
      const parent = await this.findProject(parentId);
      if (!parent) throw notFound('project', parentId);
      if (domainId !== undefined && domainId !== parent.domain_id) {
        throw invalid('Cannot create project, the parent is in a different domain.');
      }
      domainId = parent.domain_id;
    }
    if (domainId === undefined)
      throw invalid("Invalid input for field 'domain_id': a project needs a domain.");
    await this.getDomain(domainId);
    parentId ??= domainId;
    const tags = checkTags(input.tags ?? []);
    const row: ProjectRow = {
      id: input.id ?? newId(),
      name: input.name,
      domain_id: domainId,
      parent_id: parentId,
      description: input.description ?? null,
      enabled: toDbBoolean(input.enabled ?? true),
      extra: toDbJson({ options: input.options ?? {}, extra: input.extra ?? {} }),
    };
    try {
      await this.#db.transaction().execute(async (tx) => {
        await tx.insertInto('project').values(row).execute();
        if (tags.length > 0)
          await tx
            .insertInto('project_tag')
            .values(tags.map((name) => ({ project_id: row.id, name })))
            .execute();
      });
    } catch (err) {
      if (err instanceof DuplicateKeyError) {
        throw duplicate(
          'project',
          `Duplicate entry found with name ${input.name} at domain ID ${domainId}`,
        );
      }
      throw err;
    }
    return this.#toProject(row, tags);
  }

  async findProject(id: string): Promise<Project | undefined> {
    const row = await this.#db
      .selectFrom('project')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) return undefined;
    const tags = await this.#db
      .selectFrom('project_tag')
      .select('name')
      .where('project_id', '=', id)
      .orderBy('name')
      .execute();
    return this.#toProject(
      row,
      tags.map((t) => t.name),
    );
  }

  async getProject(id: string): Promise<Project> {
    const project = await this.findProject(id);
    if (!project) throw notFound('project', id);
    return project;
  }

  async getProjectByName(name: string, domainId: string): Promise<Project> {
    const row = await this.#db
      .selectFrom('project')
      .select('id')
      .where('name', '=', name)
      .where('domain_id', '=', domainId)
      .executeTakeFirst();
    if (!row) throw notFound('project', name);
    return this.getProject(row.id);
  }

  async listProjects(filter: ProjectFilter = {}): Promise<Project[]> {
    let q = this.#db.selectFrom('project').selectAll().orderBy('name').orderBy('id');
    if (filter.domain_id !== undefined) q = q.where('domain_id', '=', filter.domain_id);
    if (filter.name !== undefined) q = q.where('name', '=', filter.name);
    if (filter.parent_id !== undefined) q = q.where('parent_id', '=', filter.parent_id);
    if (filter.enabled !== undefined) q = q.where('enabled', '=', toDbBoolean(filter.enabled));
    if (filter.ids !== undefined) {
      if (filter.ids.length === 0) return [];
      q = q.where('id', 'in', [...filter.ids]);
    }
    const rows = await q.execute();
    const tagRows =
      rows.length === 0
        ? []
        : await this.#db
            .selectFrom('project_tag')
            .select(['project_id', 'name'])
            .where(
              'project_id',
              'in',
              rows.map((r) => r.id),
            )
            .orderBy('name')
            .execute();
    const tagsOf = new Map<string, string[]>();
    for (const t of tagRows)
      tagsOf.set(t.project_id, [...(tagsOf.get(t.project_id) ?? []), t.name]);
    return rows
      .map((r) => this.#toProject(r, tagsOf.get(r.id) ?? []))
      .filter((p) => matchesTags(p.tags, filter));
  }

  async updateProject(
    id: string,
    patch: {
      name?: string | undefined;
      description?: string | null | undefined;
      enabled?: boolean | undefined;
      tags?: readonly string[] | undefined;
      options?: Record<string, unknown> | undefined;
      extra?: Record<string, unknown> | undefined;
    },
  ): Promise<Project> {
    const current = await this.getProject(id);
    const tags = patch.tags === undefined ? current.tags : checkTags(patch.tags);
    const next: Project = {
      ...current,
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      ...(patch.description !== undefined ? { description: patch.description } : {}),
      ...(patch.enabled !== undefined ? { enabled: patch.enabled } : {}),
      ...(patch.options !== undefined ? { options: { ...current.options, ...patch.options } } : {}),
      ...(patch.extra !== undefined ? { extra: { ...current.extra, ...patch.extra } } : {}),
      tags,
    };
    try {
      await this.#db.transaction().execute(async (tx) => {
        await tx
          .updateTable('project')
          .set({
            name: next.name,
            description: next.description,
            enabled: toDbBoolean(next.enabled),
            extra: toDbJson({ options: next.options, extra: next.extra }),
          })
          .where('id', '=', id)
          .execute();
        if (patch.tags !== undefined) {
          await tx.deleteFrom('project_tag').where('project_id', '=', id).execute();
          if (tags.length > 0)
            await tx
              .insertInto('project_tag')
              .values(tags.map((name) => ({ project_id: id, name })))
              .execute();
        }
      });
    } catch (err) {
      if (err instanceof DuplicateKeyError) {
        throw duplicate(
          'project',
          `Duplicate entry found with name ${next.name} at domain ID ${next.domain_id}`,
        );
      }
      throw err;
    }
    if (current.enabled && !next.enabled) await this.#revocations.revoke({ project_id: id });
    return next;
  }

  /** Only a leaf may be deleted; its assignments go with it and its tokens are revoked. */
  async deleteProject(id: string): Promise<void> {
    await this.getProject(id);
    const child = await this.#db
      .selectFrom('project')
      .select('id')
      .where('parent_id', '=', id)
      .executeTakeFirst();
    if (child) {
      throw forbidden(
        `Cannot delete the project ${id} since it is not a leaf in the hierarchy. Delete its children first.`,
      );
    }
    await this.#db.transaction().execute(async (tx) => {
      await tx.deleteFrom('assignment').where('target_id', '=', id).execute();
      // What only made sense with the project goes with it, as in Keystone.
      await tx.deleteFrom('application_credential').where('project_id', '=', id).execute();
      await tx.deleteFrom('credential').where('project_id', '=', id).execute();
      await tx.deleteFrom('project_limit').where('project_id', '=', id).execute();
      await tx.deleteFrom('project').where('id', '=', id).execute();
    });
    await this.#revocations.revoke({ project_id: id });
  }

  /** Ancestors from the parent up to the top-level project (the domain is not included). */
  async parents(project: Project): Promise<Project[]> {
    const out: Project[] = [];
    let parentId = project.parent_id;
    const seen = new Set<string>([project.id]);
    while (parentId !== project.domain_id && !seen.has(parentId)) {
      seen.add(parentId);
      const parent = await this.findProject(parentId);
      if (!parent) break;
      out.push(parent);
      parentId = parent.parent_id;
    }
    return out;
  }

  /** Every descendant, breadth first. */
  async subtree(project: Project): Promise<Project[]> {
    const out: Project[] = [];
    let level = [project.id];
    while (level.length > 0) {
      const children = await this.#db
        .selectFrom('project')
        .select('id')
        .where('parent_id', 'in', level)
        .where('id', 'not in', level)
        .orderBy('name')
        .execute();
      const projects = await this.listProjects({ ids: children.map((c) => c.id) });
      out.push(...projects);
      level = projects.map((p) => p.id);
    }
    return out;
  }

  #toProject(row: ProjectRow, tags: string[]): Project {
    const extra = JSON.parse(row.extra) as {
      options?: Record<string, unknown>;
      extra?: Record<string, unknown>;
    };
    return {
      id: row.id,
      name: row.name,
      domain_id: row.domain_id,
      parent_id: row.parent_id,
      description: row.description,
      enabled: fromDbBoolean(row.enabled),
      tags,
      options: extra.options ?? {},
      extra: extra.extra ?? {},
    };
  }
}

function matchesTags(tags: readonly string[], f: ProjectFilter): boolean {
  const has = (t: string): boolean => tags.includes(t);
  if (f.tags && !f.tags.every(has)) return false;
  if (f.tags_any && !f.tags_any.some(has)) return false;
  if (f.not_tags && f.not_tags.every(has)) return false;
  if (f.not_tags_any && f.not_tags_any.some(has)) return false;
  return true;
}
