/**
 * Time behind a small interface (Felix's `mocktime`) so timers — the BGP FSM's hold, keepalive,
 * connect-retry and idle-hold timers, the dataplane apply loop's throttle, backoff and refresh —
 * can be driven by hand in unit tests. One interface, one real clock and one fake serve every
 * area, so a test can share a fake between them. The real clock is Node's timers.
 */

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` once after `ms` milliseconds unless cancelled. */
  after(ms: number, fn: () => void): TimerHandle;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    // A BGP or dataplane timer alone must not keep a CLI process or finished agent alive.
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};

/** A manually advanced clock for unit tests. Timers fire in deadline order during advance(). */
export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();

  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  after(ms: number, fn: () => void): TimerHandle {
    const id = ++this.seq;
    this.pending.set(id, { at: this.t + Math.max(0, ms), fn });
    return { cancel: () => this.pending.delete(id) };
  }

  /** Number of timers not yet fired or cancelled. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Moves time forward by `ms`, firing every timer whose deadline is reached, in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    while (this.fireNext(end));
    this.t = end;
  }

  /**
   * Like advance(), but awaits `settle` after each timer so promise chains a timer starts (an
   * async apply, a reconnect) run before the next timer fires — and once more at the end.
   */
  async advanceSettling(ms: number, settle: () => Promise<void>): Promise<void> {
    const end = this.t + ms;
    while (this.fireNext(end)) await settle();
    this.t = end;
    await settle();
  }

  /** Fires the earliest timer due by `end` (ties in creation order); false when none is due. */
  private fireNext(end: number): boolean {
    let nextId = -1;
    let nextAt = Infinity;
    for (const [id, p] of this.pending) {
      if (p.at <= end && p.at < nextAt) {
        nextAt = p.at;
        nextId = id;
      }
    }
    if (nextId < 0) return false;
    const p = this.pending.get(nextId)!;
    this.pending.delete(nextId);
    this.t = p.at;
    p.fn();
    return true;
  }
}
