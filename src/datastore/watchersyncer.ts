/**
 * WatcherSyncer: the Syncer implementation over any DatastoreBackend (the design of libcalico-go's
 * watchersyncer: one list-then-watch loop per resource scope, one merged update stream).
 *
 *   backend.list(scope) ──► ScopeState.applyList ──► updates ─┐
 *   backend.watch(scope, rev) ──► ScopeState.applyEvent ──────┼─► onUpdates callbacks
 *   all scopes listed ──► status InSync ──────────────────────┴─► onStatus callbacks
 *
 * Recovery: a `compacted`/`gone` error means the revision is no longer available, so the scope is
 * re-listed and reconciled against what consumers hold (ScopeState sends only differences); the
 * syncer goes back to ResyncInProgress until every scope is listed again. A `transient` error
 * (connection lost) is retried with exponential backoff and jitter, watching again from the last
 * revision seen, which loses nothing (etcd keeps history until compaction, and compaction is
 * detected). While a connection is down the status stays what it was — the model is stale but
 * consistent, and the dataplane keeps its last state — and `health().lostSince` tells the agent how
 * long, so readiness can go false after a configured time.
 */
import type { Logger } from '../util/log.js';
import { silentLogger } from '../util/log.js';
import { errorMessage } from '../util/errors.js';
import type { Registry } from 'prom-client';
import { Backoff, type BackoffOptions } from './backoff.js';
import { DatastoreMetrics } from './metrics.js';
import { describeResource } from './model/index.js';
import { ScopeState } from './reconcile.js';
import { maxRevision } from './revision.js';
import type { Syncer, SyncerHealth, SyncStatus, Update } from './syncer.js';
import { DatastoreError, scopeName, type DatastoreBackend, type ResourceScope, type WatchHandle } from './types.js';

/**
 * A watch the server has not confirmed within this time is treated as a lost connection. A dial to
 * a black-holed address otherwise waits for the OS TCP timeout (minutes).
 */
export const WATCH_CREATE_TIMEOUT_MS = 10_000;

export interface WatcherSyncerOptions {
  /** 'felix' drives the felix_* metrics; any other name (e.g. 'bgp') only the tortie_* counters. */
  name: string;
  backend: DatastoreBackend;
  scopes: readonly ResourceScope[];
  logger?: Logger;
  /** Metrics registry; the metric objects are shared per registry between syncers. */
  registry?: Registry;
  backoff?: BackoffOptions;
  watchCreateTimeoutMs?: number;
}

type Phase = 'listing' | 'watching' | 'backoff' | 'stopped';

/** One scope's list/watch loop. */
class ScopeWatcher {
  readonly state: ScopeState;
  /** Revision after which the watch continues (last list revision or last event). */
  private revision: string | undefined;
  private needList = true;
  phase: Phase = 'listing';
  lostSince: number | undefined;
  private handle: WatchHandle | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly backoff: Backoff;
  private generation = 0;

  constructor(
    private readonly syncer: WatcherSyncer,
    readonly scope: ResourceScope,
    private readonly backend: DatastoreBackend,
    private readonly log: Logger,
    backoffOpts: BackoffOptions | undefined,
    private readonly watchCreateTimeoutMs: number,
  ) {
    this.backoff = new Backoff(backoffOpts);
    this.state = new ScopeState((item, problems, wasValid) => {
      // An undecodable value has no metadata to name it by; its canonical key still does.
      const value = item.value;
      const what = value === undefined ? item.key : describeResource(item.kind, value);
      for (const p of problems) {
        this.log.warn(
          { resource: what, key: item.key, field: p.path, problem: p.message, revision: item.revision },
          `invalid ${what}: ${p.path}: ${p.message}${wasValid ? ' (treated as a deletion of the previous valid value)' : ' (ignored)'}`,
        );
      }
      this.syncer.metrics?.invalidResources.inc({ kind: item.kind });
    }, { keepValues: false });
  }

  start(): void {
    void this.step();
  }

  stop(): void {
    this.phase = 'stopped';
    this.generation++;
    if (this.timer) clearTimeout(this.timer);
    this.handle?.close();
    this.handle = undefined;
  }

