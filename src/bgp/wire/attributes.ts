/**
 * Path attribute codecs as a table keyed by type code (the role of BIRD's `bgp_attr_table[]`).
 * Each row says which Optional/Transitive flags the attribute must carry, how RFC 7606 wants a
 * malformed one handled, and how to decode and encode its value. The UPDATE decoder walks the
 * attribute section and dispatches through this table; MP_REACH/MP_UNREACH are handled by the
 * UPDATE decoder itself because they carry NLRI, not path attributes.
 *
 * Decoders never throw for a malformed value: they return a stable error code and assign nothing,
 * and the caller applies the row's action (treat-as-withdraw or attribute-discard).
 */
import {
  AS_TRANS,
  AsPathSegmentType,
  AttrFlag,
  AttrType,
  type AsPathSegment,
  type CodecOptions,
  type LargeCommunity,
  type PathAttributes,
  type UpdateDiagnostic,
} from './types.js';
import { ipv4Text, putIpv4, u16, u32 } from './bytes.js';
import { BgpEncodeError } from './errors.js';

export type AttrAction = 'treat-as-withdraw' | 'attribute-discard';

/** Per-UPDATE decoding state shared by the attribute decoders. */
export interface AttrDecodeContext {
  opts: CodecOptions;
  attrs: PathAttributes;
  /** AS4_PATH / AS4_AGGREGATOR from a 2-octet peer, merged once all attributes are read (RFC 6793 §4.2.3). */
  as4Path?: AsPathSegment[];
  as4Aggregator?: { asn: number; address: string };
  diagnostics: UpdateDiagnostic[];
  treatAsWithdraw: boolean;
}

export interface AttrCodec {
  type: number;
  /** Upper-case name used as the prefix of this attribute's diagnostic codes. */
  name: string;
  /** Required Optional (0x80) and Transitive (0x40) bits. */
  flags: number;
  /** RFC 7606 §7 action for a malformed instance. */
  action(opts: CodecOptions): AttrAction;
  /** Decodes b[s, s+len) into ctx; returns an error code suffix when malformed. */
  decode(b: Uint8Array, s: number, len: number, ctx: AttrDecodeContext): string | undefined;
  /** Value bytes for this attribute, or undefined when it is absent. */
  encode(attrs: PathAttributes, opts: CodecOptions): Uint8Array | undefined;
}

const WELL_KNOWN = AttrFlag.Transitive;
const OPTIONAL = AttrFlag.Optional;
const OPTIONAL_TRANSITIVE = AttrFlag.Optional | AttrFlag.Transitive;

const taw = (): AttrAction => 'treat-as-withdraw';
const discard = (): AttrAction => 'attribute-discard';
/** RFC 7606 §7.5, §7.9, §7.10: attribute-discard from eBGP, treat-as-withdraw from iBGP. */
const byIbgp = (opts: CodecOptions): AttrAction => (opts.ibgp ? 'treat-as-withdraw' : 'attribute-discard');

function u32Value(v: number): Uint8Array {
  return Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}

function ipv4Value(addr: string, what: string): Uint8Array {
  const out = new Uint8Array(4);
  if (!putIpv4(addr, out, 0)) throw new BgpEncodeError('ENCODE_ADDRESS', `${what} "${addr}" is not a dotted quad`);
  return out;
}

// ---------------------------------------------------------------- AS_PATH helpers

/** Decodes AS_PATH / AS4_PATH segments of 2- or 4-octet ASNs; returns an error code on malformation. */
export function decodeAsPath(b: Uint8Array, s: number, len: number, asnSize: 2 | 4): AsPathSegment[] | string {
  const segments: AsPathSegment[] = [];
  const end = s + len;
  let o = s;
  while (o < end) {
    if (end - o < 2) return 'SEGMENT_OVERRUN';
    const type = b[o]!;
    const count = b[o + 1]!;
    if (type < AsPathSegmentType.AsSet || type > AsPathSegmentType.ConfedSet) return 'BAD_SEGMENT_TYPE';
    if (count === 0) return 'EMPTY_SEGMENT';
    o += 2;
    if (o + count * asnSize > end) return 'SEGMENT_OVERRUN';
    const asns = new Array<number>(count);
    for (let i = 0; i < count; i++, o += asnSize) {
      const asn = asnSize === 4 ? u32(b, o) : u16(b, o);
      if (asn === 0) return 'AS0'; // RFC 7607 §2
      asns[i] = asn;
    }
    segments.push({ type, asns });
  }
  return segments;
}

