/**
 * `/v3/users/{user_id}/application_credentials`: a user makes secrets for applications, bound to
 * the project of the token that makes them and to (a subset of) that token's roles. The secret is
 * shown once, in the answer to the create. Access rules are not supported yet: a request with
 * some is refused rather than silently widened.
 */
import type { FastifyRequest } from 'fastify';
import Type, { type TSchema } from 'typebox';
import type { App } from '../../common/http/app.ts';
import { ApplicationCredentials, type ApplicationCredential } from '../application-credentials.ts';
import { forbiddenAction, invalid, notFound } from '../errors.ts';
import type { Role } from '../roles.ts';
import { authorize, type ApiDeps } from './context.ts';
import { listLinks, selfLinks } from './links.ts';

const Id = Type.String({ minLength: 1, maxLength: 255 });
const Name = Type.String({ minLength: 1, maxLength: 255, pattern: '\\S' });
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const RoleRef = Type.Union([
  Type.Object(
    { id: Type.String({ minLength: 1, maxLength: 64 }) },
    { additionalProperties: false },
  ),
  Type.Object({ name: Name }, { additionalProperties: false }),
]);

const CreateBody = Type.Object(
  {
    application_credential: Type.Object(
      {
        // Keystone accepts an id and replaces it with its own.
        id: Type.Optional(Type.String({ maxLength: 64 })),
        name: Name,
        // MariaDB's `text` holds 64 KiB; 16383 characters fit even at four bytes each.
        description: Type.Optional(Nullable(Type.String({ maxLength: 16383 }))),
        secret: Type.Optional(Nullable(Type.String({ maxLength: 4096 }))),
        expires_at: Type.Optional(Nullable(Type.String({ maxLength: 64 }))),
        roles: Type.Optional(Type.Array(RoleRef, { maxItems: 256 })),
        unrestricted: Type.Optional(Nullable(Type.Boolean())),
        access_rules: Type.Optional(Type.Array(Type.Object({}), { maxItems: 256 })),
        system: Type.Optional(Type.Null()),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

const UserParams = Type.Object({ user_id: Id });
const CredentialParams = Type.Object({ user_id: Id, application_credential_id: Id });
const ListQuery = Type.Object({ name: Type.Optional(Type.String()) });

/** Keystone's rendering of a stored time: microseconds and no zone (`2018-02-27T18:30:59.000000`). */
function keystoneTime(iso: string): string {
  return `${iso.slice(0, 23)}000`;
}

function credentialView(
  request: FastifyRequest,
  cred: ApplicationCredential,
  roles: ReadonlyMap<string, Role>,
  secret?: string,
) {
  return {
    id: cred.id,
    name: cred.name,
    description: cred.description,
    expires_at: cred.expires_at === null ? null : keystoneTime(cred.expires_at),
    project_id: cred.project_id,
    roles: cred.role_ids.flatMap((id) => {
      const role = roles.get(id);
      return role ? [{ id: role.id, name: role.name, domain_id: role.domain_id }] : [];
    }),
    access_rules: [],
    unrestricted: cred.unrestricted,
    ...(secret !== undefined ? { secret } : {}),
    links: selfLinks(request, `/users/${cred.user_id}/application_credentials/${cred.id}`),
  };
}

export function applicationCredentialRoutes(app: App, deps: ApiDeps): void {
  const { applicationCredentials, roles, users } = deps.identity;

  const rolesOf = async (creds: readonly ApplicationCredential[]) => {
    const ids = [...new Set(creds.flatMap((c) => c.role_ids))];
    return new Map((await roles.list({ ids })).map((r) => [r.id, r]));
  };

  /**
   * The roles a new credential gets: those asked for (by id or by global role name) plus every
   * role they imply, all of which the creating token must carry; or, when none are asked for,
   * the token's roles.
   */
  const requestedRoleIds = async (
    requested: readonly ({ id: string } | { name: string })[] | undefined,
    tokenRoles: readonly Role[],
  ): Promise<string[]> => {
    if (requested === undefined || requested.length === 0) return tokenRoles.map((r) => r.id);
    const ids = new Set<string>();
    for (const ref of requested) {
      if ('id' in ref) {
        ids.add(ref.id);
      } else {
        const role = await roles.findByName(ref.name);
        if (!role) throw notFound('role', ref.name);
        ids.add(role.id);
      }
    }
    const implications = await roles.implications();
    let frontier = [...ids];
    while (frontier.length > 0) {
      const implied = implications
        .filter((i) => frontier.includes(i.prior_role_id) && !ids.has(i.implied_role_id))
        .map((i) => i.implied_role_id);
      frontier = [...new Set(implied)];
      for (const id of frontier) ids.add(id);
    }
    const held = new Set(tokenRoles.map((r) => r.id));
    if ([...ids].some((id) => !held.has(id))) {
      throw invalid(
        'Invalid application credential: Cannot create an application credential with unassigned role',
      );
    }
    return [...ids];
  };

  app.post(
    '/v3/users/:user_id/application_credentials',
    { schema: { params: UserParams, body: CreateBody } },
    async (request, reply) => {
      const userId = request.params.user_id;
      const body = request.body.application_credential;
      const caller = await authorize(request, deps, 'identity:create_application_credential', {
        user_id: userId,
      });
      const token = caller.data;
      if (token.applicationCredential)
        ApplicationCredentials.checkMayCreate(token.applicationCredential.restricted);
      if (token.user.id !== userId)
        throw forbiddenAction('Cannot create an application credential for another user');
      if (token.scope.kind !== 'project') {
        throw invalid(
          'Invalid application credential: it is made with a project-scoped token, for that project.',
        );
      }
      if (body.access_rules !== undefined && body.access_rules.length > 0) {
        throw invalid(
          "Invalid input for field 'access_rules': access rules are not supported by this cloud.",
        );
      }
      const roleIds = await requestedRoleIds(body.roles, token.roles);
      const { credential, secret } = await applicationCredentials.create({
        user_id: userId,
        project_id: token.scope.project.id,
        name: body.name,
        description: body.description,
        // Keystone generates a secret for an absent, null or empty one.
        secret: body.secret === null || body.secret === '' ? undefined : body.secret,
        expires_at: body.expires_at,
        unrestricted: body.unrestricted ?? false,
        role_ids: roleIds,
      });
      const view = credentialView(request, credential, await rolesOf([credential]), secret);
      return reply.status(201).send({ application_credential: view });
    },
  );

  app.get(
    '/v3/users/:user_id/application_credentials',
    { schema: { params: UserParams, querystring: ListQuery } },
    async (request) => {
      const userId = request.params.user_id;
      await authorize(request, deps, 'identity:list_application_credentials', {
        user_id: userId,
      });
      await users.get(userId);
      const list = await applicationCredentials.list(userId, { name: request.query.name });
      const roleMap = await rolesOf(list);
      return {
        application_credentials: list.map((c) => credentialView(request, c, roleMap)),
        links: listLinks(request),
      };
    },
  );

  /**
   * The credential of the path, after policy: the owner checked is the credential's real owner
   * (not the path's), so naming yourself in the path shows nobody else's credential (Keystone's
   * fix for the same hole).
   */
  const load = async (
    request: FastifyRequest<{ Params: { user_id: string; application_credential_id: string } }>,
    rule: string,
  ) => {
    const { user_id: userId, application_credential_id: id } = request.params;
    const cred = await applicationCredentials.find(id);
    const caller = await authorize(request, deps, rule, { user_id: cred?.user_id ?? userId });
    if (!cred || cred.user_id !== userId) throw notFound('application credential', id);
    return { cred, caller };
  };

  app.get(
    '/v3/users/:user_id/application_credentials/:application_credential_id',
    { schema: { params: CredentialParams } },
    async (request) => {
      const { cred } = await load(request, 'identity:get_application_credential');
      return { application_credential: credentialView(request, cred, await rolesOf([cred])) };
    },
  );

  app.delete(
    '/v3/users/:user_id/application_credentials/:application_credential_id',
    { schema: { params: CredentialParams } },
    async (request, reply) => {
      const { cred, caller } = await load(request, 'identity:delete_application_credential');
      if (caller.data.applicationCredential)
        ApplicationCredentials.checkMayCreate(caller.data.applicationCredential.restricted);
      await applicationCredentials.delete(cred.user_id, cred.id);
      return reply.status(204).send();
    },
  );
}
