/** The metrics endpoint over real HTTP: process metrics present, component metrics added through the registry. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Gauge } from 'prom-client';
import { createMetricsRegistry } from './registry.js';
import { MetricsServer } from './server.js';
import { silentLogger } from '../util/log.js';

test('serves default process metrics and component metrics from the registry it is given', async () => {
  const registry = createMetricsRegistry();
  const c = new Counter({ name: 'felix_int_dataplane_failures', help: 'test', registers: [registry] });
  c.inc(2);
  const server = new MetricsServer({ registry, host: '127.0.0.1', port: 0, logger: silentLogger });
  const { port } = await server.listen();
  try {
    const r = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /text\/plain/);
    const text = await r.text();
    assert.match(text, /^process_cpu_seconds_total \d/m);
    assert.match(text, /^felix_int_dataplane_failures 2$/m);
    assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 404);
  } finally {
    await server.close();
  }
});

test('registries are independent: no global state between agents', () => {
  const a = createMetricsRegistry({ defaultMetrics: false });
  const b = createMetricsRegistry({ defaultMetrics: false });
  new Gauge({ name: 'tortie_x', help: 'x', registers: [a] });
  assert.doesNotThrow(() => new Gauge({ name: 'tortie_x', help: 'x', registers: [b] }));
});

test('a throwing collector gives 500 and the server keeps serving', async () => {
  const registry = createMetricsRegistry({ defaultMetrics: false });
  let fail = true;
  new Gauge({
    name: 'tortie_flaky',
    help: 'x',
    registers: [registry],
    collect() {
      if (fail) throw new Error('boom');
      this.set(1);
    },
  });
  const server = new MetricsServer({ registry, host: '127.0.0.1', port: 0, logger: silentLogger });
  const { port } = await server.listen();
  try {
    const r = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(r.status, 500);
    assert.match(await r.text(), /boom/);
    fail = false;
    assert.match(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(), /^tortie_flaky 1$/m);
  } finally {
    await server.close();
  }
});
