/**
 * Policy calculation benchmark (pure, no root): a cluster of N workload endpoints (250 local to
 * this node) in 5,000 namespaces, 1,000 policies over 3 tiers, fed through the CalcGraph as the
 * syncer delivers them (validated resources, batches of 500). Reports:
 *
 *   initial   time from the first update to the first full rule set (every policy, IP set and
 *             endpoint message delivered), and the peak RSS of the process;
 *   changes   p50 / p99 of one round for: a local pod added, a remote pod's labels changed, one
 *             policy edited, each repeated and at several cluster sizes, to show the cost follows
 *             the change (O(change)), not the cluster (O(total)).
 *
 *   node dist/bench/policy-calc.js [--endpoints 100000] [--sizes 1000,10000,100000] [--reps 300]
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import type { Update } from '../src/datastore/syncer.js';
import type { CalcGraph } from '../src/calc/graph.js';
import type { PolicyMessage } from '../src/proto/policy.js';
import { BATCH, LOCAL, NAMESPACES, POLICIES, ROLES, cluster, policy, policyCalcGraph, wep } from './lib/policy-cluster.js';

/** Targets from the policy calculation issue. */
const TARGET_INITIAL_S = 2;
const TARGET_RSS_MB = 200;
const TARGET_P99_MS = 5;

const { values: args } = parseArgs({
  options: {
    endpoints: { type: 'string', default: '100000' },
    sizes: { type: 'string', default: '1000,10000,100000' },
    reps: { type: 'string', default: '300' },
    'trace-slow': { type: 'string', default: '' },
  },
});

function newGraph(): { g: CalcGraph; counts: Map<string, number> } {
  const counts = new Map<string, number>();
  const g = policyCalcGraph({
    onPolicyMessages(msgs: readonly PolicyMessage[]) {
      for (const m of msgs) counts.set(m.type, (counts.get(m.type) ?? 0) + 1);
    },
  });
  return { g, counts };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);

/** Feeds the whole cluster; only the calc graph's rounds are timed (validation is the syncer's). */
function initial(endpoints: number): { seconds: number; counts: Map<string, number>; g: CalcGraph } {
  const { g, counts } = newGraph();
  let ms = 0;
  let batch: Update[] = [];
  const feed = () => {
    const t0 = performance.now();
    g.onUpdates(batch);
    ms += performance.now() - t0;
    batch = [];
  };
  for (const u of cluster(endpoints)) {
    batch.push(u);
    if (batch.length === BATCH) feed();
  }
  feed();
  return { seconds: ms / 1000, counts, g };
}

function changes(g: CalcGraph, endpoints: number, reps: number): Record<string, number[]> {
  const out: Record<string, number[]> = { 'local pod added': [], 'remote pod relabelled': [], 'policy edited': [] };
  let rev = 10_000_000;
  const traceMs = args['trace-slow'] ? Number(args['trace-slow']) : Infinity;
  const time = (what: string, u: Update) => {
    const t = performance.now();
    g.onUpdates([u]);
    const ms = performance.now() - t;
    out[what]!.push(ms);
    if (ms > traceMs) console.log(`  slow: ${what} ${u.key} ${ms.toFixed(1)} ms`);
  };
  for (let r = 0; r < reps; r++) {
    time('local pod added', wep(endpoints + r, rev++, {}, true));
    const remote = LOCAL + ((r * 7919) % (endpoints - LOCAL));
    time('remote pod relabelled', { ...wep(remote, rev++, { role: ROLES[(remote + 1 + r) % 4]! }), type: 'update' });
    time('policy edited', { ...policy((r * 37) % POLICIES, rev++, r + 1), type: 'update' });
  }
  return out;
}

const reps = Number(args.reps);
const big = Number(args.endpoints);
console.log(`policy-calc: ${big} endpoints (${LOCAL} local), ${NAMESPACES} namespaces, ${POLICIES} policies over 3 tiers`);
const first = initial(big);
const rssMb = Math.max(peakRss, process.memoryUsage().rss) / 2 ** 20;
console.log(`initial calculation: ${first.seconds.toFixed(2)} s (target <= ${TARGET_INITIAL_S} s), peak RSS ${rssMb.toFixed(0)} MB (target <= ${TARGET_RSS_MB} MB)`);
console.log(`  messages: ${[...first.counts].map(([k, v]) => `${k} ${v}`).join(', ')}`);
console.log(`  active: ${first.g.policy.activePolicyCount} policies, ${first.g.policy.activeSelectorCount} selectors`);
clearInterval(sampler);

let worst = 0;
console.log('\none change, one round (ms):      size    p50     p99     max');
for (const size of String(args.sizes).split(',').map(Number)) {
  const g = size === big ? first.g : initial(size).g;
  const res = changes(g, size, reps);
  for (const [what, xs] of Object.entries(res)) {
    const p99 = pct(xs, 99);
    worst = Math.max(worst, p99);
    console.log(`  ${what.padEnd(24)} ${String(size).padStart(7)} ${pct(xs, 50).toFixed(3).padStart(7)} ${p99.toFixed(3).padStart(7)} ${Math.max(...xs).toFixed(3).padStart(7)}`);
  }
}
const ok = first.seconds <= TARGET_INITIAL_S && rssMb <= TARGET_RSS_MB && worst <= TARGET_P99_MS;
console.log(`\nresult: ${ok ? 'within' : 'OUTSIDE'} targets (initial ${first.seconds.toFixed(2)} s, RSS ${rssMb.toFixed(0)} MB, worst p99 ${worst.toFixed(2)} ms)`);
