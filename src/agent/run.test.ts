/**
 * The process-level failure policy of run.ts, on real child processes (handlers for signals and
 * unhandled errors are process-wide, so they cannot be exercised inside the test runner):
 * an unhandled rejection is logged and counted and the agent keeps running; an uncaught
 * exception exits 1; a second signal exits at once. No network: health and metrics are off and
 * the control socket is in a temp directory.
 */
import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const fromTs = import.meta.url.endsWith('.ts');
const ext = fromTs ? '.ts' : '.js';
const mod = (p: string): string => new URL(p + ext, import.meta.url).href;

/** Runs `body` in a fresh node process with an Agent and the run.ts handlers installed. */
function runChild(socket: string, body: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const script = `
    const { installProcessHandlers } = await import(${JSON.stringify(mod('./run'))});
    const { Agent } = await import(${JSON.stringify(mod('./agent'))});
    const { loadConfig } = await import(${JSON.stringify(mod('../config/load'))});
    const { createLogger } = await import(${JSON.stringify(mod('../util/log'))});
    const logger = createLogger({ level: 'info' });
    const config = loadConfig({ env: { NODENAME: 'node-a', FELIX_HEALTHENABLED: 'false', TORTIE_CONTROL_SOCKET: ${JSON.stringify(socket)} } });
    const agent = new Agent({ config, logger, components: [] });
    installProcessHandlers(agent, logger);
    await agent.start();
    const say = (line) => process.stderr.write(line + '\\n');
    ${body}
  `;
  const args = [...(fromTs ? ['--import', import.meta.resolve('tsx')] : []), '--input-type=module', '-e', script];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

function logLines(stdout: string): { level: number; msg: string; err?: { message: string } }[] {
  return stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number; msg: string; err?: { message: string } });
}

describe('runAgent process policy', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tortie-run-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('an unhandled rejection is logged and counted, and the agent keeps running until SIGTERM', async () => {
    const r = await runChild(
      join(dir, 'c.sock'),
      `
      Promise.reject(new Error('lost rejection in some component'));
      await new Promise((r) => setTimeout(r, 50));
      const m = await agent.registry.getSingleMetric('tortie_unhandled_errors_total').get();
      say('COUNT ' + m.values.map((v) => v.labels.kind + '=' + v.value).join(','));
      const reason = agent.shutdownRequested.then(async (why) => { await agent.stop(why); say('STOPPED ' + why); });
      process.kill(process.pid, 'SIGTERM');
      await reason;
      `,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^COUNT rejection=1$/m);
    assert.match(r.stderr, /^STOPPED signal SIGTERM$/m);
    const lines = logLines(r.stdout);
    const bug = lines.find((l) => /unhandled rejection: this is a bug/.test(l.msg));
    assert.ok(bug, r.stdout);
    assert.equal(bug.level, 50);
    assert.equal(bug.err?.message, 'lost rejection in some component');
  });

  test('an uncaught exception logs at fatal and exits 1', async () => {
    const r = await runChild(join(dir, 'c.sock'), `setTimeout(() => { throw new Error('sync throw in a handler'); }, 10);`);
    assert.equal(r.code, 1);
    const fatal = logLines(r.stdout).find((l) => l.level === 60);
    assert.ok(fatal, r.stdout);
    assert.equal(fatal.err?.message, 'sync throw in a handler');
  });

  test('a second signal exits at once with 128+signal', async () => {
    // Nobody calls stop() here, as if a component hung while stopping: the first SIGINT only
    // requests shutdown, the second must end the process.
    const r = await runChild(
      join(dir, 'c.sock'),
      `
      process.kill(process.pid, 'SIGINT');
      await agent.shutdownRequested;
      say('FIRST HANDLED');
      process.kill(process.pid, 'SIGINT');
      await new Promise((r) => setTimeout(r, 5000));
      say('STILL RUNNING');
      `,
    );
    assert.match(r.stderr, /FIRST HANDLED/);
    assert.doesNotMatch(r.stderr, /STILL RUNNING/);
    assert.equal(r.code, 130);
    assert.ok(logLines(r.stdout).some((l) => /second signal: exiting now/.test(l.msg)));
  });
});
