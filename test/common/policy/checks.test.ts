import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { Credentials } from '../../../src/common/policy/checks.ts';
import { pythonStr, tokenScope } from '../../../src/common/policy/checks.ts';
import type { EvaluationCase } from './builders.ts';
import { check, creds, itEvaluates } from './builders.ts';

const TOKEN = {
  roles: [
    { id: 'r1', name: 'role1' },
    { id: 'r2', name: 'role2' },
  ],
  catalog: [
    { type: 'compute', endpoints: [{ id: 'e1' }, { id: 'e2' }] },
    { type: 'identity', endpoints: [{ id: 'e3' }] },
  ],
};

const cases: EvaluationCase[] = [
  // role: checks
  {
    name: 'role is case-insensitive',
    rule: 'role:sPaM',
    creds: creds({ roles: ['SpAm'] }),
    allowed: true,
  },
  { name: 'role absent', rule: 'role:admin', creds: creds({ roles: ['member'] }), allowed: false },
  {
    name: 'role from target',
    rule: 'role:%(target.role.name)s',
    target: { 'target.role.name': 'a' },
    creds: creds({ roles: ['a', 'b'] }),
    allowed: true,
  },
  {
    name: 'role from target, not held',
    rule: 'role:%(target.role.name)s',
    target: { 'target.role.name': 'd' },
    creds: creds({ roles: ['a'] }),
    allowed: false,
  },
  {
    name: 'role from target, key missing',
    rule: 'role:%(target.role.name)s',
    target: { target: { role: {} } },
    creds: creds({ roles: ['a'] }),
    allowed: false,
  },
  // generic checks
  {
    name: 'credential missing',
    rule: 'user_id:%(user_id)s',
    target: { user_id: 'u1' },
    allowed: false,
  },
  {
    name: 'credential mismatch',
    rule: 'user_id:%(user_id)s',
    target: { user_id: 'u1' },
    creds: creds({ user_id: 'u2' }),
    allowed: false,
  },
  {
    name: 'credential match',
    rule: 'user_id:%(user_id)s',
    target: { user_id: 'u1' },
    creds: creds({ user_id: 'u1' }),
    allowed: true,
  },
  {
    name: 'target key missing fails',
    rule: 'user_id:%(user_id)s',
    target: { owner: 'u1' },
    creds: creds({ user_id: 'u1' }),
    allowed: false,
  },
  {
    name: 'null on both sides fails',
    rule: 'project_id:%(project_id)s',
    target: { project_id: null },
    creds: creds({ system_scope: 'all' }),
    allowed: false,
  },
  {
    name: 'roles as a generic list',
    rule: 'roles:reader',
    creds: creds({ roles: ['member', 'reader'] }),
    allowed: true,
  },
  { name: 'number in target', rule: '20:%(count)s', target: { count: 20 }, allowed: true },
  {
    name: 'deep extra credential',
    rule: 'a.b.c.d:APPLES',
    creds: creds({ extra: { a: { b: { c: { d: 'APPLES' } } } } }),
    allowed: true,
  },
  {
    name: 'missing final key',
    rule: 'o.v:ORANGES',
    creds: creds({ extra: { o: { t: 'ORANGES' } } }),
    allowed: false,
  },
  {
    name: 'missing middle key',
    rule: 'q.v:APPLES',
    creds: creds({ extra: { a: 'APPLES' } }),
    allowed: false,
  },
  {
    name: 'path through a string',
    rule: 'a.b:x',
    creds: creds({ extra: { a: 'x' } }),
    allowed: false,
  },
  {
    name: 'list leaf, any element',
    rule: 'a.b:APPLES',
    creds: creds({ extra: { a: { b: ['PEARS', 'APPLES'] } } }),
    allowed: true,
  },
  {
    name: 'list leaf, no element',
    rule: 'a.b:APPLES',
    creds: creds({ extra: { a: { b: ['PEARS'] } } }),
    allowed: false,
  },
  {
    name: 'list in the middle of the path',
    rule: 'a.b.c.d:APPLES',
    creds: creds({ extra: { a: { b: [{ a: '' }, { c: { d: ['BANANAS', 'APPLES'] } }, {}] } } }),
    allowed: true,
  },
  {
    name: 'token role names',
    rule: 'token.roles.name:role1',
    creds: creds({ extra: { token: TOKEN } }),
    allowed: true,
  },
  {
    name: 'token role missing',
    rule: 'token.roles.name:missing',
    creds: creds({ extra: { token: TOKEN } }),
    allowed: false,
  },
  {
    name: 'token endpoint ids',
    rule: 'token.catalog.endpoints.id:e3',
    creds: creds({ extra: { token: TOKEN } }),
    allowed: true,
  },
  {
    name: 'typed fields win over extra',
    rule: 'user_id:u1',
    creds: creds({ user_id: 'u1', extra: { user_id: 'u2' } }),
    allowed: true,
  },
  {
    name: 'system_scope:all',
    rule: 'role:admin and system_scope:all',
    creds: creds({ roles: ['admin'], system_scope: 'all' }),
    allowed: true,
  },
  {
    name: 'system:all alias',
    rule: 'system:all',
    creds: creds({ system_scope: 'all' }),
    allowed: true,
  },
  {
    name: 'project token is not system',
    rule: 'system_scope:all',
    creds: creds({ project_id: 'p1' }),
    allowed: false,
  },
  {
    name: 'prototype keys are not credentials',
    rule: 'constructor:%(x)s',
    target: { x: 'y' },
    allowed: false,
  },
  {
    name: 'an own key named like a method is read',
    rule: 'toString:x',
    creds: creds({ extra: { toString: 'x' } }),
    allowed: true,
  },
  { name: 'inherited target key is missing', rule: "'x':%(toString)s", target: {}, allowed: false },
  // rule: checks
  { name: 'rule: undefined fails closed', rule: 'rule:nowhere', allowed: false },
  { name: 'rule: false', rule: 'rule:spam', rules: { spam: '!' }, allowed: false },
  { name: 'rule: true', rule: 'rule:spam', rules: { spam: '@' }, allowed: true },
  {
    name: 'rule: chain',
    rule: 'rule:admin_or_owner',
    rules: {
      admin_or_owner: 'rule:admin_required or rule:owner',
      admin_required: 'role:admin',
      owner: 'user_id:%(user_id)s',
    },
    target: { user_id: 'u1' },
    creds: creds({ user_id: 'u1' }),
    allowed: true,
  },
];

