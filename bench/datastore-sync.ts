/**
 * Datastore sync benchmark against a real etcd 3.4 in a network namespace of its own.
 *
 *   node --import tsx bench/datastore-sync.ts [--scale 1] [--steady-seconds 60] [--rate 1000]
 *        [--consumer cache|keys] [--child-flags=--max-semi-space-size=4] [--page-size 500]
 *        [--etcd-data disk|tmpfs]
 *
 * 1. Loads N WorkloadEndpoints, Nodes and GlobalNetworkPolicies (default 100,000 / 5,000 / 2,000)
 *    with bulk transactions.
 * 2. Times `etcdctl get --prefix /calico --limit 0 -w json > /dev/null` over the same keys.
 * 3. Starts the felix syncer in a separate process (so its RSS is its own) and times start → InSync,
 *    reporting that process's peak RSS.
 * 4. Steady state: `--rate` updates/s for `--steady-seconds`, each value stamped with a sequence
 *    number. Per update the driver records when it issued the put and when etcd acknowledged it,
 *    the syncer process when the update was delivered, so the write → delivery latency splits into
 *    etcd's part (issue → ack: raft, fsync) and the syncer's (ack → delivery). The syncer process
 *    also reports its GC pauses and event-loop delay over the phase.
 *
 * `--consumer cache` (default) attaches a ResourceCache, which keeps every value (what `tortie
 * datastore dump` does); `--consumer keys` keeps only the keys, as the agent's calc does for
 * everything but this node's endpoints — the syncer's own footprint. `--child-flags` passes V8
 * flags to the syncer process. `--etcd-data tmpfs` puts etcd's data directory in /dev/shm: on
 * this shared VM the WAL fsync is most of the write → delivery p99 (the report shows it as the
 * write → etcd ack part); tmpfs takes the disk out to show the syncer's share.
 *
 * Needs root (network namespace). Cleans up its namespace, etcd and temp dir in `finally`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Etcd3 } from 'etcd3';
import { startEtcd, type EtcdHandle } from '../src/lab/etcd.js';
import { run } from '../src/lab/exec.js';
import { ipIn, netnsAdd, netnsDelete } from '../src/lab/netns.js';

const R = '/calico/resources/v3/projectcalico.org';
/** etcd's default --max-txn-ops is 128: the largest transaction a stock etcd accepts. */
const TXN_OPS = 128;
/** Transactions in flight while loading: enough to keep etcd's batching busy on 2 cores. */
const LOAD_CONCURRENCY = 8;
/** Bound on outstanding puts in the steady phase, so a slow etcd shows up as lag, not memory. */
const MAX_INFLIGHT = 500;

// --- the syncer side (child process) ---------------------------------------------------------

/** Wall-clock milliseconds with sub-ms precision, comparable between the two processes. */
function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

