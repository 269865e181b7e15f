/**
 * The packer: many prefixes sharing one attribute set → as few UPDATEs as fit the negotiated
 * maximum (4096, or 65535 with RFC 8654). Attributes are encoded once; prefixes are written
 * straight into each message buffer. IPv4 unicast uses the classic NLRI / withdrawn fields, other
 * families MP_REACH / MP_UNREACH (RFC 4760), placed first in the attribute section.
 */
import { AFI_IPV4, AttrFlag, AttrType, HEADER_LENGTH, MessageType, SAFI_UNICAST, afiSafiKey, type CodecOptions, type Nlri, type PathAttributes } from './types.js';
import { BgpEncodeError } from './errors.js';
import { maxLengthFor, writeHeader } from './header.js';
import { prefixWireSize, writePrefix } from './prefix.js';
import { familyCodec } from './families.js';
import { encodeAttributes, assembleUpdate } from './encode-update.js';
import { put16 } from './bytes.js';

export interface PackFamily {
  afi: number;
  /** Default unicast. */
  safi?: number;
  /**
   * Next hops: for IPv4 unicast the NEXT_HOP attribute (overrides attrs.nextHop); for MP families
   * the MP_REACH next hop(s), global first.
   */
  nextHops?: readonly string[];
}

export type PrefixInput = string | Nlri;

/** Largest prefix on the wire: a path id, a length octet and 16 address octets. */
const MAX_PREFIX_WIRE = 4 + 1 + 16;
/** MP attribute header: flags, type and a 2-octet (extended) length, used so the NLRI can grow freely. */
const MP_TLV_HEADER = 4;
const NO_NEXT_HOP: ReadonlySet<number> = new Set([AttrType.NextHop]);

function prefixOf(p: PrefixInput): string {
  return typeof p === 'string' ? p : p.prefix;
}
function pathIdOf(p: PrefixInput): number {
  return typeof p === 'string' ? 0 : (p.pathId ?? 0);
}

interface Frame {
  /** Bytes before the NLRI; the message buffer starts with them. */
  head: Uint8Array;
  /** Bytes after the NLRI (the non-MP attributes when MP_REACH leads). */
  tail: Uint8Array;
  /** Offsets in `head` of the 2-octet lengths to patch with the NLRI size: [offset, base value]. */
  patches: readonly (readonly [number, number])[];
}

/** Fills messages from `frame` + as many prefixes as fit; the shared loop of every packer. */
function fill(frame: Frame, afi: number, prefixes: readonly PrefixInput[], addPath: boolean, max: number): Uint8Array[] {
  const fixed = frame.head.length + frame.tail.length;
  if (fixed + MAX_PREFIX_WIRE > max) throw new BgpEncodeError('ENCODE_TOO_LONG', `attributes of ${fixed} bytes leave no room for NLRI in a ${max}-byte UPDATE`);
  const out: Uint8Array[] = [];
  let i = 0;
  const buf = new Uint8Array(max);
  while (i < prefixes.length) {
    buf.set(frame.head, 0);
    let o = frame.head.length;
    const limit = max - frame.tail.length;
    while (i < prefixes.length) {
      const p = prefixes[i]!;
      const size = prefixWireSize(prefixOf(p), addPath);
      if (o + size > limit) break;
      o = writePrefix(afi, prefixOf(p), addPath ? pathIdOf(p) : undefined, buf, o);
      i++;
    }
    const nlriLen = o - frame.head.length;
    buf.set(frame.tail, o);
    o += frame.tail.length;
    writeHeader(buf, o, MessageType.Update);
    for (const [at, base] of frame.patches) put16(buf, at, base + nlriLen);
    out.push(buf.slice(0, o));
  }
  return out;
}

function familyOf(f: PackFamily) {
  const safi = f.safi ?? SAFI_UNICAST;
  const fam = familyCodec(f.afi, safi);
  if (!fam) throw new BgpEncodeError('ENCODE_FAMILY', `no codec for AFI/SAFI ${f.afi}/${safi}`);
  return fam;
}

