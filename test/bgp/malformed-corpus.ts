/**
 * Malformed (and borderline-valid) BGP messages, one or more per row of
 * `shared/bgp-robustness.md`, with the exact outcome RFC 4271 / RFC 7606 / RFC 6793 want.
 *
 * Two consumers: the codec's unit test (`src/bgp/wire/malformed.test.ts`) decodes each case, and the
 * speaker's socket test replays each over real TCP. For the replay, every case is self-contained:
 * bytes are a whole message written by hand here (never produced by our encoder), and the session
 * it needs is described by the constants below plus `opts` (iBGP, 4-octet AS) and `stage`:
 *   - stage 'open': `bytes` is the peer's OPEN; the speaker must answer with the NOTIFICATION.
 *   - stage 'established': the peer sends a normal OPEN and KEEPALIVE first, then `bytes`.
 * The peer's OPEN carries the 4-octet AS capability exactly when `opts.fourOctetAs` is set, and
 * uses AS CORPUS_IBGP_AS on iBGP cases.
 */
import type { CodecOptions } from '../../src/bgp/wire/types.js';

export const CORPUS_LOCAL_AS = 65000;
export const CORPUS_PEER_AS = 65001;
/** AS of both ends on iBGP cases. */
export const CORPUS_IBGP_AS = 65000;
export const CORPUS_LOCAL_ID = '198.18.0.1';
export const CORPUS_PEER_ID = '198.18.0.2';

export type CorpusExpect =
  | { kind: 'reset'; code: number; subcode: number; /** exact NOTIFICATION data, when it is defined */ data?: Uint8Array }
  | { kind: 'treat-as-withdraw' | 'attribute-discard'; diagnostic: string }
  | { kind: 'ok' };

export interface CorpusCase {
  /** Row of shared/bgp-robustness.md. */
  id: number;
  name: string;
  /** A whole BGP message, header included. */
  bytes: Uint8Array;
  opts: CodecOptions;
  expect: CorpusExpect;
  stage: 'open' | 'established';
}

// ---------------------------------------------------------------- hand assembly helpers

function hex(text: string): Uint8Array {
  const clean = text.replace(/#[^\n]*/g, '').replace(/\s/g, '');
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(clean)) throw new Error(`malformed-corpus: bad hex ${clean}`);
  return Uint8Array.from(Buffer.from(clean, 'hex'));
}
const h16 = (n: number) => n.toString(16).padStart(4, '0');
const MARKER = 'ff'.repeat(16);

/** A message with a correct length field around `body`. */
function msg(type: number, body: string): Uint8Array {
  const b = hex(body);
  return hex(`${MARKER} ${h16(19 + b.length)} ${type.toString(16).padStart(2, '0')} ${Buffer.from(b).toString('hex')}`);
}
/** An UPDATE with correct length fields around the three parts. */
function update(withdrawn: string, attrs: string, nlri: string): Uint8Array {
  const w = hex(withdrawn);
  const a = hex(attrs);
  return msg(2, `${h16(w.length)} ${Buffer.from(w).toString('hex')} ${h16(a.length)} ${Buffer.from(a).toString('hex')} ${nlri}`);
}

const EBGP4: CodecOptions = { fourOctetAs: true, extendedMessages: false, ibgp: false };
const EBGP2: CodecOptions = { fourOctetAs: false, extendedMessages: false, ibgp: false };
const IBGP4: CodecOptions = { fourOctetAs: true, extendedMessages: false, ibgp: true };

// Valid building blocks (4-octet session unless named 2).
const ORIGIN = '40 01 01 00';
const AS_PATH = '40 02 06 02 01 0000fde9'; // AS_SEQUENCE 65001
const AS_PATH2 = '40 02 04 02 01 fde9';
const AS_PATH_IBGP = '40 02 00';
const NEXT_HOP = '40 03 04 c6120002'; // 198.18.0.2
const BASE = `${ORIGIN} ${AS_PATH} ${NEXT_HOP}`;
const BASE2 = `${ORIGIN} ${AS_PATH2} ${NEXT_HOP}`;
const BASE_IBGP = `${ORIGIN} ${AS_PATH_IBGP} ${NEXT_HOP} 40 05 04 00000064`;
const NLRI = '18 0a4100'; // 10.65.0.0/24
/** MP_REACH for IPv6 unicast, next hop fd00::2, NLRI fd00:65::/64. */
const MP_REACH_V6 = '80 0e 1e 0002 01 10 fd000000000000000000000000000002 00 40 fd00006500000000';

