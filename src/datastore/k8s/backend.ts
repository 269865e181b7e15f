/**
 * The Kubernetes datastore backend: lists and watches the API collections behind each model kind
 * (resources.ts) and hands the syncer BackendItems in the v3 / CRD shape.
 *
 * Division of labour with the syncer (watchersyncer.ts): the syncer owns re-list/reconcile, sync
 * status, backoff with jitter and de-duplication; this backend owns the Kubernetes protocol:
 *
 * - list: paged (`limit`/`continue`); a 410 on an expired continue token restarts the list from
 *   the first page (bounded), because a partial list must never be presented as complete. A
 *   scope with two collections (Profile = namespaces + serviceaccounts) lists the second at the
 *   first one's resourceVersion with `resourceVersionMatch=Exact`, so the pair is one snapshot.
 * - watch: from the revision the syncer gives, with `allowWatchBookmarks=true` and a jittered
 *   `timeoutSeconds`. A clean end of the stream (the server's timeout) is routine: the stream is
 *   reopened at once from the last resourceVersion seen, bookmarks included, without bothering
 *   the syncer. 410 (HTTP status or ERROR event) becomes DatastoreError `gone` (re-list); anything
 *   else — refused connection, reset, 5xx, a stream silent for longer than its bound — becomes
 *   `transient` (the syncer backs off and calls watch() again).
 * - bookmarks: each one is passed to the syncer as progress (`sink.onProgress`, for a scope with
 *   two streams the slower one's position), so a quiet scope resumes from a recent revision and
 *   does not fall behind the compaction window and re-list after every blip.
 * - resume records: when watch() is called again from exactly the revision this backend last
 *   reported for a scope, each stream resumes from its own newest resourceVersion; no event can
 *   lie between, because any would have been reported. This matters for the two-stream Profile
 *   scope, whose streams are rarely at the same point.
 */
import type { Logger } from '../../util/log.js';
import { silentLogger } from '../../util/log.js';
import { errorMessage } from '../../util/errors.js';
import { compareRevisions, maxRevision } from '../revision.js';
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
import { K8sApiError, KubeClient, watchErrorToApiError, type StreamHandle, type WatchEvent } from './client.js';
import type { K8sObject } from './conversion/k8stypes.js';
import type { KubeAuth } from './kubeconfig.js';
import { collectionName, collectionPath, SOURCES, type ConvertContext, type Converted, type Source } from './resources.js';

/** Items per list page; client-go's reflector uses the same (pager default 500). */
export const LIST_PAGE_SIZE = 500;
/** Restarts of a paged list whose continue token expired before giving up with `gone`. */
export const LIST_RESTARTS = 3;
/**
 * Watch length asked of the server. client-go's reflector picks 5-10 minutes at random so that
 * thousands of clients do not reconnect in step; same here.
 */
export const WATCH_TIMEOUT_MIN_S = 300;
export const WATCH_TIMEOUT_MAX_S = 600;
/** Extra silence allowed beyond timeoutSeconds before a stream counts as dead. */
export const WATCH_SILENCE_GRACE_MS = 30_000;
/**
 * Clean ends sooner than this after opening are suspicious (a proxy cutting streams); more than a
 * few in a row are reported as transient so the syncer's backoff applies instead of a hot loop.
 */
const QUICK_CLOSE_MS = 1_000;
const QUICK_CLOSES_ALLOWED = 3;

export interface K8sBackendOptions {
  /** Credentials (kubeconfig.ts loadKubeAuth), or a ready KubeClient. */
  auth?: KubeAuth;
  client?: KubeClient;
  /** This node: Pods are watched with spec.nodeName=<node>. Without it, every pod (tools, tests). */
  nodeName?: string;
  logger?: Logger;
  /** Called for every conversion warning (a metric counts them). */
  onWarning?: (kind: string, message: string) => void;
  /** FELIX_INTERFACEPREFIX's first entry (default `cali`). */
  interfacePrefix?: string;
  pageSize?: number;
  /** Watch timeoutSeconds range; tests shorten it. */
  watchTimeoutSeconds?: { min: number; max: number };
  /** Silence bound of a stream; default timeoutSeconds + WATCH_SILENCE_GRACE_MS. */
  watchSilenceMs?: number;
  random?: () => number;
}

