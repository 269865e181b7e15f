/** GracefulReadiness with a fake scheduler: the grace period is exercised without waiting. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HealthAggregator } from './aggregator.js';
import { GracefulReadiness, type Scheduler } from './grace.js';

class FakeScheduler implements Scheduler {
  t = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private next = 1;
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.timers.delete(h as number);
  }
  advance(ms: number): void {
    this.t += ms;
    for (const [id, tm] of [...this.timers].sort((a, b) => a[1].at - b[1].at)) {
      if (tm.at <= this.t) {
        this.timers.delete(id);
        tm.fn();
      }
    }
  }
  pending(): number {
    return this.timers.size;
  }
}

function setup(graceMs = 60_000) {
  const sched = new FakeScheduler();
  const health = new HealthAggregator({ clock: sched });
  const reporter = health.register({ name: 'datastore', live: true, ready: true, timeoutMs: 0 });
  const g = new GracefulReadiness({ reporter, graceMs, scheduler: sched });
  const ds = () => health.summary().components.find((c) => c.name === 'datastore')!;
  return { sched, health, g, ds };
}

test('not ready before the first sync, even when the connection drops', () => {
  const { g, ds } = setup();
  g.setNotReady('connecting to https://198.18.0.1:2379');
  assert.equal(ds().ready, false);
  g.setLost('connection refused');
  assert.equal(ds().ready, false);
  assert.equal(g.state, 'not-ready');
  assert.equal(ds().detail, 'connection refused');
});

test('a short loss after sync keeps readiness; recovery cancels the timer', () => {
  const { sched, g, ds } = setup();
  g.setReady('in sync');
  g.setLost('watch closed: ECONNRESET');
  assert.equal(ds().ready, true);
  assert.equal(g.state, 'lost-in-grace');
  assert.match(ds().detail, /watch closed: ECONNRESET; still ready for up to 60 s/);
  sched.advance(30_000);
  g.setReady('in sync');
  assert.equal(sched.pending(), 0);
  sched.advance(60_000);
  assert.equal(ds().ready, true);
  assert.equal(ds().detail, 'in sync');
});

test('a loss longer than the grace period turns readiness off', () => {
  const { sched, g, ds } = setup();
  g.setReady('in sync');
  g.setLost('etcd unreachable');
  sched.advance(59_999);
  assert.equal(ds().ready, true);
  g.setLost('etcd unreachable (retry 5)'); // repeated losses do not restart the grace period
  sched.advance(1);
  assert.equal(ds().ready, false);
  assert.equal(g.state, 'lost');
  assert.equal(ds().detail, 'etcd unreachable; lost for 60 s');
  g.setLost('still unreachable');
  assert.equal(ds().ready, false);
  g.setReady('in sync again');
  assert.equal(ds().ready, true);
});

test('a resync from scratch is not ready at once, without grace', () => {
  const { g, ds, sched } = setup();
  g.setReady('in sync');
  g.setLost('watch lost');
  g.setNotReady('resync in progress');
  assert.equal(ds().ready, false);
  assert.equal(sched.pending(), 0);
});

test('grace 0 reports the loss immediately', () => {
  const { g, ds } = setup(0);
  g.setReady('in sync');
  g.setLost('gone');
  assert.equal(ds().ready, false);
  assert.equal(g.state, 'lost');
});

test('stop clears the timer', () => {
  const { g, sched } = setup();
  g.setReady('in sync');
  g.setLost('gone');
  g.stop();
  assert.equal(sched.pending(), 0);
});
