/**
 * OPEN (RFC 4271 §4.2) with capabilities (RFC 5492), including RFC 9072 extended optional
 * parameters. Capability codecs live in a table keyed by capability code; a capability we do not
 * know is kept with its raw value, so the FSM can log it and a later version can use it.
 *
 * Checks that need no configuration (version, hold time, a zero identifier, malformed parameters)
 * throw here. Checks against configuration (peer AS, our own identifier) are in `checkOpen`, a pure
 * function the FSM calls with what it expects.
 */
import {
  AS_TRANS,
  BGP_VERSION,
  CapabilityCode,
  HEADER_LENGTH,
  MAX_MESSAGE_LENGTH,
  MessageType,
  NotifCode,
  OpenErrorSubcode,
  type AddPathMode,
  type Capability,
  type GracefulRestartFamily,
  type OpenMessage,
} from './types.js';
import { BgpDecodeError, BgpEncodeError } from './errors.js';
import { concatBytes, ipv4Text, put16, put32, putIpv4, u16, u32 } from './bytes.js';
import { writeHeader } from './header.js';

/** RFC 5492 §4: optional parameter type carrying capabilities. */
const PARAM_CAPABILITIES = 2;
/** RFC 9072 §2: a non-extended length and first type of 255 announce the extended format. */
const PARAM_EXTENDED = 255;
/** OPEN error subcode 0: RFC 4271 defines no specific subcode for malformed optional parameters. */
const OPEN_ERROR_UNSPECIFIC = 0;
/** Fixed part of the OPEN body: version, My AS, hold time, BGP identifier, opt param length. */
const OPEN_FIXED = 10;
/** Graceful restart flags (RFC 4724 §3, RFC 8538 §2). */
const GR_RESTARTING = 0x8;
const GR_NOTIFICATION = 0x4;
const GR_FORWARDING = 0x80;

function openError(code: string, subcode: number, message: string, data?: Uint8Array): BgpDecodeError {
  return new BgpDecodeError(code, NotifCode.OpenMessageError, subcode, message, data);
}

// ---------------------------------------------------------------- capability table

/** A capability this codec interprets, narrowed by its code. */
type KnownCapability = Exclude<Capability, { unknown: true }>;
type CapabilityOf<C extends CapabilityCode> = Extract<KnownCapability, { code: C }>;

interface CapabilityCodec {
  decode(v: Uint8Array): Capability | undefined;
  encode(c: Capability): Uint8Array;
}

const EMPTY = new Uint8Array(0);

function flagCapability(code: CapabilityCode): CapabilityCodec {
  return {
    decode: (v) => (v.length === 0 ? ({ code } as Capability) : undefined),
    encode: () => EMPTY,
  };
}