/** How far one watch got: the newest event revision it reported, and each stream's position. */
type Progress = { reported: string; perSource: string[] };
/** Progress records kept per scope (two syncers share scopes; a few spare for overlaps). */
const PROGRESS_RECORDS_KEPT = 4;

export class K8sBackend implements DatastoreBackend {
  readonly type = 'kubernetes' as const;
  readonly description: string;
  readonly client: KubeClient;
  private readonly log: Logger;
  private readonly progress = new Map<string, Progress[]>();
  private readonly open = new Set<WatchHandle>();
  private closed = false;

  constructor(private readonly opts: K8sBackendOptions) {
    if (opts.client) this.client = opts.client;
    else if (opts.auth) this.client = new KubeClient(opts.auth);
    else throw new Error('K8sBackend needs auth or a client');
    this.description = `kubernetes ${this.client.server}${opts.nodeName ? ` (node ${opts.nodeName})` : ''}`;
    this.log = (opts.logger ?? silentLogger).child({ component: 'k8s-backend' });
  }

  /**
   * Where each stream of a scope restarts when the syncer asks for `afterRevision`. Every record
   * whose reported revision equals it proves the server had no event for that stream between
   * `afterRevision` and the record's position; the component-wise minimum over such records is
   * safe even when two syncers share this backend (a record of the other syncer can only move a
   * stream earlier than our own record would, which costs duplicates the syncer drops).
   */
  private resumePoints(name: string, afterRevision: string, n: number): string[] {
    const matching = (this.progress.get(name) ?? []).filter((p) => p.reported === afterRevision && p.perSource.length === n);
    const out = new Array<string>(n).fill(afterRevision);
    if (!matching.length) return out;
    for (let i = 0; i < n; i++) {
      out[i] = matching.map((p) => p.perSource[i]).reduce((a, b) => (compareRevisions(a, b) <= 0 ? a : b));
    }
    if (out.some((r) => r !== afterRevision)) this.log.debug({ scope: name, afterRevision, resumeFrom: out }, 'resuming from bookmark revisions');
    return out;
  }

  private ctx(scope: ResourceScope): ConvertContext {
    return {
      nodeName: this.opts.nodeName,
      scope,
      interfacePrefix: this.opts.interfacePrefix,
      warn: (message) => {
        this.log.warn({ scope: scopeName(scope) }, message);
        this.opts.onWarning?.(scope.kind, message);
      },
    };
  }

  private sourcesOf(scope: ResourceScope): readonly Source[] {
    const s = SOURCES[scope.kind];
    if (!s) throw new DatastoreError('transient', `the Kubernetes datastore has no source for ${scope.kind}`);
    return s;
  }

  private query(source: Source, ctx: ConvertContext): Record<string, string | undefined> {
    return { fieldSelector: source.fieldSelector?.(ctx) };
  }

  async list(scope: ResourceScope): Promise<ListResult> {
    for (let attempt = 0; ; attempt++) {
      try {
        const items: BackendItem[] = [];
        let revision = '0';
        for await (const page of this.pages(scope)) {
          revision = page.revision;
          for (const it of page.items) items.push(it);
        }
        return { items, revision };
      } catch (e) {
        const err = toDatastoreError(e, `list ${scopeName(scope)}`);
        // An expired continue token (or a compacted snapshot for the second collection): the
        // server is fine, our snapshot is not; start again from a fresh one.
        if (err.kind === 'gone' && attempt < LIST_RESTARTS) {
          this.log.info({ scope: scopeName(scope), attempt, reason: err.message }, 'list snapshot expired; restarting the list');
          continue;
        }
        throw err;
      }
    }
  }

  /**
   * The same snapshot as list(), one API page at a time, so a large collection (5,000 Nodes at
   * ~10 KB each) is never held whole. An expired continue token is not retried here: pages
   * already went to consumers, so the syncer must start a fresh list session (it re-lists on
   * `gone`) rather than have two snapshots mixed in one.
   */
  async *listPages(scope: ResourceScope): AsyncIterable<ListResult> {
    try {
      for await (const page of this.pages(scope)) yield page;
    } catch (e) {
      throw toDatastoreError(e, `list ${scopeName(scope)}`);
    }
  }

