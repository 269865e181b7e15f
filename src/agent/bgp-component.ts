/**
 * The BGP speaker as an agent component (CALICO_NETWORKING_BACKEND=bird): confd's and BIRD's job.
 * The calc graph hands it the desired configuration (DesiredBgp: router id, AS, peers, exports);
 * this component diffs it against the running speaker — new peers added, changed ones updated
 * (the speaker resets a session only when a session field changed), vanished ones removed,
 * exports announced/withdrawn — and forwards the speaker's best-path changes back to the graph.
 *
 * Sessions start only once the datastore is in sync: a speaker started on a partial snapshot
 * would send an incomplete table followed by End-of-RIB, and its graceful-restart peers would
 * sweep the blocks it had not announced yet.
 *
 * Restart without loss (docs/routing.md):
 * - stop() closes sessions without NOTIFICATION and writes the restart-state file, so peers keep
 *   our routes (RFC 4724 helper) and the next start sets the R bit;
 * - a start after a crash (no state file) that finds our routes still in the kernel also counts
 *   as a restart with forwarding state preserved;
 * - the kernel's BGP routes are kept as stale (StaleBgpRoutes) until every peer is Established
 *   and its table is in (bgpReconverged: End-of-RIB for IPv4 unicast from graceful-restart
 *   peers; BGP_SETTLE_MS without changes for peers without it), or GR restart time has passed.
 *
 * Readiness follows Calico's `-bird-ready`: within BGP_READY_GRACE_MS of start every peer must be
 * Established; after that at least one; no peers configured is ready.
 */
import { join, dirname } from 'node:path';
import { BgpSpeaker, type PeerStatus } from '../bgp/speaker.js';
import type { PeerConfigInput } from '../bgp/config.js';
import type { BgpSink } from '../calc/graph.js';
import type { BgpUnavailable, DesiredBgp, DesiredExport, DesiredPeer } from '../calc/bgp.js';
import { DEFAULT_BGP_RESTART_TIME_S } from '../calc/bgp.js';
import type { AgentConfig } from '../config/schema.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import type { HealthReporter } from '../health/aggregator.js';
import type { AgentComponent, AgentContext } from './component.js';
import type { DatastoreComponent } from './datastore-component.js';
import { bgpReconverged, type BestRoute } from './stale-bgp-routes.js';

/** Calico's bird readiness: all peers must be up this long after start, then one is enough. */
export const BGP_READY_GRACE_MS = 30_000;
/**
 * For peers without graceful restart (no End-of-RIB owed): how long Established and without
 * best-path changes before their initial table counts as received. A peer sends its table right
 * after OPEN/KEEPALIVE, so a quiet second after the last change is well past it on any LAN.
 */
export const BGP_SETTLE_MS = 2_000;
/** Where the restart-state file lives, beside the control socket (one per node). */
export const RESTART_STATE_FILE = 'bgp-restart-state.json';
/** Calico's BGPPeer password Secrets live in calico-node's namespace. */
const SECRET_NAMESPACE = process.env.POD_NAMESPACE ?? 'kube-system';

type ControlFn = (params: unknown) => unknown;

export class BgpComponent implements AgentComponent, BgpSink {
  readonly name = 'bgp';
  speaker: BgpSpeaker | undefined;
  private desired: DesiredBgp | BgpUnavailable | undefined;
  private ctx: AgentContext | undefined;
  private log!: Logger;
  private reporter!: HealthReporter;
  private inSync = false;
  private startedAt = 0;
  private peers = new Map<string, string>();
  private exports = new Map<string, string>();
  private identity = '';
  private readonly control = new Map<string, ControlFn>();
  private timer: NodeJS.Timeout | undefined;
  private lastBestAt = 0;
  private maxWaitTimer: NodeJS.Timeout | undefined;
  private applying: Promise<void> = Promise.resolve();
  private etcdPasswordWarned = false;
  /** The speaker has had its peers and exports applied at least once (convergence is judged only then). */
  private configured = false;
  /** Best-path changes go here (the routing component's StaleBgpRoutes). */
  onBest: (changes: readonly BestRoute[]) => void = () => undefined;
  /** Called once BGP has re-converged after start (stale routes may go). */
  onConverged: (reason: string) => void = () => undefined;
  /** True when the kernel held our routes at start (forwarding state preserved across a crash). */
  kernelStatePreserved: () => boolean = () => false;

  constructor(
    private readonly config: AgentConfig,
    private readonly ds: DatastoreComponent,
    private readonly gracefulRestart: boolean,
  ) {}

