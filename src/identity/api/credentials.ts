/**
 * `/v3/credentials`: CRUD of stored credentials (EC2 access/secret pairs and other types). A user
 * sees and changes only their own unless policy says more (admins). Tokens from an application
 * credential are delegations bound to one project: they reach only credentials of that project,
 * and a restricted one cannot make EC2 credentials (Keystone's rules).
 */
import type { FastifyRequest } from 'fastify';
import Type from 'typebox';
import type { App } from '../../common/http/app.ts';
import { isEc2, type Credential } from '../credentials.ts';
import { forbiddenAction, invalid, notFound } from '../errors.ts';
import { allowed, authorize, callerOf, type ApiDeps, type Caller } from './context.ts';
import { extrasOf, listLinks, selfLinks } from './links.ts';

const Ref = Type.String({ minLength: 1, maxLength: 64 });
const Blob = Type.String({ maxLength: 65535 });
const Kind = Type.String({ minLength: 1, maxLength: 255 });

const KNOWN = new Set(['id', 'user_id', 'project_id', 'type', 'blob', 'links']);
/** The `extra` column is `text`: 64 KiB on MariaDB, and characters may take four bytes. */
const MAX_EXTRA_CHARS = 16383;

const CreateBody = Type.Object({
  credential: Type.Object({
    id: Type.Optional(Type.String({ maxLength: 64 })),
    user_id: Ref,
    project_id: Type.Optional(Type.Union([Ref, Type.Null()])),
    type: Kind,
    blob: Blob,
  }),
});

const UpdateBody = Type.Object({
  credential: Type.Object(
    {
      id: Type.Optional(Type.String({ maxLength: 64 })),
      user_id: Type.Optional(Ref),
      project_id: Type.Optional(Type.Union([Ref, Type.Null()])),
      type: Type.Optional(Kind),
      blob: Type.Optional(Blob),
    },
    { minProperties: 1 },
  ),
});

const IdParams = Type.Object({ credential_id: Type.String({ minLength: 1, maxLength: 255 }) });
const ListQuery = Type.Object({
  user_id: Type.Optional(Type.String()),
  type: Type.Optional(Type.String()),
});

function boundedExtras(body: Record<string, unknown>): Record<string, unknown> {
  const extra = extrasOf(body, KNOWN);
  if (JSON.stringify(extra).length > MAX_EXTRA_CHARS)
    throw invalid('Invalid input for credential: its additional attributes are too large.');
  return extra;
}

function credentialView(request: FastifyRequest, c: Credential) {
  return {
    ...c.extra,
    id: c.id,
    user_id: c.user_id,
    project_id: c.project_id,
    type: c.type,
    blob: c.blob,
    links: selfLinks(request, `/credentials/${c.id}`),
  };
}

/** What policy sees of a credential: `%(target.credential.user_id)s` and friends. */
function policyTargetOf(c: Credential) {
  return {
    credential: { id: c.id, user_id: c.user_id, project_id: c.project_id, type: c.type },
  };
}

/**
 * Whether a delegated (application credential) token may reach a credential: only one of the
 * token's own project. A credential without a project (a user-level secret) is out of bounds.
 */
function withinDelegation(caller: Caller, projectId: string | null | undefined): boolean {
  if (!caller.data.applicationCredential) return true;
  const scope = caller.data.scope;
  return scope.kind === 'project' && projectId === scope.project.id;
}

function checkDelegation(caller: Caller, projectId: string | null | undefined): void {
  if (!withinDelegation(caller, projectId)) {
    throw forbiddenAction(
      'Credential project does not match the project scope of the delegated token',
    );
  }
}

