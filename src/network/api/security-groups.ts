/** `/v2.0/security-groups` and `/v2.0/security-group-rules`. */
import type { App } from '../../common/http/app.ts';
import { invalidAttribute } from '../errors.ts';
import {
  checkNotDefaultName,
  RULE_LIST,
  SECURITY_GROUP_LIST,
  type RuleInput,
} from '../security-groups.ts';
import { requiredRevision } from '../standard.ts';
import {
  authorize,
  bool,
  checkKeys,
  ifMatch,
  nullableStr,
  owningProject,
  required,
  str,
  unwrap,
  uuid,
  viewerOf,
  type ApiDeps,
  type AttributeSpec,
  type Body,
} from './context.ts';
import { listAnswer, listQueryOf, showAnswer } from './lists.ts';
import { IdParams } from './networks.ts';
import { ruleView, securityGroupView } from './views.ts';

const GROUP: AttributeSpec = {
  post: new Set(['name', 'description', 'stateful', 'project_id', 'tenant_id']),
  put: new Set(['name', 'description', 'stateful']),
  readOnly: new Set([
    'id',
    'shared',
    'security_group_rules',
    'tags',
    'created_at',
    'updated_at',
    'revision_number',
  ]),
};

const RULE: AttributeSpec = {
  post: new Set([
    'security_group_id',
    'direction',
    'ethertype',
    'protocol',
    'port_range_min',
    'port_range_max',
    'remote_ip_prefix',
    'remote_group_id',
    'remote_address_group_id',
    'description',
    'project_id',
    'tenant_id',
  ]),
  put: new Set(),
  readOnly: new Set([
    'id',
    'normalized_cidr',
    'belongs_to_default_sg',
    'created_at',
    'updated_at',
    'revision_number',
  ]),
};

/** A number or numeric string, as the port range converters take it. */
function portValue(attrs: Body, key: string): number | string | null | undefined {
  const v = attrs[key];
  if (v === undefined || v === null || typeof v === 'number' || typeof v === 'string') return v;
  return JSON.stringify(v);
}