describe('evaluate', () => {
  itEvaluates(cases);

  it('throws rather than loops on a cyclic resolver', () => {
    assert.throws(() => check('rule:a', {}, creds(), { a: 'rule:b', b: 'not rule:a' }), /cycle/);
  });
});

describe('tokenScope', () => {
  const cases: { name: string; creds: Credentials; scope: string }[] = [
    { name: 'system', creds: creds({ system_scope: 'all' }), scope: 'system' },
    { name: 'domain', creds: creds({ domain_id: 'd1' }), scope: 'domain' },
    {
      name: 'project',
      creds: creds({ project_id: 'p1', project_domain_id: 'd1' }),
      scope: 'project',
    },
    { name: 'unscoped counts as project', creds: creds(), scope: 'project' },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(tokenScope(c.creds), c.scope));
  }
});

describe('pythonStr', () => {
  const cases: { value: Parameters<typeof pythonStr>[0]; text: string }[] = [
    { value: 'abc', text: 'abc' },
    { value: true, text: 'True' },
    { value: false, text: 'False' },
    { value: null, text: 'None' },
    { value: 20, text: '20' },
    { value: 1.5, text: '1.5' },
    { value: ['a', 1, null], text: "['a', 1, None]" },
    { value: { k: "it's" }, text: `{'k': "it's"}` },
  ];
  for (const { value, text } of cases) {
    it(text, () => assert.equal(pythonStr(value), text));
  }
});
