/**
 * The dataplane driver: one loop that owns every reconciler and applies them in dependency order,
 * after Felix's `int_dataplane.go` and `event_sequencer.go`.
 *
 *   calc layer ── setRoute / setVtep / setVxlanDevice / ... ──▶ reconcilers (queue only)
 *   datastore  ── setDatastoreInSync(true) ─────────────────▶ apply loop may start
 *   timers, ip monitor ── resync flags + kick ──────────────▶ apply loop
 *
 *   one apply pass:
 *     list links ─▶ [resync: read routes / neigh+FDB / sysctls back]
 *     ─▶ the reconciler table (reconciler-table.ts), beside the interface sysctls:
 *        links create/update ─▶ VTEP neigh+FDB add ─▶ routes (del, then add)
 *        ─▶ VTEP neigh+FDB delete ─▶ links delete          (removals in reverse order)
 *
 * Passes are serialised, throttled (MIN_APPLY_INTERVAL_MS) and, on failure, retried with
 * exponential backoff after a full read-back of the kernel. Nothing is written before the
 * datastore is in sync, and the first pass reads the kernel before writing, so a restart changes
 * only what differs.
 */
import type { Registry } from 'prom-client';
import { systemClock, type Clock, type TimerHandle } from '../util/clock.js';
import { createDataplaneMetrics, type DataplaneMetrics } from './metrics.js';
import type { KernelLink, LinkNetlink, NeighNetlink, RouteNetlink, SysctlIO } from './netlink.js';
import { RouteReconciler } from './route-reconciler.js';
import { LinkReconciler } from './link-reconciler.js';
import { NeighReconciler } from './neigh-reconciler.js';
import { SysctlReconciler } from './sysctl-reconciler.js';
import type { KernelEvent } from './monitor.js';
import { runTable, type ReconcilerStep } from './reconciler-table.js';
import type { PolicyMessage } from '../proto/policy.js';
import type { PolicyDataplane } from './policy/policy-dataplane.js';
import { DEFAULT_ROUTE_PROTOCOLS, type DesiredRoute, type IpipDeviceSpec, type RemoteVtep, type RouteProtocols, type VxlanDeviceSpec } from './types.js';
import { errorMessage } from '../util/errors.js';
import { silentLogger, type Logger } from '../util/log.js';

/** Felix `RouteRefreshInterval` default (calico-reference.md): read the kernel back every 90 s. */
export const DEFAULT_ROUTE_REFRESH_INTERVAL_MS = 90_000;
/**
 * Smallest gap between the starts of two passes: batches a burst of calc updates (a pod churn,
 * a BGP table dump) into one write instead of one `ip` per update. Felix throttles its apply loop
 * the same way; 100 ms is invisible next to pod start latency.
 */
export const MIN_APPLY_INTERVAL_MS = 100;
/** Retry after a failed pass: starts small (a transient EBUSY), doubles, capped like Felix's 30 s. */
export const RETRY_BACKOFF_INITIAL_MS = 200;
export const RETRY_BACKOFF_MAX_MS = 30_000;
/** Invalid updates logged in full before switching to one log line per REJECT_LOG_EVERY. */
const REJECT_LOG_FIRST = 10;
const REJECT_LOG_EVERY = 1000;
/**
 * Consecutive failed passes after which the node reports not ready. One failure is usually a
 * transient (an EBUSY, the xtables lock) that the retry fixes; three in a row (about 1.4 s of
 * backoff) mean the dataplane, policy included, is not what the datastore says.
 */
export const NOT_READY_AFTER_FAILURES = 3;

export interface DataplaneKernel {
  routes: RouteNetlink;
  links: LinkNetlink;
  neigh: NeighNetlink;
  sysctl: SysctlIO;
}

export interface DataplaneOptions {
  kernel: DataplaneKernel;
  registry?: Registry;
  log?: Logger;
  clock?: Clock;
  routeRefreshIntervalMs?: number;
  protocols?: RouteProtocols;
  workloadPrefixes?: readonly string[];
  tables?: readonly number[];
  /** Families whose routes we read back; default [4]. IPv6 also adds the v6 sysctls. */
  families?: readonly (4 | 6)[];
  /**
   * IP sets and iptables (policy/policy-dataplane.ts), built by the caller with a `kick` that
   * calls this driver's `kick()` and an `onRepair` that counts drift; absent: routing only.
   */
  policy?: (hooks: { kick: () => void; onRepair: (kind: 'iptables' | 'ipset', n: number) => void }) => PolicyDataplane;
}

