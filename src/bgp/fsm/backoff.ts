/**
 * Idle-hold backoff after a session error, as BIRD's `error wait time 5,30` that Calico configures:
 * the first wait after an error is the minimum, each further error doubles it up to the cap, and a
 * quiet spell (BIRD's `error forget time`) resets it. Stops a broken peer from being hammered while
 * letting a single flap recover quickly.
 */

/** Calico's bird.cfg: `error wait time 5,30`. */
export const DEFAULT_ERROR_WAIT_MIN_MS = 5_000;
export const DEFAULT_ERROR_WAIT_MAX_MS = 30_000;
/** BIRD's default `error forget time` (300 s): errors older than this no longer lengthen the wait. */
export const DEFAULT_ERROR_FORGET_MS = 300_000;

export class IdleHoldBackoff {
  private current = 0;
  private lastErrorAt = -Infinity;

  constructor(
    private readonly minMs = DEFAULT_ERROR_WAIT_MIN_MS,
    private readonly maxMs = DEFAULT_ERROR_WAIT_MAX_MS,
    private readonly forgetMs = DEFAULT_ERROR_FORGET_MS,
  ) {}

  /** Records an error at `now` and returns how long to stay Idle before reconnecting. */
  onError(now: number): number {
    if (now - this.lastErrorAt > this.forgetMs) this.current = 0;
    this.current = this.current === 0 ? this.minMs : Math.min(this.maxMs, this.current * 2);
    this.lastErrorAt = now;
    return this.current;
  }

  reset(): void {
    this.current = 0;
    this.lastErrorAt = -Infinity;
  }
}
