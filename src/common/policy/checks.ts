/**
 * Evaluation of a parsed rule against a request's credentials and target. Pure: no I/O, no
 * clock, no globals; `rule:` references are resolved through the context.
 */

import type { PolicyNode, Template } from './ast.ts';

/** A JSON-like value, as found in targets and extra credential attributes. */
export type PolicyValue =
  | string
  | number
  | boolean
  | null
  | readonly PolicyValue[]
  | { readonly [key: string]: PolicyValue };

/**
 * What the policy knows about the object acted on. `%(a.b)s` reads the key `'a.b'` if present
 * (the flattened form services build, as upstream) and otherwise walks nested objects.
 */
export type PolicyTarget = { readonly [key: string]: PolicyValue | undefined };

export type ScopeType = 'system' | 'domain' | 'project';

/**
 * Who is asking: the attributes oslo.context's `to_policy_values()` provides. Generic checks read
 * any of them by name (`project_id:%(project_id)s`, `is_admin:True`); attributes beyond these go
 * in `extra` and are read the same way (`token.roles.name` reads `extra.token`).
 */
export interface Credentials {
  readonly user_id?: string | undefined;
  readonly user_domain_id?: string | undefined;
  readonly project_id?: string | undefined;
  readonly project_domain_id?: string | undefined;
  /** The domain a domain-scoped token is scoped to (not the user's own domain). */
  readonly domain_id?: string | undefined;
  /** `'all'` for a system-scoped token. */
  readonly system_scope?: 'all' | undefined;
  readonly roles: readonly string[];
  /** Set for the bootstrap admin token (keystone's `is_admin:1` rules). */
  readonly is_admin?: boolean | undefined;
  readonly is_admin_project?: boolean | undefined;
  readonly service_user_id?: string | undefined;
  readonly service_user_domain_id?: string | undefined;
  readonly service_project_id?: string | undefined;
  readonly service_project_domain_id?: string | undefined;
  readonly service_roles?: readonly string[] | undefined;
  readonly extra?: { readonly [key: string]: PolicyValue } | undefined;
}

const CREDENTIAL_FIELDS: ReadonlySet<string> = new Set([
  'user_id',
  'user_domain_id',
  'project_id',
  'project_domain_id',
  'domain_id',
  'system_scope',
  'roles',
  'is_admin',
  'is_admin_project',
  'service_user_id',
  'service_user_domain_id',
  'service_project_id',
  'service_project_domain_id',
  'service_roles',
]);

export interface EvaluationContext {
  readonly target: PolicyTarget;
  readonly credentials: Credentials;
  /** The rule a `rule:name` check refers to, or undefined if there is none (the check fails). */
  readonly resolveRule: (name: string) => PolicyNode | undefined;
}

/**
 * Whether `node` allows the request. A `rule:` to an unknown rule, a `%(key)s` missing from the
 * target and a credential attribute that is absent or null all make their check false; they
 * never throw.
 * @throws Error if `resolveRule` leads in a cycle, which the enforcer rejects at load time, so
 *   reaching it is a bug rather than a denial a `not` could turn into an allow.
 */
export function evaluate(node: PolicyNode, context: EvaluationContext): boolean {
  return evaluateNode(node, context, new Set());
}

function evaluateNode(node: PolicyNode, context: EvaluationContext, active: Set<string>): boolean {
  switch (node.kind) {
    case 'true':
      return true;
    case 'false':
      return false;
    case 'not':
      return !evaluateNode(node.operand, context, active);
    case 'and':
      return node.operands.every((operand) => evaluateNode(operand, context, active));
    case 'or':
      return node.operands.some((operand) => evaluateNode(operand, context, active));
    case 'rule': {
      const referenced = context.resolveRule(node.name);
      if (referenced === undefined) return false;
      if (active.has(node.name)) throw new Error(`policy rule cycle through "${node.name}"`);
      active.add(node.name);
      try {
        return evaluateNode(referenced, context, active);
      } finally {
        active.delete(node.name);
      }
    }
    case 'role': {
      const role = render(node.role, context.target)?.toLowerCase();
      return role !== undefined && context.credentials.roles.some((r) => r.toLowerCase() === role);
    }
    case 'generic': {
      const expected = render(node.value, context.target);
      if (expected === undefined) return false;
      const { subject } = node;
      if (subject.type === 'literal') return subject.value === expected;
      const [first, ...rest] = subject.segments;
      if (first === undefined) return false;
      return matches(credentialAttribute(context.credentials, first), rest, expected);
    }
  }
}

