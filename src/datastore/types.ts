/**
 * The contract between datastore backends (etcd v3, Kubernetes) and the syncer. A backend knows how
 * to list one *resource scope* completely at a consistent revision and how to watch it from a
 * revision; it hands the syncer raw values in the v3 / CRD shape (see model/), and the syncer does
 * validation, de-duplication, reconciliation after a re-list, status and metrics — identically for
 * both backends.
 */
import type { ResourceKind } from './model/index.js';

/**
 * What one watcher covers: a kind, optionally narrowed to one node (BlockAffinity for the BGP
 * syncer: only this node's affinities).
 */
export interface ResourceScope {
  readonly kind: ResourceKind;
  /** Only resources belonging to this node (BlockAffinity). */
  readonly node?: string;
}

/** Text form of a scope, for logs and maps: `BlockAffinity@node-1`, `IPPool`. */
export function scopeName(s: ResourceScope): string {
  return s.node ? `${s.kind}@${s.node}` : s.kind;
}

/**
 * One stored object as a backend read it. `value` is the parsed JSON in v3 / CRD shape (the
 * backend converts its own encoding, e.g. etcd's IPAM backend model or a Pod, into that shape);
 * when the stored bytes could not even be decoded `value` is undefined and `decodeError` says why.
 */
export interface BackendItem {
  /** Canonical key (model.canonicalKey): `IPPool/default-pool`, `WorkloadEndpoint/ns/name`. */
  readonly key: string;
  readonly kind: ResourceKind;
  readonly value?: unknown;
  readonly decodeError?: string;
  /**
   * Revision at which this value was last modified (etcd mod_revision, Kubernetes
   * resourceVersion), as a decimal string. Used to drop duplicates: the syncer never emits a value
   * whose revision it has already emitted for that key.
   */
  readonly revision: string;
}

export interface ListResult {
  readonly items: readonly BackendItem[];
  /** The revision the list is consistent at; watch from here to see every later change. */
  readonly revision: string;
}

export type BackendEvent =
  | { readonly type: 'put'; readonly item: BackendItem }
  /** `revision` is the revision of the deletion itself. */
  | { readonly type: 'delete'; readonly key: string; readonly kind: ResourceKind; readonly revision: string };

/**
 * Why a list or watch failed, which decides what the syncer does next:
 * - `compacted` (etcd ErrCompacted, watch cancelled with a compact revision) and `gone`
 *   (Kubernetes 410 / "too old resource version"): the revision is no longer available; re-list
 *   and reconcile.
 * - `transient` (connection refused/reset, timeout, keepalive failure): back off and retry the
 *   watch from the last revision seen (which may in turn turn out to be compacted).
 */
export type DatastoreErrorKind = 'compacted' | 'gone' | 'transient';

export class DatastoreError extends Error {
  readonly code: string;
  constructor(
    readonly kind: DatastoreErrorKind,
    message: string,
    opts: { cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'DatastoreError';
    this.code = `E_DATASTORE_${kind.toUpperCase()}`;
  }
}

/** Receives a watch's events in revision order. After `onError` the watch is dead; no more calls. */
export interface WatchSink {
  /**
   * The server has accepted the watch (etcd: `created` response; Kubernetes: the watch request
   * returned 200). Optional for the backend to call; it clears the syncer's "connection lost".
   */
  onConnected?(): void;
  onEvents(events: readonly BackendEvent[]): void;
  /**
   * Optional: the server guarantees every event up to `revision` has been delivered (etcd progress
   * notification, Kubernetes bookmark). Lets the syncer resume from there instead of an older
   * revision that compaction may have removed.
   */
  onProgress?(revision: string): void;
  onError(err: DatastoreError): void;
}

export interface WatchHandle {
  /** Stops the watch; no sink calls after this returns. Idempotent. */
  close(): void;
}

/** A datastore backend. Implementations: etcd/backend.ts (EtcdBackend), k8s/ (Kubernetes). */
export interface DatastoreBackend {
  readonly type: 'etcdv3' | 'kubernetes';
  /** Short text for logs, e.g. the endpoints. */
  readonly description: string;
  /**
   * Lists everything in `scope`, consistent at one revision (paged internally). Rejects with a
   * DatastoreError.
   */
  list(scope: ResourceScope): Promise<ListResult>;
  /**
   * Optional streaming form of `list`: the same consistent snapshot, yielded page by page (every
   * page carries the snapshot's revision). The syncer prefers it when present, so a 100,000-item
   * list never has to be held in memory at once.
   */
  listPages?(scope: ResourceScope): AsyncIterable<ListResult>;
  /**
   * Watches `scope` for changes *after* `afterRevision` (etcd: start_revision = afterRevision+1;
   * Kubernetes: resourceVersion = afterRevision). Delivers events in order, then at most one error.
   */
  watch(scope: ResourceScope, afterRevision: string, sink: WatchSink): WatchHandle;
  /**
   * Optional: resolves when the history after `afterRevision` is still available, rejects with a
   * `compacted` DatastoreError when it is not. etcd confirms a watch's creation before it cancels
   * one that starts below the compaction point, so after an outage the syncer asks this before it
   * counts a re-established watch as caught up (else it would report InSync, then find the
   * compaction and start a second resync for the same outage).
   */
  verifyRevision?(scope: ResourceScope, afterRevision: string): Promise<void>;
  /** Releases connections. The backend is unusable afterwards. */
  close(): Promise<void>;
}
