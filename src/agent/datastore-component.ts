/**
 * The datastore component: opens the backend the configuration names (etcd v3 with the ETCD_*
 * TLS files, or the Kubernetes API), runs the two syncers Calico runs (felix: everything the
 * dataplane needs; bgp: pools, nodes, BGP config/peers and this node's block affinities) and
 * reports readiness from their sync state.
 *
 * Readiness rides out short datastore losses (GracefulReadiness, TORTIE_DATASTORE_LOSS_READINESS_TIMEOUT):
 * the dataplane keeps its last state whatever happens here, and readiness only turns false when
 * the loss lasts longer than the timeout.
 *
 * ClusterInformation.datastoreReady: when a ClusterInformation says false (an upgrade or restore
 * in progress), Felix programs nothing. `datastoreReady` here is what the routing component
 * gates its first apply on.
 */
import { EventEmitter } from 'node:events';
import { GracefulReadiness } from '../health/grace.js';
import { openBackend } from '../datastore/factory.js';
import { bgpScopes, felixScopes, type Update } from '../datastore/syncer.js';
import { WatcherSyncer } from '../datastore/watchersyncer.js';
import type { DatastoreBackend } from '../datastore/types.js';
import type { ClusterInformation } from '../datastore/model/index.js';
import type { KubeClient } from '../datastore/k8s/client.js';
import type { AgentConfig } from '../config/schema.js';
import type { Logger } from '../util/log.js';
import { errorMessage } from '../util/errors.js';
import type { AgentComponent, AgentContext } from './component.js';

/** How often the syncers' connection state is sampled for readiness (the grace period is tens of seconds). */
const HEALTH_POLL_MS = 1_000;

export interface DatastoreEvents {
  /** Both syncers are in sync (emitted on every transition into that state). */
  'in-sync': [];
  /** ClusterInformation.datastoreReady changed. */
  'datastore-ready': [ready: boolean];
}

export class DatastoreComponent extends EventEmitter<DatastoreEvents> implements AgentComponent {
  readonly name = 'datastore';
  backend: DatastoreBackend | undefined;
  felix: WatcherSyncer | undefined;
  bgp: WatcherSyncer | undefined;
  private grace: GracefulReadiness | undefined;
  private poll: NodeJS.Timeout | undefined;
  private log: Logger | undefined;
  private clusterInfo: boolean | undefined;
  private felixListeners: ((b: readonly Update[]) => void)[] = [];
  private bgpListeners: ((b: readonly Update[]) => void)[] = [];

  constructor(private readonly config: AgentConfig) {
    super();
  }

  /** Subscribe before start(): the snapshot is delivered to subscribers only once. */
  onFelixUpdates(cb: (batch: readonly Update[]) => void): void {
    this.felixListeners.push(cb);
  }
  onBgpUpdates(cb: (batch: readonly Update[]) => void): void {
    this.bgpListeners.push(cb);
  }

  get inSync(): boolean {
    return !!this.felix?.health().inSync && (!this.bgp || this.bgp.health().inSync);
  }

  /** ClusterInformation.datastoreReady; absent counts as ready (as in Felix, which only gates on an explicit false). */
  get datastoreReady(): boolean {
    return this.clusterInfo !== false;
  }

  /** The Kubernetes API client (BGP passwords from Secrets), in Kubernetes mode only. */
  get kubeClient(): KubeClient | undefined {
    const b = this.backend as { client?: KubeClient } | undefined;
    return this.backend?.type === 'kubernetes' ? b?.client : undefined;
  }

