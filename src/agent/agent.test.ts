/**
 * Agent lifecycle with recording components: start order, reverse stop, rollback when a start
 * fails, a stuck stop that does not block the rest, and the control methods. Health and metrics
 * servers are off here (their HTTP side has its own tests; the real agent is tested in a netns
 * by test/agent/agent.test.ts), the control socket is real, in a temp directory.
 */
import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from './agent.js';
import type { AgentComponent, AgentContext } from './component.js';
import { controlCall } from './control.js';
import { buildComponents } from './components.js';
import { loadConfig } from '../config/load.js';
import { UserError } from '../util/errors.js';
import { silentLogger } from '../util/log.js';
import type { HealthSummary } from '../health/aggregator.js';

class Recorder implements AgentComponent {
  ctx: AgentContext | undefined;
  constructor(
    readonly name: string,
    private readonly events: string[],
    private readonly behaviour: { failStart?: Error; hangStop?: boolean } = {},
  ) {}
  async start(ctx: AgentContext): Promise<void> {
    this.ctx = ctx;
    this.events.push(`start ${this.name}`);
    if (this.behaviour.failStart) throw this.behaviour.failStart;
    ctx.health.register({ name: this.name, live: false, ready: true, timeoutMs: 0 }).report({ live: true, ready: true, detail: 'fine' });
    ctx.control.handle(`${this.name}.ping`, () => 'pong');
  }
  async stop(): Promise<void> {
    this.events.push(`stop ${this.name}`);
    if (this.behaviour.hangStop) await new Promise(() => undefined);
  }
}

describe('Agent', () => {
  let dir: string;
  let socket: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tortie-agent-'));
    socket = join(dir, 'control.sock');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function config(extra: Record<string, string> = {}) {
    return loadConfig({
      env: {
        NODENAME: 'node-a',
        FELIX_HEALTHENABLED: 'false',
        FELIX_PROMETHEUSMETRICSENABLED: 'false',
        TORTIE_CONTROL_SOCKET: socket,
        ETCD_PASSWORD: 'hunter2',
        ETCD_USERNAME: 'calico',
        ...extra,
      },
    });
  }

  test('starts components in order, stops them in reverse, and closes the control socket', async () => {
    const events: string[] = [];
    const agent = new Agent({
      config: config(),
      logger: silentLogger,
      components: [new Recorder('datastore', events), new Recorder('dataplane', events), new Recorder('bgp', events)],
    });
    await agent.start();
    assert.deepEqual(events, ['start datastore', 'start dataplane', 'start bgp']);
    assert.equal(await controlCall(socket, 'bgp.ping'), 'pong');
    const h = await controlCall<HealthSummary>(socket, 'agent.health');
    assert.equal(h.ready, true);
    assert.equal(h.live, true);
    assert.deepEqual(
      h.components.map((c) => c.name),
      ['agent', 'bgp', 'dataplane', 'datastore'],
    );
    await agent.stop('test');
    assert.deepEqual(events.slice(3), ['stop bgp', 'stop dataplane', 'stop datastore']);
    assert.equal(existsSync(socket), false);
    await agent.stop('again'); // idempotent
    assert.equal(events.length, 6);
  });

  test('components get a context with a named logger, the shared registry and an abort signal', async () => {
    const events: string[] = [];
    const r = new Recorder('datastore', events);
    const agent = new Agent({ config: config(), logger: silentLogger, components: [r] });
    await agent.start();
    assert.ok(r.ctx);
    assert.equal(r.ctx.registry, agent.registry);
    assert.equal(r.ctx.health, agent.health);
    assert.equal(r.ctx.config.nodename, 'node-a');
    assert.equal(r.ctx.signal.aborted, false);
    agent.requestShutdown('test');
    assert.equal(r.ctx.signal.aborted, true);
    assert.equal(await agent.shutdownRequested, 'test');
    await agent.stop();
  });

  test('a failing start stops what was started, in reverse, and rethrows', async () => {
    const events: string[] = [];
    const agent = new Agent({
      config: config(),
      logger: silentLogger,
      components: [
        new Recorder('datastore', events),
        new Recorder('dataplane', events),
        new Recorder('bgp', events, { failStart: new UserError('port 179 is in use') }),
        new Recorder('never', events),
      ],
    });
    await assert.rejects(agent.start(), /port 179 is in use/);
    assert.deepEqual(events, ['start datastore', 'start dataplane', 'start bgp', 'stop dataplane', 'stop datastore']);
    assert.equal(existsSync(socket), false);
  });

  test('a component that never stops does not keep the others from stopping', async () => {
    const events: string[] = [];
    const agent = new Agent({
      config: config(),
      logger: silentLogger,
      componentStopTimeoutMs: 50,
      components: [new Recorder('datastore', events), new Recorder('stuck', events, { hangStop: true })],
    });
    await agent.start();
    await agent.stop();
    assert.deepEqual(events.slice(2), ['stop stuck', 'stop datastore']);
  });

  test('agent.config shows effective values with sources and redacts secrets', async () => {
    const agent = new Agent({ config: config({ FELIX_HEALTHPORT: '9199' }), logger: silentLogger, components: [] });
    await agent.start();
    try {
      const c = await controlCall<{ settings: Record<string, { value: unknown; source: string }>; warnings: string[] }>(socket, 'agent.config');
      assert.deepEqual(c.settings.healthPort, { value: 9199, source: 'env FELIX_HEALTHPORT' });
      assert.deepEqual(c.settings.etcdPassword, { value: '<redacted>', source: 'env ETCD_PASSWORD' });
      assert.doesNotMatch(JSON.stringify(c), /hunter2/);
      const methods = await controlCall<string[]>(socket, 'methods');
      assert.deepEqual(methods, ['agent.config', 'agent.health', 'agent.info', 'methods']);
      const info = await controlCall<{ nodename: string; state: string }>(socket, 'agent.info');
      assert.equal(info.nodename, 'node-a');
      assert.equal(info.state, 'running');
    } finally {
      await agent.stop();
    }
  });

  test('with no components the agent is live but not ready: no readiness is claimed without a reporter', async () => {
    const agent = new Agent({ config: config(), logger: silentLogger, components: [] });
    await agent.start();
    try {
      const h = agent.health.summary();
      assert.equal(h.live, true);
      assert.equal(h.ready, false);
      assert.equal(h.readyReason, 'no component reports readiness');
    } finally {
      await agent.stop();
    }
  });

  test('buildComponents wires node, datastore, dataplane and (bird only) bgp in flow order', () => {
    // Not started here: the real components read and program the kernel, which only belongs
    // inside a namespace (test/agent, test/routing run them there).
    const cfg = config();
    assert.deepEqual(buildComponents(cfg.config).map((c) => c.name), ['node', 'datastore', 'dataplane', 'bgp']);
    assert.deepEqual(buildComponents({ ...cfg.config, networkingBackend: 'vxlan' }).map((c) => c.name), ['node', 'datastore', 'dataplane']);
  });

  test('two components with one name are refused', () => {
    assert.throws(
      () => new Agent({ config: config(), logger: silentLogger, components: [new Recorder('x', []), new Recorder('x', [])] }),
      /two components are named x/,
    );
  });

  test('a second agent on the same control socket refuses to start', async () => {
    const a = new Agent({ config: config(), logger: silentLogger, components: [] });
    await a.start();
    try {
      const b = new Agent({ config: config(), logger: silentLogger, components: [] });
      await assert.rejects(b.start(), /another process is already listening/);
      assert.equal(existsSync(socket), true, 'the first agent keeps its socket');
    } finally {
      await a.stop();
    }
  });
});