export interface ApplyReport {
  ok: boolean;
  writes: number;
  failures: number;
  /** Desired entries waiting for an interface to appear or come up. */
  waiting: number;
  errors: string[];
  durationMs: number;
}

export interface DataplaneStatus {
  datastoreInSync: boolean;
  firstApplyDone: boolean;
  /** Ready for `/readiness`: datastore in sync and one pass completed (Felix semantics). */
  ready: boolean;
  /** ms since epoch of the last pass that completed without failure. */
  lastSuccessAt?: number;
  /** ms since epoch of the start of a pass still running, if any (for liveness). */
  passStartedAt?: number;
  consecutiveFailures: number;
  lastError?: string;
  ipipAvailable?: boolean;
  ipipUnavailableReason?: string;
  inSync: boolean;
}

type ResyncKind = 'routes' | 'neigh' | 'sysctl';

export class Dataplane {
  readonly routes: RouteReconciler;
  readonly links: LinkReconciler;
  readonly neigh: NeighReconciler;
  readonly sysctls: SysctlReconciler;
  readonly policy: PolicyDataplane | undefined;
  private readonly kernel: DataplaneKernel;
  private readonly metrics: DataplaneMetrics | undefined;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly refreshMs: number;
  private datastoreInSync = false;
  private started = false;
  private firstApplyDone = false;
  private readonly resyncDue = new Set<ResyncKind>(['routes', 'neigh', 'sysctl']);
  private dirty = true;
  private running: Promise<ApplyReport> | undefined;
  private timer: TimerHandle | undefined;
  private timerAt = Infinity;
  private refreshTimer: TimerHandle | undefined;
  private lastPassStart = -Infinity;
  private backoffMs = 0;
  private consecutiveFailures = 0;
  private lastError: string | undefined;
  private lastSuccessAt: number | undefined;
  private passStartedAt: number | undefined;
  private readonly idleWaiters: (() => void)[] = [];
  private rejected = 0;
  private readonly encap: { ipip: boolean; vxlan: boolean; vxlanV6: boolean; ipipAddress?: string | undefined; vxlanAddress?: string | undefined } = { ipip: false, vxlan: false, vxlanV6: false };

  /** The apply order (reconciler-table.ts): updates top to bottom, deletions bottom to top. */
  private readonly table: ReconcilerStep[] = [
    {
      name: 'links',
      updates: async () => {
        const r = await this.links.applyUpdates();
        if (r.changed) {
          // A created or re-created device starts empty: re-read what lives on it.
          this.feedLinks(await this.kernel.links.list());
          this.resyncDue.add('routes').add('neigh');
          await this.resyncDueParts();
        }
        return r;
      },
      deletions: async () => {
        const r = await this.links.applyDeletions();
        if (r.changed) this.feedLinks(await this.kernel.links.list());
        return r;
      },
    },
    { name: 'vteps', updates: () => this.neigh.applyUpdates(), deletions: () => this.neigh.applyDeletions() },
    // Routes delete and add in one step: a replaced route must never leave a gap.
    { name: 'routes', updates: () => this.routes.apply() },
  ];

  constructor(opts: DataplaneOptions) {
    this.kernel = opts.kernel;
    this.log = (opts.log ?? silentLogger).child({ component: 'dataplane' });
    this.clock = opts.clock ?? systemClock;
    this.refreshMs = opts.routeRefreshIntervalMs ?? DEFAULT_ROUTE_REFRESH_INTERVAL_MS;
    this.metrics = opts.registry ? createDataplaneMetrics(opts.registry) : undefined;
    this.metrics?.ipipAvailable.set(-1);
    const families = opts.families ?? [4];
    this.routes = new RouteReconciler({
      netlink: opts.kernel.routes,
      protocols: opts.protocols ?? DEFAULT_ROUTE_PROTOCOLS,
      workloadPrefixes: opts.workloadPrefixes ?? ['cali'],
      tables: opts.tables,
      families,
      log: this.log,
    });
    this.links = new LinkReconciler({ netlink: opts.kernel.links, log: this.log, onIpipAvailability: (a) => this.metrics?.ipipAvailable.set(a ? 1 : 0) });
    this.neigh = new NeighReconciler({ netlink: opts.kernel.neigh, log: this.log });
    this.sysctls = new SysctlReconciler({ io: opts.kernel.sysctl, ipv6: families.includes(6), log: this.log });
    this.policy = opts.policy?.({ kick: () => this.kick(), onRepair: (kind, n) => this.countDrift(kind, n) });
    // IP sets before the rules matching on them, rules before the routes that let traffic in.
    if (this.policy) this.table.splice(this.table.length - 1, 0, this.policy.ipsetsStep, this.policy.iptablesStep);
  }