  setDesiredBgp(d: DesiredBgp | BgpUnavailable): void {
    this.desired = d;
    this.kick();
  }

  /** The routing component calls this once the dataplane has a complete snapshot. */
  datastoreInSync(): void {
    this.inSync = true;
    this.kick();
  }

  async start(ctx: AgentContext): Promise<void> {
    this.ctx = ctx;
    this.log = ctx.logger;
    this.startedAt = Date.now();
    this.reporter = ctx.health.register({ name: this.name, live: true, ready: true, timeoutMs: 0 });
    this.reporter.report({ live: true, ready: false, detail: 'waiting for the datastore' });
    // Proxies: the speaker may be replaced (router id / AS change), the control methods stay.
    for (const m of ['bgp.peers', 'bgp.routes']) {
      ctx.control.handle(m, (p) => {
        const fn = this.control.get(m);
        if (!fn) return m === 'bgp.peers' ? { routerId: '', asNumber: 0, peers: [] } : { routes: [] };
        return fn(p);
      });
    }
    // Bounded wait for re-convergence: the longest restart time a peer could need.
    this.maxWaitTimer = setTimeout(() => this.onConverged(`no convergence within ${DEFAULT_BGP_RESTART_TIME_S} s of start`), DEFAULT_BGP_RESTART_TIME_S * 1000);
    this.maxWaitTimer.unref();
    this.timer = setInterval(() => this.tick(), 500);
    this.timer.unref();
    this.kick();
  }

  private kick(): void {
    if (!this.ctx || !this.inSync) return;
    this.applying = this.applying.then(() => this.apply()).catch((e: unknown) => this.log.error({ err: errorMessage(e) }, 'applying the BGP configuration failed; will retry on the next change'));
  }

  private async apply(): Promise<void> {
    const d = this.desired;
    if (!d || !this.ctx) return;
    if ('reason' in d) {
      if (this.speaker) {
        this.log.warn({ reason: d.reason }, 'BGP no longer configured for this node: stopping the speaker');
        await this.stopSpeaker(false);
      }
      this.onConverged(`BGP not configured (${d.reason})`);
      return;
    }
    const identity = JSON.stringify([d.routerId, d.asNumber, d.listenPort, d.clusterId]);
    if (this.speaker && identity !== this.identity) {
      this.log.info({ routerId: d.routerId, asNumber: d.asNumber }, 'router id, AS or port changed: restarting the speaker');
      await this.stopSpeaker(true);
    }
    if (!this.speaker) await this.startSpeaker(d, identity);
    await this.syncPeers(d.peers);
    this.syncExports(d.exports);
    this.configured = true;
  }

  private async startSpeaker(d: DesiredBgp, identity: string): Promise<void> {
    const ctx = this.ctx!;
    const stateFile = join(dirname(this.config.controlSocket), RESTART_STATE_FILE);
    const preserved = this.gracefulRestart && this.kernelStatePreserved();
    const sp = new BgpSpeaker({
      routerId: d.routerId,
      asNumber: d.asNumber,
      listen: { address: '0.0.0.0', port: d.listenPort },
      ...(d.clusterId ? { clusterId: d.clusterId } : {}),
      logger: ctx.logger,
      registry: ctx.registry,
      restartStateFile: stateFile,
      // A crash leaves no state file, but if our routes are still in the kernel, forwarding was
      // preserved: tell peers so (R and F bits) and they keep our routes while we come back.
      ...(preserved ? { restarting: true } : {}),
    });
    sp.on('best-path-changes', (changes) => {
      this.lastBestAt = Date.now();
      this.onBest(changes.map((c) => ({ prefix: c.prefix, ...(c.best?.nextHop && c.best.peerId !== null ? { nextHop: c.best.nextHop } : {}) })));
    });
    sp.on('peer-state', () => this.tick());
    // The speaker emits this after the table's best-path changes, so a sweep here sees them all.
    sp.on('end-of-rib', () => this.tick());
    sp.registerControl({ handle: (m: string, fn: ControlFn) => void this.control.set(m, fn) });
    this.speaker = sp;
    this.identity = identity;
    this.peers.clear();
    this.exports.clear();
    await sp.start();
    this.log.info({ routerId: d.routerId, asNumber: d.asNumber, port: d.listenPort, gracefulRestart: this.gracefulRestart }, 'BGP speaker started');
  }

  private async stopSpeaker(graceful: boolean): Promise<void> {
    const sp = this.speaker;
    this.speaker = undefined;
    this.configured = false;
    this.control.clear();
    this.peers.clear();
    this.exports.clear();
    if (sp) await sp.stop({ gracefulRestart: graceful && this.gracefulRestart });
  }