/** Largest number of ASNs in one segment: the count is one octet (RFC 4271 §4.3). */
const MAX_SEGMENT_ASNS = 255;

/**
 * Encodes segments, splitting any longer than 255 ASNs and skipping empty ones, so the output is
 * always a valid path. With asnSize 2, ASNs that do not fit become AS_TRANS (RFC 6793 §4.2.2).
 */
export function encodeAsPath(segments: readonly AsPathSegment[], asnSize: 2 | 4, skipConfed = false): Uint8Array {
  let size = 0;
  for (const seg of segments) {
    if (skipConfed && (seg.type === AsPathSegmentType.ConfedSequence || seg.type === AsPathSegmentType.ConfedSet)) continue;
    const n = seg.asns.length;
    size += Math.ceil(n / MAX_SEGMENT_ASNS) * 2 + n * asnSize;
  }
  const out = new Uint8Array(size);
  let o = 0;
  for (const seg of segments) {
    if (skipConfed && (seg.type === AsPathSegmentType.ConfedSequence || seg.type === AsPathSegmentType.ConfedSet)) continue;
    if (seg.type < AsPathSegmentType.AsSet || seg.type > AsPathSegmentType.ConfedSet) {
      throw new BgpEncodeError('ENCODE_AS_PATH', `AS_PATH segment type ${seg.type}`);
    }
    for (let i = 0; i < seg.asns.length; i += MAX_SEGMENT_ASNS) {
      const chunk = seg.asns.slice(i, i + MAX_SEGMENT_ASNS);
      out[o++] = seg.type;
      out[o++] = chunk.length;
      for (const asn of chunk) {
        if (!Number.isInteger(asn) || asn <= 0 || asn > 0xffffffff) throw new BgpEncodeError('ENCODE_AS_PATH', `bad ASN ${asn} in AS_PATH`);
        if (asnSize === 4) {
          out[o++] = asn >>> 24;
          out[o++] = (asn >>> 16) & 0xff;
        }
        const a = asnSize === 2 && asn > 0xffff ? AS_TRANS : asn;
        out[o++] = (a >>> 8) & 0xff;
        out[o++] = a & 0xff;
      }
    }
  }
  return out;
}

function needsAs4(attrs: PathAttributes, opts: CodecOptions): boolean {
  if (opts.fourOctetAs || !attrs.asPath) return false;
  return attrs.asPath.some((s) => s.asns.some((a) => a > 0xffff));
}

/** RFC 6793 §4.2.3: number of ASes a path counts for (AS_SET counts one, confederation segments none). */
function pathCount(segments: readonly AsPathSegment[]): number {
  let n = 0;
  for (const s of segments) {
    if (s.type === AsPathSegmentType.AsSequence) n += s.asns.length;
    else if (s.type === AsPathSegmentType.AsSet) n += 1;
  }
  return n;
}

/**
 * RFC 6793 §4.2.3: reconstructs the 4-octet path of a 2-octet peer from AS_PATH and AS4_PATH.
 * Returns undefined when AS4_PATH must be ignored (it is longer than AS_PATH).
 */
