/**
 * The consumer-facing side of the datastore: a syncer delivers one ordered stream of typed updates
 * and a sync status (libcalico-go api.SyncStatus semantics):
 *
 *   WaitForDatastore → ResyncInProgress → InSync
 *
 * Guarantees (implemented by WatcherSyncer, watchersyncer.ts):
 * - Before the first `InSync`, consumers have received the complete snapshot of every scope.
 * - After that, deltas in revision order per key; never a value twice for one (key, revision).
 * - After an outage or a compaction the syncer re-lists and sends only differences: adds/updates
 *   for what changed, deletes for what vanished. Unchanged values are not re-sent.
 * - A value that fails validation is never delivered; if the key was delivered before, a delete
 *   is sent instead (an update that makes a resource invalid is treated as its deletion).
 *
 * Two syncers exist, as in Calico: `felix` (everything the dataplane needs) and `bgp` (IPPool,
 * BGPConfiguration, Node, BGPPeer and this node's BlockAffinities).
 */
import type { Resource, ResourceKind } from './model/index.js';
import type { ResourceScope } from './types.js';

export type SyncStatus = 'WaitForDatastore' | 'ResyncInProgress' | 'InSync';

/** Felix's numeric encoding of the status for `felix_resync_state` (felix/calc/async_calc_graph.go). */
export const SYNC_STATUS_GAUGE: Readonly<Record<SyncStatus, number>> = {
  WaitForDatastore: 1,
  ResyncInProgress: 2,
  InSync: 3,
};

export type UpdateType = 'add' | 'update' | 'delete';

/** One change to the model. `value` is set for add/update and absent for delete. */
export interface Update<R extends Resource = Resource> {
  readonly type: UpdateType;
  readonly kind: R['kind'];
  /** Canonical key (model.canonicalKey). */
  readonly key: string;
  readonly value?: R;
  /** Datastore revision of the change (decimal string). */
  readonly revision: string;
}

/** A consumer's view of the syncer. */
export interface Syncer {
  readonly name: string;
  readonly status: SyncStatus;
  /** Registers a batch callback; returns an unsubscribe function. Batches arrive in order. */
  onUpdates(cb: (batch: readonly Update[]) => void): () => void;
  /** Registers a status callback (called on every change); returns an unsubscribe function. */
  onStatus(cb: (status: SyncStatus) => void): () => void;
  start(): void;
  stop(): Promise<void>;
  /** Readiness input: in sync, and since when the datastore connection has been lost (if it is). */
  health(): SyncerHealth;
}

export interface SyncerHealth {
  readonly status: SyncStatus;
  /** True once the first complete snapshot has been delivered and no re-list is in progress. */
  readonly inSync: boolean;
  /** ms epoch since which at least one watch has had no connection; undefined when connected. */
  readonly lostSince?: number;
}

/** Kinds of the felix syncer (Calico's felixsyncer minus the kinds tortie does not consume). */
export const FELIX_SYNCER_KINDS: readonly ResourceKind[] = [
  'ClusterInformation',
  'FelixConfiguration',
  'BGPConfiguration',
  'IPPool',
  'Node',
  'IPAMBlock',
  'Profile',
  'WorkloadEndpoint',
  'HostEndpoint',
  'Tier',
  'NetworkPolicy',
  'GlobalNetworkPolicy',
  'NetworkSet',
  'GlobalNetworkSet',
  'KubernetesNetworkPolicy',
];

/** Scopes the felix syncer watches. KubernetesNetworkPolicy only exists in the Kubernetes datastore. */
export function felixScopes(datastoreType: 'etcdv3' | 'kubernetes'): ResourceScope[] {
  return FELIX_SYNCER_KINDS.filter((k) => datastoreType === 'kubernetes' || k !== 'KubernetesNetworkPolicy').map((kind) => ({ kind }));
}

/** Scopes the BGP syncer watches: BlockAffinity only for this node. */
export function bgpScopes(nodeName: string): ResourceScope[] {
  return [{ kind: 'IPPool' }, { kind: 'BGPConfiguration' }, { kind: 'Node' }, { kind: 'BGPPeer' }, { kind: 'BlockAffinity', node: nodeName }];
}
