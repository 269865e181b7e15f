/**
 * Calico's label selector language: a tokenizer, a recursive-descent parser producing an AST, an
 * evaluator against a label map, and a canonical printer. IPPool `nodeSelector`, BGPPeer
 * `nodeSelector`/`peerSelector` and every policy/endpoint selector use it, so it lives once here
 * (the grammar follows libcalico-go/lib/selector/parser; the code is our own).
 *
 * Grammar (lowest precedence first):
 *   or    := and ( '||' and )*
 *   and   := unary ( '&&' unary )*
 *   unary := '!' unary | '(' or ')' | term
 *   term  := 'all()' | 'global()' | 'has(' key ')'
 *          | key ( '==' | '!=' ) string
 *          | key ( 'in' | 'not' 'in' ) '{' [ string ( ',' string )* ] '}'
 *          | key ( 'contains' | 'starts' 'with' | 'ends' 'with' ) string
 * Strings are single- or double-quoted with no escapes (as in Calico). An empty selector selects
 * everything, like `all()`.
 *
 * Semantics that differ from naive expectations, matching Calico: `k != 'v'` and `k not in {..}`
 * are true when the label is absent; `contains`, `starts with`, `ends with` need the label present.
 */

export type Labels = Readonly<Record<string, string>>;

export type SelectorNode =
  | { readonly op: 'all' }
  | { readonly op: 'global' }
  | { readonly op: 'has'; readonly key: string }
  | { readonly op: 'eq' | 'ne' | 'contains' | 'startsWith' | 'endsWith'; readonly key: string; readonly value: string }
  | { readonly op: 'in' | 'notIn'; readonly key: string; readonly values: readonly string[] }
  | { readonly op: 'not'; readonly operand: SelectorNode }
  | { readonly op: 'and' | 'or'; readonly operands: readonly SelectorNode[] };

/** A parse failure, with the 0-based character offset where the parser gave up. */
export class SelectorParseError extends Error {
  readonly code = 'E_SELECTOR_PARSE';
  constructor(
    readonly selector: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`invalid selector ${JSON.stringify(selector)}: ${reason} at offset ${offset}`);
    this.name = 'SelectorParseError';
  }
}

/**
 * Label keys: Kubernetes label key characters (prefix with '/', dots, dashes, underscores) and the
 * bare words Calico allows. Calico's tokenizer accepts the same character class.
 */
const KEY_RE = /^[a-zA-Z0-9_./-]+/;
/** Longest selector we accept; far above anything realistic, it bounds parser work on hostile input. */
export const MAX_SELECTOR_LENGTH = 16_384;
/** Nesting limit so a crafted selector cannot exhaust the stack. */
const MAX_DEPTH = 100;

type Token =
  | { t: 'and' | 'or' | 'not' | 'eq' | 'ne' | 'lparen' | 'rparen' | 'lbrace' | 'rbrace' | 'comma' | 'eof'; at: number }
  | { t: 'all' | 'global'; at: number }
  | { t: 'has'; key: string; at: number }
  | { t: 'in' | 'notIn' | 'contains' | 'startsWith' | 'endsWith'; at: number }
  | { t: 'key'; v: string; at: number }
  | { t: 'string'; v: string; at: number };

/**
 * Multi-word and function-like tokens, tried before plain keys (order matters: longest first). The
 * lookahead keeps a label such as `in-zone` or `contains.x` a key rather than an operator.
 */
const WORD_TOKENS: ReadonlyArray<[RegExp, Token['t']]> = [
  [/^all\s*\(\s*\)/, 'all'],
  [/^global\s*\(\s*\)/, 'global'],
  [/^not\s+in(?![a-zA-Z0-9_./-])/, 'notIn'],
  [/^in(?![a-zA-Z0-9_./-])/, 'in'],
  [/^contains(?![a-zA-Z0-9_./-])/, 'contains'],
  [/^starts\s+with(?![a-zA-Z0-9_./-])/, 'startsWith'],
  [/^ends\s+with(?![a-zA-Z0-9_./-])/, 'endsWith'],
];

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw new SelectorParseError(src, i, why);
  };
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const two = src.slice(i, i + 2);
    if (two === '&&') { out.push({ t: 'and', at: i }); i += 2; continue; }
    if (two === '||') { out.push({ t: 'or', at: i }); i += 2; continue; }
    if (two === '==') { out.push({ t: 'eq', at: i }); i += 2; continue; }
    if (two === '!=') { out.push({ t: 'ne', at: i }); i += 2; continue; }
    const single: Record<string, Token['t']> = { '!': 'not', '(': 'lparen', ')': 'rparen', '{': 'lbrace', '}': 'rbrace', ',': 'comma' };
    const s = single[c];
    if (s) {
      out.push({ t: s, at: i } as Token);
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      const end = src.indexOf(c, i + 1);
      if (end < 0) fail(`unterminated string starting with ${c}`);
      out.push({ t: 'string', v: src.slice(i + 1, end), at: i });
      i = end + 1;
      continue;
    }
    const rest = src.slice(i);
    const has = /^has\s*\(\s*([a-zA-Z0-9_./-]+)\s*\)/.exec(rest);
    if (has) {
      out.push({ t: 'has', key: has[1]!, at: i });
      i += has[0].length;
      continue;
    }
    if (/^has\s*\(/.test(rest)) fail('has() needs exactly one label name, e.g. has(app)');
    let matched = false;
    for (const [re, t] of WORD_TOKENS) {
      const m = re.exec(rest);
      if (m) {
        out.push({ t, at: i } as Token);
        i += m[0].length;
        matched = true;
        break;
      }
    }
    if (matched) continue;
    const key = KEY_RE.exec(rest);
    if (key) {
      out.push({ t: 'key', v: key[0], at: i });
      i += key[0].length;
      continue;
    }
    fail(`unexpected character ${JSON.stringify(c)}`);
  }
  out.push({ t: 'eof', at: src.length });
  return out;
}

