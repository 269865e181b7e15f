/**
 * Route programming benchmark: N workload routes (/32 to a `cali*` veth, proto 3) programmed
 * (1) by a plain `ip -force -batch -` of the same lines and (2) through the Dataplane driver
 * (queue N routes, one apply: link listing, kernel read-back, tracker diff, batch write), each in
 * a fresh namespace of its own, in the same run; then (3) a refresh of the N unchanged routes
 * through the driver (read back, compare, no writes). Decides docs/decisions/0001-netlink.md.
 *
 *   node dist/bench/route-programming.js [--routes 100000]
 *   node --import tsx bench/route-programming.ts --routes 10000      (during development)
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { run } from '../src/lab/exec.js';
import { netnsAdd, netnsDelete } from '../src/lab/netns.js';
import { Dataplane } from '../src/dataplane/dataplane.js';
import { iproute2Kernel } from '../src/dataplane/kernel.js';
import { routeReplaceLine } from '../src/dataplane/iproute2-routes.js';
import type { KernelRoute } from '../src/dataplane/netlink.js';
import type { DesiredRoute } from '../src/dataplane/types.js';
import { childCpuMs, ownCpuMs } from './lib/bench-net.js';

/** Target from the task: the reconciler within 1.25× of plain `ip -batch`. */
const TARGET_RATIO = 1.25;
/** Target from the task: refresh of 100,000 unchanged routes under 1 s. */
const TARGET_REFRESH_MS = 1000;
const DEV = 'calibench0';

function routeDst(i: number): string {
  // 10.64.0.0 upwards: 100,000 /32s fit below 10.66.0.0.
  return `10.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`;
}

async function makeNs(ns: string): Promise<void> {
  await netnsAdd(ns);
  await run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
  await run(['ip', '-n', ns, 'link', 'add', DEV, 'type', 'veth', 'peer', 'name', 'peer0']);
  await run(['ip', '-n', ns, 'link', 'set', DEV, 'up']);
  await run(['ip', '-n', ns, 'link', 'set', 'peer0', 'up']);
}

async function countRoutes(ns: string): Promise<number> {
  const out = (await run(['ip', '-n', ns, 'route', 'show', 'dev', DEV], { timeoutMs: 60_000 })).stdout;
  return out.split('\n').filter(Boolean).length;
}

interface Round {
  batchMs: number;
  /** CPU of the plain `ip -batch`. */
  batchCpuMs: number;
  /** CPU of the reconciler's queue + apply: this process plus every child (`ip` reads, batch). */
  recCpuMs: number;
  /** The part of recCpuMs spent by this process itself (JS, GC, libuv). */
  recOwnCpuMs: number;
  recMs: number;
  queueMs: number;
  applyMs: number;
  refreshMs: number;
  refreshWrites: number;
}

/** (1) plain ip -batch of exactly the lines the reconciler writes, in a fresh namespace. */
async function plainBatch(ns: string, n: number): Promise<{ ms: number; cpuMs: number }> {
  await makeNs(ns);
  const lines: string[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const r: KernelRoute = { table: 254, dst: routeDst(i), type: 'unicast', dev: DEV, onlink: false, scope: 253, protocol: 3, metric: 0 };
    lines[i] = routeReplaceLine(r);
  }
  const input = lines.join('\n') + '\n';
  const c = childCpuMs();
  const t = performance.now();
  const b = await run(['ip', '-n', ns, '-force', '-batch', '-'], { input, timeoutMs: 300_000 });
  const ms = performance.now() - t;
  const cpuMs = childCpuMs() - c;
  if (b.stderr.trim()) throw new Error(`ip -batch reported errors: ${b.stderr.slice(0, 500)}`);
  const count = await countRoutes(ns);
  if (count !== n) throw new Error(`plain ip -batch: expected ${n} routes, kernel has ${count}`);
  return { ms, cpuMs };
}