  private async step(): Promise<void> {
    if (this.phase === 'stopped') return;
    const gen = ++this.generation;
    if (this.needList) {
      this.phase = 'listing';
      let revision: string | undefined;
      let items = 0;
      try {
        if (this.backend.listPages) {
          // Page by page: each page's updates go out at once and the page is dropped.
          const session = this.state.beginList();
          for await (const page of this.backend.listPages(this.scope)) {
            if (gen !== this.generation) return;
            revision = page.revision;
            items += page.items.length;
            this.syncer.deliver(session.page(page.items));
          }
          if (gen !== this.generation) return;
          revision ??= '0';
          this.syncer.deliver(session.end(revision));
        } else {
          const res = await this.backend.list(this.scope);
          if (gen !== this.generation) return;
          revision = res.revision;
          items = res.items.length;
          this.syncer.deliver(this.state.applyList(res.items, res.revision));
        }
      } catch (e) {
        if (gen !== this.generation) return;
        this.failed(e, 'list');
        return;
      }
      this.connected();
      this.revision = revision;
      this.needList = false;
      this.log.debug({ scope: scopeName(this.scope), revision, items }, 'listed');
      this.syncer.scopeReady();
    }
    this.watch(gen);
  }

  private watch(gen: number): void {
    this.phase = 'watching';
    const createTimer = setTimeout(() => {
      if (gen !== this.generation) return;
      this.handle?.close();
      this.failed(new DatastoreError('transient', `watch not established within ${this.watchCreateTimeoutMs} ms`), 'watch');
    }, this.watchCreateTimeoutMs);
    createTimer.unref();
    let established = false;
    const establish = () => {
      if (established) return;
      established = true;
      clearTimeout(createTimer);
      if (this.lostSince === undefined || !this.backend.verifyRevision) {
        this.connected();
        return;
      }
      // Back after an outage: the watch being created does not yet say our revision survived.
      // Bounded like the watch creation: a check that never answers is a lost connection.
      let timer: NodeJS.Timeout | undefined;
      const bounded = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new DatastoreError('transient', `revision check not answered within ${this.watchCreateTimeoutMs} ms`)), this.watchCreateTimeoutMs);
        timer.unref();
      });
      Promise.race([this.backend.verifyRevision(this.scope, this.revision!), bounded]).finally(() => clearTimeout(timer)).then(
        () => {
          if (gen === this.generation) this.connected();
        },
        (e: unknown) => {
          if (gen !== this.generation) return;
          // Compacted: the server cancels this watch itself and its error re-lists the scope.
          // Cancelling it from here as well would race that cancellation (etcd3 1.1.2 throws an
          // uncaught exception for a watch the server already dropped, see etcd/backend.ts).
          if (e instanceof DatastoreError && e.kind === 'compacted') return;
          this.handle?.close();
          this.handle = undefined;
          this.failed(e, 'watch');
        },
      );
    };
    this.handle = this.backend.watch(this.scope, this.revision!, {
      onConnected: () => {
        if (gen === this.generation) establish();
      },
      onEvents: (events) => {
        if (gen !== this.generation) return;
        establish();
        const updates: Update[] = [];
        for (const ev of events) {
          updates.push(...this.state.applyEvent(ev));
          const r = ev.type === 'put' ? ev.item.revision : ev.revision;
          this.revision = maxRevision(this.revision!, r);
        }
        this.syncer.deliver(updates);
      },
      onProgress: (rev) => {
        if (gen !== this.generation) return;
        establish();
        this.revision = maxRevision(this.revision!, rev);
      },
      onError: (err) => {
        if (gen !== this.generation) return;
        clearTimeout(createTimer);
        this.handle = undefined;
        this.failed(err, 'watch');
      },
    });
  }

  private connected(): void {
    this.backoff.reset();
    if (this.lostSince !== undefined) {
      this.log.info({ scope: scopeName(this.scope), lostForMs: Date.now() - this.lostSince }, 'datastore connection restored');
      this.lostSince = undefined;
      this.syncer.scopeReady();
    }
  }

  /** Another scope found the server up: retry now instead of waiting out the backoff. */
  retryNow(): void {
    if (this.phase !== 'backoff') return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    void this.step();
  }

  /** Listed and connected: nothing stands between this scope and InSync. */
  get ready(): boolean {
    return !this.needList && this.lostSince === undefined;
  }

  private failed(e: unknown, op: 'list' | 'watch'): void {
    if (this.phase === 'stopped') return;
    this.generation++;
    const err = e instanceof DatastoreError ? e : new DatastoreError('transient', errorMessage(e), { cause: e });
    const scope = scopeName(this.scope);
    if (err.kind === 'compacted' || err.kind === 'gone') {
      // History is gone: re-list and reconcile at once (no backoff: the server is up).
      this.log.info({ scope, op, reason: err.message, revision: this.revision }, 'revision no longer available; re-listing');
      this.needList = true;
      this.syncer.resyncStarted();
      void this.step();
      return;
    }
    this.lostSince ??= Date.now();
    this.syncer.metrics?.reconnects.inc();
    const delay = this.backoff.next();
    this.log.warn({ scope, op, error: err.message, retryInMs: delay, attempt: this.backoff.failures }, `datastore ${op} failed; retrying`);
    this.phase = 'backoff';
    this.timer = setTimeout(() => void this.step(), delay);
  }
}