  private async resolvePassword(p: DesiredPeer): Promise<string | undefined> {
    if (!p.passwordSecret) return undefined;
    const client = this.ds.kubeClient;
    if (!client) {
      if (!this.etcdPasswordWarned) {
        this.etcdPasswordWarned = true;
        this.log.error({ peer: p.address }, 'BGP password secretKeyRef is not supported with the etcd datastore (as in Calico): the session runs without a password');
      }
      return undefined;
    }
    const { readSecretKey } = await import('../datastore/k8s/secrets.js');
    try {
      return await readSecretKey(client, SECRET_NAMESPACE, p.passwordSecret.name, p.passwordSecret.key);
    } catch (e) {
      this.log.error({ peer: p.address, err: errorMessage(e) }, 'cannot read the BGP password; the peer is not configured until it can be read');
      throw e;
    }
  }

  private async syncPeers(desired: readonly DesiredPeer[]): Promise<void> {
    const sp = this.speaker!;
    const want = new Set<string>();
    for (const p of desired) {
      want.add(p.address);
      let input: PeerConfigInput;
      try {
        const password = await this.resolvePassword(p);
        const { passwordSecret: _s, source: _src, ...rest } = p;
        input = { ...rest, ...(password ? { password } : {}) };
        if (!this.gracefulRestart) delete input.gracefulRestart;
      } catch {
        continue; // logged; keep whatever session the peer has
      }
      const j = JSON.stringify(input);
      const prev = this.peers.get(p.address);
      if (prev === j) continue;
      try {
        if (prev === undefined) sp.addPeer(input);
        else sp.updatePeer(input);
        this.peers.set(p.address, j);
      } catch (e) {
        this.log.error({ peer: p.address, err: errorMessage(e) }, 'BGP peer configuration refused; fix the BGPPeer resource');
      }
    }
    for (const addr of [...this.peers.keys()]) {
      if (want.has(addr)) continue;
      sp.removePeer(addr);
      this.peers.delete(addr);
    }
  }

  private syncExports(desired: readonly DesiredExport[]): void {
    const sp = this.speaker!;
    const want = new Map(desired.map((e) => [e.prefix, JSON.stringify(e)]));
    for (const [prefix, j] of want) {
      if (this.exports.get(prefix) === j) continue;
      const e = JSON.parse(j) as DesiredExport;
      try {
        sp.announce(prefix, {
          ...(e.nextHop ? { nextHop: e.nextHop } : {}),
          ...(e.communities ? { communities: e.communities } : {}),
          ...(e.largeCommunities ? { largeCommunities: e.largeCommunities } : {}),
        });
        this.exports.set(prefix, j);
      } catch (err) {
        this.log.error({ prefix, err: errorMessage(err) }, 'cannot announce prefix; check the BGPConfiguration communities');
      }
    }
    for (const prefix of [...this.exports.keys()]) {
      if (want.has(prefix)) continue;
      sp.withdraw(prefix);
      this.exports.delete(prefix);
    }
  }

  private tick(): void {
    if (!this.reporter) return;
    const d = this.desired;
    if (!this.inSync || !d) {
      this.reporter.report({ live: true, ready: false, detail: 'waiting for the datastore' });
      return;
    }
    if ('reason' in d) {
      this.reporter.report({ live: true, ready: true, detail: `BGP not configured on this node (${d.reason})` });
      return;
    }
    const peers: PeerStatus[] = this.speaker?.peers() ?? [];
    const up = peers.filter((p) => String(p.state) === 'Established');
    const all = peers.length === 0 || up.length === peers.length;
    if (this.configured) {
      const converged = bgpReconverged(peers, { now: Date.now(), lastBestAt: this.lastBestAt, settleMs: BGP_SETTLE_MS });
      if (converged) this.onConverged(converged);
    }
    const inGrace = Date.now() - this.startedAt < BGP_READY_GRACE_MS;
    const ready = peers.length === 0 || (inGrace ? all : up.length > 0);
    const down = peers.filter((p) => !up.includes(p)).map((p) => `${p.address} ${p.info}`);
    this.reporter.report({
      live: true,
      ready,
      detail: peers.length === 0 ? 'no BGP peers' : `${up.length}/${peers.length} peers Established${down.length ? `; down: ${down.slice(0, 3).join(', ')}` : ''}`,
    });
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.maxWaitTimer) clearTimeout(this.maxWaitTimer);
    await this.applying;
    await this.stopSpeaker(true);
  }
}
