/**
 * The calc graph: the one place where datastore updates and BGP best paths become this node's
 * desired dataplane and BGP state. Pure apart from calling its sinks; no I/O, no timers.
 *
 *   syncer batches ──▶ ClusterState.apply ──▶ touched topics
 *                                              │
 *        ┌──────────────────┬──────────────────┼───────────────────┬─────────────────┐
 *        ▼                  ▼                  ▼                   ▼                 ▼
 *   local endpoints     IPAM blocks       pools + nodes        BGP config,      BGP best paths
 *   → workload routes   → blackholes,     → vxlan.calico,      peers, nodes     (onBgpBest)
 *                         VXLAN routes      tunl0, VTEPs       → DesiredBgp     → bgp routes
 *        └──────────────────┴───────┬──────────┘                   │                 │
 *                                   ▼                              ▼                 │
 *                      route resolver (one winner per dst) ◀───────┼─────────────────┘
 *                                   ▼                              ▼
 *                           DataplaneSink (diffs only)          BgpSink
 *
 * Several sources may want the same destination (a workload /32 inside a BGP-learned prefix is a
 * different destination; the same block from IPAM and from BGP is the same one). The resolver
 * keeps every candidate and emits the winner by class priority, so removing one source reveals
 * the next instead of leaving a hole.
 */
import type { DesiredRoute, IpipDeviceSpec, RemoteVtep, RouteClass, VxlanDeviceSpec } from '../dataplane/types.js';
import type { Update } from '../datastore/syncer.js';
import { desiredBgp, kernelRouteForBgp, type BgpUnavailable, type DesiredBgp } from './bgp.js';
import { ClusterState, nothingTouched, type Touched } from './cluster.js';
import { blockRoutes, ipipDevice, remoteVteps, vxlanDevice, workloadRoutes, type RoutingConfig } from './routes.js';

/** What the dataplane driver accepts; `Dataplane` implements it. */
export interface DataplaneSink {
  setRoute(r: DesiredRoute): void;
  deleteRoute(dst: string): void;
  setVxlanDevice(spec: VxlanDeviceSpec | undefined): void;
  setIpipDevice(spec: IpipDeviceSpec | undefined): void;
  setVtep(v: RemoteVtep): void;
  deleteVtep(node: string): void;
}

export interface BgpSink {
  setDesiredBgp(d: DesiredBgp | BgpUnavailable): void;
}

export interface CalcConfig extends RoutingConfig {
  /** calico-node's `AS` env: this node's AS when its Node resource has none. */
  defaultAsNumber?: number;
}

/** Lower wins when two sources want the same destination. */
const CLASS_PRIORITY: Readonly<Record<RouteClass, number>> = {
  workload: 0,
  'local-block': 1,
  vxlan: 2,
  ipip: 2,
  'no-encap': 2,
  bgp: 3,
};

const BLOCKS_SOURCE = 'blocks';

export class CalcGraph {
  readonly state: ClusterState;
  private pending: Touched = nothingTouched();
  /** source → its routes by dst. Sources: `wep:<key>`, `blocks`, `bgp:<prefix>`. */
  private readonly bySource = new Map<string, Map<string, DesiredRoute>>();
  /** dst → candidates by source. */
  private readonly candidates = new Map<string, Map<string, DesiredRoute>>();
  private readonly emittedRoutes = new Map<string, string>();
  private readonly dirtyDsts = new Set<string>();
  private readonly bgpBest = new Map<string, string | undefined>();
  private readonly dirtyBgp = new Set<string>();
  private readonly emittedVteps = new Map<string, string>();
  private emittedVxlan = 'none';
  private emittedIpip = 'none';
  private emittedBgp = '';

  constructor(
    readonly cfg: CalcConfig,
    private readonly sinks: { dataplane: DataplaneSink; bgp?: BgpSink },
  ) {
    this.state = new ClusterState(cfg.nodeName);
  }

  /** Feeds one syncer batch; the resulting changes reach the sinks before this returns. */
  onUpdates(batch: readonly Update[]): void {
    this.state.apply(batch, this.pending);
    this.flush();
  }

  /** Feeds BGP best-path changes: a prefix with its new next hop, or without one when withdrawn. */
  onBgpBest(changes: readonly { prefix: string; nextHop?: string }[]): void {
    for (const c of changes) {
      if (c.nextHop) this.bgpBest.set(c.prefix, c.nextHop);
      else this.bgpBest.delete(c.prefix);
      this.dirtyBgp.add(c.prefix);
    }
    this.flush();
  }

