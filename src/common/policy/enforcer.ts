/**
 * The policy enforcer: a service's default rules (policy in code), overridden by the operator's
 * policy file, checked per request. Everything is parsed and validated once, in the constructor,
 * so a bad rule stops the service at startup instead of denying (or allowing) requests later.
 */

import type { PolicyNode } from './ast.ts';
import { ruleReferences } from './ast.ts';
import type { Credentials, PolicyTarget, ScopeType } from './checks.ts';
import { evaluate, tokenScope } from './checks.ts';
import { parseCheckString } from './parser.ts';
import type { PolicyFileRule, PolicyOverrides } from './policy-file.ts';
import { parsePolicyRules, readPolicyFile } from './policy-file.ts';
import { ForbiddenError, StartupError } from '../errors.ts';

// The request-side types, so a service needs only this module to enforce policy.
export type { Credentials, PolicyTarget, ScopeType } from './checks.ts';

export const POLICY_NOT_AUTHORIZED = 'policy.not_authorized';
export const POLICY_INVALID_SCOPE = 'policy.invalid_scope';

/** An API call a rule protects, for generated policy documentation. */
export interface Operation {
  readonly path: string;
  readonly method: string;
}

/** A rule as a service declares it in code (oslo.policy's `DocumentedRuleDefault`). */
export interface RuleDefault {
  readonly name: string;
  readonly check_str: string;
  readonly description?: string;
  /** Token scopes the operation accepts; only code sets them, a policy file cannot. */
  readonly scope_types?: readonly ScopeType[];
  readonly operations?: readonly Operation[];
}

export interface PolicyEnforcerOptions {
  /** The operator's overrides: the path of a YAML/JSON policy file, or its content. */
  readonly overrides?: string | PolicyOverrides;
  /**
   * Refuse a token whose scope is not among the rule's `scope_types`. Defaults to true, as in
   * current oslo.policy (which no longer lets it be turned off).
   */
  readonly enforceScope?: boolean;
  /** The rule `enforce()` falls back to for an unknown name (`policy_default_rule`). */
  readonly defaultRule?: string;
}

/** A rule as it is enforced, after the policy file was applied. */
export interface EffectiveRule {
  readonly name: string;
  readonly check_str: string;
  /** The check string declared in code; absent for a rule only the policy file defines. */
  readonly default_check_str: string | undefined;
  readonly scope_types: readonly ScopeType[];
  readonly description: string | undefined;
  readonly operations: readonly Operation[];
  /** Declared in code (and so usable with `authorize`). */
  readonly registered: boolean;
  /** Replaced or added by the operator's overrides. */
  readonly overridden: boolean;
}

/** A `rule:` reference to a rule that does not exist; such a check always fails. */
export interface UndefinedReference {
  readonly rule: string;
  readonly missing: string;
}

interface CompiledRule extends EffectiveRule {
  readonly node: PolicyNode;
}

const SCOPE_TYPES: ReadonlySet<string> = new Set<ScopeType>(['system', 'domain', 'project']);

export class PolicyEnforcer {
  readonly #rules: ReadonlyMap<string, CompiledRule>;
  readonly #enforceScope: boolean;
  readonly #defaultRule: string;
  readonly #resolveRule = (name: string): PolicyNode | undefined => this.#rules.get(name)?.node;

  /**
   * @throws StartupError if the overrides cannot be read or hold a bad rule, or if `rule:`
   *   references form a cycle that involves an override.
   * @throws Error if the defaults themselves are invalid (a duplicate name, a bad check string
   *   or scope type, a cycle among them): a bug in the service, not an operator mistake.
   */
  constructor(defaults: readonly RuleDefault[], options: PolicyEnforcerOptions = {}) {
    this.#enforceScope = options.enforceScope ?? true;
    this.#defaultRule = options.defaultRule ?? 'default';
    const rules = new Map<string, CompiledRule>();
    for (const rule of defaults) {
      if (rules.has(rule.name)) throw new Error(`Policy ${rule.name} is already registered`);
      rules.set(rule.name, compileDefault(rule));
    }
    const { overrides } = options;
    const source = typeof overrides === 'string' ? `policy file ${overrides}` : 'policy overrides';
    const fileRules =
      overrides === undefined
        ? []
        : typeof overrides === 'string'
          ? readPolicyFile(overrides)
          : parsePolicyRules(overrides, source);
    for (const fileRule of fileRules) {
      rules.set(fileRule.name, applyOverride(rules.get(fileRule.name), fileRule));
    }
    rejectCycles(rules, source);
    this.#rules = rules;
  }

  /**
   * Checks that `credentials` may perform `rule` on `target`.
   * @throws ForbiddenError (403) `policy.invalid_scope` if the token's scope is not among the
   *   rule's scope types, else `policy.not_authorized` if the rule denies.
   * @throws Error if `rule` was never declared as a default: a bug in the calling service.
   */
  authorize(rule: string, target: PolicyTarget, credentials: Credentials): void {
    const compiled = this.#rules.get(rule);
    if (compiled === undefined || !compiled.registered) {
      throw new Error(`Policy ${rule} has not been registered`);
    }
    const message = `Policy doesn't allow ${rule} to be performed.`;
    if (!this.#scopeAllows(compiled, credentials)) {
      throw new ForbiddenError(message, POLICY_INVALID_SCOPE, {
        details: {
          rule,
          scope_types: [...compiled.scope_types],
          token_scope: tokenScope(credentials),
        },
      });
    }
    if (!this.#evaluate(compiled.node, target, credentials)) {
      throw new ForbiddenError(message, POLICY_NOT_AUTHORIZED, { details: { rule } });
    }
  }