const CAPABILITIES = new Map<number, CapabilityCodec>([
  [
    CapabilityCode.Multiprotocol,
    {
      decode: (v) => (v.length === 4 ? { code: CapabilityCode.Multiprotocol, afi: u16(v, 0), safi: v[3]! } : undefined),
      encode: (c) => {
        const m = c as CapabilityOf<CapabilityCode.Multiprotocol>;
        const out = new Uint8Array(4);
        put16(out, 0, m.afi);
        out[3] = m.safi;
        return out;
      },
    },
  ],
  [CapabilityCode.RouteRefresh, flagCapability(CapabilityCode.RouteRefresh)],
  [CapabilityCode.EnhancedRouteRefresh, flagCapability(CapabilityCode.EnhancedRouteRefresh)],
  [CapabilityCode.ExtendedMessage, flagCapability(CapabilityCode.ExtendedMessage)],
  [
    CapabilityCode.FourOctetAs,
    {
      decode: (v) => (v.length === 4 ? { code: CapabilityCode.FourOctetAs, asn: u32(v, 0) } : undefined),
      encode: (c) => {
        const out = new Uint8Array(4);
        put32(out, 0, (c as CapabilityOf<CapabilityCode.FourOctetAs>).asn);
        return out;
      },
    },
  ],
  [
    CapabilityCode.GracefulRestart,
    {
      decode: (v) => {
        if (v.length < 2 || (v.length - 2) % 4 !== 0) return undefined;
        const families: GracefulRestartFamily[] = [];
        for (let o = 2; o < v.length; o += 4) {
          families.push({ afi: u16(v, o), safi: v[o + 2]!, forwardingPreserved: (v[o + 3]! & GR_FORWARDING) !== 0 });
        }
        return {
          code: CapabilityCode.GracefulRestart,
          restarting: (v[0]! >> 4 & GR_RESTARTING) !== 0,
          notification: (v[0]! >> 4 & GR_NOTIFICATION) !== 0,
          restartTime: u16(v, 0) & 0x0fff,
          families,
        };
      },
      encode: (c) => {
        const g = c as CapabilityOf<CapabilityCode.GracefulRestart>;
        const out = new Uint8Array(2 + 4 * g.families.length);
        const flags = (g.restarting ? GR_RESTARTING : 0) | (g.notification ? GR_NOTIFICATION : 0);
        put16(out, 0, (flags << 12) | (g.restartTime & 0x0fff));
        g.families.forEach((f, i) => {
          put16(out, 2 + 4 * i, f.afi);
          out[4 + 4 * i] = f.safi;
          out[5 + 4 * i] = f.forwardingPreserved ? GR_FORWARDING : 0;
        });
        return out;
      },
    },
  ],
  [
    CapabilityCode.AddPath,
    {
      decode: (v) => {
        if (v.length === 0 || v.length % 4 !== 0) return undefined;
        const families: { afi: number; safi: number; mode: AddPathMode }[] = [];
        for (let o = 0; o < v.length; o += 4) {
          const mode = v[o + 3]!;
          if (mode < 1 || mode > 3) return undefined;
          families.push({ afi: u16(v, o), safi: v[o + 2]!, mode: mode as AddPathMode });
        }
        return { code: CapabilityCode.AddPath, families };
      },
      encode: (c) => {
        const a = c as CapabilityOf<CapabilityCode.AddPath>;
        const out = new Uint8Array(4 * a.families.length);
        a.families.forEach((f, i) => {
          put16(out, 4 * i, f.afi);
          out[4 * i + 2] = f.safi;
          out[4 * i + 3] = f.mode;
        });
        return out;
      },
    },
  ],
]);

function decodeCapabilities(b: Uint8Array, start: number, end: number, out: Capability[]): void {
  let o = start;
  while (o < end) {
    if (end - o < 2) throw openError('OPEN_CAPABILITY_TRUNCATED', OPEN_ERROR_UNSPECIFIC, 'capability header overruns its parameter', b.slice(o, end));
    const code = b[o]!;
    const len = b[o + 1]!;
    if (o + 2 + len > end) {
      throw openError('OPEN_CAPABILITY_TRUNCATED', OPEN_ERROR_UNSPECIFIC, `capability ${code} length ${len} overruns its parameter`, b.slice(o, end));
    }
    const value = b.slice(o + 2, o + 2 + len);
    const codec = CAPABILITIES.get(code);
    if (codec) {
      const cap = codec.decode(value);
      if (!cap) {
        throw openError('OPEN_CAPABILITY_MALFORMED', OPEN_ERROR_UNSPECIFIC, `capability ${code} has a malformed value of ${len} bytes`, b.slice(o, o + 2 + len));
      }
      out.push(cap);
    } else {
      out.push({ code, unknown: true, value });
    }
    o += 2 + len;
  }
}

// ---------------------------------------------------------------- OPEN