function open(body: string): Uint8Array {
  return msg(1, body);
}
/** A valid OPEN body head: version 4, AS 65001, hold 90, id 198.18.0.2. */
const OPEN_HEAD = '04 fde9 005a c6120002';

const reset = (code: number, subcode: number, data?: string): CorpusExpect => (data === undefined ? { kind: 'reset', code, subcode } : { kind: 'reset', code, subcode, data: hex(data) });
const taw = (diagnostic: string): CorpusExpect => ({ kind: 'treat-as-withdraw', diagnostic });
const ad = (diagnostic: string): CorpusExpect => ({ kind: 'attribute-discard', diagnostic });
const ok: CorpusExpect = { kind: 'ok' };

function est(id: number, name: string, bytes: Uint8Array, expect: CorpusExpect, opts: CodecOptions = EBGP4): CorpusCase {
  return { id, name, bytes, opts, expect, stage: 'established' };
}
function atOpen(id: number, name: string, bytes: Uint8Array, expect: CorpusExpect, opts: CodecOptions = EBGP4): CorpusCase {
  return { id, name, bytes, opts, expect, stage: 'open' };
}

const as300 = Array.from({ length: 300 }, (_, i) => (i === 0 ? 65001 : 64512 + i).toString(16).padStart(8, '0'));

