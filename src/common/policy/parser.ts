/**
 * The oslo.policy rule language: check string -> `PolicyNode`. Pure; no I/O.
 *
 * Grammar (keywords case-insensitive, `not` binds tighter than `and`, `and` tighter than `or`):
 *
 *     expr    := and ('or' and)*
 *     and     := unary ('and' unary)*
 *     unary   := 'not' unary | primary
 *     primary := '(' expr ')' | check
 *     check   := '@' | '!' | kind ':' value
 *
 * Tokens are split on whitespace, and parentheses are only taken from the start and end of a
 * word, exactly as upstream does, because `%(project_id)s` holds parentheses of its own. Upstream
 * turns any unparsable rule into "deny" and logs; here every problem is an error at load time
 * naming the rule and the column, so an operator's typo never silently locks everyone out.
 */

import type { CheckSubject, PolicyNode, Template, TemplatePart } from './ast.ts';
import { FALSE_NODE, TRUE_NODE } from './ast.ts';

/** A check string that does not parse; `position` is a 0-based offset into `checkString`. */
export class PolicyParseError extends Error {
  readonly rule: string | undefined;
  readonly checkString: string;
  readonly position: number;
  readonly problem: string;

  constructor(problem: string, checkString: string, position: number, rule?: string) {
    const where = rule === undefined ? 'Invalid check string' : `Invalid policy rule "${rule}"`;
    super(`${where}: ${problem} (column ${position + 1} of ${JSON.stringify(checkString)})`);
    this.name = 'PolicyParseError';
    this.rule = rule;
    this.checkString = checkString;
    this.position = position;
    this.problem = problem;
  }
}

/** A legacy list-of-lists rule: the outer list is joined by `or`, each inner list by `and`. */
export type ListRule = readonly (string | readonly string[])[];

/** Parentheses and `not` nest at most this deep, so a policy file cannot overflow the stack. */
const MAX_NESTING = 100;

type Fail = (problem: string, position: number) => never;

type Token =
  | { readonly type: 'lparen' | 'rparen' | 'and' | 'or' | 'not'; readonly pos: number }
  | { readonly type: 'check'; readonly pos: number; readonly node: PolicyNode }
  | { readonly type: 'string'; readonly pos: number; readonly text: string };

/**
 * Parses a check string in the policy language. The empty string means "always allow".
 * @throws PolicyParseError naming `ruleName`, the column and the problem.
 */
export function parseCheckString(checkString: string, ruleName?: string): PolicyNode {
  const fail: Fail = (problem, position) => {
    throw new PolicyParseError(problem, checkString, position, ruleName);
  };
  if (checkString === '') return TRUE_NODE;
  const tokens = tokenize(checkString, fail);
  if (tokens.length === 0) fail('the rule is blank; write "" or "@" to always allow', 0);
  return new Parser(tokens, checkString.length, fail).parseRule();
}

/**
 * Parses the legacy list-of-lists form (`[["role:admin"], ["project_id:%(project_id)s",
 * "role:projectadmin"]]`). Each string is one check, without operators. `[]` allows; a list
 * holding only empty lists denies, as upstream.
 */
export function parseListRule(rule: ListRule, ruleName?: string): PolicyNode {
  if (rule.length === 0) return TRUE_NODE;
  const alternatives: PolicyNode[] = [];
  for (const inner of rule) {
    const checks = typeof inner === 'string' ? [inner] : inner;
    if (checks.length === 0) continue;
    const nodes = checks.map((check) =>
      parseCheck(check, 0, (problem, position) => {
        throw new PolicyParseError(problem, check, position, ruleName);
      }),
    );
    alternatives.push(nodes.length === 1 ? nodes[0]! : { kind: 'and', operands: nodes });
  }
  if (alternatives.length === 0) return FALSE_NODE;
  return alternatives.length === 1 ? alternatives[0]! : { kind: 'or', operands: alternatives };
}

class Parser {
  readonly #tokens: readonly Token[];
  readonly #end: number;
  readonly #fail: Fail;
  #next = 0;
  #depth = 0;

  constructor(tokens: readonly Token[], end: number, fail: Fail) {
    this.#tokens = tokens;
    this.#end = end;
    this.#fail = fail;
  }

  parseRule(): PolicyNode {
    const node = this.#parseOr();
    const extra = this.#tokens[this.#next];
    if (extra !== undefined) {
      if (extra.type === 'rparen') this.#fail('unbalanced ")"', extra.pos);
      this.#fail(`expected "and" or "or" before ${describe(extra)}`, extra.pos);
    }
    return node;
  }

