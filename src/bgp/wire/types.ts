/**
 * BGP-4 message model shared by the wire codec, the FSM and the RIB.
 *
 * This module is the contract between `src/bgp/wire` (which turns bytes into these values and back)
 * and everything above it. It holds types and constants only: no I/O, no logic.
 *
 * Conventions:
 * - Prefixes are canonical CIDR strings ("10.0.0.0/26", "fd00::/64"): host bits zero, IPv6 in the
 *   RFC 5952 compressed form. Strings make cheap, exact Map keys.
 * - Addresses (next hops, router ids, ORIGINATOR_ID) are dotted/colon text.
 * - AS numbers are plain numbers (0 .. 2^32-1).
 */

export const BGP_PORT = 179;
export const BGP_VERSION = 4;
export const HEADER_LENGTH = 19;
/** RFC 4271 §4.1 maximum message size, without extended messages. */
export const MAX_MESSAGE_LENGTH = 4096;
/** RFC 8654 maximum message size once extended messages are negotiated. */
export const MAX_EXTENDED_MESSAGE_LENGTH = 65535;
/** RFC 6793: the 2-octet placeholder sent in OPEN's My AS field when the real AS does not fit. */
export const AS_TRANS = 23456;

export const enum MessageType {
  Open = 1,
  Update = 2,
  Notification = 3,
  Keepalive = 4,
  RouteRefresh = 5,
}

export type Afi = 1 | 2;
export const AFI_IPV4 = 1;
export const AFI_IPV6 = 2;
export const SAFI_UNICAST = 1;

/** "1/1" for IPv4 unicast, "2/1" for IPv6 unicast: a key for per-family maps. */
export type AfiSafiKey = `${number}/${number}`;
export function afiSafiKey(afi: number, safi: number): AfiSafiKey {
  return `${afi}/${safi}`;
}

// ---------------------------------------------------------------- capabilities (RFC 5492)

export const enum CapabilityCode {
  Multiprotocol = 1,
  RouteRefresh = 2,
  ExtendedMessage = 6,
  GracefulRestart = 64,
  FourOctetAs = 65,
  AddPath = 69,
  EnhancedRouteRefresh = 70,
}

export interface GracefulRestartFamily {
  afi: number;
  safi: number;
  /** F bit: forwarding state was preserved across the restart. */
  forwardingPreserved: boolean;
}

/** Add-path direction per RFC 7911 §4: 1 receive, 2 send, 3 both. */
export type AddPathMode = 1 | 2 | 3;

export type Capability =
  | { code: CapabilityCode.Multiprotocol; afi: number; safi: number }
  | { code: CapabilityCode.RouteRefresh }
  | { code: CapabilityCode.EnhancedRouteRefresh }
  | { code: CapabilityCode.ExtendedMessage }
  | { code: CapabilityCode.FourOctetAs; asn: number }
  | {
      code: CapabilityCode.GracefulRestart;
      /** R bit: the sender has restarted. */
      restarting: boolean;
      /** N bit (RFC 8538): the sender supports notification handling. */
      notification: boolean;
      /** Restart time in seconds (12 bits). */
      restartTime: number;
      families: GracefulRestartFamily[];
    }
  | { code: CapabilityCode.AddPath; families: { afi: number; safi: number; mode: AddPathMode }[] }
  | { code: number & {}; unknown: true; value: Uint8Array };

// ---------------------------------------------------------------- messages

export interface OpenMessage {
  type: MessageType.Open;
  version: number;
  /** The 2-octet My AS field as sent (AS_TRANS when the real AS is 4-octet). */
  myAs: number;
  holdTime: number;
  /** BGP identifier as dotted quad. */
  bgpId: string;
  capabilities: Capability[];
}

export interface KeepaliveMessage {
  type: MessageType.Keepalive;
}

export interface NotificationMessage {
  type: MessageType.Notification;
  code: number;
  subcode: number;
  data: Uint8Array;
}

