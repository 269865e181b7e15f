/**
 * Datastore sync benchmark against a real etcd 3.4 in a network namespace of its own.
 *
 *   node --import tsx bench/datastore-sync.ts [--scale 1] [--steady-seconds 60] [--rate 1000]
 *
 * 1. Loads N WorkloadEndpoints, Nodes and GlobalNetworkPolicies (default 100,000 / 5,000 / 2,000)
 *    with bulk transactions.
 * 2. Times `etcdctl get --prefix /calico --limit 0 -w json > /dev/null` over the same keys.
 * 3. Starts the felix syncer in a separate process (so its RSS is its own) and times start → InSync,
 *    reporting that process's peak RSS.
 * 4. Steady state: `--rate` updates/s for `--steady-seconds`, each value stamped with its write
 *    time; the syncer process measures write → delivery latency (p50/p99) and its CPU time.
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

async function child(endpoint: string): Promise<void> {
  const { EtcdBackend } = await import('../src/datastore/etcd/backend.js');
  const { WatcherSyncer } = await import('../src/datastore/watchersyncer.js');
  const { ResourceCache } = await import('../src/datastore/cache.js');
  const { felixScopes } = await import('../src/datastore/syncer.js');
  const out = (m: unknown) => process.stdout.write(`${JSON.stringify(m)}\n`);
  const backend = new EtcdBackend({ config: { endpoints: [endpoint] } });
  const syncer = new WatcherSyncer({ name: 'felix', backend, scopes: felixScopes('etcdv3') });
  const cache = new ResourceCache().attach(syncer);
  let measuring = false;
  const latencies: number[] = [];
  syncer.onUpdates((batch) => {
    if (!measuring) return;
    const now = Date.now();
    for (const u of batch) {
      const ts = Number(u.value?.metadata.annotations?.['bench/ts']);
      if (ts) latencies.push(now - ts);
    }
  });
  const t0 = performance.now();
  syncer.onStatus((s) => {
    if (s !== 'InSync') return;
    const heapBeforeGcMB = process.memoryUsage().heapUsed / 2 ** 20;
    (globalThis as { gc?: () => void }).gc?.();
    const mem = process.memoryUsage();
    const cpu = process.cpuUsage();
    out({ t: 'insync', ms: performance.now() - t0, cpuSeconds: (cpu.user + cpu.system) / 1e6, maxRssKB: process.resourceUsage().maxRSS, resources: cache.size, heapBeforeGcMB, heapUsedMB: mem.heapUsed / 2 ** 20, externalMB: mem.external / 2 ** 20, rssMB: mem.rss / 2 ** 20 });
  });
  let cpu0 = process.cpuUsage();
  let wall0 = 0;
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line === 'steady-start') {
      measuring = true;
      cpu0 = process.cpuUsage();
      wall0 = performance.now();
      out({ t: 'ack' });
    } else if (line === 'steady-end') {
      measuring = false;
      const cpu = process.cpuUsage(cpu0);
      (globalThis as { gc?: () => void }).gc?.();
      const liveMB = process.memoryUsage().heapUsed / 2 ** 20;
      const sorted = [...latencies].sort((a, b) => a - b);
      const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
      out({
        t: 'steady',
        count: sorted.length,
        p50: q(0.5),
        p99: q(0.99),
        max: sorted[sorted.length - 1],
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
        wallSeconds: (performance.now() - wall0) / 1000,
        maxRssKB: process.resourceUsage().maxRSS,
        liveMB,
      });
      void syncer.stop().then(() => backend.close()).then(() => process.exit(0));
    }
  });
  syncer.start();
}

// --- the driver --------------------------------------------------------------------------------

function wep(i: number, ts?: number): [string, string] {
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
      ...(ts ? { annotations: { 'bench/ts': String(ts) } } : {}),
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
      child: { type: 'string' },
    },
  });
  if (values.child) return child(values.child);
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (it runs etcd in a network namespace)');
  const scale = Number(values.scale);
  const nWep = Math.round(100_000 * scale), nNode = Math.round(5_000 * scale), nPol = Math.round(2_000 * scale);
  const steadyS = Number(values['steady-seconds']);
  const rate = Number(values.rate);

  const ns = `tt-ds-${process.pid}-bench`;
  const dir = mkdtempSync(join(tmpdir(), 'tt-ds-bench-'));
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
    const proc = spawn(process.execPath, ['--expose-gc', ...loader, self, '--child', etcd.unixEndpoint], { stdio: ['pipe', 'pipe', 'inherit'] });
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
    console.log(`syncer start → InSync: ${syncMs.toFixed(0)} ms for ${String(insync.resources)} resources (${(syncMs / etcdctlMs).toFixed(2)}× etcdctl; process CPU ${Number(insync.cpuSeconds).toFixed(1)} s incl. start-up), peak RSS ${(Number(insync.maxRssKB) / 1024).toFixed(0)} MB (at InSync: RSS ${Number(insync.rssMB).toFixed(0)} MB, V8 heap used ${Number(insync.heapBeforeGcMB).toFixed(0)} MB, live after a full GC ${Number(insync.heapUsedMB).toFixed(0)} MB, external ${Number(insync.externalMB).toFixed(0)} MB)`);

    // Steady state: `rate` updates/s to existing WorkloadEndpoints, each stamped with its write time.
    const ack = next('ack');
    proc.stdin.write('steady-start\n');
    await ack;
    let inflight = 0, sent = 0, skipped = 0, failed = 0;
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
        const [k, v] = wep(sent % Math.max(1, nWep), Date.now());
        sent++;
        inflight++;
        client.put(k).value(v).then(
          () => inflight--,
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
    console.log(
      `steady: ${sent} updates in ${steadyS} s (${(sent / steadyS).toFixed(0)}/s, ${skipped} skipped at the in-flight cap, ${failed} failed); ` +
        `delivered ${String(s.count)}; latency p50 ${String(s.p50)} ms, p99 ${String(s.p99)} ms, max ${String(s.max)} ms; ` +
        `syncer CPU ${Number(s.cpuSeconds).toFixed(1)} s over ${Number(s.wallSeconds).toFixed(0)} s (${((100 * Number(s.cpuSeconds)) / Number(s.wallSeconds)).toFixed(0)}% of a core); peak RSS ${(Number(s.maxRssKB) / 1024).toFixed(0)} MB, live heap after a full GC ${Number(s.liveMB).toFixed(0)} MB`,
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