/** Decodes a whole OPEN message (header included, already length-checked). */
export function decodeOpen(b: Uint8Array): OpenMessage {
  const end = b.length;
  const p = HEADER_LENGTH;
  const version = b[p]!;
  if (version !== BGP_VERSION) {
    // RFC 4271 §6.2: data is the largest version we support.
    throw openError('OPEN_UNSUPPORTED_VERSION', OpenErrorSubcode.UnsupportedVersionNumber, `peer speaks BGP version ${version}, we speak 4`, Uint8Array.of(0, BGP_VERSION));
  }
  const myAs = u16(b, p + 1);
  // RFC 7607 §2: AS 0 in OPEN is Bad Peer AS, whatever the configuration.
  if (myAs === 0) throw openError('OPEN_BAD_PEER_AS', OpenErrorSubcode.BadPeerAs, 'My AS is 0');
  const holdTime = u16(b, p + 3);
  if (holdTime === 1 || holdTime === 2) {
    throw openError('OPEN_UNACCEPTABLE_HOLD_TIME', OpenErrorSubcode.UnacceptableHoldTime, `hold time ${holdTime}s is neither 0 nor at least 3s`);
  }
  const id = u32(b, p + 5);
  if (id === 0) throw openError('OPEN_BAD_BGP_ID', OpenErrorSubcode.BadBgpIdentifier, 'BGP identifier 0.0.0.0 is not valid');
  const bgpId = ipv4Text(b, p + 5);
  let optLen = b[p + 9]!;
  let o = p + OPEN_FIXED;
  let extended = false;
  if (optLen === PARAM_EXTENDED && end > o && b[o] === PARAM_EXTENDED) {
    if (end - o < 3) throw openError('OPEN_OPT_PARAMS_TRUNCATED', OPEN_ERROR_UNSPECIFIC, 'extended optional parameter length truncated');
    extended = true;
    optLen = u16(b, o + 1);
    o += 3;
  }
  if (o + optLen !== end) {
    throw openError('OPEN_OPT_PARAMS_LENGTH', OPEN_ERROR_UNSPECIFIC, `optional parameters length ${optLen} does not match the message (${end - o} bytes follow)`);
  }
  const capabilities: Capability[] = [];
  const hdr = extended ? 3 : 2;
  while (o < end) {
    if (end - o < hdr) throw openError('OPEN_OPT_PARAMS_TRUNCATED', OPEN_ERROR_UNSPECIFIC, 'optional parameter header truncated', b.slice(o, end));
    const type = b[o]!;
    const len = extended ? u16(b, o + 1) : b[o + 1]!;
    const vstart = o + hdr;
    if (vstart + len > end) {
      throw openError('OPEN_OPT_PARAMS_TRUNCATED', OPEN_ERROR_UNSPECIFIC, `optional parameter ${type} length ${len} overruns the message`, b.slice(o, end));
    }
    if (type !== PARAM_CAPABILITIES) {
      throw openError('OPEN_UNSUPPORTED_OPT_PARAM', OpenErrorSubcode.UnsupportedOptionalParameter, `optional parameter type ${type} is not supported`, b.slice(o, vstart + len));
    }
    decodeCapabilities(b, vstart, vstart + len, capabilities);
    o = vstart + len;
  }
  for (const c of capabilities) {
    if (!('unknown' in c) && c.code === CapabilityCode.FourOctetAs && c.asn === 0) {
      throw openError('OPEN_BAD_PEER_AS', OpenErrorSubcode.BadPeerAs, '4-octet AS capability carries AS 0');
    }
  }
  return { type: MessageType.Open, version, myAs, holdTime, bgpId, capabilities };
}

/** The 2-octet My AS field for a local AS: AS_TRANS when it does not fit (RFC 6793 §4.1). */
export function myAsField(asn: number): number {
  return asn > 0xffff ? AS_TRANS : asn;
}

function encodeCapability(c: Capability): Uint8Array {
  let value: Uint8Array;
  if ('unknown' in c) value = c.value;
  else {
    const codec = CAPABILITIES.get(c.code);
    if (!codec) throw new BgpEncodeError('ENCODE_CAPABILITY', `no encoder for capability ${c.code}`);
    value = codec.encode(c);
  }
  if (value.length > 255) throw new BgpEncodeError('ENCODE_CAPABILITY', `capability ${c.code} value is ${value.length} bytes, more than 255`);
  const out = new Uint8Array(2 + value.length);
  out[0] = c.code;
  out[1] = value.length;
  out.set(value, 2);
  return out;
}

