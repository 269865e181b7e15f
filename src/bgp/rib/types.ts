/**
 * Public types of the RIB: peer configuration, session facts, outputs and status views. Kept
 * apart from the implementation so the speaker, the route reconciler and the CLI can program
 * against them without reading the RIB's internals.
 */
import type { AfiSafiKey, PathAttributes } from '../wire/types.js';
import type { Policy } from '../policy/types.js';
import type { Logger } from '../../util/log.js';

/** The speaker's name for a configured peer (e.g. its address, or "node-mesh/10.0.0.2"). */
export type PeerId = string;

export interface RibOptions {
  localAs: number;
  /** Our BGP identifier (dotted quad). */
  routerId: string;
  /**
   * RFC 4456 cluster id when we are a route reflector (Calico `routeReflectorClusterID`).
   * Defaults to `routerId`, as RFC 4456 §7 allows. Only used when some peer is an RR client.
   */
  clusterId?: string;
  /**
   * Compare MED between paths from different neighbouring ASes too (RFC 4271 §9.1.2.2 c says
   * only within one neighbouring AS; BIRD's `med metric`, GoBGP's `always-compare-med`).
   */
  alwaysCompareMed?: boolean;
  logger?: Logger;
}

/** Static, configured facts about a peer. */
export interface PeerConfig {
  /** Peer's address (the TCP remote address); last tie-breaker of the decision process. */
  address: string;
  asn: number;
  /** This side treats the peer as a route-reflector client (we are its reflector). */
  routeReflectorClient?: boolean;
  /** Set NEXT_HOP to our address on iBGP export too (BIRD `next hop self`). */
  nextHopSelf?: boolean;
  /** Never rewrite NEXT_HOP on export, even to eBGP (Calico BGPPeer `keepOriginalNextHop`). */
  keepOriginalNextHop?: boolean;
  /**
   * How many times our own AS may appear in a received AS_PATH before the route is dropped as a
   * loop (Calico BGPPeer `numAllowedLocalASNumbers`, BIRD `allow local as`). Default 0.
   */
  allowedLocalAsNumbers?: number;
  importPolicy?: Policy;
  exportPolicy?: Policy;
}

/** Facts learned when the session reaches Established. */
export interface PeerSession {
  /** The peer's BGP identifier from its OPEN. */
  routerId: string;
  /**
   * Our transport address on this session, IPv4 or IPv6 (what the TCP connection is bound to).
   * NEXT_HOP for IPv4 routes we rewrite to ourselves only when it is an IPv4 address.
   */
  localAddress: string;
  /** Our IPv6 address for IPv6 next hops (MP_REACH), when the session carries IPv6. */
  localAddressV6?: string;
  /** Families negotiated with the multiprotocol capability (or 1/1 by default). */
  families: ReadonlySet<AfiSafiKey>;
  /** Families in which the peer sends path identifiers (RFC 7911). Only shapes stats/lookup. */
  addPathReceive?: ReadonlySet<AfiSafiKey>;
}

export interface PeerDownOptions {
  /**
   * Graceful restart helper (RFC 4724 §4.2): keep this peer's routes, marked stale, for the
   * listed families (all families when `families` is omitted). Without it every route from the
   * peer is withdrawn at once.
   */
  gracefulRestart?: { families?: readonly AfiSafiKey[] };
}

/**
 * Why the best path won, each value citing the step of RFC 4271 §9.1.2.2 (or the RFC that adds
 * it). The value names the step at which the last competitor was eliminated.
 */
