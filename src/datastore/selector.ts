/**
 * Calico's label selector language: tokenizer, recursive-descent parser, evaluator, canonical
 * printer and unique id. IPPool `nodeSelector`, BGPPeer `nodeSelector`/`peerSelector` and every
 * policy/endpoint selector use it. The behaviour follows libcalico-go/lib/selector (tokenizer,
 * parser, ast.go) and lib/hash so that the canonical text, and hence Felix's ipset names
 * (`cali40` + uniqueId, cut to 31 characters), come out byte for byte the same; the code is our own.
 *
 * Grammar (lowest precedence first):
 *   or    := and ( '||' and )*
 *   and   := op ( '&&' op )*
 *   op    := '!'* ( 'all()' | 'global()' | 'has(' key ')' | '(' or ')'
 *                 | key ( '==' | '!=' | 'contains' | 'starts with' | 'ends with' ) string
 *                 | key ( 'in' | 'not in' ) '{' [ string ( ',' string )* [ ',' ] ] '}' )
 * Lexical rules, as Calico's tokenizer has them:
 * - Whitespace is only space and tab; a newline or carriage return outside a string is an error.
 * - A key is 1..512 characters of [a-zA-Z0-9_./-]. Any such word is a key unless it directly follows
 *   a key, where it must be an operator: `contains contains "x"` and `in == "x"` are fine.
 * - Operators after a key: `contains`, `starts with`, `ends with`, `not in`, `in`; the two-word ones
 *   may be written with any run of spaces/tabs between the words, or none (`startswith`, `notin`).
 *   The operator must end at a non-key character (`a containsx "b"` is an error).
 * - `has(`, `all(`, `global(` must be written without a space before `(`; spaces inside are fine
 *   (`has( a )`). `has (a)` is an error; `has == "x"` compares the label `has`.
 * - Strings are single- or double-quoted, with no escapes; they may hold anything but their quote.
 * - A run of `!` collapses to one negation or none (`!!has(a)` is `has(a)`); parentheses make no
 *   node of their own, so `!(!has(a))` stays a double negation and prints as `!!has(a)`.
 * - A set may end with a trailing comma (`{"a",}`); `{,}` and `{"a" "b"}` are errors. Set values are
 *   sorted (by UTF-8 bytes, as Go compares strings) and de-duplicated.
 * - The empty (or all-blank) selector is `all()`.
 *
 * Canonical text (`toString()`, Calico's `String()`): `all()`, `global()`, `has(k)`, `k == "v"`,
 * `k != "v"`, `k contains "v"`, `k starts with "v"`, `k ends with "v"`, `k in {"a", "b"}`,
 * `k not in {}`, `!` + operand, and every && / || group in parentheses: `(a == "x" && !(b || c))`.
 * A value is quoted with `'` when it contains `"`, else with `"`.
 *
 * Semantics: `==`, `in`, `contains`, `starts with`, `ends with` need the label present; `!=` and
 * `not in` are true when it is absent; `global()` is true everywhere it is evaluated, like `all()`
 * (Calico's policy layer rewrites it in rule namespaceSelectors before evaluation: see
 * ruleNamespaceSelector).
 *
 * Limits: Calico has none (Go stacks grow). tortie rejects selectors over MAX_SELECTOR_LENGTH
 * characters and parentheses nested deeper than MAX_NESTING, so hostile input cannot exhaust memory
 * or the stack; both are far beyond any real selector. Parsing is linear in the input.
 */
import { createHash } from 'node:crypto';

export type Labels = Readonly<Record<string, string>>;

export type SelectorNode =
  | { readonly op: 'all' }
  | { readonly op: 'global' }
  | { readonly op: 'has'; readonly key: string }
  | { readonly op: 'eq' | 'ne' | 'contains' | 'startsWith' | 'endsWith'; readonly key: string; readonly value: string }
  /** `values` are sorted by UTF-8 bytes and de-duplicated, as Calico stores them. */
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
    const shown = selector.length > 200 ? selector.slice(0, 200) + '...' : selector;
    super(`invalid selector ${JSON.stringify(shown)}: ${reason} at offset ${offset}`);
    this.name = 'SelectorParseError';
  }
}