export interface RouteRefreshMessage {
  type: MessageType.RouteRefresh;
  afi: number;
  safi: number;
  /** RFC 7313 message subtype: 0 normal, 1 BoRR, 2 EoRR. */
  subtype: number;
}

/** One NLRI entry. `pathId` is present only when add-path is negotiated for its family. */
export interface Nlri {
  prefix: string;
  pathId?: number;
}

export const enum Origin {
  Igp = 0,
  Egp = 1,
  Incomplete = 2,
}

export const enum AsPathSegmentType {
  AsSet = 1,
  AsSequence = 2,
  ConfedSequence = 3,
  ConfedSet = 4,
}

export interface AsPathSegment {
  type: AsPathSegmentType;
  asns: number[];
}

export const enum AttrType {
  Origin = 1,
  AsPath = 2,
  NextHop = 3,
  Med = 4,
  LocalPref = 5,
  AtomicAggregate = 6,
  Aggregator = 7,
  Communities = 8,
  OriginatorId = 9,
  ClusterList = 10,
  MpReachNlri = 14,
  MpUnreachNlri = 15,
  ExtendedCommunities = 16,
  As4Path = 17,
  As4Aggregator = 18,
  LargeCommunities = 32,
}

export const enum AttrFlag {
  Optional = 0x80,
  Transitive = 0x40,
  Partial = 0x20,
  ExtendedLength = 0x10,
}

/** An attribute this codec does not interpret, carried on per RFC 4271 §5 / §9. */
export interface RawAttribute {
  flags: number;
  type: number;
  value: Uint8Array;
}

export interface LargeCommunity {
  globalAdmin: number;
  localData1: number;
  localData2: number;
}

/**
 * The path attributes of an UPDATE, decoded. AS_PATH is the merged 4-octet path (AS4_PATH already
 * folded in per RFC 6793 §4.2.3 when the peer is 2-octet). MP_REACH/MP_UNREACH are lifted out into
 * the UpdateMessage.
 */
export interface PathAttributes {
  origin?: Origin;
  asPath?: AsPathSegment[];
  nextHop?: string;
  med?: number;
  localPref?: number;
  atomicAggregate?: boolean;
  aggregator?: { asn: number; address: string };
  /** RFC 1997 communities, each as a 32-bit unsigned number. */
  communities?: number[];
  /** RFC 4360 extended communities, each exactly 8 bytes. */
  extendedCommunities?: Uint8Array[];
  largeCommunities?: LargeCommunity[];
  originatorId?: string;
  clusterList?: string[];
  /** Unrecognised optional transitive attributes (Partial bit set on re-advertisement). */
  unknown?: RawAttribute[];
}

export interface MpReach {
  afi: number;
  safi: number;
  /** Global next hop first; for IPv6 a link-local second one may follow. */
  nextHops: string[];
  nlri: Nlri[];
}

export interface MpUnreach {
  afi: number;
  safi: number;
  withdrawn: Nlri[];
}

/** What RFC 7606 told the decoder to do with a malformed UPDATE that did not reset the session. */
export interface UpdateDiagnostic {
  /** Stable code, e.g. 'ORIGIN_BAD_LENGTH'. */
  code: string;
  action: 'treat-as-withdraw' | 'attribute-discard';
  attrType?: number;
  message: string;
}

