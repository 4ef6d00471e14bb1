/**
 * `GET /v3/role_assignments`: the assignments as stored or, with `effective`, as they reach users
 * (what `openstack role assignment list [--effective] [--names]` shows). Each entry links to the
 * grant that made it (`links.assignment`) and, when it came through a group, to the membership.
 */
import Type from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { App } from '../../common/http/app.ts';
import type { AssignmentFilter, ListedAssignment } from '../assignments.ts';
import { invalid } from '../errors.ts';
import { authorize, callerOf, type ApiDeps } from './context.ts';
import { listLinks, queryBool, v3Url } from './links.ts';

const Query = Type.Object({
  'user.id': Type.Optional(Type.String({ maxLength: 64 })),
  'group.id': Type.Optional(Type.String({ maxLength: 64 })),
  'role.id': Type.Optional(Type.String({ maxLength: 64 })),
  'scope.project.id': Type.Optional(Type.String({ maxLength: 64 })),
  'scope.domain.id': Type.Optional(Type.String({ maxLength: 64 })),
  'scope.system': Type.Optional(Type.String()),
  'scope.OS-INHERIT:inherited_to': Type.Optional(Type.String()),
  effective: Type.Optional(Type.String()),
  include_names: Type.Optional(Type.String()),
  include_subtree: Type.Optional(Type.String()),
});

type Named = { id: string; name: string; domain?: { id: string; name: string } };

/** Names of everything the entries mention, fetched in one query per kind. */
type Names = {
  user(id: string): Named;
  group(id: string): Named;
  project(id: string): Named;
  domain(id: string): Named;
  role(id: string): Named;
};

