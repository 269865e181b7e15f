import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  calicoUniqueId,
  checkSelector,
  compareUtf8,
  evaluate,
  globalSelectorProblem,
  MAX_NESTING,
  prefixSelector,
  printSelector,
  ruleNamespaceSelector,
  Selector,
  SelectorParseError,
} from './selector.js';

// Expected canonical strings below are written by hand from Calico's printing rules (every && / ||
// group parenthesised, `'` quotes only for values holding `"`, sets sorted and de-duplicated,
// `!` glued to its operand), never taken from this printer.
const canonical: [string, string][] = [
  // From libcalico-go/lib/selector/parser/parser_test.go canonicalisationTests.
  ['', 'all()'],
  [' all() ', 'all()'],
  [' (all() )', 'all()'],
  ['! (has( b)||! has(a ))', '!(has(b) || !has(a))'],
  ['! (a == "b"&&! c != "d")', '!(a == "b" && !c != "d")'],
  [`a == "'"`, `a == "'"`],
  [`a == '"'`, `a == '"'`],
  [`a contains '"'`, `a contains '"'`],
  [`a contains "'"`, `a contains "'"`],
  [`a startswith '"'`, `a starts with '"'`],
  [`a endswith "'"`, `a ends with "'"`],
  [`a!='"'`, `a != '"'`],
  ['a in {"d"}', 'a in {"d"}'],
  ['a in {"a", "b"}', 'a in {"a", "b"}'],
  ['a in {"d", "a", "b"}', 'a in {"a", "b", "d"}'],
  ['a in {"z", "x", "y", "a"}', 'a in {"a", "x", "y", "z"}'],
  ['a in {"z", "z", "x", "y", "x", "a"}', 'a in {"a", "x", "y", "z"}'],
  // Blanks: only space and tab, anywhere between tokens, none needed.
  ['', 'all()'],
  [' \t ', 'all()'],
  ['\tall(\t)\t', 'all()'],
  ['global()', 'global()'],
  ['global(  )', 'global()'],
  ['!global()', '!global()'],
  ['has(a)', 'has(a)'],
  ['has( a )', 'has(a)'],
  ['has(\ta\t)', 'has(a)'],
  ["a=='b'", 'a == "b"'],
  ["a  ==  'b'", 'a == "b"'],
  ['a == ""', 'a == ""'],
  ["a == ''", 'a == ""'],
  ['a == "x y"', 'a == "x y"'],
  ['a == "line\nbreak"', 'a == "line\nbreak"'], // newlines are fine inside a string
  ['a == "ü/€"', 'a == "ü/€"'],
  [`a == "it's"`, `a == "it's"`],
  [`a == 'say "hi"'`, `a == 'say "hi"'`],
  // Operators, one- and two-word forms.
  ['a != "b"', 'a != "b"'],
  ['a contains"b"', 'a contains "b"'],
  ['a starts with "b"', 'a starts with "b"'],
  ['a starts  with "b"', 'a starts with "b"'],
  ['a starts\twith "b"', 'a starts with "b"'],
  ['a startswith "b"', 'a starts with "b"'],
  ['a ends with "b"', 'a ends with "b"'],
  ['a endswith"b"', 'a ends with "b"'],
  ['a not in {"b"}', 'a not in {"b"}'],
  ['a  not  in  {"b"}', 'a not in {"b"}'],
  ['a notin{"b"}', 'a not in {"b"}'],
  ['a in{"b"}', 'a in {"b"}'],
  // Sets: empty, trailing comma, quoting per value, byte order.
  ['a in {}', 'a in {}'],
  ['a not in { }', 'a not in {}'],
  ['a in {"x",}', 'a in {"x"}'],
  ['a in {"y", "x",}', 'a in {"x", "y"}'],
  [`a in {"'", '"', "c"}`, `a in {'"', "'", "c"}`],
  [`a not in {"c", '"'}`, `a not in {'"', "c"}`],
  ['a in {"b", "B", "_", "Z", "a"}', 'a in {"B", "Z", "_", "a", "b"}'],
  ['a in {"ab", "a", ""}', 'a in {"", "a", "ab"}'],
  ['a in {"\u{1F600}", "\uFFFD", "z"}', 'a in {"z", "\uFFFD", "\u{1F600}"}'], // UTF-8 order, not UTF-16
  // Negation: runs of ! collapse, parentheses add no node.
  ['!has(a)', '!has(a)'],
  ['! has(a)', '!has(a)'],
  ['!!has(a)', 'has(a)'],
  ['!!!has(a)', '!has(a)'],
  ['!! ! has(a)', '!has(a)'],
  ['! !!has(a)', '!has(a)'],
  ['!(!has(a))', '!!has(a)'],
  ["!(k == 'v')", '!k == "v"'],
  ['!a in {"a"}', '!a in {"a"}'],
  ['((a == "b"))', 'a == "b"'],
  // && and ||: always parenthesised, precedence kept, never flattened.
  ['a == "x" && b == "y"', '(a == "x" && b == "y")'],
  ['a == "x" || b == "y"', '(a == "x" || b == "y")'],
  ['a == "x" && b == "y" && c == "z"', '(a == "x" && b == "y" && c == "z")'],
  ['a == "x" || b == "y" && c == "z"', '(a == "x" || (b == "y" && c == "z"))'],
  ['(a == "x" || b == "y") && c == "z"', '((a == "x" || b == "y") && c == "z")'],
  ['a == "x" && (b == "y" && c == "z")', '(a == "x" && (b == "y" && c == "z"))'],
  ['(a == "x" || b == "y") || c == "z"', '((a == "x" || b == "y") || c == "z")'],
  ['!(a == "x" && b == "y")', '!(a == "x" && b == "y")'],
  ["has(a)&&!has(b)||all()", '((has(a) && !has(b)) || all())'],
  ["!(!(k == 'v' && has(t) || all()) && (a in {'b', 'c'}))", '!(!((k == "v" && has(t)) || all()) && a in {"b", "c"})'],
  // Keys: the label character set, and words that are operators elsewhere.
  ['calico/k8s_ns == "kube-system" && k8s-app == "kube-dns"', '(calico/k8s_ns == "kube-system" && k8s-app == "kube-dns")'],
  ['has(calico/k8s_NS-.1/role)', 'has(calico/k8s_NS-.1/role)'],
  ['projectcalico.org/namespace == "prod"', 'projectcalico.org/namespace == "prod"'],
  ['-- == "x"', '-- == "x"'],
  ['0 in {"1"}', '0 in {"1"}'],
  ['contains contains "contains"', 'contains contains "contains"'],
  ["contains contains 'contains'", 'contains contains "contains"'],
  ['startswith starts with "value"', 'startswith starts with "value"'],
  ['endswith ends with "value"', 'endswith ends with "value"'],
  ['in == "x"', 'in == "x"'],
  ['in in {"in"}', 'in in {"in"}'],
  ['not in {"x"}', 'not in {"x"}'], // the label `not`
  ['not not in {"x"}', 'not not in {"x"}'],
  ['has == "x"', 'has == "x"'],
  ['all == "x"', 'all == "x"'],
  ['global != "x"', 'global != "x"'],
  ['in-zone == "a"', 'in-zone == "a"'],
  ['has(a) && contains contains "x"', '(has(a) && contains contains "x")'],
  ['a == "b" && in in {}', '(a == "b" && in in {})'],
  ['x'.repeat(512) + ' == "y"', 'x'.repeat(512) + ' == "y"'],
  [`has(${'k'.repeat(512)})`, `has(${'k'.repeat(512)})`],
  ['!'.repeat(300) + 'all()', 'all()'], // Calico collapses any run of ! without recursion
  ['!'.repeat(301) + 'all()', '!all()'],
];

