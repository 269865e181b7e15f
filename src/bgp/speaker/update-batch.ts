/**
 * Turns the RIB's Adj-RIB-Out deltas into UPDATE messages that each fit the negotiated maximum
 * size (RFC 4271 §4.1, RFC 8654). The RIB groups prefixes by shared attributes; here each group
 * is cut into as few messages as fit, by measuring the attribute part once per group and adding
 * the exact NLRI size of every prefix (1 length octet + ceil(len/8), +4 with add-path).
 */
import {
  AFI_IPV4,
  MAX_EXTENDED_MESSAGE_LENGTH,
  MAX_MESSAGE_LENGTH,
  MessageType,
  afiSafiKey,
  type CodecOptions,
  type Nlri,
  type PathAttributes,
  type UpdateMessage,
} from '../wire/types.js';
import type { AnnounceGroup } from '../rib/index.js';

/**
 * Spare octets per message: an attribute whose length crosses 255 gains an extended-length octet
 * (MP_REACH/MP_UNREACH grow with their NLRI), so leave room for both.
 */
const LENGTH_SLACK = 4;

function nlriBytes(prefix: string, addPath: boolean): number {
  const len = Number(prefix.slice(prefix.lastIndexOf('/') + 1));
  return 1 + Math.ceil(len / 8) + (addPath ? 4 : 0);
}

export type Encode = (msg: UpdateMessage, opts: CodecOptions) => Uint8Array;

function announceMessage(afi: number, safi: number, attrs: Readonly<PathAttributes>, nlri: Nlri[]): UpdateMessage {
  if (afi === AFI_IPV4) return { type: MessageType.Update, withdrawn: [], attrs: { ...attrs }, nlri };
  const { nextHop, ...rest } = attrs;
  return {
    type: MessageType.Update,
    withdrawn: [],
    attrs: rest,
    nlri: [],
    mpReach: { afi, safi, nextHops: nextHop ? [nextHop] : [], nlri },
  };
}

function withdrawMessage(afi: number, safi: number, nlri: Nlri[]): UpdateMessage {
  if (afi === AFI_IPV4) return { type: MessageType.Update, withdrawn: nlri, attrs: {}, nlri: [] };
  return { type: MessageType.Update, withdrawn: [], attrs: {}, nlri: [], mpUnreach: { afi, safi, withdrawn: nlri } };
}

/** Splits `prefixes` into runs whose NLRI fit in `budget` bytes each. */
function* packs(prefixes: readonly string[], budget: number, addPath: boolean): Generator<Nlri[]> {
  let run: Nlri[] = [];
  let used = 0;
  for (const p of prefixes) {
    const b = nlriBytes(p, addPath);
    if (used + b > budget && run.length > 0) {
      yield run;
      run = [];
      used = 0;
    }
    run.push(addPath ? { prefix: p, pathId: 1 } : { prefix: p });
    used += b;
  }
  if (run.length > 0) yield run;
}

export function encodeAnnounce(group: AnnounceGroup, opts: CodecOptions, encode: Encode): Uint8Array[] {
  const max = opts.extendedMessages ? MAX_EXTENDED_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH;
  const addPath = opts.addPathSend?.has(afiSafiKey(group.afi, group.safi)) ?? false;
  const base = encode(announceMessage(group.afi, group.safi, group.attrs, []), opts).length;
  const budget = max - base - LENGTH_SLACK;
  const out: Uint8Array[] = [];
  for (const nlri of packs(group.prefixes, budget, addPath)) out.push(encode(announceMessage(group.afi, group.safi, group.attrs, nlri), opts));
  return out;
}

export function encodeWithdraw(w: { afi: number; safi: number; prefixes: string[] }, opts: CodecOptions, encode: Encode): Uint8Array[] {
  const max = opts.extendedMessages ? MAX_EXTENDED_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH;
  const addPath = opts.addPathSend?.has(afiSafiKey(w.afi, w.safi)) ?? false;
  const base = encode(withdrawMessage(w.afi, w.safi, []), opts).length;
  const budget = max - base - LENGTH_SLACK;
  const out: Uint8Array[] = [];
  for (const nlri of packs(w.prefixes, budget, addPath)) out.push(encode(withdrawMessage(w.afi, w.safi, nlri), opts));
  return out;
}

/** RFC 4724 §2: End-of-RIB is an empty UPDATE for IPv4 unicast, an empty MP_UNREACH otherwise. */
export function endOfRibMessage(afi: number, safi: number): UpdateMessage {
  return withdrawMessage(afi, safi, []);
}
