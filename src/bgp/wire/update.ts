/**
 * UPDATE decoding (RFC 4271 §4.3) with the revised error handling of RFC 7606.
 *
 * Outcomes: a session-reset condition throws BgpDecodeError; treat-as-withdraw and attribute-discard
 * return the message with `treatAsWithdraw` / `diagnostics` set. The attribute section is walked
 * twice: a structural pass (flags, type, length, overruns, repeats) and a value pass through the
 * attribute table. Between the two, the non-MP attribute bytes become `attrsKey`, and when the
 * caller passes `opts.attrCache` a hit skips the value pass and returns the very same
 * PathAttributes object as before — a full table shares a handful of attribute sets, so most
 * UPDATEs of a table dump decode only their NLRI.
 */
import {
  AS_TRANS,
  AttrFlag,
  AttrType,
  MessageType,
  NotifCode,
  UpdateErrorSubcode,
  afiSafiKey,
  type CodecOptions,
  type MpReach,
  type MpUnreach,
  type Nlri,
  type PathAttributes,
  type UpdateDiagnostic,
  type UpdateMessage,
} from './types.js';
import { BgpDecodeError } from './errors.js';
import { u16 } from './bytes.js';
import { decodeIpv4Nlri } from './prefix.js';
import { familyCodec } from './families.js';
import { ATTRIBUTES, mergeAs4Path, type AttrDecodeContext } from './attributes.js';

const UPDATE_FIXED = 23;
const IPV4_UNICAST_KEY = afiSafiKey(1, 1);
/** Entries kept in `opts.attrCache` before it is cleared; a full table has far fewer attribute sets. */
export const ATTR_CACHE_MAX_ENTRIES = 65536;

/**
 * Structural pass scratch: per attribute [flags, type, tlvStart, valueStart, valueLength]. The
 * largest message (65535 bytes) holds at most 21845 three-byte attributes. Decoding is synchronous,
 * so one module-level buffer is safe and saves an allocation per UPDATE.
 */
const SLOT = 5;
const SCRATCH = new Int32Array(SLOT * 21846);

function updateError(code: string, subcode: number, message: string, data?: Uint8Array): BgpDecodeError {
  return new BgpDecodeError(code, NotifCode.UpdateMessageError, subcode, message, data);
}

function latin1(b: Uint8Array, s: number, e: number): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1', s, e);
}

