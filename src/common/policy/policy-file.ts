/**
 * The operator's policy file: a YAML (or JSON, which YAML reads too) map of rule name -> check
 * string, the format oslo.policy reads. Reading the file is the only I/O in the policy module and
 * happens once, at startup; every problem is a `StartupError` naming the file and the rule.
 */

import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

import type { PolicyNode } from './ast.ts';
import { formatPolicy } from './ast.ts';
import type { ListRule } from './parser.ts';
import { parseCheckString, parseListRule, PolicyParseError } from './parser.ts';
import { messageOf, StartupError } from '../errors.ts';

/** Overrides given in code or config rather than in a file: rule name -> check string. */
export type PolicyOverrides = { readonly [name: string]: string | ListRule };

export interface PolicyFileRule {
  readonly name: string;
  /** The check string as written (a legacy list is printed in the string syntax). */
  readonly check_str: string;
  readonly node: PolicyNode;
}

/**
 * Reads and parses a policy file.
 * @throws StartupError if the file cannot be read, is not YAML, or holds a bad rule.
 */
export function readPolicyFile(path: string): PolicyFileRule[] {
  const source = `policy file ${path}`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new StartupError(`${source} cannot be read: ${messageOf(err)}`, { cause: err });
  }
  let content: unknown;
  try {
    content = parseYaml(text);
  } catch (err) {
    throw new StartupError(`${source} is not valid YAML: ${messageOf(err)}`, { cause: err });
  }
  return parsePolicyRules(content, source);
}

/**
 * Validates and parses already-loaded policy content. `source` names it in errors
 * (`policy file /etc/tstack/policy.yaml`). An empty document means no overrides.
 * @throws StartupError naming `source`, the rule and the problem.
 */
export function parsePolicyRules(content: unknown, source: string): PolicyFileRule[] {
  if (content === null || content === undefined) return [];
  if (typeof content !== 'object' || Array.isArray(content)) {
    throw new StartupError(
      `${source} must be a map of rule name to check string, got ${describeType(content)}`,
    );
  }
  return Object.entries(content).map(([name, value]) => parseRule(name, value, source));
}

function parseRule(name: string, value: unknown, source: string): PolicyFileRule {
  try {
    if (typeof value === 'string') {
      return { name, check_str: value, node: parseCheckString(value, name) };
    }
    if (isListRule(value)) {
      const node = parseListRule(value, name);
      return { name, check_str: formatPolicy(node), node };
    }
  } catch (err) {
    if (err instanceof PolicyParseError) {
      throw new StartupError(`${source}: ${err.message}`, { cause: err });
    }
    throw err;
  }
  throw new StartupError(
    `${source}: rule "${name}" must be a check string (e.g. "role:admin"), got ${describeType(value)}`,
  );
}

function isListRule(value: unknown): value is ListRule {
  return (
    Array.isArray(value) &&
    value.every(
      (inner) =>
        typeof inner === 'string' ||
        (Array.isArray(inner) && inner.every((check) => typeof check === 'string')),
    )
  );
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  return `${typeof value} ${JSON.stringify(value)}`;
}
