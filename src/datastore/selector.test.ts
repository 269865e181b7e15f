import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSelector, Selector, SelectorParseError } from './selector.js';

const L = { app: 'web', tier: 'frontend', 'projectcalico.org/namespace': 'prod', empty: '' };

const cases: [string, boolean][] = [
  ['', true],
  ['all()', true],
  ['  all( )  ', true],
  ['has(app)', true],
  ['has(missing)', false],
  ['!has(missing)', true],
  ['! has(app)', false],
  ["app == 'web'", true],
  ['app == "web"', true],
  ["app == 'db'", false],
  ["app != 'db'", true],
  ["missing != 'x'", true], // absent label: != is true (Calico semantics)
  ["app in {'web', 'db'}", true],
  ["app in {'db'}", false],
  ['app in {}', false],
  ["missing in {'x'}", false],
  ["app not in {'db'}", true],
  ["missing not in {'x'}", true],
  ["app not in {'web'}", false],
  ["app contains 'e'", true],
  ["missing contains ''", false],
  ["app starts with 'we'", true],
  ["app ends with 'eb'", true],
  ["app ends with 'we'", false],
  ["app == 'web' && tier == 'frontend'", true],
  ["app == 'web' && tier == 'backend'", false],
  ["app == 'db' || tier == 'frontend'", true],
  ["app == 'db' || tier == 'backend'", false],
  ["!(app == 'db' || tier == 'backend')", true],
  ["app == 'db' || app == 'web' && tier == 'backend'", false], // && binds tighter
  ["(app == 'db' || app == 'web') && tier == 'frontend'", true],
  ["projectcalico.org/namespace == 'prod'", true],
  ["empty == ''", true],
  ['global()', false],
  ["in-zone == 'a'", false], // a label named like an operator prefix is still a label
  ["has(app) && !has(db) && app in {'web'} && tier not in {'x','y'}", true],
];

test('selector: evaluation matches Calico semantics', () => {
  for (const [src, want] of cases) {
    assert.equal(Selector.parse(src).matches(L), want, src);
  }
});

test('selector: global() matches only non-namespaced objects', () => {
  assert.equal(Selector.parse('global()').matches({}, { isGlobal: true }), true);
  assert.equal(Selector.parse('global() && has(a)').matches({ a: '1' }, { isGlobal: true }), true);
});

test('selector: canonical printing round-trips', () => {
  for (const [src] of cases) {
    const s = Selector.parse(src);
    const again = Selector.parse(s.toString());
    assert.deepEqual(again.ast, s.ast, src);
    assert.equal(again.toString(), s.toString());
  }
  assert.equal(Selector.parse("a=='x'&&(b=='y'||!has(c))").toString(), 'a == "x" && (b == "y" || !has(c))');
});

const bad: [string, RegExp][] = [
  ["app == ", /expected a quoted string after '==' but found end of selector at offset 7/],
  ["app = 'x'", /unexpected character "="/],
  ["app == 'x", /unterminated string/],
  ["(app == 'x'", /expected '\)' but found end of selector/],
  ["app == 'x')", /unexpected '\)' after a complete expression/],
  ["app == 'x' tier == 'y'", /unexpected label "tier" after a complete expression \(missing && or \|\|\?\)/],
  ['has()', /has\(\) needs exactly one label name/],
  ["app in {'a' 'b'}", /expected ',' or '}'/],
  ["app in 'a'", /expected '\{'/],
  ['app', /expected an operator .* after label "app" but found end of selector/],
  ['&& a', /expected a label name/],
  ["a == 'x' &&", /expected a label name, has\(\), all\(\) or '\(' but found end of selector/],
  ["app == web", /expected a quoted string after '==' but found label "web"/],
  ['!'.repeat(200) + 'all()', /nesting deeper than/],
];

test('selector: errors say where and why', () => {
  for (const [src, re] of bad) {
    assert.throws(() => Selector.parse(src), (e: unknown) => e instanceof SelectorParseError && re.test(e.message), src);
    assert.match(checkSelector(src) ?? '', re);
  }
  assert.equal(checkSelector("a == 'b'"), undefined);
});

test('selector: hostile input is bounded', () => {
  assert.throws(() => Selector.parse('a'.repeat(20_000)), /longer than/);
  const deep = '('.repeat(50) + 'all()' + ')'.repeat(50);
  assert.equal(Selector.parse(deep).matches({}), true);
});