export function decodeUpdate(b: Uint8Array, opts: CodecOptions): UpdateMessage {
  const end = b.length;
  const wlen = u16(b, 19);
  const wStart = 21;
  const wEnd = wStart + wlen;
  // RFC 4271 §6.3 / RFC 7606 §4 row 9: the two length fields must fit the message.
  if (wEnd + 2 > end) {
    throw updateError('UPDATE_WITHDRAWN_LENGTH', UpdateErrorSubcode.MalformedAttributeList, `withdrawn routes length ${wlen} overruns the ${end}-byte message`);
  }
  const alen = u16(b, wEnd);
  const aStart = wEnd + 2;
  const aEnd = aStart + alen;
  if (aEnd > end) {
    throw updateError('UPDATE_ATTR_LENGTH', UpdateErrorSubcode.MalformedAttributeList, `withdrawn length ${wlen} + attribute length ${alen} + ${UPDATE_FIXED} exceeds message length ${end}`);
  }
  const addPathV4 = opts.addPathReceive?.has(IPV4_UNICAST_KEY) ?? false;
  const withdrawn: Nlri[] = [];
  const withdrawnKeys: number[] = [];
  decodeIpv4Nlri(b, wStart, wEnd, addPathV4, withdrawn, withdrawnKeys);
  const nlri: Nlri[] = [];
  const nlriKeys: number[] = [];
  decodeIpv4Nlri(b, aEnd, end, addPathV4, nlri, nlriKeys);

  const diagnostics: UpdateDiagnostic[] = [];
  let taw = false;

  // ---- structural pass
  const seen = new Uint8Array(256);
  let count = 0;
  let o = aStart;
  let overrun = false;
  let mpBytes = 0;
  while (o < aEnd) {
    const flags = b[o]!;
    const ext = (flags & AttrFlag.ExtendedLength) !== 0;
    const hdr = ext ? 4 : 3;
    if (aEnd - o < hdr) {
      overrun = true;
      diagnostics.push({ code: 'ATTR_HEADER_TRUNCATED', action: 'treat-as-withdraw', message: `attribute header truncated at offset ${o - aStart} of the attribute section` });
      break;
    }
    const type = b[o + 1]!;
    const vlen = ext ? u16(b, o + 2) : b[o + 2]!;
    const vs = o + hdr;
    if (vs + vlen > aEnd) {
      if (type === AttrType.MpReachNlri || type === AttrType.MpUnreachNlri) {
        // RFC 7606 §3(j)/§4: the NLRI of an unparseable MP attribute cannot be located: reset.
        // Data is the attribute as received, cut at the section end (never the claimed length).
        throw updateError('MP_ATTR_LENGTH_OVERRUN', UpdateErrorSubcode.AttributeLengthError, `attribute ${type} length ${vlen} overruns the attribute section`, b.slice(o, aEnd));
      }
      overrun = true;
      diagnostics.push({ code: 'ATTR_LENGTH_OVERRUN', action: 'treat-as-withdraw', attrType: type, message: `attribute ${type} length ${vlen} overruns the attribute section` });
      break;
    }
    if (seen[type]) {
      if (type === AttrType.MpReachNlri || type === AttrType.MpUnreachNlri) {
        throw updateError('MP_ATTR_REPEATED', UpdateErrorSubcode.MalformedAttributeList, `attribute ${type} appears more than once`);
      }
      diagnostics.push({ code: 'ATTR_REPEATED', action: 'attribute-discard', attrType: type, message: `attribute ${type} repeated; kept the first` });
    } else {
      seen[type] = 1;
      const k = count++ * SLOT;
      SCRATCH[k] = flags;
      SCRATCH[k + 1] = type;
      SCRATCH[k + 2] = o;
      SCRATCH[k + 3] = vs;
      SCRATCH[k + 4] = vlen;
      if (type === AttrType.MpReachNlri || type === AttrType.MpUnreachNlri) mpBytes += hdr + vlen;
    }
    o = vs + vlen;
  }
  if (overrun) taw = true;

  // ---- attrsKey: the non-MP attribute bytes, plus what changes their meaning
  let attrsKey: string | undefined;
  if (!overrun && diagnostics.length === 0 && alen - mpBytes > 0) {
    const prefix = (opts.fourOctetAs ? '4' : '2') + (opts.ibgp ? 'i' : 'e');
    if (mpBytes === 0) attrsKey = prefix + latin1(b, aStart, aEnd);
    else {
      let key = prefix;
      for (let i = 0; i < count; i++) {
        const k = i * SLOT;
        const t = SCRATCH[k + 1]!;
        if (t !== AttrType.MpReachNlri && t !== AttrType.MpUnreachNlri) key += latin1(b, SCRATCH[k + 2]!, SCRATCH[k + 3]! + SCRATCH[k + 4]!);
      }
      attrsKey = key;
    }
  }
  const cache = opts.attrCache;
  const cached = attrsKey !== undefined && cache ? cache.get(attrsKey) : undefined;

  // ---- value pass
  const ctx: AttrDecodeContext = { opts, attrs: cached ?? {}, diagnostics, treatAsWithdraw: false };
  let mpReach: MpReach | undefined;
  let mpUnreach: MpUnreach | undefined;
  for (let i = 0; i < count; i++) {
    const k = i * SLOT;
    const flags = SCRATCH[k]!;
    const type = SCRATCH[k + 1]!;
    const ts = SCRATCH[k + 2]!;
    const vs = SCRATCH[k + 3]!;
    const vlen = SCRATCH[k + 4]!;
    if (type === AttrType.MpReachNlri) {
      mpReach = decodeMpReach(b, flags, ts, vs, vlen, opts, diagnostics);
      continue;
    }
    if (type === AttrType.MpUnreachNlri) {
      mpUnreach = decodeMpUnreach(b, flags, ts, vs, vlen, opts, diagnostics);
      continue;
    }
    if (cached) continue;
    const codec = ATTRIBUTES[type];
    if (!codec) {
      if ((flags & AttrFlag.Optional) === 0) {
        throw updateError('ATTR_UNRECOGNIZED_WELL_KNOWN', UpdateErrorSubcode.UnrecognizedWellKnownAttribute, `unrecognized well-known attribute ${type}`, b.slice(ts, vs + vlen));
      }
      // RFC 4271 §5: keep optional transitive (Partial bit added on re-advertisement), drop the rest.
      if (flags & AttrFlag.Transitive) (ctx.attrs.unknown ??= []).push({ flags, type, value: b.slice(vs, vs + vlen) });
      continue;
    }
    let err: string | undefined;
    const optTrans = flags & (AttrFlag.Optional | AttrFlag.Transitive);
    // RFC 4271 §5: the Partial bit is only meaningful on optional transitive attributes.
    if (optTrans !== codec.flags || (codec.flags !== (AttrFlag.Optional | AttrFlag.Transitive) && flags & AttrFlag.Partial)) {
      err = 'BAD_FLAGS';
    } else {
      err = codec.decode(b, vs, vlen, ctx);
    }
    if (err !== undefined) {
      const action = codec.action(opts);
      if (action === 'treat-as-withdraw') taw = true;
      diagnostics.push({ code: `${codec.name}_${err}`, action, attrType: type, message: `${codec.name} (flags 0x${flags.toString(16)}, length ${vlen}): ${err.toLowerCase().replace(/_/g, ' ')}` });
    }
  }
  if (!cached) applyAs4(ctx);
  if (ctx.treatAsWithdraw) taw = true;
  const attrs = ctx.attrs;
  if (cache && attrsKey !== undefined && !cached && diagnostics.length === 0 && !taw) {
    if (cache.size >= ATTR_CACHE_MAX_ENTRIES) cache.clear();
    cache.set(attrsKey, attrs);
  }

  // ---- RFC 7606 §3(d): NLRI without the mandatory attributes is treated as withdrawn.
  if (!taw && (nlri.length > 0 || (mpReach !== undefined && mpReach.nlri.length > 0))) {
    const missing: number[] = [];
    if (attrs.origin === undefined) missing.push(AttrType.Origin);
    if (attrs.asPath === undefined) missing.push(AttrType.AsPath);
    if (nlri.length > 0 && attrs.nextHop === undefined) missing.push(AttrType.NextHop);
    for (const t of missing) {
      taw = true;
      diagnostics.push({ code: 'MISSING_WELL_KNOWN', action: 'treat-as-withdraw', attrType: t, message: `mandatory attribute ${t} missing from an UPDATE with NLRI` });
    }
  }

  const msg: UpdateMessage = { type: MessageType.Update, withdrawn, attrs: taw ? {} : attrs, nlri };
  if (withdrawn.length > 0) msg.withdrawnKeys = withdrawnKeys;
  if (nlri.length > 0) msg.nlriKeys = nlriKeys;
  if (mpReach) msg.mpReach = mpReach;
  if (mpUnreach) msg.mpUnreach = mpUnreach;
  if (taw) msg.treatAsWithdraw = true;
  else if (attrsKey !== undefined) msg.attrsKey = attrsKey;
  if (diagnostics.length > 0) msg.diagnostics = diagnostics;
  return msg;
}

