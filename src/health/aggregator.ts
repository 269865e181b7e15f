/**
 * Health aggregation in the model of libcalico-go's lib/health: each component registers under a
 * name, says whether it reports liveness, readiness or both, and how long its reports stay
 * fresh; the agent is live when every liveness reporter has said "live" within its timeout, and
 * ready when every readiness reporter has said "ready" within its timeout.
 *
 * Two choices differ from libcalico-go on purpose:
 *  - A new reporter is not ready until it says so (libcalico-go starts it at "live, not ready" too,
 *    but an aggregator with no reporters there is ready). Here an aggregator with no readiness
 *    reporters is NOT ready unless constructed with `readyWhenEmpty`: an agent that forgot to
 *    register its datastore must not tell Kubernetes it is serving.
 *  - Every answer names each component and why it is in its state, so `/readiness` and
 *    `tortie status` say what to fix, not only 503.
 *
 * The clock is injected so the timeout logic is tested without sleeping.
 */
import type { Logger } from '../util/log.js';
import { silentLogger } from '../util/log.js';

export interface Clock {
  /** Milliseconds, monotonic enough for timeouts. */
  now(): number;
}

export const systemClock: Clock = { now: () => performance.now() };

export interface HealthReport {
  live: boolean;
  ready: boolean;
  /** Why, in a few words an operator understands ("in sync", "not connected: ECONNREFUSED 198.18.0.1:2379"). */
  detail?: string;
}

export interface ReporterOptions {
  name: string;
  /** Counts toward liveness. */
  live: boolean;
  /** Counts toward readiness. */
  ready: boolean;
  /** A report older than this counts as failed (libcalico-go "timed out"). 0: reports never expire. */
  timeoutMs: number;
}

export interface ComponentHealth {
  name: string;
  /** null when the component does not report this kind of health. */
  live: boolean | null;
  ready: boolean | null;
  /** Why it is (not) live/ready: its own detail, or "timed out", or "no report yet". */
  detail: string;
  timeoutMs: number;
  /** Milliseconds since the last report, or null if it never reported. */
  lastReportAgoMs: number | null;
}

export interface HealthSummary {
  live: boolean;
  ready: boolean;
  components: ComponentHealth[];
  /** When not live: the components at fault, one line for logs and probes. */
  liveReason?: string;
  /** When not ready: the components at fault. */
  readyReason?: string;
}

/** The handle a component keeps to report its health. */
export interface HealthReporter {
  readonly name: string;
  report(r: HealthReport): void;
}

interface ReporterState {
  opts: ReporterOptions;
  latest: HealthReport;
  /** Clock time of the latest report; registration counts as one so a new reporter gets one timeout of grace. */
  at: number;
  reported: boolean;
}

export class HealthAggregator {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly readyWhenEmpty: boolean;
  private readonly reporters = new Map<string, ReporterState>();
  private lastOverall: string | undefined;

  constructor(opts: { clock?: Clock; logger?: Logger; readyWhenEmpty?: boolean } = {}) {
    this.clock = opts.clock ?? systemClock;
    this.log = (opts.logger ?? silentLogger).child({ component: 'health' });
    this.readyWhenEmpty = opts.readyWhenEmpty ?? false;
  }

  /** Registers a component. Names are unique: two components sharing one would hide each other's failures. */
  register(opts: ReporterOptions): HealthReporter {
    if (this.reporters.has(opts.name)) throw new Error(`health reporter ${opts.name} is already registered`);
    if (!(opts.timeoutMs >= 0)) throw new Error(`health reporter ${opts.name}: timeoutMs must be 0 or more`);
    this.reporters.set(opts.name, {
      opts: { ...opts },
      latest: { live: true, ready: false, detail: 'no report yet' },
      at: this.clock.now(),
      reported: false,
    });
    return { name: opts.name, report: (r) => this.report(opts.name, r) };
  }

  /** Removes a component, for one that is stopped on purpose (never to hide a failing one). */
  deregister(name: string): void {
    this.reporters.delete(name);
  }

  report(name: string, r: HealthReport): void {
    const st = this.reporters.get(name);
    if (!st) throw new Error(`health reporter ${name} is not registered`);
    const changed = st.latest.live !== r.live || st.latest.ready !== r.ready || st.latest.detail !== r.detail;
    st.latest = { live: r.live, ready: r.ready, ...(r.detail === undefined ? {} : { detail: r.detail }) };
    st.at = this.clock.now();
    st.reported = true;
    if (changed) {
      this.log.info({ reporter: name, live: r.live, ready: r.ready, detail: r.detail }, 'component health changed');
    }
  }

  summary(): HealthSummary {
    const now = this.clock.now();
    const components: ComponentHealth[] = [];
    let live = true;
    let ready = true;
    let readinessReporters = 0;
    const notLive: string[] = [];
    const notReady: string[] = [];

    for (const st of [...this.reporters.values()].sort((a, b) => a.opts.name.localeCompare(b.opts.name))) {
      const age = now - st.at;
      const timedOut = st.opts.timeoutMs > 0 && age > st.opts.timeoutMs;
      const detail = timedOut
        ? `timed out: no report for ${Math.round(age)} ms (timeout ${st.opts.timeoutMs} ms)`
        : (st.latest.detail ?? (st.reported ? '' : 'no report yet'));
      const c: ComponentHealth = {
        name: st.opts.name,
        live: st.opts.live ? !timedOut && st.latest.live : null,
        ready: st.opts.ready ? !timedOut && st.latest.ready : null,
        detail,
        timeoutMs: st.opts.timeoutMs,
        lastReportAgoMs: st.reported ? Math.round(age) : null,
      };
      if (st.opts.ready) readinessReporters++;
      if (c.live === false) live = false;
      if (c.ready === false) ready = false;
      if (c.live === false) notLive.push(`${c.name}: ${detail || 'not live'}`);
      if (c.ready === false) notReady.push(`${c.name}: ${detail || 'not ready'}`);
      components.push(c);
    }
    if (readinessReporters === 0 && !this.readyWhenEmpty) {
      ready = false;
      notReady.push('no component reports readiness');
    }
    const summary: HealthSummary = {
      live,
      ready,
      components,
      ...(notLive.length ? { liveReason: notLive.join('; ') } : {}),
      ...(notReady.length ? { readyReason: notReady.join('; ') } : {}),
    };

    const overall = `${live}/${ready}/${summary.liveReason ?? ''}/${summary.readyReason ?? ''}`;
    if (overall !== this.lastOverall) {
      this.lastOverall = overall;
      this.log.info({ live, ready, liveReason: summary.liveReason, readyReason: summary.readyReason }, 'overall health changed');
    }
    return summary;
  }
}
