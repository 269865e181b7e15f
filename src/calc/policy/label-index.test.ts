import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Selector } from '../../datastore/selector.js';
import { LabelIndex } from './label-index.js';
import { prefilterCandidates } from './prefilter.js';

/** Replays random item, parent and selector changes; after each, the index must equal brute force. */
test('label index: incremental matches equal a brute-force evaluation after every random change', () => {
  const selectors = [
    "app == 'web'", "app == 'db' && env == 'prod'", 'has(env)', "!has(env)", "app != 'web'", 'all()',
    "app in {'web', 'db'}", "pcns.team == 'a'", "pcns.team == 'a' && app == 'web'", "env startswith 'pr'",
    "(app == 'web' || app == 'db') && has(pcns.team)", "app not in {'db'}",
  ].map((s) => Selector.parse(s));
  const values = { app: ['web', 'db', 'cache'], env: ['prod', 'dev'] } as const;
  let seed = 3;
  const rnd = (n: number) => Math.floor(((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * n);
  const matches = new Set<string>();
  const index = new LabelIndex({
    onMatchStarted: (s, i) => {
      assert.ok(!matches.has(`${s}|${i}`), `duplicate start ${s} ${i}`);
      matches.add(`${s}|${i}`);
    },
    onMatchStopped: (s, i) => assert.ok(matches.delete(`${s}|${i}`), `stop without start ${s} ${i}`),
  });
  const items = new Map<string, { labels: Record<string, string>; parents: string[] }>();
  const parents = new Map<string, Record<string, string>>();
  const active = new Map<string, Selector>();
  for (let step = 0; step < 3000; step++) {
    const r = rnd(10);
    if (r < 5) {
      const id = `i${rnd(30)}`;
      if (rnd(6) === 0) {
        index.updateItem(id, undefined);
        items.delete(id);
      } else {
        const labels: Record<string, string> = {};
        if (rnd(4) > 0) labels.app = values.app[rnd(3)]!;
        if (rnd(2) > 0) labels.env = values.env[rnd(2)]!;
        const ps = rnd(2) ? [`p${rnd(3)}`] : [];
        index.updateItem(id, labels, ps);
        items.set(id, { labels, parents: ps });
      }
    } else if (r < 7) {
      const id = `p${rnd(3)}`;
      const labels = rnd(4) === 0 ? undefined : { 'pcns.team': ['a', 'b'][rnd(2)]!, ...(rnd(3) === 0 ? { env: 'prod' } : {}) };
      index.updateParent(id, labels);
      if (labels) parents.set(id, labels);
      else parents.delete(id);
    } else {
      const id = `s${rnd(8)}`;
      const sel = rnd(5) === 0 ? undefined : selectors[rnd(selectors.length)]!;
      index.updateSelector(id, sel);
      if (sel) active.set(id, sel);
      else active.delete(id);
    }
    const want = new Set<string>();
    for (const [sid, sel] of active) {
      for (const [iid, it] of items) {
        const merged = { ...Object.assign({}, ...[...it.parents].reverse().map((p) => parents.get(p) ?? {})), ...it.labels };
        if (sel.matches(merged)) want.add(`${sid}|${iid}`);
      }
    }
    assert.deepEqual([...matches].sort(), [...want].sort(), `step ${step}`);
  }
});

test('prefilter candidates: the conditions of the top-level && chain, none under || or !', () => {
  const pf = (s: string) => prefilterCandidates(Selector.parse(s));
  assert.deepEqual(pf("projectcalico.org/namespace == 'a' && app == 'web'"), [{ key: 'projectcalico.org/namespace', value: 'a' }, { key: 'app', value: 'web' }]);
  assert.deepEqual(pf('has(x) && y == "1"'), [{ key: 'x' }, { key: 'y', value: '1' }]);
  assert.deepEqual(pf("a in {'1'}"), [{ key: 'a', value: '1' }]);
  assert.deepEqual(pf("a in {'1', '2'}"), [{ key: 'a' }]);
  assert.deepEqual(pf("a == '1' || b == '2'"), []);
  assert.deepEqual(pf("!(a == '1')"), []);
  assert.deepEqual(pf("a != '1'"), []);
  assert.deepEqual(pf('all()'), []);
});

test('a new selector is tested only against the items its narrowest prefilter admits', () => {
  const index = new LabelIndex({ onMatchStarted: () => undefined, onMatchStopped: () => undefined });
  for (let i = 0; i < 100; i++) index.updateItem(`i${i}`, { ns: `n${i % 50}`, role: i % 2 ? 'db' : 'web' });
  const sel = Selector.parse("role == 'db' && ns == 'n1'");
  let calls = 0;
  const counting = Object.create(sel, { matches: { value: (l: Record<string, string>) => (calls++, sel.matches(l)) } }) as Selector;
  index.updateSelector('s', counting);
  assert.deepEqual([...index.matchesOf('s')].sort(), ['i1', 'i51']);
  assert.equal(calls, 2, 'ns == n1 admits 2 items, role == db 50: the narrower one is used');
});