  /** Number of this node's workload endpoints (felix_active_local_endpoints). */
  get localEndpointCount(): number {
    return this.state.localEndpoints.size;
  }

  /** The routes currently emitted, by class (tortie_routes_programmed is the dataplane's). */
  desiredRoutes(): DesiredRoute[] {
    const out: DesiredRoute[] = [];
    for (const dst of this.emittedRoutes.keys()) {
      const w = this.winner(dst);
      if (w) out.push(w);
    }
    return out;
  }

  private flush(): void {
    const t = this.pending;
    this.pending = nothingTouched();
    const s = this.state;

    for (const key of t.localEndpoints) {
      const wep = s.localEndpoints.get(key);
      this.setSource(`wep:${key}`, wep ? workloadRoutes(wep) : []);
    }
    const routingTopology = t.pools || t.nodes || t.blocks || t.affinities;
    if (routingTopology) {
      this.setSource(BLOCKS_SOURCE, blockRoutes(s, this.cfg));
      for (const p of this.bgpBest.keys()) this.dirtyBgp.add(p);
    }
    if (this.dirtyBgp.size) {
      const local = new Set(s.localBlocks());
      for (const prefix of this.dirtyBgp) {
        const nh = this.bgpBest.get(prefix);
        const r = nh ? kernelRouteForBgp(prefix, nh, s, local, this.cfg.uplinkDevice) : undefined;
        this.setSource(`bgp:${prefix}`, r ? [r] : []);
      }
      this.dirtyBgp.clear();
    }
    if (t.pools || t.nodes) this.flushDevices();
    this.flushRoutes();
    if (this.sinks.bgp && (t.nodes || t.bgpConfig || t.bgpPeers || routingTopology)) {
      const d = desiredBgp(s, this.cfg.networkingBackend, this.cfg.defaultAsNumber);
      const j = JSON.stringify(d);
      if (j !== this.emittedBgp) {
        this.emittedBgp = j;
        this.sinks.bgp.setDesiredBgp(d);
      }
    }
  }

  private flushDevices(): void {
    const dp = this.sinks.dataplane;
    const vx = vxlanDevice(this.state, this.cfg);
    const vxj = vx ? JSON.stringify(vx) : 'none';
    if (vxj !== this.emittedVxlan) {
      this.emittedVxlan = vxj;
      dp.setVxlanDevice(vx);
    }
    const ip = ipipDevice(this.state, this.cfg);
    const ipj = ip ? JSON.stringify(ip) : 'none';
    if (ipj !== this.emittedIpip) {
      this.emittedIpip = ipj;
      dp.setIpipDevice(ip);
    }
    const vteps = new Map(remoteVteps(this.state).map((v) => [v.node, v]));
    for (const [node, v] of vteps) {
      const j = JSON.stringify(v);
      if (this.emittedVteps.get(node) !== j) {
        this.emittedVteps.set(node, j);
        dp.setVtep(v);
      }
    }
    for (const node of [...this.emittedVteps.keys()]) {
      if (!vteps.has(node)) {
        this.emittedVteps.delete(node);
        dp.deleteVtep(node);
      }
    }
  }

  private setSource(source: string, routes: readonly DesiredRoute[]): void {
    const prev = this.bySource.get(source);
    const next = new Map(routes.map((r) => [r.dst, r]));
    if (prev) {
      for (const dst of prev.keys()) {
        if (next.has(dst)) continue;
        const c = this.candidates.get(dst);
        c?.delete(source);
        if (c && c.size === 0) this.candidates.delete(dst);
        this.dirtyDsts.add(dst);
      }
    }
    for (const [dst, r] of next) {
      let c = this.candidates.get(dst);
      if (!c) this.candidates.set(dst, (c = new Map()));
      c.set(source, r);
      this.dirtyDsts.add(dst);
    }
    if (next.size) this.bySource.set(source, next);
    else this.bySource.delete(source);
  }

  private winner(dst: string): DesiredRoute | undefined {
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

  private flushRoutes(): void {
    const dp = this.sinks.dataplane;
    for (const dst of this.dirtyDsts) {
      const w = this.winner(dst);
      const j = w ? JSON.stringify(w) : undefined;
      if (j === this.emittedRoutes.get(dst)) continue;
      if (w && j) {
        this.emittedRoutes.set(dst, j);
        dp.setRoute(w);
      } else {
        this.emittedRoutes.delete(dst);
        dp.deleteRoute(dst);
      }
    }
    this.dirtyDsts.clear();
  }
}
