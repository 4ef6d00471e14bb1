/**
 * Role grants addressed by URL: `/v3/{projects|domains}/{id}/{users|groups}/{actor}/roles[/{role}]`,
 * `/v3/system/{users|groups}/{actor}/roles[/{role}]` and the OS-INHERIT forms
 * `/v3/OS-INHERIT/{domains|projects}/{id}/{users|groups}/{actor}/roles/{role}/inherited_to_projects`
 * (plus the list for domains). Checks answer 204 or 404; granting twice is fine.
 */
import Type from 'typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../common/http/app.ts';
import {
  assignmentType,
  describeAssignment,
  targetId,
  type Actor,
  type Assignment,
  type Target,
} from '../assignments.ts';
import { notFound } from '../errors.ts';
import { authorize, type ApiDeps } from './context.ts';
import { listLinks } from './links.ts';
import { roleView } from './roles.ts';

const Id = Type.String({ minLength: 1, maxLength: 64 });
const ListParams = Type.Object({ target_id: Id, actor_id: Id });
const GrantParams = Type.Object({ target_id: Id, actor_id: Id, role_id: Id });
const SystemListParams = Type.Object({ actor_id: Id });
const SystemGrantParams = Type.Object({ actor_id: Id, role_id: Id });

type ActorKind = Actor['kind'];
type TargetKind = 'project' | 'domain' | 'system';
type Params = { target_id?: string; actor_id: string; role_id?: string };

/** One family of grant URLs: who, on what, inherited or not. */
type Family = { actor: ActorKind; target: TargetKind; inherited: boolean };

/** The policy rule of an action on a family (system grants have rules of their own). */
function ruleOf(action: 'list' | 'check' | 'create' | 'revoke', f: Family): string {
  if (f.target !== 'system') return `identity:${action}_${action === 'list' ? 'grants' : 'grant'}`;
  return action === 'list'
    ? `identity:list_system_grants_for_${f.actor}`
    : `identity:${action}_system_grant_for_${f.actor}`;
}

export function grantRoutes(app: App, deps: ApiDeps): void {
  const { roles, users, groups, resources } = deps.identity;

  /** The policy target's actor part; with `tolerant`, an actor that is gone is no error. */
  const actorPart = async (kind: ActorKind, id: string, tolerant: boolean) => {
    const found = kind === 'user' ? await users.find(id) : await groups.find(id);
    if (!found) {
      if (tolerant) return {};
      throw notFound(kind, id);
    }
    return { [kind]: { id: found.id, domain_id: found.domain_id } };
  };

  const targetPart = async (kind: TargetKind, id: string | undefined) => {
    if (kind === 'project') {
      const p = await resources.getProject(id ?? '');
      return { project: { id: p.id, domain_id: p.domain_id }, domain_id: p.domain_id };
    }
    if (kind === 'domain') {
      const d = await resources.getDomain(id ?? '');
      return { domain: { id: d.id }, domain_id: d.id };
    }
    return { system: 'all' };
  };

  const targetOf = (kind: TargetKind, id: string | undefined): Target =>
    kind === 'system' ? { kind: 'system' } : { kind, id: id ?? '' };

  /** Looks up everything a single-grant URL names (404 for what is unknown) and authorizes. */
  const resolve = async (
    request: FastifyRequest,
    f: Family,
    action: 'check' | 'create' | 'revoke',
  ): Promise<Assignment> => {
    const p = request.params as Params;
    const role = await roles.get(p.role_id ?? '');
    const policyTarget = {
      ...(await actorPart(f.actor, p.actor_id, action === 'revoke')),
      ...(await targetPart(f.target, p.target_id)),
      role: { id: role.id, domain_id: role.domain_id },
    };
    await authorize(request, deps, ruleOf(action, f), policyTarget);
    return {
      actor: { kind: f.actor, id: p.actor_id },
      target: targetOf(f.target, p.target_id),
      role_id: role.id,
      inherited: f.inherited,
    };
  };

  const check = (f: Family) => async (request: FastifyRequest, reply: FastifyReply) => {
    const a = await resolve(request, f, 'check');
    if (!(await roles.check(a))) throw notFound('role assignment', describeAssignment(a));
    return reply.status(204).send();
  };
  const create = (f: Family) => async (request: FastifyRequest, reply: FastifyReply) => {
    await roles.grant(await resolve(request, f, 'create'));
    return reply.status(204).send();
  };
  const revoke = (f: Family) => async (request: FastifyRequest, reply: FastifyReply) => {
    await roles.revokeGrant(await resolve(request, f, 'revoke'));
    return reply.status(204).send();
  };
  const list = (f: Family) => async (request: FastifyRequest) => {
    const p = request.params as Params;
    const policyTarget = {
      ...(await actorPart(f.actor, p.actor_id, false)),
      ...(await targetPart(f.target, p.target_id)),
    };
    await authorize(request, deps, ruleOf('list', f), policyTarget);
    const actor: Actor = { kind: f.actor, id: p.actor_id };
    const target = targetOf(f.target, p.target_id);
    const held = await roles.listAssignments({
      actor_ids: [actor.id],
      types: [assignmentType(actor, target)],
      target_ids: [targetId(target)],
    });
    const ids = held.filter((a) => a.inherited === f.inherited).map((a) => a.role_id);
    const found = await roles.list({ ids });
    return { roles: found.map((r) => roleView(request, r)), links: listLinks(request) };
  };

  /** PUT, GET (and so HEAD) and DELETE on one grant URL. */
  const single = (
    url: string,
    f: Family,
    params: typeof GrantParams | typeof SystemGrantParams,
  ) => {
    const opts = { schema: { params } };
    app.put(url, opts, create(f));
    app.get(url, opts, check(f));
    app.delete(url, opts, revoke(f));
  };

  for (const actor of ['user', 'group'] as const) {
    for (const target of ['project', 'domain'] as const) {
      const base = `/v3/${target}s/:target_id/${actor}s/:actor_id/roles`;
      const direct: Family = { actor, target, inherited: false };
      app.get(base, { schema: { params: ListParams } }, list(direct));
      single(`${base}/:role_id`, direct, GrantParams);

      const inherited: Family = { actor, target, inherited: true };
      const ibase = `/v3/OS-INHERIT/${target}s/:target_id/${actor}s/:actor_id/roles`;
      single(`${ibase}/:role_id/inherited_to_projects`, inherited, GrantParams);
      // Keystone lists inherited grants for domains only.
      if (target === 'domain') {
        app.get(
          `${ibase}/inherited_to_projects`,
          { schema: { params: ListParams } },
          list(inherited),
        );
      }
    }
    const system: Family = { actor, target: 'system', inherited: false };
    const sbase = `/v3/system/${actor}s/:actor_id/roles`;
    app.get(sbase, { schema: { params: SystemListParams } }, list(system));
    single(`${sbase}/:role_id`, system, SystemGrantParams);
  }
}
