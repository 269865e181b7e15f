/**
 * Calc + dataplane: the felix syncer's batches (plus BGPPeers and this node's BlockAffinities
 * from the bgp syncer) go into the CalcGraph, whose output goes into the Dataplane driver on the
 * real kernel; BGP best paths come back from the speaker into the same graph.
 *
 *   datastore.felix ─┐
 *   datastore.bgp ───┼─► CalcGraph ─► Dataplane (iproute2, ip monitor)
 *   StaleBgpRoutes ──┘        └─────► BgpComponent (DesiredBgp)
 *        ▲
 *   speaker best paths
 *
 * The dataplane is told the datastore is in sync only when (a) both syncers are in sync, (b)
 * ClusterInformation.datastoreReady is not false and (c) the kernel's BGP routes have been
 * seeded as stale, so the first apply never deletes what BGP will re-learn.
 *
 * Health: ready = the dataplane's first apply after sync is done; live = no apply pass has been
 * running longer than Felix's dataplane watchdog (90 s).
 */
import { Gauge, Summary } from 'prom-client';
import { DatastoreMetrics } from '../datastore/metrics.js';
import { CalcGraph, type BgpSink } from '../calc/graph.js';
import { createNodeDataplane, DEFAULT_ROUTE_PROTOCOLS, type NodeDataplane } from '../dataplane/index.js';
import type { Update } from '../datastore/syncer.js';
import type { AgentConfig } from '../config/schema.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import type { HealthReporter } from '../health/aggregator.js';
import type { AgentComponent, AgentContext } from './component.js';
import type { DatastoreComponent } from './datastore-component.js';
import type { NodeComponent } from './node-component.js';
import { StaleBgpRoutes, readKernelBgpRoutes, type BestRoute } from './stale-bgp-routes.js';
import { describeEndpointPolicy } from './policy-status.js';
import { policyOptions } from './policy-config.js';

/** Felix's dataplane watchdog: an apply pass running this long means the loop is stuck. */
export const DATAPLANE_WATCHDOG_MS = 90_000;
/** How often health and the endpoint gauge are refreshed. */
const HEALTH_INTERVAL_MS = 1_000;
/** Uplink MTU assumed when the node address is not on a local interface. */
const FALLBACK_MTU = 1500;
/** Kinds the routing side takes from the bgp syncer (the felix syncer has the rest). */
const FROM_BGP_SYNCER = new Set(['BGPPeer', 'BlockAffinity']);

export interface RoutingHooks {
  /** BGP wants to know the datastore is in sync before it starts its sessions. */
  onInSync?: () => void;
}

export class RoutingComponent implements AgentComponent {
  readonly name = 'dataplane';
  calc: CalcGraph | undefined;
  node: NodeDataplane | undefined;
  readonly stale: StaleBgpRoutes;
  private log!: Logger;
  private reporter!: HealthReporter;
  private timer: NodeJS.Timeout | undefined;
  private seeded = false;
  private inSyncSent = false;
  private pendingFelix: (readonly Update[])[] = [];
  private pendingBgp: (readonly Update[])[] = [];
  private staleBuffer: BestRoute[][] = [];
  private ipipLogged = false;

  constructor(
    private readonly config: AgentConfig,
    private readonly ds: DatastoreComponent,
    private readonly nodeC: NodeComponent,
    private readonly bgp: BgpSink | undefined,
    private readonly hooks: RoutingHooks = {},
  ) {
    // Subscribe now: the syncers start (in the datastore component) before this component does,
    // and their snapshot is delivered once. Batches wait in a queue until the graph exists.
    ds.onFelixUpdates((b) => {
      nodeC.onUpdates(b);
      if (this.calc) this.calc.onUpdates(b);
      else this.pendingFelix.push(b);
    });
    ds.onBgpUpdates((b) => {
      const mine = b.filter((u) => FROM_BGP_SYNCER.has(u.kind));
      if (mine.length === 0) return;
      if (this.calc) this.calc.onUpdates(mine);
      else this.pendingBgp.push(mine);
    });
    this.stale = new StaleBgpRoutes((changes) => {
      if (this.calc) this.calc.onBgpBest(changes);
      else this.staleBuffer.push([...changes]);
    });
  }

