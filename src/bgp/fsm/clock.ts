/**
 * Time behind a small interface so the FSM's hold, keepalive, connect-retry and idle-hold timers
 * can be driven by a fake clock in unit tests (Felix's `mocktime`). The real clock is Node's timers.
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

export const realClock: Clock = {
  now: () => Date.now(),
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    // A BGP timer alone must not keep a CLI process alive after stop().
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
    for (;;) {
      let nextId = -1;
      let nextAt = Infinity;
      for (const [id, p] of this.pending) {
        if (p.at <= end && p.at < nextAt) {
          nextAt = p.at;
          nextId = id;
        }
      }
      if (nextId < 0) break;
      const p = this.pending.get(nextId)!;
      this.pending.delete(nextId);
      this.t = p.at;
      p.fn();
    }
    this.t = end;
  }
}
