/** `/v2.0/quotas`: limits per project, their defaults, and usage details. */
import Type from 'typebox';
import type { App } from '../../common/http/app.ts';
import { ApiError, ForbiddenError } from '../../common/errors.ts';
import { badRequest } from '../errors.ts';
import { QUOTA_RESOURCES } from '../quotas.ts';
import { authorize, unwrap, viewerOf, type ApiDeps } from './context.ts';

const ProjectParams = Type.Object({ project: Type.String({ maxLength: 255 }) });

export function quotaRoutes(app: App, deps: ApiDeps): void {
  const { quotas } = deps;

  app.get('/v2.0/quotas', async (request) => {
    // Listing every project's limits is the admin's: no project matches an empty target.
    authorize(request, deps, 'get_quota', {});
    const out = [];
    for (const project of await quotas.projects())
      out.push({ ...(await quotas.limits(project)), project_id: project, tenant_id: project });
    return { quotas: out };
  });

  app.post('/v2.0/quotas', async () => {
    throw new ApiError(
      501,
      'network.not_implemented',
      'POST requests are not supported on this resource.',
      {
        details: { type: 'HTTPNotImplemented' },
      },
    );
  });

  // Neutron answers these two names with the caller's own project rather than as ids.
  app.get('/v2.0/quotas/project', async (request) => ({
    project: { project_id: request.auth.projectId },
  }));
  app.get('/v2.0/quotas/tenant', async (request) => ({
    tenant: { tenant_id: request.auth.projectId },
  }));

  app.get('/v2.0/quotas/:project', { schema: { params: ProjectParams } }, async (request) => {
    authorize(request, deps, 'get_quota', { project_id: request.params.project });
    return { quota: await quotas.limits(request.params.project) };
  });

  app.get(
    '/v2.0/quotas/:project/default',
    { schema: { params: ProjectParams } },
    async (request) => {
      authorize(request, deps, 'get_quota', { project_id: request.params.project });
      return { quota: quotas.defaults() };
    },
  );

  app.get(
    '/v2.0/quotas/:project/details',
    { schema: { params: ProjectParams } },
    async (request) => {
      if (request.params.project !== request.auth.projectId && !viewerOf(request, deps).isAdmin)
        throw new ForbiddenError(
          'User does not have admin privileges: Only admin is authorized to access quotas for another project.',
          'network.admin_required',
          { details: { type: 'AdminRequired' } },
        );
      const [limits, used] = await Promise.all([
        quotas.limits(request.params.project),
        quotas.used(request.params.project),
      ]);
      return {
        quota: Object.fromEntries(
          QUOTA_RESOURCES.map((r) => [r, { limit: limits[r], used: used[r], reserved: 0 }]),
        ),
      };
    },
  );

  app.put('/v2.0/quotas/:project', { schema: { params: ProjectParams } }, async (request) => {
    authorize(request, deps, 'update_quota', { project_id: request.params.project });
    const changes = unwrap(request.body, 'quota');
    if (Object.keys(changes).length === 0)
      throw badRequest("Unable to find 'quota' in request body");
    return { quota: await quotas.set(request.params.project, changes) };
  });

  app.delete(
    '/v2.0/quotas/:project',
    { schema: { params: ProjectParams } },
    async (request, reply) => {
      authorize(request, deps, 'delete_quota', { project_id: request.params.project });
      await quotas.reset(request.params.project);
      return reply.status(204).send();
    },
  );
}
