/**
 * What a best path becomes when sent to one peer: who may receive it (iBGP split horizon,
 * RFC 4456 reflection rules) and how its attributes change on the way out (RFC 4271 §5.1:
 * AS_PATH prepend and NEXT_HOP self on eBGP, LOCAL_PREF only inside the AS; RFC 4456 §8:
 * ORIGINATOR_ID and CLUSTER_LIST when reflecting). Export policy runs before these rewrites, on
 * the attributes as they are in the Loc-RIB — BIRD runs `export filter` at the same point.
 */
import { isIP } from 'node:net';
import type { PathAttributes } from '../wire/types.js';
import { prependAs } from './attrs.js';
import { DEFAULT_LOCAL_PREF } from './decision.js';
import type { PeerRecord } from './path.js';

/**
 * May a best path learned from `source` (null = ours) be advertised to `target` at all?
 * - never back to the peer it came from;
 * - iBGP-learned to iBGP only when we reflect (RFC 4456 §6): from a client to everyone, from a
 *   non-client to clients only. Plain iBGP split horizon (RFC 4271 §9.2) otherwise.
 */
export function mayExport(source: PeerRecord | null, target: PeerRecord): boolean {
  if (source === null) return true;
  if (source === target) return false;
  if (!source.ibgp || !target.ibgp) return true;
  return source.routeReflectorClient || target.routeReflectorClient;
}

export interface ExportContext {
  localAs: number;
  /** Our router id: ORIGINATOR_ID of routes we reflect that have none, and of local routes. */
  routerId: string;
  clusterId: string;
}

/**
 * Our address for the prefix's family on this session, or undefined when we have none in that
 * family. `localAddress` is the transport address, IPv4 or IPv6: on an IPv6-transport session it
 * must never become the NEXT_HOP of an IPv4 route (a peer would reject or misroute it).
 */
export function selfNextHop(target: PeerRecord, ipv6: boolean): string | undefined {
  const s = target.session;
  if (!s) return undefined;
  const a = ipv6 ? s.localAddressV6 : s.localAddress;
  if (a === undefined || isIP(a) !== (ipv6 ? 6 : 4)) return undefined;
  // An unspecified address is "we have none": advertising it as NEXT_HOP would black-hole traffic.
  return a === '0.0.0.0' || a === '::' ? undefined : a;
}

/**
 * The attributes to send. Pure: returns a new object (never mutates `attrs`), which the caller
 * interns. `ipv6` selects the next-hop family.
 */
export function exportAttrs(
  attrs: Readonly<PathAttributes>,
  source: PeerRecord | null,
  target: PeerRecord,
  ipv6: boolean,
  ctx: ExportContext,
): PathAttributes {
  const out: PathAttributes = { ...attrs };
  if (out.origin === undefined) out.origin = 0;
  if (!target.ibgp) {
    out.asPath = prependAs(attrs.asPath, ctx.localAs);
    // RFC 4271 §5.1.5: LOCAL_PREF is never sent to an external peer.
    delete out.localPref;
    // RFC 4456 §8: ORIGINATOR_ID and CLUSTER_LIST are optional non-transitive, kept inside the AS.
    delete out.originatorId;
    delete out.clusterList;
    // RFC 4271 §5.1.4: a MED received from another AS is not passed on to a third one.
    if (source !== null && !source.ibgp) delete out.med;
    if (!target.keepOriginalNextHop || out.nextHop === undefined) out.nextHop = selfNextHop(target, ipv6);
  } else {
    out.asPath = attrs.asPath ?? [];
    // RFC 4271 §5.1.5: LOCAL_PREF is mandatory in iBGP UPDATEs.
    if (out.localPref === undefined) out.localPref = DEFAULT_LOCAL_PREF;
    const self = out.nextHop === undefined || (target.nextHopSelf && !target.keepOriginalNextHop);
    if (self) out.nextHop = selfNextHop(target, ipv6);
    if (source !== null && source.ibgp) {
      // Reflection (mayExport let iBGP → iBGP through only when reflecting). RFC 4456 §8.
      if (out.originatorId === undefined) out.originatorId = source.routerId;
      out.clusterList = [ctx.clusterId, ...(attrs.clusterList ?? [])];
    }
  }
  if (out.nextHop === undefined) delete out.nextHop;
  return out;
}
