/**
 * The parsed form of an oslo.policy check string. The parser (`parser.ts`) builds it once when
 * policies load; the evaluator (`checks.ts`) walks it per request. Every leaf keeps the text it
 * was parsed from so a rule can be printed back the way oslo.policy prints it.
 */

/** A piece of a value that may refer to the target: `%(project_id)s` or literal text. */
export type TemplatePart =
  { readonly type: 'text'; readonly text: string } | { readonly type: 'ref'; readonly key: string };

/** The right-hand side of a check, rendered against the target before comparing. */
export type Template = readonly TemplatePart[];

/** The left-hand side of a generic check: a literal or a dotted path into the credentials. */
export type CheckSubject =
  | { readonly type: 'literal'; readonly value: string }
  | { readonly type: 'path'; readonly segments: readonly string[] };

export type PolicyNode =
  | { readonly kind: 'true' }
  | { readonly kind: 'false' }
  | { readonly kind: 'not'; readonly operand: PolicyNode }
  | { readonly kind: 'and'; readonly operands: readonly PolicyNode[] }
  | { readonly kind: 'or'; readonly operands: readonly PolicyNode[] }
  | { readonly kind: 'rule'; readonly name: string; readonly text: string }
  | { readonly kind: 'role'; readonly role: Template; readonly text: string }
  | {
      readonly kind: 'generic';
      readonly subject: CheckSubject;
      readonly value: Template;
      readonly text: string;
    };

export const TRUE_NODE: PolicyNode = { kind: 'true' };
export const FALSE_NODE: PolicyNode = { kind: 'false' };

/**
 * Prints a rule the way oslo.policy's `str()` does: `@`, `!`, `not X`, and every `and`/`or`
 * group in parentheses, so `a or b and c` prints as `(a or (b and c))`. Tests use it to show
 * how precedence was resolved.
 */
export function formatPolicy(node: PolicyNode): string {
  switch (node.kind) {
    case 'true':
      return '@';
    case 'false':
      return '!';
    case 'not':
      return `not ${formatPolicy(node.operand)}`;
    case 'and':
    case 'or':
      return `(${node.operands.map(formatPolicy).join(` ${node.kind} `)})`;
    case 'rule':
    case 'role':
    case 'generic':
      return node.text;
  }
}

/** The names of all rules a node refers to with `rule:`, in order of appearance. */
export function ruleReferences(node: PolicyNode): string[] {
  switch (node.kind) {
    case 'rule':
      return [node.name];
    case 'not':
      return ruleReferences(node.operand);
    case 'and':
    case 'or':
      return node.operands.flatMap(ruleReferences);
    case 'true':
    case 'false':
    case 'role':
    case 'generic':
      return [];
  }
}