  /**
   * Every page of every collection of a scope, converted. The second collection of a two-source
   * scope is read at the first one's resourceVersion (Exact), so all pages are one snapshot and
   * all carry its revision.
   */
  private async *pages(scope: ResourceScope): AsyncGenerator<ListResult> {
    if (this.closed) throw new DatastoreError('transient', 'backend closed');
    const sources = this.sourcesOf(scope);
    const ctx = this.ctx(scope);
    this.progress.delete(scopeName(scope));
    let revision: string | undefined;
    for (const source of sources) {
      const path = collectionPath(source.api);
      const base = this.query(source, ctx);
      let token: string | undefined;
      let first = true;
      do {
        const q: Record<string, string | undefined> = { ...base, limit: String(this.opts.pageSize ?? LIST_PAGE_SIZE) };
        if (token) q.continue = token;
        else if (revision !== undefined) {
          q.resourceVersion = revision;
          q.resourceVersionMatch = 'Exact';
        }
        const page = await this.client.listPage(path, q);
        if (first && revision === undefined) revision = page.resourceVersion || '0';
        first = false;
        const items: BackendItem[] = [];
        for (const o of page.items) {
          const c = this.convert(source, o as K8sObject, ctx);
          if (c.type === 'item') items.push(c.item);
        }
        yield { items, revision: revision! };
        token = page.continueToken;
      } while (token);
    }
  }

  private convert(source: Source, obj: K8sObject, ctx: ConvertContext): Converted {
    if (!obj || typeof obj !== 'object' || !obj.metadata || typeof obj.metadata.name !== 'string') {
      ctx.warn(`${collectionName(source.api)}: object without metadata.name ignored`);
      return { type: 'skip' };
    }
    return source.convert(obj, ctx);
  }

  watch(scope: ResourceScope, afterRevision: string, sink: WatchSink): WatchHandle {
    const name = scopeName(scope);
    const sources = this.sourcesOf(scope);
    const ctx = this.ctx(scope);
    const progress: Progress = { reported: afterRevision, perSource: this.resumePoints(name, afterRevision, sources.length) };
    const records = this.progress.get(name) ?? [];
    records.push(progress);
    if (records.length > PROGRESS_RECORDS_KEPT) records.shift();
    this.progress.set(name, records);

    const streams: Array<StreamHandle | undefined> = [];
    const connected = new Set<number>();
    let dead = false;
    const handle: WatchHandle = {
      close: () => {
        if (dead) return;
        dead = true;
        this.open.delete(handle);
        for (const s of streams) s?.abort();
      },
    };
    this.open.add(handle);
    const fail = (err: DatastoreError) => {
      if (dead) return;
      handle.close();
      sink.onError(err);
    };

    const openStream = (i: number, quickCloses: number) => {
      if (dead) return;
      const source = sources[i];
      const random = this.opts.random ?? Math.random;
      const range = this.opts.watchTimeoutSeconds ?? { min: WATCH_TIMEOUT_MIN_S, max: WATCH_TIMEOUT_MAX_S };
      const timeoutSeconds = Math.round(range.min + random() * (range.max - range.min));
      const silenceMs = this.opts.watchSilenceMs ?? timeoutSeconds * 1000 + WATCH_SILENCE_GRACE_MS;
      const what = `watch ${collectionName(source.api)} (${name})`;
      const openedAt = Date.now();
      streams[i] = this.client.watch(
        collectionPath(source.api),
        {
          ...this.query(source, ctx),
          resourceVersion: progress.perSource[i],
          allowWatchBookmarks: 'true',
          timeoutSeconds: String(timeoutSeconds),
        },
        {
          onOpen: () => {
            connected.add(i);
            if (connected.size === sources.length) sink.onConnected?.();
          },
          onEvent: (ev) => {
            if (dead) return;
            const out = this.handleEvent(ev, i, source, ctx, progress, what);
            if (out instanceof DatastoreError) return fail(out);
            if (ev.type === 'BOOKMARK') {
              // Every event up to the slowest stream's position has been delivered.
              const upTo = progress.perSource.reduce((a, b) => (compareRevisions(a, b) <= 0 ? a : b));
              progress.reported = maxRevision(progress.reported, upTo);
              sink.onProgress?.(upTo);
              return;
            }
            if (out.length) {
              for (const e of out) progress.reported = maxRevision(progress.reported, e.type === 'put' ? e.item.revision : e.revision);
              sink.onEvents(out);
            }
          },
          onEnd: (end) => {
            if (dead) return;
            if (end.type === 'error') return fail(toDatastoreError(end.error, what));
            const quick = Date.now() - openedAt < QUICK_CLOSE_MS ? quickCloses + 1 : 0;
            if (quick > QUICK_CLOSES_ALLOWED) {
              return fail(new DatastoreError('transient', `${what}: the server keeps ending the watch at once`));
            }
            this.log.debug({ scope: name, collection: collectionName(source.api), from: progress.perSource[i] }, 'watch ended normally; resuming');
            openStream(i, quick);
          },
        },
        silenceMs,
      );
    };
    for (let i = 0; i < sources.length; i++) openStream(i, 0);
    return handle;
  }