export const MALFORMED_CORPUS: readonly CorpusCase[] = [
  // 1
  est(1, 'marker not all ones', hex(`ffffffffffffffffffffffffffffff00 0013 04`), reset(1, 1)),
  // 2
  est(2, 'UPDATE longer than 4096 without extended messages', hex(`${MARKER} 1001 02 ${'00'.repeat(4096 - 19)}`), reset(1, 2, '1001')),
  est(2, 'length below the header size', hex(`${MARKER} 0012 04`), reset(1, 2, '0012')),
  est(2, 'OPEN of 28 bytes', hex(`${MARKER} 001c 01 04 fde9 005a c6120002`), reset(1, 2, '001c')),
  est(2, 'UPDATE of 22 bytes', hex(`${MARKER} 0016 02 0000 00`), reset(1, 2, '0016')),
  est(2, 'NOTIFICATION of 20 bytes', hex(`${MARKER} 0014 03 06`), reset(1, 2, '0014')),
  est(2, 'KEEPALIVE of 20 bytes', hex(`${MARKER} 0014 04 00`), reset(1, 2, '0014')),
  // 3
  est(3, 'unknown message type 9', hex(`${MARKER} 0013 09`), reset(1, 3, '09')),
  // 4
  atOpen(4, 'OPEN version 3', open('03 fde9 005a c6120002 00'), reset(2, 1, '0004')),
  // 5
  atOpen(5, 'hold time 1', open('04 fde9 0001 c6120002 00'), reset(2, 6)),
  atOpen(5, 'hold time 2', open('04 fde9 0002 c6120002 00'), reset(2, 6)),
  // 6
  atOpen(6, 'BGP identifier 0.0.0.0', open('04 fde9 005a 00000000 00'), reset(2, 3)),
  atOpen(6, 'iBGP peer uses our identifier', open('04 fde8 005a c6120001 08 02 06 41 04 0000fde8'), reset(2, 3), IBGP4),
  // 7
  atOpen(7, 'My AS differs from the configured peer AS', open('04 fe4b 005a c6120002 00'), reset(2, 2), EBGP2),
  atOpen(7, '4-octet AS capability differs from the configured peer AS', open(`${OPEN_HEAD} 08 02 06 41 04 0001fbd0`), reset(2, 2)),
  atOpen(7, 'My AS (65002) disagrees with the 4-octet AS capability (65001)', open('04 fdea 005a c6120002 08 02 06 41 04 0000fde9'), reset(2, 2)),
  // 8
  atOpen(8, 'optional parameters length overruns the message', open(`${OPEN_HEAD} 10 02 06 41 04 0000fde9`), reset(2, 0)),
  atOpen(8, 'capability length overruns its parameter', open(`${OPEN_HEAD} 08 02 06 41 09 0000fde9`), reset(2, 0)),
  atOpen(8, 'parameter length overruns the optional parameters', open(`${OPEN_HEAD} 04 02 10 41 04`), reset(2, 0)),
  // 9
  est(9, 'withdrawn length runs past the message', msg(2, '0010 18 0a4100 0000'), reset(3, 1)),
  est(9, 'withdrawn + attribute length + 23 > message length', msg(2, `0000 0020 ${BASE}`), reset(3, 1)),
  // 10
  est(10, 'an attribute length overruns the attribute section; NLRI still found', update('', `${ORIGIN} ${AS_PATH} 40 03 09 c6120002`, NLRI), taw('ATTR_LENGTH_OVERRUN')),
  est(10, 'attribute header truncated at the end of the section', update('', `${BASE} c0 08`, NLRI), taw('ATTR_HEADER_TRUNCATED')),
  // 11
  est(11, 'MP_REACH claims 200 bytes: NOTIFICATION data holds only what arrived', update('', `${BASE} 80 0e c8 0002 01 10 fd00`, ''), reset(3, 5, '800ec8000201 10 fd00')),
  // 12
  est(12, 'ORIGIN with the optional bit', update('', `c0 01 01 00 ${AS_PATH} ${NEXT_HOP}`, NLRI), taw('ORIGIN_BAD_FLAGS')),
  est(12, 'ORIGIN with the partial bit', update('', `60 01 01 00 ${AS_PATH} ${NEXT_HOP}`, NLRI), taw('ORIGIN_BAD_FLAGS')),
  // 13
  est(13, 'ORIGIN length 2', update('', `40 01 02 0000 ${AS_PATH} ${NEXT_HOP}`, NLRI), taw('ORIGIN_BAD_LENGTH')),
  est(13, 'ORIGIN value 3', update('', `40 01 01 03 ${AS_PATH} ${NEXT_HOP}`, NLRI), taw('ORIGIN_BAD_VALUE')),
  // 14
  est(14, 'AS_PATH segment type 5', update('', `${ORIGIN} 40 02 06 05 01 0000fde9 ${NEXT_HOP}`, NLRI), taw('AS_PATH_BAD_SEGMENT_TYPE')),
  est(14, 'AS_PATH segment of length 0', update('', `${ORIGIN} 40 02 08 02 01 0000fde9 02 00 ${NEXT_HOP}`, NLRI), taw('AS_PATH_EMPTY_SEGMENT')),
  est(14, 'AS_PATH segment overruns the attribute', update('', `${ORIGIN} 40 02 06 02 02 0000fde9 ${NEXT_HOP}`, NLRI), taw('AS_PATH_SEGMENT_OVERRUN')),
  // 15
  est(15, 'AS 0 in AS_PATH', update('', `${ORIGIN} 40 02 0a 02 02 0000fde9 00000000 ${NEXT_HOP}`, NLRI), taw('AS_PATH_AS0')),
  est(15, 'AS 0 in AGGREGATOR', update('', `${BASE} c0 07 08 00000000 c6120002`, NLRI), ad('AGGREGATOR_AS0')),
  // 16
  est(16, 'NEXT_HOP length 5', update('', `${ORIGIN} ${AS_PATH} 40 03 05 c612000200`, NLRI), taw('NEXT_HOP_BAD_LENGTH')),
  est(16, 'NEXT_HOP 0.0.0.0', update('', `${ORIGIN} ${AS_PATH} 40 03 04 00000000`, NLRI), taw('NEXT_HOP_INVALID')),
  est(16, 'NEXT_HOP 127.0.0.1', update('', `${ORIGIN} ${AS_PATH} 40 03 04 7f000001`, NLRI), taw('NEXT_HOP_INVALID')),
  est(16, 'NEXT_HOP 224.0.0.5', update('', `${ORIGIN} ${AS_PATH} 40 03 04 e0000005`, NLRI), taw('NEXT_HOP_INVALID')),
  // 17
  est(17, 'MED length 3', update('', `${BASE} 80 04 03 000064`, NLRI), taw('MED_BAD_LENGTH')),
  // 18
  est(18, 'LOCAL_PREF from an eBGP peer', update('', `${BASE} 40 05 04 00000064`, NLRI), ad('LOCAL_PREF_FROM_EBGP')),
  est(18, 'LOCAL_PREF length 3 from an iBGP peer', update('', `${ORIGIN} ${AS_PATH_IBGP} ${NEXT_HOP} 40 05 03 000064`, NLRI), taw('LOCAL_PREF_BAD_LENGTH'), IBGP4),
  // 19
  est(19, 'ATOMIC_AGGREGATE length 1', update('', `${BASE} 40 06 01 00`, NLRI), ad('ATOMIC_AGGREGATE_BAD_LENGTH')),
  est(19, 'AGGREGATOR length 6 on a 4-octet session', update('', `${BASE} c0 07 06 fde9 c6120002`, NLRI), ad('AGGREGATOR_BAD_LENGTH')),
  // 20
  est(20, 'COMMUNITIES length 0', update('', `${BASE} c0 08 00`, NLRI), taw('COMMUNITIES_BAD_LENGTH')),
  est(20, 'COMMUNITIES length 5', update('', `${BASE} c0 08 05 fde90064 01`, NLRI), taw('COMMUNITIES_BAD_LENGTH')),
  est(20, 'EXTENDED_COMMUNITIES length 7', update('', `${BASE} c0 10 07 00020000fde900`, NLRI), taw('EXTENDED_COMMUNITIES_BAD_LENGTH')),
  est(20, 'LARGE_COMMUNITIES length 11', update('', `${BASE} c0 20 0b 0000fde9 00000001 000000`, NLRI), taw('LARGE_COMMUNITIES_BAD_LENGTH')),
  // 21
  est(21, 'ORIGINATOR_ID length 3 from eBGP', update('', `${BASE} 80 09 03 c61200`, NLRI), ad('ORIGINATOR_ID_BAD_LENGTH')),
  est(21, 'ORIGINATOR_ID length 3 from iBGP', update('', `${BASE_IBGP} 80 09 03 c61200`, NLRI), taw('ORIGINATOR_ID_BAD_LENGTH'), IBGP4),
  est(21, 'CLUSTER_LIST length 5 from eBGP', update('', `${BASE} 80 0a 05 c612000100`, NLRI), ad('CLUSTER_LIST_BAD_LENGTH')),
  est(21, 'CLUSTER_LIST length 0 from iBGP', update('', `${BASE_IBGP} 80 0a 00`, NLRI), taw('CLUSTER_LIST_BAD_LENGTH'), IBGP4),
  // 22
  est(22, 'ORIGIN repeated: first kept', update('', `${ORIGIN} 40 01 01 02 ${AS_PATH} ${NEXT_HOP}`, NLRI), ad('ATTR_REPEATED')),
  est(22, 'MP_REACH repeated', update('', `${MP_REACH_V6} ${ORIGIN} ${AS_PATH} ${MP_REACH_V6}`, ''), reset(3, 1)),
  est(22, 'MP_UNREACH repeated', update('', '80 0f 03 0002 01 80 0f 03 0002 01', ''), reset(3, 1)),
  // 23
  est(23, 'MP_REACH IPv6 next-hop length 5', update('', `80 0e 13 0002 01 05 fd00000000 00 40 fd00006500000000 ${ORIGIN} ${AS_PATH}`, ''), reset(3, 9)),
  est(23, 'MP_REACH next-hop length overruns the attribute', update('', `80 0e 08 0002 01 10 fd000000 ${ORIGIN} ${AS_PATH}`, ''), reset(3, 9)),
  est(23, 'MP_REACH NLRI truncated', update('', `80 0e 1a 0002 01 10 fd000000000000000000000000000002 00 40 fd000065 ${ORIGIN} ${AS_PATH}`, ''), reset(3, 10)),
  // 24
  est(24, 'MP_UNREACH of 2 bytes', update('', '80 0f 02 0002', ''), reset(3, 9)),
  est(24, 'MP_UNREACH NLRI truncated', update('', '80 0f 06 0002 01 40 fd00', ''), reset(3, 10)),
  // 25
  est(25, 'ORIGIN missing with NLRI', update('', `${AS_PATH} ${NEXT_HOP}`, NLRI), taw('MISSING_WELL_KNOWN')),
  est(25, 'NEXT_HOP missing with NLRI', update('', `${ORIGIN} ${AS_PATH}`, NLRI), taw('MISSING_WELL_KNOWN')),
  est(25, 'AS_PATH missing with MP_REACH NLRI', update('', `${MP_REACH_V6} ${ORIGIN}`, ''), taw('MISSING_WELL_KNOWN')),
  est(25, 'no attributes at all with NLRI', update('', '', NLRI), taw('MISSING_WELL_KNOWN')),
  est(25, 'withdrawn-only UPDATE needs no attributes', update(NLRI, '', ''), ok),
  // 26
  est(26, 'empty-looking UPDATE with one malformed attribute is not End-of-RIB', update('', '40 01 02 0000', ''), taw('ORIGIN_BAD_LENGTH')),
  est(26, 'MP_UNREACH End-of-RIB look-alike with a malformed attribute', update('', '80 0f 03 0002 01 c0 08 03 000000', ''), taw('COMMUNITIES_BAD_LENGTH')),
  est(26, 'End-of-RIB look-alike whose only attribute overruns', update('', '80 0f 03 0002 01 c0 08 09 00', ''), taw('ATTR_LENGTH_OVERRUN')),
  // 27
  est(27, 'IPv4 NLRI prefix length 33', update('', BASE, '21 0a410000 00'), reset(3, 10)),
  est(27, 'IPv4 NLRI prefix overruns the message', update('', BASE, '18 0a41'), reset(3, 10)),
  est(27, 'IPv4 withdrawn prefix length 40', update('28 0a410000 00', '', ''), reset(3, 10)),
  est(27, 'IPv6 NLRI prefix length 129', update('', `80 0e 1e 0002 01 10 fd000000000000000000000000000002 00 81 fd00006500000000 ${ORIGIN} ${AS_PATH}`, ''), reset(3, 10)),
  // 28
  est(28, 'unknown optional transitive attribute is kept', update('', `${BASE} c0 63 02 abcd`, NLRI), ok),
  est(28, 'unknown optional non-transitive attribute is dropped', update('', `${BASE} 80 64 02 abcd`, NLRI), ok),
  est(28, 'unknown well-known attribute', update('', `${BASE} 40 65 02 abcd`, NLRI), reset(3, 2, '406502abcd')),
  // 29
  est(29, 'garbage in an optional transitive attribute we do not interpret (tunnel encapsulation, type 23)', update('', `${BASE} c0 17 05 ffff000000`, NLRI), ok),
  est(29, 'malformed AS4_AGGREGATOR from a 2-octet peer', update('', `${BASE2} c0 12 07 0001000a c61200`, NLRI), ad('AS4_AGGREGATOR_BAD_LENGTH'), EBGP2),
  // 30
  est(30, 'AS4_PATH from a 4-octet peer is ignored', update('', `${BASE} c0 11 06 02 01 0000fde9`, NLRI), ad('AS4_PATH_FROM_4OCTET_PEER')),
  est(30, 'AS4_PATH longer than AS_PATH is ignored', update('', `${BASE2} c0 11 0a 02 02 0000fde9 00010000`, NLRI), ad('AS4_PATH_LONGER_THAN_AS_PATH'), EBGP2),
  est(30, 'AS4_PATH before AS_PATH: order does not matter', update('', `${ORIGIN} c0 11 0a 02 02 0000fde9 00010000 40 02 06 02 02 fde9 5ba0 ${NEXT_HOP}`, NLRI), ok, EBGP2),
  // 31
  est(31, 'AS_PATH of 300 ASNs in two segments (re-encoding must split at 255)', update('', `${ORIGIN} 50 02 ${h16(4 + 300 * 4)} 02 ff ${as300.slice(0, 255).join('')} 02 2d ${as300.slice(255).join('')} ${NEXT_HOP}`, NLRI), ok),
];
