/**
 * Time behind a small interface (Felix `mocktime`) so the apply loop's throttle, backoff and
 * refresh timers can be driven by hand in unit tests. Structurally the same as the BGP FSM's
 * clock, so one fake serves both.
 */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  now(): number;
  after(ms: number, fn: () => void): TimerHandle;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    // Dataplane timers alone must not keep a finished process alive.
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};
