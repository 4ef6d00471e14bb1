/** `/v3/projects` with hierarchy (parents/subtree as list or ids) and tags. */
import Type from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { App } from '../../common/http/app.ts';
import { notFound } from '../errors.ts';
import type { Project } from '../resources.ts';
import {
  allowed,
  authorize,
  callerOf,
  scopedDomain,
  type ApiDeps,
  type Caller,
} from './context.ts';
import { listLinks, queryBool, queryList, extrasOf } from './links.ts';
import { projectView } from './views.ts';

const Name = Type.String({ minLength: 1, maxLength: 64, pattern: '\\S' });
const Description = Type.Union([Type.String({ maxLength: 65535 }), Type.Null()]);
const Tag = Type.String({ minLength: 1, maxLength: 255 });
const Options = Type.Record(Type.String(), Type.Unknown());

const KNOWN = new Set([
  'name',
  'domain_id',
  'parent_id',
  'description',
  'enabled',
  'tags',
  'options',
  'is_domain',
  'id',
]);

const CreateBody = Type.Object({
  project: Type.Object({
    name: Name,
    domain_id: Type.Optional(
      Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Null()]),
    ),
    parent_id: Type.Optional(
      Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Null()]),
    ),
    description: Type.Optional(Description),
    enabled: Type.Optional(Type.Boolean()),
    is_domain: Type.Optional(Type.Literal(false)),
    tags: Type.Optional(Type.Array(Tag, { maxItems: 80 })),
    options: Type.Optional(Options),
  }),
});

const UpdateBody = Type.Object({
  project: Type.Object(
    {
      name: Type.Optional(Name),
      description: Type.Optional(Description),
      enabled: Type.Optional(Type.Boolean()),
      tags: Type.Optional(Type.Array(Tag, { maxItems: 80 })),
      options: Type.Optional(Options),
    },
    { minProperties: 1 },
  ),
});

const IdParams = Type.Object({ project_id: Type.String({ minLength: 1, maxLength: 64 }) });
const TagParams = Type.Object({
  project_id: Type.String({ minLength: 1, maxLength: 64 }),
  tag: Tag,
});
const ListQuery = Type.Object({
  domain_id: Type.Optional(Type.String()),
  name: Type.Optional(Type.String()),
  parent_id: Type.Optional(Type.String()),
  enabled: Type.Optional(Type.String()),
  is_domain: Type.Optional(Type.String()),
  tags: Type.Optional(Type.String()),
  'tags-any': Type.Optional(Type.String()),
  'not-tags': Type.Optional(Type.String()),
  'not-tags-any': Type.Optional(Type.String()),
});
const ShowQuery = Type.Object({
  parents_as_list: Type.Optional(Type.String()),
  subtree_as_list: Type.Optional(Type.String()),
  parents_as_ids: Type.Optional(Type.String()),
  subtree_as_ids: Type.Optional(Type.String()),
});

/** Attributes Keystone does not define are stored and returned as they came. */
function target(p: Pick<Project, 'id' | 'domain_id'>) {
  return { project: { id: p.id, domain_id: p.domain_id }, domain_id: p.domain_id };
}

/** Nested `{id: {child: …}}` maps, Keystone's `*_as_ids` form. */
function idTree(
  root: Project,
  all: Project[],
  field: 'parent' | 'child',
): Record<string, unknown> | null {
  if (field === 'parent') {
    let tree: Record<string, unknown> | null = null;
    for (const p of [...all].reverse()) tree = { [p.id]: tree };
    return tree;
  }
  const build = (id: string): Record<string, unknown> | null => {
    const children = all.filter((p) => p.parent_id === id);
    return children.length === 0
      ? null
      : Object.fromEntries(children.map((c) => [c.id, build(c.id)]));
  };
  return build(root.id);
}