  async start(ctx: AgentContext): Promise<void> {
    const c = this.config;
    this.log = ctx.logger;
    this.stale.log = ctx.logger;
    this.reporter = ctx.health.register({ name: this.name, live: true, ready: true, timeoutMs: 0 });
    this.reporter.report({ live: true, ready: false, detail: 'waiting for the datastore to be in sync' });
    const addr = this.nodeC.address;
    const uplinkMtu = addr?.mtu ?? FALLBACK_MTU;
    this.node = createNodeDataplane({
      registry: ctx.registry,
      log: ctx.logger,
      routeRefreshIntervalMs: c.routeRefreshInterval * 1000,
      protocols: { ...DEFAULT_ROUTE_PROTOCOLS, device: c.deviceRouteProtocol },
      workloadPrefixes: c.interfacePrefix,
      ...(c.policyDataplane ? { policy: policyOptions(c) } : {}),
    });
    this.calc = new CalcGraph(
      {
        nodeName: c.nodename,
        networkingBackend: c.networkingBackend,
        uplinkMtu,
        ...(addr?.iface ? { uplinkDevice: addr.iface } : {}),
        vxlanVni: c.vxlanVni,
        vxlanPort: c.vxlanPort,
        ...(c.vxlanMtu ? { vxlanMtu: c.vxlanMtu } : {}),
        ...(c.ipInIpMtu ? { ipipMtu: c.ipInIpMtu } : {}),
        ...(c.as !== undefined ? { defaultAsNumber: c.as } : {}),
        onPolicyProblem: (p) => {
          DatastoreMetrics.forRegistry(ctx.registry).invalidResources.inc({ kind: p.kind });
          ctx.logger.warn({ resource: p.key, kind: p.kind, problem: p.message }, `policy ${p.key}: ${p.message}`);
        },
      },
      {
        dataplane: this.node.dataplane,
        ...(this.bgp ? { bgp: this.bgp } : {}),
        // IP sets and iptables (a no-op with TORTIE_POLICY_DATAPLANE=false); the resolved policy
        // is also served from the calc state (`tortie status policy`, felix_active_local_*).
        policy: this.node.dataplane,
      },
    );
    const calcTime = new Summary({
      name: 'felix_calc_graph_update_time_seconds',
      help: 'Seconds to update the calculation graph for each datastore OnUpdate call.',
      percentiles: [0.5, 0.9, 0.99],
      registers: [ctx.registry],
    });
    this.calc.onRoundTime = (s) => calcTime.observe(s);
    ctx.logger.info({ uplink: addr?.iface, uplinkMtu, backend: c.networkingBackend }, 'routing calculation ready');
    for (const b of this.staleBuffer.splice(0)) this.calc.onBgpBest(b);
    for (const b of this.pendingFelix.splice(0)) this.calc.onUpdates(b);
    for (const b of this.pendingBgp.splice(0)) this.calc.onUpdates(b);

    const calc = this.calc;
    // Felix's gauges, read from the calc state when Prometheus scrapes.
    const gauge = (name: string, help: string, value: () => number) =>
      new Gauge({ name, help, registers: [ctx.registry], collect() { this.set(value()); } });
    gauge('felix_active_local_endpoints', 'Number of active endpoints on this host.', () => calc.localEndpointCount);
    gauge('felix_active_local_policies', 'Number of active policies on this host.', () => calc.policy.activePolicyCount);
    gauge('felix_active_local_selectors', 'Number of active selectors on this host.', () => calc.policy.activeSelectorCount);
    gauge('felix_cluster_num_tiers', 'Total number of Calico tiers in the cluster.', () => calc.policy.tiers.count);
    ctx.control.handle('policy.endpoint', (params) => describeEndpointPolicy(calc.policy, params));

    // Keep the previous instance's BGP routes until BGP has re-converged (stale-bgp-routes.ts).
    try {
      const existing = await readKernelBgpRoutes(DEFAULT_ROUTE_PROTOCOLS.bgp);
      this.stale.seed(existing);
    } catch (e) {
      ctx.logger.warn({ err: errorMessage(e) }, 'could not read the kernel BGP routes left by a previous instance; they may be re-programmed');
    }
    if (c.networkingBackend !== 'bird') this.stale.sweep('BGP is not in use');
    this.seeded = true;

    this.node.start();
    this.ds.on('in-sync', () => this.maybeInSync());
    this.ds.on('datastore-ready', () => this.maybeInSync());
    this.maybeInSync();
    this.timer = setInterval(() => this.report(), HEALTH_INTERVAL_MS);
    this.timer.unref();
  }

  /** Whether the kernel held tortie's routes when we started (forwarding state preserved). */
  get hadKernelState(): boolean {
    return this.stale.seededCount > 0;
  }

  private maybeInSync(): void {
    if (!this.node || !this.seeded) return;
    const ok = this.ds.inSync && this.ds.datastoreReady;
    if (ok && !this.inSyncSent) {
      this.inSyncSent = true;
      this.log.info('datastore in sync: programming the dataplane');
      this.node.dataplane.setDatastoreInSync(true);
      this.hooks.onInSync?.();
    } else if (!this.ds.datastoreReady && this.inSyncSent) {
      // Felix stops programming while the datastore is marked not ready (upgrade/restore).
      this.inSyncSent = false;
      this.node.dataplane.setDatastoreInSync(false);
    }
    this.report();
  }

  private report(): void {
    if (!this.node) return;
    const s = this.node.dataplane.status();
    const stuck = s.passStartedAt !== undefined && Date.now() - s.passStartedAt > DATAPLANE_WATCHDOG_MS;
    if (s.ipipAvailable === false && !this.ipipLogged) {
      this.ipipLogged = true;
      this.log.error({ reason: s.ipipUnavailableReason }, 'IPIP is unavailable on this kernel (tunl0 cannot be created): IPIP pools will not route; everything else keeps working (tortie_ipip_available 0)');
    }
    const detail = !this.ds.datastoreReady
      ? 'ClusterInformation.datastoreReady is false: not programming'
      : !s.datastoreInSync
        ? 'waiting for the datastore to be in sync'
        : !s.firstApplyDone
          ? `first apply not done${s.lastError ? ` (last error: ${s.lastError})` : ''}`
          : s.consecutiveFailures > 0
            ? `apply failing (${s.consecutiveFailures}x): ${s.lastError ?? ''}`
            : `programmed${s.ipipAvailable === false ? '; IPIP unavailable (no ipip module)' : ''}${this.policySummary()}`;
    this.reporter.report({ live: !stuck, ready: s.ready, detail: stuck ? `apply pass running for over ${DATAPLANE_WATCHDOG_MS / 1000} s` : detail });
  }

  /** `; policy: nft, 120 chains, 900 rules, 14 IP sets` for the health detail. */
  private policySummary(): string {
    const p = this.node?.dataplane.policy?.summary();
    if (!p?.backend) return '';
    const sum = (k: 'chains' | 'rules' | 'ipsets') => p.families.reduce((n, f) => n + f[k], 0);
    return `; policy: iptables ${p.backend}, ${sum('chains')} chains, ${sum('rules')} rules, ${sum('ipsets')} IP sets`;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.node?.stop();
  }
}