  // ---- desired state: these only queue work and wake the loop ----
  // Each returns false (and logs and counts) instead of throwing when the input is invalid: a
  // bad resource must not stop the rest of the dataplane.

  setRoute(r: DesiredRoute): boolean {
    // Inlined rather than through queue(): this is called 100,000 times in a row at startup.
    try {
      this.routes.setRoute(r);
    } catch (e) {
      this.reject('route', r, e);
      return false;
    }
    this.kick();
    return true;
  }
  deleteRoute(dst: string, table?: number): boolean {
    return this.queue('route', { dst, table }, () => this.routes.deleteRoute(dst, table));
  }
  replaceAllRoutes(routes: Iterable<DesiredRoute>): boolean {
    // One bad route is refused on its own; the others still replace the desired set.
    this.routes.replaceAllRoutes(routes, (r, e) => this.reject('route', r, e));
    this.kick();
    return true;
  }
  setVxlanDevice(spec: VxlanDeviceSpec | undefined, name?: string): boolean {
    return this.queue('vxlan-device', spec, () => {
      this.links.setVxlanDevice(spec, name);
      this.encap.vxlan = spec !== undefined;
      this.encap.vxlanAddress = spec?.address?.split('/')[0];
      this.policy?.setEncap({ ...this.encap });
    });
  }
  setIpipDevice(spec: IpipDeviceSpec | undefined): boolean {
    return this.queue('ipip-device', spec, () => {
      this.links.setIpipDevice(spec);
      this.encap.ipip = spec !== undefined;
      this.encap.ipipAddress = spec?.address?.split('/')[0];
      this.policy?.setEncap({ ...this.encap });
    });
  }
  /** One round of the calc layer's policy messages (calc's PolicySink). */
  onPolicyMessages(msgs: readonly PolicyMessage[]): void {
    if (!this.policy) return;
    this.policy.onMessages(msgs, (kind, input, e) => this.reject(kind, input, e));
    this.kick();
  }
  setVtep(v: RemoteVtep): boolean {
    return this.queue('vtep', v, () => this.neigh.setVtep(v));
  }
  deleteVtep(node: string): boolean {
    return this.queue('vtep', { node }, () => this.neigh.deleteVtep(node));
  }
  replaceAllVteps(vteps: Iterable<RemoteVtep>): boolean {
    return this.queue('vtep', { replaceAll: true }, () => this.neigh.replaceAllVteps(vteps));
  }

  private queue(kind: string, input: unknown, fn: () => void): boolean {
    try {
      fn();
    } catch (e) {
      this.reject(kind, input, e);
      return false;
    }
    this.kick();
    return true;
  }

  private reject(kind: string, input: unknown, e: unknown): void {
    this.metrics?.invalidUpdates.inc({ kind });
    this.rejected++;
    // A calc bug could send thousands: log the first few, then one in REJECT_LOG_EVERY.
    if (this.rejected <= REJECT_LOG_FIRST || this.rejected % REJECT_LOG_EVERY === 0) {
      this.log.error({ kind, input, err: errorMessage(e), rejectedSoFar: this.rejected }, 'invalid desired state ignored (a calc-layer bug or bad resource); the rest of the dataplane is unaffected');
    }
  }

  /** The agent sets this when the syncer reports InSync; nothing is written before. */
  setDatastoreInSync(inSync: boolean): void {
    this.datastoreInSync = inSync;
    if (inSync) this.kick();
  }

  /** A kernel event from the monitor: cheap flag + wake-up. */
  onKernelEvent(e: KernelEvent): void {
    if (e.kind === 'route-deleted') this.resyncDue.add('routes');
    else if (e.kind === 'neigh-deleted') this.resyncDue.add('neigh');
    // Link events need nothing extra: every pass lists links first.
    this.kick();
  }

  /** Reads everything back on the next pass (what the refresh timer does). */
  requestResync(): void {
    this.resyncDue.add('routes').add('neigh').add('sysctl');
    this.policy?.requestResync();
    this.links.scheduleIpipProbe();
    this.kick();
  }

