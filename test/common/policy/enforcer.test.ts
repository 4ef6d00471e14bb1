import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import type { Credentials, ScopeType } from '../../../src/common/policy/checks.ts';
import type { PolicyEnforcerOptions, RuleDefault } from '../../../src/common/policy/enforcer.ts';
import {
  POLICY_INVALID_SCOPE,
  POLICY_NOT_AUTHORIZED,
  PolicyEnforcer,
} from '../../../src/common/policy/enforcer.ts';
import { ApiError, ForbiddenError, StartupError } from '../../../src/common/errors.ts';

function creds(overrides: Partial<Credentials> = {}): Credentials {
  return { roles: [], ...overrides };
}

const SYSTEM_ADMIN = creds({ roles: ['admin'], system_scope: 'all' });
const DOMAIN_ADMIN = creds({ roles: ['admin'], domain_id: 'd1' });
const PROJECT_ADMIN = creds({ roles: ['admin'], project_id: 'p1' });
const PROJECT_MEMBER = creds({ roles: ['member'], project_id: 'p1', user_id: 'u1' });

/** Keystone's example from the policy.yaml admin guide, as defaults in code. */
const KEYSTONE_DEFAULTS: RuleDefault[] = [
  { name: 'admin_required', check_str: 'role:admin or is_admin:1' },
  { name: 'owner', check_str: 'user_id:%(user_id)s' },
  { name: 'admin_or_owner', check_str: 'rule:admin_required or rule:owner' },
  {
    name: 'identity:change_password',
    check_str: 'rule:admin_or_owner',
    description: 'Change a user password.',
    operations: [{ path: '/v3/users/{user_id}/password', method: 'POST' }],
  },
  {
    name: 'identity:create_region',
    check_str: 'role:admin',
    scope_types: ['system'],
  },
];

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tstack-policy-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function policyFile(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

function forbidden(code: string): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof ForbiddenError);
    assert.equal(err.status, 403);
    assert.equal(err.code, code);
    assert.equal(err.message, "Policy doesn't allow identity:create_region to be performed.");
    return true;
  };
}

describe('PolicyEnforcer.authorize', () => {
  const enforcer = new PolicyEnforcer(KEYSTONE_DEFAULTS);

  it('allows the owner through rule: chains', () => {
    enforcer.authorize('identity:change_password', { user_id: 'u1' }, PROJECT_MEMBER);
  });

  it('denies with policy.not_authorized and upstream message', () => {
    assert.throws(
      () => enforcer.authorize('identity:change_password', { user_id: 'u2' }, PROJECT_MEMBER),
      (err: unknown) => {
        assert.ok(err instanceof ForbiddenError);
        assert.equal(err.code, POLICY_NOT_AUTHORIZED);
        assert.equal(err.message, "Policy doesn't allow identity:change_password to be performed.");
        return true;
      },
    );
  });

  it('a wrong scope is policy.invalid_scope, checked before the rule', () => {
    assert.throws(
      () => enforcer.authorize('identity:create_region', {}, PROJECT_ADMIN),
      (err: unknown) => {
        forbidden(POLICY_INVALID_SCOPE)(err);
        assert.deepEqual((err as ForbiddenError).details, {
          rule: 'identity:create_region',
          scope_types: ['system'],
          token_scope: 'project',
        });
        return true;
      },
    );
  });

  it('right scope but rule denies is policy.not_authorized', () => {
    const systemReader = creds({ roles: ['reader'], system_scope: 'all' });
    assert.throws(
      () => enforcer.authorize('identity:create_region', {}, systemReader),
      forbidden(POLICY_NOT_AUTHORIZED),
    );
  });

  it('an unregistered rule is a bug, not a 403', () => {
    assert.throws(
      () => enforcer.authorize('identity:nothing', {}, SYSTEM_ADMIN),
      (err: unknown) =>
        err instanceof Error &&
        !(err instanceof ApiError) &&
        /not been registered/.test(err.message),
    );
  });
});

