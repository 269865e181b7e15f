/**
 * Readiness that rides out short outages, for the datastore connection
 * (TORTIE_DATASTORE_LOSS_READINESS_TIMEOUT).
 *
 * An API server restart or an etcd leader election drops every node's watch for a few seconds.
 * If each node went NotReady at once, a routine control-plane event would show as a cluster-wide
 * outage and stall DaemonSet rollouts, while the dataplane was forwarding fine on its last state
 * all along. So: before the first sync, not ready; once ready, a lost connection keeps readiness
 * for the grace period (with a detail saying so), and only a loss that lasts longer turns it off.
 *
 * Liveness is always reported true here: a lost datastore is not something a restart fixes.
 */
import type { HealthReporter } from './aggregator.js';

/** Time and timers, injected so tests run the grace period without waiting. */
export interface Scheduler {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemScheduler: Scheduler = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // A pending grace timer must not keep a stopping process alive.
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export type GraceState = 'not-ready' | 'ready' | 'lost-in-grace' | 'lost';

export class GracefulReadiness {
  private st: GraceState = 'not-ready';
  private timer: unknown;
  private readonly scheduler: Scheduler;

  constructor(
    private readonly opts: { reporter: HealthReporter; graceMs: number; scheduler?: Scheduler },
  ) {
    this.scheduler = opts.scheduler ?? systemScheduler;
  }

  get state(): GraceState {
    return this.st;
  }

  /** In sync: ready now, whatever came before. */
  setReady(detail: string): void {
    this.clearTimer();
    this.st = 'ready';
    this.opts.reporter.report({ live: true, ready: true, detail });
  }

  /** Not ready now, without grace: never synced yet, or a resync from scratch that must finish first. */
  setNotReady(detail: string): void {
    this.clearTimer();
    this.st = 'not-ready';
    this.opts.reporter.report({ live: true, ready: false, detail });
  }

  /**
   * The connection is gone. If we were ready, stay ready for the grace period, then report the
   * loss; if we never were, this is just not ready.
   */
  setLost(detail: string): void {
    if (this.st === 'ready' && this.opts.graceMs > 0) {
      this.st = 'lost-in-grace';
      const since = this.scheduler.now();
      this.opts.reporter.report({
        live: true,
        ready: true,
        detail: `${detail}; still ready for up to ${Math.round(this.opts.graceMs / 1000)} s (TORTIE_DATASTORE_LOSS_READINESS_TIMEOUT)`,
      });
      this.timer = this.scheduler.setTimeout(() => {
        this.timer = undefined;
        if (this.st !== 'lost-in-grace') return;
        this.st = 'lost';
        const secs = Math.round((this.scheduler.now() - since) / 1000);
        this.opts.reporter.report({ live: true, ready: false, detail: `${detail}; lost for ${secs} s` });
      }, this.opts.graceMs);
      return;
    }
    if (this.st === 'lost-in-grace') return; // the grace period already runs from the first loss
    this.clearTimer();
    this.st = this.st === 'not-ready' ? 'not-ready' : 'lost';
    this.opts.reporter.report({ live: true, ready: false, detail });
  }

  /** Stops the timer (component shutdown). */
  stop(): void {
    this.clearTimer();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.scheduler.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
