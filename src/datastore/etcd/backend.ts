/**
 * The etcd v3 datastore backend (package `etcd3`): paged, consistent lists and watches over
 * Calico's key layout.
 *
 * Lists: pages of LIST_PAGE_SIZE keys; the first page fixes the revision R and every later page
 * reads at R, so the whole list is one consistent snapshot even while writers keep going. A page
 * failing with ErrCompacted (R compacted mid-list) surfaces as `compacted` and the syncer lists
 * again.
 *
 * Watches: one etcd watcher per scope, starting at afterRevision+1. We deliberately do NOT use the
 * etcd3 library's own watcher reconnection: on reconnect it resumes from `header.revision + 1` of
 * the last response or of the *creation* response, and etcd's creation header carries the current
 * store revision, not the last event delivered. A stream that breaks after creation but before the
 * catch-up events arrive (or between two batches of a large catch-up, which etcd sends with the
 * current revision in the header) would silently skip events. So on the first `disconnected` we
 * detach the watcher and report `transient`; the syncer re-watches from the last event it
 * processed itself. See docs/datastore.md.
 */
import { Etcd3, type IOptions, type IWatchResponse, type Watcher } from 'etcd3';
import type { Logger } from '../../util/log.js';
import { silentLogger } from '../../util/log.js';
import { errorMessage } from '../../util/errors.js';
import type { ResourceKind } from '../model/index.js';
import {
  DatastoreError,
  scopeName,
  type BackendEvent,
  type BackendItem,
  type DatastoreBackend,
  type ListResult,
  type ResourceScope,
  type WatchHandle,
  type WatchSink,
} from '../types.js';
import { canonicalKeyOfBytes, decodeEtcdKv, scopePrefix } from './layout.js';
import { etcdClientOptions, type EtcdConfig } from './options.js';

/** Keys per list page. 500 is what libcalico-go's etcdv3 backend and kubectl use by default. */
export const LIST_PAGE_SIZE = 500;

/** Exclusive end of a prefix range: the prefix with its last byte incremented. */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/** Classifies an etcd/gRPC failure for the syncer. */
export function classifyEtcdError(e: unknown, what: string): DatastoreError {
  if (e instanceof DatastoreError) return e;
  const msg = errorMessage(e);
  if (/compacted/i.test(msg)) return new DatastoreError('compacted', `${what}: ${msg}`, { cause: e });
  return new DatastoreError('transient', `${what}: ${msg}`, { cause: e });
}

export interface EtcdBackendOptions {
  config: EtcdConfig;
  logger?: Logger;
  pageSize?: number;
  /** Extra etcd3 options (tests). */
  clientOptions?: Partial<IOptions>;
}

export class EtcdBackend implements DatastoreBackend {
  readonly type = 'etcdv3' as const;
  readonly description: string;
  readonly client: Etcd3;
  private readonly log: Logger;
  private readonly pageSize: number;
  private closed = false;

  constructor(opts: EtcdBackendOptions) {
    this.client = new Etcd3({ ...etcdClientOptions(opts.config), ...opts.clientOptions });
    this.description = `etcdv3 ${opts.config.endpoints.join(',')}`;
    this.log = (opts.logger ?? silentLogger).child({ component: 'etcd' });
    this.pageSize = opts.pageSize ?? LIST_PAGE_SIZE;
  }

  async list(scope: ResourceScope): Promise<ListResult> {
    const items: BackendItem[] = [];
    let revision = '0';
    for await (const page of this.listPages(scope)) {
      items.push(...page.items);
      revision = page.revision;
    }
    return { items, revision };
  }