/** (2) the reconciler: queue N routes, one apply; (3) then an unchanged refresh. */
async function reconciler(ns: string, n: number): Promise<Omit<Round, 'batchMs' | 'batchCpuMs'>> {
  await makeNs(ns);
  const dp = new Dataplane({ kernel: iproute2Kernel({ netns: ns, timeoutMs: 300_000 }), routeRefreshIntervalMs: 3_600_000 });
  dp.setDatastoreInSync(true);
  // The input is built before timing, as the plain batch's text is: the calc layer hands over
  // desired routes it already has.
  const routes: DesiredRoute[] = new Array(n);
  for (let i = 0; i < n; i++) routes[i] = { class: 'workload', dst: routeDst(i), dev: DEV };
  const own0 = ownCpuMs();
  const cpu0 = own0 + childCpuMs();
  let t = performance.now();
  for (const r of routes) dp.setRoute(r);
  const queueMs = performance.now() - t;
  t = performance.now();
  const rep = await dp.applyNow();
  const applyMs = performance.now() - t;
  const recOwnCpuMs = ownCpuMs() - own0;
  const recCpuMs = recOwnCpuMs + childCpuMs() - (cpu0 - own0);
  if (!rep.ok) throw new Error(`reconciler apply failed: ${rep.errors.slice(0, 3).join('; ')}`);
  const count = await countRoutes(ns);
  if (count !== n) throw new Error(`reconciler: expected ${n} routes, kernel has ${count}`);
  dp.requestResync();
  t = performance.now();
  const refresh = await dp.applyNow();
  const refreshMs = performance.now() - t;
  await dp.stop();
  return { recMs: queueMs + applyMs, recCpuMs, recOwnCpuMs, queueMs, applyMs, refreshMs, refreshWrites: refresh.writes };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { routes: { type: 'string', default: '100000' }, rounds: { type: 'string', default: '3' } } });
  const n = Number(values.routes);
  const rounds = Number(values.rounds);
  if (!Number.isInteger(n) || n < 1 || n > 1_000_000) throw new Error(`--routes must be an integer 1..1000000, got ${values.routes}`);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) throw new Error(`--rounds must be an integer 1..20, got ${values.rounds}`);
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (it creates network namespaces)');
  // Every phase gets a fresh namespace, and none is deleted before the end: the kernel frees a
  // namespace's routes asynchronously, which would otherwise steal CPU from the next phase.
  const namespaces: string[] = [];
  const results: Round[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      const nsB = `tt-dp-${process.pid}-b${r}`;
      const nsR = `tt-dp-${process.pid}-r${r}`;
      namespaces.push(nsB, nsR);
      // Alternate which goes first so neither always runs on a warmer machine.
      let batch: { ms: number; cpuMs: number };
      let rec: Omit<Round, 'batchMs' | 'batchCpuMs'>;
      if (r % 2 === 0) {
        batch = await plainBatch(nsB, n);
        rec = await reconciler(nsR, n);
      } else {
        rec = await reconciler(nsR, n);
        batch = await plainBatch(nsB, n);
      }
      const batchMs = batch.ms;
      results.push({ batchMs, batchCpuMs: batch.cpuMs, ...rec });
      console.log(
        `round ${r + 1}: ip -batch ${Math.round(batchMs)} ms, reconciler ${Math.round(rec.recMs)} ms (queue ${Math.round(rec.queueMs)} + apply ${Math.round(rec.applyMs)}), ratio ${(rec.recMs / batchMs).toFixed(2)}, ` +
          `cpu ${Math.round(batch.cpuMs)} vs ${Math.round(rec.recCpuMs)} ms (own ${Math.round(rec.recOwnCpuMs)}), unchanged refresh ${Math.round(rec.refreshMs)} ms / ${rec.refreshWrites} writes`,
      );
    }
  } finally {
    for (const ns of namespaces) await netnsDelete(ns);
  }
  const batchMs = median(results.map((x) => x.batchMs));
  const recMs = median(results.map((x) => x.recMs));
  const ratio = median(results.map((x) => x.recMs / x.batchMs));
  // The write alone, without tracking the 100,000 new desired routes first.
  const applyRatio = median(results.map((x) => x.applyMs / x.batchMs));
  const refreshMs = median(results.map((x) => x.refreshMs));
  const batchCpuMs = median(results.map((x) => x.batchCpuMs));
  const recCpuMs = median(results.map((x) => x.recCpuMs));
  const recOwnCpuMs = median(results.map((x) => x.recOwnCpuMs));
  const refreshWrites = Math.max(...results.map((x) => x.refreshWrites));
  const verdict = ratio <= TARGET_RATIO && refreshMs < TARGET_REFRESH_MS && refreshWrites === 0 ? 'pass' : 'miss';
  console.log(
    [
      `routes: ${n}, rounds: ${rounds} (medians)`,
      `plain ip -batch:   ${Math.round(batchMs)} ms (${Math.round((n / batchMs) * 1000)} routes/s)`,
      `reconciler:        ${Math.round(recMs)} ms (${Math.round((n / recMs) * 1000)} routes/s), queue ${Math.round(median(results.map((x) => x.queueMs)))} ms + apply ${Math.round(median(results.map((x) => x.applyMs)))} ms`,
      `ratio:             ${ratio.toFixed(2)} end to end (target <= ${TARGET_RATIO}), ${applyRatio.toFixed(2)} for the apply alone`,
      `cpu:               ip -batch ${Math.round(batchCpuMs)} ms, reconciler ${Math.round(recCpuMs)} ms (this process ${Math.round(recOwnCpuMs)} + all its ip children)`,
      `unchanged refresh: ${Math.round(refreshMs)} ms, ${refreshWrites} writes (target < ${TARGET_REFRESH_MS} ms, 0 writes)`,
      `verdict:           ${verdict}`,
    ].join('\n'),
  );
  console.log(JSON.stringify({ routes: n, rounds: results.map((x) => Object.fromEntries(Object.entries(x).map(([k, v]) => [k, Math.round(v)]))), median: { batchMs, recMs, ratio, applyRatio, refreshMs, batchCpuMs, recCpuMs, recOwnCpuMs }, verdict }));
}

main().catch((e: unknown) => {
  console.error(`route-programming: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