export type BestPathReason =
  /** Only one eligible path. */
  | 'only-path'
  /** RFC 4271 §9.1.1: highest degree of preference, i.e. LOCAL_PREF (default 100). */
  | 'local-pref'
  /** Not in RFC 4271: locally originated routes beat learned ones (GoBGP, Cisco, Juniper). */
  | 'local-origin'
  /** §9.1.2.2 a: shortest AS_PATH (AS_SET counts 1, confederation segments 0). */
  | 'as-path-length'
  /** §9.1.2.2 b: lowest ORIGIN (IGP < EGP < INCOMPLETE). */
  | 'origin'
  /** §9.1.2.2 c: lowest MED among paths from the same neighbouring AS. */
  | 'med'
  /** §9.1.2.2 d: eBGP-learned over iBGP-learned. */
  | 'ebgp-over-ibgp'
  /** §9.1.2.2 f (+ RFC 4456 §9: ORIGINATOR_ID stands in for the BGP identifier). */
  | 'router-id'
  /** RFC 4456 §9: shortest CLUSTER_LIST, inserted between §9.1.2.2 f and g. */
  | 'cluster-list-length'
  /** §9.1.2.2 g: lowest peer address. */
  | 'peer-address'
  /** Not in any RFC: add-path paths from one peer tie on everything; the lowest path id wins. */
  | 'path-id';

/** Why a received path is not a candidate at all. */
export type RejectReason =
  /** Our AS appears in AS_PATH more often than `allowedLocalAsNumbers` (RFC 4271 §9.1.2). */
  | 'as-loop'
  /** RFC 4456 §8: ORIGINATOR_ID is our router id. */
  | 'originator-loop'
  /** RFC 4456 §8: CLUSTER_LIST contains our cluster id. */
  | 'cluster-loop'
  /** The peer's import policy rejected it. */
  | 'import-policy';

/** The winner for a prefix, as the kernel route reconciler needs it. */
export interface BestPath {
  /** Next hop of the winning path; undefined for our own routes without one. */
  nextHop: string | undefined;
  attrs: Readonly<PathAttributes>;
  /** Where it came from; null for locally originated routes. */
  peerId: PeerId | null;
  reason: BestPathReason;
}

/** One best-path change, coalesced: only the final state since the previous drain. */
export interface BestChange {
  prefix: string;
  /** Absent when the prefix has no eligible path any more. */
  best?: BestPath;
}

/** Prefixes to announce to one peer that share one attribute set, so the encoder packs them. */
export interface AnnounceGroup {
  afi: number;
  safi: number;
  /** Attributes to send; for IPv6 `nextHop` is the MP_REACH next hop. */
  attrs: Readonly<PathAttributes>;
  prefixes: string[];
}

export interface AdjRibOutDelta {
  announce: AnnounceGroup[];
  withdraw: { afi: number; safi: number; prefixes: string[] }[];
  /** True when `maxPrefixes` cut the drain short: call again. */
  more: boolean;
}

/** One path in a `lookup()` answer. */
export interface PathView {
  peerId: PeerId | null;
  pathId: number;
  /** As received (before import policy). */
  received: Readonly<PathAttributes>;
  /** After import policy; absent when rejected. */
  attrs?: Readonly<PathAttributes>;
  rejected?: RejectReason;
  stale: boolean;
  best: boolean;
  /** For a candidate that lost: the decision step that eliminated it. */
  eliminatedBy?: BestPathReason;
}

export interface PrefixView {
  prefix: string;
  paths: PathView[];
  reason?: BestPathReason;
}

export interface FamilyCounters {
  /** Paths held in Adj-RIB-In (including rejected and stale ones). */
  received: number;
  /** Paths that passed loop checks and import policy. */
  accepted: number;
  /** Paths that are the best for their prefix. */
  best: number;
  stale: number;
  /** Prefixes in this peer's Adj-RIB-Out. */
  advertised: number;
}

export interface PeerStats {
  peerId: PeerId;
  up: boolean;
  families: Record<string, FamilyCounters>;
}

export interface RibStats {
  prefixes: number;
  paths: number;
  /** Distinct interned attribute sets (received, accepted and exported). */
  attrSets: number;
  peers: PeerStats[];
  rejected: Record<RejectReason, number>;
}

/** Tells the owner that there is output to drain; called once per transition from idle. */
export interface RibListener {
  /** The peer's Adj-RIB-Out has pending changes: schedule `drainAdjRibOut(peerId)`. */
  adjRibOutPending?(peerId: PeerId): void;
  /** Best paths changed: schedule `drainBestChanges()`. */
  bestChangesPending?(): void;
}