test('selector: canonical text is Calico String()', () => {
  for (const [src, want] of canonical) {
    const s = Selector.parse(src);
    assert.equal(s.toString(), want, JSON.stringify(src));
    assert.equal(printSelector(s.ast), want);
    assert.equal(s.source, src);
  }
});

test('selector: canonical text round-trips (except a parenthesised double negation, as in Calico)', () => {
  for (const [, want] of canonical) {
    const again = Selector.parse(want);
    if (want === '!!has(a)') {
      assert.equal(again.toString(), 'has(a)'); // Calico's String() is not idempotent here either
      continue;
    }
    assert.equal(again.toString(), want, want);
  }
});

test('selector: the quoting fix: a value holding " prints in single quotes and parses back', () => {
  const s = Selector.parse(`a == '"'`);
  assert.deepEqual(s.ast, { op: 'eq', key: 'a', value: '"' });
  assert.equal(s.toString(), `a == '"'`);
  assert.deepEqual(Selector.parse(s.toString()).ast, s.ast);
});

test('selector: sets are stored sorted and de-duplicated', () => {
  assert.deepEqual(Selector.parse(`a in {'z', "a", 'z', ""}`).ast, { op: 'in', key: 'a', values: ['', 'a', 'z'] });
  assert.deepEqual(Selector.parse('a not in {}').ast, { op: 'notIn', key: 'a', values: [] });
});