/** Longest selector we accept (Calico has no limit); parsing is linear, this bounds memory. */
export const MAX_SELECTOR_LENGTH = 1 << 20;
/** Deepest parenthesis nesting we accept (Calico has no limit); bounds the recursion. */
export const MAX_NESTING = 256;
/** Calico's limit on a label name in a selector. */
export const MAX_LABEL_LENGTH = 512;

/** The label prefix Calico's update processors give namespace labels (namespaceSelector). */
export const NAMESPACE_LABEL_PREFIX = 'pcns.';
/** The label prefix Calico's update processors give service account labels (serviceAccountSelector). */
export const SERVICE_ACCOUNT_LABEL_PREFIX = 'pcsa.';
/** The label Calico puts on every namespaced endpoint and network set. */
export const NAMESPACE_LABEL = 'projectcalico.org/namespace';

// ---------------------------------------------------------------------------------------------
// Tokenizer: a pull lexer (one token at a time, no token array), same decisions as Calico's.

type Kind =
  | 'none' | 'label' | 'string' | 'lbrace' | 'rbrace' | 'comma' | 'eq' | 'ne' | 'in' | 'not' | 'notIn'
  | 'contains' | 'startsWith' | 'endsWith' | 'all' | 'has' | 'lparen' | 'rparen' | 'and' | 'or' | 'global' | 'eof';

function isKeyChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x5f || c === 0x2e || c === 0x2f || c === 0x2d // _ . / -
  );
}

function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

class Lexer {
  /** The current token's kind (read through tok(): a method, so TypeScript does not narrow it across next()). */
  private kind: Kind = 'none';
  /** The key of a label or has(), the content of a string. */
  value = '';
  /** Offset where the current token starts. */
  start = 0;
  private pos = 0;

  constructor(private readonly src: string) {}

  tok(): Kind {
    return this.kind;
  }

  private fail(at: number, why: string): never {
    throw new SelectorParseError(this.src, at, why);
  }

  private skipBlanks(p: number): number {
    while (p < this.src.length && isBlank(this.src.charCodeAt(p))) p++;
    return p;
  }

  /** End of the key starting at p (p itself when there is none). */
  private keyEnd(p: number): number {
    while (p < this.src.length && isKeyChar(this.src.charCodeAt(p))) p++;
    return p;
  }

  /** The words in sequence from p, blanks allowed after each, then a non-key character or the end. */
  private words(p: number, ...words: string[]): number {
    for (const w of words) {
      if (!this.src.startsWith(w, p)) return -1;
      p = this.skipBlanks(p + w.length);
    }
    return p < this.src.length && isKeyChar(this.src.charCodeAt(p)) ? -1 : p;
  }

  /** The word at p followed directly by a non-key character or the end. */
  private word(p: number, w: string): number {
    if (!this.src.startsWith(w, p)) return -1;
    const e = p + w.length;
    return e < this.src.length && isKeyChar(this.src.charCodeAt(e)) ? -1 : e;
  }

  /** A key at p; fails when there is none or it is too long. */
  private key(p: number): number {
    const e = this.keyEnd(p);
    if (e === p) {
      if (p >= this.src.length) this.fail(p, 'expected a label name but found end of selector');
      this.fail(p, `unexpected character ${JSON.stringify(this.src[p])}`);
    }
    if (e - p > MAX_LABEL_LENGTH) this.fail(p, `label name longer than ${MAX_LABEL_LENGTH} characters`);
    return e;
  }