  /** Starts the loop and the refresh timer. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.scheduleRefresh();
    this.policy?.start();
    this.kick();
  }

  /** Stops timers and waits for a pass in progress. The kernel state is left as it is. */
  async stop(): Promise<void> {
    this.started = false;
    this.timer?.cancel();
    this.timer = undefined;
    this.timerAt = Infinity;
    this.refreshTimer?.cancel();
    this.policy?.stop();
    if (this.running) await this.running.catch(() => undefined);
  }

  status(): DataplaneStatus {
    const s: DataplaneStatus = {
      datastoreInSync: this.datastoreInSync,
      firstApplyDone: this.firstApplyDone,
      ready: this.datastoreInSync && this.firstApplyDone && this.consecutiveFailures < NOT_READY_AFTER_FAILURES,
      consecutiveFailures: this.consecutiveFailures,
      inSync: this.routes.inSync && this.links.inSync && this.neigh.inSync && this.sysctls.inSync && (this.policy?.inSync ?? true),
    };
    if (this.lastSuccessAt !== undefined) s.lastSuccessAt = this.lastSuccessAt;
    if (this.passStartedAt !== undefined) s.passStartedAt = this.passStartedAt;
    if (this.lastError !== undefined) s.lastError = this.lastError;
    const ipip = this.links.ipipAvailable;
    if (ipip !== undefined) s.ipipAvailable = ipip;
    const reason = this.links.ipipUnavailableReason;
    if (reason !== undefined) s.ipipUnavailableReason = reason;
    return s;
  }

  /** Resolves when no pass is running or scheduled soon and nothing is dirty (tests, CLI). */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Runs one pass now, bypassing the throttle (tests, benchmark, first apply at startup). Still
   * serialised with the loop and still refused before the datastore is in sync.
   */
  async applyNow(): Promise<ApplyReport> {
    while (this.running) await this.running.catch(() => undefined);
    this.dirty = true;
    return this.runPass();
  }

  // ---- the loop ----

  private isIdle(): boolean {
    return !this.running && (!this.dirty || !this.datastoreInSync || !this.started) && this.timer === undefined;
  }

