/**
 * The BGP decision process (RFC 4271 §9.1) as an ordered list of steps, each citing the RFC
 * text it implements (the shape of GoBGP's `destination.go`).
 *
 * Each step is a comparator over two candidate paths. Selection follows the RFC's wording
 * literally: steps run in order and each one removes from consideration every candidate that
 * some other remaining candidate beats. That is what makes MED — which only compares paths from
 * the same neighbouring AS and so is not a total order — give the same answer whatever order the
 * paths arrived in (pairwise "is a better than b" chains do not). The step that removed the last
 * competitor is the reason the winner won; `lookup()` also shows which step removed each loser.
 *
 * Step e ("lowest interior cost to the NEXT_HOP") is not in the list: tortie has no IGP and
 * treats every next hop as directly reachable at equal cost, so the step can never decide.
 */
import { asPathLength, neighbourAs } from './attrs.js';
import { ipv4ToNumber, type Path } from './path.js';
import type { BestPathReason } from './types.js';

/** RFC 4271 §5.1.5 leaves the default to configuration; 100 is BIRD's and GoBGP's. */
export const DEFAULT_LOCAL_PREF = 100;

export interface DecisionContext {
  localAs: number;
  /** Our router id as a number: stands in for the "peer" BGP identifier of local routes. */
  routerIdNum: number;
  alwaysCompareMed: boolean;
}

export interface DecisionStep {
  reason: BestPathReason;
  /** Where the rule comes from, for docs and status. */
  cites: string;
  /** Negative when `a` is preferred, positive when `b` is, 0 when this step cannot tell. */
  compare(a: Path, b: Path, ctx: DecisionContext): number;
}

// Every candidate has non-null attrs: selection only looks at accepted paths.
function lp(p: Path): number {
  return p.attrs!.value.localPref ?? DEFAULT_LOCAL_PREF;
}

function routerIdOf(p: Path, ctx: DecisionContext): number {
  const orig = p.attrs!.value.originatorId;
  if (orig !== undefined) {
    const n = ipv4ToNumber(orig);
    if (!Number.isNaN(n)) return n;
  }
  return p.source ? p.source.routerIdNum : ctx.routerIdNum;
}

export const DECISION_STEPS: readonly DecisionStep[] = [
  {
    reason: 'local-pref',
    cites: 'RFC 4271 §9.1.1: highest degree of preference (LOCAL_PREF, default 100)',
    compare: (a, b) => lp(b) - lp(a),
  },
  {
    reason: 'local-origin',
    cites: 'not in RFC 4271: locally originated routes first (GoBGP, Cisco)',
    compare: (a, b) => (a.source === null ? 0 : 1) - (b.source === null ? 0 : 1),
  },
  {
    reason: 'as-path-length',
    cites: 'RFC 4271 §9.1.2.2 a: shortest AS_PATH (AS_SET = 1, confederation segments = 0)',
    compare: (a, b) => asPathLength(a.attrs!.value.asPath) - asPathLength(b.attrs!.value.asPath),
  },
  {
    reason: 'origin',
    cites: 'RFC 4271 §9.1.2.2 b: lowest ORIGIN (IGP < EGP < INCOMPLETE)',
    compare: (a, b) => (a.attrs!.value.origin ?? 2) - (b.attrs!.value.origin ?? 2),
  },
  {
    reason: 'med',
    cites: 'RFC 4271 §9.1.2.2 c: lowest MED (missing = 0) among paths from the same neighbouring AS',
    compare: (a, b, ctx) => {
      const va = a.attrs!.value;
      const vb = b.attrs!.value;
      if (!ctx.alwaysCompareMed && neighbourAs(va.asPath, ctx.localAs) !== neighbourAs(vb.asPath, ctx.localAs)) return 0;
      return (va.med ?? 0) - (vb.med ?? 0);
    },
  },
  {
    reason: 'ebgp-over-ibgp',
    cites: 'RFC 4271 §9.1.2.2 d: prefer routes learned over eBGP',
    compare: (a, b) => (a.source && !a.source.ibgp ? 0 : 1) - (b.source && !b.source.ibgp ? 0 : 1),
  },
  {
    reason: 'router-id',
    cites: 'RFC 4271 §9.1.2.2 f: lowest BGP identifier; RFC 4456 §9: ORIGINATOR_ID when present',
    compare: (a, b, ctx) => routerIdOf(a, ctx) - routerIdOf(b, ctx),
  },
  {
    reason: 'cluster-list-length',
    cites: 'RFC 4456 §9: shortest CLUSTER_LIST, between §9.1.2.2 f and g',
    compare: (a, b) => (a.attrs!.value.clusterList?.length ?? 0) - (b.attrs!.value.clusterList?.length ?? 0),
  },
  {
    reason: 'peer-address',
    cites: 'RFC 4271 §9.1.2.2 g: lowest peer address',
    compare: (a, b) => {
      const ka = a.source ? a.source.addressKey : '';
      const kb = b.source ? b.source.addressKey : '';
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    },
  },
  {
    reason: 'path-id',
    cites: 'tortie: add-path paths from one peer tie on everything else; lowest path id, for determinism',
    compare: (a, b) => a.pathId - b.pathId,
  },
];

export interface Selection {
  best: Path;
  reason: BestPathReason;
}

/**
 * Runs the decision process over `candidates` (all accepted). When `eliminated` is given it is
 * filled with the step that removed each loser.
 */
export function selectBest(
  candidates: readonly Path[],
  ctx: DecisionContext,
  eliminated?: Map<Path, BestPathReason>,
): Selection {
  if (candidates.length === 1) return { best: candidates[0]!, reason: 'only-path' };
  let remaining = candidates;
  for (const step of DECISION_STEPS) {
    const kept: Path[] = [];
    for (const c of remaining) {
      let beaten = false;
      for (const d of remaining) {
        if (d !== c && step.compare(d, c, ctx) < 0) {
          beaten = true;
          break;
        }
      }
      if (beaten) eliminated?.set(c, step.reason);
      else kept.push(c);
    }
    remaining = kept;
    if (remaining.length === 1) return { best: remaining[0]!, reason: step.reason };
  }
  // Only two identical local routes could get here, and the RIB holds one per prefix.
  return { best: remaining[0]!, reason: 'path-id' };
}