  next(): void {
    const src = this.src;
    const prev = this.kind;
    let p = this.skipBlanks(this.pos);
    this.start = p;
    if (p >= src.length) {
      this.kind = 'eof';
      this.pos = p;
      return;
    }
    const c = src[p]!;
    switch (c) {
      case '(': this.kind = 'lparen'; p++; break;
      case ')': this.kind = 'rparen'; p++; break;
      case '{': this.kind = 'lbrace'; p++; break;
      case '}': this.kind = 'rbrace'; p++; break;
      case ',': this.kind = 'comma'; p++; break;
      case '"':
      case "'": {
        const end = src.indexOf(c, p + 1);
        if (end < 0) this.fail(p, `unterminated string starting with ${c}`);
        this.kind = 'string';
        this.value = src.slice(p + 1, end);
        p = end + 1;
        break;
      }
      case '=':
        if (src[p + 1] !== '=') this.fail(p, 'unexpected character "="');
        this.kind = 'eq';
        p += 2;
        break;
      case '!':
        if (src[p + 1] === '=') {
          this.kind = 'ne';
          p += 2;
        } else {
          this.kind = 'not';
          p++;
        }
        break;
      case '&':
        if (src[p + 1] !== '&') this.fail(p, 'unexpected character "&" (expected &&)');
        this.kind = 'and';
        p += 2;
        break;
      case '|':
        if (src[p + 1] !== '|') this.fail(p, 'unexpected character "|" (expected ||)');
        this.kind = 'or';
        p += 2;
        break;
      default: {
        if (prev === 'label') {
          // Right after a key only an operator may follow: this is what lets a key be spelled
          // like an operator (`in == "x"`, `contains contains "x"`).
          let e: number;
          if ((e = this.word(p, 'contains')) >= 0) this.kind = 'contains';
          else if ((e = this.words(p, 'starts', 'with')) >= 0) this.kind = 'startsWith';
          else if ((e = this.words(p, 'ends', 'with')) >= 0) this.kind = 'endsWith';
          else if ((e = this.words(p, 'not', 'in')) >= 0) this.kind = 'notIn';
          else if ((e = this.word(p, 'in')) >= 0) this.kind = 'in';
          else this.fail(p, `expected an operator (==, !=, in, not in, contains, starts with, ends with) after label ${JSON.stringify(this.value)}`);
          p = e;
        } else if (src.startsWith('has(', p)) {
          const k = this.skipBlanks(p + 4);
          const ke = this.key(k);
          const close = this.skipBlanks(ke);
          if (src[close] !== ')') this.fail(close, "expected ')' to close has(");
          this.kind = 'has';
          this.value = src.slice(k, ke);
          p = close + 1;
        } else if (src.startsWith('all(', p) || src.startsWith('global(', p)) {
          const isAll = src[p] === 'a';
          const close = this.skipBlanks(p + (isAll ? 4 : 7));
          if (src[close] !== ')') this.fail(close, `expected ')' after ${isAll ? 'all(' : 'global('}`);
          this.kind = isAll ? 'all' : 'global';
          p = close + 1;
        } else {
          const e = this.key(p);
          this.kind = 'label';
          this.value = src.slice(p, e);
          p = e;
        }
      }
    }
    this.pos = p;
  }
}

function describe(lx: Lexer): string {
  switch (lx.tok()) {
    case 'eof':
      return 'end of selector';
    case 'label':
      return `label ${JSON.stringify(lx.value)}`;
    case 'string':
      return `string ${JSON.stringify(lx.value)}`;
    case 'has':
      return `has(${lx.value})`;
    default:
      return `'${TOKEN_TEXT[lx.tok()]}'`;
  }
}

const TOKEN_TEXT: Record<Kind, string> = {
  none: '', label: '', string: '', has: '', eof: '',
  and: '&&', or: '||', not: '!', eq: '==', ne: '!=', lparen: '(', rparen: ')', lbrace: '{', rbrace: '}', comma: ',',
  all: 'all()', global: 'global()', in: 'in', notIn: 'not in', contains: 'contains', startsWith: 'starts with', endsWith: 'ends with',
};

// ---------------------------------------------------------------------------------------------
// Parser

class Parser {
  private depth = 0;
  private readonly lx: Lexer;

  constructor(private readonly src: string) {
    this.lx = new Lexer(src);
  }

  private fail(why: string): never {
    throw new SelectorParseError(this.src, this.lx.start, why);
  }

  parse(): SelectorNode {
    this.lx.next();
    if (this.lx.tok() === 'eof') return ALL;
    const n = this.or();
    if (this.lx.tok() !== 'eof') this.fail(`unexpected ${describe(this.lx)} after a complete expression (missing && or ||?)`);
    return n;
  }

