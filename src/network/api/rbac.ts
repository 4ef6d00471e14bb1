/** `/v2.0/rbac-policies`: who else may use a network. */
import type { App } from '../../common/http/app.ts';
import { RBAC_LIST, type RbacPolicy } from '../rbac.ts';
import {
  authorize,
  checkKeys,
  owningProject,
  required,
  str,
  unwrap,
  viewerOf,
  type ApiDeps,
  type AttributeSpec,
} from './context.ts';
import { listAnswer, listQueryOf, showAnswer } from './lists.ts';
import { IdParams } from './networks.ts';
import type { View } from './views.ts';

const ATTRIBUTES: AttributeSpec = {
  post: new Set([
    'object_type',
    'object_id',
    'action',
    'target_tenant',
    'target_project',
    'project_id',
    'tenant_id',
  ]),
  put: new Set(['target_tenant', 'target_project']),
  readOnly: new Set(['id', 'object_type', 'object_id', 'action', 'project_id', 'tenant_id']),
};

function rbacView(r: RbacPolicy): View {
  return {
    id: r.id,
    object_type: r.object_type,
    object_id: r.object_id,
    action: r.action,
    target_tenant: r.target_project,
    project_id: r.project_id,
    tenant_id: r.project_id,
  };
}

export function rbacRoutes(app: App, deps: ApiDeps): void {
  const { rbac } = deps;

  app.post('/v2.0/rbac-policies', async (request, reply) => {
    const viewer = viewerOf(request, deps);
    const attrs = unwrap(request.body, 'rbac_policy');
    checkKeys(attrs, ATTRIBUTES, 'POST');
    const projectId = owningProject(attrs, viewer);
    authorize(request, deps, 'create_rbac_policy', { project_id: projectId });
    const objectType = required(str(attrs, 'object_type'), 'object_type').trim().toLowerCase();
    const objectId = required(str(attrs, 'object_id'), 'object_id');
    const action = required(str(attrs, 'action'), 'action');
    const target = required(
      str(attrs, 'target_tenant') ?? str(attrs, 'target_project'),
      'target_tenant',
    );
    await deps.quotas.check(projectId, 'rbac_policy');
    const row = await rbac.create(viewer, { projectId, objectType, objectId, action, target });
    const view = rbacView(row);
    deps.notify('rbac_policy.create.end', { rbac_policy: view });
    return reply.status(201).send({ rbac_policy: view });
  });

  app.get('/v2.0/rbac-policies', async (request) => {
    const viewer = viewerOf(request, deps);
    const list = listQueryOf(request, RBAC_LIST);
    const found = await rbac.list(viewer, list);
    return listAnswer(request, 'rbac_policies', found.map(rbacView), list);
  });

  app.get('/v2.0/rbac-policies/:id', { schema: { params: IdParams } }, async (request) => {
    const row = await rbac.get(viewerOf(request, deps), request.params.id);
    return showAnswer(request, 'rbac_policy', rbacView(row));
  });

  app.put('/v2.0/rbac-policies/:id', { schema: { params: IdParams } }, async (request) => {
    const viewer = viewerOf(request, deps);
    const attrs = unwrap(request.body, 'rbac_policy');
    checkKeys(attrs, ATTRIBUTES, 'PUT');
    const current = await rbac.get(viewer, request.params.id);
    authorize(request, deps, 'update_rbac_policy', { project_id: current.project_id });
    const target = required(
      str(attrs, 'target_tenant') ?? str(attrs, 'target_project'),
      'target_tenant',
    );
    const row = await rbac.update(viewer, request.params.id, target);
    const view = rbacView(row);
    deps.notify('rbac_policy.update.end', { rbac_policy: view });
    return { rbac_policy: view };
  });

  app.delete(
    '/v2.0/rbac-policies/:id',
    { schema: { params: IdParams } },
    async (request, reply) => {
      const viewer = viewerOf(request, deps);
      const current = await rbac.get(viewer, request.params.id);
      authorize(request, deps, 'delete_rbac_policy', { project_id: current.project_id });
      await rbac.delete(viewer, request.params.id);
      deps.notify('rbac_policy.delete.end', { rbac_policy_id: request.params.id });
      return reply.status(204).send();
    },
  );
}