  private notifyIdle(): void {
    if (!this.isIdle()) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  private kick(): void {
    this.dirty = true;
    if (!this.started || !this.datastoreInSync) return;
    if (this.running) return; // the pass re-checks `dirty` when it ends
    const earliest = Math.max(this.lastPassStart + MIN_APPLY_INTERVAL_MS, this.clock.now() + this.backoffMs);
    this.schedule(earliest);
  }

  private schedule(at: number): void {
    if (this.timer && this.timerAt <= at) return;
    this.timer?.cancel();
    this.timerAt = at;
    this.timer = this.clock.after(Math.max(0, at - this.clock.now()), () => {
      this.timer = undefined;
      this.timerAt = Infinity;
      if (!this.running) void this.runPass().catch(() => undefined);
    });
  }

  private scheduleRefresh(): void {
    this.refreshTimer?.cancel();
    this.refreshTimer = this.clock.after(this.refreshMs, () => {
      if (!this.started) return;
      this.requestResync();
      this.scheduleRefresh();
    });
  }

  private runPass(): Promise<ApplyReport> {
    const p = this.pass().finally(() => {
      this.running = undefined;
      if (this.dirty) this.kick();
      this.notifyIdle();
    });
    this.running = p;
    return p;
  }

  private feedLinks(links: readonly KernelLink[]): void {
    this.links.observe(links);
    this.routes.setInterfaces(links.map((l) => ({ name: l.name, index: l.index, up: l.adminUp && l.lowerUp })));
    this.neigh.setPresentDevices(links.map((l) => l.name));
    this.sysctls.setInterfaces(links.filter((l) => this.routes.isWorkloadIface(l.name)).map((l) => l.name));
  }

  private async pass(): Promise<ApplyReport> {
    const start = this.clock.now();
    const t0 = performance.now();
    if (!this.datastoreInSync) {
      return { ok: false, writes: 0, failures: 0, waiting: 0, errors: ['datastore not in sync yet: not programming the dataplane'], durationMs: 0 };
    }
    this.lastPassStart = start;
    this.passStartedAt = start;
    this.dirty = false;
    const report: ApplyReport = { ok: true, writes: 0, failures: 0, waiting: 0, errors: [], durationMs: 0 };
    const add = (r: { writes: number; failures: number; waiting: number; errors: string[] }): void => {
      report.writes += r.writes;
      report.failures += r.failures;
      report.waiting += r.waiting;
      report.errors.push(...r.errors);
    };
    try {
      // The route read-back does not depend on the link listing: run them side by side.
      const routeResync = this.resyncDue.has('routes') ? this.resyncRoutes() : Promise.resolve();
      const [links] = await Promise.all([this.kernel.links.list(), routeResync]);
      const linkDrift = this.links.observe(links).drifted;
      if (this.firstApplyDone && linkDrift > 0) this.metrics?.repairs.inc({ kind: 'link' }, linkDrift);
      this.feedLinks(links);

      // Interface sysctls depend on nothing but the interface existing (Felix applies them from
      // its endpoint manager, apart from routes): they run beside the device → VTEP → route chain.
      const sysctlChain = (async (): Promise<void> => {
        if (this.resyncDue.has('sysctl')) {
          this.resyncDue.delete('sysctl');
          try {
            this.countDrift('sysctl', (await this.sysctls.resync()).drifted);
          } catch (e) {
            this.resyncDue.add('sysctl');
            throw e;
          }
        }
        add(await this.sysctls.apply());
      })();
      const mainChain = (async (): Promise<void> => {
        await this.resyncDueParts();
        await runTable(this.table, add);
      })();
      const settled = await Promise.allSettled([sysctlChain, mainChain]);
      for (const r of settled) if (r.status === 'rejected') throw r.reason;
      // An interface that appeared mid-pass may have sysctls still to write: go round again.
      if (!this.sysctls.inSync) this.dirty = true;
    } catch (e) {
      report.failures++;
      report.errors.push(errorMessage(e));
    }
    report.durationMs = performance.now() - t0;
    this.passStartedAt = undefined;
    this.metrics?.applyTime.observe(report.durationMs / 1000);
    if (report.failures > 0) {
      report.ok = false;
      this.consecutiveFailures++;
      this.lastError = report.errors[0];
      this.metrics?.failures.inc();
      this.backoffMs = Math.min(RETRY_BACKOFF_MAX_MS, this.backoffMs === 0 ? RETRY_BACKOFF_INITIAL_MS : this.backoffMs * 2);
      // After a failure we no longer trust our picture of the kernel: read it all back.
      this.resyncDue.add('routes').add('neigh').add('sysctl');
      this.policy?.requestResync();
      this.dirty = true;
      this.log.warn({ failures: report.failures, errors: report.errors.slice(0, 5), retryInMs: this.backoffMs }, 'dataplane apply failed; retrying with backoff');
    } else {
      this.consecutiveFailures = 0;
      this.backoffMs = 0;
      this.lastError = undefined;
      this.lastSuccessAt = this.clock.now();
      if (!this.firstApplyDone) this.log.info({ writes: report.writes, ms: Math.round(report.durationMs) }, 'first dataplane apply done');
      this.firstApplyDone = true;
    }
    if (this.metrics) for (const [cls, n] of this.routes.programmedByClass()) this.metrics.routesProgrammed.set({ class: cls }, n);
    return report;
  }

  /** Route and neighbour/FDB read-backs that are due, concurrently. */
  private async resyncDueParts(): Promise<void> {
    const parts: Promise<void>[] = [];
    if (this.resyncDue.has('routes')) parts.push(this.resyncRoutes());
    if (this.resyncDue.has('neigh')) {
      this.resyncDue.delete('neigh');
      parts.push(
        this.neigh.resync().then(
          (r) => {
            this.countDrift('neigh', r.neighDrifted);
            this.countDrift('fdb', r.fdbDrifted);
          },
          (e: unknown) => {
            this.resyncDue.add('neigh');
            throw e;
          },
        ),
      );
    }
    const results = await Promise.allSettled(parts);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private async resyncRoutes(): Promise<void> {
    this.resyncDue.delete('routes');
    const t = performance.now();
    try {
      const r = await this.routes.resync();
      this.metrics?.routeListTime.observe((performance.now() - t) / 1000);
      this.countDrift('route', r.drifted);
    } catch (e) {
      this.resyncDue.add('routes');
      throw e;
    }
  }

  private countDrift(kind: string, n: number): void {
    if (n > 0 && this.firstApplyDone) {
      this.metrics?.repairs.inc({ kind }, n);
      this.log.info({ kind, drifted: n }, 'kernel state changed behind our back; repairing');
    }
  }
}