  private or(): SelectorNode {
    const first = this.and();
    if (this.lx.tok() !== 'or') return first;
    const operands = [first];
    while (this.lx.tok() === 'or') {
      this.lx.next();
      operands.push(this.and());
    }
    return { op: 'or', operands };
  }

  private and(): SelectorNode {
    const first = this.operation();
    if (this.lx.tok() !== 'and') return first;
    const operands = [first];
    while (this.lx.tok() === 'and') {
      this.lx.next();
      operands.push(this.operation());
    }
    return { op: 'and', operands };
  }

  private operation(): SelectorNode {
    const lx = this.lx;
    let negated = false;
    while (lx.tok() === 'not') {
      negated = !negated;
      lx.next();
    }
    let n: SelectorNode;
    switch (lx.tok()) {
      case 'all':
        n = ALL;
        lx.next();
        break;
      case 'global':
        n = GLOBAL;
        lx.next();
        break;
      case 'has':
        n = { op: 'has', key: lx.value };
        lx.next();
        break;
      case 'label':
        n = this.comparison(lx.value);
        break;
      case 'lparen': {
        if (++this.depth > MAX_NESTING) this.fail(`parentheses nested deeper than ${MAX_NESTING}`);
        lx.next();
        n = this.or();
        if (lx.tok() !== 'rparen') this.fail(`expected ')' but found ${describe(lx)}`);
        lx.next();
        this.depth--;
        break;
      }
      default:
        this.fail(`expected a label name, has(), all() or '(' but found ${describe(lx)}`);
    }
    return negated ? { op: 'not', operand: n } : n;
  }

  private comparison(key: string): SelectorNode {
    const lx = this.lx;
    lx.next();
    const op = lx.tok();
    switch (op) {
      case 'eq':
      case 'ne':
      case 'contains':
      case 'startsWith':
      case 'endsWith': {
        const opText = TOKEN_TEXT[op];
        lx.next();
        if (lx.tok() !== 'string') this.fail(`expected a quoted string after '${opText}' but found ${describe(lx)}`);
        const value = lx.value;
        lx.next();
        return { op, key, value };
      }
      case 'in':
      case 'notIn': {
        lx.next();
        if (lx.tok() !== 'lbrace') this.fail(`expected '{' after '${TOKEN_TEXT[op]}' but found ${describe(lx)}`);
        lx.next();
        const values: string[] = [];
        while (lx.tok() === 'string') {
          values.push(lx.value);
          lx.next();
          if (lx.tok() !== 'comma') break;
          lx.next();
        }
        if (lx.tok() !== 'rbrace') this.fail(`expected a quoted string, ',' or '}' in set but found ${describe(lx)}`);
        lx.next();
        return { op, key, values: sortedSet(values) };
      }
      default:
        return this.fail(`expected an operator (==, !=, in, not in, contains, starts with, ends with) after label ${JSON.stringify(key)} but found ${describe(lx)}`);
    }
  }
}

const ALL: SelectorNode = Object.freeze({ op: 'all' });
const GLOBAL: SelectorNode = Object.freeze({ op: 'global' });

/** Orders strings by their UTF-8 bytes (= code points), which is how Go's `<` orders them. */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // UTF-16 units order code points except that surrogates (U+10000 and up) must sort after
    // U+E000..U+FFFF: lift the surrogates above them.
    if (x >= 0xd800) x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
    if (y >= 0xd800) y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    return x - y;
  }
  return a.length - b.length;
}

