/**
 * RIB behaviour: split horizon, route reflection, next-hop handling, graceful restart,
 * treat-as-withdraw, add-path, policy changes, Adj-RIB-Out differences, interning, and
 * order-independence of the Loc-RIB. Expected attributes are written out by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageType, type UpdateMessage } from '../wire/types.js';
import { rejectAll, when, prefixIn, setLocalPref, addCommunities, acceptAll } from '../policy/index.js';
import { drainAll, ebgpAttrs, ibgpAttrs, LOCAL_AS, newRib, ROUTER_ID, up, update, withdrawal, type TestPeer } from './test-helpers.js';
import { Rib } from './rib.js';

const P = '10.0.0.0/24';
const Q = '10.0.1.0/24';
const A: TestPeer = { id: 'a', address: '198.18.0.10', asn: LOCAL_AS, routerId: '10.0.0.10' };
const B: TestPeer = { id: 'b', address: '198.18.0.20', asn: LOCAL_AS, routerId: '10.0.0.20' };
const C: TestPeer = { id: 'c', address: '198.18.0.30', asn: LOCAL_AS, routerId: '10.0.0.30' };
const E: TestPeer = { id: 'e', address: '198.18.1.10', asn: 65001, routerId: '10.1.0.10', localAddress: '198.18.1.1' };
const F: TestPeer = { id: 'f', address: '198.18.2.10', asn: 65002, routerId: '10.2.0.10', localAddress: '198.18.2.1' };

test('iBGP split horizon: iBGP routes go to eBGP peers only, never back to the sender', () => {
  const rib = newRib();
  up(rib, A);
  up(rib, B);
  up(rib, E);
  rib.applyUpdate('a', update([P], ibgpAttrs('198.18.0.10')));
  assert.equal(drainAll(rib, 'a').size, 0);
  assert.equal(drainAll(rib, 'b').size, 0);
  assert.deepEqual(drainAll(rib, 'e').get(P), { origin: 0, asPath: [{ type: 2, asns: [LOCAL_AS] }], nextHop: '198.18.1.1' });
});

test('eBGP routes go to iBGP peers with next hop kept and LOCAL_PREF added; not back to the sender', () => {
  const rib = newRib();
  up(rib, A);
  up(rib, E);
  up(rib, F);
  rib.applyUpdate('e', update([P], ebgpAttrs('198.18.1.10', [65001], { med: 5, localPref: 999 })));
  assert.deepEqual(drainAll(rib, 'a').get(P), {
    origin: 0,
    asPath: [{ type: 2, asns: [65001] }],
    nextHop: '198.18.1.10',
    med: 5,
    localPref: 100, // the eBGP peer's LOCAL_PREF was ignored (RFC 4271 §5.1.5)
  });
  assert.equal(drainAll(rib, 'e').size, 0);
  // eBGP → eBGP: prepend, next hop self, MED not passed to a third AS.
  assert.deepEqual(drainAll(rib, 'f').get(P), { origin: 0, asPath: [{ type: 2, asns: [LOCAL_AS, 65001] }], nextHop: '198.18.2.1' });
});

test('next hop: nextHopSelf on iBGP, keepOriginalNextHop on eBGP, self for local routes', () => {
  const rib = newRib();
  up(rib, { ...A, config: { nextHopSelf: true } });
  up(rib, { ...F, config: { keepOriginalNextHop: true } });
  up(rib, E);
  rib.applyUpdate('e', update([P], ebgpAttrs('198.18.1.10', [65001])));
  rib.announce(Q);
  const toA = drainAll(rib, 'a');
  assert.equal(toA.get(P)!.nextHop, '192.0.2.1');
  assert.equal(toA.get(Q)!.nextHop, '192.0.2.1');
  assert.deepEqual(toA.get(Q), { origin: 0, asPath: [], nextHop: '192.0.2.1', localPref: 100 });
  const toF = drainAll(rib, 'f');
  assert.equal(toF.get(P)!.nextHop, '198.18.1.10');
  // A local route has no original next hop: self even with keepOriginalNextHop.
  assert.equal(toF.get(Q)!.nextHop, '198.18.2.1');
});

test('route reflector: client routes to everyone, non-client routes to clients only, with ORIGINATOR_ID and CLUSTER_LIST', () => {
  const rib = newRib({ clusterId: '5.5.5.5' });
  const client1 = { ...A, config: { routeReflectorClient: true } };
  const client2 = { ...B, config: { routeReflectorClient: true } };
  up(rib, client1);
  up(rib, client2);
  up(rib, C); // non-client
  up(rib, { ...C, id: 'c2', address: '198.18.0.31', routerId: '10.0.0.31' }); // another non-client
  rib.applyUpdate('a', update([P], ibgpAttrs('198.18.0.10')));
  rib.applyUpdate('c', update([Q], ibgpAttrs('198.18.0.30', { clusterList: ['9.9.9.9'] })));
  const toB = drainAll(rib, 'b');
  assert.deepEqual(toB.get(P), { origin: 0, asPath: [], nextHop: '198.18.0.10', localPref: 100, originatorId: '10.0.0.10', clusterList: ['5.5.5.5'] });
  assert.deepEqual(toB.get(Q), {
    origin: 0,
    asPath: [],
    nextHop: '198.18.0.30',
    localPref: 100,
    originatorId: '10.0.0.30',
    clusterList: ['5.5.5.5', '9.9.9.9'],
  });
  const toC = drainAll(rib, 'c');
  assert.ok(toC.has(P), 'client route reflected to non-client');
  assert.ok(!toC.has(Q), 'not back to the sender');
  const toC2 = drainAll(rib, 'c2');
  assert.ok(toC2.has(P));
  assert.ok(!toC2.has(Q), 'non-client route not reflected to another non-client');
  assert.ok(!drainAll(rib, 'a').has(P), 'not back to the originating client');
});

test('reflection keeps an existing ORIGINATOR_ID', () => {
  const rib = newRib();
  up(rib, { ...A, config: { routeReflectorClient: true } });
  up(rib, B);
  rib.applyUpdate('a', update([P], ibgpAttrs('198.18.0.10', { originatorId: '10.7.7.7', clusterList: ['6.6.6.6'] })));
  const got = drainAll(rib, 'b').get(P)!;
  assert.equal(got.originatorId, '10.7.7.7');
  assert.deepEqual(got.clusterList, [ROUTER_ID, '6.6.6.6']); // cluster id defaults to router id
});

test('RR loop checks drop our ORIGINATOR_ID and our cluster id in CLUSTER_LIST; AS loop on import', () => {
  const rib = newRib({ clusterId: '5.5.5.5' });
  up(rib, A);
  up(rib, { ...E, config: { allowedLocalAsNumbers: 1 } });
  up(rib, F);
  rib.applyUpdate('a', update([P], ibgpAttrs('198.18.0.10', { originatorId: ROUTER_ID })));
  rib.applyUpdate('a', update([Q], ibgpAttrs('198.18.0.10', { clusterList: ['1.1.1.1', '5.5.5.5'] })));
  assert.equal(rib.lookup(P)!.paths[0]!.rejected, 'originator-loop');
  assert.equal(rib.lookup(Q)!.paths[0]!.rejected, 'cluster-loop');
  assert.equal(rib.drainBestChanges().length, 0);
  // E may have our AS once; F none.
  rib.applyUpdate('e', update(['10.1.0.0/24'], ebgpAttrs('198.18.1.10', [65001, LOCAL_AS])));
  rib.applyUpdate('e', update(['10.1.1.0/24'], ebgpAttrs('198.18.1.10', [65001, LOCAL_AS, 3, LOCAL_AS])));
  rib.applyUpdate('f', update(['10.2.0.0/24'], ebgpAttrs('198.18.2.10', [65002, LOCAL_AS])));
  assert.equal(rib.lookup('10.1.0.0/24')!.paths[0]!.rejected, undefined);
  assert.equal(rib.lookup('10.1.1.0/24')!.paths[0]!.rejected, 'as-loop');
  assert.equal(rib.lookup('10.2.0.0/24')!.paths[0]!.rejected, 'as-loop');
  assert.deepEqual(rib.stats().rejected, { 'as-loop': 2, 'originator-loop': 1, 'cluster-loop': 1, 'import-policy': 0 });
});

test('graceful restart: stale paths stay best, re-announced ones are fresh, End-of-RIB sweeps the rest', () => {
  const rib = newRib();
  up(rib, A);
  up(rib, E);
  rib.applyUpdate('a', update([P, Q], ibgpAttrs('198.18.0.10')));
  drainAll(rib, 'e');
  rib.drainBestChanges();
  rib.peerDown('a', { gracefulRestart: {} });
  assert.equal(rib.lookup(P)!.paths[0]!.stale, true);
  assert.equal(rib.lookup(P)!.paths[0]!.best, true);
  assert.equal(rib.drainBestChanges().length, 0, 'no churn for the kernel');
  assert.equal(drainAll(rib, 'e').size, 0, 'no churn for other peers');
  rib.peerUp('a', { routerId: A.routerId, localAddress: '192.0.2.1', families: new Set(['1/1']) });
  rib.applyUpdate('a', update([P], ibgpAttrs('198.18.0.10')));
  assert.equal(rib.lookup(P)!.paths[0]!.stale, false);
  assert.equal(rib.lookup(Q)!.paths[0]!.stale, true);
  assert.equal(rib.drainBestChanges().length, 0, 'same path re-learned: no change');
  const r = rib.applyUpdate('a', update([], {})); // End-of-RIB for IPv4 unicast
  assert.equal(r.endOfRib, '1/1');
  assert.equal(r.swept, 1);
  assert.equal(rib.lookup(Q), undefined);
  assert.deepEqual(rib.drainBestChanges(), [{ prefix: Q }]);
  assert.deepEqual([...drainAll(rib, 'e')], [[Q, null]]);
});

test('graceful restart: sweepStale on timer expiry; a non-GR down drops everything at once', () => {
  const rib = newRib();
  up(rib, A);
  rib.applyUpdate('a', update([P, Q], ibgpAttrs('198.18.0.10')));
  rib.peerDown('a', { gracefulRestart: { families: ['1/1'] } });
  assert.equal(rib.stats().peers[0]!.families['1/1']!.stale, 2);
  assert.equal(rib.sweepStale('a'), 2);
  assert.equal(rib.stats().paths, 0);
  rib.peerUp('a', { routerId: A.routerId, localAddress: '192.0.2.1', families: new Set(['1/1']) });
  rib.applyUpdate('a', update([P], ibgpAttrs('198.18.0.10')));
  assert.equal(rib.peerDown('a'), 1);
  assert.equal(rib.lookup(P), undefined);
});

test('graceful restart: families not preserved are withdrawn at once', () => {
  const rib = newRib();
  up(rib, A);
  rib.applyUpdate('a', update([P], ibgpAttrs('198.18.0.10')));
  rib.peerDown('a', { gracefulRestart: { families: ['2/1'] } });
  assert.equal(rib.lookup(P), undefined);
});

test('treat-as-withdraw removes the prefixes of a malformed UPDATE', () => {
  const rib = newRib();
  up(rib, A);
  rib.applyUpdate('a', update([P, Q], ibgpAttrs('198.18.0.10')));
  const bad: UpdateMessage = { ...update([P], {}), treatAsWithdraw: true, diagnostics: [{ code: 'X', action: 'treat-as-withdraw', message: 'm' }] };
  const r = rib.applyUpdate('a', bad);
  assert.equal(r.withdrawn, 1);
  assert.equal(r.endOfRib, undefined);
  assert.equal(rib.lookup(P), undefined);
  assert.ok(rib.lookup(Q));
});

test('add-path receive: several path ids for one prefix from one peer, withdrawn one by one', () => {
  const rib = newRib();
  up(rib, A);
  rib.applyUpdate('a', update([{ prefix: P, pathId: 1 }], ibgpAttrs('198.18.0.10', { localPref: 100 })));
  rib.applyUpdate('a', update([{ prefix: P, pathId: 2 }], ibgpAttrs('198.18.0.11', { localPref: 200 })));
  let v = rib.lookup(P)!;
  assert.equal(v.paths.length, 2);
  assert.equal(v.paths.find((p) => p.best)!.pathId, 2);
  rib.applyUpdate('a', withdrawal([{ prefix: P, pathId: 2 }]));
  v = rib.lookup(P)!;
  assert.equal(v.paths.length, 1);
  assert.equal(v.paths[0]!.pathId, 1);
  assert.equal(v.reason, 'only-path');
  const changes = rib.drainBestChanges();
  assert.equal(changes.length, 1);
  assert.equal(changes[0]!.best!.nextHop, '198.18.0.10');
});

test('implicit withdraw: a re-announcement replaces the peer\'s path', () => {
  const rib = newRib();
  up(rib, A);
  rib.applyUpdate('a', update([P], ibgpAttrs('198.18.0.10')));
  rib.applyUpdate('a', update([P], ibgpAttrs('198.18.0.99')));
  assert.equal(rib.lookup(P)!.paths.length, 1);
  assert.deepEqual(
    rib.drainBestChanges().map((c) => c.best?.nextHop),
    ['198.18.0.99'],
  );
});

test('IPv6 over MP_REACH: learned with the MP next hop, exported with our IPv6 address', () => {
  const rib = newRib();
  up(rib, E);
  up(rib, F);
  const u: UpdateMessage = {
    type: MessageType.Update,
    withdrawn: [],
    nlri: [],
    attrs: { origin: 0, asPath: [{ type: 2, asns: [65001] }] },
    mpReach: { afi: 2, safi: 1, nextHops: ['2001:db8:1::10', 'fe80::1'], nlri: [{ prefix: 'fd00::/64' }] },
  };
  rib.applyUpdate('e', u);
  assert.equal(rib.lookup('fd00::/64')!.paths[0]!.attrs!.nextHop, '2001:db8:1::10');
  const d = rib.drainAdjRibOut('f');
  assert.deepEqual(d.announce, [
    { afi: 2, safi: 1, attrs: { origin: 0, asPath: [{ type: 2, asns: [LOCAL_AS, 65001] }], nextHop: '2001:db8::1' }, prefixes: ['fd00::/64'] },
  ]);
  const wd: UpdateMessage = { type: MessageType.Update, withdrawn: [], nlri: [], attrs: {}, mpUnreach: { afi: 2, safi: 1, withdrawn: [{ prefix: 'fd00::/64' }] } };
  rib.applyUpdate('e', wd);
  assert.deepEqual(rib.drainAdjRibOut('f').withdraw, [{ afi: 2, safi: 1, prefixes: ['fd00::/64'] }]);
  const eor: UpdateMessage = { type: MessageType.Update, withdrawn: [], nlri: [], attrs: {}, mpUnreach: { afi: 2, safi: 1, withdrawn: [] } };
  assert.equal(rib.applyUpdate('e', eor).endOfRib, '2/1');
});

test('Adj-RIB-Out: announcements grouped by attributes; nothing re-sent without a change; dump answers a refresh', () => {
  const rib = newRib();
  up(rib, E);
  for (let i = 0; i < 10; i++) rib.announce(`10.65.${i}.0/26`);
  rib.announce('10.66.0.0/26', { communities: [1] });
  const d = rib.drainAdjRibOut('e');
  assert.equal(d.announce.length, 2);
  assert.deepEqual(d.announce.map((g) => g.prefixes.length).sort(), [1, 10]);
  assert.equal(d.more, false);
  const again = rib.drainAdjRibOut('e');
  assert.deepEqual(again, { announce: [], withdraw: [], more: false });
  rib.announce('10.65.0.0/26'); // same attributes: no difference to send
  assert.deepEqual(rib.drainAdjRibOut('e').announce, []);
  const dump = rib.dumpAdjRibOut('e');
  assert.equal(dump.reduce((n, g) => n + g.prefixes.length, 0), 11);
  assert.equal(rib.stats().peers[0]!.families['1/1']!.advertised, 11);
});

test('drainAdjRibOut honours maxPrefixes', () => {
  const rib = newRib();
  up(rib, E);
  for (let i = 0; i < 25; i++) rib.announce(`10.65.${i}.0/26`);
  const first = rib.drainAdjRibOut('e', 10);
  assert.equal(first.announce[0]!.prefixes.length, 10);
  assert.equal(first.more, true);
  assert.equal(drainAll(rib, 'e').size, 15);
});

test('export policy change sends only the differences, without a session reset', () => {
  const rib = newRib();
  up(rib, E);
  rib.announce('10.65.0.0/26');
  rib.announce('10.65.1.0/26');
  rib.announce('192.168.0.0/24');
  assert.equal(drainAll(rib, 'e').size, 3);
  const only = prefixIn([{ prefix: '10.65.0.0/16', ge: 26, le: 26 }]);
  rib.setPolicy('e', { exportPolicy: when(only, addCommunities([100]), rejectAll) });
  const diff = drainAll(rib, 'e');
  assert.deepEqual([...diff.keys()].sort(), ['10.65.0.0/26', '10.65.1.0/26', '192.168.0.0/24']);
  assert.equal(diff.get('192.168.0.0/24'), null);
  assert.deepEqual(diff.get('10.65.0.0/26')!.communities, [100]);
  // Same policy again (a new function object): recomputed, but nothing differs.
  rib.setPolicy('e', { exportPolicy: when(only, addCommunities([100]), rejectAll) });
  assert.equal(drainAll(rib, 'e').size, 0);
});

test('import policy change is re-applied to routes already received', () => {
  const rib = newRib();
  up(rib, { ...E, config: { importPolicy: rejectAll } });
  rib.applyUpdate('e', update([P], ebgpAttrs('198.18.1.10', [65001])));
  assert.equal(rib.lookup(P)!.paths[0]!.rejected, 'import-policy');
  assert.equal(rib.drainBestChanges().length, 0);
  rib.setPolicy('e', { importPolicy: setLocalPref(300) });
  const v = rib.lookup(P)!;
  assert.equal(v.paths[0]!.attrs!.localPref, 300);
  assert.equal(v.paths[0]!.received.localPref, undefined);
  assert.equal(rib.drainBestChanges()[0]!.best!.attrs.localPref, 300);
  rib.setPolicy('e', { importPolicy: acceptAll });
  assert.equal(rib.lookup(P)!.paths[0]!.attrs!.localPref, undefined);
});

test('a throwing policy rejects the route and leaves the RIB working', () => {
  const rib = newRib();
  up(rib, {
    ...E,
    config: {
      importPolicy: () => {
        throw new Error('boom');
      },
    },
  });
  rib.applyUpdate('e', update([P], ebgpAttrs('198.18.1.10', [65001])));
  assert.equal(rib.lookup(P)!.paths[0]!.rejected, 'import-policy');
});

test('attribute sets are interned and freed', () => {
  const rib = newRib();
  up(rib, A);
  const prefixes = Array.from({ length: 1000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
  rib.applyUpdate('a', update(prefixes, ibgpAttrs('198.18.0.10')));
  assert.equal(rib.stats().attrSets, 1);
  rib.applyUpdate('a', update(prefixes.slice(0, 500), ibgpAttrs('198.18.0.11')));
  assert.equal(rib.stats().attrSets, 2);
  rib.applyUpdate('a', withdrawal(prefixes));
  assert.equal(rib.stats().attrSets, 0);
  assert.equal(rib.stats().paths, 0);
});

test('holdExports defers advertisements until released (restarting speaker)', () => {
  const rib = newRib();
  const pending: string[] = [];
  rib.setListener({ adjRibOutPending: (id) => pending.push(id) });
  rib.holdExports();
  up(rib, E);
  rib.announce(P);
  assert.deepEqual(rib.drainAdjRibOut('e'), { announce: [], withdraw: [], more: false });
  assert.deepEqual(pending, []);
  rib.releaseExports();
  assert.deepEqual(pending, ['e']);
  assert.ok(drainAll(rib, 'e').has(P));
});

test('listener is told once per idle-to-pending transition', () => {
  const rib = newRib();
  let best = 0;
  const peers: string[] = [];
  rib.setListener({ bestChangesPending: () => best++, adjRibOutPending: (id) => peers.push(id) });
  up(rib, E);
  assert.deepEqual(peers, ['e']);
  rib.announce(P);
  rib.announce(Q);
  assert.equal(best, 1);
  rib.drainBestChanges();
  rib.withdraw(P);
  assert.equal(best, 2);
});

test('bad input: unknown peer, UPDATE before Established, malformed local prefix', () => {
  const rib = newRib();
  assert.throws(() => rib.applyUpdate('nope', update([P], ibgpAttrs('1.1.1.1'))), /unknown peer/);
  rib.addPeer('a', { address: A.address, asn: A.asn });
  assert.throws(() => rib.applyUpdate('a', update([P], ibgpAttrs('1.1.1.1'))), /not Established/);
  assert.throws(() => rib.announce('10.0.0.1/24'), /host bits/);
  assert.throws(() => rib.announce('banana'), /not a CIDR/);
  assert.throws(() => new Rib({ localAs: 1, routerId: 'x' }), /router id/);
});

test('families not negotiated are ignored and counted', () => {
  const rib = newRib();
  rib.addPeer('e', { address: E.address, asn: E.asn });
  rib.peerUp('e', { routerId: E.routerId, localAddress: '198.18.1.1', families: new Set(['1/1']) });
  const u: UpdateMessage = {
    type: MessageType.Update,
    withdrawn: [],
    nlri: [],
    attrs: { origin: 0, asPath: [{ type: 2, asns: [65001] }] },
    mpReach: { afi: 2, safi: 1, nextHops: ['2001:db8::10'], nlri: [{ prefix: 'fd00::/64' }] },
  };
  assert.equal(rib.applyUpdate('e', u).ignored, 1);
  assert.equal(rib.lookup('fd00::/64'), undefined);
});

/** Deterministic shuffle (mulberry32) so a failure is reproducible. */
function shuffled<T>(xs: readonly T[], seed: number): T[] {
  let s = seed >>> 0;
  const rnd = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

test('replaying the same updates in different orders gives the same Loc-RIB', () => {
  const peers: TestPeer[] = [
    { id: 'x1', address: '198.18.3.1', asn: 65010, routerId: '10.3.0.1' },
    { id: 'x2', address: '198.18.3.2', asn: 65010, routerId: '10.3.0.2' },
    { id: 'y', address: '198.18.3.3', asn: 65020, routerId: '10.3.0.3' },
    { id: 'i', address: '198.18.3.4', asn: LOCAL_AS, routerId: '10.3.0.0' },
  ];
  // Per prefix, paths chosen so that MED (non-transitive across neighbour ASes) matters.
  const events: [string, UpdateMessage][] = [];
  for (let n = 0; n < 20; n++) {
    const prefix = `10.50.${n}.0/24`;
    events.push(['x1', update([prefix], ebgpAttrs('198.18.3.1', [65010], { med: (n * 7) % 5 }))]);
    events.push(['x2', update([prefix], ebgpAttrs('198.18.3.2', [65010], { med: (n * 3) % 5 }))]);
    events.push(['y', update([prefix], ebgpAttrs('198.18.3.3', [65020], { med: n % 3 }))]);
    events.push(['i', update([prefix], ibgpAttrs('198.18.3.4', { asPath: [{ type: 2, asns: [65030] }], localPref: n % 2 ? 100 : 90 }))]);
    if (n % 4 === 0) events.push(['x2', withdrawal([`10.50.${n}.0/24`])]);
  }
  const snapshots = new Set<string>();
  for (let seed = 1; seed <= 8; seed++) {
    const rib = newRib();
    for (const p of peers) up(rib, p);
    // Withdrawals must follow their announcement from the same peer; keep per-peer order.
    const order = shuffled(events.map((_, i) => i), seed);
    const byPeerNext = new Map<string, number[]>();
    for (let i = 0; i < events.length; i++) {
      const list = byPeerNext.get(events[i]![0]) ?? [];
      list.push(i);
      byPeerNext.set(events[i]![0], list);
    }
    const queues = new Map([...byPeerNext].map(([k, v]) => [k, [...v]]));
    for (const i of order) {
      const peer = events[i]![0];
      const next = queues.get(peer)!.shift()!;
      rib.applyUpdate(peer, events[next]![1]);
    }
    const snap = [...rib.bestPaths()]
      .map((b) => `${b.prefix}=${b.best.peerId}/${b.best.reason}`)
      .sort()
      .join(',');
    snapshots.add(snap);
  }
  assert.equal(snapshots.size, 1);
});

test('best-change drain: fresh prefixes, then changes to them, then re-announcement after withdrawal', () => {
  const rib = newRib();
  up(rib, A);
  up(rib, B);
  rib.applyUpdate('a', update([P, Q], ibgpAttrs('198.18.0.10')));
  assert.deepEqual(
    rib.drainBestChanges().map((c) => [c.prefix, c.best?.peerId, c.best?.reason]),
    [
      [P, 'a', 'only-path'],
      [Q, 'a', 'only-path'],
    ],
  );
  // Fresh insert, then a better path from another peer, then withdraw + re-announce of Q.
  const R = '10.0.2.0/24';
  rib.applyUpdate('a', update([R], ibgpAttrs('198.18.0.10')));
  rib.applyUpdate('b', update([R], ibgpAttrs('198.18.0.20', { localPref: 200 })));
  rib.applyUpdate('a', withdrawal([Q]));
  rib.applyUpdate('a', update([Q], ibgpAttrs('198.18.0.12')));
  const got = rib.drainBestChanges().map((c) => [c.prefix, c.best?.peerId, c.best?.nextHop, c.best?.reason]);
  assert.deepEqual(got, [
    [R, 'b', '198.18.0.20', 'local-pref'],
    [Q, 'a', '198.18.0.12', 'only-path'],
  ]);
  assert.deepEqual(rib.drainBestChanges(), []);
});

test('graceful restart with several paths per prefix: the stale path loses to a fresh better one and is swept', () => {
  const rib = newRib();
  up(rib, A);
  up(rib, B);
  rib.applyUpdate('a', update([P], ibgpAttrs('198.18.0.10', { localPref: 200 })));
  rib.applyUpdate('b', update([P], ibgpAttrs('198.18.0.20')));
  rib.drainBestChanges();
  rib.peerDown('a', { gracefulRestart: {} });
  let v = rib.lookup(P)!;
  assert.equal(v.paths.find((p) => p.best)!.peerId, 'a', 'stale path stays best');
  assert.equal(v.paths.find((p) => p.peerId === 'a')!.stale, true);
  assert.deepEqual(rib.drainBestChanges(), []);
  rib.peerUp('a', { routerId: A.routerId, localAddress: '192.0.2.1', families: new Set(['1/1']) });
  assert.equal(rib.endOfRib('a', 1, 1), 1);
  v = rib.lookup(P)!;
  assert.deepEqual(v.paths.map((p) => p.peerId), ['b']);
  assert.equal(rib.drainBestChanges()[0]!.best!.peerId, 'b');
  assert.equal(rib.stats().attrSets, 1);
});

test('export only in families negotiated on the session, and never without a next hop', () => {
  const rib = newRib();
  rib.addPeer('v4only', { address: E.address, asn: E.asn });
  rib.peerUp('v4only', { routerId: E.routerId, localAddress: '198.18.1.1', families: new Set(['1/1']) });
  rib.addPeer('nov6addr', { address: F.address, asn: F.asn });
  rib.peerUp('nov6addr', { routerId: F.routerId, localAddress: '198.18.2.1', families: new Set(['1/1', '2/1']) });
  rib.announce('fd00:1::/64');
  rib.announce(P);
  assert.deepEqual([...drainAll(rib, 'v4only').keys()], [P]);
  assert.deepEqual([...drainAll(rib, 'nov6addr').keys()], [P]);
});

test('an IPv6-transport session never gets an IPv4 route with an IPv6 next hop', () => {
  const rib = newRib();
  rib.addPeer('v6t', { address: '2001:db8::10', asn: 65003 });
  rib.peerUp('v6t', { routerId: '10.3.0.10', localAddress: '2001:db8::1', localAddressV6: '2001:db8::1', families: new Set(['1/1', '2/1']) });
  rib.announce('fd00:1::/64');
  rib.announce(P);
  const out = drainAll(rib, 'v6t');
  assert.deepEqual([...out.keys()], ['fd00:1::/64'], 'the IPv4 route has no next hop of its family, so it is not exported');
  assert.equal(out.get('fd00:1::/64')!.nextHop, '2001:db8::1');
});

test('bounded drains pick up prefixes changed or added between calls', () => {
  const rib = newRib();
  up(rib, E);
  for (let i = 0; i < 25; i++) rib.announce(`10.65.${i}.0/26`);
  const first = rib.drainAdjRibOut('e', 10);
  const sent = first.announce.flatMap((g) => g.prefixes);
  assert.equal(sent.length, 10);
  rib.withdraw(sent[0]!); // already sent: must now be withdrawn
  rib.announce('10.99.0.0/26'); // new
  const rest = drainAll(rib, 'e');
  assert.equal(rest.get(sent[0]!), null);
  assert.ok(rest.has('10.99.0.0/26'));
  assert.equal([...rest.values()].filter((v) => v !== null).length, 16);
  assert.equal(rib.stats().peers[0]!.families['1/1']!.advertised, 25);
});

test('making a peer an RR client re-exports without a session reset; removePeer withdraws its routes', () => {
  const rib = newRib();
  up(rib, A);
  up(rib, B);
  rib.applyUpdate('a', update([P], ibgpAttrs('198.18.0.10')));
  assert.equal(drainAll(rib, 'b').size, 0, 'plain iBGP: not reflected');
  rib.reconfigurePeer('a', { address: A.address, asn: A.asn, routeReflectorClient: true });
  assert.deepEqual(drainAll(rib, 'b').get(P)?.clusterList, [ROUTER_ID]);
  assert.equal(rib.dumpAdjRibOut('b').length, 1, 'route refresh answer');
  rib.removePeer('a');
  assert.deepEqual([...drainAll(rib, 'b')], [[P, null]]);
  assert.throws(() => rib.peerUp('a', { routerId: A.routerId, localAddress: '192.0.2.1', families: new Set(['1/1']) }), /unknown peer/);
  assert.throws(() => rib.reconfigurePeer('b', { address: '198.18.9.9', asn: LOCAL_AS }), /remove and re-add/);
});
