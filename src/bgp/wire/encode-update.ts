/**
 * UPDATE encoding: the attribute section through the attribute table, and whole UPDATEs from an
 * UpdateMessage. The packer (`pack.ts`) builds on `encodeAttributes` to fill messages with NLRI.
 *
 * MP_REACH / MP_UNREACH go first in the attribute section (RFC 7606 §5.1, so a receiver can find
 * the NLRI even if a later attribute is malformed); the rest follow in ascending type order.
 */
import {
  AttrFlag,
  AttrType,
  HEADER_LENGTH,
  MessageType,
  afiSafiKey,
  type CodecOptions,
  type MpReach,
  type MpUnreach,
  type Nlri,
  type PathAttributes,
  type UpdateMessage,
} from './types.js';
import { ATTRIBUTE_ENCODE_ORDER } from './attributes.js';
import { BgpEncodeError } from './errors.js';
import { maxLengthFor, writeHeader } from './header.js';
import { prefixWireSize, writePrefix } from './prefix.js';
import { familyCodec } from './families.js';
import { concatBytes, put16 } from './bytes.js';

/** One encoded attribute: its type (for ordering) and its whole TLV. */
interface Tlv {
  type: number;
  bytes: Uint8Array;
}

export function attributeTlv(flags: number, type: number, value: Uint8Array): Uint8Array {
  if (value.length > 0xffff) throw new BgpEncodeError('ENCODE_ATTR_TOO_LONG', `attribute ${type} value of ${value.length} bytes`);
  const ext = value.length > 255;
  const hdr = ext ? 4 : 3;
  const out = new Uint8Array(hdr + value.length);
  out[0] = (flags & ~AttrFlag.ExtendedLength) | (ext ? AttrFlag.ExtendedLength : 0);
  out[1] = type;
  if (ext) put16(out, 2, value.length);
  else out[2] = value.length;
  out.set(value, hdr);
  return out;
}

/**
 * The attribute section for `attrs` (MP attributes excluded). Unknown optional transitive attributes
 * are re-advertised with the Partial bit set (RFC 4271 §5).
 */
export function encodeAttributes(attrs: PathAttributes, opts: CodecOptions, skip?: ReadonlySet<number>): Uint8Array {
  const tlvs: Tlv[] = [];
  for (const codec of ATTRIBUTE_ENCODE_ORDER) {
    if (skip?.has(codec.type)) continue;
    const v = codec.encode(attrs, opts);
    if (v !== undefined) tlvs.push({ type: codec.type, bytes: attributeTlv(codec.flags, codec.type, v) });
  }
  for (const u of attrs.unknown ?? []) {
    if (u.type === AttrType.MpReachNlri || u.type === AttrType.MpUnreachNlri) continue;
    const transitive = (u.flags & (AttrFlag.Optional | AttrFlag.Transitive)) === (AttrFlag.Optional | AttrFlag.Transitive);
    tlvs.push({ type: u.type, bytes: attributeTlv(transitive ? u.flags | AttrFlag.Partial : u.flags, u.type, u.value) });
  }
  tlvs.sort((x, y) => x.type - y.type);
  return concatBytes(tlvs.map((t) => t.bytes));
}

export function encodeNlriList(afi: number, list: readonly Nlri[], addPath: boolean): Uint8Array {
  let size = 0;
  for (const n of list) size += prefixWireSize(n.prefix, addPath);
  const out = new Uint8Array(size);
  let o = 0;
  for (const n of list) o = writePrefix(afi, n.prefix, addPath ? (n.pathId ?? 0) : undefined, out, o);
  return out;
}

function addPathSend(opts: CodecOptions, afi: number, safi: number): boolean {
  return opts.addPathSend?.has(afiSafiKey(afi, safi)) ?? false;
}

export function encodeMpReach(mp: MpReach, opts: CodecOptions): Uint8Array {
  const fam = familyCodec(mp.afi, mp.safi);
  if (!fam) throw new BgpEncodeError('ENCODE_FAMILY', `no codec for AFI/SAFI ${mp.afi}/${mp.safi}`);
  const nh = fam.encodeNextHops(mp.nextHops);
  const nlri = encodeNlriList(mp.afi, mp.nlri, addPathSend(opts, mp.afi, mp.safi));
  const v = new Uint8Array(5 + nh.length + nlri.length);
  put16(v, 0, mp.afi);
  v[2] = mp.safi;
  v[3] = nh.length;
  v.set(nh, 4);
  v[4 + nh.length] = 0; // reserved
  v.set(nlri, 5 + nh.length);
  return attributeTlv(AttrFlag.Optional, AttrType.MpReachNlri, v);
}

export function encodeMpUnreach(mp: MpUnreach, opts: CodecOptions): Uint8Array {
  const nlri = encodeNlriList(mp.afi, mp.withdrawn, addPathSend(opts, mp.afi, mp.safi));
  const v = new Uint8Array(3 + nlri.length);
  put16(v, 0, mp.afi);
  v[2] = mp.safi;
  v.set(nlri, 3);
  return attributeTlv(AttrFlag.Optional, AttrType.MpUnreachNlri, v);
}

/** Wraps the three UPDATE fields into a message, checking the negotiated maximum length. */
export function assembleUpdate(withdrawn: Uint8Array, attributes: Uint8Array, nlri: Uint8Array, opts: CodecOptions): Uint8Array {
  const len = HEADER_LENGTH + 4 + withdrawn.length + attributes.length + nlri.length;
  const max = maxLengthFor(MessageType.Update, opts.extendedMessages);
  if (len > max) throw new BgpEncodeError('ENCODE_TOO_LONG', `UPDATE of ${len} bytes exceeds the ${max}-byte maximum; use packUpdates`);
  const out = new Uint8Array(len);
  writeHeader(out, len, MessageType.Update);
  let o = HEADER_LENGTH;
  put16(out, o, withdrawn.length);
  out.set(withdrawn, o + 2);
  o += 2 + withdrawn.length;
  put16(out, o, attributes.length);
  out.set(attributes, o + 2);
  o += 2 + attributes.length;
  out.set(nlri, o);
  return out;
}

/** Encodes one UPDATE exactly as given (no splitting). */
export function encodeUpdate(msg: Omit<UpdateMessage, 'type'>, opts: CodecOptions): Uint8Array {
  const v4AddPath = addPathSend(opts, 1, 1);
  const withdrawn = encodeNlriList(1, msg.withdrawn, v4AddPath);
  const nlri = encodeNlriList(1, msg.nlri, v4AddPath);
  const mp: Uint8Array[] = [];
  if (msg.mpReach) mp.push(encodeMpReach(msg.mpReach, opts));
  if (msg.mpUnreach) mp.push(encodeMpUnreach(msg.mpUnreach, opts));
  const attributes = concatBytes([...mp, encodeAttributes(msg.attrs, opts)]);
  return assembleUpdate(withdrawn, attributes, nlri, opts);
}