test('selector: compareUtf8 orders like Go (UTF-8 bytes)', () => {
  const sorted = ['\u{10000}', '\uffff', '\ue000', '\ud7ff', 'ab', 'a', 'B', ''].sort(compareUtf8);
  assert.deepEqual(sorted, ['', 'B', 'a', 'ab', '\ud7ff', '\ue000', '\uffff', '\u{10000}']);
  assert.equal(compareUtf8('x', 'x'), 0);
});

// Evaluation, Calico semantics. Cases from libcalico-go parser_test.go selectorTests plus our own.
const evalCases: [string, Record<string, string>, boolean][] = [
  ['a == "b"', { a: 'b' }, true],
  ['a == "b"', { a: 'b', c: 'd' }, true],
  ['a == "b"', {}, false],
  ['a == "b"', { a: 'c' }, false],
  ['a == "b"', { c: 'd' }, false],
  ['a == "b" && c == "d"', { a: 'b', c: 'd' }, true],
  ['a == "b" && c == "d"', { a: 'b', c: 'e' }, false],
  ['a == "b" && c == "d"', { a: 'b' }, false],
  ['a == "b" || c == "d"', { c: 'd' }, true],
  ['a == "b" || c == "d"', { a: 'e', c: 'e' }, false],
  [`a in {"'", '"', "c"}`, { a: 'c' }, true],
  [`a in {"'", '"', "c"}`, { a: '"' }, true],
  [`a in {"'", '"', "c"}`, { a: "'" }, true],
  [`a in {"'", '"', "c"}`, { a: 'e' }, false],
  [`a in {"'", '"', "c"}`, {}, false],
  [`a not in {"'", '"', "c"}`, {}, true],
  [`a not in {"'", '"', "c"}`, { a: 'e' }, true],
  [`a not in {"'", '"', "c"}`, { a: '"' }, false],
  ['a in {}', { a: '' }, false],
  ['a not in {}', { a: '' }, true],
  ['a in {"", "x"}', { a: '' }, true],
  ['a in {"1","2","3","4","5","6","7","8","9","10","11"}', { a: '11' }, true], // large set
  ['a in {"1","2","3","4","5","6","7","8","9","10","11"}', { a: '12' }, false],
  ['a not in {"1","2","3","4","5","6","7","8","9","10","11"}', { a: '7' }, false],
  ['a != "b"', { a: 'a' }, true],
  ['a != "a"', {}, true], // absent label: != is true
  ['a != "a"', { a: 'a' }, false],
  ['a contains "a"', { a: 'bab' }, true],
  ['a contains "a"', { a: 'b' }, false],
  ['a contains "a"', { b: 'aaa' }, false],
  ['a contains ""', { a: '' }, true],
  ['a contains ""', {}, false], // contains needs the label
  ['a starts with "a"', { a: 'abb' }, true],
  ['a starts with "a"', { a: 'baa' }, false],
  ['a starts with ""', {}, false],
  ['a ends with "a"', { a: 'bba' }, true],
  ['a ends with "a"', { a: 'aab' }, false],
  ['a ends with "a"', {}, false],
  ['!a in {"a"}', { a: 'b' }, true],
  ['has(a)', { a: 'b' }, true],
  ['has(a)', { a: '' }, true],
  ['has(b)', { a: 'b' }, false],
  ['!has(a)', { b: 'b' }, true],
  ['!!has(b)', { a: 'b' }, false],
  ['!!! has(a)', { a: 'b' }, false],
  ['', {}, true],
  [' ', { a: 'b' }, true],
  ['all()', {}, true],
  ['global()', {}, true], // Calico: global() evaluates to true
  [' global()', { a: 'b' }, true],
  ['!global()', {}, false],
  ["a == 'a1' && b != 'b1'", { a: 'a1', b: 'b1' }, false],
  ["a != 'a1' && !b == 'b1'", { a: 'a1', b: 'b1' }, false],
  ["!a == 'a1' && b == 'b1'", { a: 'a1', b: 'b1' }, false],
  ['!(!has(a) || has(b))', { a: 'a' }, true],
  ['!(has(b) || !has(a))', { a: 'a' }, true],
  ["a == 'a1' || b != 'b1'", { a: 'a1', b: 'b1' }, true],
  ["a != 'a1' || b != 'b1'", { a: 'a1', b: 'b1' }, false],
  ["! a == 'a1' || ! b == 'b1'", { a: 'a1', b: 'b1' }, false],
  ['a == "x" || a == "y" && b == "z"', { a: 'y' }, false], // && binds tighter
  ['(a == "x" || a == "y") && b == "z"', { a: 'y', b: 'z' }, true],
  ['a == "b" && b == "c" && c == "d"', { a: 'b', b: 'c', c: 'd' }, true],
  ['a == "b" && b == "c" && c == "d"', { a: 'b', b: 'c' }, false],
  ['a == "b" || b == "c" || c == "d"', { c: 'd' }, true],
  ['a == "b" || b == "c" || c == "d"', {}, false],
  ['projectcalico.org/namespace == "prod"', { 'projectcalico.org/namespace': 'prod' }, true],
  // Nothing inherited from Object.prototype is a label.
  ['has(constructor)', {}, false],
  ['has(toString)', {}, false],
  ['constructor != "x"', {}, true],
  ['hasOwnProperty not in {"x"}', {}, true],
  ['toString contains ""', {}, false],
];

