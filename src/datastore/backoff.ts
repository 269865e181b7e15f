/**
 * Exponential backoff with jitter for reconnecting to the datastore. Jitter matters here: when etcd
 * restarts, every node's agent reconnects at once, and de-synchronising them spreads the re-list
 * load (the "thundering herd" Calico users hit at scale, calico#5664).
 */

export interface BackoffOptions {
  /** First delay. */
  initialMs?: number;
  /** Ceiling of the delay. */
  maxMs?: number;
  /** Growth factor per failure. */
  factor?: number;
  /** Random source in [0,1) (tests pass a fixed one). */
  random?: () => number;
}

/** First retry after 250 ms: long enough not to spin on a refused port, short enough to hide a blip. */
export const DEFAULT_BACKOFF_INITIAL_MS = 250;
/** At most 10 s between attempts, so a returning etcd is noticed quickly (Calico's watcher retries on a similar scale). */
export const DEFAULT_BACKOFF_MAX_MS = 10_000;

export class Backoff {
  private attempt = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly random: () => number;

  constructor(opts: BackoffOptions = {}) {
    this.initialMs = opts.initialMs ?? DEFAULT_BACKOFF_INITIAL_MS;
    this.maxMs = opts.maxMs ?? DEFAULT_BACKOFF_MAX_MS;
    this.factor = opts.factor ?? 2;
    this.random = opts.random ?? Math.random;
  }

  /** Next delay: base * factor^attempt capped at max, then jittered to [50%, 100%] of that. */
  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * this.factor ** this.attempt);
    this.attempt++;
    return Math.round(base * (0.5 + this.random() / 2));
  }

  reset(): void {
    this.attempt = 0;
  }

  get failures(): number {
    return this.attempt;
  }
}