export interface UpdateMessage {
  type: MessageType.Update;
  /** IPv4 withdrawn routes from the classic field. */
  withdrawn: Nlri[];
  attrs: PathAttributes;
  /** IPv4 NLRI from the classic field. */
  nlri: Nlri[];
  mpReach?: MpReach;
  mpUnreach?: MpUnreach;
  /**
   * Set when RFC 7606 says treat-as-withdraw: every prefix in `nlri` and `mpReach.nlri` must be
   * handled as withdrawn, and `attrs` must not be used.
   */
  treatAsWithdraw?: boolean;
  /** Everything RFC 7606 made the decoder do, for logs and metrics. */
  diagnostics?: UpdateDiagnostic[];
  /**
   * Set by the decoder when the UPDATE carries path attributes other than MP_REACH/MP_UNREACH and
   * was not treated as withdrawn: the raw bytes of those attributes (latin1) behind a short prefix
   * for the session facts that change their meaning. Equal keys mean equal `attrs`, so the RIB can
   * intern attribute sets by it without comparing objects.
   */
  attrsKey?: string;
  /**
   * Set by the decoder when `nlri` is not empty: each prefix of `nlri` as a number, index for
   * index (`Ipv4PrefixKey` in ./prefix.ts: 2^len + the prefix's top bits). The RIB keys its IPv4
   * table by these, so with them it never has to parse the prefix text of a full table. Whoever
   * changes `nlri` after decoding must drop this (the RIB ignores it when the lengths differ,
   * and parses the text).
   */
  nlriKeys?: number[];
  /** The same for `withdrawn`. */
  withdrawnKeys?: number[];
}

export type BgpMessage =
  | OpenMessage
  | UpdateMessage
  | NotificationMessage
  | KeepaliveMessage
  | RouteRefreshMessage;

/** Capabilities negotiated for a session, which change how UPDATEs are encoded and decoded. */
export interface CodecOptions {
  /** RFC 6793: both sides sent the 4-octet AS capability. */
  fourOctetAs: boolean;
  /** RFC 8654: both sides sent the extended message capability. */
  extendedMessages: boolean;
  /** Families ("afi/safi") for which we receive path identifiers (RFC 7911). */
  addPathReceive?: ReadonlySet<AfiSafiKey>;
  /** Families for which we send path identifiers. */
  addPathSend?: ReadonlySet<AfiSafiKey>;
  /** The session is iBGP (changes RFC 7606 handling of LOCAL_PREF, ORIGINATOR_ID, CLUSTER_LIST). */
  ibgp: boolean;
  /**
   * Optional per-session decode cache keyed by `UpdateMessage.attrsKey`. With it, UPDATEs whose
   * attribute bytes were seen before skip attribute decoding and return the *same* PathAttributes
   * object, which callers must therefore treat as immutable. The decoder bounds its size.
   */
  attrCache?: Map<string, PathAttributes>;
}

export const DEFAULT_CODEC_OPTIONS: CodecOptions = { fourOctetAs: false, extendedMessages: false, ibgp: false };

// ---------------------------------------------------------------- NOTIFICATION codes (RFC 4271 §4.5)

export const enum NotifCode {
  MessageHeaderError = 1,
  OpenMessageError = 2,
  UpdateMessageError = 3,
  HoldTimerExpired = 4,
  FsmError = 5,
  Cease = 6,
  RouteRefreshError = 7,
}

export const enum HeaderErrorSubcode {
  ConnectionNotSynchronized = 1,
  BadMessageLength = 2,
  BadMessageType = 3,
}

export const enum OpenErrorSubcode {
  UnsupportedVersionNumber = 1,
  BadPeerAs = 2,
  BadBgpIdentifier = 3,
  UnsupportedOptionalParameter = 4,
  UnacceptableHoldTime = 6,
  UnsupportedCapability = 7,
}

export const enum UpdateErrorSubcode {
  MalformedAttributeList = 1,
  UnrecognizedWellKnownAttribute = 2,
  MissingWellKnownAttribute = 3,
  AttributeFlagsError = 4,
  AttributeLengthError = 5,
  InvalidOriginAttribute = 6,
  InvalidNextHopAttribute = 8,
  OptionalAttributeError = 9,
  InvalidNetworkField = 10,
  MalformedAsPath = 11,
}

export const enum CeaseSubcode {
  MaxPrefixesReached = 1,
  AdministrativeShutdown = 2,
  PeerDeconfigured = 3,
  AdministrativeReset = 4,
  ConnectionRejected = 5,
  OtherConfigurationChange = 6,
  ConnectionCollisionResolution = 7,
  OutOfResources = 8,
  HardReset = 9,
}
