/**
 * Fuzzer for the BGP wire codec: random and mutated messages (bit flips, length-field corruptions,
 * truncations, insertions, splices of valid messages) through the Framer and `decode`.
 *
 * Properties checked for every input:
 *  1. Nothing but BgpDecodeError is ever thrown by the framer or the decoder.
 *  2. Decoding never reads out of bounds: the message decoded from a tight copy and from a view
 *     inside a larger buffer full of junk give the same result, and no decoded number is NaN
 *     (an out-of-range index on a Uint8Array reads `undefined`, which would surface as NaN).
 *  3. Re-encoding a successfully decoded message decodes to the same value.
 *  4. Framing a stream of mutated messages in random chunks yields the same frames as framing it
 *     in one piece, up to the first header error.
 *
 *   node dist/test/fuzz/bgp-fuzz.js [--seed N] [--count N] [--seconds S]
 *
 * Prints the seed; the same seed replays the same inputs.
 */
import { isDeepStrictEqual } from 'node:util';
import { pathToFileURL } from 'node:url';
import {
  AsPathSegmentType,
  BgpDecodeError,
  BgpEncodeError,
  CapabilityCode,
  Framer,
  MessageType,
  decode,
  encodeEndOfRib,
  encodeKeepalive,
  encodeNotification,
  encodeOpen,
  encodeRouteRefresh,
  encodeUpdate,
  packUpdates,
  packWithdrawals,
  type BgpMessage,
  type CodecOptions,
  type UpdateMessage,
} from '../../src/bgp/wire/index.js';
import { MALFORMED_CORPUS } from '../bgp/malformed-corpus.js';

export interface FuzzOptions {
  seed: number;
  count: number;
  /** Stop early after this many seconds (the count is then not reached; reported). */
  seconds: number;
  log?: (line: string) => void;
}

export interface FuzzFailure {
  index: number;
  property: string;
  detail: string;
  hex: string;
}

export interface FuzzResult {
  seed: number;
  ran: number;
  decoded: number;
  rejected: number;
  reencoded: number;
  /** How many inputs each BgpDecodeError code rejected. */
  rejectedBy: Record<string, number>;
  failures: FuzzFailure[];
  seconds: number;
}

/** mulberry32: tiny, fast, and good enough to drive mutations reproducibly. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const OPTION_SETS: CodecOptions[] = [
  { fourOctetAs: true, extendedMessages: false, ibgp: false },
  { fourOctetAs: false, extendedMessages: false, ibgp: false },
  { fourOctetAs: true, extendedMessages: true, ibgp: true },
  { fourOctetAs: true, extendedMessages: false, ibgp: false, addPathReceive: new Set(['1/1', '2/1']), addPathSend: new Set(['1/1', '2/1']) },
];

/** Valid messages the mutators start from. */
function seeds(): Uint8Array[] {
  const o4 = OPTION_SETS[0]!;
  const o2 = OPTION_SETS[1]!;
  const out: Uint8Array[] = [
    encodeKeepalive(),
    encodeNotification({ code: 6, subcode: 2, data: Uint8Array.of(4, 0x62, 0x79, 0x65, 0x21) }),
    encodeRouteRefresh({ afi: 2, safi: 1, subtype: 1 }),
    encodeEndOfRib(1, 1, o4),
    encodeEndOfRib(2, 1, o4),
    encodeOpen({
      myAs: 23456,
      holdTime: 90,
      bgpId: '198.18.0.2',
      capabilities: [
        { code: CapabilityCode.Multiprotocol, afi: 1, safi: 1 },
        { code: CapabilityCode.Multiprotocol, afi: 2, safi: 1 },
        { code: CapabilityCode.RouteRefresh },
        { code: CapabilityCode.FourOctetAs, asn: 4200000001 },
        { code: CapabilityCode.GracefulRestart, restarting: true, notification: false, restartTime: 120, families: [{ afi: 1, safi: 1, forwardingPreserved: true }] },
        { code: CapabilityCode.AddPath, families: [{ afi: 1, safi: 1, mode: 3 }] },
        { code: CapabilityCode.ExtendedMessage },
        { code: 0x83, unknown: true, value: Uint8Array.of(1, 2) },
      ],
    }),
  ];
  const attrs = {
    origin: 0,
    asPath: [
      { type: AsPathSegmentType.AsSequence, asns: [65001, 4200000001, 65002] },
      { type: AsPathSegmentType.AsSet, asns: [1, 2] },
    ],
    nextHop: '198.18.0.2',
    med: 5,
    atomicAggregate: true,
    aggregator: { asn: 4200000001, address: '198.18.0.9' },
    communities: [0xfde90064],
    extendedCommunities: [Uint8Array.of(0, 2, 0xfd, 0xe9, 0, 0, 0, 1)],
    largeCommunities: [{ globalAdmin: 65001, localData1: 1, localData2: 2 }],
    originatorId: '198.18.0.3',
    clusterList: ['198.18.0.4'],
    unknown: [{ flags: 0xc0, type: 99, value: Uint8Array.of(9, 9) }],
  };
  const v4 = Array.from({ length: 12 }, (_, i) => `10.${i}.${i * 4}.0/${22 + (i % 11)}`);
  const v6 = Array.from({ length: 6 }, (_, i) => `fd00:${i + 1}::/${48 + i * 13}`);
  out.push(...packUpdates(attrs, v4, o4, { afi: 1 }));
  out.push(...packUpdates(attrs, v4, o2, { afi: 1 }));
  out.push(...packUpdates({ origin: 1, asPath: [] }, v6, o4, { afi: 2, nextHops: ['fd00::1', 'fe80::1'] }));
  out.push(...packWithdrawals(v4, o4, { afi: 1 }));
  out.push(...packWithdrawals(v6, o4, { afi: 2 }));
  out.push(encodeUpdate({ withdrawn: [{ prefix: '10.9.0.0/16' }], attrs, nlri: [{ prefix: '10.1.0.0/16' }], mpUnreach: { afi: 2, safi: 1, withdrawn: [{ prefix: 'fd00::/8' }] } }, o4));
  for (const c of MALFORMED_CORPUS) out.push(c.bytes);
  return out;
}