test('selector: evaluation matches Calico', () => {
  for (const [src, labels, want] of evalCases) {
    const s = Selector.parse(src);
    assert.equal(s.matches(labels), want, `${src} on ${JSON.stringify(labels)}`);
    assert.equal(evaluate(s.ast, labels), want, `evaluate ${src}`);
    // The canonical text means the same thing.
    assert.equal(Selector.parse(s.toString()).matches(labels), want, `canonical of ${src}`);
  }
});

test('selector: labels from JSON with a __proto__ key and null-prototype maps work', () => {
  const fromJson = JSON.parse('{"__proto__": "x"}') as Record<string, string>;
  assert.equal(Selector.parse('has(__proto__)').matches(fromJson), true);
  assert.equal(Selector.parse('__proto__ == "x"').matches(fromJson), true);
  const bare = Object.assign(Object.create(null) as Record<string, string>, { a: 'b' });
  assert.equal(Selector.parse('a == "b" && !has(c)').matches(bare), true);
});

test('selector: global() is true unless a caller overrides it', () => {
  const g = Selector.parse('global()');
  assert.equal(g.matches({}), true);
  assert.equal(g.matches({}, {}), true);
  assert.equal(g.matches({}, { isGlobal: true }), true);
  assert.equal(g.matches({}, { isGlobal: false }), false);
  assert.equal(Selector.parse('!global()').matches({}, { isGlobal: false }), true);
  assert.equal(evaluate(g.ast, {}, false), false);
});