  /** One wire event → backend events, or the error that ends the watch. */
  private handleEvent(
    ev: WatchEvent,
    i: number,
    source: Source,
    ctx: ConvertContext,
    progress: Progress,
    what: string,
  ): BackendEvent[] | DatastoreError {
    if (ev.type === 'ERROR') return toDatastoreError(watchErrorToApiError(ev.object, what), what);
    const obj = ev.object as unknown as K8sObject;
    const rv = obj?.metadata?.resourceVersion;
    if (typeof rv !== 'string' || rv === '') {
      return new DatastoreError('transient', `${what}: ${ev.type} event without metadata.resourceVersion`);
    }
    progress.perSource[i] = rv;
    if (ev.type === 'BOOKMARK') return [];
    if (ev.type !== 'ADDED' && ev.type !== 'MODIFIED' && ev.type !== 'DELETED') {
      ctx.warn(`${what}: unknown event type ${JSON.stringify(ev.type)} ignored`);
      return [];
    }
    return wireEventToBackendEvents(ev.type, obj, source, ctx);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const h of [...this.open]) h.close();
    this.client.close();
  }
}

/**
 * One ADDED/MODIFIED/DELETED object → what the syncer must hear. Pure, so replay tests can drive
 * it directly. A DELETED object, or one that no longer converts to a visible value (a finished
 * pod, a pod that became host-networked, an affinity of another node), is a delete of its key;
 * the syncer ignores deletes of keys it never emitted.
 */
export function wireEventToBackendEvents(type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: K8sObject, source: Source, ctx: ConvertContext): BackendEvent[] {
  if (!obj || typeof obj !== 'object' || !obj.metadata || typeof obj.metadata.name !== 'string') {
    ctx.warn(`${collectionName(source.api)}: ${type} object without metadata.name ignored`);
    return [];
  }
  const rv = obj.metadata.resourceVersion ?? '0';
  const c = source.convert(obj, ctx);
  if (c.type === 'skip') return [];
  const kind = ctx.scope.kind;
  if (type === 'DELETED') return [{ type: 'delete', key: c.type === 'item' ? c.item.key : c.key, kind, revision: rv }];
  if (c.type === 'absent') return [{ type: 'delete', key: c.key, kind, revision: rv }];
  return [{ type: 'put', item: c.item }];
}

/** Maps any failure to the syncer's three cases. */
export function toDatastoreError(e: unknown, what: string): DatastoreError {
  if (e instanceof DatastoreError) return e;
  if (e instanceof K8sApiError) {
    if (e.isGone) return new DatastoreError('gone', e.message, { cause: e });
    return new DatastoreError('transient', e.message, { cause: e });
  }
  const msg = errorMessage(e);
  if (/too old resource version/i.test(msg)) return new DatastoreError('gone', `${what}: ${msg}`, { cause: e });
  return new DatastoreError('transient', msg.startsWith(what) ? msg : `${what}: ${msg}`, { cause: e });
}