/** RFC 6793 §4.2.3: fold AS4_PATH / AS4_AGGREGATOR of a 2-octet peer into AS_PATH / AGGREGATOR. */
function applyAs4(ctx: AttrDecodeContext): void {
  const a = ctx.attrs;
  let as4Path = ctx.as4Path;
  if (ctx.as4Aggregator) {
    if (a.aggregator && a.aggregator.asn !== AS_TRANS) {
      ctx.diagnostics.push({ code: 'AS4_IGNORED_AGGREGATOR_NOT_AS_TRANS', action: 'attribute-discard', attrType: AttrType.As4Aggregator, message: 'AGGREGATOR is not AS_TRANS: AS4_AGGREGATOR and AS4_PATH ignored' });
      as4Path = undefined;
    } else if (a.aggregator) {
      a.aggregator = ctx.as4Aggregator;
    }
  }
  if (as4Path && a.asPath) {
    const merged = mergeAs4Path(a.asPath, as4Path);
    if (merged) a.asPath = merged;
    else ctx.diagnostics.push({ code: 'AS4_PATH_LONGER_THAN_AS_PATH', action: 'attribute-discard', attrType: AttrType.As4Path, message: 'AS4_PATH is longer than AS_PATH and was ignored' });
  }
}

function mpError(code: string, message: string, b: Uint8Array, ts: number, vEnd: number): BgpDecodeError {
  // RFC 7606 §7.11: a malformed MP_REACH/MP_UNREACH resets the session (no AFI/SAFI disable yet).
  return updateError(code, UpdateErrorSubcode.OptionalAttributeError, message, b.slice(ts, vEnd));
}

