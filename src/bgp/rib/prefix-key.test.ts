/**
 * The RIB's internal prefix keys (prefix-key.ts) never show at its API: IPv4 prefixes at the
 * edges of the address space, non-canonical text, IPv6 beside IPv4, UPDATEs from the decoder
 * (with `nlriKeys`) and built by hand (without), and the best-path drain's two logs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encodeUpdate, type CodecOptions, type UpdateMessage } from '../wire/index.js';
import { drainAll, ebgpAttrs, ibgpAttrs, LOCAL_AS, newRib, up, update, withdrawal, type TestPeer } from './test-helpers.js';

const A: TestPeer = { id: 'a', address: '198.18.0.10', asn: LOCAL_AS, routerId: '10.0.0.10' };
const B: TestPeer = { id: 'b', address: '198.18.0.20', asn: LOCAL_AS, routerId: '10.0.0.20' };
const E: TestPeer = { id: 'e', address: '198.18.1.10', asn: 65001, routerId: '10.1.0.10', localAddress: '198.18.1.1' };
const OPTS: CodecOptions = { fourOctetAs: true, extendedMessages: false, ibgp: true };

const EDGES = ['0.0.0.0/0', '128.0.0.0/1', '10.0.0.0/8', '10.65.4.0/30', '192.168.0.2/31', '255.255.255.255/32', '0.0.0.0/32'];

function wire(u: UpdateMessage): UpdateMessage {
  const { type: _t, ...rest } = u;
  return decode(encodeUpdate(rest, OPTS), OPTS) as UpdateMessage;
}

test('RIB: edge IPv4 prefixes come back as the same canonical text from every output', () => {
  const rib = newRib();
  up(rib, A);
  up(rib, E);
  rib.applyUpdate('a', update([...EDGES, 'fd00::/64'], ibgpAttrs('198.18.0.10')));
  const changes = rib.drainBestChanges();
  assert.deepEqual(changes.map((c) => c.prefix).sort(), [...EDGES, 'fd00::/64'].sort());
  assert.deepEqual([...rib.bestPaths()].map((b) => b.prefix).sort(), [...EDGES, 'fd00::/64'].sort());
  // IPv6 only goes out with an IPv6 next hop; the IPv4 ones to the eBGP peer.
  assert.deepEqual([...drainAll(rib, 'e').keys()].sort(), [...EDGES, 'fd00::/64'].sort());
  for (const p of EDGES) assert.equal(rib.lookup(p)?.prefix, p, p);
  assert.equal(rib.stats().prefixes, EDGES.length + 1);
  rib.applyUpdate('a', withdrawal(['255.255.255.255/32', '0.0.0.0/0']));
  assert.deepEqual(rib.drainBestChanges(), [{ prefix: '255.255.255.255/32' }, { prefix: '0.0.0.0/0' }]);
  assert.deepEqual(drainAll(rib, 'e'), new Map([['255.255.255.255/32', null], ['0.0.0.0/0', null]]));
});

test('RIB: host bits in hand-built IPv4 text name the same prefix as the canonical text', () => {
  const rib = newRib();
  up(rib, A);
  rib.applyUpdate('a', update(['10.0.0.1/24'], ibgpAttrs('198.18.0.10')));
  assert.deepEqual(rib.drainBestChanges().map((c) => c.prefix), ['10.0.0.0/24']);
  assert.equal(rib.lookup('10.0.0.0/24')?.paths.length, 1);
  rib.applyUpdate('a', withdrawal(['10.0.0.0/24']));
  assert.equal(rib.stats().prefixes, 0);
  rib.announce('10.9.0.0/16');
  assert.equal(rib.lookup('10.9.0.0/16')?.prefix, '10.9.0.0/16');
  assert.equal(rib.withdraw('10.9.0.0/16'), true);
});

test('RIB: a decoded UPDATE (with nlriKeys) and the same UPDATE built by hand give the same RIB', () => {
  const prefixes = ['10.0.0.0/24', '10.0.1.0/30', '0.0.0.0/0', '255.255.255.255/32', '172.16.0.0/12'];
  const hand = update(prefixes, ibgpAttrs('198.18.0.10'));
  const decoded = wire(hand);
  assert.equal(decoded.nlriKeys?.length, prefixes.length, 'the decoder hands out keys');
  const results = [hand, decoded].map((u) => {
    const rib = newRib();
    up(rib, A);
    up(rib, E);
    rib.applyUpdate('a', u);
    return { best: rib.drainBestChanges(), out: drainAll(rib, 'e'), stats: rib.stats() };
  });
  assert.deepEqual(results[0], results[1]);
  // Withdrawals with keys too.
  const rib = newRib();
  up(rib, A);
  rib.applyUpdate('a', decoded);
  const w = wire(withdrawal(prefixes.slice(0, 2)));
  assert.equal(w.withdrawnKeys?.length, 2);
  assert.equal(rib.applyUpdate('a', w).withdrawn, 2);
  assert.equal(rib.stats().prefixes, prefixes.length - 2);
});

test('RIB: an UPDATE whose nlri was changed after decoding falls back to the text', () => {
  const rib = newRib();
  up(rib, A);
  const u = wire(update(['10.0.0.0/24'], ibgpAttrs('198.18.0.10')));
  u.nlri.push({ prefix: '10.0.2.0/24' });
  assert.equal(rib.applyUpdate('a', u).announced, 2);
  assert.deepEqual(rib.drainBestChanges().map((c) => c.prefix).sort(), ['10.0.0.0/24', '10.0.2.0/24']);
});

test('RIB: best-path drain reports each prefix once, final state, when new prefixes also changed', () => {
  const rib = newRib();
  up(rib, A);
  up(rib, B);
  up(rib, E);
  // New from a; then b sends a better path for P; Q is withdrawn and re-learned; R is new only.
  rib.applyUpdate('a', wire(update(['10.0.0.0/24', '10.0.1.0/24', '10.0.2.0/24'], ibgpAttrs('198.18.0.10'))));
  rib.applyUpdate('b', wire(update(['10.0.0.0/24'], ibgpAttrs('198.18.0.20', { localPref: 200 }))));
  rib.applyUpdate('a', wire(withdrawal(['10.0.1.0/24'])));
  rib.applyUpdate('a', wire(update(['10.0.1.0/24'], ibgpAttrs('198.18.0.11'))));
  // An eBGP path for P that loses on LOCAL_PREF: no change for P beyond b's.
  rib.applyUpdate('e', wire(update(['10.0.0.0/24'], ebgpAttrs('198.18.1.10', [65001]))));
  const got = new Map(rib.drainBestChanges().map((c) => [c.prefix, c.best?.nextHop]));
  assert.deepEqual(
    got,
    new Map([
      ['10.0.0.0/24', '198.18.0.20'],
      ['10.0.1.0/24', '198.18.0.11'],
      ['10.0.2.0/24', '198.18.0.10'],
    ]),
  );
  assert.equal(rib.drainBestChanges().length, 0);
});

test('RIB: a best-path listener that drains at once sees every change, new prefixes and others', () => {
  const rib = newRib();
  up(rib, A);
  const seen: string[] = [];
  rib.setListener({ bestChangesPending: () => seen.push(...rib.drainBestChanges().map((c) => `${c.prefix} ${c.best ? 'up' : 'down'}`)) });
  rib.applyUpdate('a', wire(update(['10.0.0.0/24'], ibgpAttrs('198.18.0.10'))));
  rib.applyUpdate('a', wire(update(['10.0.1.0/24'], ibgpAttrs('198.18.0.10'))));
  rib.applyUpdate('a', wire(withdrawal(['10.0.0.0/24'])));
  assert.deepEqual(seen, ['10.0.0.0/24 up', '10.0.1.0/24 up', '10.0.0.0/24 down']);
});

test('RIB: import policy sees canonical prefix text, from decoded and from hand-built UPDATEs', () => {
  const rib = newRib();
  const seen: string[] = [];
  up(rib, { ...A, config: { importPolicy: (prefix, attrs) => (seen.push(prefix), attrs) } });
  rib.applyUpdate('a', wire(update(['10.0.0.0/24', '255.255.255.255/32'], ibgpAttrs('198.18.0.10'))));
  rib.applyUpdate('a', update(['10.0.1.1/24', '0.0.0.0/0'], ibgpAttrs('198.18.0.10')));
  assert.deepEqual(seen, ['10.0.0.0/24', '255.255.255.255/32', '10.0.1.0/24', '0.0.0.0/0']);
  // Re-applied after a policy change: text made from the keys.
  seen.length = 0;
  rib.setPolicy('a', { importPolicy: (prefix, attrs) => (seen.push(prefix), attrs) });
  assert.deepEqual(seen.sort(), ['0.0.0.0/0', '10.0.0.0/24', '10.0.1.0/24', '255.255.255.255/32']);
});