  async *listPages(scope: ResourceScope): AsyncGenerator<ListResult> {
    const prefix = scopePrefix(scope);
    const end = prefixEnd(Buffer.from(prefix));
    let revision: string | undefined;
    let pages = 0;
    let count = 0;
    /**
     * One page, decoded the moment it arrives. The response's key/value Buffers are views into
     * gRPC's message buffer (~0.4 MB per 500 keys); copying out what we need at once lets that
     * buffer die young. Held until the syncer reached the page (the prefetch below), it would
     * survive scavenges, be promoted, and wait for a full GC: ~25-50 MB of dead buffers at InSync
     * in bench/datastore-sync.ts before this change.
     */
    const fetch = (start: Buffer) => {
      const page = pages + 1;
      const p = this.client.kv
        .range({
          key: start,
          range_end: end,
          limit: this.pageSize,
          // After the first page, read at the first page's revision: one consistent snapshot.
          ...(revision ? { revision } : {}),
        })
        .then(
          (res) => {
            const more = res.more && res.kvs.length > 0;
            return {
              revision: res.header.revision,
              items: res.kvs.map((kv) => decodeEtcdKv(scope.kind, prefix, kv.key, kv.value, kv.mod_revision)),
              // Buffer.concat copies: the next start key does not pin the message either.
              next: more ? Buffer.concat([res.kvs[res.kvs.length - 1]!.key, Buffer.from([0])]) : undefined,
            };
          },
          (e: unknown) => {
            throw classifyEtcdError(e, `list ${scopeName(scope)} page ${page}`);
          },
        );
      // Observed below; this only keeps an abandoned prefetch from being an unhandled rejection.
      p.catch(() => {});
      return p;
    };
    let pending = fetch(Buffer.from(prefix));
    for (;;) {
      const res = await pending;
      pages++;
      revision ??= res.revision;
      // Ask for the next page before the syncer validates this one, so etcd and the syncer work in parallel.
      if (res.next) pending = fetch(res.next);
      count += res.items.length;
      yield { items: res.items, revision };
      if (!res.next) break;
    }
    this.log.debug({ scope: scopeName(scope), revision, pages, items: count }, 'listed');
  }

  watch(scope: ResourceScope, afterRevision: string, sink: WatchSink): WatchHandle {
    const prefix = scopePrefix(scope);
    const kind: ResourceKind = scope.kind;
    const startRevision = (BigInt(afterRevision) + 1n).toString();
    let done = false;
    let watcher: Watcher | undefined;
    /**
     * `serverCancelled`: etcd already cancelled this watch and the library has dropped it. Sending
     * our own cancel for it then makes etcd answer for a watch id the library no longer knows, and
     * etcd3 1.1.2 throws "Failed to find watcher for IWatchResponse" from inside the gRPC stream
     * handler — an uncaught exception that kills the process (found by the compaction test).
     */
    const finish = (err?: DatastoreError, serverCancelled = false) => {
      if (done) return;
      done = true;
      if (watcher) {
        watcher.removeAllListeners();
        watcher.on('error', () => {});
        // Detach from the shared watch stream so the library never resumes it on its own.
        if (!serverCancelled) void watcher.cancel().catch(() => {});
      }
      if (err) sink.onError(err);
    };
    try {
      watcher = this.client.watch().prefix(prefix).startRevision(startRevision).watcher();
    } catch (e) {
      queueMicrotask(() => finish(classifyEtcdError(e, `watch ${scopeName(scope)}`)));
      return { close: () => finish() };
    }
    watcher.on('connected', () => {
      if (!done) sink.onConnected?.();
    });
    watcher.on('data', (res: IWatchResponse) => {
      if (done) return;
      if (res.events.length === 0) {
        // Progress notification (we asked for progress_notify): everything up to here was sent.
        if (!res.created && !res.canceled) sink.onProgress?.(res.header.revision);
        return;
      }
      const events: BackendEvent[] = res.events.map((ev) => {
        if (ev.type === 'Delete') {
          return { type: 'delete', kind, key: canonicalKeyOfBytes(kind, ev.kv.key, prefix), revision: ev.kv.mod_revision };
        }
        return { type: 'put', item: decodeEtcdKv(kind, prefix, ev.kv.key, ev.kv.value, ev.kv.mod_revision) };
      });
      sink.onEvents(events);
    });
    watcher.on('disconnected', (err: unknown) => finish(classifyEtcdError(err, `watch ${scopeName(scope)} disconnected`)));
    // A cancelled watch: compaction ("required revision has been compacted") or another reason;
    // either way history from our revision is not coming, so anything but compaction is `gone`.
    watcher.on('error', (err: unknown) => {
      const e = classifyEtcdError(err, `watch ${scopeName(scope)} cancelled`);
      finish(e.kind === 'compacted' ? e : new DatastoreError('gone', e.message, { cause: err }), true);
    });
    return { close: () => finish() };
  }

  async verifyRevision(scope: ResourceScope, afterRevision: string): Promise<void> {
    // A count-only range read at the watch's start revision fails exactly when that watch would
    // be compacted. A start revision beyond the store's newest is "future": nothing was missed.
    const startRevision = (BigInt(afterRevision) + 1n).toString();
    try {
      await this.client.getAll().prefix(scopePrefix(scope)).revision(startRevision).count();
    } catch (e) {
      if (/future revision/i.test(errorMessage(e))) return;
      throw classifyEtcdError(e, `verify revision ${startRevision} of ${scopeName(scope)}`);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.client.close();
  }
}