export class WatcherSyncer implements Syncer {
  readonly name: string;
  readonly metrics: DatastoreMetrics | undefined;
  private _status: SyncStatus = 'WaitForDatastore';
  private readonly updateCbs = new Set<(b: readonly Update[]) => void>();
  private readonly statusCbs = new Set<(s: SyncStatus) => void>();
  private readonly watchers: ScopeWatcher[];
  private readonly log: Logger;
  private started = false;

  constructor(private readonly opts: WatcherSyncerOptions) {
    this.name = opts.name;
    this.log = (opts.logger ?? silentLogger).child({ component: 'syncer', syncer: opts.name, datastore: opts.backend.type });
    this.metrics = opts.registry ? DatastoreMetrics.forRegistry(opts.registry) : undefined;
    this.watchers = opts.scopes.map(
      (s) => new ScopeWatcher(this, s, opts.backend, this.log, opts.backoff, opts.watchCreateTimeoutMs ?? WATCH_CREATE_TIMEOUT_MS),
    );
  }

  get status(): SyncStatus {
    return this._status;
  }

  onUpdates(cb: (batch: readonly Update[]) => void): () => void {
    this.updateCbs.add(cb);
    return () => this.updateCbs.delete(cb);
  }

  onStatus(cb: (status: SyncStatus) => void): () => void {
    this.statusCbs.add(cb);
    return () => this.statusCbs.delete(cb);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.log.info({ backend: this.opts.backend.description, scopes: this.opts.scopes.map(scopeName) }, 'syncer starting');
    this.setStatus('WaitForDatastore');
    for (const w of this.watchers) w.start();
  }

  async stop(): Promise<void> {
    for (const w of this.watchers) w.stop();
  }

  health(): SyncerHealth {
    let lostSince: number | undefined;
    for (const w of this.watchers) if (w.lostSince !== undefined) lostSince = Math.min(lostSince ?? Infinity, w.lostSince);
    return { status: this._status, inSync: this._status === 'InSync', lostSince };
  }

  /** @internal Delivers one batch to every consumer; a throwing consumer is logged, never fatal. */
  deliver(updates: readonly Update[]): void {
    if (updates.length === 0) return;
    if (this.name === 'felix') this.metrics?.countUpdates(updates);
    for (const cb of this.updateCbs) {
      try {
        cb(updates);
      } catch (e) {
        this.log.error({ err: e }, 'update consumer threw; continuing');
      }
    }
  }

  /**
   * @internal A scope finished a (re-)list or got its connection back. The syncer as a whole is
   * InSync only when every scope is listed and connected: a scope still reconnecting after an
   * outage may yet find its revision compacted, and that belongs to the same resync (Felix counts
   * one `felix_resyncs_started` per ResyncInProgress of the syncer, not one per scope).
   */
  scopeReady(): void {
    if (this._status === 'WaitForDatastore') this.setStatus('ResyncInProgress');
    if (this._status === 'ResyncInProgress' && this.watchers.every((w) => w.ready)) this.setStatus('InSync');
  }

  /**
   * @internal A scope must re-list (compaction / gone). The server has just answered, so scopes
   * waiting out a backoff retry now and find their own compaction within this resync.
   */
  resyncStarted(): void {
    if (this._status === 'InSync') this.setStatus('ResyncInProgress');
    for (const w of this.watchers) w.retryNow();
  }

  private setStatus(s: SyncStatus): void {
    if (s === this._status && s !== 'WaitForDatastore') return;
    const prev = this._status;
    this._status = s;
    if (this.name === 'felix') {
      this.metrics?.setStatus(s);
      if (s === 'ResyncInProgress' && prev !== s) this.metrics?.resyncsStarted.inc();
    }
    if (prev !== s) this.log.info({ from: prev, to: s }, 'sync status');
    for (const cb of this.statusCbs) {
      try {
        cb(s);
      } catch (e) {
        this.log.error({ err: e }, 'status consumer threw; continuing');
      }
    }
  }
}
