/**
 * One winner per destination among every source that wants a route there. Several sources may
 * want the same destination (a workload /32 inside a BGP-learned prefix is a different
 * destination; the same block from IPAM and from BGP is the same one). The resolver keeps every
 * candidate and emits the winner by class priority, so removing one source reveals the next
 * instead of leaving a hole. Only destinations whose winner changed are emitted.
 */
import type { DesiredRoute, RouteClass, RoutingMessage } from '../../proto/routing.js';

/** Lower wins when two sources want the same destination. */
const CLASS_PRIORITY: Readonly<Record<RouteClass, number>> = {
  workload: 0,
  'local-block': 1,
  vxlan: 2,
  ipip: 2,
  'no-encap': 2,
  bgp: 3,
};

export class RouteResolver {
  /** source → its routes by dst. Sources: `wep:<key>`, `blocks`, `bgp:<prefix>`. */
  private readonly bySource = new Map<string, Map<string, DesiredRoute>>();
  /** dst → candidates by source. */
  private readonly candidates = new Map<string, Map<string, DesiredRoute>>();
  private readonly emitted = new Map<string, string>();
  private readonly dirty = new Set<string>();

  /** Replaces everything `source` wants. */
  setSource(source: string, routes: readonly DesiredRoute[]): void {
    const prev = this.bySource.get(source);
    const next = new Map(routes.map((r) => [r.dst, r]));
    if (prev) {
      for (const dst of prev.keys()) {
        if (next.has(dst)) continue;
        const c = this.candidates.get(dst);
        c?.delete(source);
        if (c && c.size === 0) this.candidates.delete(dst);
        this.dirty.add(dst);
      }
    }
    for (const [dst, r] of next) {
      let c = this.candidates.get(dst);
      if (!c) this.candidates.set(dst, (c = new Map()));
      c.set(source, r);
      this.dirty.add(dst);
    }
    if (next.size) this.bySource.set(source, next);
    else this.bySource.delete(source);
  }

  winner(dst: string): DesiredRoute | undefined {
    const c = this.candidates.get(dst);
    if (!c) return undefined;
    let best: DesiredRoute | undefined;
    let bestSource = '';
    for (const [source, r] of c) {
      const better =
        !best ||
        CLASS_PRIORITY[r.class] < CLASS_PRIORITY[best.class] ||
        (CLASS_PRIORITY[r.class] === CLASS_PRIORITY[best.class] && source < bestSource);
      if (better) {
        best = r;
        bestSource = source;
      }
    }
    return best;
  }

  /** The routes currently emitted. */
  emittedRoutes(): DesiredRoute[] {
    const out: DesiredRoute[] = [];
    for (const dst of this.emitted.keys()) {
      const w = this.winner(dst);
      if (w) out.push(w);
    }
    return out;
  }

  /** Emits the destinations whose winner changed since the last flush. */
  flush(emit: (m: RoutingMessage) => void): void {
    for (const dst of this.dirty) {
      const w = this.winner(dst);
      const j = w ? JSON.stringify(w) : undefined;
      if (j === this.emitted.get(dst)) continue;
      if (w && j) {
        this.emitted.set(dst, j);
        emit({ type: 'route-update', route: w });
      } else {
        this.emitted.delete(dst);
        emit({ type: 'route-remove', dst });
      }
    }
    this.dirty.clear();
  }
}