export function mergeAs4Path(asPath: readonly AsPathSegment[], as4Path: readonly AsPathSegment[]): AsPathSegment[] | undefined {
  const n2 = pathCount(asPath);
  const n4 = pathCount(as4Path);
  if (n2 < n4) return undefined;
  let keep = n2 - n4;
  const out: AsPathSegment[] = [];
  for (const seg of asPath) {
    // Confederation segments count for nothing and never appear in AS4_PATH: keep those before the cut.
    if (seg.type === AsPathSegmentType.ConfedSequence || seg.type === AsPathSegmentType.ConfedSet) {
      out.push({ type: seg.type, asns: seg.asns.slice() });
      continue;
    }
    if (keep <= 0) break;
    if (seg.type === AsPathSegmentType.AsSequence) {
      const take = Math.min(keep, seg.asns.length);
      out.push({ type: seg.type, asns: seg.asns.slice(0, take) });
      keep -= take;
    } else {
      out.push({ type: seg.type, asns: seg.asns.slice() });
      keep -= 1;
    }
  }
  for (const seg of as4Path) {
    // AS4_PATH must not carry confederation segments (RFC 6793 §3); drop any that slipped in.
    if (seg.type === AsPathSegmentType.AsSequence || seg.type === AsPathSegmentType.AsSet) out.push({ type: seg.type, asns: seg.asns.slice() });
  }
  return out;
}

// ---------------------------------------------------------------- the table

function fixedLength<T>(len: number, read: (b: Uint8Array, s: number) => T, assign: (ctx: AttrDecodeContext, v: T) => void) {
  return (b: Uint8Array, s: number, l: number, ctx: AttrDecodeContext): string | undefined => {
    if (l !== len) return 'BAD_LENGTH';
    assign(ctx, read(b, s));
    return undefined;
  };
}

function multipleOf(unit: number, assign: (ctx: AttrDecodeContext, b: Uint8Array, s: number, count: number) => void) {
  return (b: Uint8Array, s: number, l: number, ctx: AttrDecodeContext): string | undefined => {
    if (l === 0 || l % unit !== 0) return 'BAD_LENGTH';
    assign(ctx, b, s, l / unit);
    return undefined;
  };
}