function fixLength(m: Uint8Array): Uint8Array {
  if (m.length >= 18) {
    m[16] = (m.length >>> 8) & 0xff;
    m[17] = m.length & 0xff;
  }
  return m;
}

/** Makes an UPDATE's Total Path Attribute Length cover everything up to where the NLRI starts. */
function repairUpdate(m: Uint8Array): void {
  if (m.length < 23 || m[18] !== MessageType.Update) return;
  const wlen = (m[19]! << 8) | m[20]!;
  const at = 21 + wlen;
  if (at + 2 > m.length) return;
  const alen = (m[at]! << 8) | m[at + 1]!;
  if (at + 2 + alen <= m.length) return;
  const fixed = m.length - at - 2;
  m[at] = fixed >>> 8;
  m[at + 1] = fixed & 0xff;
}

/** One mutated (or fully random) message. */
function mutate(rnd: () => number, pool: readonly Uint8Array[]): Uint8Array {
  const pick = () => pool[Math.floor(rnd() * pool.length)]!;
  const int = (n: number) => Math.floor(rnd() * n);
  let m = pick().slice();
  const kind = int(8);
  const rounds = 1 + int(3);
  for (let r = 0; r < rounds; r++) {
    switch ((kind + r) % 8) {
      case 0: {
        // Mostly past the header: flipped marker bits are one check, the body is many.
        const i = rnd() < 0.1 ? int(m.length) : 19 + int(Math.max(1, m.length - 19));
        m[i]! ^= 1 << int(8);
        break;
      }
      case 1: {
        // A boundary value at a random position past the marker.
        m[19 + int(Math.max(1, m.length - 19))] = [0, 1, 0x7f, 0x80, 0xff, int(256)][int(6)]!;
        break;
      }
      case 2: {
        // A 2-octet length field: header, withdrawn, attribute length, or anywhere.
        const at = [16, 19, 19 + 2 + ((m[19]! << 8) | m[20]!), 19 + int(Math.max(1, m.length - 20))][int(4)]!;
        if (at + 1 < m.length) {
          const old = (m[at]! << 8) | m[at + 1]!;
          const v = rnd() < 0.5 ? old + int(9) - 4 : int(65536);
          m[at] = (v >>> 8) & 0xff;
          m[at + 1] = v & 0xff;
        }
        break;
      }
      case 3: {
        const at = 19 + int(Math.max(1, m.length - 19));
        m = m.slice(0, at);
        break;
      }
      case 4: {
        const other = pick();
        const cut = 19 + int(Math.max(1, m.length - 19));
        const from = 19 + int(Math.max(1, other.length - 19));
        const s = new Uint8Array(cut + other.length - from);
        s.set(m.subarray(0, cut), 0);
        s.set(other.subarray(from), cut);
        m = s;
        break;
      }
      case 5: {
        const at = 19 + int(Math.max(1, m.length - 19));
        const n = 1 + int(8);
        const s = new Uint8Array(m.length + n);
        s.set(m.subarray(0, at), 0);
        for (let i = 0; i < n; i++) s[at + i] = int(256);
        s.set(m.subarray(at), at + n);
        m = s;
        break;
      }
      case 6: {
        // Random payload behind a plausible header.
        const n = 19 + int(200);
        const s = new Uint8Array(n);
        for (let i = 0; i < n; i++) s[i] = i < 16 ? 0xff : int(256);
        s[18] = 1 + int(5);
        m = s;
        break;
      }
      default: {
        // The attribute flags byte of a random attribute-looking position.
        const i = 23 + int(Math.max(1, m.length - 23));
        if (i < m.length) m[i] = [0x40, 0x80, 0xc0, 0xe0, 0x50, 0x90, 0x00][int(7)]!;
      }
    }
  }
  if (m.length > 65535) m = m.slice(0, 65535);
  // Mostly keep the header (and an UPDATE's attribute length) consistent so inputs get past the
  // framer and the length checks into the attribute and NLRI decoders.
  if (rnd() < 0.5) repairUpdate(m);
  return rnd() < 0.8 ? fixLength(m) : m;
}