describe('scope types', () => {
  const tokens: Record<ScopeType, Credentials> = {
    system: SYSTEM_ADMIN,
    domain: DOMAIN_ADMIN,
    project: PROJECT_ADMIN,
  };
  const ruleScopes: (readonly ScopeType[])[] = [
    [],
    ['system'],
    ['domain'],
    ['project'],
    ['system', 'project'],
  ];
  for (const scopes of ruleScopes) {
    for (const [tokenScope, credentials] of Object.entries(tokens)) {
      const allowed = scopes.length === 0 || scopes.includes(tokenScope as ScopeType);
      it(`rule [${scopes.join(',')}] with a ${tokenScope} token: ${allowed ? 'allowed' : 'invalid scope'}`, () => {
        const enforcer = new PolicyEnforcer([
          { name: 'r', check_str: 'role:admin', scope_types: scopes },
        ]);
        assert.equal(enforcer.enforce('r', {}, credentials), allowed);
        if (allowed) {
          enforcer.authorize('r', {}, credentials);
        } else {
          assert.throws(() => enforcer.authorize('r', {}, credentials), {
            code: POLICY_INVALID_SCOPE,
          });
        }
      });
    }
  }

  it('enforceScope: false ignores scope types', () => {
    const enforcer = new PolicyEnforcer(KEYSTONE_DEFAULTS, { enforceScope: false });
    enforcer.authorize('identity:create_region', {}, PROJECT_ADMIN);
  });

  it('a policy file cannot change scope types', () => {
    const enforcer = new PolicyEnforcer(KEYSTONE_DEFAULTS, {
      overrides: { 'identity:create_region': '@' },
    });
    assert.throws(() => enforcer.authorize('identity:create_region', {}, PROJECT_MEMBER), {
      code: POLICY_INVALID_SCOPE,
    });
    enforcer.authorize('identity:create_region', {}, creds({ system_scope: 'all' }));
  });
});

describe('overrides', () => {
  it('a file rule replaces the default; others keep theirs; new rules are added', async () => {
    const path = await policyFile(
      'policy.yaml',
      [
        '# operators may comment',
        'owner: "user_id:%(user_id)s and role:member"',
        'identity:change_password: rule:admin_or_owner or rule:helpdesk',
        'helpdesk: role:helpdesk',
        '',
      ].join('\n'),
    );
    const enforcer = new PolicyEnforcer(KEYSTONE_DEFAULTS, { overrides: path });

    assert.equal(
      enforcer.enforce('identity:change_password', { user_id: 'u1' }, PROJECT_MEMBER),
      true,
    );
    const ownerNotMember = creds({ roles: ['reader'], user_id: 'u1' });
    assert.equal(
      enforcer.enforce('identity:change_password', { user_id: 'u1' }, ownerNotMember),
      false,
    );
    assert.equal(
      enforcer.enforce(
        'identity:change_password',
        { user_id: 'u9' },
        creds({ roles: ['HelpDesk'] }),
      ),
      true,
    );
    assert.equal(enforcer.enforce('helpdesk', {}, creds({ roles: ['helpdesk'] })), true);

    assert.deepEqual(enforcer.rule('owner'), {
      name: 'owner',
      check_str: 'user_id:%(user_id)s and role:member',
      default_check_str: 'user_id:%(user_id)s',
      scope_types: [],
      description: undefined,
      operations: [],
      registered: true,
      overridden: true,
    });
    assert.equal(enforcer.rule('admin_required')?.overridden, false);
    assert.equal(enforcer.rule('helpdesk')?.registered, false);
    assert.equal(enforcer.rule('identity:change_password')?.description, 'Change a user password.');
    assert.deepEqual(
      enforcer.rules().map((r) => r.name),
      [
        'admin_required',
        'owner',
        'admin_or_owner',
        'identity:change_password',
        'identity:create_region',
        'helpdesk',
      ],
    );
  });

  it('the guide\'s multi-line rule and "" / "!" rules', async () => {
    const path = await policyFile(
      'guide.yaml',
      [
        '"compute:get_all" : ""',
        '"compute:shelve": "!"',
        '"identity:ec2_delete_credential": "rule:admin_required or',
        '             (rule:owner and user_id:%(target.credential.user_id)s)"',
      ].join('\n'),
    );
    const enforcer = new PolicyEnforcer(KEYSTONE_DEFAULTS, { overrides: path });
    assert.equal(enforcer.enforce('compute:get_all', {}, creds()), true);
    assert.equal(enforcer.enforce('compute:shelve', {}, SYSTEM_ADMIN), false);
    const target = { user_id: 'u1', 'target.credential.user_id': 'u1' };
    assert.equal(enforcer.enforce('identity:ec2_delete_credential', target, PROJECT_MEMBER), true);
    const someoneElses = { user_id: 'u1', 'target.credential.user_id': 'u2' };
    assert.equal(
      enforcer.enforce('identity:ec2_delete_credential', someoneElses, PROJECT_MEMBER),
      false,
    );
  });

  it('a bad policy file stops the enforcer at load, naming the file', async () => {
    const path = await policyFile('cycle.yaml', 'foo: rule:bar\nbar: rule:foo\n');
    assert.throws(() => new PolicyEnforcer(KEYSTONE_DEFAULTS, { overrides: path }), {
      name: 'StartupError',
      message: `policy file ${path}: rules reference each other in a cycle: foo -> bar -> foo`,
    });
  });

  it('an overrides object is named in errors', () => {
    assert.throws(() => new PolicyEnforcer([], { overrides: { x: 'role:' } }), {
      name: 'StartupError',
      message: /^policy overrides: Invalid policy rule "x": missing value after "role:"/,
    });
  });
});

