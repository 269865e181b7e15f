/**
 * Building our OPEN, validating the peer's (RFC 4271 §6.2 plus /work/shared/bgp-robustness.md rows
 * 4–7), and negotiating the session from the two capability lists (RFC 5492: a capability is in
 * effect only when both sides announced it). Pure functions: the FSM calls them and turns an
 * OpenValidationError into the NOTIFICATION it names.
 */
import {
  AS_TRANS,
  BGP_VERSION,
  CapabilityCode,
  MessageType,
  NotifCode,
  OpenErrorSubcode,
  afiSafiKey,
  AFI_IPV4,
  SAFI_UNICAST,
  type AfiSafiKey,
  type Capability,
  type CodecOptions,
  type OpenMessage,
} from '../wire/types.js';
import { negotiateCodecOptions } from '../wire/negotiate.js';
import { checkOpen, peerAsOf } from '../wire/open.js';
import { isBgpDecodeError } from '../wire/errors.js';
import type { NegotiatedSession, NotificationInfo } from './types.js';

/** RFC 4724 §3: restart time is a 12-bit field. */
export const MAX_RESTART_TIME = 4095;

/** What our side of a session offers. */
export interface LocalOpenConfig {
  localAs: number;
  routerId: string;
  /** The AS we expect the peer to be in. */
  peerAs: number;
  /** Seconds we propose (0 or >= 3). */
  holdTime: number;
  /** Seconds between our keepalives; default holdTime/3 (RFC 4271 §10). */
  keepaliveTime?: number;
  families: readonly AfiSafiKey[];
  /** Send the GR capability: restartTime, and the R bit when this process is restarting. */
  gracefulRestart?: { restartTime: number; restarting: boolean };
  /** Offer RFC 8654 extended messages. */
  extendedMessages?: boolean;
  /** Families for which we ask to receive add-path identifiers (RFC 7911). */
  addPathReceive?: readonly AfiSafiKey[];
}

export class OpenValidationError extends Error {
  readonly notification: NotificationInfo;
  readonly code: string;
  constructor(code: string, subcode: OpenErrorSubcode, message: string, data: Uint8Array = new Uint8Array(0)) {
    super(message);
    this.name = 'OpenValidationError';
    this.code = code;
    this.notification = { code: NotifCode.OpenMessageError, subcode, data };
  }
}

function splitKey(k: AfiSafiKey): { afi: number; safi: number } {
  const [afi, safi] = k.split('/').map(Number);
  return { afi: afi!, safi: safi! };
}

export function buildOpen(cfg: LocalOpenConfig): OpenMessage {
  const caps: Capability[] = [];
  for (const f of cfg.families) caps.push({ code: CapabilityCode.Multiprotocol, ...splitKey(f) });
  caps.push({ code: CapabilityCode.RouteRefresh });
  if (cfg.extendedMessages) caps.push({ code: CapabilityCode.ExtendedMessage });
  if (cfg.gracefulRestart) {
    caps.push({
      code: CapabilityCode.GracefulRestart,
      restarting: cfg.gracefulRestart.restarting,
      notification: false,
      restartTime: Math.min(MAX_RESTART_TIME, cfg.gracefulRestart.restartTime),
      // We set F: the kernel keeps our forwarding entries while this process restarts.
      families: cfg.families.map((f) => ({ ...splitKey(f), forwardingPreserved: cfg.gracefulRestart!.restarting })),
    });
  }
  caps.push({ code: CapabilityCode.FourOctetAs, asn: cfg.localAs });
  if (cfg.addPathReceive && cfg.addPathReceive.length > 0) {
    caps.push({
      code: CapabilityCode.AddPath,
      families: cfg.addPathReceive.map((f) => ({ ...splitKey(f), mode: 1 as const })),
    });
  }
  return {
    type: MessageType.Open,
    version: BGP_VERSION,
    myAs: cfg.localAs > 0xffff ? AS_TRANS : cfg.localAs,
    holdTime: cfg.holdTime,
    bgpId: cfg.routerId,
    capabilities: caps,
  };
}