const ROWS: AttrCodec[] = [
  {
    type: AttrType.Origin,
    name: 'ORIGIN',
    flags: WELL_KNOWN,
    action: taw, // RFC 7606 §7.1
    decode: (b, s, l, ctx) => {
      if (l !== 1) return 'BAD_LENGTH';
      if (b[s]! > 2) return 'BAD_VALUE';
      ctx.attrs.origin = b[s]!;
      return undefined;
    },
    encode: (a) => (a.origin === undefined ? undefined : Uint8Array.of(a.origin)),
  },
  {
    type: AttrType.AsPath,
    name: 'AS_PATH',
    flags: WELL_KNOWN,
    action: taw, // RFC 7606 §7.2
    decode: (b, s, l, ctx) => {
      const r = decodeAsPath(b, s, l, ctx.opts.fourOctetAs ? 4 : 2);
      if (typeof r === 'string') return r;
      ctx.attrs.asPath = r;
      return undefined;
    },
    encode: (a, opts) => (a.asPath === undefined ? undefined : encodeAsPath(a.asPath, opts.fourOctetAs ? 4 : 2)),
  },
  {
    type: AttrType.NextHop,
    name: 'NEXT_HOP',
    flags: WELL_KNOWN,
    action: taw, // RFC 7606 §7.3
    decode: (b, s, l, ctx) => {
      if (l !== 4) return 'BAD_LENGTH';
      const first = b[s]!;
      // RFC 4271 §6.3 semantic checks: unspecified, loopback, multicast and class E are never a next hop.
      if (u32(b, s) === 0 || first === 127 || first >= 224) return 'INVALID';
      ctx.attrs.nextHop = ipv4Text(b, s);
      return undefined;
    },
    encode: (a) => (a.nextHop === undefined ? undefined : ipv4Value(a.nextHop, 'NEXT_HOP')),
  },
  {
    type: AttrType.Med,
    name: 'MED',
    flags: OPTIONAL,
    action: taw, // RFC 7606 §7.4
    decode: fixedLength(4, u32, (ctx, v) => (ctx.attrs.med = v)),
    encode: (a) => (a.med === undefined ? undefined : u32Value(a.med)),
  },
  {
    type: AttrType.LocalPref,
    name: 'LOCAL_PREF',
    flags: WELL_KNOWN,
    action: byIbgp, // RFC 7606 §7.5
    decode: (b, s, l, ctx) => {
      if (!ctx.opts.ibgp) return 'FROM_EBGP';
      if (l !== 4) return 'BAD_LENGTH';
      ctx.attrs.localPref = u32(b, s);
      return undefined;
    },
    encode: (a) => (a.localPref === undefined ? undefined : u32Value(a.localPref)),
  },
  {
    type: AttrType.AtomicAggregate,
    name: 'ATOMIC_AGGREGATE',
    flags: WELL_KNOWN,
    action: discard, // RFC 7606 §7.6
    decode: (_b, _s, l, ctx) => {
      if (l !== 0) return 'BAD_LENGTH';
      ctx.attrs.atomicAggregate = true;
      return undefined;
    },
    encode: (a) => (a.atomicAggregate ? new Uint8Array(0) : undefined),
  },
  {
    type: AttrType.Aggregator,
    name: 'AGGREGATOR',
    flags: OPTIONAL_TRANSITIVE,
    action: discard, // RFC 7606 §7.7
    decode: (b, s, l, ctx) => {
      const asnSize = ctx.opts.fourOctetAs ? 4 : 2;
      if (l !== asnSize + 4) return 'BAD_LENGTH';
      const asn = asnSize === 4 ? u32(b, s) : u16(b, s);
      if (asn === 0) return 'AS0'; // RFC 7607 §2
      ctx.attrs.aggregator = { asn, address: ipv4Text(b, s + asnSize) };
      return undefined;
    },
    encode: (a, opts) => {
      if (!a.aggregator) return undefined;
      const asnSize = opts.fourOctetAs ? 4 : 2;
      const out = new Uint8Array(asnSize + 4);
      const asn = asnSize === 2 && a.aggregator.asn > 0xffff ? AS_TRANS : a.aggregator.asn;
      if (asnSize === 4) out.set(u32Value(asn), 0);
      else out.set([asn >>> 8, asn & 0xff], 0);
      out.set(ipv4Value(a.aggregator.address, 'AGGREGATOR address'), asnSize);
      return out;
    },
  },
  {
    type: AttrType.Communities,
    name: 'COMMUNITIES',
    flags: OPTIONAL_TRANSITIVE,
    action: taw, // RFC 7606 §7.8
    decode: multipleOf(4, (ctx, b, s, n) => {
      const c = new Array<number>(n);
      for (let i = 0; i < n; i++) c[i] = u32(b, s + 4 * i);
      ctx.attrs.communities = c;
    }),
    encode: (a) => {
      if (!a.communities || a.communities.length === 0) return undefined;
      const out = new Uint8Array(4 * a.communities.length);
      a.communities.forEach((c, i) => out.set(u32Value(c), 4 * i));
      return out;
    },
  },
  {
    type: AttrType.OriginatorId,
    name: 'ORIGINATOR_ID',
    flags: OPTIONAL,
    action: byIbgp, // RFC 7606 §7.9
    decode: fixedLength(4, ipv4Text, (ctx, v) => (ctx.attrs.originatorId = v)),
    encode: (a) => (a.originatorId === undefined ? undefined : ipv4Value(a.originatorId, 'ORIGINATOR_ID')),
  },
  {
    type: AttrType.ClusterList,
    name: 'CLUSTER_LIST',
    flags: OPTIONAL,
    action: byIbgp, // RFC 7606 §7.10
    decode: multipleOf(4, (ctx, b, s, n) => {
      const c = new Array<string>(n);
      for (let i = 0; i < n; i++) c[i] = ipv4Text(b, s + 4 * i);
      ctx.attrs.clusterList = c;
    }),
    encode: (a) => {
      if (!a.clusterList || a.clusterList.length === 0) return undefined;
      const out = new Uint8Array(4 * a.clusterList.length);
      a.clusterList.forEach((c, i) => out.set(ipv4Value(c, 'CLUSTER_LIST id'), 4 * i));
      return out;
    },
  },
  {
    type: AttrType.ExtendedCommunities,
    name: 'EXTENDED_COMMUNITIES',
    flags: OPTIONAL_TRANSITIVE,
    action: taw, // RFC 7606 §7.14
    decode: multipleOf(8, (ctx, b, s, n) => {
      const c = new Array<Uint8Array>(n);
      for (let i = 0; i < n; i++) c[i] = b.slice(s + 8 * i, s + 8 * i + 8);
      ctx.attrs.extendedCommunities = c;
    }),
    encode: (a) => {
      if (!a.extendedCommunities || a.extendedCommunities.length === 0) return undefined;
      const out = new Uint8Array(8 * a.extendedCommunities.length);
      a.extendedCommunities.forEach((c, i) => {
        if (c.length !== 8) throw new BgpEncodeError('ENCODE_EXT_COMMUNITY', `extended community of ${c.length} bytes`);
        out.set(c, 8 * i);
      });
      return out;
    },
  },
  {
    type: AttrType.As4Path,
    name: 'AS4_PATH',
    flags: OPTIONAL_TRANSITIVE,
    action: discard, // RFC 6793 §6
    decode: (b, s, l, ctx) => {
      // RFC 6793 §4.1: a NEW speaker ignores AS4_PATH from another NEW speaker.
      if (ctx.opts.fourOctetAs) return 'FROM_4OCTET_PEER';
      const r = decodeAsPath(b, s, l, 4);
      if (typeof r === 'string') return r;
      ctx.as4Path = r;
      return undefined;
    },
    encode: (a, opts) => (needsAs4(a, opts) ? encodeAsPath(a.asPath!, 4, true) : undefined),
  },
  {
    type: AttrType.As4Aggregator,
    name: 'AS4_AGGREGATOR',
    flags: OPTIONAL_TRANSITIVE,
    action: discard, // RFC 6793 §6
    decode: (b, s, l, ctx) => {
      if (ctx.opts.fourOctetAs) return 'FROM_4OCTET_PEER';
      if (l !== 8) return 'BAD_LENGTH';
      const asn = u32(b, s);
      if (asn === 0) return 'AS0';
      ctx.as4Aggregator = { asn, address: ipv4Text(b, s + 4) };
      return undefined;
    },
    encode: (a, opts) => {
      if (opts.fourOctetAs || !a.aggregator || a.aggregator.asn <= 0xffff) return undefined;
      const out = new Uint8Array(8);
      out.set(u32Value(a.aggregator.asn), 0);
      out.set(ipv4Value(a.aggregator.address, 'AGGREGATOR address'), 4);
      return out;
    },
  },
  {
    type: AttrType.LargeCommunities,
    name: 'LARGE_COMMUNITIES',
    flags: OPTIONAL_TRANSITIVE,
    action: taw, // RFC 8092 §6
    decode: multipleOf(12, (ctx, b, s, n) => {
      const c = new Array<LargeCommunity>(n);
      for (let i = 0, o = s; i < n; i++, o += 12) c[i] = { globalAdmin: u32(b, o), localData1: u32(b, o + 4), localData2: u32(b, o + 8) };
      ctx.attrs.largeCommunities = c;
    }),
    encode: (a) => {
      if (!a.largeCommunities || a.largeCommunities.length === 0) return undefined;
      const out = new Uint8Array(12 * a.largeCommunities.length);
      a.largeCommunities.forEach((c, i) => {
        out.set(u32Value(c.globalAdmin), 12 * i);
        out.set(u32Value(c.localData1), 12 * i + 4);
        out.set(u32Value(c.localData2), 12 * i + 8);
      });
      return out;
    },
  },
];

/** Attribute codecs indexed by type code; MP_REACH (14) and MP_UNREACH (15) are absent on purpose. */
export const ATTRIBUTES: readonly (AttrCodec | undefined)[] = (() => {
  const t = new Array<AttrCodec | undefined>(256).fill(undefined);
  for (const row of ROWS) t[row.type] = row;
  return t;
})();

/** Encoding order: ascending type code, as RFC 4271 §5 recommends. */
export const ATTRIBUTE_ENCODE_ORDER: readonly AttrCodec[] = [...ROWS].sort((x, y) => x.type - y.type);
