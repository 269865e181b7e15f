/**
 * Messages captured from real speakers, decoded to values written out by hand.
 *
 * Captured 2026-11-23 in a private network namespace (tt-wire-<pid>) with a node:net listener on
 * 127.0.0.1:179 that answered OPEN + KEEPALIVE and logged every message as hex:
 *  - GoBGP 3.10.0 (`gobgpd`, AS 65001, router id 127.0.0.2, ipv4-unicast + ipv6-unicast), routes
 *    added and deleted with `gobgp global rib add|del ...`.
 *  - BIRD 1.6.8 (AS 65003, router id 127.0.0.3, `graceful restart on`, `next hop self`, two static
 *    blackhole routes exported).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode } from './decode.js';
import { isEndOfRib } from './update.js';
import { encodeUpdate } from './encode-update.js';
import { AsPathSegmentType, CapabilityCode, MessageType, type CodecOptions, type UpdateMessage } from './types.js';
import { hex, toHex } from './test-util.js';

const OPTS: CodecOptions = { fourOctetAs: true, extendedMessages: false, ibgp: false };

const GOBGP_OPEN = hex('ffffffffffffffffffffffffffffffff00410104fde9005a7f0000022402220200490402766d0001040001000101040002000141040000fde90506000100010002');
const GOBGP_UPDATE_V4 = hex('ffffffffffffffffffffffffffffffff003d02000000224001010240020602010000fde9400304c61200028004040000000ac00804fde90064180a4100');
const GOBGP_UPDATE_V6 = hex('ffffffffffffffffffffffffffffffff0054020000003d4001010240020602010000fde9800e1e00020110fd0000000000000000000000000000020040fd00006500000000c0200c0000fde90000000100000002');
const GOBGP_WITHDRAW_V4 = hex('ffffffffffffffffffffffffffffffff001b020004180a41000000');
const GOBGP_WITHDRAW_V6 = hex('ffffffffffffffffffffffffffffffff0026020000000f800f0c00020140fd00006500000000');
const GOBGP_UPDATE_AS4 = hex('ffffffffffffffffffffffffffffffff0038020000001c4001010240020e02030000fde90000fc00fa56ea00400304c61200021e0a410400');
const BIRD_OPEN = hex('ffffffffffffffffffffffffffffffff00390104fdeb00f07f0000031c021a0104000100010200400600780001010041040000fdeb46004700');
const BIRD_UPDATE = hex('ffffffffffffffffffffffffffffffff003402000000144001010040020602010000fdeb4003047f000003180a42001e0a420100');
const BIRD_END_OF_RIB = hex('ffffffffffffffffffffffffffffffff00170200000000');

test('GoBGP OPEN: FQDN (73) and extended next hop (5) kept as unknown capabilities', () => {
  assert.deepEqual(decode(GOBGP_OPEN, OPTS), {
    type: MessageType.Open,
    version: 4,
    myAs: 65001,
    holdTime: 90,
    bgpId: '127.0.0.2',
    capabilities: [
      { code: CapabilityCode.RouteRefresh },
      { code: 73, unknown: true, value: Uint8Array.of(2, 0x76, 0x6d, 0) },
      { code: CapabilityCode.Multiprotocol, afi: 1, safi: 1 },
      { code: CapabilityCode.Multiprotocol, afi: 2, safi: 1 },
      { code: CapabilityCode.FourOctetAs, asn: 65001 },
      { code: 5, unknown: true, value: Uint8Array.of(0, 1, 0, 1, 0, 2) },
    ],
  });
});

test('GoBGP IPv4 UPDATE decodes and our encoder reproduces it byte for byte', () => {
  const u = decode(GOBGP_UPDATE_V4, OPTS) as UpdateMessage;
  assert.deepEqual(u.attrs, {
    origin: 2,
    asPath: [{ type: AsPathSegmentType.AsSequence, asns: [65001] }],
    nextHop: '198.18.0.2',
    med: 10,
    communities: [(65001 * 65536 + 100) >>> 0],
  });
  assert.deepEqual(u.nlri, [{ prefix: '10.65.0.0/24' }]);
  assert.equal(toHex(encodeUpdate(u, OPTS)), toHex(GOBGP_UPDATE_V4));
});

test('GoBGP 4-octet AS_PATH', () => {
  const u = decode(GOBGP_UPDATE_AS4, OPTS) as UpdateMessage;
  assert.deepEqual(u.attrs.asPath, [{ type: AsPathSegmentType.AsSequence, asns: [65001, 64512, 4200000000] }]);
  assert.deepEqual(u.nlri, [{ prefix: '10.65.4.0/30' }]);
});

test('GoBGP IPv6 UPDATE: MP_REACH after ORIGIN/AS_PATH is accepted; we re-encode it first', () => {
  const u = decode(GOBGP_UPDATE_V6, OPTS) as UpdateMessage;
  assert.deepEqual(u.mpReach, { afi: 2, safi: 1, nextHops: ['fd00::2'], nlri: [{ prefix: 'fd00:65::/64' }] });
  assert.deepEqual(u.attrs.largeCommunities, [{ globalAdmin: 65001, localData1: 1, localData2: 2 }]);
  const again = encodeUpdate(u, OPTS);
  assert.equal(again[23], 0x80);
  assert.equal(again[24], 14, 'MP_REACH is the first attribute we send (RFC 7606 §5.1)');
  const { attrsKey: _a, ...x } = decode(again, OPTS) as UpdateMessage;
  const { attrsKey: _b, ...y } = u;
  assert.deepEqual(x, y);
});

test('GoBGP withdrawals', () => {
  assert.deepEqual((decode(GOBGP_WITHDRAW_V4, OPTS) as UpdateMessage).withdrawn, [{ prefix: '10.65.0.0/24' }]);
  const w6 = decode(GOBGP_WITHDRAW_V6, OPTS) as UpdateMessage;
  assert.deepEqual(w6.mpUnreach, { afi: 2, safi: 1, withdrawn: [{ prefix: 'fd00:65::/64' }] });
  assert.equal(isEndOfRib(w6), undefined);
});

test('BIRD OPEN: all capabilities in one parameter, graceful restart, enhanced route refresh', () => {
  assert.deepEqual(decode(BIRD_OPEN, OPTS), {
    type: MessageType.Open,
    version: 4,
    myAs: 65003,
    holdTime: 240,
    bgpId: '127.0.0.3',
    capabilities: [
      { code: CapabilityCode.Multiprotocol, afi: 1, safi: 1 },
      { code: CapabilityCode.RouteRefresh },
      { code: CapabilityCode.GracefulRestart, restarting: false, notification: false, restartTime: 120, families: [{ afi: 1, safi: 1, forwardingPreserved: false }] },
      { code: CapabilityCode.FourOctetAs, asn: 65003 },
      { code: CapabilityCode.EnhancedRouteRefresh },
      { code: 71, unknown: true, value: new Uint8Array(0) },
    ],
  });
});

test('BIRD UPDATE with NEXT_HOP 127.0.0.3 (loopback) is treated as withdraw; its End-of-RIB is one', () => {
  const u = decode(BIRD_UPDATE, OPTS) as UpdateMessage;
  assert.equal(u.treatAsWithdraw, true);
  assert.deepEqual(u.diagnostics?.map((d) => d.code), ['NEXT_HOP_INVALID']);
  assert.deepEqual(u.nlri, [{ prefix: '10.66.0.0/24' }, { prefix: '10.66.1.0/30' }]);
  assert.deepEqual(isEndOfRib(decode(BIRD_END_OF_RIB, OPTS) as UpdateMessage), { afi: 1, safi: 1 });
});
