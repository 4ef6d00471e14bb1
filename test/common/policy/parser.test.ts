import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { PolicyNode } from '../../../src/common/policy/ast.ts';
import { formatPolicy, ruleReferences } from '../../../src/common/policy/ast.ts';
import type { ListRule } from '../../../src/common/policy/parser.ts';
import {
  parseCheckString,
  parseListRule,
  PolicyParseError,
} from '../../../src/common/policy/parser.ts';

describe('parseCheckString precedence (not > and > or)', () => {
  // The expected strings are upstream's str() of the parsed tree (oslo_policy test_parser.py).
  const cases: { input: string; printed: string }[] = [
    { input: '@ or ! or @', printed: '(@ or ! or @)' },
    { input: '@ or ! and @', printed: '(@ or (! and @))' },
    { input: '@ and ! or @', printed: '((@ and !) or @)' },
    { input: '@ and ! and @', printed: '(@ and ! and @)' },
    { input: '@ or ! or @ and !', printed: '(@ or ! or (@ and !))' },
    { input: '@ or ! and @ or !', printed: '(@ or (! and @) or !)' },
    { input: '@ or ! and @ and !', printed: '(@ or (! and @ and !))' },
    { input: '@ and ! or @ and !', printed: '((@ and !) or (@ and !))' },
    { input: '@ and ! and @ or !', printed: '((@ and ! and @) or !)' },
    { input: 'not @ and ! or @', printed: '((not @ and !) or @)' },
    { input: '@ and not ! or @', printed: '((@ and not !) or @)' },
    { input: '@ and ! or not @', printed: '((@ and !) or not @)' },
    { input: '( @ ) and ! or @', printed: '((@ and !) or @)' },
    { input: '( ( @ and ! ) ) or @', printed: '((@ and !) or @)' },
    { input: '( @ and ! or @ )', printed: '((@ and !) or @)' },
    { input: '@ and ( ! or @ )', printed: '(@ and (! or @))' },
    { input: 'not ( @ ) and ! or @', printed: '((not @ and !) or @)' },
    { input: 'not @ and ( ! or @ )', printed: '(not @ and (! or @))' },
    { input: 'not ( @ and ! or @ )', printed: 'not ((@ and !) or @)' },
    { input: '@ and not ( ! or @ )', printed: '(@ and not (! or @))' },
    { input: '@ and ( not ! or @ )', printed: '(@ and (not ! or @))' },
    { input: 'not not @', printed: 'not not @' },
    { input: '(@ and !)', printed: '(@ and !)' },
    { input: '((@)) or (!)', printed: '(@ or !)' },
    { input: '@ AND ! Or NOT @', printed: '((@ and !) or not @)' },
    { input: '', printed: '@' },
    {
      input: 'role:admin or (project_id:%(project_id)s and role:projectadmin)',
      printed: '(role:admin or (project_id:%(project_id)s and role:projectadmin))',
    },
    {
      input: 'rule:admin_required or\n (rule:owner and user_id:%(target.credential.user_id)s)',
      printed: '(rule:admin_required or (rule:owner and user_id:%(target.credential.user_id)s))',
    },
  ];
  for (const { input, printed } of cases) {
    it(JSON.stringify(input), () => {
      assert.equal(formatPolicy(parseCheckString(input)), printed);
    });
  }
});