function checkMpFlags(b: Uint8Array, flags: number, ts: number, vEnd: number, name: string): void {
  if ((flags & (AttrFlag.Optional | AttrFlag.Transitive | AttrFlag.Partial)) !== AttrFlag.Optional) {
    throw updateError(`${name}_BAD_FLAGS`, UpdateErrorSubcode.AttributeFlagsError, `${name} flags 0x${flags.toString(16)} are not optional non-transitive`, b.slice(ts, vEnd));
  }
}

function decodeMpReach(b: Uint8Array, flags: number, ts: number, vs: number, vlen: number, opts: CodecOptions, diagnostics: UpdateDiagnostic[]): MpReach | undefined {
  const vEnd = vs + vlen;
  checkMpFlags(b, flags, ts, vEnd, 'MP_REACH');
  if (vlen < 5) throw mpError('MP_REACH_TRUNCATED', `MP_REACH_NLRI of ${vlen} bytes`, b, ts, vEnd);
  const afi = u16(b, vs);
  const safi = b[vs + 2]!;
  const nhLen = b[vs + 3]!;
  if (vs + 4 + nhLen + 1 > vEnd) throw mpError('MP_REACH_NEXT_HOP_OVERRUN', `MP_REACH next-hop length ${nhLen} overruns the attribute`, b, ts, vEnd);
  const fam = familyCodec(afi, safi);
  if (!fam) {
    diagnostics.push({ code: 'MP_REACH_UNSUPPORTED_FAMILY', action: 'attribute-discard', attrType: AttrType.MpReachNlri, message: `MP_REACH_NLRI for unsupported AFI/SAFI ${afi}/${safi} ignored` });
    return undefined;
  }
  if (!fam.nextHopLengths.includes(nhLen)) {
    throw mpError('MP_REACH_BAD_NEXT_HOP_LENGTH', `MP_REACH next-hop length ${nhLen} is not valid for ${fam.name}`, b, ts, vEnd);
  }
  const nextHops = fam.decodeNextHops(b, vs + 4, nhLen);
  const nlri: Nlri[] = [];
  fam.decodeNlri(b, vs + 4 + nhLen + 1, vEnd, opts.addPathReceive?.has(afiSafiKey(afi, safi)) ?? false, nlri);
  return { afi, safi, nextHops, nlri };
}

function decodeMpUnreach(b: Uint8Array, flags: number, ts: number, vs: number, vlen: number, opts: CodecOptions, diagnostics: UpdateDiagnostic[]): MpUnreach | undefined {
  const vEnd = vs + vlen;
  checkMpFlags(b, flags, ts, vEnd, 'MP_UNREACH');
  if (vlen < 3) throw mpError('MP_UNREACH_TRUNCATED', `MP_UNREACH_NLRI of ${vlen} bytes`, b, ts, vEnd);
  const afi = u16(b, vs);
  const safi = b[vs + 2]!;
  const fam = familyCodec(afi, safi);
  if (!fam) {
    // An End-of-RIB for a family we do not speak is still an End-of-RIB.
    if (vlen === 3) return { afi, safi, withdrawn: [] };
    diagnostics.push({ code: 'MP_UNREACH_UNSUPPORTED_FAMILY', action: 'attribute-discard', attrType: AttrType.MpUnreachNlri, message: `MP_UNREACH_NLRI for unsupported AFI/SAFI ${afi}/${safi} ignored` });
    return undefined;
  }
  const withdrawn: Nlri[] = [];
  fam.decodeNlri(b, vs + 3, vEnd, opts.addPathReceive?.has(afiSafiKey(afi, safi)) ?? false, withdrawn);
  return { afi, safi, withdrawn };
}

/**
 * The family an UPDATE is End-of-RIB for (RFC 4724 §2), or undefined. A malformed UPDATE is never
 * an End-of-RIB even if what survived decoding looks like one (FRR CVE-2023-47235).
 */
export function isEndOfRib(u: UpdateMessage): { afi: number; safi: number } | undefined {
  if (u.treatAsWithdraw || (u.diagnostics !== undefined && u.diagnostics.length > 0)) return undefined;
  if (u.withdrawn.length > 0 || u.nlri.length > 0 || u.mpReach !== undefined || u.attrsKey !== undefined) return undefined;
  if (Object.keys(u.attrs).length > 0) return undefined;
  if (!u.mpUnreach) return { afi: 1, safi: 1 };
  return u.mpUnreach.withdrawn.length === 0 ? { afi: u.mpUnreach.afi, safi: u.mpUnreach.safi } : undefined;
}

export type { PathAttributes };