  #parseOr(): PolicyNode {
    const operands = [this.#parseAnd()];
    while (this.#tokens[this.#next]?.type === 'or') {
      this.#next++;
      operands.push(this.#parseAnd());
    }
    return operands.length === 1 ? operands[0]! : { kind: 'or', operands };
  }

  #parseAnd(): PolicyNode {
    const operands = [this.#parseUnary()];
    while (this.#tokens[this.#next]?.type === 'and') {
      this.#next++;
      operands.push(this.#parseUnary());
    }
    return operands.length === 1 ? operands[0]! : { kind: 'and', operands };
  }

  #parseUnary(): PolicyNode {
    const token = this.#tokens[this.#next];
    if (token?.type !== 'not') return this.#parsePrimary();
    this.#next++;
    this.#enter(token.pos);
    const operand = this.#parseUnary();
    this.#depth--;
    return { kind: 'not', operand };
  }

  /** Counts one level of nesting ("(" or "not"), which the parser and evaluator recurse on. */
  #enter(position: number): void {
    if (++this.#depth > MAX_NESTING) {
      this.#fail(`expression nests deeper than ${MAX_NESTING} levels`, position);
    }
  }

  #parsePrimary(): PolicyNode {
    const token = this.#tokens[this.#next++];
    if (token === undefined) return this.#fail('expected a check at the end', this.#end);
    switch (token.type) {
      case 'check':
        return token.node;
      case 'lparen': {
        this.#enter(token.pos);
        const inner = this.#parseOr();
        const close = this.#tokens[this.#next];
        if (close?.type !== 'rparen') {
          this.#fail('"(" is never closed', token.pos);
        }
        this.#next++;
        this.#depth--;
        return inner;
      }
      case 'string':
        return this.#fail(
          `a quoted string on its own is not a check; compare it with an attribute, ` +
            `e.g. '${token.text}':%(field)s`,
          token.pos,
        );
      default:
        return this.#fail(`expected a check before ${describe(token)}`, token.pos);
    }
  }
}

function describe(token: Token): string {
  switch (token.type) {
    case 'lparen':
      return '"("';
    case 'rparen':
      return '")"';
    case 'and':
    case 'or':
    case 'not':
      return `"${token.type}"`;
    case 'check':
      return 'another check';
    case 'string':
      return `the string '${token.text}'`;
  }
}

function isQuote(ch: string | undefined): ch is "'" | '"' {
  return ch === "'" || ch === '"';
}

const WHITESPACE = /\s/;

function tokenize(src: string, fail: Fail): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    if (WHITESPACE.test(src[i]!)) {
      i++;
      continue;
    }
    const start = i;
    // A quote opens a quoted value only at the start of the word (after any "(") or right after
    // the first ":"; elsewhere it is an ordinary character. Quoted values may hold whitespace
    // and parentheses, which is an extension: upstream would split them apart.
    let leading = true;
    let quotable = true;
    let sawColon = false;
    let quotedUntil = start;
    while (i < src.length && !WHITESPACE.test(src[i]!)) {
      const ch = src[i]!;
      if (quotable && isQuote(ch)) {
        const close = src.indexOf(ch, i + 1);
        if (close < 0) fail(`unterminated quote ${ch}`, i);
        i = close + 1;
        quotedUntil = i;
        leading = quotable = false;
        continue;
      }
      i++;
      if (leading && ch === '(') continue;
      leading = false;
      quotable = ch === ':' && !sawColon;
      if (ch === ':') sawColon = true;
    }
    pushWordTokens(src, start, i, quotedUntil, tokens, fail);
  }
  return tokens;
}

/** Splits one whitespace-delimited word into its leading "(", its core and its trailing ")". */
function pushWordTokens(
  src: string,
  start: number,
  end: number,
  quotedUntil: number,
  tokens: Token[],
  fail: Fail,
): void {
  let coreStart = start;
  while (coreStart < end && src[coreStart] === '(') {
    tokens.push({ type: 'lparen', pos: coreStart++ });
  }
  let coreEnd = end;
  while (coreEnd > Math.max(coreStart, quotedUntil) && src[coreEnd - 1] === ')') coreEnd--;
  if (coreEnd > coreStart) {
    const core = src.slice(coreStart, coreEnd);
    const keyword = core.toLowerCase();
    if (keyword === 'and' || keyword === 'or' || keyword === 'not') {
      tokens.push({ type: keyword, pos: coreStart });
    } else if (isQuote(core[0]) && core.indexOf(core[0], 1) === core.length - 1) {
      tokens.push({ type: 'string', pos: coreStart, text: core.slice(1, -1) });
    } else {
      tokens.push({ type: 'check', pos: coreStart, node: parseCheck(core, coreStart, fail) });
    }
  }
  for (let pos = coreEnd; pos < end; pos++) tokens.push({ type: 'rparen', pos });
}

