/**
 * Restart without loss: an agent SIGKILLed and started again, three times, while a pod on another
 * node pings a pod behind it every 10 ms. With graceful restart (the default) no packet is lost
 * and the neighbour's kernel never loses the route to the restarting node's block; with
 * TORTIE_BGP_GRACEFUL_RESTART=false the same sequence must show the withdrawal — so this test can
 * fail, and the difference is graceful restart and the kept stale routes, not luck.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { agentStart, agentStop, runIn, waitFor, type LabState } from '../../src/lab/index.js';
import { agentOpts, withRoutingLab, waitAllPing } from './helpers.js';

const RESTARTS = 3;

function collect(child: ChildProcess): { text: () => string } {
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return { text: () => out };
}

async function ready(lab: LabState, node: string): Promise<boolean> {
  const n = lab.nodes.find((x) => x.name === node)!;
  const r = await runIn(n.netns, ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', 'http://127.0.0.1:9099/readiness'], { allowFailure: true, timeoutMs: 5000 });
  return r.stdout.trim() === '200';
}

async function restartLoop(gr: boolean): Promise<{ transmitted: number; received: number; monitor: string; block: string }> {
  let result: { transmitted: number; received: number; monitor: string; block: string } | undefined;
  const env: Record<string, string> = gr ? {} : { TORTIE_BGP_GRACEFUL_RESTART: 'false' };
  await withRoutingLab({ tag: gr ? 'gr' : 'ng', nodes: 3, podsPerNode: 1, pool: { ipipMode: 'Never', vxlanMode: 'Never' }, agentEnv: env }, async (lab) => {
    const st = lab.state();
    await waitAllPing(lab.pods);
    for (const n of st.nodes) await waitFor(() => ready(st, n.name), { timeoutMs: 60_000, intervalMs: 500, what: `${n.name} ready` });
    const target = lab.pods.find((p) => p.node === 'node-1')!;
    const source = lab.pods.find((p) => p.node === 'node-2')!;
    const neighbour = st.nodes.find((n) => n.name === 'node-2')!;
    const monitor = spawn('ip', ['netns', 'exec', neighbour.netns, 'ip', 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const mon = collect(monitor);
    const ping = spawn('ip', ['netns', 'exec', source.netns, 'ping', '-n', '-i', '0.01', target.ip], { stdio: ['ignore', 'pipe', 'pipe'] });
    const pout = collect(ping);
    try {
      await new Promise((r) => setTimeout(r, 1000));
      // Three crashes (SIGKILL: no state file, the kernel's routes prove forwarding was kept),
      // then one orderly stop (SIGTERM: sessions closed without NOTIFICATION, state file written).
      for (let i = 0; i <= RESTARTS; i++) {
        await agentStop(lab.name, 'node-1', { kill: i < RESTARTS });
        await new Promise((r) => setTimeout(r, 500));
        await agentStart(lab.name, 'node-1', agentOpts(env));
        await waitFor(() => ready(lab.state(), 'node-1'), { timeoutMs: 60_000, intervalMs: 250, what: 'node-1 ready after restart' });
        // Past re-convergence: peers have the table again and stale routes are swept.
        await new Promise((r) => setTimeout(r, 4000));
      }
    } finally {
      const exited = new Promise((r) => ping.once('exit', r));
      ping.kill('SIGINT');
      await exited;
      monitor.kill('SIGTERM');
    }
    const m = /(\d+) packets transmitted, (\d+) received/.exec(pout.text());
    assert.ok(m, `ping statistics: ${pout.text().slice(-300)}`);
    result = { transmitted: Number(m[1]), received: Number(m[2]), monitor: mon.text(), block: target.block };
  });
  return result!;
}

test('graceful restart: SIGKILL + start three times and one SIGTERM restart lose no packet and never withdraws the block on a neighbour', async () => {
  const r = await restartLoop(true);
  assert.ok(r.transmitted > 1000, `enough pings sent (${r.transmitted})`);
  const withdrawals = r.monitor.split('\n').filter((l) => l.startsWith('Deleted') && l.includes(r.block));
  assert.deepEqual(withdrawals, [], 'the neighbour never deleted the restarting node\'s block');
  assert.equal(r.transmitted - r.received, 0, `lost ${r.transmitted - r.received} of ${r.transmitted} pings`);
});

test('without graceful restart the same restarts withdraw the block (the test above can fail)', async () => {
  const r = await restartLoop(false);
  const withdrawals = r.monitor.split('\n').filter((l) => l.startsWith('Deleted') && l.includes(r.block));
  assert.ok(withdrawals.length > 0, `expected the neighbour to withdraw ${r.block}; monitor:\n${r.monitor.slice(0, 2000)}`);
  assert.ok(r.transmitted - r.received > 0, 'and pings were lost');
});
