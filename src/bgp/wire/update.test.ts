import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode } from './decode.js';
import { decodeUpdate, isEndOfRib } from './update.js';
import { encodeUpdate } from './encode-update.js';
import { encodeEndOfRib, packUpdates, packWithdrawals } from './pack.js';
import { encodeAsPath } from './attributes.js';
import { ipv6Text, parseIpv6 } from './prefix.js';
import { AS_TRANS, AsPathSegmentType, MessageType, type CodecOptions, type PathAttributes, type UpdateMessage } from './types.js';
import { hex, MARKER, toHex } from './test-util.js';

const OLD: CodecOptions = { fourOctetAs: false, extendedMessages: false, ibgp: false };
const NEW: CodecOptions = { fourOctetAs: true, extendedMessages: false, ibgp: false };

// Hand-assembled per RFC 4271 §4.3 for a 2-octet-AS session.
const V4_UPDATE = `${MARKER} 0042 02
  0000                    # no withdrawn routes
  0022                    # 34 bytes of attributes
  40 01 01 00             # ORIGIN IGP
  40 02 06 02 02 fde9 fdea  # AS_PATH AS_SEQUENCE 65001 65002
  40 03 04 0a000001       # NEXT_HOP 10.0.0.1
  80 04 04 00000064       # MED 100
  c0 08 04 fde90064       # COMMUNITIES 65001:100
  18 0a0000               # 10.0.0.0/24
  1e c0a80004             # 192.168.0.4/30
`;

const V4_DECODED: UpdateMessage = {
  type: MessageType.Update,
  withdrawn: [],
  attrs: {
    origin: 0,
    asPath: [{ type: AsPathSegmentType.AsSequence, asns: [65001, 65002] }],
    nextHop: '10.0.0.1',
    med: 100,
    communities: [(65001 * 65536 + 100) >>> 0],
  },
  nlri: [{ prefix: '10.0.0.0/24' }, { prefix: '192.168.0.4/30' }],
};

// RFC 4760 §3 / RFC 2545 §3 for a 4-octet-AS session: global + link-local next hop.
const V6_UPDATE = `${MARKER} 0059 02
  0000 0042
  80 0e 2e 0002 01 20
     20010db8000000000000000000000001
     fe800000000000000000000000000001
     00
     40 20010db800010000   # 2001:db8:1::/64
  40 01 01 00
  40 02 0a 02 02 0000fde9 00010000   # AS_SEQUENCE 65001 65536
`;

test('UPDATE: decode a hand-written IPv4 vector', () => {
  const m = decode(hex(V4_UPDATE), OLD) as UpdateMessage;
  const { attrsKey, nlriKeys, ...rest } = m;
  assert.deepEqual(rest, V4_DECODED);
  // 2^len + the top len bits: 10.0.0.0/24 and 192.168.0.4/30.
  assert.deepEqual(nlriKeys, [2 ** 24 + 0x0a0000, 2 ** 30 + 0xc0a80004 / 4]);
  assert.equal(attrsKey, '2e' + Buffer.from(hex(V4_UPDATE).subarray(23, 57)).toString('latin1'));
});

test('UPDATE: encode gives the hand-written bytes', () => {
  assert.equal(toHex(encodeUpdate(V4_DECODED, OLD)), toHex(hex(V4_UPDATE)));
});

test('UPDATE: IPv6 MP_REACH with link-local next hop, 4-octet AS', () => {
  const m = decodeUpdate(hex(V6_UPDATE), NEW);
  assert.deepEqual(m.mpReach, { afi: 2, safi: 1, nextHops: ['2001:db8::1', 'fe80::1'], nlri: [{ prefix: '2001:db8:1::/64' }] });
  assert.deepEqual(m.attrs, { origin: 0, asPath: [{ type: AsPathSegmentType.AsSequence, asns: [65001, 65536] }] });
  assert.equal(m.diagnostics, undefined);
  assert.equal(toHex(encodeUpdate(m, NEW)), toHex(hex(V6_UPDATE)));
});