class Parser {
  private pos = 0;
  private depth = 0;
  constructor(
    private readonly src: string,
    private readonly toks: Token[],
  ) {}

  private peek(): Token {
    return this.toks[this.pos]!;
  }
  private next(): Token {
    return this.toks[this.pos++]!;
  }
  private fail(tok: Token, why: string): never {
    throw new SelectorParseError(this.src, tok.at, why);
  }

  parse(): SelectorNode {
    if (this.peek().t === 'eof') return { op: 'all' };
    const n = this.or();
    const tok = this.peek();
    if (tok.t !== 'eof') this.fail(tok, `unexpected ${describe(tok)} after a complete expression (missing && or ||?)`);
    return n;
  }

  private or(): SelectorNode {
    const first = this.and();
    const rest: SelectorNode[] = [];
    while (this.peek().t === 'or') {
      this.next();
      rest.push(this.and());
    }
    return rest.length ? { op: 'or', operands: [first, ...rest] } : first;
  }

  private and(): SelectorNode {
    const first = this.unary();
    const rest: SelectorNode[] = [];
    while (this.peek().t === 'and') {
      this.next();
      rest.push(this.unary());
    }
    return rest.length ? { op: 'and', operands: [first, ...rest] } : first;
  }

  private unary(): SelectorNode {
    const tok = this.peek();
    if (++this.depth > MAX_DEPTH) this.fail(tok, `nesting deeper than ${MAX_DEPTH}`);
    try {
      if (tok.t === 'not') {
        this.next();
        return { op: 'not', operand: this.unary() };
      }
      if (tok.t === 'lparen') {
        this.next();
        const inner = this.or();
        const close = this.next();
        if (close.t !== 'rparen') this.fail(close, `expected ')' but found ${describe(close)}`);
        return inner;
      }
      return this.term();
    } finally {
      this.depth--;
    }
  }

  private term(): SelectorNode {
    const tok = this.next();
    switch (tok.t) {
      case 'all':
        return { op: 'all' };
      case 'global':
        return { op: 'global' };
      case 'has':
        return { op: 'has', key: tok.key };
      case 'key':
        return this.comparison(tok.v);
      default:
        return this.fail(tok, `expected a label name, has(), all() or '(' but found ${describe(tok)}`);
    }
  }

  private comparison(key: string): SelectorNode {
    const op = this.next();
    switch (op.t) {
      case 'eq':
      case 'ne':
      case 'contains':
      case 'startsWith':
      case 'endsWith': {
        const v = this.next();
        if (v.t !== 'string') this.fail(v, `expected a quoted string after ${describe(op)} but found ${describe(v)}`);
        return { op: op.t, key, value: v.v };
      }
      case 'in':
      case 'notIn':
        return { op: op.t, key, values: this.set() };
      default:
        return this.fail(op, `expected an operator (==, !=, in, not in, contains, starts with, ends with) after label ${JSON.stringify(key)} but found ${describe(op)}`);
    }
  }

  private set(): string[] {
    const open = this.next();
    if (open.t !== 'lbrace') this.fail(open, `expected '{' but found ${describe(open)}`);
    const values: string[] = [];
    if (this.peek().t === 'rbrace') {
      this.next();
      return values;
    }
    for (;;) {
      const v = this.next();
      if (v.t !== 'string') this.fail(v, `expected a quoted string in set but found ${describe(v)}`);
      values.push(v.v);
      const sep = this.next();
      if (sep.t === 'rbrace') return values;
      if (sep.t !== 'comma') this.fail(sep, `expected ',' or '}' but found ${describe(sep)}`);
    }
  }
}