/** The credential store; the API needs it built on the identity database. */
export function credentialRoutes(app: App, deps: ApiDeps): void {
  const { credentials } = deps.identity;
  const { users, resources } = deps.identity;

  const checkReferences = async (
    userId: string | undefined,
    projectId: string | null | undefined,
  ) => {
    if (userId !== undefined) await users.get(userId);
    if (projectId != null) await resources.getProject(projectId);
  };

  app.post('/v3/credentials', { schema: { body: CreateBody } }, async (request, reply) => {
    const body = request.body.credential as typeof request.body.credential &
      Record<string, unknown>;
    const caller = await authorize(request, deps, 'identity:create_credential', {
      credential: body,
    });
    const delegation = caller.data.applicationCredential;
    if (isEc2(body.type) && delegation?.restricted === true) {
      throw forbiddenAction(
        "Using method 'application_credential' is not allowed for managing additional credentials",
      );
    }
    checkDelegation(caller, body.project_id);
    await checkReferences(body.user_id, body.project_id);
    const credential = await credentials.create(
      {
        user_id: body.user_id,
        project_id: body.project_id,
        type: body.type,
        blob: body.blob,
        extra: boundedExtras(body),
      },
      { applicationCredentialId: delegation?.id },
    );
    return reply.status(201).send({ credential: credentialView(request, credential) });
  });

  app.get('/v3/credentials', { schema: { querystring: ListQuery } }, async (request) => {
    const caller = await callerOf(request, deps);
    // As Keystone: outside system scope the list is checked as if of the caller's own.
    const target =
      caller.data.scope.kind === 'system' ? {} : { credential: { user_id: caller.data.user.id } };
    await authorize(request, deps, 'identity:list_credentials', target);
    const list = await credentials.list({
      user_id: request.query.user_id,
      type: request.query.type,
    });
    return {
      credentials: list
        .filter(
          (c) =>
            allowed(deps, caller, 'identity:get_credential', policyTargetOf(c)) &&
            withinDelegation(caller, c.project_id),
        )
        .map((c) => credentialView(request, c)),
      links: listLinks(request),
    };
  });

  /**
   * The credential of the path after policy on it. Policy runs first, with an empty target when
   * there is no such credential, so a non-admin learns nothing from a 404 (Keystone's order).
   */
  const load = async (
    request: FastifyRequest<{ Params: { credential_id: string } }>,
    rule: string,
  ) => {
    const id = request.params.credential_id;
    const found = await credentials.find(id);
    const caller = await authorize(request, deps, rule, found ? policyTargetOf(found) : {});
    if (!found) throw notFound('credential', id);
    checkDelegation(caller, found.project_id);
    return { credential: found, caller };
  };

  app.get('/v3/credentials/:credential_id', { schema: { params: IdParams } }, async (request) => {
    const { credential } = await load(request, 'identity:get_credential');
    return { credential: credentialView(request, credential) };
  });

  app.patch(
    '/v3/credentials/:credential_id',
    { schema: { params: IdParams, body: UpdateBody } },
    async (request) => {
      const { credential: current, caller } = await load(request, 'identity:update_credential');
      const body = request.body.credential as typeof request.body.credential &
        Record<string, unknown>;
      if (body.id !== undefined && body.id !== current.id)
        throw invalid('Cannot change the id of a credential.');
      const merged = { ...current, ...body };
      // Checked again on the result, so nobody hands a credential to someone else unallowed.
      await authorize(request, deps, 'identity:update_credential', { credential: merged });
      checkDelegation(caller, merged.project_id);
      await checkReferences(
        body.user_id !== current.user_id ? body.user_id : undefined,
        body.project_id !== current.project_id ? body.project_id : undefined,
      );
      const extra = boundedExtras(body);
      const updated = await credentials.update(current.id, {
        user_id: body.user_id,
        project_id: body.project_id,
        type: body.type,
        blob: body.blob,
        ...(Object.keys(extra).length > 0 ? { extra } : {}),
      });
      return { credential: credentialView(request, updated) };
    },
  );

  app.delete(
    '/v3/credentials/:credential_id',
    { schema: { params: IdParams } },
    async (request, reply) => {
      const { credential } = await load(request, 'identity:delete_credential');
      await credentials.delete(credential.id);
      return reply.status(204).send();
    },
  );
}
