/** Builders shared by the policy tests. */

import assert from 'node:assert/strict';
import { it } from 'node:test';

import type { PolicyNode } from '../../../src/common/policy/ast.ts';
import type { Credentials, PolicyTarget } from '../../../src/common/policy/checks.ts';
import { evaluate } from '../../../src/common/policy/checks.ts';
import { parseCheckString } from '../../../src/common/policy/parser.ts';

/** Credentials with no roles and nothing else, plus `overrides`. */
export function creds(overrides: Partial<Credentials> = {}): Credentials {
  return { roles: [], ...overrides };
}

/** Evaluates a check string with `rules` available to `rule:` checks. */
export function check(
  checkString: string,
  target: PolicyTarget,
  credentials: Credentials,
  rules: Record<string, string> = {},
): boolean {
  const parsed = new Map<string, PolicyNode>(
    Object.entries(rules).map(([name, text]) => [name, parseCheckString(text, name)]),
  );
  return evaluate(parseCheckString(checkString), {
    target,
    credentials,
    resolveRule: (name) => parsed.get(name),
  });
}

/** One row of an evaluation table: a rule, a request, and whether it is allowed. */
export interface EvaluationCase {
  name: string;
  rule: string;
  target?: PolicyTarget;
  creds?: Credentials;
  rules?: Record<string, string>;
  allowed: boolean;
}

/** Registers one test per row. */
export function itEvaluates(cases: readonly EvaluationCase[]): void {
  for (const c of cases) {
    it(c.name, () => {
      assert.equal(check(c.rule, c.target ?? {}, c.creds ?? creds(), c.rules), c.allowed);
    });
  }
}