/**
 * Checks the peer's OPEN against our configuration; returns the peer's real AS. Throws
 * OpenValidationError naming the NOTIFICATION to send.
 *
 * The OPEN rules live in the codec: `decodeOpen` rejects what is wrong whatever the configuration
 * (version, hold time 1–2 s, identifier 0, AS 0, malformed parameters) before the FSM sees the
 * message, and `checkOpen` rejects what is wrong for this peer (Bad Peer AS, including a My AS
 * field that disagrees with the 4-octet AS capability; our own identifier on iBGP). This function
 * only runs `checkOpen` and re-raises its error in the FSM's terms.
 */
export function validateOpen(open: OpenMessage, cfg: LocalOpenConfig): number {
  const ibgp = cfg.peerAs === cfg.localAs;
  try {
    checkOpen(open, { peerAs: cfg.peerAs, localBgpId: cfg.routerId, ibgp });
  } catch (e) {
    if (!isBgpDecodeError(e) || e.notifCode !== NotifCode.OpenMessageError) throw e;
    const hint =
      e.notifSubcode === OpenErrorSubcode.BadPeerAs
        ? ": fix the peer's asNumber"
        : e.notifSubcode === OpenErrorSubcode.BadBgpIdentifier
          ? ': router ids must be unique'
          : '';
    throw new OpenValidationError(e.code, e.notifSubcode as OpenErrorSubcode, `${e.message}${hint}`, e.data);
  }
  return peerAsOf(open);
}

type KnownCapability = Exclude<Capability, { unknown: true }>;

/** The first capability with `code`, skipping unknown ones whose code merely collides. */
function findCap<C extends KnownCapability['code']>(caps: readonly Capability[], code: C): Extract<KnownCapability, { code: C }> | undefined {
  for (const c of caps) if (!('unknown' in c) && c.code === code) return c as Extract<KnownCapability, { code: C }>;
  return undefined;
}

function mpFamilies(caps: readonly Capability[]): Set<AfiSafiKey> {
  const out = new Set<AfiSafiKey>();
  for (const c of caps) if (!('unknown' in c) && c.code === CapabilityCode.Multiprotocol) out.add(afiSafiKey(c.afi, c.safi));
  return out;
}

/** Intersects our OPEN with the peer's. Call after validateOpen. */
export function negotiate(local: OpenMessage, remote: OpenMessage, cfg: LocalOpenConfig, peerAs: number): NegotiatedSession {
  const ours = mpFamilies(local.capabilities);
  const theirs = mpFamilies(remote.capabilities);
  // RFC 4760 §8: a speaker that sends no multiprotocol capability does IPv4 unicast only.
  const ipv4 = afiSafiKey(AFI_IPV4, SAFI_UNICAST);
  if (ours.size === 0) ours.add(ipv4);
  if (theirs.size === 0) theirs.add(ipv4);
  const families = new Set([...ours].filter((k) => theirs.has(k)));

  const holdTime = Math.min(cfg.holdTime, remote.holdTime);
  // RFC 4271 §10: keepalive at a third of the negotiated hold time unless configured shorter.
  const keepaliveTime = holdTime === 0 ? 0 : Math.max(1, Math.min(cfg.keepaliveTime ?? holdTime, Math.floor(holdTime / 3)));

  const ibgp = peerAs === cfg.localAs;
  // A per-session attribute cache: a peer repeats a few attribute sets across a whole table, and a
  // hit skips attribute decoding. The decoded objects are then shared, which the RIB allows: it
  // never mutates what it is given (it interns a frozen copy). Per session because the meaning of
  // the bytes depends on the session's 4-octet AS and iBGP facts.
  const codec: CodecOptions = { ...negotiateCodecOptions(local.capabilities, remote.capabilities, ibgp), attrCache: new Map() };
  const grCap = findCap(remote.capabilities, CapabilityCode.GracefulRestart);
  return {
    peerBgpId: remote.bgpId,
    peerAs,
    ibgp,
    holdTime,
    keepaliveTime,
    families,
    routeRefresh: !!findCap(local.capabilities, CapabilityCode.RouteRefresh) && !!findCap(remote.capabilities, CapabilityCode.RouteRefresh),
    codec,
    ...(grCap
      ? {
          peerGracefulRestart: {
            restarting: grCap.restarting,
            restartTime: grCap.restartTime,
            families: new Map(grCap.families.map((f) => [afiSafiKey(f.afi, f.safi), f.forwardingPreserved] as const)),
          },
        }
      : {}),
    localGracefulRestart: !!findCap(local.capabilities, CapabilityCode.GracefulRestart),
  };
}