function sortedSet(values: string[]): string[] {
  if (values.length <= 1) return values;
  values.sort(compareUtf8);
  const out = [values[0]!];
  for (let i = 1; i < values.length; i++) if (values[i] !== out[out.length - 1]) out.push(values[i]!);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Evaluation. `matches` runs a closure tree built once per selector; it allocates nothing.

type Eval = (labels: Labels, globalValue: boolean) => boolean;

/**
 * The label's value, or undefined when absent. Label values are strings; nothing inherited from
 * Object.prototype is a string, so `typeof` tells an own label from `constructor` and friends.
 */
function get(labels: Labels, key: string): string | undefined {
  const v = labels[key];
  return typeof v === 'string' ? v : undefined;
}

function compile(n: SelectorNode): Eval {
  switch (n.op) {
    case 'all':
      return () => true;
    case 'global':
      return (_l, g) => g;
    case 'has': {
      const k = n.key;
      return (l) => typeof l[k] === 'string';
    }
    case 'eq': {
      const { key: k, value: v } = n;
      return (l) => get(l, k) === v;
    }
    case 'ne': {
      const { key: k, value: v } = n;
      return (l) => get(l, k) !== v;
    }
    case 'contains': {
      const { key: k, value: v } = n;
      return (l) => {
        const x = get(l, k);
        return x !== undefined && x.includes(v);
      };
    }
    case 'startsWith': {
      const { key: k, value: v } = n;
      return (l) => {
        const x = get(l, k);
        return x !== undefined && x.startsWith(v);
      };
    }
    case 'endsWith': {
      const { key: k, value: v } = n;
      return (l) => {
        const x = get(l, k);
        return x !== undefined && x.endsWith(v);
      };
    }
    case 'in':
    case 'notIn': {
      const k = n.key;
      const member = memberTest(n.values);
      return n.op === 'in'
        ? (l) => {
            const x = get(l, k);
            return x !== undefined && member(x);
          }
        : (l) => {
            const x = get(l, k);
            return x === undefined || !member(x);
          };
    }
    case 'not': {
      const inner = compile(n.operand);
      return (l, g) => !inner(l, g);
    }
    case 'and': {
      const fs = n.operands.map(compile);
      if (fs.length === 2) {
        const [a, b] = fs as [Eval, Eval];
        return (l, g) => a(l, g) && b(l, g);
      }
      return (l, g) => {
        for (let i = 0; i < fs.length; i++) if (!fs[i]!(l, g)) return false;
        return true;
      };
    }
    case 'or': {
      const fs = n.operands.map(compile);
      if (fs.length === 2) {
        const [a, b] = fs as [Eval, Eval];
        return (l, g) => a(l, g) || b(l, g);
      }
      return (l, g) => {
        for (let i = 0; i < fs.length; i++) if (fs[i]!(l, g)) return true;
        return false;
      };
    }
  }
}

function memberTest(values: readonly string[]): (v: string) => boolean {
  if (values.length === 0) return () => false;
  if (values.length === 1) {
    const only = values[0]!;
    return (v) => v === only;
  }
  if (values.length <= 8) return (v) => values.includes(v);
  const set = new Set(values);
  return (v) => set.has(v);
}

/**
 * Evaluates an AST directly (the Selector class runs a precompiled form instead). `globalValue` is
 * what `global()` evaluates to: true in Calico.
 */
export function evaluate(n: SelectorNode, labels: Labels, globalValue = true): boolean {
  switch (n.op) {
    case 'all':
      return true;
    case 'global':
      return globalValue;
    case 'has':
      return get(labels, n.key) !== undefined;
    case 'eq':
      return get(labels, n.key) === n.value;
    case 'ne':
      return get(labels, n.key) !== n.value;
    case 'contains': {
      const v = get(labels, n.key);
      return v !== undefined && v.includes(n.value);
    }
    case 'startsWith': {
      const v = get(labels, n.key);
      return v !== undefined && v.startsWith(n.value);
    }
    case 'endsWith': {
      const v = get(labels, n.key);
      return v !== undefined && v.endsWith(n.value);
    }
    case 'in': {
      const v = get(labels, n.key);
      return v !== undefined && n.values.includes(v);
    }
    case 'notIn': {
      const v = get(labels, n.key);
      return v === undefined || !n.values.includes(v);
    }
    case 'not':
      return !evaluate(n.operand, labels, globalValue);
    case 'and':
      return n.operands.every((o) => evaluate(o, labels, globalValue));
    case 'or':
      return n.operands.some((o) => evaluate(o, labels, globalValue));
  }
}

// ---------------------------------------------------------------------------------------------
// Canonical printing, as Calico's AST String() does it.

function quote(v: string): string {
  return v.includes('"') ? `'${v}'` : `"${v}"`;
}

export function printSelector(n: SelectorNode): string {
  switch (n.op) {
    case 'all':
      return 'all()';
    case 'global':
      return 'global()';
    case 'has':
      return `has(${n.key})`;
    case 'eq':
      return `${n.key} == ${quote(n.value)}`;
    case 'ne':
      return `${n.key} != ${quote(n.value)}`;
    case 'contains':
      return `${n.key} contains ${quote(n.value)}`;
    case 'startsWith':
      return `${n.key} starts with ${quote(n.value)}`;
    case 'endsWith':
      return `${n.key} ends with ${quote(n.value)}`;
    case 'in':
      return `${n.key} in {${n.values.map(quote).join(', ')}}`;
    case 'notIn':
      return `${n.key} not in {${n.values.map(quote).join(', ')}}`;
    case 'not':
      return '!' + printSelector(n.operand);
    case 'and':
      return '(' + n.operands.map(printSelector).join(' && ') + ')';
    case 'or':
      return '(' + n.operands.map(printSelector).join(' || ') + ')';
  }
}

/** Calico's hash.MakeUniqueID: `prefix:` + unpadded base64url of SHA-224 over `prefix:content`. */
export function calicoUniqueId(prefix: string, content: string): string {
  return `${prefix}:${createHash('sha224').update(`${prefix}:${content}`, 'utf8').digest('base64url')}`;
}

function prefixKeys(n: SelectorNode, prefix: string): SelectorNode {
  switch (n.op) {
    case 'all':
    case 'global':
      return n;
    case 'has':
    case 'eq':
    case 'ne':
    case 'contains':
    case 'startsWith':
    case 'endsWith':
    case 'in':
    case 'notIn':
      return { ...n, key: prefix + n.key };
    case 'not':
      return { op: 'not', operand: prefixKeys(n.operand, prefix) };
    case 'and':
    case 'or':
      return { op: n.op, operands: n.operands.map((o) => prefixKeys(o, prefix)) };
  }
}

function collectKeys(n: SelectorNode, out: Set<string>): void {
  switch (n.op) {
    case 'all':
    case 'global':
      return;
    case 'not':
      collectKeys(n.operand, out);
      return;
    case 'and':
    case 'or':
      for (const o of n.operands) collectKeys(o, out);
      return;
    default:
      out.add(n.key);
  }
}

export interface MatchOptions {
  /**
   * What `global()` evaluates to. Omit it for Calico's behaviour (true, like `all()`). Calico never
   * evaluates global() as false: in a rule's namespaceSelector it rewrites global() to
   * `!has(projectcalico.org/namespace)` first (ruleNamespaceSelector); `false` is a tortie override.
   */
  isGlobal?: boolean;
}

/** A parsed selector: evaluate it against labels, print it canonically, name it. */
export class Selector {
  private str: string | undefined;
  private id: string | undefined;
  private keys: ReadonlySet<string> | undefined;
  private readonly fn: Eval;

  private constructor(
    /** The text it was parsed from (the canonical text for derived selectors). */
    readonly source: string,
    readonly ast: SelectorNode,
  ) {
    this.fn = compile(ast);
  }

  /** Parses a selector; throws SelectorParseError saying where and why it failed. */
  static parse(src: string): Selector {
    if (src.length > MAX_SELECTOR_LENGTH) {
      throw new SelectorParseError(src.slice(0, 40) + '...', MAX_SELECTOR_LENGTH, `longer than ${MAX_SELECTOR_LENGTH} characters`);
    }
    return new Selector(src, new Parser(src).parse());
  }

  private static allSelector: Selector | undefined;
  /** The selector that matches everything (`all()`, also what the empty selector parses to). */
  static all(): Selector {
    return (Selector.allSelector ??= new Selector('all()', ALL));
  }

  /** True when the labels match, with Calico's semantics. Allocation-free. */
  matches(labels: Labels, opts?: MatchOptions): boolean {
    return this.fn(labels, opts === undefined || opts.isGlobal !== false);
  }

  /** Calico's canonical String(): equal for equal ASTs, the input of uniqueId(). */
  toString(): string {
    return (this.str ??= printSelector(this.ast));
  }

  /** Calico's UniqueID(): `s:` + base64url(sha224(`s:` + toString())), 40 characters. */
  uniqueId(): string {
    return (this.id ??= calicoUniqueId('s', this.toString()));
  }

  /**
   * The same selector with `prefix` before every label key it reads (has(), comparisons, sets);
   * all() and global() are left alone, as Calico's PrefixVisitor does. Calico's update processors
   * use `pcns.` for namespaceSelector and `pcsa.` for serviceAccountSelector. The prefix must be made
   * of label characters so that the result still parses.
   */
  withKeyPrefix(prefix: string): Selector {
    for (let i = 0; i < prefix.length; i++) {
      if (!isKeyChar(prefix.charCodeAt(i))) throw new Error(`selector key prefix ${JSON.stringify(prefix)} has a character that is not allowed in a label name`);
    }
    if (prefix === '') return this;
    const ast = prefixKeys(this.ast, prefix);
    return new Selector(printSelector(ast), ast);
  }

  /** Every label key the selector reads; empty for all() and global(). */
  labelKeys(): ReadonlySet<string> {
    if (!this.keys) {
      const out = new Set<string>();
      collectKeys(this.ast, out);
      this.keys = out;
    }
    return this.keys;
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

// ---------------------------------------------------------------------------------------------
// What Calico's policy layer does with selectors before Felix sees them.

/**
 * Calico's parseSelectorAttachPrefix: the canonical text of `src` with `prefix` on every key, or ''
 * when `src` does not parse (Calico logs and drops it; validation has rejected it before).
 */
export function prefixSelector(src: string, prefix: string): string {
  try {
    return Selector.parse(src).withKeyPrefix(prefix).toString();
  } catch (e) {
    if (e instanceof SelectorParseError) return '';
    throw e;
  }
}

/**
 * The endpoint selector Calico derives from a rule's (EntityRule's) `namespaceSelector`: keys get
 * `pcns.`, then in the canonical text every `all()` becomes `has(projectcalico.org/namespace)`
 * (any namespaced endpoint) and every `global()` becomes `!has(projectcalico.org/namespace)`
 * (host endpoints and GlobalNetworkSets only). Calico does this by plain text replacement, so it
 * also rewrites those words inside quoted values; so does this. '' for an empty or unparsable input.
 *
 * Calico then joins it with the rule's other selectors as `(<this>) && (<selector>)`, and a
 * GlobalNetworkPolicy's own `namespaceSelector` is prefixed the same way but only `all()` is
 * rewritten there (global() is rejected in it by validation: see globalSelectorProblem).
 */
export function ruleNamespaceSelector(namespaceSelector: string): string {
  if (namespaceSelector === '') return '';
  return prefixSelector(namespaceSelector, NAMESPACE_LABEL_PREFIX)
    .replaceAll('all()', `has(${NAMESPACE_LABEL})`)
    .replaceAll('global()', `!has(${NAMESPACE_LABEL})`);
}

const GLOBAL_COMBINED = /(&&|\|\|) global\(\)|global\(\) (&&|\|\|)/;

/**
 * Calico's validator rules for global(), or undefined when `src` passes them:
 * - `field: 'namespaceSelector'` (a rule's EntityRule namespaceSelector, the one place global() is
 *   meant for): global() may not be combined with && or || (checked on the canonical text, so
 *   `!global()` passes). An unparsable selector is left to checkSelector.
 * - `field: 'other'`: for the fields Calico checks (an EntityRule's selector; a NetworkPolicy's
 *   selector and serviceAccountSelector; a GlobalNetworkPolicy's selector, serviceAccountSelector and
 *   namespaceSelector) the text may not contain `global()` at all, even inside a quoted value.
 */
export function globalSelectorProblem(src: string, field: 'namespaceSelector' | 'other'): string | undefined {
  if (field === 'other') return src.includes('global()') ? 'global() can only be used in an EntityRule namespaceSelector' : undefined;
  let canonical: string;
  try {
    canonical = Selector.parse(src).toString();
  } catch (e) {
    if (e instanceof SelectorParseError) return undefined;
    throw e;
  }
  return GLOBAL_COMBINED.test(canonical) ? 'global() cannot be combined with other selectors' : undefined;
}