// Inputs Calico rejects.
const rejected: string[] = [
  // libcalico-go parser_test.go badSelectors
  'b == b', 'b contains b', 'b starts with b', 'b ends with b', "'b1' == b", 'b', 'a b', '!',
  'foo == "bar" &', 'foo == "bar" |', 'foo != ||', 'foo in {"", ||', 'foo in ""', '"FOO', `"FOO'`, "'FOO",
  '(', '(a == "foo"', ')', '()', '%', 'a == "b" && %', 'a == "b" || %', 'a ', 'has(foo) &&',
  // libcalico-go tokenizer_test.go
  'label starts foo "value"', 'label ends foo "value"', 'label squiggles "value"',
  // Whitespace is only space and tab.
  'a == "b"\n', '\na == "b"', 'a == "b"\r\n&& c == "d"', 'a\u00a0== "b"', 'a ==\v"b"',
  // has( / all( / global( need the parenthesis right after the word, and close it.
  'has (a)', 'all ()', 'global ()', 'has()', 'has( )', 'has(a b)', 'has(a', 'has(a ==', 'all(x)', 'all(', 'global(x)',
  'has("a")', 'has(a)(b)',
  // Operators must end at a word boundary and be complete.
  'a containsx "b"', 'a inx {}', 'a notinx {}', 'a startswithx "b"', 'a starts "b"', 'a not {}', 'a = "b"',
  'a === "b"', 'a ! = "b"', 'a & b', 'a == "b" & c == "d"', 'a == "b" | c == "d"',
  // Operands.
  'a ==', 'a == b', 'a in "x"', 'a in ("x")', 'a not in "x"', 'a contains {}', 'a in {"a"', 'a in {,}',
  'a in {"a",,}', 'a in {"a" "b"}', 'a in {"a", b}', 'a in {"a"}}', '"a" in {"a"}', 'a == "b" "c"',
  // Structure.
  'a == "x" b == "y"', 'a == "x" && && b == "y"', 'a == "x" !', '!!', '&& a == "b"', '|| a == "b"',
  '(a == "x"))', '((a == "x")', 'a == "x" ()', 'has(a) has(b)', 'all() all()', 'a in {"a"} in {"b"}',
  'has(a) in {"a"}', 'all() == "x"',
  // Label characters and length.
  'ä == "x"', 'a:b == "x"', 'a@b == "x"', 'a*b == "x"', '$a == "x"', 'x'.repeat(513) + ' == "y"', `has(${'k'.repeat(513)})`,
];

test('selector: rejects what Calico rejects', () => {
  for (const src of rejected) {
    assert.throws(() => Selector.parse(src), SelectorParseError, JSON.stringify(src));
    assert.notEqual(checkSelector(src), undefined, JSON.stringify(src));
  }
});

