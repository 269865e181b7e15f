/**
 * The shape of a routing policy: a function over one route that accepts it (possibly with changed
 * attributes) or rejects it. Policies run at the RIB boundary, like BIRD channels' `in_filter` /
 * `out_filter`: import policy between a peer's Adj-RIB-In and the Loc-RIB, export policy per peer
 * between the Loc-RIB and that peer's Adj-RIB-Out.
 *
 * A policy is a plain synchronous function so the RIB can call it a million times during a full
 * table ingest without allocating: returning the very same attributes object means "accept
 * unchanged", and the RIB then skips re-interning.
 */
import type { PathAttributes } from '../wire/types.js';

/** What a policy sees about the session it is applied to. */
export interface PolicyPeer {
  readonly address: string;
  readonly asn: number;
  readonly ibgp: boolean;
  readonly routeReflectorClient: boolean;
}

export interface PolicyContext {
  readonly direction: 'import' | 'export';
  /** Our AS number. */
  readonly localAs: number;
  /** Import: the peer the route came from. Export: the peer the route is about to be sent to. */
  readonly peer: PolicyPeer;
  /**
   * Export only: the peer the route was learned from, or null when we originated it. Lets an
   * export policy tell our own routes (Calico's blocks) from reflected or transit ones.
   */
  readonly source?: PolicyPeer | null;
}

/**
 * Accepted attributes (the input object itself when unchanged — the cheap, common case) or
 * null for reject. A policy must never mutate its input: attribute sets are interned and shared
 * by many routes.
 */
export type PolicyResult = Readonly<PathAttributes> | null;

export type Policy = (prefix: string, attrs: Readonly<PathAttributes>, ctx: PolicyContext) => PolicyResult;

/** A predicate over a route, for `when()` and friends. */
export type RouteMatcher = (prefix: string, attrs: Readonly<PathAttributes>, ctx: PolicyContext) => boolean;
