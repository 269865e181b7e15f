/** Policy building blocks: prefix-list semantics, communities, combinators, immutability. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PathAttributes } from '../wire/types.js';
import {
  acceptAll,
  addCommunities,
  addLargeCommunities,
  asPathLoop,
  canonicalPrefix,
  chain,
  isLocal,
  parseAnyCommunity,
  parseCommunity,
  parseLargeCommunity,
  PrefixList,
  rejectAll,
  setLocalPref,
  setMed,
  when,
  type PolicyContext,
} from './index.js';

const peer = { address: '198.18.0.2', asn: 65001, ibgp: false, routeReflectorClient: false };
const exportCtx: PolicyContext = { direction: 'export', localAs: 64512, peer, source: null };
const base: PathAttributes = Object.freeze({ origin: 0, asPath: [], nextHop: '198.18.0.1' });

test('prefix list: exact, ge, le, ge+le, IPv6, family mismatch', () => {
  const pl = new PrefixList([
    { prefix: '10.65.0.0/16' },
    { prefix: '10.66.0.0/16', ge: 26 },
    { prefix: '10.67.0.0/16', le: 24 },
    { prefix: '10.68.0.0/16', ge: 20, le: 28 },
    { prefix: 'fd00::/48', ge: 64, le: 64 },
  ]);
  const cases: [string, boolean][] = [
    ['10.65.0.0/16', true],
    ['10.65.0.0/17', false],
    ['10.66.1.0/26', true],
    ['10.66.1.1/32', true],
    ['10.66.0.0/25', false],
    ['10.67.0.0/16', true],
    ['10.67.1.0/24', true],
    ['10.67.1.0/25', false],
    ['10.68.16.0/20', true],
    ['10.68.1.16/28', true],
    ['10.68.1.0/29', false],
    ['10.68.0.0/19', false],
    ['10.69.0.0/26', false],
    ['fd00:0:0:1::/64', true],
    ['fd00:0:1::/64', false],
    ['fd00::/56', false],
    ['0.0.0.0/0', false],
    ['garbage', false],
  ];
  for (const [p, want] of cases) assert.equal(pl.matches(p), want, p);
});

test('prefix list rejects bad entries up front', () => {
  assert.throws(() => new PrefixList([{ prefix: '10.0.0.0/16', ge: 8 }]), /ge/);
  assert.throws(() => new PrefixList([{ prefix: '10.0.0.0/16', le: 33 }]), /le/);
  assert.throws(() => new PrefixList([{ prefix: '10.0.0.1/16' }]), /host bits/);
  assert.throws(() => new PrefixList([{ prefix: '10.0.0.0/16', ge: 28, le: 24 }]), /ge/);
});

test('canonical prefixes', () => {
  assert.equal(canonicalPrefix('fd00:0:0:0::/64'), 'fd00::/64');
  // RFC 5952 §4.2.3: the longest zero run is compressed; on a tie, the first.
  assert.equal(canonicalPrefix('2001:db8:0:0:1:0:0:0/128'), '2001:db8:0:0:1::/128');
  assert.equal(canonicalPrefix('2001:db8:0:0:1:0:0:1/128'), '2001:db8::1:0:0:1/128');
  assert.equal(canonicalPrefix('2001:db8:0:1:1:1:1:1/128'), '2001:db8:0:1:1:1:1:1/128');
  assert.equal(canonicalPrefix('2001:0:0:1:0:0:0:0/64'), '2001:0:0:1::/64');
  assert.equal(canonicalPrefix('10.1.0.0/16'), '10.1.0.0/16');
  assert.throws(() => canonicalPrefix('10.1.0.0/33'));
  assert.throws(() => canonicalPrefix('10.1.0.1/16'), /host bits/);
  assert.throws(() => canonicalPrefix('256.1.0.0/16'));
  assert.equal(canonicalPrefix('0.0.0.0/0'), '0.0.0.0/0');
  assert.equal(canonicalPrefix('255.255.255.255/32'), '255.255.255.255/32');
  assert.equal(canonicalPrefix('128.0.0.0/1'), '128.0.0.0/1');
  assert.throws(() => canonicalPrefix('128.0.0.0/0'), /host bits/);
});

test('communities parse, format and refuse nonsense', () => {
  assert.equal(parseCommunity('65000:100'), 65000 * 65536 + 100);
  assert.deepEqual(parseLargeCommunity('4200000000:1:2'), { globalAdmin: 4200000000, localData1: 1, localData2: 2 });
  assert.deepEqual(parseAnyCommunity('1:2'), { standard: 65538 });
  assert.ok('large' in parseAnyCommunity('1:2:3'));
  assert.throws(() => parseCommunity('65536:1'), /0 to 65535/);
  assert.throws(() => parseCommunity('a:b'), /community/);
  assert.throws(() => parseLargeCommunity('1:2'), /large community/);
});

test('actions never mutate their input and return it when nothing changes', () => {
  const withC: PathAttributes = Object.freeze({ ...base, communities: Object.freeze([5]) as number[] });
  const add = addCommunities([5, 7, 7]);
  const out = add('10.0.0.0/24', withC, exportCtx)!;
  assert.deepEqual(out.communities, [5, 7]);
  assert.deepEqual(withC.communities, [5]);
  assert.equal(addCommunities([5])('p', withC, exportCtx), withC);
  const large = { globalAdmin: 1, localData1: 2, localData2: 3 };
  assert.deepEqual(addLargeCommunities([large, { ...large }])('p', base, exportCtx)!.largeCommunities, [large]);
  assert.equal(setLocalPref(100)('p', { ...base, localPref: 100 }, exportCtx)!.localPref, 100);
  assert.equal(setMed(7)('p', base, exportCtx)!.med, 7);
  assert.throws(() => setLocalPref(-1), RangeError);
});

test('chain stops at the first reject; when branches', () => {
  let ran = false;
  const spy = (_p: string, a: Readonly<PathAttributes>) => {
    ran = true;
    return a;
  };
  assert.equal(chain(rejectAll, spy)('p', base, exportCtx), null);
  assert.equal(ran, false);
  assert.equal(chain()('p', base, exportCtx), base);
  const pol = when(isLocal, chain(addCommunities([1]), setMed(3)), rejectAll);
  assert.deepEqual(pol('p', base, exportCtx), { ...base, communities: [1], med: 3 });
  assert.equal(pol('p', base, { ...exportCtx, source: peer }), null);
  assert.equal(acceptAll('p', base, exportCtx), base);
});

test('AS-path loop matcher with an allowed count', () => {
  const a: PathAttributes = { ...base, asPath: [{ type: 2, asns: [1, 64512, 2, 64512] }] };
  assert.equal(asPathLoop(64512)('p', a, exportCtx), true);
  assert.equal(asPathLoop(64512, 2)('p', a, exportCtx), false);
  assert.equal(asPathLoop(64512, 1)('p', a, exportCtx), true);
});
