import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bgpReconverged, StaleBgpRoutes, type BestRoute, type ConvergencePeer } from './stale-bgp-routes.js';

test('stale kernel routes stay until sweep; refreshed ones are not withdrawn; sweep happens once', () => {
  const got: BestRoute[][] = [];
  const s = new StaleBgpRoutes((c) => got.push([...c]));
  s.seed([{ prefix: '10.65.0.64/26', nextHop: '198.18.0.12' }, { prefix: '10.65.0.128/26', nextHop: '198.18.0.13' }]);
  assert.equal(s.seededCount, 2);
  assert.deepEqual(got[0]!.map((r) => r.prefix), ['10.65.0.64/26', '10.65.0.128/26']);
  s.onBest([{ prefix: '10.65.0.64/26', nextHop: '198.18.0.12' }]);
  assert.equal(s.staleCount, 1);
  s.sweep('test');
  assert.deepEqual(got.at(-1), [{ prefix: '10.65.0.128/26' }], 'only the never-refreshed route is withdrawn');
  const n = got.length;
  s.sweep('again');
  assert.equal(got.length, n);
  assert.equal(s.converged, true);
});

test('bgpReconverged: End-of-RIB from graceful-restart peers, the quiet rule only for peers without it', () => {
  const now = Date.parse('2026-01-01T00:01:00Z');
  const at = (msAgo: number) => new Date(now - msAgo).toISOString();
  const settle = { now, settleMs: 2000 };
  const gr = (received: string[], o: Partial<ConvergencePeer> = {}): ConvergencePeer => ({
    address: '198.18.0.12', state: 'Established', since: at(100), families: ['ipv4'], endOfRib: { expected: true, received }, ...o,
  });
  const plain = (o: Partial<ConvergencePeer> = {}): ConvergencePeer => ({
    address: '198.18.0.2', state: 'Established', since: at(10_000), families: ['ipv4'], endOfRib: { expected: false, received: [] }, ...o,
  });

  assert.equal(bgpReconverged([], { ...settle, lastBestAt: now }), 'no BGP peers');
  // A GR peer up for 100 ms with changes right now: converged as soon as its End-of-RIB is in.
  assert.equal(bgpReconverged([gr([])], { ...settle, lastBestAt: now }), undefined);
  assert.match(bgpReconverged([gr(['ipv4'])], { ...settle, lastBestAt: now })!, /every peer sent End-of-RIB/);
  // Quiet for long does not release a GR peer that owes End-of-RIB (the 120 s cap does).
  assert.equal(bgpReconverged([gr([], { since: at(60_000) })], { ...settle, lastBestAt: 0 }), undefined);
  // End-of-RIB for IPv6 only is not enough; a session without IPv4 owes nothing in IPv4.
  assert.equal(bgpReconverged([gr(['ipv6'], { families: ['ipv4', 'ipv6'] })], { ...settle, lastBestAt: now }), undefined);
  assert.ok(bgpReconverged([gr([], { families: ['ipv6'] })], { ...settle, lastBestAt: now }));
  // Every peer must be Established.
  assert.equal(bgpReconverged([gr(['ipv4']), plain({ state: 'Active' })], { ...settle, lastBestAt: 0 }), undefined);
  // A peer without GR: the quiet rule (Established and no best-path change for 2 s).
  assert.equal(bgpReconverged([gr(['ipv4']), plain()], { ...settle, lastBestAt: now - 500 }), undefined);
  assert.equal(bgpReconverged([gr(['ipv4']), plain({ since: at(500) })], { ...settle, lastBestAt: 0 }), undefined);
  assert.match(bgpReconverged([gr(['ipv4']), plain()], { ...settle, lastBestAt: now - 2500 })!, /others quiet for 2 s/);
  // ...unless it sent End-of-RIB anyway (our own speaker always does).
  assert.ok(bgpReconverged([plain({ endOfRib: { expected: false, received: ['ipv4'] } })], { ...settle, lastBestAt: now }));
  // A status without the endOfRib field (older speaker, not up) falls back to the quiet rule.
  assert.ok(bgpReconverged([plain({ endOfRib: undefined })], { ...settle, lastBestAt: now - 2500 }));
});