export function projectRoutes(app: App, deps: ApiDeps): void {
  const { resources } = deps.identity;

  const visible = (request: FastifyRequest, caller: Caller, projects: Project[]) =>
    projects
      .filter((p) => allowed(deps, caller, 'identity:get_project', target(p)))
      .map((p) => ({ project: projectView(request, p) }));

  app.post('/v3/projects', { schema: { body: CreateBody } }, async (request, reply) => {
    const body = request.body.project;
    const caller = await authorize(request, deps, 'identity:create_project', {
      project: { domain_id: body.domain_id ?? null },
      domain_id: body.domain_id ?? null,
    });
    // Without a domain, Keystone puts the project in the domain of the caller's token.
    const domainId =
      body.domain_id ??
      (body.parent_id == null
        ? caller.data.scope.kind === 'project'
          ? caller.data.scope.project.domain_id
          : caller.data.scope.kind === 'domain'
            ? caller.data.scope.domain.id
            : caller.data.user.domain_id
        : undefined);
    const project = await resources.createProject({
      name: body.name,
      domain_id: domainId ?? undefined,
      parent_id: body.parent_id,
      description: body.description,
      enabled: body.enabled,
      tags: body.tags,
      options: body.options,
      extra: extrasOf(body, KNOWN),
    });
    return reply.status(201).send({ project: projectView(request, project) });
  });

  app.get('/v3/projects', { schema: { querystring: ListQuery } }, async (request) => {
    const q = request.query;
    const domainId = q.domain_id ?? scopedDomain(await callerOf(request, deps));
    const caller = await authorize(request, deps, 'identity:list_projects', {
      domain_id: domainId ?? null,
    });
    if (queryBool(q.is_domain) === true) return { projects: [], links: listLinks(request) };
    const projects = await resources.listProjects({
      domain_id: domainId,
      name: q.name,
      parent_id: q.parent_id,
      enabled: queryBool(q.enabled),
      tags: queryList(q.tags),
      tags_any: queryList(q['tags-any']),
      not_tags: queryList(q['not-tags']),
      not_tags_any: queryList(q['not-tags-any']),
    });
    return {
      projects: visible(request, caller, projects).map((v) => v.project),
      links: listLinks(request),
    };
  });

  app.get(
    '/v3/projects/:project_id',
    { schema: { params: IdParams, querystring: ShowQuery } },
    async (request) => {
      const project = await resources.getProject(request.params.project_id);
      const caller = await authorize(request, deps, 'identity:get_project', target(project));
      const view: Record<string, unknown> = projectView(request, project);
      const q = request.query;
      if (queryBool(q.parents_as_list) === true || queryBool(q.parents_as_ids) === true) {
        const parents = await resources.parents(project);
        if (queryBool(q.parents_as_list) === true)
          view['parents'] = visible(request, caller, parents);
        if (queryBool(q.parents_as_ids) === true)
          view['parents'] = idTree(project, parents, 'parent');
      }
      if (queryBool(q.subtree_as_list) === true || queryBool(q.subtree_as_ids) === true) {
        const subtree = await resources.subtree(project);
        if (queryBool(q.subtree_as_list) === true)
          view['subtree'] = visible(request, caller, subtree);
        if (queryBool(q.subtree_as_ids) === true)
          view['subtree'] = idTree(project, subtree, 'child');
      }
      return { project: view };
    },
  );

  app.patch(
    '/v3/projects/:project_id',
    { schema: { params: IdParams, body: UpdateBody } },
    async (request) => {
      const current = await resources.getProject(request.params.project_id);
      await authorize(request, deps, 'identity:update_project', target(current));
      const body = request.body.project as Record<string, unknown> & typeof request.body.project;
      const extra = extrasOf(body, KNOWN);
      const project = await resources.updateProject(current.id, {
        ...body,
        ...(Object.keys(extra).length > 0 ? { extra } : {}),
      });
      return { project: projectView(request, project) };
    },
  );

  app.delete(
    '/v3/projects/:project_id',
    { schema: { params: IdParams } },
    async (request, reply) => {
      const current = await resources.getProject(request.params.project_id);
      await authorize(request, deps, 'identity:delete_project', target(current));
      await resources.deleteProject(current.id);
      return reply.status(204).send();
    },
  );

  // ---- tags ----

  app.get('/v3/projects/:project_id/tags', { schema: { params: IdParams } }, async (request) => {
    const project = await resources.getProject(request.params.project_id);
    await authorize(request, deps, 'identity:list_project_tags', target(project));
    return { tags: project.tags, links: listLinks(request) };
  });

  app.put(
    '/v3/projects/:project_id/tags',
    {
      schema: { params: IdParams, body: Type.Object({ tags: Type.Array(Tag, { maxItems: 80 }) }) },
    },
    async (request) => {
      const project = await resources.getProject(request.params.project_id);
      await authorize(request, deps, 'identity:update_project_tags', target(project));
      const updated = await resources.updateProject(project.id, { tags: request.body.tags });
      return { tags: updated.tags, links: listLinks(request) };
    },
  );

  app.delete(
    '/v3/projects/:project_id/tags',
    { schema: { params: IdParams } },
    async (request, reply) => {
      const project = await resources.getProject(request.params.project_id);
      await authorize(request, deps, 'identity:delete_project_tags', target(project));
      await resources.updateProject(project.id, { tags: [] });
      return reply.status(204).send();
    },
  );

  const checkTag = async (
    request: FastifyRequest<{ Params: { project_id: string; tag: string } }>,
  ) => {
    const project = await resources.getProject(request.params.project_id);
    await authorize(request, deps, 'identity:get_project_tag', target(project));
    if (!project.tags.includes(request.params.tag))
      throw notFound('project', `tag ${request.params.tag}`);
  };
  app.get(
    '/v3/projects/:project_id/tags/:tag',
    { schema: { params: TagParams } },
    async (request, reply) => {
      await checkTag(request);
      return reply.status(204).send();
    },
  );

  app.put(
    '/v3/projects/:project_id/tags/:tag',
    { schema: { params: TagParams } },
    async (request, reply) => {
      const project = await resources.getProject(request.params.project_id);
      await authorize(request, deps, 'identity:create_project_tag', target(project));
      if (!project.tags.includes(request.params.tag)) {
        await resources.updateProject(project.id, { tags: [...project.tags, request.params.tag] });
      }
      return reply.status(201).send();
    },
  );

  app.delete(
    '/v3/projects/:project_id/tags/:tag',
    { schema: { params: TagParams } },
    async (request, reply) => {
      const project = await resources.getProject(request.params.project_id);
      await authorize(request, deps, 'identity:delete_project_tag', target(project));
      if (!project.tags.includes(request.params.tag))
        throw notFound('project', `tag ${request.params.tag}`);
      await resources.updateProject(project.id, {
        tags: project.tags.filter((t) => t !== request.params.tag),
      });
      return reply.status(204).send();
    },
  );
}