/** Packs announcements of `prefixes` with `attrs` into UPDATEs. */
export function packUpdates(attrs: PathAttributes, prefixes: readonly PrefixInput[], opts: CodecOptions, family: PackFamily): Uint8Array[] {
  if (prefixes.length === 0) return [];
  const fam = familyOf(family);
  const max = maxLengthFor(MessageType.Update, opts.extendedMessages);
  const addPath = opts.addPathSend?.has(afiSafiKey(fam.afi, fam.safi)) ?? false;
  if (fam.afi === AFI_IPV4 && fam.safi === SAFI_UNICAST && (!family.nextHops || !family.nextHops[0]!.includes(':'))) {
    const a = family.nextHops ? { ...attrs, nextHop: family.nextHops[0] } : attrs;
    if (a.nextHop === undefined) throw new BgpEncodeError('ENCODE_NEXT_HOP', 'IPv4 UPDATE needs a NEXT_HOP');
    const section = encodeAttributes(a, opts);
    const head = new Uint8Array(HEADER_LENGTH + 4 + section.length);
    put16(head, HEADER_LENGTH, 0);
    put16(head, HEADER_LENGTH + 2, section.length);
    head.set(section, HEADER_LENGTH + 4);
    return fill({ head, tail: new Uint8Array(0), patches: [] }, fam.afi, prefixes, addPath, max);
  }
  if (!family.nextHops || family.nextHops.length === 0) throw new BgpEncodeError('ENCODE_NEXT_HOP', `${fam.name} UPDATE needs MP_REACH next hops`);
  const nh = fam.encodeNextHops(family.nextHops);
  const rest = encodeAttributes(attrs, opts, NO_NEXT_HOP);
  const mpFixed = 5 + nh.length;
  const aLenAt = HEADER_LENGTH + 2;
  const mpStart = aLenAt + 2;
  const head = new Uint8Array(mpStart + MP_TLV_HEADER + mpFixed);
  head[mpStart] = AttrFlag.Optional | AttrFlag.ExtendedLength;
  head[mpStart + 1] = AttrType.MpReachNlri;
  const v = mpStart + MP_TLV_HEADER;
  put16(head, v, fam.afi);
  head[v + 2] = fam.safi;
  head[v + 3] = nh.length;
  head.set(nh, v + 4);
  return fill(
    { head, tail: rest, patches: [[aLenAt, MP_TLV_HEADER + mpFixed + rest.length], [mpStart + 2, mpFixed]] },
    fam.afi,
    prefixes,
    addPath,
    max,
  );
}

/** Packs withdrawals of `prefixes` into UPDATEs (classic field for IPv4 unicast, else MP_UNREACH). */
export function packWithdrawals(prefixes: readonly PrefixInput[], opts: CodecOptions, family: PackFamily): Uint8Array[] {
  if (prefixes.length === 0) return [];
  const fam = familyOf(family);
  const max = maxLengthFor(MessageType.Update, opts.extendedMessages);
  const addPath = opts.addPathSend?.has(afiSafiKey(fam.afi, fam.safi)) ?? false;
  if (fam.afi === AFI_IPV4 && fam.safi === SAFI_UNICAST) {
    // Withdrawn field first, then a zero attribute length: the NLRI area is the head's tail.
    const head = new Uint8Array(HEADER_LENGTH + 2);
    return fill({ head, tail: new Uint8Array(2), patches: [[HEADER_LENGTH, 0]] }, fam.afi, prefixes, addPath, max);
  }
  const aLenAt = HEADER_LENGTH + 2;
  const mpStart = aLenAt + 2;
  const head = new Uint8Array(mpStart + MP_TLV_HEADER + 3);
  head[mpStart] = AttrFlag.Optional | AttrFlag.ExtendedLength;
  head[mpStart + 1] = AttrType.MpUnreachNlri;
  put16(head, mpStart + MP_TLV_HEADER, fam.afi);
  head[mpStart + MP_TLV_HEADER + 2] = fam.safi;
  return fill({ head, tail: new Uint8Array(0), patches: [[aLenAt, MP_TLV_HEADER + 3], [mpStart + 2, 3]] }, fam.afi, prefixes, addPath, max);
}

/** End-of-RIB (RFC 4724 §2): an empty UPDATE for IPv4 unicast, else an empty MP_UNREACH. */
export function encodeEndOfRib(afi: number, safi: number, opts: CodecOptions): Uint8Array {
  if (afi === AFI_IPV4 && safi === SAFI_UNICAST) return assembleUpdate(new Uint8Array(0), new Uint8Array(0), new Uint8Array(0), opts);
  const v = Uint8Array.of(AttrFlag.Optional, AttrType.MpUnreachNlri, 3, afi >>> 8, afi & 0xff, safi);
  return assembleUpdate(new Uint8Array(0), v, new Uint8Array(0), opts);
}
