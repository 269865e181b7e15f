/**
 * The real `tortie agent` process inside its own network namespace: health probes over HTTP as
 * a kubelet would send them, metrics on and off, the control socket, SIGTERM, and a bad
 * configuration. Needs root (network namespaces); fails loudly without it.
 *
 * Runs the compiled build when the tests run from dist/, else the TypeScript through tsx
 * (test/helpers/tortie-cmd.ts).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tortieCommand } from '../helpers/tortie-cmd.js';
import { controlCall } from '../../src/agent/control.js';
import type { HealthSummary } from '../../src/health/aggregator.js';

const NS_PREFIX = 'tt-agent-';
const NS = `${NS_PREFIX}${process.pid}`;
/** Startup through tsx compiles on the fly and can take a few seconds on a loaded 2-core machine. */
const STARTUP_WAIT_MS = 30_000;
/** The agent's own shutdown deadline is 10 s (SHUTDOWN_TIMEOUT_MS); it must exit on its own before that. */
const EXIT_WAIT_MS = 10_000;

function run(cmd: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function must(cmd: string, args: string[]): string {
  const r = run(cmd, args);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Deletes namespaces a crashed earlier run of this test left behind: only ours, only if their owner is dead. */
function sweepStale(): void {
  for (const line of run('ip', ['netns', 'list']).stdout.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = new RegExp(`^${NS_PREFIX}(\\d+)$`).exec(name);
    if (m && !pidAlive(Number(m[1]))) run('ip', ['netns', 'delete', name]);
  }
}

/** GET from inside the namespace; returns the HTTP status (0 when nothing listens) and body. */
function curl(path: string, port: number): { status: number; body: string } {
  const r = run('ip', ['netns', 'exec', NS, 'curl', '-s', '-m', '5', '-o', '-', '-w', '\n%{http_code}', `http://127.0.0.1:${port}${path}`]);
  const i = r.stdout.lastIndexOf('\n');
  return { status: Number(r.stdout.slice(i + 1)) || 0, body: r.stdout.slice(0, i) };
}

async function waitFor<T>(what: string, fn: () => T | undefined, timeoutMs = STARTUP_WAIT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startAgent(env: Record<string, string>): Running {
  const [cmd, ...args] = tortieCommand();
  const child = spawn('ip', ['netns', 'exec', NS, cmd!, ...args, 'agent'], {
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: process.env.HOME ?? '/root', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function stopAgent(a: Running): Promise<void> {
  if (a.child.exitCode !== null || a.child.signalCode !== null) return;
  a.child.kill('SIGKILL');
  await a.exited;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
    }),
  ]);
}

describe('tortie agent in a network namespace', { concurrency: false }, () => {
  let dir: string;

  before(() => {
    assert.equal(process.getuid?.(), 0, 'this integration test needs root (network namespaces); run it with sudo');
    for (const tool of ['ip', 'curl']) {
      assert.equal(run('sh', ['-c', `command -v ${tool}`]).status, 0, `${tool} is required and not installed`);
    }
    sweepStale();
    must('ip', ['netns', 'add', NS]);
    must('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
    dir = mkdtempSync(join(tmpdir(), 'tt-agent-'));
  });

  after(() => {
    run('ip', ['netns', 'delete', NS]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('probes, metrics, control socket and a clean SIGTERM', async () => {
    const socket = join(dir, 'control.sock');
    const a = startAgent({
      NODENAME: 'tt-agent-node',
      FELIX_HEALTHPORT: '9099',
      felix_prometheusmetricsenabled: 'true', // lower case on purpose: Felix matches FELIX_* case-insensitively
      FELIX_PROMETHEUSMETRICSPORT: '9091',
      FELIX_LOGSEVERITYSCREEN: 'Debug',
      TORTIE_CONTROL_SOCKET: socket,
      FELIX_SOMETHINGUNKNOWN: 'x',
    });
    try {
      const live = await waitFor('/liveness to answer', () => {
        const r = curl('/liveness', 9099);
        return r.status === 0 ? undefined : r;
      });
      assert.equal(live.status, 200, live.body);
      assert.equal((JSON.parse(live.body) as { live: boolean }).live, true);

      // Components start one after another (node, then datastore): under load /liveness can
      // answer before the datastore component has registered, so wait until it reports.
      type Readiness = { ready: boolean; reason: string; components: { name: string; ready: boolean | null }[] };
      const ready = await waitFor('the datastore component to report', () => {
        const r = curl('/readiness', 9099);
        assert.equal(r.status, 503, 'no datastore yet: the agent must never claim readiness');
        return /datastore: /.test((JSON.parse(r.body) as Readiness).reason) ? r : undefined;
      });
      const rb = JSON.parse(ready.body) as Readiness;
      assert.equal(rb.ready, false);
      assert.match(rb.reason, /datastore: syncing \(felix WaitForDatastore/);
      assert.ok(rb.components.some((c) => c.name === 'datastore' && c.ready === false));

      const metrics = curl('/metrics', 9091);
      assert.equal(metrics.status, 200);
      assert.match(metrics.body, /^process_cpu_seconds_total \d/m);

      const h = await controlCall<HealthSummary>(socket, 'agent.health');
      assert.equal(h.live, true);
      assert.equal(h.ready, false);
      const cfg = await controlCall<{ settings: Record<string, { value: unknown; source: string }>; warnings: string[] }>(socket, 'agent.config');
      assert.deepEqual(cfg.settings.prometheusMetricsEnabled, { value: true, source: 'env felix_prometheusmetricsenabled' });
      assert.match(cfg.warnings.join('\n'), /FELIX_SOMETHINGUNKNOWN/);

      // Logs are pino JSON lines on stdout, at the configured level.
      const lines = a.stdout().trim().split('\n').map((l) => JSON.parse(l) as { level: number; msg: string });
      assert.ok(lines.some((l) => l.msg === 'agent running'));
      assert.ok(lines.some((l) => l.level === 20), 'FELIX_LOGSEVERITYSCREEN=Debug lets debug lines through');

      a.child.kill('SIGTERM');
      const { code, signal } = await withTimeout(a.exited, EXIT_WAIT_MS, 'exit after SIGTERM');
      assert.equal(signal, null);
      assert.equal(code, 0, a.stderr());
      assert.equal(a.stderr(), '', 'nothing on stderr for a clean run');
      assert.equal(curl('/liveness', 9099).status, 0, 'the health server is gone');
      await assert.rejects(controlCall(socket, 'agent.health'), /is the agent running\?/);
    } finally {
      await stopAgent(a);
    }
  });

  test('metrics are not served when disabled (the default)', async () => {
    const a = startAgent({ NODENAME: 'tt-agent-node', TORTIE_CONTROL_SOCKET: join(dir, 'control2.sock'), FELIX_HEALTHPORT: '9199' });
    try {
      await waitFor('/liveness to answer', () => (curl('/liveness', 9199).status === 200 ? true : undefined));
      assert.equal(curl('/metrics', 9091).status, 0, 'nothing listens on the metrics port');
      assert.equal(curl('/metrics', 9199).status, 404, 'and the health server does not serve metrics');
      a.child.kill('SIGINT');
      const { code } = await withTimeout(a.exited, EXIT_WAIT_MS, 'exit after SIGINT');
      assert.equal(code, 0, a.stderr());
    } finally {
      await stopAgent(a);
    }
  });

  test('an invalid configuration exits non-zero naming the setting, without a stack trace', async () => {
    const a = startAgent({
      NODENAME: 'tt-agent-node',
      TORTIE_CONTROL_SOCKET: join(dir, 'control3.sock'),
      FELIX_HEALTHPORT: 'abc',
      DATASTORE_TYPE: 'mysql',
    });
    try {
      const { code } = await withTimeout(a.exited, STARTUP_WAIT_MS, 'exit on bad configuration');
      assert.equal(code, 2);
      const err = a.stderr();
      assert.match(err, /FELIX_HEALTHPORT="abc": expected an integer TCP\/UDP port from 1 to 65535/);
      assert.match(err, /DATASTORE_TYPE="mysql"/, 'all problems at once');
      assert.doesNotMatch(err, /^\s+at /m, 'no stack trace');
      assert.equal(a.stdout(), '', 'nothing started, nothing logged');
    } finally {
      await stopAgent(a);
    }
  });

  test('a second agent on the same node refuses to start and leaves the first one serving', async () => {
    const socket = join(dir, 'control4.sock');
    const first = startAgent({ NODENAME: 'tt-agent-node', TORTIE_CONTROL_SOCKET: socket, FELIX_HEALTHPORT: '9299' });
    try {
      await waitFor('/liveness to answer', () => (curl('/liveness', 9299).status === 200 ? true : undefined));
      const second = startAgent({ NODENAME: 'tt-agent-node', TORTIE_CONTROL_SOCKET: socket, FELIX_HEALTHPORT: '9399' });
      try {
        const { code } = await withTimeout(second.exited, STARTUP_WAIT_MS, 'second agent exit');
        assert.notEqual(code, 0);
        assert.match(second.stderr(), /another process is already listening on control socket/);
        assert.doesNotMatch(second.stderr(), /^\s+at /m);
      } finally {
        await stopAgent(second);
      }
      assert.equal(curl('/liveness', 9299).status, 200);
      assert.equal((await controlCall<HealthSummary>(socket, 'agent.health')).live, true);
      first.child.kill('SIGTERM');
      assert.equal((await withTimeout(first.exited, EXIT_WAIT_MS, 'exit after SIGTERM')).code, 0);
    } finally {
      await stopAgent(first);
    }
  });

  test('a health port already taken is reported, not a crash', async () => {
    const first = startAgent({ NODENAME: 'tt-agent-node', TORTIE_CONTROL_SOCKET: join(dir, 'control5.sock'), FELIX_HEALTHPORT: '9499' });
    try {
      await waitFor('/liveness to answer', () => (curl('/liveness', 9499).status === 200 ? true : undefined));
      const second = startAgent({ NODENAME: 'tt-agent-node', TORTIE_CONTROL_SOCKET: join(dir, 'control6.sock'), FELIX_HEALTHPORT: '9499' });
      try {
        const { code } = await withTimeout(second.exited, STARTUP_WAIT_MS, 'second agent exit');
        assert.notEqual(code, 0);
        assert.match(second.stderr(), /cannot listen on 127\.0\.0\.1:9499: the address is already in use.*FELIX_HEALTHPORT/);
        assert.doesNotMatch(second.stderr(), /^\s+at /m);
      } finally {
        await stopAgent(second);
      }
      first.child.kill('SIGTERM');
      assert.equal((await withTimeout(first.exited, EXIT_WAIT_MS, 'exit after SIGTERM')).code, 0);
    } finally {
      await stopAgent(first);
    }
  });
});