  async start(ctx: AgentContext): Promise<void> {
    const c = this.config;
    this.log = ctx.logger;
    this.backend = await openBackend({
      type: c.datastoreType,
      etcd: { endpoints: c.etcdEndpoints, caFile: c.etcdCaCertFile, certFile: c.etcdCertFile, keyFile: c.etcdKeyFile },
      kubeconfig: c.kubeconfig,
      nodeName: c.nodename,
      logger: ctx.logger,
    });
    if (c.datastoreType === 'etcdv3' && (c.etcdUsername || c.etcdPassword)) {
      ctx.logger.warn('ETCD_USERNAME/ETCD_PASSWORD are not supported by this build; connecting without etcd authentication');
    }
    ctx.logger.info({ datastore: this.backend.description }, 'datastore backend opened');
    const reporter = ctx.health.register({ name: this.name, live: true, ready: true, timeoutMs: 0 });
    this.grace = new GracefulReadiness({ reporter, graceMs: c.datastoreLossReadinessTimeout * 1000 });
    this.grace.setNotReady('not in sync yet (waiting for the first complete snapshot)');

    this.felix = new WatcherSyncer({ name: 'felix', backend: this.backend, scopes: felixScopes(c.datastoreType), logger: ctx.logger, registry: ctx.registry });
    this.felix.onUpdates((b) => {
      this.watchClusterInfo(b);
      for (const l of this.felixListeners) l(b);
    });
    // The routing side only needs BGP's daily bread from the BGP syncer when BGP runs; the
    // BGPPeers and this node's BlockAffinities are not in the felix syncer.
    this.bgp = new WatcherSyncer({ name: 'bgp', backend: this.backend, scopes: bgpScopes(c.nodename), logger: ctx.logger, registry: ctx.registry });
    this.bgp.onUpdates((b) => {
      for (const l of this.bgpListeners) l(b);
    });
    const onStatus = (): void => this.refresh();
    this.felix.onStatus(onStatus);
    this.bgp.onStatus(onStatus);
    this.felix.start();
    this.bgp.start();
    this.poll = setInterval(() => this.refresh(), HEALTH_POLL_MS);
    this.poll.unref();
  }

  private wasInSync = false;

  private refresh(): void {
    if (!this.felix || !this.bgp || !this.grace) return;
    const f = this.felix.health();
    const g = this.bgp.health();
    const inSync = f.inSync && g.inSync;
    const lost = f.lostSince ?? g.lostSince;
    if (inSync && !this.wasInSync) {
      this.wasInSync = true;
      this.log?.info('datastore in sync');
      this.emit('in-sync');
    } else if (!inSync) this.wasInSync = false;
    if (lost !== undefined) {
      this.grace.setLost(`datastore connection lost (${this.backend?.description ?? ''}); forwarding continues on the last known state`);
    } else if (inSync) {
      this.grace.setReady(this.datastoreReady ? 'in sync' : 'in sync, but ClusterInformation.datastoreReady is false');
    } else if (this.grace.state !== 'lost' && this.grace.state !== 'lost-in-grace') {
      this.grace.setNotReady(`syncing (felix ${f.status}, bgp ${g.status})`);
    } else {
      this.grace.setReady('connection back; re-syncing');
    }
  }

  private watchClusterInfo(batch: readonly Update[]): void {
    for (const u of batch) {
      if (u.kind !== 'ClusterInformation' || u.key !== 'ClusterInformation/default') continue;
      const ready = u.type === 'delete' ? undefined : (u.value as ClusterInformation | undefined)?.spec.datastoreReady;
      const before = this.datastoreReady;
      this.clusterInfo = ready;
      if (before !== this.datastoreReady) {
        if (!this.datastoreReady) this.log?.warn('ClusterInformation.datastoreReady is false: not programming the dataplane until it is true (as Felix)');
        else this.log?.info('ClusterInformation.datastoreReady is true');
        this.emit('datastore-ready', this.datastoreReady);
      }
    }
  }

  async stop(): Promise<void> {
    if (this.poll) clearInterval(this.poll);
    this.grace?.stop();
    const stops = [this.felix?.stop(), this.bgp?.stop()];
    for (const r of await Promise.allSettled(stops)) {
      if (r.status === 'rejected') this.log?.warn({ err: errorMessage(r.reason) }, 'syncer did not stop cleanly');
    }
    await this.backend?.close().catch((e: unknown) => this.log?.warn({ err: errorMessage(e) }, 'closing the datastore failed'));
  }
}
