import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkOpen, decodeOpen, encodeOpen, myAsField, peerAsOf } from './open.js';
import { decodeNotification, encodeKeepalive, encodeNotification, encodeRouteRefresh, decodeRouteRefresh } from './control.js';
import { negotiateCodecOptions } from './negotiate.js';
import { BgpDecodeError } from './errors.js';
import { CapabilityCode, MessageType, type Capability } from './types.js';
import { hex, MARKER, toHex } from './test-util.js';

// Hand-assembled from RFC 4271 §4.2, RFC 5492 (one capability per optional parameter),
// RFC 4760 §8 (MP), RFC 2918 (route refresh), RFC 6793 (AS4), RFC 4724 (GR), RFC 7911 (add-path),
// RFC 8654 (extended message), RFC 7313 (enhanced route refresh).
const OPEN_HEX = `${MARKER} 0057 01
  04 fde9 005a 0a000001 3a
  02 06 01 04 0001 00 01          # MP IPv4 unicast
  02 06 01 04 0002 00 01          # MP IPv6 unicast
  02 02 02 00                     # route refresh
  02 02 46 00                     # enhanced route refresh
  02 06 41 04 0001 0001           # 4-octet AS 65537
  02 0c 40 0a c078 0001 01 80 0002 01 00   # GR: R+N bits, 120 s, v4 F=1, v6 F=0
  02 06 45 04 0001 01 03          # add-path IPv4 unicast send/receive
  02 02 06 00                     # extended message
`;
// Total: 19 + 10 + 58 = 87 = 0x57; optional parameters 8+8+4+4+8+14+8+4 = 58 = 0x3a.

const CAPS: Capability[] = [
  { code: CapabilityCode.Multiprotocol, afi: 1, safi: 1 },
  { code: CapabilityCode.Multiprotocol, afi: 2, safi: 1 },
  { code: CapabilityCode.RouteRefresh },
  { code: CapabilityCode.EnhancedRouteRefresh },
  { code: CapabilityCode.FourOctetAs, asn: 65537 },
  {
    code: CapabilityCode.GracefulRestart,
    restarting: true,
    notification: true,
    restartTime: 120,
    families: [
      { afi: 1, safi: 1, forwardingPreserved: true },
      { afi: 2, safi: 1, forwardingPreserved: false },
    ],
  },
  { code: CapabilityCode.AddPath, families: [{ afi: 1, safi: 1, mode: 3 }] },
  { code: CapabilityCode.ExtendedMessage },
];

test('OPEN: decode a hand-written vector with every capability', () => {
  const m = decodeOpen(hex(OPEN_HEX));
  assert.deepEqual(m, { type: MessageType.Open, version: 4, myAs: 65001, holdTime: 90, bgpId: '10.0.0.1', capabilities: CAPS });
  assert.equal(peerAsOf(m), 65537);
});

test('OPEN: encode gives the same bytes', () => {
  assert.equal(toHex(encodeOpen({ myAs: 65001, holdTime: 90, bgpId: '10.0.0.1', capabilities: CAPS })), toHex(hex(OPEN_HEX)));
});

test('OPEN: unknown capability kept, several capabilities in one parameter (BIRD style)', () => {
  const m = decodeOpen(hex(`${MARKER} 0027 01 04 fde9 00b4 c0000201 0a 02 08 02 00 83 04 01020304`));
  assert.deepEqual(m.capabilities, [{ code: CapabilityCode.RouteRefresh }, { code: 0x83, unknown: true, value: Uint8Array.of(1, 2, 3, 4) }]);
});

test('OPEN: RFC 9072 extended optional parameters', () => {
  const many: Capability[] = Array.from({ length: 40 }, (_, i) => ({ code: CapabilityCode.Multiprotocol, afi: 1, safi: i + 1 }));
  const b = encodeOpen({ myAs: myAsField(4200000000), holdTime: 3, bgpId: '1.2.3.4', capabilities: many });
  assert.equal(b[28], 255);
  assert.equal(b[29], 255);
  const m = decodeOpen(b);
  assert.equal(m.myAs, 23456);
  assert.deepEqual(m.capabilities, many);
});

function openErr(code: number, subcode: number, errCode?: string) {
  return (e: unknown) => e instanceof BgpDecodeError && e.notifCode === code && e.notifSubcode === subcode && (!errCode || e.code === errCode);
}

test('OPEN: version, hold time, identifier, parameter overruns', () => {
  assert.throws(() => decodeOpen(hex(`${MARKER} 001d 01 03 fde9 005a 0a000001 00`)), (e: unknown) => openErr(2, 1)(e) && toHex((e as BgpDecodeError).data) === '0004');
  assert.throws(() => decodeOpen(hex(`${MARKER} 001d 01 04 fde9 0002 0a000001 00`)), openErr(2, 6));
  assert.doesNotThrow(() => decodeOpen(hex(`${MARKER} 001d 01 04 fde9 0000 0a000001 00`)));
  assert.throws(() => decodeOpen(hex(`${MARKER} 001d 01 04 fde9 005a 00000000 00`)), openErr(2, 3));
  assert.throws(() => decodeOpen(hex(`${MARKER} 001d 01 04 0000 005a 0a000001 00`)), openErr(2, 2), 'RFC 7607 AS 0');
  assert.throws(() => decodeOpen(hex(`${MARKER} 0025 01 04 5ba0 005a 0a000001 08 02 06 41 04 00000000`)), openErr(2, 2), 'RFC 7607 AS 0 in the capability');
  assert.throws(() => decodeOpen(hex(`${MARKER} 0021 01 04 fde9 005a 0a000001 08 02 06 01 04`)), openErr(2, 0, 'OPEN_OPT_PARAMS_LENGTH'));
  assert.throws(() => decodeOpen(hex(`${MARKER} 0021 01 04 fde9 005a 0a000001 04 02 06 01 04`)), openErr(2, 0, 'OPEN_OPT_PARAMS_TRUNCATED'));
  assert.throws(() => decodeOpen(hex(`${MARKER} 0021 01 04 fde9 005a 0a000001 04 02 02 01 04`)), openErr(2, 0, 'OPEN_CAPABILITY_TRUNCATED'));
  assert.throws(() => decodeOpen(hex(`${MARKER} 0021 01 04 fde9 005a 0a000001 04 02 02 01 00`)), openErr(2, 0, 'OPEN_CAPABILITY_MALFORMED'));
  assert.throws(() => decodeOpen(hex(`${MARKER} 0021 01 04 fde9 005a 0a000001 04 01 02 0000`)), openErr(2, 4));
});