export function encodeOpen(msg: Omit<OpenMessage, 'type' | 'version'> & { version?: number }): Uint8Array {
  // One capabilities parameter per capability, as GoBGP does: every speaker parses that form.
  const params = msg.capabilities.map((c) => {
    const cap = encodeCapability(c);
    const p = new Uint8Array(2 + cap.length);
    p[0] = PARAM_CAPABILITIES;
    p[1] = cap.length;
    p.set(cap, 2);
    return p;
  });
  let opt = concatBytes(params);
  let optLenField = opt.length;
  if (opt.length > 255) {
    // RFC 9072: re-encode with 2-octet parameter lengths behind the 255/255 escape.
    const ext = msg.capabilities.map((c) => {
      const cap = encodeCapability(c);
      const p = new Uint8Array(3 + cap.length);
      p[0] = PARAM_CAPABILITIES;
      put16(p, 1, cap.length);
      p.set(cap, 3);
      return p;
    });
    const body = concatBytes(ext);
    opt = new Uint8Array(3 + body.length);
    opt[0] = PARAM_EXTENDED;
    put16(opt, 1, body.length);
    opt.set(body, 3);
    optLenField = PARAM_EXTENDED;
  }
  const len = HEADER_LENGTH + OPEN_FIXED + opt.length;
  if (len > MAX_MESSAGE_LENGTH) throw new BgpEncodeError('ENCODE_TOO_LONG', `OPEN would be ${len} bytes`);
  const out = new Uint8Array(len);
  writeHeader(out, len, MessageType.Open);
  const p = HEADER_LENGTH;
  out[p] = msg.version ?? BGP_VERSION;
  put16(out, p + 1, msg.myAs);
  put16(out, p + 3, msg.holdTime);
  if (!putIpv4(msg.bgpId, out, p + 5)) throw new BgpEncodeError('ENCODE_BGP_ID', `BGP identifier ${msg.bgpId} is not a dotted quad`);
  out[p + 9] = optLenField;
  out.set(opt, p + OPEN_FIXED);
  return out;
}

// ---------------------------------------------------------------- checks against configuration

/** The peer's real AS: the 4-octet AS capability when present, else the My AS field. */
export function peerAsOf(open: OpenMessage): number {
  for (const c of open.capabilities) if (!('unknown' in c) && c.code === CapabilityCode.FourOctetAs) return c.asn;
  return open.myAs;
}

export interface OpenExpectations {
  /** Configured peer AS. */
  peerAs: number;
  /** Our BGP identifier (dotted quad). */
  localBgpId: string;
  ibgp: boolean;
}

/**
 * RFC 4271 §6.2 checks that depend on configuration: Bad Peer AS (RFC 6793 §4.2.1: compare the
 * 4-octet capability when present; and the My AS field must agree with that capability) and Bad
 * BGP Identifier (RFC 6286 §2.2: an iBGP peer must not use our identifier). Throws BgpDecodeError.
 * This is the one place these rules live; the FSM only translates the error.
 */
export function checkOpen(open: OpenMessage, expect: OpenExpectations): void {
  const asn = peerAsOf(open);
  if (asn !== expect.peerAs) {
    throw openError('OPEN_BAD_PEER_AS', OpenErrorSubcode.BadPeerAs, `peer says AS ${asn}, configured peer AS is ${expect.peerAs}`);
  }
  // RFC 6793 §4.1: with the capability, My AS is the AS itself when it fits in 2 octets, else
  // AS_TRANS (AS_TRANS is accepted in both cases); without it, AS_TRANS is not a real AS.
  let as4: number | undefined;
  for (const c of open.capabilities) if (!('unknown' in c) && c.code === CapabilityCode.FourOctetAs) as4 ??= c.asn;
  const myAsOk = as4 !== undefined ? open.myAs === myAsField(as4) || open.myAs === AS_TRANS : open.myAs !== AS_TRANS;
  if (!myAsOk) {
    throw openError(
      'OPEN_BAD_PEER_AS',
      OpenErrorSubcode.BadPeerAs,
      `peer's My AS field ${open.myAs} disagrees with its ${as4 !== undefined ? `4-octet AS capability ${as4}` : 'lack of a 4-octet AS capability'}`,
    );
  }
  if (expect.ibgp && open.bgpId === expect.localBgpId) {
    throw openError('OPEN_BAD_BGP_ID', OpenErrorSubcode.BadBgpIdentifier, `iBGP peer uses our own BGP identifier ${open.bgpId}`);
  }
}