export function securityGroupRoutes(app: App, deps: ApiDeps): void {
  const { groups } = deps;

  app.post('/v2.0/security-groups', async (request, reply) => {
    const viewer = viewerOf(request, deps);
    const attrs = unwrap(request.body, 'security_group');
    checkKeys(attrs, GROUP, 'POST');
    const projectId = owningProject(attrs, viewer);
    authorize(request, deps, 'create_security_group', { project_id: projectId });
    const input: { projectId: string; name?: string; description?: string; stateful?: boolean } = {
      projectId,
    };
    const name = str(attrs, 'name');
    if (name !== undefined) {
      checkNotDefaultName(name);
      input.name = name;
    }
    // The default group (and its four rules) comes first, so the new group's two rules are
    // counted on top of them, as upstream's create_security_group does.
    await groups.ensureDefault(projectId);
    await deps.quotas.check(projectId, 'security_group');
    await deps.quotas.check(projectId, 'security_group_rule', 2);
    const description = str(attrs, 'description');
    if (description !== undefined) input.description = description;
    const stateful = bool(attrs, 'stateful');
    if (stateful !== undefined) input.stateful = stateful;
    const group = await groups.create(input);
    const view = securityGroupView(group);
    deps.notify('security_group.create.end', { security_group: view });
    return reply.status(201).send({ security_group: view });
  });

  app.get('/v2.0/security-groups', async (request) => {
    const viewer = viewerOf(request, deps);
    const list = listQueryOf(request, SECURITY_GROUP_LIST);
    const found = await groups.list(viewer, list);
    return listAnswer(request, 'security_groups', found.map(securityGroupView), list);
  });

  app.get('/v2.0/security-groups/:id', { schema: { params: IdParams } }, async (request) => {
    const group = await groups.get(viewerOf(request, deps), request.params.id);
    return showAnswer(request, 'security_group', securityGroupView(group));
  });

  app.put('/v2.0/security-groups/:id', { schema: { params: IdParams } }, async (request) => {
    const viewer = viewerOf(request, deps);
    const attrs = unwrap(request.body, 'security_group');
    checkKeys(attrs, GROUP, 'PUT');
    const current = await groups.get(viewer, request.params.id);
    authorize(request, deps, 'update_security_group', { project_id: current.row.project_id });
    const changes: { name?: string; description?: string; stateful?: boolean } = {};
    const name = str(attrs, 'name');
    if (name !== undefined) changes.name = name;
    const description = str(attrs, 'description');
    if (description !== undefined) changes.description = description;
    const stateful = bool(attrs, 'stateful');
    if (stateful !== undefined) changes.stateful = stateful;
    const group = await groups.update(
      viewer,
      request.params.id,
      changes,
      requiredRevision(ifMatch(request)),
    );
    const view = securityGroupView(group);
    deps.notify('security_group.update.end', { security_group: view });
    return { security_group: view };
  });

  app.delete(
    '/v2.0/security-groups/:id',
    { schema: { params: IdParams } },
    async (request, reply) => {
      const viewer = viewerOf(request, deps);
      const current = await groups.get(viewer, request.params.id);
      authorize(request, deps, 'delete_security_group', { project_id: current.row.project_id });
      await groups.delete(viewer, request.params.id, requiredRevision(ifMatch(request)));
      deps.notify('security_group.delete.end', { security_group_id: request.params.id });
      return reply.status(204).send();
    },
  );

  app.post('/v2.0/security-group-rules', async (request, reply) => {
    const viewer = viewerOf(request, deps);
    const attrs = unwrap(request.body, 'security_group_rule');
    checkKeys(attrs, RULE, 'POST');
    const groupId = required(uuid(attrs, 'security_group_id'), 'security_group_id');
    const direction = required(str(attrs, 'direction'), 'direction');
    if (direction !== 'ingress' && direction !== 'egress')
      throw invalidAttribute('direction', `${direction} is not in valid_values`);
    const group = await groups.get(viewer, groupId);
    const projectId =
      attrs['project_id'] !== undefined || attrs['tenant_id'] !== undefined
        ? owningProject(attrs, viewer)
        : group.row.project_id;
    authorize(request, deps, 'create_security_group_rule', { project_id: projectId });
    const input: RuleInput = { securityGroupId: groupId, direction };
    const ethertype = str(attrs, 'ethertype');
    if (ethertype !== undefined) input.ethertype = ethertype;
    const protocol = attrs['protocol'];
    if (protocol !== undefined)
      input.protocol =
        typeof protocol === 'number' ? protocol : (nullableStr(attrs, 'protocol') ?? null);
    const min = portValue(attrs, 'port_range_min');
    if (min !== undefined) input.portRangeMin = min;
    const max = portValue(attrs, 'port_range_max');
    if (max !== undefined) input.portRangeMax = max;
    const prefix = nullableStr(attrs, 'remote_ip_prefix');
    if (prefix !== undefined) input.remoteIpPrefix = prefix;
    const remote = attrs['remote_group_id'] === null ? null : uuid(attrs, 'remote_group_id');
    if (remote !== undefined) input.remoteGroupId = remote;
    const addressGroup =
      attrs['remote_address_group_id'] === null ? null : uuid(attrs, 'remote_address_group_id');
    if (addressGroup !== undefined) input.remoteAddressGroupId = addressGroup;
    const description = str(attrs, 'description');
    if (description !== undefined) input.description = description;
    await deps.quotas.check(projectId, 'security_group_rule');
    const { row, isDefault } = await groups.ruleCreate(viewer, projectId, input);
    const view = ruleView(row, isDefault);
    deps.notify('security_group_rule.create.end', { security_group_rule: view });
    return reply.status(201).send({ security_group_rule: view });
  });

  app.get('/v2.0/security-group-rules', async (request) => {
    const viewer = viewerOf(request, deps);
    const list = listQueryOf(request, RULE_LIST);
    const found = await groups.ruleList(viewer, list);
    return listAnswer(
      request,
      'security_group_rules',
      found.map((r) => ruleView(r.row, r.isDefault)),
      list,
    );
  });

  app.get('/v2.0/security-group-rules/:id', { schema: { params: IdParams } }, async (request) => {
    const { row, isDefault } = await groups.ruleGet(viewerOf(request, deps), request.params.id);
    return showAnswer(request, 'security_group_rule', ruleView(row, isDefault));
  });

  app.delete(
    '/v2.0/security-group-rules/:id',
    { schema: { params: IdParams } },
    async (request, reply) => {
      const viewer = viewerOf(request, deps);
      const { row } = await groups.ruleGet(viewer, request.params.id);
      authorize(request, deps, 'delete_security_group_rule', { project_id: row.project_id });
      await groups.ruleDelete(viewer, request.params.id);
      deps.notify('security_group_rule.delete.end', { security_group_rule_id: request.params.id });
      return reply.status(204).send();
    },
  );
}