test('OPEN: checkOpen peer AS and identifier', () => {
  // OPEN_HEX's My AS (65001) disagrees with its 4-octet AS 65537; a correct peer sends AS_TRANS.
  const m = { ...decodeOpen(hex(OPEN_HEX)), myAs: 23456 };
  assert.doesNotThrow(() => checkOpen(m, { peerAs: 65537, localBgpId: '10.0.0.1', ibgp: false }));
  assert.throws(() => checkOpen(m, { peerAs: 65001, localBgpId: '10.0.0.2', ibgp: false }), openErr(2, 2));
  assert.throws(() => checkOpen(m, { peerAs: 65537, localBgpId: '10.0.0.1', ibgp: true }), openErr(2, 3));
});

test('OPEN: checkOpen wants My AS to agree with the 4-octet AS capability (RFC 6793)', () => {
  const as4 = (asn: number): Capability => ({ code: CapabilityCode.FourOctetAs, asn });
  const open = (myAs: number, caps: Capability[]) => decodeOpen(encodeOpen({ myAs, holdTime: 90, bgpId: '10.0.0.2', capabilities: caps }));
  const expect = (peerAs: number) => ({ peerAs, localBgpId: '10.0.0.1', ibgp: false });
  // Accepted: the AS itself when it fits, AS_TRANS with the capability, AS_TRANS for a large AS.
  assert.doesNotThrow(() => checkOpen(open(65001, [as4(65001)]), expect(65001)));
  assert.doesNotThrow(() => checkOpen(open(23456, [as4(65001)]), expect(65001)));
  assert.doesNotThrow(() => checkOpen(open(23456, [as4(4200000000)]), expect(4200000000)));
  // Bad Peer AS: AS_TRANS without the capability, a different 2-octet AS, a 2-octet AS for a large one.
  assert.throws(() => checkOpen(open(23456, []), expect(23456)), (e: unknown) => openErr(2, 2)(e) && /lack of a 4-octet AS capability/.test((e as Error).message));
  assert.throws(() => checkOpen(open(65002, [as4(65001)]), expect(65001)), (e: unknown) => openErr(2, 2)(e) && /My AS field 65002 disagrees/.test((e as Error).message));
  assert.throws(() => checkOpen(open(65001, [as4(4200000000)]), expect(4200000000)), openErr(2, 2));
});

test('KEEPALIVE, NOTIFICATION, ROUTE-REFRESH bytes', () => {
  assert.equal(toHex(encodeKeepalive()), `${MARKER}001304`);
  assert.equal(toHex(encodeNotification({ code: 6, subcode: 2, data: Uint8Array.of(0) })), `${MARKER}0016030602` + '00');
  assert.deepEqual(decodeNotification(hex(`${MARKER} 0017 03 01 02 1001`)), { type: MessageType.Notification, code: 1, subcode: 2, data: Uint8Array.of(0x10, 0x01) });
  assert.equal(toHex(encodeRouteRefresh({ afi: 2, safi: 1, subtype: 1 })), `${MARKER}0017050002` + '0101');
  assert.deepEqual(decodeRouteRefresh(hex(`${MARKER} 0017 05 0001 02 01`)), { type: MessageType.RouteRefresh, afi: 1, safi: 1, subtype: 2 });
  assert.throws(() => decodeRouteRefresh(hex(`${MARKER} 0018 05 0001 02 01 00`)), openErr(7, 1));
  const long = encodeNotification({ code: 3, subcode: 1, data: new Uint8Array(5000) });
  assert.equal(long.length, 4096);
});

test('negotiateCodecOptions', () => {
  const local: Capability[] = [
    { code: CapabilityCode.FourOctetAs, asn: 64512 },
    { code: CapabilityCode.ExtendedMessage },
    { code: CapabilityCode.AddPath, families: [{ afi: 1, safi: 1, mode: 3 }, { afi: 2, safi: 1, mode: 1 }] },
  ];
  const remote: Capability[] = [
    { code: CapabilityCode.FourOctetAs, asn: 64513 },
    { code: CapabilityCode.AddPath, families: [{ afi: 1, safi: 1, mode: 1 }, { afi: 2, safi: 1, mode: 2 }] },
  ];
  const o = negotiateCodecOptions(local, remote, true);
  assert.equal(o.fourOctetAs, true);
  assert.equal(o.extendedMessages, false);
  assert.deepEqual([...o.addPathSend!], ['1/1']);
  assert.deepEqual([...o.addPathReceive!], ['2/1']);
});
