/**
 * Health aggregation with a fake clock: timeouts, readiness that must be earned, and the HTTP
 * answers Kubernetes probes see.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { HealthAggregator, type Clock } from './aggregator.js';
import { HealthServer } from './server.js';
import { silentLogger } from '../util/log.js';

class FakeClock implements Clock {
  t = 1000;
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

describe('HealthAggregator', () => {
  test('no reporters: live, but not ready', () => {
    const s = new HealthAggregator({ clock: new FakeClock() }).summary();
    assert.equal(s.live, true);
    assert.equal(s.ready, false);
    assert.equal(s.readyReason, 'no component reports readiness');
  });

  test('readyWhenEmpty restores libcalico-go behaviour for tools that want it', () => {
    assert.equal(new HealthAggregator({ readyWhenEmpty: true }).summary().ready, true);
  });

  test('a new readiness reporter is not ready until it says so', () => {
    const clock = new FakeClock();
    const h = new HealthAggregator({ clock });
    const ds = h.register({ name: 'datastore', live: true, ready: true, timeoutMs: 0 });
    let s = h.summary();
    assert.equal(s.live, true);
    assert.equal(s.ready, false);
    assert.equal(s.readyReason, 'datastore: no report yet');
    assert.deepEqual(s.components[0], {
      name: 'datastore',
      live: true,
      ready: false,
      detail: 'no report yet',
      timeoutMs: 0,
      lastReportAgoMs: null,
    });
    ds.report({ live: true, ready: true, detail: 'in sync' });
    s = h.summary();
    assert.equal(s.ready, true);
    assert.equal(s.readyReason, undefined);
    assert.equal(s.components[0]!.detail, 'in sync');
  });

  test('all readiness reporters must be ready; liveness-only reporters do not count for readiness', () => {
    const clock = new FakeClock();
    const h = new HealthAggregator({ clock });
    const a = h.register({ name: 'a', live: false, ready: true, timeoutMs: 0 });
    const b = h.register({ name: 'b', live: false, ready: true, timeoutMs: 0 });
    const loop = h.register({ name: 'loop', live: true, ready: false, timeoutMs: 0 });
    loop.report({ live: true, ready: false });
    a.report({ live: true, ready: true });
    b.report({ live: true, ready: false, detail: 'resync in progress' });
    let s = h.summary();
    assert.equal(s.ready, false);
    assert.equal(s.readyReason, 'b: resync in progress');
    assert.equal(s.components.find((c) => c.name === 'loop')!.ready, null);
    assert.equal(s.components.find((c) => c.name === 'a')!.live, null);
    b.report({ live: true, ready: true });
    s = h.summary();
    assert.equal(s.ready, true);
    assert.equal(s.live, true);
  });

  test('a reporter silent for longer than its timeout is neither live nor ready', () => {
    const clock = new FakeClock();
    const h = new HealthAggregator({ clock });
    const calc = h.register({ name: 'calc', live: true, ready: true, timeoutMs: 30_000 });
    calc.report({ live: true, ready: true });
    clock.advance(30_000);
    assert.equal(h.summary().live, true, 'exactly at the timeout is still fresh');
    clock.advance(1);
    const s = h.summary();
    assert.equal(s.live, false);
    assert.equal(s.ready, false);
    assert.match(s.liveReason!, /^calc: timed out: no report for 30001 ms \(timeout 30000 ms\)$/);
    assert.equal(s.components[0]!.lastReportAgoMs, 30_001);
    calc.report({ live: true, ready: true });
    assert.equal(h.summary().live, true, 'a fresh report recovers');
  });

  test('registration gives one timeout of grace before the first report', () => {
    const clock = new FakeClock();
    const h = new HealthAggregator({ clock });
    h.register({ name: 'dataplane', live: true, ready: false, timeoutMs: 90_000 });
    clock.advance(89_000);
    assert.equal(h.summary().live, true);
    clock.advance(2_000);
    assert.equal(h.summary().live, false);
  });

  test('a component reporting not live makes the agent not live', () => {
    const h = new HealthAggregator({ clock: new FakeClock() });
    h.register({ name: 'bgp', live: true, ready: false, timeoutMs: 0 }).report({ live: false, ready: false, detail: 'listener died' });
    const s = h.summary();
    assert.equal(s.live, false);
    assert.equal(s.liveReason, 'bgp: listener died');
  });

  test('names are unique; reports need registration', () => {
    const h = new HealthAggregator();
    h.register({ name: 'x', live: true, ready: true, timeoutMs: 0 });
    assert.throws(() => h.register({ name: 'x', live: true, ready: true, timeoutMs: 0 }), /already registered/);
    assert.throws(() => h.report('y', { live: true, ready: true }), /not registered/);
    h.deregister('x');
    assert.equal(h.summary().components.length, 0);
  });

  test('components are listed in name order', () => {
    const h = new HealthAggregator();
    for (const n of ['datastore', 'agent', 'bgp']) h.register({ name: n, live: true, ready: true, timeoutMs: 0 });
    assert.deepEqual(
      h.summary().components.map((c) => c.name),
      ['agent', 'bgp', 'datastore'],
    );
  });
});

describe('HealthServer', () => {
  test('probes answer 200/503 with the components named', async () => {
    const h = new HealthAggregator();
    const ds = h.register({ name: 'datastore', live: true, ready: true, timeoutMs: 0 });
    ds.report({ live: true, ready: false, detail: 'not connected' });
    const server = new HealthServer({ aggregator: h, host: '127.0.0.1', port: 0, logger: silentLogger });
    const { port } = await server.listen();
    const base = `http://127.0.0.1:${port}`;
    try {
      let r = await fetch(`${base}/liveness`);
      assert.equal(r.status, 200);
      assert.equal(((await r.json()) as { live: boolean }).live, true);

      r = await fetch(`${base}/readiness`);
      assert.equal(r.status, 503);
      const body = (await r.json()) as { ready: boolean; reason: string; components: { name: string; ready: boolean }[] };
      assert.equal(body.ready, false);
      assert.equal(body.reason, 'datastore: not connected');
      assert.deepEqual(
        body.components.map((c) => [c.name, c.ready]),
        [['datastore', false]],
      );

      r = await fetch(`${base}/health`);
      assert.equal(r.status, 503);

      ds.report({ live: true, ready: true, detail: 'in sync' });
      assert.equal((await fetch(`${base}/readiness`)).status, 200);
      assert.equal((await fetch(`${base}/health`)).status, 200);
      assert.equal((await fetch(`${base}/readiness`, { method: 'HEAD' })).status, 200);

      assert.equal((await fetch(`${base}/nope`)).status, 404);
      assert.equal((await fetch(`${base}/liveness`, { method: 'POST' })).status, 405);
    } finally {
      await server.close();
    }
  });

  test('a port in use is a UserError naming the settings', async () => {
    const h = new HealthAggregator();
    const a = new HealthServer({ aggregator: h, host: '127.0.0.1', port: 0, logger: silentLogger });
    const { port } = await a.listen();
    try {
      const b = new HealthServer({ aggregator: h, host: '127.0.0.1', port, logger: silentLogger });
      await assert.rejects(b.listen(), /cannot listen on 127\.0\.0\.1:\d+: the address is already in use.*FELIX_HEALTHHOST and FELIX_HEALTHPORT/);
    } finally {
      await a.close();
    }
  });
});
