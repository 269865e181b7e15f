/**
 * The RIB's internal records: `Path` (one route from one source) and `Dest` (a prefix that has
 * more than one path), and `PeerRecord` per configured peer.
 *
 * Paths are immutable and shared (flyweights): a path is (source, path id, received attributes,
 * accepted attributes, flags) and says nothing about its prefix, so the million prefixes of a
 * full table from one peer all point at one Path object, cached on its AttrSet. The Loc-RIB
 * holds a Path directly for a prefix with a single path (the common case: no wrapper object, no
 * array) and a Dest only when a prefix has several. Changing a path (stale mark, new policy
 * result) means putting a different Path in its place, never mutating one.
 */
import type { AfiSafiKey } from '../wire/types.js';
import type { Policy, PolicyPeer } from '../policy/types.js';
import type { AttrSet } from './attrs.js';
import type { PrefixKey } from './prefix-key.js';
import type { BestPath, BestPathReason, FamilyCounters, PeerConfig, PeerId, PeerSession, RejectReason } from './types.js';

// flags layout: bit 0 stale | bits 1-3 reject reason (0 = accepted).
export const FLAG_STALE = 1;
const REJECT_SHIFT = 1;
const REJECT_MASK = 0b111 << REJECT_SHIFT;

/** Index order is the encoding in the flags field; append only. */
export const REJECT_REASONS: readonly RejectReason[] = ['as-loop', 'originator-loop', 'cluster-loop', 'import-policy'];
export const BEST_REASONS: readonly BestPathReason[] = [
  'only-path',
  'local-pref',
  'local-origin',
  'as-path-length',
  'origin',
  'med',
  'ebgp-over-ibgp',
  'router-id',
  'cluster-list-length',
  'peer-address',
  'path-id',
];
export const BEST_REASON_INDEX: ReadonlyMap<BestPathReason, number> = new Map(BEST_REASONS.map((r, i) => [r, i]));
const REJECT_REASON_INDEX = new Map(REJECT_REASONS.map((r, i) => [r, i + 1]));

export class Path {
  constructor(
    /** The peer it came from; null for locally originated routes. */
    readonly source: PeerRecord | null,
    readonly pathId: number,
    /** Attributes as received (pre-policy Adj-RIB-In), so policy changes can be re-applied. */
    readonly received: AttrSet,
    /** Attributes after loop checks and import policy; null when rejected. */
    readonly attrs: AttrSet | null,
    readonly flags: number,
  ) {}

  /** The BestPath answer when this path is a prefix's only path, made once and shared. */
  onlyPathView: BestPath | undefined = undefined;
}

/** A prefix with two or more paths. `paths[0]` is the best when any path is accepted. */
export class Dest {
  constructor(
    public paths: Path[],
    /** Index into BEST_REASONS. */
    public reason: number,
  ) {}
}

export function isStale(p: Path): boolean {
  return (p.flags & FLAG_STALE) !== 0;
}

export function rejectReason(p: Path): RejectReason | undefined {
  const i = (p.flags & REJECT_MASK) >> REJECT_SHIFT;
  return i === 0 ? undefined : REJECT_REASONS[i - 1];
}

export function rejectFlags(r: RejectReason | undefined): number {
  return r === undefined ? 0 : REJECT_REASON_INDEX.get(r)! << REJECT_SHIFT;
}

/** Family index used for per-peer counters: 0 IPv4 unicast, 1 IPv6 unicast. */
export type FamilyIndex = 0 | 1;
export const FAMILY_KEYS: readonly AfiSafiKey[] = ['1/1', '2/1'];

export function newCounters(): FamilyCounters {
  return { received: 0, accepted: 0, best: 0, stale: 0, advertised: 0 };
}

/** A walk of the whole Loc-RIB for one peer, in progress across bounded drains. */
export interface FullWalk {
  entries: Iterator<[PrefixKey, Path | Dest]>;
  /** Phase 2: what we had sent before the walk, checked for prefixes gone from the Loc-RIB. */
  outKeys: Iterator<PrefixKey> | undefined;
  hadOutput: boolean;
}

export class PeerRecord implements PolicyPeer {
  readonly address: string;
  readonly asn: number;
  readonly ibgp: boolean;
  routeReflectorClient: boolean;
  nextHopSelf: boolean;
  keepOriginalNextHop: boolean;
  allowedLocalAsNumbers: number;
  importPolicy: Policy | undefined;
  exportPolicy: Policy | undefined;
  /** Sortable form of `address` for the last tie-breaker. */
  readonly addressKey: string;
  session: PeerSession | undefined;
  /** The peer's BGP identifier from its last OPEN; kept while its routes are held stale. */
  routerId = '0.0.0.0';
  /** `routerId` as a number, for the router-id comparison. */
  routerIdNum = 0;
  readonly counters: [FamilyCounters, FamilyCounters] = [newCounters(), newCounters()];
  /** What we last sent this peer: prefix key → attributes (RFC 4271 §3.2 Adj-RIB-Out). */
  readonly adjRibOut = new Map<PrefixKey, AttrSet>();
  /** The "no next hop of this family" warning is logged once per peer, not per prefix. */
  missingNextHopLogged = false;
  /** Prefixes whose export to this peer may have changed since the last drain. */
  pending = new Set<PrefixKey>();
  /** Set while every prefix is being re-evaluated for this peer (session up, export change). */
  fullWalk: FullWalk | undefined = undefined;
  /** drainAdjRibOut's place in `pending` between bounded drains (see there). */
  pendingIter: Iterator<PrefixKey> | undefined = undefined;
  pendingIterOf: Set<PrefixKey> | undefined = undefined;

  constructor(
    readonly id: PeerId,
    config: PeerConfig,
    localAs: number,
  ) {
    this.address = config.address;
    this.asn = config.asn;
    this.ibgp = config.asn === localAs;
    this.routeReflectorClient = config.routeReflectorClient ?? false;
    this.nextHopSelf = config.nextHopSelf ?? false;
    this.keepOriginalNextHop = config.keepOriginalNextHop ?? false;
    this.allowedLocalAsNumbers = config.allowedLocalAsNumbers ?? 0;
    this.importPolicy = config.importPolicy;
    this.exportPolicy = config.exportPolicy;
    this.addressKey = addressSortKey(config.address);
  }

  get up(): boolean {
    return this.session !== undefined;
  }
}

/** Parses a dotted quad to an unsigned 32-bit number; NaN when it is not one. */
export function ipv4ToNumber(a: string): number {
  const parts = a.split('.');
  if (parts.length !== 4) return NaN;
  let n = 0;
  for (const p of parts) {
    const v = Number(p);
    if (!/^\d{1,3}$/.test(p) || v > 255) return NaN;
    n = n * 256 + v;
  }
  return n;
}

/** Expands an IPv6 address to 32 hex digits; undefined when malformed. */
function ipv6Hex(a: string): string | undefined {
  let s = a;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const n = ipv4ToNumber(v4[1]!);
    if (Number.isNaN(n)) return undefined;
    s = s.slice(0, v4.index) + `${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return undefined;
  return groups.map((g) => g.toLowerCase().padStart(4, '0')).join('');
}

/** A string that sorts IPv4 before IPv6 and each numerically: the §9.1.2.2 g comparison. */
export function addressSortKey(address: string): string {
  const n = ipv4ToNumber(address);
  if (!Number.isNaN(n)) return `4${n.toString(16).padStart(8, '0')}`;
  const h = ipv6Hex(address);
  return h === undefined ? `9${address}` : `6${h}`;
}