/** Parses one check, `kind:value`, `@` or `!`; `offset` is its position in the whole string. */
function parseCheck(text: string, offset: number, fail: Fail): PolicyNode {
  if (text === '@') return TRUE_NODE;
  if (text === '!') return FALSE_NODE;

  let colon: number;
  if (isQuote(text[0])) {
    const close = text.indexOf(text[0], 1);
    if (close < 0) fail(`unterminated quote ${text[0]}`, offset);
    colon = close + 1;
    if (text[colon] !== ':') fail('expected ":" after the quoted value', offset + colon);
  } else {
    colon = text.indexOf(':');
    if (colon < 0) {
      fail(`expected a check of the form kind:value (e.g. role:admin), got "${text}"`, offset);
    }
  }
  const kind = text.slice(0, colon);
  const value = text.slice(colon + 1);
  const valueOffset = offset + colon + 1;
  if (kind === '') fail('missing attribute before ":"', offset);
  if (value === '') fail(`missing value after "${kind}:"`, valueOffset);

  switch (kind) {
    case 'rule':
      return { kind: 'rule', name: value, text };
    case 'role':
      return { kind: 'role', role: parseValue(value, valueOffset, fail), text };
    case 'http':
    case 'https':
      return fail(
        `${kind}: checks (delegating to a remote policy server) are not supported`,
        offset,
      );
    default:
      return {
        kind: 'generic',
        subject: parseSubject(kind, offset, fail),
        value: parseValue(value, valueOffset, fail),
        text,
      };
  }
}

/**
 * The left side of a generic check. As upstream (which tries Python's `literal_eval`), a quoted
 * string, `True`, `False` or an integer is a constant; anything else is a dotted path into the
 * credentials.
 */
function parseSubject(kind: string, offset: number, fail: Fail): CheckSubject {
  if (isQuote(kind[0])) return { type: 'literal', value: kind.slice(1, -1) };
  if (kind === 'True' || kind === 'False') return { type: 'literal', value: kind };
  if (/^[-+]?(0|[1-9][0-9]*)$/.test(kind)) {
    return { type: 'literal', value: BigInt(kind).toString() };
  }
  const segments = kind.split('.');
  const empty = segments.indexOf('');
  if (empty >= 0) {
    const at = segments.slice(0, empty).reduce((sum, s) => sum + s.length + 1, 0);
    fail(`empty segment in the attribute path "${kind}"`, offset + at);
  }
  return { type: 'path', segments };
}

/**
 * The right side of a check: a quoted constant, or text with `%(key)s` references to the target
 * (`%%` is a literal percent sign, as in Python's `%` formatting). Upstream compares a quoted
 * right side with its quotes included, so it never matches; here the quotes are stripped, which
 * is what the documentation (`project_id:'xpto2035abc'`) promises.
 */
function parseValue(value: string, offset: number, fail: Fail): Template {
  if (isQuote(value[0])) {
    const close = value.indexOf(value[0], 1);
    if (close < 0) fail(`unterminated quote ${value[0]}`, offset);
    if (close !== value.length - 1)
      fail('unexpected text after the quoted value', offset + close + 1);
    return [{ type: 'text', text: value.slice(1, -1) }];
  }
  const parts: TemplatePart[] = [];
  let text = '';
  let i = 0;
  while (i < value.length) {
    const ch = value[i]!;
    if (ch !== '%') {
      text += ch;
      i++;
      continue;
    }
    if (value[i + 1] === '%') {
      text += '%';
      i += 2;
      continue;
    }
    if (value[i + 1] !== '(') {
      fail('"%" must start "%(key)s" (write "%%" for a percent sign)', offset + i);
    }
    // Python's formatting allows balanced parentheses inside the key; so do we.
    let depth = 1;
    let j = i + 2;
    for (; j < value.length && depth > 0; j++) {
      if (value[j] === '(') depth++;
      else if (value[j] === ')') depth--;
    }
    if (depth > 0) fail('"%(" is never closed', offset + i);
    const key = value.slice(i + 2, j - 1);
    if (key === '') fail('empty target key in "%()s"', offset + i);
    if (value[j] !== 's') {
      fail(`expected "s" after "%(${key})": only %(key)s substitutions are supported`, offset + j);
    }
    if (text !== '') parts.push({ type: 'text', text });
    text = '';
    parts.push({ type: 'ref', key });
    i = j + 1;
  }
  if (text !== '') parts.push({ type: 'text', text });
  return parts;
}