test('NLRI host bits are masked; add-path path ids', () => {
  const m = decodeUpdate(hex(`${MARKER} 001f 02 0000 0000 18 0a0000 17 0a0001`), OLD);
  // NLRI without attributes is TaW (RFC 7606 §3(d)); the prefixes are reported, host bits cleared.
  assert.deepEqual(m.nlri, [{ prefix: '10.0.0.0/24' }, { prefix: '10.0.0.0/23' }]);
  assert.equal(m.treatAsWithdraw, true);
  const w = decodeUpdate(hex(`${MARKER} 001f 02 0008 18 0a0000 17 0a0001 0000`), OLD);
  assert.deepEqual(w.withdrawn, [{ prefix: '10.0.0.0/24' }, { prefix: '10.0.0.0/23' }]);
  const ap: CodecOptions = { ...OLD, addPathReceive: new Set(['1/1']) };
  const a = decodeUpdate(hex(`${MARKER} 0024 02 000d 00000007 18 0a0000 00000001 00 0000`), ap);
  assert.deepEqual(a.withdrawn, [{ prefix: '10.0.0.0/24', pathId: 7 }, { prefix: '0.0.0.0/0', pathId: 1 }]);
});

test('IPv6 text is canonical RFC 5952, as Node\'s URL serialiser prints it', () => {
  const vectors: [string, string][] = [
    ['2001:0db8:0000:0000:0000:0000:0002:0001', '2001:db8::2:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['fe80:0:0:0:0:0:0:0', 'fe80::'],
    ['2001:DB8::AbC', '2001:db8::abc'],
  ];
  const buf = new Uint8Array(16);
  for (const [input, want] of vectors) {
    assert.ok(parseIpv6(input, buf, 0), input);
    assert.equal(ipv6Text(buf, 0), want);
  }
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 16;
  for (let n = 0; n < 2000; n++) {
    for (let i = 0; i < 8; i++) {
      const g = rnd() % 3 === 0 ? rnd() & 0xffff : 0;
      buf[2 * i] = g >> 8;
      buf[2 * i + 1] = g & 0xff;
    }
    const text = ipv6Text(buf, 0);
    assert.equal(text, new URL(`http://[${text}]/`).hostname.slice(1, -1));
    const back = new Uint8Array(16);
    assert.ok(parseIpv6(text, back, 0));
    assert.deepEqual(back, buf);
  }
});

test('RFC 6793: 2-octet peer path rebuilt from AS4_PATH, in either attribute order', () => {
  const as4 = '40 02 06 02 02 fde9 5ba0   c0 11 0a 02 02 0000fde9 00010000';
  const asPathLast = 'c0 11 0a 02 02 0000fde9 00010000   40 02 06 02 02 fde9 5ba0';
  for (const attrs of [as4, asPathLast]) {
    const body = hex(`40 01 01 00 ${attrs} 40 03 04 0a000001`);
    const msg = hex(`${MARKER} ${(23 + body.length + 4).toString(16).padStart(4, '0')} 02 0000 ${body.length.toString(16).padStart(4, '0')} ${toHex(body)} 18 0a0000`);
    const m = decodeUpdate(msg, OLD);
    assert.equal(m.diagnostics, undefined);
    assert.deepEqual(m.attrs.asPath, [{ type: AsPathSegmentType.AsSequence, asns: [65001, 65536] }]);
  }
});

test('AS_PATH longer than 255 ASNs is split; 4-octet ASNs to a 2-octet peer use AS_TRANS + AS4_PATH', () => {
  const asns = Array.from({ length: 600 }, (_, i) => 64512 + (i % 1000) + (i === 3 ? 100000 : 0));
  const attrs: PathAttributes = { origin: 0, asPath: [{ type: AsPathSegmentType.AsSequence, asns }, { type: AsPathSegmentType.AsSet, asns: [] }], nextHop: '10.0.0.1' };
  const bytes = encodeAsPath(attrs.asPath!, 4);
  assert.deepEqual([bytes[0], bytes[1]], [2, 255]);
  assert.deepEqual([bytes[2 + 255 * 4], bytes[3 + 255 * 4]], [2, 255]);
  assert.deepEqual([bytes[4 + 510 * 4], bytes[5 + 510 * 4]], [2, 90]);
  assert.equal(bytes.length, 6 + 600 * 4, 'the empty AS_SET is not emitted');
  const [msg] = packUpdates(attrs, ['10.1.0.0/16'], OLD, { afi: 1 });
  const raw = decodeUpdate(msg!, { ...NEW, fourOctetAs: false });
  assert.deepEqual(raw.attrs.asPath!.flatMap((s) => s.asns), asns, '2-octet decode merges AS4_PATH back');
  // Without the merge, the AS_PATH carries AS_TRANS in place of the 4-octet ASN.
  const two = encodeAsPath(attrs.asPath!, 2);
  assert.equal((two[2 + 3 * 2]! << 8) | two[3 + 3 * 2]!, AS_TRANS);
});

test('End-of-RIB: IPv4 empty UPDATE, MP_UNREACH without NLRI', () => {
  const v4 = encodeEndOfRib(1, 1, OLD);
  assert.equal(toHex(v4), `${MARKER}0017020000` + '0000');
  assert.deepEqual(isEndOfRib(decodeUpdate(v4, OLD)), { afi: 1, safi: 1 });
  const v6 = encodeEndOfRib(2, 1, OLD);
  assert.equal(toHex(v6), `${MARKER}001d020000` + '0006' + '800f03000201');
  assert.deepEqual(isEndOfRib(decodeUpdate(v6, OLD)), { afi: 2, safi: 1 });
  assert.equal(isEndOfRib(decodeUpdate(hex(V4_UPDATE), OLD)), undefined);
  assert.equal(isEndOfRib(decodeUpdate(hex(`${MARKER} 001b 02 0000 0004 c0 63 01 00`), OLD)), undefined, 'attributes present: not EoR');
});

function decodeAll(msgs: Uint8Array[], opts: CodecOptions): UpdateMessage[] {
  return msgs.map((m) => decode(m, opts) as UpdateMessage);
}

test('packUpdates: IPv4 /30s fill 4096-byte UPDATEs exactly', () => {
  const uniq = Array.from({ length: 5000 }, (_, i) => `10.${i >> 6}.0.${(i & 63) << 2}/30`);
  const attrs: PathAttributes = { origin: 0, asPath: [{ type: AsPathSegmentType.AsSequence, asns: [65001] }], nextHop: '198.18.0.1' };
  const msgs = packUpdates(attrs, uniq, OLD, { afi: 1 });
  const attrLen = 4 + 7 + 7; // ORIGIN, AS_PATH (one 2-octet ASN), NEXT_HOP
  const perMsg = Math.floor((4096 - 23 - attrLen) / 5);
  assert.equal(msgs.length, Math.ceil(5000 / perMsg));
  assert.ok(msgs.every((m) => m.length <= 4096));
  assert.equal(msgs[0]!.length, 23 + attrLen + perMsg * 5);
  const got = decodeAll(msgs, OLD);
  assert.deepEqual(got.flatMap((u) => u.nlri.map((n) => n.prefix)), uniq);
  assert.ok(got.every((u) => u.attrs.nextHop === '198.18.0.1' && !u.treatAsWithdraw));
  const w = packWithdrawals(uniq, OLD, { afi: 1 });
  assert.equal(w.length, Math.ceil(5000 / Math.floor((4096 - 23) / 5)));
  assert.deepEqual(decodeAll(w, OLD).flatMap((u) => u.withdrawn.map((n) => n.prefix)), uniq);
});

test('packUpdates / packWithdrawals: IPv6 via MP_REACH / MP_UNREACH, extended messages, add-path', () => {
  const opts: CodecOptions = { ...NEW, extendedMessages: true, addPathSend: new Set(['2/1']), addPathReceive: new Set(['2/1']) };
  const prefixes = Array.from({ length: 9000 }, (_, i) => ({ prefix: `fd00:${(i + 1).toString(16)}::/64`, pathId: i % 3 }));
  const attrs: PathAttributes = { origin: 2, asPath: [], nextHop: '10.0.0.1', largeCommunities: [{ globalAdmin: 1, localData1: 2, localData2: 3 }] };
  const msgs = packUpdates(attrs, prefixes, opts, { afi: 2, nextHops: ['fd00::1'] });
  assert.ok(msgs.length > 1 && msgs.every((m) => m.length <= 65535));
  const got = decodeAll(msgs, opts);
  assert.deepEqual(got.flatMap((u) => u.mpReach!.nlri), prefixes);
  assert.ok(got.every((u) => u.attrs.nextHop === undefined && u.mpReach!.nextHops[0] === 'fd00::1' && u.attrs.largeCommunities!.length === 1));
  const w = packWithdrawals(prefixes, opts, { afi: 2 });
  assert.deepEqual(decodeAll(w, opts).flatMap((u) => u.mpUnreach!.withdrawn), prefixes);
});

test('attrCache: identical attribute bytes decode once and share one object', () => {
  const opts: CodecOptions = { ...OLD, attrCache: new Map() };
  const a = decodeUpdate(hex(V4_UPDATE), opts);
  const b = decodeUpdate(hex(V4_UPDATE), opts);
  assert.equal(a.attrs, b.attrs);
  assert.equal(a.attrsKey, b.attrsKey);
  assert.equal(opts.attrCache!.size, 1);
  assert.deepEqual(b.nlri, V4_DECODED.nlri);
});

test('unknown optional transitive kept and re-sent with the Partial bit; non-transitive dropped', () => {
  const body = '40 01 01 00 40 02 00 40 03 04 0a000001 c0 63 02 abcd 80 64 01 ff';
  const len = hex(body).length;
  const m = decodeUpdate(hex(`${MARKER} ${(27 + len).toString(16).padStart(4, '0')} 02 0000 00${len.toString(16)} ${body} 18 0a0000`), OLD);
  assert.deepEqual(m.attrs.unknown, [{ flags: 0xc0, type: 0x63, value: Uint8Array.of(0xab, 0xcd) }]);
  const out = encodeUpdate(m, OLD);
  assert.ok(toHex(out).includes('e06302abcd'), 'Partial bit (0x20) set on re-advertisement');
  assert.ok(!toHex(out).includes('806401ff'));
});

test('parseIpv6 accepts exactly what node:net isIPv6 accepts (random strings)', async () => {
  const { isIPv6 } = await import('node:net');
  const alphabet = '0123456789abcdefABCDEF::::..';
  let seed = 99;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296;
  const buf = new Uint8Array(16);
  for (let n = 0; n < 50000; n++) {
    let s = '';
    const len = 1 + Math.floor(rnd() * 24);
    for (let i = 0; i < len; i++) s += alphabet[Math.floor(rnd() * alphabet.length)];
    // Dotted parts with leading zeros are a known difference we do not care about.
    if (/(^|[.:])0\d/.test(s) && s.includes('.')) continue;
    assert.equal(parseIpv6(s, buf, 0), isIPv6(s), s);
  }
  for (const s of ['::', '::1', '1::', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:1.2.3.4', '::ffff:10.0.0.1', 'fe80::1:2']) assert.ok(parseIpv6(s, buf, 0), s);
  for (const s of [':', ':1', '1:', '1:::2', '1::2::3', '1:2:3:4:5:6:7:8:9', '12345::', '1:2:3:4:5:6:7:1.2.3.4', '::1.2.3']) assert.ok(!parseIpv6(s, buf, 0), s);
});

test('add-path IPv4: packUpdates / packWithdrawals carry path ids, decode gives them back', () => {
  const opts: CodecOptions = { ...NEW, addPathSend: new Set(['1/1']), addPathReceive: new Set(['1/1']) };
  const prefixes = Array.from({ length: 2000 }, (_, i) => ({ prefix: `10.${i >> 8}.${i & 255}.0/24`, pathId: i + 1 }));
  const attrs: PathAttributes = { origin: 0, asPath: [{ type: AsPathSegmentType.AsSequence, asns: [65001] }], nextHop: '10.0.0.1' };
  const msgs = packUpdates(attrs, prefixes, opts, { afi: 1 });
  // Each /24 with a path id is 4 + 1 + 3 bytes.
  assert.equal(msgs.length, Math.ceil(2000 / Math.floor((4096 - 23 - (4 + 9 + 7)) / 8)));
  assert.deepEqual(msgs.flatMap((m) => decodeUpdate(m, opts).nlri), prefixes);
  const w = packWithdrawals(prefixes, opts, { afi: 1 });
  assert.deepEqual(w.flatMap((m) => decodeUpdate(m, opts).withdrawn), prefixes);
  // Without add-path negotiated the same bytes are garbage NLRI, not silently misread path ids.
  assert.throws(() => decodeUpdate(msgs[0]!, NEW));
});

test('extended messages: a 65535-byte UPDATE frames across chunk splits and decodes', async () => {
  const { Framer } = await import('./framer.js');
  const opts: CodecOptions = { ...NEW, extendedMessages: true };
  const prefixes = Array.from({ length: 20000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
  const msgs = packUpdates({ origin: 0, asPath: [], nextHop: '10.0.0.1' }, prefixes, opts, { afi: 1 });
  assert.ok(msgs[0]!.length > 65000 && msgs[0]!.length <= 65535);
  const stream = Uint8Array.from(msgs.flatMap((m) => [...m]));
  for (const cut of [1, 18, 19, 4096, 65534, 65535, 65536, stream.length - 1]) {
    const f = new Framer({ extendedMessages: true });
    const got = [...f.push(stream.subarray(0, cut)), ...f.push(stream.subarray(cut))];
    assert.deepEqual(got.flatMap((m) => decodeUpdate(m, opts).nlri.map((n) => n.prefix)), prefixes, `cut at ${cut}`);
  }
  assert.throws(() => new Framer().push(msgs[0]!), /bad length/, 'without extended messages the same UPDATE is a header error');
});
