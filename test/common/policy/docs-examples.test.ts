/**
 * The rule examples of the oslo.policy documentation: the module docs of policy.py and the
 * policy.yaml admin guide (doc/source/admin/policy-yaml-file.rst).
 */

import { describe } from 'node:test';

import type { EvaluationCase } from './builders.ts';
import { creds, itEvaluates } from './builders.ts';

const ADMIN_OR_PROJECT_ADMIN = 'role:admin or (project_id:%(project_id)s and role:projectadmin)';

const cases: EvaluationCase[] = [
  // Examples from oslo.policy's policy.py module documentation.
  {
    name: 'docs: admin',
    rule: ADMIN_OR_PROJECT_ADMIN,
    creds: creds({ roles: ['admin'] }),
    allowed: true,
  },
  {
    name: 'docs: projectadmin of the project',
    rule: ADMIN_OR_PROJECT_ADMIN,
    target: { project_id: 'p1' },
    creds: creds({ roles: ['projectadmin'], project_id: 'p1' }),
    allowed: true,
  },
  {
    name: 'docs: projectadmin of another project',
    rule: ADMIN_OR_PROJECT_ADMIN,
    target: { project_id: 'p2' },
    creds: creds({ roles: ['projectadmin'], project_id: 'p1' }),
    allowed: false,
  },
  {
    name: 'docs: member of the project',
    rule: ADMIN_OR_PROJECT_ADMIN,
    target: { project_id: 'p1' },
    creds: creds({ roles: ['member'], project_id: 'p1' }),
    allowed: false,
  },
  {
    name: 'docs: not role:dunce passes',
    rule: 'project_id:%(project_id)s and not role:dunce',
    target: { project_id: 'p1' },
    creds: creds({ roles: ['member'], project_id: 'p1' }),
    allowed: true,
  },
  {
    name: 'docs: not role:dunce fails for a dunce',
    rule: 'project_id:%(project_id)s and not role:dunce',
    target: { project_id: 'p1' },
    creds: creds({ roles: ['member', 'dunce'], project_id: 'p1' }),
    allowed: false,
  },
  {
    name: 'docs: flattened target key',
    rule: 'project_id:%(target.project.id)s',
    target: { 'target.project.id': 'p1' },
    creds: creds({ project_id: 'p1' }),
    allowed: true,
  },
  {
    name: 'docs: nested target',
    rule: 'project_id:%(target.project.id)s',
    target: { target: { project: { id: 'p1' } } },
    creds: creds({ project_id: 'p1' }),
    allowed: true,
  },
  {
    name: 'docs: nested target, other project',
    rule: 'project_id:%(target.project.id)s',
    target: { target: { project: { id: 'p2' } } },
    creds: creds({ project_id: 'p1' }),
    allowed: false,
  },
  {
    name: 'docs: literal project id',
    rule: 'project_id:xpto2035abc',
    creds: creds({ project_id: 'xpto2035abc' }),
    allowed: true,
  },
  {
    name: 'docs: quoted project id',
    rule: "project_id:'xpto2035abc'",
    creds: creds({ project_id: 'xpto2035abc' }),
    allowed: true,
  },
  {
    name: "docs: 'myproject':<variable>",
    rule: "'myproject':%(project.name)s",
    target: { project: { name: 'myproject' } },
    allowed: true,
  },
  {
    name: 'docs: domain_id:20',
    rule: 'domain_id:20',
    creds: creds({ domain_id: '20' }),
    allowed: true,
  },
  {
    name: 'docs: True:%(user.enabled)s, enabled',
    rule: 'True:%(user.enabled)s',
    target: { 'user.enabled': true },
    allowed: true,
  },
  {
    name: 'docs: True:%(user.enabled)s, disabled',
    rule: 'True:%(user.enabled)s',
    target: { user: { enabled: false } },
    allowed: false,
  },
  {
    name: 'docs: True:%(user.enabled)s, missing',
    rule: 'True:%(user.enabled)s',
    target: {},
    allowed: false,
  },
  {
    name: "docs: 'member' matches",
    rule: "'member':%(role.name)s",
    target: { 'role.name': 'member' },
    allowed: true,
  },
  {
    name: "docs: 'member' is case-sensitive",
    rule: "'member':%(role.name)s",
    target: { 'role.name': 'Member' },
    allowed: false,
  },
  // Examples from the policy.yaml admin guide.
  { name: 'guide: "" allows anybody', rule: '', allowed: true },
  { name: 'guide: "@" allows anybody', rule: '@', allowed: true },
  {
    name: 'guide: "!" denies everybody',
    rule: '!',
    creds: creds({ roles: ['admin'] }),
    allowed: false,
  },
  {
    name: "guide: 'shared' visibility",
    rule: "'shared':%(visibility)s",
    target: { visibility: 'shared' },
    allowed: true,
  },
  {
    name: "guide: 'shared', private image",
    rule: "'shared':%(visibility)s",
    target: { visibility: 'private' },
    allowed: false,
  },
  {
    name: 'guide: stack user denied',
    rule: 'not role:heat_stack_user',
    creds: creds({ roles: ['heat_stack_user'] }),
    allowed: false,
  },
  {
    name: 'guide: others may create stacks',
    rule: 'not role:heat_stack_user',
    creds: creds({ roles: ['member'] }),
    allowed: true,
  },
  {
    name: 'guide: alias through rule:',
    rule: 'rule:deny_stack_user',
    rules: { deny_stack_user: 'not role:heat_stack_user' },
    creds: creds({ roles: ['member'] }),
    allowed: true,
  },
  {
    name: 'guide: is_admin:True',
    rule: 'role:admin or is_admin:True',
    creds: creds({ is_admin: true }),
    allowed: true,
  },
  {
    name: 'guide: is_admin false',
    rule: 'role:admin or is_admin:True',
    creds: creds({ is_admin: false }),
    allowed: false,
  },
  // Python's str(True) is "True", so keystone's `is_admin:1` never matches a boolean.
  {
    name: 'is_admin:1 is not True',
    rule: 'is_admin:1',
    creds: creds({ is_admin: true }),
    allowed: false,
  },
];

describe('oslo.policy documentation examples', () => {
  itEvaluates(cases);
});