function describe(tok: Token): string {
  switch (tok.t) {
    case 'eof':
      return 'end of selector';
    case 'key':
      return `label ${JSON.stringify(tok.v)}`;
    case 'string':
      return `string ${JSON.stringify(tok.v)}`;
    default:
      return `'${printToken(tok.t)}'`;
  }
}

function printToken(t: Token['t']): string {
  const names: Partial<Record<Token['t'], string>> = {
    and: '&&', or: '||', not: '!', eq: '==', ne: '!=', lparen: '(', rparen: ')', lbrace: '{', rbrace: '}', comma: ',',
    all: 'all()', global: 'global()', has: 'has()', in: 'in', notIn: 'not in', contains: 'contains',
    startsWith: 'starts with', endsWith: 'ends with',
  };
  return names[t] ?? t;
}

/** A parsed selector: evaluate it against labels, print it canonically. */
export class Selector {
  private constructor(
    readonly source: string,
    readonly ast: SelectorNode,
  ) {}

  /** Parses a selector; throws SelectorParseError saying where and why it failed. */
  static parse(src: string): Selector {
    if (src.length > MAX_SELECTOR_LENGTH) {
      throw new SelectorParseError(src.slice(0, 40) + '...', MAX_SELECTOR_LENGTH, `longer than ${MAX_SELECTOR_LENGTH} characters`);
    }
    return new Selector(src, new Parser(src, tokenize(src)).parse());
  }

  /** True when the labels match. `global()` matches only when `isGlobal` is set (non-namespaced sets). */
  matches(labels: Labels, opts: { isGlobal?: boolean } = {}): boolean {
    return evaluate(this.ast, labels, opts.isGlobal ?? false);
  }

  /** Canonical text (Calico's normalised form: double quotes, single spaces): equal for equal ASTs. */
  toString(): string {
    return printSelector(this.ast);
  }
}

/** Parses or returns the error message, for validators that collect problems instead of throwing. */
export function checkSelector(src: string): string | undefined {
  try {
    Selector.parse(src);
    return undefined;
  } catch (e) {
    if (e instanceof SelectorParseError) return e.message;
    throw e;
  }
}

export function evaluate(n: SelectorNode, labels: Labels, isGlobal = false): boolean {
  const get = (k: string): string | undefined => (Object.prototype.hasOwnProperty.call(labels, k) ? labels[k] : undefined);
  switch (n.op) {
    case 'all':
      return true;
    case 'global':
      return isGlobal;
    case 'has':
      return get(n.key) !== undefined;
    case 'eq':
      return get(n.key) === n.value;
    case 'ne':
      return get(n.key) !== n.value;
    case 'contains': {
      const v = get(n.key);
      return v !== undefined && v.includes(n.value);
    }
    case 'startsWith': {
      const v = get(n.key);
      return v !== undefined && v.startsWith(n.value);
    }
    case 'endsWith': {
      const v = get(n.key);
      return v !== undefined && v.endsWith(n.value);
    }
    case 'in': {
      const v = get(n.key);
      return v !== undefined && n.values.includes(v);
    }
    case 'notIn': {
      const v = get(n.key);
      return v === undefined || !n.values.includes(v);
    }
    case 'not':
      return !evaluate(n.operand, labels, isGlobal);
    case 'and':
      return n.operands.every((o) => evaluate(o, labels, isGlobal));
    case 'or':
      return n.operands.some((o) => evaluate(o, labels, isGlobal));
  }
}

export function printSelector(n: SelectorNode): string {
  const q = (s: string) => `"${s}"`;
  switch (n.op) {
    case 'all':
      return 'all()';
    case 'global':
      return 'global()';
    case 'has':
      return `has(${n.key})`;
    case 'eq':
      return `${n.key} == ${q(n.value)}`;
    case 'ne':
      return `${n.key} != ${q(n.value)}`;
    case 'contains':
      return `${n.key} contains ${q(n.value)}`;
    case 'startsWith':
      return `${n.key} starts with ${q(n.value)}`;
    case 'endsWith':
      return `${n.key} ends with ${q(n.value)}`;
    case 'in':
      return `${n.key} in {${n.values.map(q).join(', ')}}`;
    case 'notIn':
      return `${n.key} not in {${n.values.map(q).join(', ')}}`;
    case 'not':
      return `!${wrap(n.operand)}`;
    case 'and':
      return n.operands.map((o) => (o.op === 'or' ? `(${printSelector(o)})` : printSelector(o))).join(' && ');
    case 'or':
      return n.operands.map(printSelector).join(' || ');
  }
}

function wrap(n: SelectorNode): string {
  return n.op === 'and' || n.op === 'or' ? `(${printSelector(n)})` : printSelector(n);
}