describe('parseCheckString checks', () => {
  const cases: { name: string; input: string; node: PolicyNode }[] = [
    { name: 'always', input: '@', node: { kind: 'true' } },
    { name: 'never', input: '!', node: { kind: 'false' } },
    {
      name: 'role',
      input: 'role:admin',
      node: { kind: 'role', role: [{ type: 'text', text: 'admin' }], text: 'role:admin' },
    },
    {
      name: 'role value keeps later colons',
      input: 'role:compute:admin',
      node: {
        kind: 'role',
        role: [{ type: 'text', text: 'compute:admin' }],
        text: 'role:compute:admin',
      },
    },
    {
      name: 'rule reference',
      input: 'rule:admin_or_owner',
      node: { kind: 'rule', name: 'admin_or_owner', text: 'rule:admin_or_owner' },
    },
    {
      name: 'credential against dotted target key',
      input: 'project_id:%(target.project.id)s',
      node: {
        kind: 'generic',
        subject: { type: 'path', segments: ['project_id'] },
        value: [{ type: 'ref', key: 'target.project.id' }],
        text: 'project_id:%(target.project.id)s',
      },
    },
    {
      name: 'quoted literal against target',
      input: "'member':%(role.name)s",
      node: {
        kind: 'generic',
        subject: { type: 'literal', value: 'member' },
        value: [{ type: 'ref', key: 'role.name' }],
        text: "'member':%(role.name)s",
      },
    },
    {
      name: 'True literal against target',
      input: 'True:%(user.enabled)s',
      node: {
        kind: 'generic',
        subject: { type: 'literal', value: 'True' },
        value: [{ type: 'ref', key: 'user.enabled' }],
        text: 'True:%(user.enabled)s',
      },
    },
    {
      name: 'integer literal',
      input: '+20:%(count)s',
      node: {
        kind: 'generic',
        subject: { type: 'literal', value: '20' },
        value: [{ type: 'ref', key: 'count' }],
        text: '+20:%(count)s',
      },
    },
    {
      name: 'credential against quoted constant',
      input: "project_id:'xpto2035abc'",
      node: {
        kind: 'generic',
        subject: { type: 'path', segments: ['project_id'] },
        value: [{ type: 'text', text: 'xpto2035abc' }],
        text: "project_id:'xpto2035abc'",
      },
    },
    {
      name: 'deep credential path against constant',
      input: 'a.b.c.d:APPLES',
      node: {
        kind: 'generic',
        subject: { type: 'path', segments: ['a', 'b', 'c', 'd'] },
        value: [{ type: 'text', text: 'APPLES' }],
        text: 'a.b.c.d:APPLES',
      },
    },
    {
      name: 'text around a reference, %% escape',
      input: 'name:x%%-%(id)s-y',
      node: {
        kind: 'generic',
        subject: { type: 'path', segments: ['name'] },
        value: [
          { type: 'text', text: 'x%-' },
          { type: 'ref', key: 'id' },
          { type: 'text', text: '-y' },
        ],
        text: 'name:x%%-%(id)s-y',
      },
    },
    {
      name: 'quoted literal may hold spaces and parentheses',
      input: "('a (b)':%(x)s)",
      node: {
        kind: 'generic',
        subject: { type: 'literal', value: 'a (b)' },
        value: [{ type: 'ref', key: 'x' }],
        text: "'a (b)':%(x)s",
      },
    },
    {
      name: 'quote inside a value is an ordinary character',
      input: "name:O'Brien",
      node: {
        kind: 'generic',
        subject: { type: 'path', segments: ['name'] },
        value: [{ type: 'text', text: "O'Brien" }],
        text: "name:O'Brien",
      },
    },
  ];
  for (const { name, input, node } of cases) {
    it(name, () => {
      assert.deepEqual(parseCheckString(input), node);
    });
  }

  it('keyword-looking rule names are checks, not operators', () => {
    assert.deepEqual(ruleReferences(parseCheckString('rule:and or rule:not')), ['and', 'not']);
  });
});