/** An empty query parameter counts as absent, as in Keystone. */
function given(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** Keystone's 400s for filters that contradict each other or can only give an empty list. */
function checkFilters(f: AssignmentFilter): void {
  if (f.domain_id !== undefined && f.project_id !== undefined)
    throw invalid('Specify a domain or project, not both');
  if (f.domain_id !== undefined && f.system === true)
    throw invalid('Specify system or domain, not both');
  if (f.project_id !== undefined && f.system === true)
    throw invalid('Specify system or project, not both');
  if (f.user_id !== undefined && f.group_id !== undefined)
    throw invalid('Specify a user or group, not both');
  if (f.effective === true && f.group_id !== undefined)
    throw invalid('Combining effective and group filter will always result in an empty list.');
  if (f.effective === true && f.inherited === true && f.domain_id !== undefined) {
    throw invalid(
      'Combining effective, domain and inherited filters will always result in an empty list.',
    );
  }
}

export function roleAssignmentRoutes(app: App, deps: ApiDeps): void {
  const { roles, users, groups, resources } = deps.identity;

  const namesOf = async (entries: readonly ListedAssignment[]): Promise<Names> => {
    const ids = (kind: 'user' | 'group') => [
      ...new Set(entries.filter((e) => e.actor.kind === kind).map((e) => e.actor.id)),
    ];
    const targets = (kind: 'project' | 'domain') => [
      ...new Set(entries.flatMap((e) => (e.target.kind === kind ? [e.target.id] : []))),
    ];
    const [userList, groupList, projectList, roleList] = await Promise.all([
      users.list({ ids: ids('user') }),
      groups.list({ ids: ids('group') }),
      resources.listProjects({ ids: targets('project') }),
      roles.list({ ids: [...new Set(entries.map((e) => e.role_id))] }),
    ]);
    const domainIds = new Set([
      ...targets('domain'),
      ...userList.map((u) => u.domain_id),
      ...groupList.map((g) => g.domain_id),
      ...projectList.map((p) => p.domain_id),
      ...roleList.flatMap((r) => (r.domain_id !== null ? [r.domain_id] : [])),
    ]);
    const domainName = new Map(
      (await resources.listDomains({ ids: [...domainIds] })).map((d) => [d.id, d.name]),
    );
    const domain = (id: string) => ({ id, name: domainName.get(id) ?? '' });
    const byId = <T extends { id: string }>(list: T[]) => new Map(list.map((x) => [x.id, x]));
    const userById = byId(userList);
    const groupById = byId(groupList);
    const projectById = byId(projectList);
    const roleById = byId(roleList);
    // An actor that is gone but still has assignments gets empty names, as in Keystone.
    const owned = (id: string, found: { name: string; domain_id: string } | undefined): Named => ({
      id,
      name: found?.name ?? '',
      domain: found ? domain(found.domain_id) : { id: '', name: '' },
    });
    return {
      user: (id) => owned(id, userById.get(id)),
      group: (id) => owned(id, groupById.get(id)),
      project: (id) => owned(id, projectById.get(id)),
      domain,
      role: (id) => {
        const r = roleById.get(id);
        return {
          id,
          name: r?.name ?? '',
          ...(r?.domain_id != null ? { domain: domain(r.domain_id) } : {}),
        };
      },
    };
  };

  /** Keystone's `_format_entity`: scope, actor, role and the links to the grant behind it. */
  const format = (request: FastifyRequest, e: ListedAssignment, names: Names | undefined) => {
    const entry: Record<string, unknown> = {};
    const links: Record<string, string> = {};
    const scope: Record<string, unknown> = {};
    let link = '';
    let inherited = e.inherited;
    if (e.target.kind === 'project') {
      scope['project'] = names ? names.project(e.target.id) : { id: e.target.id };
      if (e.indirect.domain_id !== undefined) {
        inherited = true;
        link = `/domains/${e.indirect.domain_id}`;
      } else if (e.indirect.project_id !== undefined) {
        inherited = true;
        link = `/projects/${e.indirect.project_id}`;
      } else {
        link = `/projects/${e.target.id}`;
      }
    } else if (e.target.kind === 'domain') {
      scope['domain'] = names ? names.domain(e.target.id) : { id: e.target.id };
      link = `/domains/${e.target.id}`;
    } else {
      scope['system'] = { all: true };
      link = '/system';
    }
    if (e.actor.kind === 'user') {
      entry['user'] = names ? names.user(e.actor.id) : { id: e.actor.id };
      if (e.indirect.group_id !== undefined) {
        links['membership'] = v3Url(request, `/groups/${e.indirect.group_id}/users/${e.actor.id}`);
        link += `/groups/${e.indirect.group_id}`;
      } else {
        link += `/users/${e.actor.id}`;
      }
    } else {
      entry['group'] = names ? names.group(e.actor.id) : { id: e.actor.id };
      link += `/groups/${e.actor.id}`;
    }
    entry['role'] = names ? names.role(e.role_id) : { id: e.role_id };
    let priorRoleLink: string | undefined;
    if (e.indirect.role_id !== undefined) {
      // The grant behind an implied role is that of its prior role. Keystone spells the
      // `prior_role` link with the two ids this way round; kept as it is, like the rest.
      link += `/roles/${e.indirect.role_id}`;
      priorRoleLink = `/prior_role/${e.role_id}/implies/${e.indirect.role_id}`;
    } else {
      link += `/roles/${e.role_id}`;
    }
    if (inherited) {
      scope['OS-INHERIT:inherited_to'] = 'projects';
      link = `/OS-INHERIT${link}/inherited_to_projects`;
    }
    links['assignment'] = v3Url(request, link);
    if (priorRoleLink !== undefined) links['prior_role'] = v3Url(request, priorRoleLink);
    return { ...entry, scope, links };
  };

  app.get('/v3/role_assignments', { schema: { querystring: Query } }, async (request) => {
    const q = request.query;
    const inheritedTo = q['scope.OS-INHERIT:inherited_to'];
    const filter: AssignmentFilter = {
      user_id: given(q['user.id']),
      group_id: given(q['group.id']),
      role_id: given(q['role.id']),
      project_id: given(q['scope.project.id']),
      domain_id: given(q['scope.domain.id']),
      system: q['scope.system'] === 'all' ? true : undefined,
      inherited: inheritedTo === undefined ? undefined : inheritedTo === 'projects',
      effective: queryBool(q.effective) === true,
      include_subtree: queryBool(q.include_subtree) === true,
    };
    const caller = await callerOf(request, deps);
    const scopedDomain =
      caller.data.scope.kind === 'domain' ? caller.data.scope.domain.id : undefined;
    if (filter.include_subtree === true) {
      const project =
        filter.project_id !== undefined ? await resources.getProject(filter.project_id) : undefined;
      await authorize(
        request,
        deps,
        'identity:list_role_assignments_for_tree',
        project
          ? {
              project: { id: project.id, domain_id: project.domain_id },
              domain_id: project.domain_id,
            }
          : {},
      );
      if (project === undefined)
        throw invalid('scope.project.id must be specified if include_subtree is also specified');
    } else {
      // A domain-scoped token sees the assignments of its domain (filtered below).
      await authorize(
        request,
        deps,
        'identity:list_role_assignments',
        scopedDomain !== undefined ? { domain_id: scopedDomain } : {},
      );
    }
    checkFilters(filter);

    let entries = await roles.assignments.list(filter);
    if (scopedDomain !== undefined && filter.include_subtree !== true) {
      const projectIds = [
        ...new Set(entries.flatMap((e) => (e.target.kind === 'project' ? [e.target.id] : []))),
      ];
      const inDomain = new Set(
        (await resources.listProjects({ ids: projectIds, domain_id: scopedDomain })).map(
          (p) => p.id,
        ),
      );
      entries = entries.filter(
        (e) =>
          (e.target.kind === 'domain' && e.target.id === scopedDomain) ||
          (e.target.kind === 'project' && inDomain.has(e.target.id)),
      );
    }
    const names = queryBool(q.include_names) === true ? await namesOf(entries) : undefined;
    return {
      role_assignments: entries.map((e) => format(request, e, names)),
      links: listLinks(request),
    };
  });
}