const messages: [string, RegExp][] = [
  ['app == ', /^invalid selector "app == ": expected a quoted string after '==' but found end of selector at offset 7$/],
  ["a = 'b'", /^invalid selector "a = 'b'": unexpected character "=" at offset 2$/],
  ['a ==', /: expected a quoted string after '==' but found end of selector at offset 4$/],
  ["app == 'x", /unterminated string starting with ' at offset 7/],
  ["(app == 'x'", /expected '\)' but found end of selector at offset 11/],
  ["app == 'x')", /unexpected '\)' after a complete expression \(missing && or \|\|\?\) at offset 10/],
  ["app == 'x' tier == 'y'", /unexpected label "tier" after a complete expression/],
  ['has()', /unexpected character "\)" at offset 4/],
  ['has(a', /expected '\)' to close has\( at offset 5/],
  ['has (a)', /expected an operator .* after label "has" but found '\(' at offset 4/],
  ["app in {'a' 'b'}", /expected a quoted string, ',' or '}' in set but found string "b" at offset 12/],
  ["app in 'a'", /expected '\{' after 'in' but found string "a"/],
  ['app', /expected an operator .* after label "app" but found end of selector at offset 3/],
  ['app squiggles "x"', /expected an operator .* after label "app" at offset 4/],
  ['&& a', /expected a label name, has\(\), all\(\) or '\(' but found '&&' at offset 0/],
  ["a == 'x' &&", /expected a label name, has\(\), all\(\) or '\(' but found end of selector at offset 11/],
  ['app == web', /expected a quoted string after '==' but found label "web" at offset 7/],
  ['a == "b"\n', /unexpected character "\\n" at offset 8/],
  ['a & b', /unexpected character "&" \(expected &&\) at offset 2/],
  ['x'.repeat(513) + ' == "y"', /label name longer than 512 characters at offset 0/],
];

test('selector: errors say where and why', () => {
  for (const [src, re] of messages) {
    assert.throws(() => Selector.parse(src), (e: unknown) => e instanceof SelectorParseError && re.test(e.message), src);
    assert.match(checkSelector(src) ?? '', re);
  }
  assert.equal(checkSelector("a == 'b'"), undefined);
  const e = (() => {
    try {
      Selector.parse('a ==');
    } catch (err) {
      return err as SelectorParseError;
    }
    return undefined;
  })();
  assert.equal(e?.offset, 4);
  assert.equal(e?.code, 'E_SELECTOR_PARSE');
  assert.equal(e?.selector, 'a ==');
});

test('selector: hostile input is bounded (tortie limits; Calico has none)', () => {
  assert.throws(() => Selector.parse('a'.repeat((1 << 20) + 1)), /longer than 1048576 characters/);
  const ok = '('.repeat(MAX_NESTING) + 'all()' + ')'.repeat(MAX_NESTING);
  assert.equal(Selector.parse(ok).toString(), 'all()');
  const deep = '('.repeat(MAX_NESTING + 1) + 'all()' + ')'.repeat(MAX_NESTING + 1);
  assert.throws(() => Selector.parse(deep), /parentheses nested deeper than 256/);
  // A long but flat selector parses in linear time.
  const big = 'a in {' + Array.from({ length: 50_000 }, (_, i) => `"v${i}"`).join(',') + '}';
  const t0 = process.hrtime.bigint();
  const s = Selector.parse(big);
  assert.ok(Number(process.hrtime.bigint() - t0) / 1e6 < 2000);
  assert.equal(s.matches({ a: 'v49999' }), true);
  assert.equal(s.matches({ a: 'v50000' }), false);
  const long = Array.from({ length: 20_000 }, (_, i) => `k${i} == "v"`).join(' || ');
  assert.equal(Selector.parse(long).matches({ k19999: 'v' }), true);
});

// UniqueID: "s:" + unpadded base64url(SHA-224("s:" + canonical text)), hashed here by hand.
function expectedId(canonicalText: string): string {
  return 's:' + createHash('sha224').update('s:' + canonicalText, 'utf8').digest('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

test('selector: uniqueId is Calico UniqueID (literal values from Calico parser_test.go)', () => {
  assert.equal(Selector.parse('').uniqueId(), 's:5y5I3VdRZfDU01O--xXAPx2yxCQQqMf0M6IWug');
  assert.equal(Selector.parse(' all() ').uniqueId(), 's:5y5I3VdRZfDU01O--xXAPx2yxCQQqMf0M6IWug');
  assert.equal(Selector.parse(' (all() )').uniqueId(), 's:5y5I3VdRZfDU01O--xXAPx2yxCQQqMf0M6IWug');
  assert.equal(Selector.parse('! (has( b)||! has(a ))').uniqueId(), 's:Iss0uCleLYv1GSv_pNm7hAO58kE9jAx1NKyG3Q');
  assert.equal(Selector.parse('! (a == "b"&&! c != "d")').uniqueId(), 's:lh3haoY1ikTRkd4UZu0nWSaIBknYLPJLX16d-w');
  assert.equal(Selector.all().uniqueId(), 's:5y5I3VdRZfDU01O--xXAPx2yxCQQqMf0M6IWug');
});

test('selector: uniqueId hashes the canonical text', () => {
  const cases: [string, string][] = [
    ["app == 'web'", 'app == "web"'],
    [`a == '"'`, `a == '"'`],
    ['a in {"z", "a", "z"}', 'a in {"a", "z"}'],
    ["has(a)&&b!='c'", '(has(a) && b != "c")'],
    ['a == "ü"', 'a == "ü"'],
    ['a == "\u{1F600}"', 'a == "\u{1F600}"'],
  ];
  for (const [src, canon] of cases) {
    const id = Selector.parse(src).uniqueId();
    assert.equal(id, expectedId(canon), src);
    assert.equal(id.length, 40);
    assert.match(id, /^s:[A-Za-z0-9_-]{38}$/);
  }
  // Equivalent spellings share an id; Felix's ipset name is `cali40` + id, cut to 31 characters.
  assert.equal(Selector.parse('a in {"b","a"}').uniqueId(), Selector.parse("a in {'a', 'b', 'a'}").uniqueId());
  assert.equal(calicoUniqueId('s', 'all()'), 's:5y5I3VdRZfDU01O--xXAPx2yxCQQqMf0M6IWug');
  assert.equal(('cali40' + Selector.all().uniqueId()).slice(0, 31), 'cali40s:5y5I3VdRZfDU01O--xXAPx2');
});

test('selector: withKeyPrefix prefixes every key read, like Calico PrefixVisitor', () => {
  // From libcalico-go parser_test.go "Visitor tests", prefix "visited/".
  const visitor: [string, string][] = [
    ["k == 'v'", 'visited/k == "v"'],
    ["k != 'v'", 'visited/k != "v"'],
    ["k contains 'v'", 'visited/k contains "v"'],
    ["k starts with 'v'", 'visited/k starts with "v"'],
    ["k ends with 'v'", 'visited/k ends with "v"'],
    ["k == 'v' && x == 'y'", '(visited/k == "v" && visited/x == "y")'],
    ["k == 'v' || has(x)", '(visited/k == "v" || has(visited/x))'],
    ["!(k == 'v')", '!visited/k == "v"'],
    ["k in {'v'}", 'visited/k in {"v"}'],
    ["k not in {'v'}", 'visited/k not in {"v"}'],
    ["!(!(k == 'v' && has(t) || all()) && (a in {'b', 'c'}))", '!(!((visited/k == "v" && has(visited/t)) || all()) && visited/a in {"b", "c"})'],
  ];
  for (const [src, want] of visitor) assert.equal(Selector.parse(src).withKeyPrefix('visited/').toString(), want, src);

  const ns = Selector.parse("name == 'prod' && !has(quarantine) && global()").withKeyPrefix('pcns.');
  assert.equal(ns.toString(), '(pcns.name == "prod" && !has(pcns.quarantine) && global())');
  assert.equal(ns.source, '(pcns.name == "prod" && !has(pcns.quarantine) && global())');
  assert.equal(ns.matches({ 'pcns.name': 'prod' }), true);
  assert.equal(ns.matches({ name: 'prod' }), false);
  assert.equal(ns.uniqueId(), expectedId('(pcns.name == "prod" && !has(pcns.quarantine) && global())'));
  assert.equal(Selector.parse('all()').withKeyPrefix('pcsa.').toString(), 'all()');
  const plain = Selector.parse('a == "b"');
  assert.equal(plain.withKeyPrefix(''), plain);
  assert.equal(plain.toString(), 'a == "b"'); // the original is untouched
  assert.throws(() => plain.withKeyPrefix('bad prefix'), /not allowed in a label name/);
});

test('selector: labelKeys lists every key read', () => {
  const cases: [string, string[]][] = [
    ['', []],
    ['all()', []],
    ['global()', []],
    ['!all()', []],
    ['has(a)', ['a']],
    ['a == "1" && (b != "2" || !c in {"x"}) && d not in {} && e contains "" && f starts with "" && g ends with "" && has(a)', ['a', 'b', 'c', 'd', 'e', 'f', 'g']],
    ['projectcalico.org/namespace == "x"', ['projectcalico.org/namespace']],
  ];
  for (const [src, keys] of cases) assert.deepEqual([...Selector.parse(src).labelKeys()].sort(), keys, src);
  assert.deepEqual([...Selector.parse('a == "1" || has(b)').withKeyPrefix('pcns.').labelKeys()].sort(), ['pcns.a', 'pcns.b']);
  assert.equal(Selector.all().labelKeys().size, 0);
});

test('selector: Selector.all()', () => {
  assert.equal(Selector.all(), Selector.all());
  assert.equal(Selector.all().toString(), 'all()');
  assert.equal(Selector.all().matches({ x: 'y' }), true);
  assert.deepEqual(Selector.parse('').ast, Selector.all().ast);
});

test('selector: ruleNamespaceSelector rewrites like Calico update processors', () => {
  assert.equal(ruleNamespaceSelector(''), '');
  assert.equal(ruleNamespaceSelector('all()'), 'has(projectcalico.org/namespace)');
  assert.equal(ruleNamespaceSelector('global()'), '!has(projectcalico.org/namespace)');
  assert.equal(ruleNamespaceSelector('!global()'), '!!has(projectcalico.org/namespace)');
  assert.equal(ruleNamespaceSelector("name == 'prod'"), 'pcns.name == "prod"');
  assert.equal(ruleNamespaceSelector('has(a) || all()'), '(has(pcns.a) || has(projectcalico.org/namespace))');
  // Calico's rewrite is textual, so it reaches into quoted values too.
  assert.equal(ruleNamespaceSelector('a == "all()"'), 'pcns.a == "has(projectcalico.org/namespace)"');
  assert.equal(ruleNamespaceSelector('a =='), '');
  const hostOnly = Selector.parse(ruleNamespaceSelector('global()'));
  assert.equal(hostOnly.matches({ 'projectcalico.org/namespace': 'default' }), false);
  assert.equal(hostOnly.matches({ role: 'host' }), true);
  assert.equal(prefixSelector("k == 'v'", 'pcsa.'), 'pcsa.k == "v"');
  assert.equal(prefixSelector('k ==', 'pcsa.'), '');
});

test('selector: globalSelectorProblem follows Calico validator rules', () => {
  assert.equal(globalSelectorProblem('global()', 'namespaceSelector'), undefined);
  assert.equal(globalSelectorProblem('!global()', 'namespaceSelector'), undefined);
  assert.equal(globalSelectorProblem('has(a)', 'namespaceSelector'), undefined);
  assert.equal(globalSelectorProblem('global() && a == "b"', 'namespaceSelector'), 'global() cannot be combined with other selectors');
  assert.equal(globalSelectorProblem('a == "b"||global()', 'namespaceSelector'), 'global() cannot be combined with other selectors');
  assert.equal(globalSelectorProblem('a ==', 'namespaceSelector'), undefined);
  assert.equal(globalSelectorProblem('global()', 'other'), 'global() can only be used in an EntityRule namespaceSelector');
  assert.equal(globalSelectorProblem('a == "global()"', 'other'), 'global() can only be used in an EntityRule namespaceSelector');
  assert.equal(globalSelectorProblem('all()', 'other'), undefined);
});