describe('parseCheckString errors', () => {
  const cases: { name: string; input: string; problem: RegExp; column: number }[] = [
    {
      name: 'no colon',
      input: 'role:admin or foobar',
      problem: /kind:value.*"foobar"/,
      column: 15,
    },
    {
      name: 'dangling and',
      input: 'role:admin and',
      problem: /expected a check at the end/,
      column: 15,
    },
    {
      name: 'leading or',
      input: 'or role:admin',
      problem: /expected a check before "or"/,
      column: 1,
    },
    { name: 'double operator', input: '@ and and !', problem: /before "and"/, column: 7 },
    {
      name: 'two checks in a row',
      input: 'role:a role:b',
      problem: /"and" or "or" before/,
      column: 8,
    },
    { name: 'unclosed (', input: '(role:a or role:b', problem: /"\(" is never closed/, column: 1 },
    { name: 'extra )', input: 'role:a)', problem: /unbalanced "\)"/, column: 7 },
    { name: 'empty parentheses', input: '()', problem: /expected a check before "\)"/, column: 2 },
    { name: 'bare string', input: "'admin'", problem: /quoted string on its own/, column: 1 },
    { name: 'unterminated quote', input: "'admin:%(x)s", problem: /unterminated quote/, column: 1 },
    { name: 'blank', input: '   ', problem: /blank/, column: 1 },
    {
      name: 'http check',
      input: 'http://policy.example/%(name)s',
      problem: /http: checks/,
      column: 1,
    },
    { name: 'https check', input: '@ or https:x', problem: /https: checks/, column: 6 },
    { name: 'empty rule name', input: 'rule:', problem: /missing value after "rule:"/, column: 6 },
    { name: 'empty attribute', input: ':admin', problem: /missing attribute/, column: 1 },
    { name: 'empty path segment', input: 'a..b:x', problem: /empty segment/, column: 3 },
    { name: 'lone percent', input: 'name:50%', problem: /"%" must start/, column: 8 },
    { name: 'unclosed reference', input: 'name:%(id', problem: /never closed/, column: 6 },
    { name: 'not %s', input: 'name:%(id)d', problem: /only %\(key\)s/, column: 11 },
    { name: 'empty key', input: 'name:%()s', problem: /empty target key/, column: 6 },
    {
      name: 'text after quoted value',
      input: "name:'a'b",
      problem: /after the quoted value/,
      column: 9,
    },
    { name: 'quoted literal without colon', input: "'a'b:x", problem: /expected ":"/, column: 4 },
    {
      name: 'nesting too deep',
      input: `${'('.repeat(101)}@${')'.repeat(101)}`,
      problem: /deeper/,
      column: 101,
    },
    {
      name: 'not chain too deep',
      input: `${'not '.repeat(200000)}@`,
      problem: /deeper than 100/,
      column: 401,
    },
    {
      name: 'mixed nesting too deep',
      input: `${'not ('.repeat(51)}@${')'.repeat(51)}`,
      problem: /deeper than 100/,
      column: 251,
    },
  ];
  for (const { name, input, problem, column } of cases) {
    it(name, () => {
      assert.throws(
        () => parseCheckString(input, 'compute:start'),
        (err: unknown) => {
          assert.ok(err instanceof PolicyParseError);
          assert.match(err.problem, problem);
          assert.equal(err.position + 1, column, err.message);
          assert.equal(err.rule, 'compute:start');
          assert.match(err.message, /^Invalid policy rule "compute:start": /);
          assert.ok(err.message.includes(`column ${column} of ${JSON.stringify(input)}`));
          return true;
        },
      );
    });
  }
});

describe('parseListRule (legacy list-of-lists)', () => {
  const cases: { name: string; rule: ListRule; printed: string }[] = [
    { name: 'empty list allows', rule: [], printed: '@' },
    { name: 'only empty inner lists deny', rule: [[]], printed: '!' },
    { name: 'bare string', rule: ['role:admin'], printed: 'role:admin' },
    { name: 'one inner list', rule: [['role:admin']], printed: 'role:admin' },
    { name: 'inner lists are and', rule: [['role:a', 'role:b']], printed: '(role:a and role:b)' },
    {
      name: 'outer list is or',
      rule: [['role:admin'], ['project_id:%(project_id)s', 'role:projectadmin']],
      printed: '(role:admin or (project_id:%(project_id)s and role:projectadmin))',
    },
  ];
  for (const { name, rule, printed } of cases) {
    it(name, () => {
      assert.equal(formatPolicy(parseListRule(rule)), printed);
    });
  }

  it('rejects a bad element naming the rule', () => {
    assert.throws(() => parseListRule([['role:a', 'nonsense']], 'x'), /rule "x".*"nonsense"/);
  });
});