describe('rule: references', () => {
  const cycles: { name: string; rules: Record<string, string>; cycle: string | undefined }[] = [
    { name: 'two rules', rules: { foo: 'rule:bar', bar: 'rule:foo' }, cycle: 'foo -> bar -> foo' },
    { name: 'self', rules: { foo: 'role:x or rule:foo' }, cycle: 'foo -> foo' },
    {
      name: 'through and/or',
      rules: { foo: 'rule:bar', bar: 'rule:baz and role:admin', baz: 'rule:foo or role:user' },
      cycle: 'foo -> bar -> baz -> foo',
    },
    {
      name: 'diamond is not a cycle',
      rules: { foo: 'rule:bar or rule:baz', bar: 'role:admin', baz: 'rule:bar or role:user' },
      cycle: undefined,
    },
    {
      name: 'same rule twice is not a cycle',
      rules: { foo: 'rule:bar and not rule:bar', bar: '@' },
      cycle: undefined,
    },
  ];
  for (const { name, rules, cycle } of cycles) {
    it(`cycle detection: ${name}`, () => {
      const options: PolicyEnforcerOptions = { overrides: rules };
      if (cycle === undefined) {
        new PolicyEnforcer([], options);
      } else {
        assert.throws(() => new PolicyEnforcer([], options), {
          name: 'StartupError',
          message: `policy overrides: rules reference each other in a cycle: ${cycle}`,
        });
      }
    });
  }

  it('a cycle among defaults is a bug (plain Error)', () => {
    assert.throws(
      () =>
        new PolicyEnforcer([
          { name: 'a', check_str: 'rule:b' },
          { name: 'b', check_str: 'rule:a' },
        ]),
      (err: unknown) =>
        err instanceof Error &&
        !(err instanceof StartupError) &&
        /cycle: a -> b -> a/.test(err.message),
    );
  });

  it('an undefined rule fails closed and is reported', () => {
    const enforcer = new PolicyEnforcer([{ name: 'r', check_str: 'rule:missing or role:admin' }], {
      overrides: { other: 'not rule:gone' },
    });
    assert.equal(enforcer.enforce('r', {}, creds({ roles: ['member'] })), false);
    assert.equal(enforcer.enforce('r', {}, creds({ roles: ['admin'] })), true);
    assert.deepEqual(enforcer.undefinedReferences(), [
      { rule: 'r', missing: 'missing' },
      { rule: 'other', missing: 'gone' },
    ]);
  });
});

describe('PolicyEnforcer.enforce with unknown names', () => {
  it('falls back to the "default" rule', () => {
    const enforcer = new PolicyEnforcer([], { overrides: { default: 'role:admin' } });
    assert.equal(enforcer.enforce('anything', {}, creds({ roles: ['admin'] })), true);
    assert.equal(enforcer.enforce('anything', {}, creds({ roles: ['member'] })), false);
  });

  it('honours a configured default rule name', () => {
    const enforcer = new PolicyEnforcer([{ name: 'fallback', check_str: '@' }], {
      defaultRule: 'fallback',
    });
    assert.equal(enforcer.enforce('anything', {}, creds()), true);
  });

  it('denies without a default rule', () => {
    assert.equal(
      new PolicyEnforcer(KEYSTONE_DEFAULTS).enforce('anything', {}, SYSTEM_ADMIN),
      false,
    );
  });
});

describe('invalid defaults are bugs', () => {
  const cases: { name: string; defaults: RuleDefault[]; message: RegExp }[] = [
    {
      name: 'duplicate name',
      defaults: [
        { name: 'a', check_str: '@' },
        { name: 'a', check_str: '!' },
      ],
      message: /Policy a is already registered/,
    },
    {
      name: 'bad check string',
      defaults: [{ name: 'a', check_str: 'role:admin or' }],
      message: /Invalid policy rule "a"/,
    },
    {
      name: 'unknown scope',
      defaults: [{ name: 'a', check_str: '@', scope_types: ['tenant' as ScopeType] }],
      message: /unknown scope type "tenant"/,
    },
    {
      name: 'repeated scope',
      defaults: [{ name: 'a', check_str: '@', scope_types: ['project', 'project'] }],
      message: /unique/,
    },
  ];
  for (const { name, defaults, message } of cases) {
    it(name, () => {
      assert.throws(
        () => new PolicyEnforcer(defaults),
        (err: unknown) =>
          err instanceof Error && !(err instanceof StartupError) && message.test(err.message),
      );
    });
  }
});
