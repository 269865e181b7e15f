/**
 * Cluster scale: N nodes in the full BGP mesh (N·(N−1)/2 sessions) with P pods spread over them,
 * real etcd, one `tortie agent` per node namespace. Measures the time from starting every agent to
 * full convergence (every node holds a BGP route to every other node's block, its own blackhole
 * and its own workload routes), then RSS and CPU of each agent at rest.
 *
 *   node --import tsx bench/cluster-scale.ts [--nodes 20] [--pods 1000] [--rest 10]
 *
 * The task's point is 20 nodes / 1,000 pods (190 sessions). On a 2-core machine shared with other
 * work, run smaller first: agents start under tsx, whose transpile dominates start-up CPU.
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { agentStartAll, labDown, labUp, podAdd, requireRoot, runIn } from '../src/lab/index.js';
import { loadLab } from '../src/lab/state.js';

const { values } = parseArgs({ options: { nodes: { type: 'string', default: '20' }, pods: { type: 'string', default: '1000' }, rest: { type: 'string', default: '10' } } });
const nodes = Number(values.nodes);
const pods = Number(values.pods);
const restS = Number(values.rest);
/** Give up on convergence after this long. */
const CONVERGE_TIMEOUT_MS = 600_000;
/** Kernel clock ticks per second for /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]); // utime + stime
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function main(): Promise<void> {
  requireRoot();
  const name = `bcs${process.pid % 100000}`;
  await labUp({ name, nodes });
  try {
    const t0 = performance.now();
    const st0 = loadLab(name);
    for (let i = 0; i < pods; i++) await podAdd(name, st0.nodes[i % nodes]!.name, `s${i}`, { namespace: 'scale' });
    console.log(`${pods} pods in ${Math.round((performance.now() - t0) / 1000)} s`);
    const lab = loadLab(name);
    const blocks = new Map<string, Set<string>>();
    for (const p of lab.pods) {
      if (!blocks.has(p.node)) blocks.set(p.node, new Set());
      blocks.get(p.node)!.add(p.block);
    }
    const allBlocks = [...blocks.values()].flatMap((s) => [...s]);
    const start = performance.now();
    await agentStartAll(name, { env: { FELIX_LOGSEVERITYSCREEN: 'Warning' } });
    const convergedAt = new Map<string, number>();
    while (convergedAt.size < nodes && performance.now() - start < CONVERGE_TIMEOUT_MS) {
      for (const n of lab.nodes) {
        if (convergedAt.has(n.name)) continue;
        const r = await runIn(n.netns, ['ip', '-json', '-4', 'route', 'show', 'table', 'main'], { allowFailure: true });
        const routes = JSON.parse(r.stdout || '[]') as { dst: string; protocol?: string; type?: string }[];
        const have = new Set(routes.filter((x) => x.protocol === '81' || x.protocol === 'bgp' || x.type === 'blackhole').map((x) => x.dst));
        const own = blocks.get(n.name) ?? new Set();
        const ok = allBlocks.every((b) => have.has(b)) && [...own].every((b) => have.has(b));
        if (ok) convergedAt.set(n.name, performance.now() - start);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    const conv = [...convergedAt.values()];
    console.log(`converged: ${convergedAt.size}/${nodes} nodes; last at ${Math.round(Math.max(...conv) / 100) / 10} s after starting the agents`);
    await new Promise((r) => setTimeout(r, 5000));
    const pids = loadLab(name).nodes.map((n) => n.agent!.pid);
    const before = pids.map(cpuTicks);
    await new Promise((r) => setTimeout(r, restS * 1000));
    const after = pids.map(cpuTicks);
    const cpu = pids.map((_, i) => ((after[i]! - before[i]!) / USER_HZ / restS) * 100);
    const rss = pids.map(rssMiB);
    const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    console.log(JSON.stringify({
      nodes, pods, sessions: (nodes * (nodes - 1)) / 2,
      convergenceS: +(Math.max(...conv) / 1000).toFixed(1),
      rssMiB: { avg: +avg(rss).toFixed(1), max: +Math.max(...rss).toFixed(1) },
      restCpuPercent: { avg: +avg(cpu).toFixed(2), max: +Math.max(...cpu).toFixed(2) },
    }));
  } finally {
    await labDown(name);
  }
}

await main();