async function child(endpoint: string, consumer: string, pageSize: number | undefined): Promise<void> {
  const { monitorEventLoopDelay, PerformanceObserver } = await import('node:perf_hooks');
  const { EtcdBackend } = await import('../src/datastore/etcd/backend.js');
  const { WatcherSyncer } = await import('../src/datastore/watchersyncer.js');
  const { ResourceCache } = await import('../src/datastore/cache.js');
  const { felixScopes } = await import('../src/datastore/syncer.js');
  const out = (m: unknown, then?: () => void) => process.stdout.write(`${JSON.stringify(m)}\n`, then);
  const backend = new EtcdBackend({ config: { endpoints: [endpoint] }, pageSize });
  const syncer = new WatcherSyncer({ name: 'felix', backend, scopes: felixScopes('etcdv3') });
  let size: () => number;
  if (consumer === 'cache') {
    const cache = new ResourceCache().attach(syncer);
    size = () => cache.size;
  } else {
    const keys = new Set<string>();
    syncer.onUpdates((batch) => {
      for (const u of batch) {
        if (u.type === 'delete') keys.delete(u.key);
        else keys.add(u.key);
      }
    });
    size = () => keys.size;
  }
  let measuring = false;
  /** [seq, delivered at] pairs of the steady phase. */
  const delivered: number[] = [];
  syncer.onUpdates((batch) => {
    if (!measuring) return;
    const now = nowMs();
    for (const u of batch) {
      const seq = u.value?.metadata.annotations?.['bench/seq'];
      if (seq !== undefined) delivered.push(Number(seq), now);
    }
  });
  // GC pauses by kind (minor = scavenge, major = mark-compact, incremental, weakcb), in a phase.
  const gcs = new Map<number, { n: number; totalMs: number; maxMs: number }>();
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as { detail?: { kind?: number } }).detail?.kind ?? 0;
      const g = gcs.get(kind) ?? { n: 0, totalMs: 0, maxMs: 0 };
      g.n++;
      g.totalMs += e.duration;
      g.maxMs = Math.max(g.maxMs, e.duration);
      gcs.set(kind, g);
    }
  }).observe({ entryTypes: ['gc'] });
  const GC_KIND: Record<number, string> = { 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weakcb' };
  const gcSummary = () =>
    Object.fromEntries([...gcs].map(([k, g]) => [GC_KIND[k] ?? String(k), { n: g.n, totalMs: Math.round(g.totalMs), maxMs: Math.round(g.maxMs * 10) / 10 }]));
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  const t0 = performance.now();
  syncer.onStatus((s) => {
    if (s !== 'InSync') return;
    const heapBeforeGcMB = process.memoryUsage().heapUsed / 2 ** 20;
    (globalThis as { gc?: () => void }).gc?.();
    const mem = process.memoryUsage();
    const cpu = process.cpuUsage();
    out({ t: 'insync', ms: performance.now() - t0, cpuSeconds: (cpu.user + cpu.system) / 1e6, maxRssKB: process.resourceUsage().maxRSS, resources: size(), heapBeforeGcMB, heapUsedMB: mem.heapUsed / 2 ** 20, externalMB: mem.external / 2 ** 20, rssMB: mem.rss / 2 ** 20, gc: gcSummary() });
  });
  let cpu0 = process.cpuUsage();
  let wall0 = 0;
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line === 'steady-start') {
      measuring = true;
      cpu0 = process.cpuUsage();
      wall0 = performance.now();
      gcs.clear();
      loopDelay.enable();
      out({ t: 'ack' });
    } else if (line === 'steady-end') {
      measuring = false;
      loopDelay.disable();
      const cpu = process.cpuUsage(cpu0);
      const gc = gcSummary();
      (globalThis as { gc?: () => void }).gc?.();
      const liveMB = process.memoryUsage().heapUsed / 2 ** 20;
      out(
        {
          t: 'steady',
          delivered,
          gc,
          loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
          loopDelayMaxMs: loopDelay.max / 1e6,
          cpuSeconds: (cpu.user + cpu.system) / 1e6,
          wallSeconds: (performance.now() - wall0) / 1000,
          maxRssKB: process.resourceUsage().maxRSS,
          liveMB,
        },
        // Exit only once the (large) line has been written: process.exit drops pending pipe writes.
        () => void syncer.stop().then(() => backend.close()).then(() => process.exit(0)),
      );
    }
  });
  syncer.start();
}

// --- the driver --------------------------------------------------------------------------------

function wep(i: number, seq?: number): [string, string] {
  const node = `node-${i % 5000}`;
  const pod = `pod-${i}`;
  const name = `${node.replace(/-/g, '--')}-k8s-${pod.replace(/-/g, '--')}-eth0`;
  const ns = `ns-${i % 100}`;
  const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  const v = {
    kind: 'WorkloadEndpoint',
    apiVersion: 'projectcalico.org/v3',
    metadata: {
      name,
      namespace: ns,
      labels: { app: `app-${i % 50}`, 'projectcalico.org/namespace': ns, 'projectcalico.org/orchestrator': 'k8s', 'projectcalico.org/serviceaccount': 'default' },
      ...(seq !== undefined ? { annotations: { 'bench/seq': String(seq) } } : {}),
      creationTimestamp: '2026-01-02T03:04:05Z',
    },
    spec: {
      orchestrator: 'k8s', node, containerID: `c${i}`, pod, endpoint: 'eth0', serviceAccountName: 'default',
      ipNetworks: [`${ip}/32`], profiles: [`kns.${ns}`, `ksa.${ns}.default`], interfaceName: `cali${(i + 0x1000000).toString(16).slice(0, 11)}`,
      ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
    },
  };
  return [`${R}/workloadendpoints/${ns}/${name}`, JSON.stringify(v)];
}

function node(i: number): [string, string] {
  const v = {
    kind: 'Node', apiVersion: 'projectcalico.org/v3',
    metadata: { name: `node-${i}`, labels: { 'kubernetes.io/hostname': `node-${i}` } },
    spec: { bgp: { ipv4Address: `198.18.${(i >> 8) & 255}.${i & 255}/16`, ipv4IPIPTunnelAddr: `10.200.${(i >> 8) & 255}.${i & 255}` }, orchRefs: [{ nodeName: `node-${i}`, orchestrator: 'k8s' }] },
  };
  return [`${R}/nodes/node-${i}`, JSON.stringify(v)];
}

