/**
 * Prometheus metrics of the datastore layer. Felix's names and meanings are kept so existing
 * dashboards work: `felix_resync_state` uses Felix's encoding (1 WaitForDatastore,
 * 2 ResyncInProgress, 3 InSync — felix/calc/async_calc_graph.go), `felix_resyncs_started` counts
 * entries into ResyncInProgress, and the `felix_cluster_num_*` gauges count what the felix syncer
 * sees cluster-wide. Only the felix syncer drives the felix_* series; every syncer counts invalid
 * resources and reconnects.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ResourceKind } from './model/index.js';
import { SYNC_STATUS_GAUGE, type SyncStatus, type Update } from './syncer.js';

/** Which felix_cluster_num_* gauge a kind counts towards (Felix counts all policy kinds together). */
const CLUSTER_GAUGE_OF: Partial<Record<ResourceKind, 'hosts' | 'wep' | 'hep' | 'policies' | 'profiles'>> = {
  Node: 'hosts',
  WorkloadEndpoint: 'wep',
  HostEndpoint: 'hep',
  NetworkPolicy: 'policies',
  GlobalNetworkPolicy: 'policies',
  KubernetesNetworkPolicy: 'policies',
  Profile: 'profiles',
};

export class DatastoreMetrics {
  private static readonly byRegistry = new WeakMap<Registry, DatastoreMetrics>();

  readonly resyncState: Gauge;
  readonly resyncsStarted: Counter;
  readonly invalidResources: Counter<'kind'>;
  readonly reconnects: Counter;
  private readonly cluster: Record<'hosts' | 'wep' | 'hep' | 'policies' | 'profiles', Gauge>;
  private readonly counts = { hosts: 0, wep: 0, hep: 0, policies: 0, profiles: 0 };

  /** One instance per registry, so several syncers can share it without double registration. */
  static forRegistry(registry: Registry): DatastoreMetrics {
    let m = DatastoreMetrics.byRegistry.get(registry);
    if (!m) {
      m = new DatastoreMetrics(registry);
      DatastoreMetrics.byRegistry.set(registry, m);
    }
    return m;
  }

  private constructor(registry: Registry) {
    const registers = [registry];
    this.resyncState = new Gauge({ name: 'felix_resync_state', help: 'Current datastore state.', registers });
    this.resyncState.set(SYNC_STATUS_GAUGE.WaitForDatastore);
    this.resyncsStarted = new Counter({ name: 'felix_resyncs_started', help: 'Number of times Felix has started resyncing with the datastore.', registers });
    const g = (name: string, help: string) => new Gauge({ name, help, registers });
    this.cluster = {
      hosts: g('felix_cluster_num_hosts', 'Total number of Calico hosts in the cluster.'),
      wep: g('felix_cluster_num_workload_endpoints', 'Total number of workload endpoints cluster-wide.'),
      hep: g('felix_cluster_num_host_endpoints', 'Total number of host endpoints cluster-wide.'),
      policies: g('felix_cluster_num_policies', 'Total number of policies cluster-wide.'),
      profiles: g('felix_cluster_num_profiles', 'Total number of profiles cluster-wide.'),
    };
    this.invalidResources = new Counter({
      name: 'tortie_datastore_invalid_resources_total',
      help: 'Datastore values rejected by validation (never delivered to consumers), by kind.',
      labelNames: ['kind'],
      registers,
    });
    this.reconnects = new Counter({
      name: 'tortie_datastore_reconnects_total',
      help: 'Times a datastore list or watch had to be retried after a connection failure.',
      registers,
    });
  }

  setStatus(s: SyncStatus): void {
    this.resyncState.set(SYNC_STATUS_GAUGE[s]);
  }

  /** Tracks cluster-wide counts from the felix syncer's update stream. */
  countUpdates(batch: readonly Update[]): void {
    for (const u of batch) {
      const g = CLUSTER_GAUGE_OF[u.kind];
      if (!g) continue;
      if (u.type === 'add') this.counts[g]++;
      else if (u.type === 'delete') this.counts[g]--;
    }
    for (const [k, gauge] of Object.entries(this.cluster) as [keyof typeof this.counts, Gauge][]) gauge.set(this.counts[k]);
  }
}
