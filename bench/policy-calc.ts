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
import { validateResource, canonicalKey, type ResourceKind } from '../src/datastore/model/index.js';
import type { Update } from '../src/datastore/syncer.js';
import { CalcGraph } from '../src/calc/graph.js';
import type { PolicyMessage } from '../src/proto/policy.js';

/** Targets from the policy calculation issue. */
const TARGET_INITIAL_S = 2;
const TARGET_RSS_MB = 200;
const TARGET_P99_MS = 5;

const NAMESPACES = 5000;
const POLICIES = 1000;
const LOCAL = 250;
const NODE = 'node-1';
const BATCH = 500;

const { values: args } = parseArgs({
  options: {
    endpoints: { type: 'string', default: '100000' },
    sizes: { type: 'string', default: '1000,10000,100000' },
    reps: { type: 'string', default: '300' },
    'trace-slow': { type: 'string', default: '' },
  },
});

function add(kind: ResourceKind, value: Record<string, unknown>, rev: number): Update {
  const v = validateResource(kind, { apiVersion: 'projectcalico.org/v3', kind, ...value });
  if (!v.ok) throw new Error(`${kind}: ${JSON.stringify(v.problems)}`);
  const md = value.metadata as { name: string; namespace?: string };
  return { type: 'add', kind, key: canonicalKey(kind, md.name, md.namespace), value: v.resource, revision: String(rev) };
}

const ROLES = ['frontend', 'backend', 'db', 'cache'];
const ns = (i: number) => `ns-${i % NAMESPACES}`;
const ipOf = (i: number) => `10.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;

function wep(i: number, rev: number, extraLabels: Record<string, string> = {}, local = i < LOCAL): Update {
  const n = ns(i);
  const pod = `pod-${i}`;
  const node = local ? NODE : `node-${2 + (i % 500)}`;
  return add('WorkloadEndpoint', {
    metadata: {
      name: `${node}-k8s-${pod}-eth0`,
      namespace: n,
      labels: { 'projectcalico.org/namespace': n, 'projectcalico.org/orchestrator': 'k8s', app: `app-${i % 50}`, role: ROLES[i % 4]!, version: `v${i % 3}`, ...extraLabels },
    },
    spec: {
      node, orchestrator: 'k8s', pod, endpoint: 'eth0', interfaceName: `cali${i.toString(16).padStart(11, '0')}`,
      ipNetworks: [`${ipOf(i)}/32`], profiles: [`kns.${n}`, `ksa.${n}.default`],
      ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
    },
  }, rev);
}

function policy(j: number, rev: number, variant = 0): Update {
  const tiers = ['security', 'platform', 'default'];
  const tier = tiers[j % 3]!;
  if (j % 3 === 2) {
    // Namespaced policies in the default tier: what applications write.
    return add('NetworkPolicy', {
      metadata: { name: `np-${j}`, namespace: ns(j) },
      spec: {
        order: 100 + (j % 10), selector: `app == 'app-${j % 50}'`, types: ['Ingress', 'Egress'],
        ingress: [
          { action: 'Allow', protocol: 'TCP', source: { selector: `role == '${ROLES[(j + variant) % 4]}'` }, destination: { ports: [80, 443, 'http'] } },
          { action: 'Allow', source: { namespaceSelector: `team == 'team-${j % 20}'` } },
        ],
        egress: [{ action: 'Allow', protocol: 'UDP', destination: { ports: [53] } }, { action: 'Allow', destination: { selector: `role == 'db'` } }],
      },
    }, rev);
  }
  return add('GlobalNetworkPolicy', {
    metadata: { name: `gnp-${j}` },
    spec: {
      tier, order: j % 100, selector: j % 2 ? `role == '${ROLES[j % 4]}'` : `version == 'v${j % 3}'`,
      ingress: [
        { action: j % 5 === 0 ? 'Deny' : 'Pass', source: { nets: [`192.0.${j % 256}.0/24`], notNets: ['192.0.0.0/30'] } },
        { action: 'Allow', protocol: 'ICMP', icmp: { type: 8 } },
        { action: 'Allow', source: { selector: `app == 'app-${(j + variant) % 50}' && role == 'frontend'` } },
      ],
      egress: [{ action: 'Allow' }],
    },
  }, rev);
}

/** The cluster's updates, generated batch by batch (the syncer does not keep values either). */
function* cluster(endpoints: number): Generator<Update> {
  let rev = 1;
  yield add('Tier', { metadata: { name: 'security' }, spec: { order: 100 } }, rev++);
  yield add('Tier', { metadata: { name: 'platform' }, spec: { order: 200 } }, rev++);
  for (let i = 0; i < NAMESPACES; i++) {
    yield add('Profile', { metadata: { name: `kns.${ns(i)}` }, spec: { ingress: [{ action: 'Allow' }], egress: [{ action: 'Allow' }], labelsToApply: { 'pcns.projectcalico.org/name': ns(i), 'pcns.team': `team-${i % 20}` } } }, rev++);
    yield add('Profile', { metadata: { name: `ksa.${ns(i)}.default` }, spec: { labelsToApply: { 'pcsa.projectcalico.org/name': 'default' } } }, rev++);
  }
  for (let j = 0; j < POLICIES; j++) yield policy(j, rev++);
  for (let i = 0; i < endpoints; i++) yield wep(i, rev++);
}

function newGraph(): { g: CalcGraph; counts: Map<string, number> } {
  const counts = new Map<string, number>();
  const noop = () => undefined;
  const g = new CalcGraph(
    { nodeName: NODE, networkingBackend: 'bird', uplinkMtu: 1500, vxlanVni: 4096, vxlanPort: 4789 },
    {
      dataplane: { setRoute: noop, deleteRoute: noop, setVxlanDevice: noop, setIpipDevice: noop, setVtep: noop, deleteVtep: noop },
      policy: {
        onPolicyMessages(msgs: readonly PolicyMessage[]) {
          for (const m of msgs) counts.set(m.type, (counts.get(m.type) ?? 0) + 1);
        },
      },
    },
  );
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