function policy(i: number): [string, string] {
  const v = {
    kind: 'GlobalNetworkPolicy', apiVersion: 'projectcalico.org/v3',
    metadata: { name: `default.pol-${i}` },
    spec: {
      tier: 'default', order: i, selector: `app == 'app-${i % 50}'`, types: ['Ingress'],
      ingress: [{ action: 'Allow', protocol: 'TCP', source: { selector: `role == 'r${i % 7}'`, nets: ['10.0.0.0/8'] }, destination: { ports: [80, 443, '8000:8100'] } }],
    },
  };
  return [`${R}/globalnetworkpolicies/default.pol-${i}`, JSON.stringify(v)];
}

async function bulkLoad(client: Etcd3, gen: (i: number) => [string, string], n: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (;;) {
      const start = next;
      if (start >= n) return;
      next = Math.min(n, start + TXN_OPS);
      const ops = [];
      for (let i = start; i < next; i++) {
        const [k, v] = gen(i);
        ops.push(client.put(k).value(v));
      }
      await client.if('/bench/never', 'Create', '==', 0).then(...ops).commit();
    }
  };
  await Promise.all(Array.from({ length: LOAD_CONCURRENCY }, worker));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      scale: { type: 'string', default: '1' },
      'steady-seconds': { type: 'string', default: '60' },
      rate: { type: 'string', default: '1000' },
      consumer: { type: 'string', default: 'cache' },
      'child-flags': { type: 'string', default: '' },
      'page-size': { type: 'string' },
      'etcd-data': { type: 'string', default: 'disk' },
      child: { type: 'string' },
    },
  });
  if (values.consumer !== 'cache' && values.consumer !== 'keys') throw new Error(`--consumer must be cache or keys, not ${values.consumer}`);
  const pageSize = values['page-size'] === undefined ? undefined : Number(values['page-size']);
  if (values.child) return child(values.child, values.consumer, pageSize);
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (it runs etcd in a network namespace)');
  const scale = Number(values.scale);
  const nWep = Math.round(100_000 * scale), nNode = Math.round(5_000 * scale), nPol = Math.round(2_000 * scale);
  const steadyS = Number(values['steady-seconds']);
  const rate = Number(values.rate);

  const ns = `tt-ds-${process.pid}-bench`;
  if (values['etcd-data'] !== 'disk' && values['etcd-data'] !== 'tmpfs') throw new Error(`--etcd-data must be disk or tmpfs, not ${values['etcd-data']}`);
  const dir = mkdtempSync(join(values['etcd-data'] === 'tmpfs' ? '/dev/shm' : tmpdir(), 'tt-ds-bench-'));
  let etcd: EtcdHandle | undefined;
  let client: Etcd3 | undefined;
  try {
    await netnsAdd(ns);
    await ipIn(ns, 'link', 'set', 'lo', 'up');
    etcd = await startEtcd({ netns: ns, listenIp: '127.0.0.1', dataDir: join(dir, 'data'), logFile: join(dir, 'etcd.log') });
    client = new Etcd3({ hosts: etcd.unixEndpoint, grpcOptions: { 'grpc.max_receive_message_length': 64 * 1024 * 1024 } });

    let t = performance.now();
    await bulkLoad(client, wep, nWep);
    await bulkLoad(client, node, nNode);
    await bulkLoad(client, policy, nPol);
    const total = nWep + nNode + nPol;
    console.log(`loaded ${nWep} WorkloadEndpoints, ${nNode} Nodes, ${nPol} GlobalNetworkPolicies (${total} keys) in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    t = performance.now();
    await run(['ip', 'netns', 'exec', ns, 'sh', '-c', `etcdctl --endpoints=${etcd.endpoint} get --prefix /calico --limit 0 -w json > /dev/null`], { timeoutMs: 300_000 });
    const etcdctlMs = performance.now() - t;
    console.log(`etcdctl get --prefix /calico -w json > /dev/null: ${etcdctlMs.toFixed(0)} ms`);

    // From a compiled build (dist/bench/datastore-sync.js) the syncer runs as plain JS, as the agent
    // does in production; from source it needs tsx, whose loader adds ~40 MB of RSS.
    const self = fileURLToPath(import.meta.url);
    const loader = self.endsWith('.ts') ? ['--import', 'tsx'] : [];
    const childFlags = values['child-flags'].split(/\s+/).filter(Boolean);
    console.log(`syncer process: consumer ${values.consumer}${childFlags.length ? `, node ${childFlags.join(' ')}` : ''}`);
    const proc = spawn(process.execPath, ['--expose-gc', ...childFlags, ...loader, self, '--child', etcd.unixEndpoint, '--consumer', values.consumer, ...(pageSize ? ['--page-size', String(pageSize)] : [])], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const msgs: Record<string, unknown>[] = [];
    const waiters = new Map<string, (m: Record<string, unknown>) => void>();
    createInterface({ input: proc.stdout }).on('line', (l) => {
      const m = JSON.parse(l) as Record<string, unknown>;
      msgs.push(m);
      waiters.get(String(m.t))?.(m);
    });
    const next = (what: string) => new Promise<Record<string, unknown>>((r) => waiters.set(what, r));
    const insync = await next('insync');
    const syncMs = Number(insync.ms);
    console.log(`syncer start → InSync: ${syncMs.toFixed(0)} ms for ${String(insync.resources)} resources (${(syncMs / etcdctlMs).toFixed(2)}× etcdctl; process CPU ${Number(insync.cpuSeconds).toFixed(1)} s incl. start-up), peak RSS ${(Number(insync.maxRssKB) / 1024).toFixed(0)} MB (at InSync: RSS ${Number(insync.rssMB).toFixed(0)} MB, V8 heap used ${Number(insync.heapBeforeGcMB).toFixed(0)} MB, live after a full GC ${Number(insync.heapUsedMB).toFixed(0)} MB, external ${Number(insync.externalMB).toFixed(0)} MB); GC during sync ${JSON.stringify(insync.gc)}`);

    // Steady state: `rate` updates/s to existing WorkloadEndpoints, each stamped with its write time.
    const ack = next('ack');
    proc.stdin.write('steady-start\n');
    await ack;
    let inflight = 0, sent = 0, skipped = 0, failed = 0;
    /** Per sequence number: when the put was issued and when etcd acknowledged it (nowMs). */
    const issuedAt: number[] = [];
    const ackedAt: number[] = [];
    const tStart = performance.now();
    const tEnd = tStart + steadyS * 1000;
    const intervalMs = 10;
    let issued = 0;
    while (performance.now() < tEnd) {
      // Issue by elapsed time, so a late timer does not lower the rate.
      const due = Math.floor(((performance.now() - tStart) / 1000) * rate);
      while (issued < due) {
        issued++;
        if (inflight >= MAX_INFLIGHT) {
          skipped++;
          continue;
        }
        const seq = sent;
        const [k, v] = wep(seq % Math.max(1, nWep), seq);
        sent++;
        inflight++;
        issuedAt[seq] = nowMs();
        client.put(k).value(v).then(
          () => {
            ackedAt[seq] = nowMs();
            inflight--;
          },
          () => {
            inflight--;
            failed++;
          },
        );
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
    while (inflight > 0) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 500));
    const steadyP = next('steady');
    proc.stdin.write('steady-end\n');
    const s = await steadyP;
    const pairs = s.delivered as number[];
    const e2e: number[] = [], etcdPart: number[] = [], syncerPart: number[] = [];
    for (let i = 0; i < pairs.length; i += 2) {
      const seq = pairs[i]!, at = pairs[i + 1]!;
      e2e.push(at - issuedAt[seq]!);
      etcdPart.push(ackedAt[seq]! - issuedAt[seq]!);
      syncerPart.push(at - ackedAt[seq]!);
    }
    const dist = (xs: number[]) => {
      const sorted = xs.sort((a, b) => a - b);
      const q = (p: number) => (sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN).toFixed(1);
      return `p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${(sorted[sorted.length - 1] ?? NaN).toFixed(1)} ms`;
    };
    console.log(
      `steady: ${sent} updates in ${steadyS} s (${(sent / steadyS).toFixed(0)}/s, ${skipped} skipped at the in-flight cap, ${failed} failed); ` +
        `delivered ${e2e.length}; write → delivery ${dist(e2e)}; of which write → etcd ack ${dist(etcdPart)}; etcd ack → delivery ${dist(syncerPart)}; ` +
        `syncer CPU ${Number(s.cpuSeconds).toFixed(1)} s over ${Number(s.wallSeconds).toFixed(0)} s (${((100 * Number(s.cpuSeconds)) / Number(s.wallSeconds)).toFixed(0)}% of a core); ` +
        `event-loop delay p99 ${Number(s.loopDelayP99Ms).toFixed(1)} ms, max ${Number(s.loopDelayMaxMs).toFixed(1)} ms; GC ${JSON.stringify(s.gc)}; ` +
        `peak RSS ${(Number(s.maxRssKB) / 1024).toFixed(0)} MB, live heap after a full GC ${Number(s.liveMB).toFixed(0)} MB`,
    );
    await new Promise((r) => proc.on('exit', r));
  } finally {
    client?.close();
    await etcd?.stop().catch(() => {});
    await netnsDelete(ns);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
