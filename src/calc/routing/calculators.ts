/**
 * The routing calculators, in the order the graph runs them. Route sources feed one shared
 * RouteResolver; the resolver's flush comes after all of them, so one round emits each
 * destination's final winner once.
 *
 *   local endpoints ─► workload routes ─┐
 *   pools, nodes, blocks ─► block routes ┼─► route resolver ─► route-update / route-remove
 *   BGP best paths ─► BGP routes ────────┘
 *   pools, nodes ─► devices ─► vxlan-device, ipip-device, vtep-update / vtep-remove
 *   nodes, BGP config, peers, blocks ─► desired BGP ─► desired-bgp (the speaker's peers, exports)
 */
import type { RemoteVtep } from '../../proto/routing.js';
import { desiredBgp, kernelRouteForBgp } from '../bgp.js';
import { TOPOLOGY, type Calculator } from '../calculator.js';
import type { ClusterState } from '../cluster.js';
import { blockRoutes, ipipDevice, remoteVteps, vxlanDevice, workloadRoutes, type RoutingConfig } from '../routes.js';
import type { RouteResolver } from './route-resolver.js';

const BLOCKS_SOURCE = 'blocks';

export class WorkloadRoutes implements Calculator {
  readonly name = 'workload-routes';
  readonly reads = ['localEndpoints'] as const;
  constructor(private readonly resolver: RouteResolver) {}
  recompute(s: ClusterState, c: { localEndpoints: ReadonlySet<string> }): void {
    for (const key of c.localEndpoints) {
      const wep = s.localEndpoints.get(key);
      this.resolver.setSource(`wep:${key}`, wep ? workloadRoutes(wep) : []);
    }
  }
}

export class BlockRoutes implements Calculator {
  readonly name = 'block-routes';
  readonly reads = TOPOLOGY;
  constructor(
    private readonly resolver: RouteResolver,
    private readonly cfg: RoutingConfig,
  ) {}
  recompute(s: ClusterState): void {
    this.resolver.setSource(BLOCKS_SOURCE, blockRoutes(s, this.cfg));
  }
}

/** Kernel routes for BGP best paths: the changed prefixes, or all of them when the topology moved. */
export class BgpRoutes implements Calculator {
  readonly name = 'bgp-routes';
  readonly reads = [...TOPOLOGY, 'bgpBest'] as const;
  constructor(
    private readonly resolver: RouteResolver,
    private readonly best: ReadonlyMap<string, string>,
    private readonly uplinkDevice: string | undefined,
  ) {}
  recompute(s: ClusterState, c: { topics: ReadonlySet<string>; bgpBest: ReadonlySet<string> }): void {
    const topologyMoved = TOPOLOGY.some((t) => c.topics.has(t));
    const prefixes = topologyMoved ? new Set([...this.best.keys(), ...c.bgpBest]) : c.bgpBest;
    if (prefixes.size === 0) return;
    const local = new Set(s.localBlocks());
    for (const prefix of prefixes) {
      const nh = this.best.get(prefix);
      const r = nh ? kernelRouteForBgp(prefix, nh, s, local, this.uplinkDevice) : undefined;
      this.resolver.setSource(`bgp:${prefix}`, r ? [r] : []);
    }
  }
}

export class RouteFlush implements Calculator {
  readonly name = 'route-resolver';
  readonly reads = 'always' as const;
  constructor(private readonly resolver: RouteResolver) {}
  recompute(_s: ClusterState, _c: unknown, emit: Parameters<Calculator['recompute']>[2]): void {
    this.resolver.flush(emit);
  }
}

/** vxlan.calico, tunl0 and the remote VTEPs; each emitted only when it changed. */
export class Devices implements Calculator {
  readonly name = 'devices';
  readonly reads = ['pools', 'nodes'] as const;
  private emittedVxlan = 'none';
  private emittedIpip = 'none';
  private readonly emittedVteps = new Map<string, string>();
  constructor(private readonly cfg: RoutingConfig) {}

  recompute(s: ClusterState, _c: unknown, emit: Parameters<Calculator['recompute']>[2]): void {
    const vx = vxlanDevice(s, this.cfg);
    const vxj = vx ? JSON.stringify(vx) : 'none';
    if (vxj !== this.emittedVxlan) {
      this.emittedVxlan = vxj;
      emit({ type: 'vxlan-device', spec: vx });
    }
    const ip = ipipDevice(s, this.cfg);
    const ipj = ip ? JSON.stringify(ip) : 'none';
    if (ipj !== this.emittedIpip) {
      this.emittedIpip = ipj;
      emit({ type: 'ipip-device', spec: ip });
    }
    const vteps = new Map<string, RemoteVtep>(remoteVteps(s).map((v) => [v.node, v]));
    for (const [node, v] of vteps) {
      const j = JSON.stringify(v);
      if (this.emittedVteps.get(node) !== j) {
        this.emittedVteps.set(node, j);
        emit({ type: 'vtep-update', vtep: v });
      }
    }
    for (const node of [...this.emittedVteps.keys()]) {
      if (!vteps.has(node)) {
        this.emittedVteps.delete(node);
        emit({ type: 'vtep-remove', node });
      }
    }
  }
}

/** The speaker's peers and exports (desiredBgp), emitted when they changed. */
export class DesiredBgpCalc implements Calculator {
  readonly name = 'desired-bgp';
  readonly reads = [...TOPOLOGY, 'bgpConfig', 'bgpPeers'] as const;
  private emitted = '';
  constructor(
    private readonly backend: 'bird' | 'vxlan' | 'none',
    private readonly defaultAsNumber: number | undefined,
  ) {}
  recompute(s: ClusterState, _c: unknown, emit: Parameters<Calculator['recompute']>[2]): void {
    const d = desiredBgp(s, this.backend, this.defaultAsNumber);
    const j = JSON.stringify(d);
    if (j === this.emitted) return;
    this.emitted = j;
    emit({ type: 'desired-bgp', bgp: d });
  }
}