  /**
   * Whether `credentials` may perform `rule` on `target`. Unlike `authorize`, any rule name is
   * accepted: a rule only the policy file defines, or an unknown name, which falls back to the
   * default rule if there is one and is denied otherwise. Never throws.
   */
  enforce(rule: string, target: PolicyTarget, credentials: Credentials): boolean {
    const compiled = this.#rules.get(rule);
    if (compiled === undefined) {
      const fallback = this.#rules.get(this.#defaultRule);
      return fallback !== undefined && this.#evaluate(fallback.node, target, credentials);
    }
    return (
      this.#scopeAllows(compiled, credentials) && this.#evaluate(compiled.node, target, credentials)
    );
  }

  /** The rule as enforced, or undefined if no default or override defines it. */
  rule(name: string): EffectiveRule | undefined {
    const compiled = this.#rules.get(name);
    return compiled === undefined ? undefined : toEffective(compiled);
  }

  /** Every rule as enforced: defaults in declaration order, then rules only the file adds. */
  rules(): EffectiveRule[] {
    return [...this.#rules.values()].map(toEffective);
  }

  /**
   * `rule:` references to rules that exist nowhere. They fail closed; oslo.policy logs them as
   * warnings at load, and the caller should too.
   */
  undefinedReferences(): UndefinedReference[] {
    return [...this.#rules.values()].flatMap((rule) =>
      ruleReferences(rule.node)
        .filter((missing) => !this.#rules.has(missing))
        .map((missing) => ({ rule: rule.name, missing })),
    );
  }

  #scopeAllows(rule: CompiledRule, credentials: Credentials): boolean {
    return (
      !this.#enforceScope ||
      rule.scope_types.length === 0 ||
      rule.scope_types.includes(tokenScope(credentials))
    );
  }

  #evaluate(node: PolicyNode, target: PolicyTarget, credentials: Credentials): boolean {
    return evaluate(node, { target, credentials, resolveRule: this.#resolveRule });
  }
}

function compileDefault(rule: RuleDefault): CompiledRule {
  const scopeTypes = rule.scope_types ?? [];
  for (const scope of scopeTypes) {
    if (!SCOPE_TYPES.has(scope)) {
      throw new Error(`Policy ${rule.name}: unknown scope type "${scope}"`);
    }
  }
  if (new Set(scopeTypes).size !== scopeTypes.length) {
    throw new Error(`Policy ${rule.name}: scope_types must be unique`);
  }
  return {
    name: rule.name,
    check_str: rule.check_str,
    default_check_str: rule.check_str,
    scope_types: [...scopeTypes],
    description: rule.description,
    operations: rule.operations ?? [],
    registered: true,
    overridden: false,
    node: parseCheckString(rule.check_str, rule.name),
  };
}

/** A file rule replaces the default's check string and keeps everything else it declares. */
function applyOverride(base: CompiledRule | undefined, fileRule: PolicyFileRule): CompiledRule {
  return {
    name: fileRule.name,
    check_str: fileRule.check_str,
    default_check_str: base?.default_check_str,
    scope_types: base?.scope_types ?? [],
    description: base?.description,
    operations: base?.operations ?? [],
    registered: base?.registered ?? false,
    overridden: true,
    node: fileRule.node,
  };
}

function toEffective(rule: CompiledRule): EffectiveRule {
  const { node: _node, ...effective } = rule;
  return effective;
}

/**
 * Rejects `rule:` references that loop (`a: rule:b`, `b: rule:a`). Upstream only logs them and
 * then recurses until Python's stack gives out; here they stop the service at startup.
 */
function rejectCycles(rules: ReadonlyMap<string, CompiledRule>, source: string): void {
  const cycle = findCycle(rules);
  if (cycle === undefined) return;
  const text = cycle.join(' -> ');
  if (cycle.some((name) => rules.get(name)?.overridden === true)) {
    throw new StartupError(`${source}: rules reference each other in a cycle: ${text}`);
  }
  throw new Error(`Policy defaults reference each other in a cycle: ${text}`);
}

function findCycle(rules: ReadonlyMap<string, CompiledRule>): string[] | undefined {
  const finished = new Set<string>();
  const path: string[] = [];
  const visit = (name: string): string[] | undefined => {
    const onPath = path.indexOf(name);
    if (onPath >= 0) return [...path.slice(onPath), name];
    const rule = rules.get(name);
    if (rule === undefined || finished.has(name)) return undefined;
    path.push(name);
    for (const reference of ruleReferences(rule.node)) {
      const cycle = visit(reference);
      if (cycle !== undefined) return cycle;
    }
    path.pop();
    finished.add(name);
    return undefined;
  };
  for (const name of rules.keys()) {
    const cycle = visit(name);
    if (cycle !== undefined) return cycle;
  }
  return undefined;
}
