/**
 * The decision process, step by step: for each step two (or three) paths that tie on every
 * earlier step and differ on this one, built by hand, and the expected winner and reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DECISION_STEPS } from './decision.js';
import { ebgpAttrs, ibgpAttrs, LOCAL_AS, newRib, up, update, type TestPeer } from './test-helpers.js';
import type { Rib } from './rib.js';

const P = '10.0.0.0/24';
const A: TestPeer = { id: 'a', address: '198.18.0.10', asn: LOCAL_AS, routerId: '10.0.0.10' };
const B: TestPeer = { id: 'b', address: '198.18.0.20', asn: LOCAL_AS, routerId: '10.0.0.20' };
const E1: TestPeer = { id: 'e1', address: '198.18.1.10', asn: 65001, routerId: '10.1.0.10' };
const E2: TestPeer = { id: 'e2', address: '198.18.1.20', asn: 65002, routerId: '10.1.0.20' };

function winner(rib: Rib): { peer: string | null; reason: string | undefined } {
  const v = rib.lookup(P)!;
  const best = v.paths.find((p) => p.best);
  return { peer: best ? best.peerId : null, reason: v.reason };
}

test('steps are in RFC order, each citing its source', () => {
  assert.deepEqual(
    DECISION_STEPS.map((s) => s.reason),
    ['local-pref', 'local-origin', 'as-path-length', 'origin', 'med', 'ebgp-over-ibgp', 'router-id', 'cluster-list-length', 'peer-address', 'path-id'],
  );
  for (const s of DECISION_STEPS) assert.match(s.cites, /RFC|tortie|not in RFC/);
});

test('a single path wins as only-path', () => {
  const rib = newRib();
  up(rib, A);
  rib.applyUpdate('a', update([P], ibgpAttrs('198.18.0.10')));
  assert.deepEqual(winner(rib), { peer: 'a', reason: 'only-path' });
});

test('highest LOCAL_PREF wins (RFC 4271 §9.1.1), before everything else', () => {
  const rib = newRib();
  up(rib, A);
  up(rib, B);
  // B has the shorter AS path and lower router id would lose anyway; LOCAL_PREF decides first.
  rib.applyUpdate('a', update([P], ibgpAttrs('198.18.0.10', { localPref: 200, asPath: [{ type: 2, asns: [1, 2, 3] }] })));
  rib.applyUpdate('b', update([P], ibgpAttrs('198.18.0.20', { localPref: 100 })));
  assert.deepEqual(winner(rib), { peer: 'a', reason: 'local-pref' });
});

test('missing LOCAL_PREF counts as 100', () => {
  const rib = newRib();
  up(rib, E1);
  up(rib, A);
  rib.applyUpdate('e1', update([P], ebgpAttrs('198.18.1.10', [65001])));
  rib.applyUpdate('a', update([P], ibgpAttrs('198.18.0.10', { localPref: 101 })));
  assert.deepEqual(winner(rib), { peer: 'a', reason: 'local-pref' });
});

test('locally originated beats learned at equal LOCAL_PREF', () => {
  const rib = newRib();
  up(rib, A);
  rib.applyUpdate('a', update([P], ibgpAttrs('198.18.0.10')));
  rib.announce(P);
  assert.deepEqual(winner(rib), { peer: null, reason: 'local-origin' });
});

test('shortest AS_PATH wins; AS_SET counts one, confederation segments zero', () => {
  const rib = newRib();
  up(rib, E1);
  up(rib, E2);
  // E1: sequence of 1 + set of 3 = length 2. E2: sequence of 3 = length 3.
  rib.applyUpdate('e1', update([P], ebgpAttrs('198.18.1.10', [65001], { asPath: [{ type: 2, asns: [65001] }, { type: 1, asns: [7, 8, 9] }] })));
  rib.applyUpdate('e2', update([P], ebgpAttrs('198.18.1.20', [65002, 7, 8])));
  assert.deepEqual(winner(rib), { peer: 'e1', reason: 'as-path-length' });

  const rib2 = newRib();
  up(rib2, E1);
  up(rib2, E2);
  // Confed segments add nothing: E1 = 1 (+ 4 confed) beats E2 = 2.
  rib2.applyUpdate('e1', update([P], { origin: 0, nextHop: '198.18.1.10', asPath: [{ type: 3, asns: [1, 2, 3, 4] }, { type: 2, asns: [65001] }] }));
  rib2.applyUpdate('e2', update([P], ebgpAttrs('198.18.1.20', [65002, 7])));
  assert.deepEqual(winner(rib2), { peer: 'e1', reason: 'as-path-length' });
});

test('lowest ORIGIN wins', () => {
  const rib = newRib();
  up(rib, A);
  up(rib, B);
  rib.applyUpdate('a', update([P], ibgpAttrs('198.18.0.10', { origin: 2 })));
  rib.applyUpdate('b', update([P], ibgpAttrs('198.18.0.20', { origin: 1 })));
  assert.deepEqual(winner(rib), { peer: 'b', reason: 'origin' });
});

test('MED compares only paths from the same neighbouring AS (missing MED = 0)', () => {
  const E1b: TestPeer = { id: 'e1b', address: '198.18.1.30', asn: 65001, routerId: '10.1.0.30' };
  const rib = newRib();
  up(rib, E1);
  up(rib, E1b);
  rib.applyUpdate('e1', update([P], ebgpAttrs('198.18.1.10', [65001], { med: 50 })));
  rib.applyUpdate('e1b', update([P], ebgpAttrs('198.18.1.30', [65001])));
  assert.deepEqual(winner(rib), { peer: 'e1b', reason: 'med' });

  // Different neighbouring AS: MED is skipped, the router id decides.
  const rib2 = newRib();
  up(rib2, E1);
  up(rib2, E2);
  rib2.applyUpdate('e1', update([P], ebgpAttrs('198.18.1.10', [65001], { med: 50 })));
  rib2.applyUpdate('e2', update([P], ebgpAttrs('198.18.1.20', [65002], { med: 0 })));
  assert.deepEqual(winner(rib2), { peer: 'e1', reason: 'router-id' });

  // alwaysCompareMed: MED decides across ASes.
  const rib3 = newRib({ alwaysCompareMed: true });
  up(rib3, E1);
  up(rib3, E2);
  rib3.applyUpdate('e1', update([P], ebgpAttrs('198.18.1.10', [65001], { med: 50 })));
  rib3.applyUpdate('e2', update([P], ebgpAttrs('198.18.1.20', [65002], { med: 0 })));
  assert.deepEqual(winner(rib3), { peer: 'e2', reason: 'med' });
});

test('eBGP beats iBGP', () => {
  const rib = newRib();
  up(rib, A);
  up(rib, E1);
  // Same AS_PATH length (1) and origin; the iBGP path carries the eBGP neighbour's AS too.
  rib.applyUpdate('a', update([P], ibgpAttrs('198.18.0.10', { asPath: [{ type: 2, asns: [65009] }] })));
  rib.applyUpdate('e1', update([P], ebgpAttrs('198.18.1.10', [65001])));
  assert.deepEqual(winner(rib), { peer: 'e1', reason: 'ebgp-over-ibgp' });
});

test('lowest router id wins; ORIGINATOR_ID stands in for it (RFC 4456 §9)', () => {
  const rib = newRib();
  up(rib, A);
  up(rib, B);
  rib.applyUpdate('a', update([P], ibgpAttrs('198.18.0.10')));
  rib.applyUpdate('b', update([P], ibgpAttrs('198.18.0.20')));
  assert.deepEqual(winner(rib), { peer: 'a', reason: 'router-id' });

  const rib2 = newRib();
  up(rib2, A);
  up(rib2, B);
  rib2.applyUpdate('a', update([P], ibgpAttrs('198.18.0.10', { originatorId: '10.9.9.9', clusterList: ['1.1.1.1'] })));
  rib2.applyUpdate('b', update([P], ibgpAttrs('198.18.0.20')));
  assert.deepEqual(winner(rib2), { peer: 'b', reason: 'router-id' });
});

test('shorter CLUSTER_LIST wins when the originator ties', () => {
  const rib = newRib();
  up(rib, A);
  up(rib, B);
  rib.applyUpdate('a', update([P], ibgpAttrs('198.18.0.10', { originatorId: '10.5.5.5', clusterList: ['1.1.1.1', '2.2.2.2'] })));
  rib.applyUpdate('b', update([P], ibgpAttrs('198.18.0.20', { originatorId: '10.5.5.5', clusterList: ['3.3.3.3'] })));
  assert.deepEqual(winner(rib), { peer: 'b', reason: 'cluster-list-length' });
});

test('lowest peer address breaks the last tie', () => {
  const rib = newRib();
  const X: TestPeer = { id: 'x', address: '198.18.0.99', asn: LOCAL_AS, routerId: '10.0.0.50' };
  const Y: TestPeer = { id: 'y', address: '198.18.0.9', asn: LOCAL_AS, routerId: '10.0.0.50' };
  up(rib, X);
  up(rib, Y);
  rib.applyUpdate('x', update([P], ibgpAttrs('198.18.0.99')));
  rib.applyUpdate('y', update([P], ibgpAttrs('198.18.0.9')));
  // Numeric, not text, order: .9 < .99 either way; check .100 vs .99 too.
  assert.deepEqual(winner(rib), { peer: 'y', reason: 'peer-address' });
  const rib2 = newRib();
  up(rib2, { ...X, address: '198.18.0.100' });
  up(rib2, { ...Y, address: '198.18.0.99' });
  rib2.applyUpdate('x', update([P], ibgpAttrs('198.18.0.1')));
  rib2.applyUpdate('y', update([P], ibgpAttrs('198.18.0.1')));
  assert.deepEqual(winner(rib2), { peer: 'y', reason: 'peer-address' });
});

test('add-path: two path ids from one peer, lowest id wins the full tie', () => {
  const rib = newRib();
  up(rib, A);
  rib.applyUpdate('a', update([{ prefix: P, pathId: 7 }, { prefix: P, pathId: 3 }], ibgpAttrs('198.18.0.10')));
  const v = rib.lookup(P)!;
  assert.equal(v.paths.length, 2);
  assert.equal(v.reason, 'path-id');
  assert.equal(v.paths.find((p) => p.best)!.pathId, 3);
  assert.equal(v.paths.find((p) => !p.best)!.eliminatedBy, 'path-id');
});

test('lookup tells which step eliminated each loser', () => {
  const rib = newRib();
  up(rib, A);
  up(rib, B);
  up(rib, E1);
  rib.applyUpdate('a', update([P], ibgpAttrs('198.18.0.10', { localPref: 50 })));
  rib.applyUpdate('b', update([P], ibgpAttrs('198.18.0.20', { asPath: [{ type: 2, asns: [65001] }] })));
  rib.applyUpdate('e1', update([P], ebgpAttrs('198.18.1.10', [65001])));
  const v = rib.lookup(P)!;
  const by = Object.fromEntries(v.paths.map((p) => [p.peerId, p.best ? 'best' : p.eliminatedBy]));
  assert.deepEqual(by, { a: 'local-pref', b: 'ebgp-over-ibgp', e1: 'best' });
  assert.equal(v.reason, 'ebgp-over-ibgp');
});
