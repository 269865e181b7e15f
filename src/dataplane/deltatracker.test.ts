import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeltaTracker } from './deltatracker.js';

const eq = (a: string, b: string): boolean => a === b;
const updates = (t: DeltaTracker<string>): [string, string][] => [...t.pendingUpdates()].sort();
const deletions = (t: DeltaTracker<string>): [string, string][] => [...t.pendingDeletions()].sort();

test('desired without actual is a pending update; matching actual clears it', () => {
  const t = new DeltaTracker(eq);
  t.setDesired('a', '1');
  assert.deepEqual(updates(t), [['a', '1']]);
  assert.equal(t.inSync, false);
  t.setActual('a', '1');
  assert.deepEqual(updates(t), []);
  assert.equal(t.inSync, true);
});

test('a different actual value is an update, never a deletion', () => {
  const t = new DeltaTracker(eq);
  t.setActual('a', 'old');
  t.setDesired('a', 'new');
  assert.deepEqual(updates(t), [['a', 'new']]);
  assert.deepEqual(deletions(t), []);
});

test('actual without desired is a pending deletion carrying the kernel value', () => {
  const t = new DeltaTracker(eq);
  t.setActual('x', 'kernel');
  assert.deepEqual(deletions(t), [['x', 'kernel']]);
  t.deleteActual('x');
  assert.deepEqual(deletions(t), []);
  assert.equal(t.inSync, true);
});

test('deleteDesired of a programmed key turns it into a deletion', () => {
  const t = new DeltaTracker(eq);
  t.setDesired('a', '1');
  t.setActual('a', '1');
  t.deleteDesired('a');
  assert.deepEqual(deletions(t), [['a', '1']]);
  assert.deepEqual(updates(t), []);
});

test('deleteDesired of an unknown key and deleteActual of an unknown key are no-ops', () => {
  const t = new DeltaTracker(eq);
  t.deleteDesired('nope');
  t.deleteActual('nope');
  assert.equal(t.inSync, true);
});

test('replaceAllDesired drops keys not in the new set', () => {
  const t = new DeltaTracker(eq);
  t.setDesired('a', '1');
  t.setDesired('b', '2');
  t.setActual('a', '1');
  t.setActual('b', '2');
  t.replaceAllDesired([['b', '2'], ['c', '3']]);
  assert.deepEqual(updates(t), [['c', '3']]);
  assert.deepEqual(deletions(t), [['a', '1']]);
});

test('replaceAllActual recomputes both sides and counts drift only for keys that were in sync', () => {
  const t = new DeltaTracker(eq);
  t.setDesired('a', '1'); // in sync after setActual
  t.setActual('a', '1');
  t.setDesired('b', '2'); // never programmed: not drift when still missing
  t.setDesired('c', '3'); // in sync, then changed behind our back
  t.setActual('c', '3');
  const r = t.replaceAllActual([
    ['c', 'tampered'],
    ['stray', 'x'], // appeared behind our back: drift (was in sync as absent)
  ]);
  assert.equal(r.drifted, 3); // a vanished, c changed, stray appeared
  assert.deepEqual(updates(t), [['a', '1'], ['b', '2'], ['c', '3']]);
  assert.deepEqual(deletions(t), [['stray', 'x']]);
});

test('replaceAllActual with an identical dump reports no drift and no work', () => {
  const t = new DeltaTracker(eq);
  const n = 1000;
  for (let i = 0; i < n; i++) t.setDesired(`k${i}`, `v${i}`);
  const dump = new Map<string, string>();
  for (let i = 0; i < n; i++) dump.set(`k${i}`, `v${i}`);
  assert.equal(t.replaceAllActual(dump).drifted, 0);
  assert.equal(t.inSync, true);
  assert.equal(t.replaceAllActual(new Map(dump)).drifted, 0);
});

test('value equality is the caller\'s: objects compare by content, not reference', () => {
  const t = new DeltaTracker<{ v: number }>((a, b) => a.v === b.v);
  t.setDesired('a', { v: 1 });
  t.setActual('a', { v: 1 });
  assert.equal(t.inSync, true);
  t.setDesired('a', { v: 2 });
  assert.equal(t.pendingUpdateCount, 1);
});

test('pending sets always equal a from-scratch diff of desired and actual, in any update order', () => {
  type Op = ['d', string, string] | ['dd', string] | ['a', string, string] | ['da', string];
  const ops: Op[] = [
    ['d', 'a', '1'],
    ['a', 'a', '0'],
    ['d', 'b', '2'],
    ['dd', 'b'],
    ['a', 'c', '3'],
    ['d', 'c', '3'],
    ['a', 'e', '9'],
    ['da', 'e'],
    ['a', 'f', '5'],
  ];
  // Deterministic pseudo-random shuffles: many orders, reproducible failures.
  let seed = 42;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let run = 0; run < 200; run++) {
    const seq = [...ops].sort(() => rnd() - 0.5);
    const t = new DeltaTracker(eq);
    const desired = new Map<string, string>();
    const actual = new Map<string, string>();
    for (const o of seq) {
      if (o[0] === 'd') {
        t.setDesired(o[1], o[2]);
        desired.set(o[1], o[2]);
      } else if (o[0] === 'dd') {
        t.deleteDesired(o[1]);
        desired.delete(o[1]);
      } else if (o[0] === 'a') {
        t.setActual(o[1], o[2]);
        actual.set(o[1], o[2]);
      } else {
        t.deleteActual(o[1]);
        actual.delete(o[1]);
      }
    }
    const wantU = [...desired].filter(([k, v]) => actual.get(k) !== v).sort();
    const wantD = [...actual].filter(([k]) => !desired.has(k)).sort();
    assert.deepEqual(updates(t), wantU, `order ${JSON.stringify(seq)}`);
    assert.deepEqual(deletions(t), wantD, `order ${JSON.stringify(seq)}`);
  }
});
