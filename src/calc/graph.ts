/**
 * The calc graph: the one place where datastore updates and BGP best paths become this node's
 * desired dataplane and BGP state. Pure apart from calling its sinks; no I/O, no timers. It is an
 * ordered list of calculators (calculator.ts), each run when a topic it reads changed; their
 * typed messages go through the event sequencer to the sinks.
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
 *   policies, profiles, tiers, endpoints, network sets ──▶ policy calculator (policy/)
 *     ──▶ IP set, policy, profile and endpoint messages ──▶ PolicySink
 *
 * The route resolver (routing/route-resolver.ts) keeps every candidate per destination and emits
 * the winner by class priority, so removing one source reveals the next instead of leaving a hole.
 */
import type { DesiredRoute, IpipDeviceSpec, RemoteVtep, VxlanDeviceSpec } from '../proto/routing.js';
import type { PolicyMessage } from '../proto/policy.js';
import type { Update } from '../datastore/syncer.js';
import type { BgpUnavailable, DesiredBgp } from './bgp.js';
import { reads, type CalcMessage, type Calculator, type Changes, type Topic } from './calculator.js';
import { ClusterState, nothingTouched, type Touched } from './cluster.js';
import { POLICY_KINDS, PolicyCalc } from './policy/calculator.js';
import { HostSets } from './policy/host-sets.js';
import type { PolicyCalculator, PolicyProblem } from './policy/policy-calc.js';
import { BgpRoutes, BlockRoutes, DesiredBgpCalc, Devices, RouteFlush, WorkloadRoutes } from './routing/calculators.js';
import { RouteResolver } from './routing/route-resolver.js';
import { EventSequencer } from './sequencer.js';
import type { RoutingConfig } from './routes.js';

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

/** Receives one round's policy messages, already in dependency order. */
export interface PolicySink {
  onPolicyMessages(msgs: readonly PolicyMessage[]): void;
}

export interface CalcConfig extends RoutingConfig {
  /** calico-node's `AS` env: this node's AS when its Node resource has none. */
  defaultAsNumber?: number;
  /** Called for a policy resource that cannot be computed (logged and counted by the caller). */
  onPolicyProblem?: (p: PolicyProblem) => void;
}

export interface CalcSinks {
  dataplane: DataplaneSink;
  bgp?: BgpSink;
  policy?: PolicySink;
}

const TOUCHED_TOPICS: readonly Exclude<keyof Touched, 'localEndpoints'>[] = ['pools', 'nodes', 'blocks', 'affinities', 'bgpConfig', 'bgpPeers'];

export class CalcGraph {
  readonly state: ClusterState;
  private pending: Touched = nothingTouched();
  private readonly bgpBest = new Map<string, string>();
  private readonly dirtyBgp = new Set<string>();
  private readonly resolver = new RouteResolver();
  private readonly sequencer = new EventSequencer();
  private readonly calculators: readonly Calculator[];
  private readonly policyCalc: PolicyCalc;
  /** Seconds per round, for felix_calc_graph_update_time_seconds (the caller observes). */
  onRoundTime?: (seconds: number) => void;

  constructor(
    readonly cfg: CalcConfig,
    private readonly sinks: CalcSinks,
  ) {
    this.state = new ClusterState(cfg.nodeName);
    this.policyCalc = new PolicyCalc({ nodeName: cfg.nodeName, ...(cfg.onPolicyProblem ? { onProblem: cfg.onPolicyProblem } : {}) });
    // Order matters: route sources before the resolver's flush, devices before routes.
    this.calculators = [
      new WorkloadRoutes(this.resolver),
      new BlockRoutes(this.resolver, cfg),
      new BgpRoutes(this.resolver, this.bgpBest, cfg.uplinkDevice),
      new Devices(cfg),
      new RouteFlush(this.resolver),
      ...(sinks.bgp ? [new DesiredBgpCalc(cfg.networkingBackend, cfg.defaultAsNumber)] : []),
      ...(sinks.policy ? [new HostSets(), this.policyCalc] : []),
    ];
  }

  /** The policy side's state, for metrics and `tortie status policy`. */
  get policy(): PolicyCalculator {
    return this.policyCalc.policy;
  }

  /** Feeds one syncer batch; the resulting changes reach the sinks before this returns. */
  onUpdates(batch: readonly Update[]): void {
    this.state.apply(batch, this.pending);
    this.round(batch);
  }

  /** Feeds BGP best-path changes: a prefix with its new next hop, or without one when withdrawn. */
  onBgpBest(changes: readonly { prefix: string; nextHop?: string }[]): void {
    for (const c of changes) {
      if (c.nextHop) this.bgpBest.set(c.prefix, c.nextHop);
      else this.bgpBest.delete(c.prefix);
      this.dirtyBgp.add(c.prefix);
    }
    this.round([]);
  }

  /** Number of this node's workload endpoints (felix_active_local_endpoints). */
  get localEndpointCount(): number {
    return this.state.localEndpoints.size;
  }

  /** The routes currently emitted (tortie_routes_programmed is the dataplane's). */
  desiredRoutes(): DesiredRoute[] {
    return this.resolver.emittedRoutes();
  }

  private round(batch: readonly Update[]): void {
    const t0 = performance.now();
    const t = this.pending;
    this.pending = nothingTouched();
    const topics = new Set<Topic>();
    for (const k of TOUCHED_TOPICS) if (t[k]) topics.add(k);
    if (t.localEndpoints.size) topics.add('localEndpoints');
    if (this.dirtyBgp.size) topics.add('bgpBest');
    if (batch.some((u) => POLICY_KINDS.has(u.kind))) topics.add('policy');
    const changes: Changes = { topics, localEndpoints: t.localEndpoints, bgpBest: new Set(this.dirtyBgp), batch };
    this.dirtyBgp.clear();
    for (const c of this.calculators) if (reads(c, changes)) c.recompute(this.state, changes, this.sequencer.emit);
    if (this.sequencer.pending) this.deliver(this.sequencer.drain());
    this.onRoundTime?.((performance.now() - t0) / 1000);
  }

  private deliver(classes: CalcMessage[][]): void {
    const dp = this.sinks.dataplane;
    for (const msgs of classes) {
      let policy: PolicyMessage[] | undefined;
      for (const m of msgs) {
        switch (m.type) {
          case 'route-update':
            dp.setRoute(m.route);
            break;
          case 'route-remove':
            dp.deleteRoute(m.dst);
            break;
          case 'vxlan-device':
            dp.setVxlanDevice(m.spec);
            break;
          case 'ipip-device':
            dp.setIpipDevice(m.spec);
            break;
          case 'vtep-update':
            dp.setVtep(m.vtep);
            break;
          case 'vtep-remove':
            dp.deleteVtep(m.node);
            break;
          case 'desired-bgp':
            this.sinks.bgp?.setDesiredBgp(m.bgp);
            break;
          default:
            (policy ??= []).push(m);
        }
      }
      if (policy) this.sinks.policy?.onPolicyMessages(policy);
    }
  }
}