type Outcome = { ok: BgpMessage } | { err: string };

class PropertyFailure extends Error {}

function attempt(f: () => BgpMessage): Outcome {
  try {
    return { ok: f() };
  } catch (e) {
    if (e instanceof BgpDecodeError) return { err: `${e.code} ${e.notifCode}/${e.notifSubcode} ${Buffer.from(e.data).toString('hex')}` };
    throw new PropertyFailure(`threw a non-codec error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  }
}

function checkNumbers(v: unknown, path: string): void {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new PropertyFailure(`non-integer ${v} at ${path} (an out-of-bounds read?)`);
  } else if (typeof v === 'string') {
    if (v.includes('undefined') || v.includes('NaN')) throw new PropertyFailure(`bad text "${v}" at ${path}`);
  } else if (Array.isArray(v)) v.forEach((x, i) => checkNumbers(x, `${path}[${i}]`));
  else if (v instanceof Uint8Array) return;
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) checkNumbers(x, `${path}.${k}`);
}

/** Comparable form: drops attrsKey, diagnostics and the flags of unknown attributes (Partial is added on re-send). */
function comparable(m: BgpMessage): unknown {
  if (m.type !== MessageType.Update) return m;
  const { attrsKey: _k, diagnostics: _d, ...rest } = m;
  // The encoder writes attributes in ascending type order, so compare unknown ones sorted.
  const unknown = m.attrs.unknown?.map((a) => [a.type, a.value] as const).sort((x, y) => x[0] - y[0]);
  return { ...rest, attrs: { ...m.attrs, unknown } };
}

function reencode(m: BgpMessage, opts: CodecOptions): Uint8Array | undefined {
  try {
    switch (m.type) {
      case MessageType.Open:
        return encodeOpen(m);
      case MessageType.Update:
        return encodeUpdate(m as UpdateMessage, opts);
      case MessageType.Notification:
        return encodeNotification(m, opts);
      case MessageType.Keepalive:
        return encodeKeepalive();
      case MessageType.RouteRefresh:
        return encodeRouteRefresh(m);
    }
  } catch (e) {
    // Re-encoding may legitimately outgrow the maximum size (e.g. AS4_PATH added for a 2-octet peer).
    if (e instanceof BgpEncodeError && e.code === 'ENCODE_TOO_LONG') return undefined;
    throw new PropertyFailure(`re-encoding a decoded message failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function checkOne(m: Uint8Array, opts: CodecOptions, rnd: () => number, stats: FuzzResult): void {
  // Property 1 + 2: a tight copy and a view into junk must decode the same.
  const tight = attempt(() => decode(m.slice(), opts));
  const pad = 1 + Math.floor(rnd() * 64);
  const big = new Uint8Array(m.length + 2 * pad);
  for (let i = 0; i < big.length; i++) big[i] = Math.floor(rnd() * 256);
  big.set(m, pad);
  const view = attempt(() => decode(big.subarray(pad, pad + m.length), opts));
  if (!isDeepStrictEqual(tight, view)) throw new PropertyFailure('decode depends on bytes outside the message');
  if ('err' in tight) {
    stats.rejected++;
    const code = tight.err.split(' ')[0]!;
    stats.rejectedBy[code] = (stats.rejectedBy[code] ?? 0) + 1;
    return;
  }
  stats.decoded++;
  checkNumbers(tight.ok, 'msg');
  // Property 3.
  const msg = tight.ok;
  if (msg.type === MessageType.Update && msg.treatAsWithdraw) return;
  const again = reencode(msg, opts);
  if (!again) return;
  const back = attempt(() => decode(again, opts));
  if ('err' in back) throw new PropertyFailure(`re-encoded message does not decode: ${back.err}`);
  if (!isDeepStrictEqual(comparable(back.ok), comparable(msg))) {
    throw new PropertyFailure(`re-encoded message decodes differently:\n${JSON.stringify(comparable(msg))}\n${JSON.stringify(comparable(back.ok))}`);
  }
  stats.reencoded++;
}

/** Property 4: chunked framing agrees with one-shot framing. */
function checkStream(msgs: readonly Uint8Array[], rnd: () => number, extended: boolean): void {
  const total = msgs.reduce((n, m) => n + m.length, 0);
  const stream = new Uint8Array(total);
  let o = 0;
  for (const m of msgs) {
    stream.set(m, o);
    o += m.length;
  }
  const frameAll = (chunks: Uint8Array[]): [string[], string | undefined] => {
    const f = new Framer({ extendedMessages: extended });
    const frames: string[] = [];
    try {
      for (const c of chunks) f.feed(c, (fr) => frames.push(Buffer.from(fr).toString('hex')));
    } catch (e) {
      if (!(e instanceof BgpDecodeError)) throw new PropertyFailure(`framer threw a non-codec error: ${String(e)}`);
      return [frames, e.code];
    }
    return [frames, undefined];
  };
  const whole = frameAll([stream]);
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < total; ) {
    const n = 1 + Math.floor(rnd() * 64);
    chunks.push(stream.subarray(i, i + n));
    i += n;
  }
  const split = frameAll(chunks);
  if (!isDeepStrictEqual(whole, split)) throw new PropertyFailure('chunked framing differs from one-shot framing');
}

export function runFuzz(o: FuzzOptions): FuzzResult {
  const rnd = prng(o.seed);
  const pool = seeds();
  const started = Date.now();
  const deadline = started + o.seconds * 1000;
  const stats: FuzzResult = { seed: o.seed, ran: 0, decoded: 0, rejected: 0, reencoded: 0, rejectedBy: {}, failures: [], seconds: 0 };
  let batch: Uint8Array[] = [];
  for (let i = 0; i < o.count; i++) {
    if ((i & 255) === 0 && Date.now() > deadline) break;
    const m = mutate(rnd, pool);
    const opts = OPTION_SETS[Math.floor(rnd() * OPTION_SETS.length)]!;
    try {
      checkOne(m, opts, rnd, stats);
      batch.push(m);
      if (batch.length === 8) {
        checkStream(batch, rnd, opts.extendedMessages);
        batch = [];
      }
    } catch (e) {
      if (!(e instanceof PropertyFailure)) throw e;
      stats.failures.push({ index: i, property: e.message.split('\n')[0]!, detail: e.message, hex: Buffer.from(m).toString('hex') });
      if (stats.failures.length >= 10) break;
    }
    stats.ran++;
  }
  stats.seconds = (Date.now() - started) / 1000;
  return stats;
}

function parseArgs(argv: readonly string[]): FuzzOptions {
  const opts: FuzzOptions = { seed: Math.floor(Math.random() * 2 ** 31), count: 100_000, seconds: 600 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[i + 1];
    const num = () => {
      const n = Number(v);
      if (v === undefined || !Number.isFinite(n) || n < 0) throw new Error(`${a} needs a non-negative number`);
      i++;
      return n;
    };
    if (a === '--seed') opts.seed = Math.floor(num());
    else if (a === '--count') opts.count = Math.floor(num());
    else if (a === '--seconds') opts.seconds = num();
    else throw new Error(`unknown argument ${a}; usage: bgp-fuzz [--seed N] [--count N] [--seconds S]`);
  }
  return opts;
}

function main(): void {
  let opts: FuzzOptions;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`bgp-fuzz: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(2);
  }
  console.log(`bgp-fuzz: seed ${opts.seed} (replay with --seed ${opts.seed}), up to ${opts.count} messages, ${opts.seconds}s`);
  const r = runFuzz(opts);
  console.log(`bgp-fuzz: ${r.ran} messages in ${r.seconds.toFixed(1)}s: ${r.decoded} decoded, ${r.rejected} rejected with BgpDecodeError, ${r.reencoded} re-encoded and compared`);
  const top = Object.entries(r.rejectedBy).sort((x, y) => y[1] - x[1]).slice(0, 8);
  console.log(`bgp-fuzz: most common rejections: ${top.map(([c, n]) => `${c} ${n}`).join(', ')}`);
  for (const f of r.failures) console.error(`bgp-fuzz: FAIL #${f.index}: ${f.detail}\n  input: ${f.hex}`);
  if (r.failures.length > 0) {
    console.error(`bgp-fuzz: ${r.failures.length} failure(s); replay with --seed ${r.seed}`);
    process.exit(1);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