/** The token's scope, decided as oslo.policy does: system, else domain, else project. */
export function tokenScope(credentials: Credentials): ScopeType {
  if (credentials.system_scope) return 'system';
  if (credentials.domain_id) return 'domain';
  return 'project';
}

function credentialAttribute(credentials: Credentials, name: string): PolicyValue | undefined {
  // oslo.policy copies system_scope to `system` for rules written against the older name.
  if (name === 'system' && credentials.system_scope) return credentials.system_scope;
  if (CREDENTIAL_FIELDS.has(name)) {
    return (credentials as unknown as Record<string, PolicyValue | undefined>)[name];
  }
  const extra = credentials.extra;
  return extra !== undefined && Object.hasOwn(extra, name) ? extra[name] : undefined;
}

/**
 * Whether the credential value at `path` equals `expected`. A list matches if any element does,
 * at any depth of the path, as upstream. A null value never matches: upstream would compare the
 * string "None", so a missing project on both sides would pass.
 */
function matches(
  value: PolicyValue | undefined,
  path: readonly string[],
  expected: string,
): boolean {
  if (value === undefined || value === null) return false;
  if (isList(value)) return value.some((element) => matches(element, path, expected));
  const [key, ...rest] = path;
  if (key === undefined) return pythonStr(value) === expected;
  if (typeof value !== 'object' || !Object.hasOwn(value, key)) return false;
  return matches(value[key], rest, expected);
}

/** The template with each `%(key)s` replaced, or undefined if a key is missing or null. */
function render(template: Template, target: PolicyTarget): string | undefined {
  let out = '';
  for (const part of template) {
    if (part.type === 'text') {
      out += part.text;
      continue;
    }
    const value = lookupTarget(target, part.key);
    if (value === undefined || value === null) return undefined;
    out += pythonStr(value);
  }
  return out;
}

function lookupTarget(target: PolicyTarget, key: string): PolicyValue | undefined {
  if (Object.hasOwn(target, key)) return target[key];
  const [first = '', ...rest] = key.split('.');
  let current = Object.hasOwn(target, first) ? target[first] : undefined;
  for (const segment of rest) {
    if (current === undefined || current === null || typeof current !== 'object') return undefined;
    if (isList(current) || !Object.hasOwn(current, segment)) return undefined;
    current = current[segment];
  }
  return current;
}

function isList(value: PolicyValue): value is readonly PolicyValue[] {
  return Array.isArray(value);
}

/**
 * Python's `str()`, because upstream compares `str(value)` with the rendered text: a boolean is
 * `True`/`False`, so `is_admin:True` and `True:%(user.enabled)s` work on JSON booleans.
 */
export function pythonStr(value: PolicyValue): string {
  return typeof value === 'string' ? value : pythonRepr(value);
}

function pythonRepr(value: PolicyValue): string {
  if (value === null) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'nan';
    if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
    return String(value);
  }
  if (typeof value === 'string') {
    const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
    return quote + value.replaceAll('\\', '\\\\').replaceAll(quote, `\\${quote}`) + quote;
  }
  if (isList(value)) return `[${value.map(pythonRepr).join(', ')}]`;
  const entries = Object.entries(value).map(([k, v]) => `${pythonRepr(k)}: ${pythonRepr(v)}`);
  return `{${entries.join(', ')}}`;
}
