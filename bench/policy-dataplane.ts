/**
 * Policy dataplane benchmark: the synthetic cluster of policy-calc (bench/lib/policy-cluster.ts)
 * through the real CalcGraph, its policy messages programmed into IP sets and iptables, on both
 * iptables backends, IPv4, every measurement in a network namespace of its own
 * (`tt-bench-<pid>-…`; nothing runs in the root namespace). Per backend and cluster size:
 *
 *   full         the same sets and rules written (1) by plain tools (bench/lib/policy-plain.ts):
 *                one `ipset restore` of every set and one `iptables-restore --noflush` per table,
 *                and (2) by tortie's PolicyDataplane: the ipsets and iptables steps of the
 *                dataplane's reconciler table, updates then deletions, from a fresh namespace, so
 *                including the first pass's read-back of the (empty) kernel. Alternately first,
 *                `--rounds` times; ratio tortie / plain per round, wall and CPU. Both namespaces
 *                are then read back and compared chain by chain and member by member.
 *   incremental  datastore event to rules in place: one WorkloadEndpoint update through the
 *                CalcGraph, its messages queued, one pass of the four steps. A local pod added,
 *                and a remote pod moved in or out of `role == frontend` (IP set members only),
 *                `--reps` each. Every write tortie made is replayed with the plain tool in the
 *                plain namespace (which holds the same state), which gives the plain cost of the
 *                same change, and the commands' own time is told from tortie's.
 *   rss          a child process that does what the agent does at `--endpoints`: the calc graph
 *                feeding one PolicyDataplane, one pass, then RSS and heap after GC.
 *
 *   node --expose-gc dist/bench/policy-dataplane.js [--endpoints 100000] [--sizes 1000,10000,100000]
 *        [--reps 100] [--backends nft,legacy] [--rounds 3]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { netnsAdd, netnsDelete, runIn } from '../src/lab/netns.js';
import { run } from '../src/lab/exec.js';
import type { CalcGraph } from '../src/calc/graph.js';
import type { Update } from '../src/datastore/syncer.js';
import type { PolicyMessage } from '../src/proto/policy.js';
import { ProcessRunner } from '../src/dataplane/exec.js';
import { PolicyDataplane } from '../src/dataplane/policy/policy-dataplane.js';
import type { RenderConfig } from '../src/dataplane/rules/index.js';
import type { ReconcileResult } from '../src/dataplane/route-reconciler.js';
import { childCpuMs, NS_PREFIX, ownCpuMs, requireRoot, sweepStale } from './lib/bench-net.js';
import { BATCH, LOCAL, NAMESPACES, POLICIES, cluster, policyCalcGraph, wep } from './lib/policy-cluster.js';
import { comparePictures, kernelPicture, lockEnv, plainInput, plainRestore, PLAIN_TIMEOUT_MS, type Backend, type PlainInput } from './lib/policy-plain.js';
import { RecordingRunner, writerArgv, type RecordedCommand } from './lib/recording-runner.js';

/** Targets from the task. */
const TARGET_FULL_RATIO = 1.3;
const TARGET_LOCAL_P99_MS = 100;
const TARGET_REMOTE_P99_MS = 50;
const TARGET_RSS_MB = 250;

const BACKENDS: readonly Backend[] = ['nft', 'legacy'];
/** Felix's defaults: the agent's FELIX_* settings left unset. */
const RENDER: RenderConfig = {};

const { values: args } = parseArgs({
  options: {
    endpoints: { type: 'string', default: '100000' },
    sizes: { type: 'string', default: '1000,10000,100000' },
    reps: { type: 'string', default: '100' },
    backends: { type: 'string', default: 'nft,legacy' },
    rounds: { type: 'string', default: '3' },
    /** Internal: the RSS child, programming into this (parent-made) namespace. */
    'rss-child': { type: 'string' },
  },
});

function intArg(name: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer ${min}..${max}, got ${v}`);
  return n;
}

const big = intArg('endpoints', String(args.endpoints), LOCAL + 1, 1_000_000);
const sizes = [...new Set([...String(args.sizes).split(',').map((s) => intArg('sizes', s, LOCAL + 1, 1_000_000)), big])].sort((a, b) => a - b);
const reps = intArg('reps', String(args.reps), 1, 100_000);
const rounds = intArg('rounds', String(args.rounds), 1, 20);
const backends = String(args.backends).split(',').map((b) => {
  if (!(BACKENDS as readonly string[]).includes(b)) throw new Error(`--backends: ${b} is neither nft nor legacy`);
  return b as Backend;
});

const gc = (globalThis as { gc?: () => void }).gc;
const log = (line: string) => console.log(`[${(performance.now() / 1000).toFixed(1).padStart(6)} s] ${line}`);
const ms = (x: number) => `${Math.round(x)} ms`;
const f1 = (x: number) => x.toFixed(1);

function pct(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
const median = (xs: readonly number[]) => pct(xs, 50);

// ---- the cluster through the calc graph ----

/** Where the graph's policy messages go; repointed between phases. */
interface MessageTap {
  to: (msgs: readonly PolicyMessage[]) => void;
}

/** Feeds the whole cluster in syncer-sized batches; returns the graph and how long its rounds took. */
function calcCluster(endpoints: number, tap: MessageTap): { g: CalcGraph; calcMs: number } {
  const g = policyCalcGraph({ onPolicyMessages: (m) => tap.to(m) });
  let calcMs = 0;
  let batch: Update[] = [];
  const feed = () => {
    const t = performance.now();
    g.onUpdates(batch);
    calcMs += performance.now() - t;
    batch = [];
  };
  for (const u of cluster(endpoints)) {
    batch.push(u);
    if (batch.length === BATCH) feed();
  }
  feed();
  return { g, calcMs };
}

// ---- tortie ----

function newDataplane(ns: string, backend: Backend, lockFile: string, runner: RecordingRunner | ProcessRunner): PolicyDataplane {
  return new PolicyDataplane({
    runner,
    netns: ns,
    ipVersions: [4],
    backend,
    render: RENDER,
    lockFile,
    // No timers: every pass is one this benchmark asks for.
    iptablesRefreshMs: 0,
    ipsetsRefreshMs: 0,
    postWriteCheckMs: 0,
    kick: () => undefined,
  });
}

function queue(dp: PolicyDataplane, msgs: readonly PolicyMessage[]): void {
  dp.onMessages(msgs, (kind, _input, e) => {
    throw new Error(`PolicyDataplane rejected a ${kind} message: ${e instanceof Error ? e.message : String(e)}`);
  });
}

interface StepTimes {
  ipsets: number;
  iptables: number;
  deletions: number;
  /** Lines written (ipset and iptables-restore lines, chains deleted). */
  writes: number;
}

/** One pass of the policy steps in the reconciler table's order (updates down, deletions up). */
async function pass(dp: PolicyDataplane): Promise<StepTimes> {
  let writes = 0;
  const check = (what: string, r: ReconcileResult) => {
    if (r.failures || r.waiting) throw new Error(`${what}: ${r.failures} failures, ${r.waiting} waiting: ${r.errors.slice(0, 3).join('; ')}`);
    writes += r.writes;
  };
  let t = performance.now();
  check('ipsets updates', await dp.ipsetsStep.updates());
  const ipsets = performance.now() - t;
  t = performance.now();
  check('iptables updates', await dp.iptablesStep.updates());
  const iptables = performance.now() - t;
  t = performance.now();
  check('iptables deletions', await dp.iptablesStep.deletions!());
  check('ipsets deletions', await dp.ipsetsStep.deletions!());
  return { ipsets, iptables, deletions: performance.now() - t, writes };
}

interface FullRound {
  plainMs: number;
  plainIpsetMs: number;
  plainCpuMs: number;
  tortieMs: number;
  /** This process plus all its children during the pass. */
  tortieCpuMs: number;
  tortieOwnMs: number;
  /** Wall time of the commands tortie ran (reads and writes). */
  tortieExecMs: number;
  /** onMessages before the pass: rendering the chains (the plain text was rendered untimed too). */
  queueMs: number;
  steps: StepTimes;
}

async function tortieFull(ns: string, backend: Backend, msgs: readonly PolicyMessage[], lockFile: string) {
  const runner = new RecordingRunner(new ProcessRunner(PLAIN_TIMEOUT_MS));
  const dp = newDataplane(ns, backend, lockFile, runner);
  let t = performance.now();
  queue(dp, msgs);
  const queueMs = performance.now() - t;
  const own0 = ownCpuMs();
  const child0 = childCpuMs();
  t = performance.now();
  const steps = await pass(dp);
  const wall = performance.now() - t;
  const ownMs = ownCpuMs() - own0;
  const rec = runner.take();
  return { dp, runner, wall, cpuMs: ownMs + childCpuMs() - child0, ownMs, execMs: rec.ms, commands: commandSummary(rec.calls), queueMs, steps };
}

/** `iptables-nft-save 4x 60 ms, …`: the commands of a pass grouped by tool, in first-run order. */
function commandSummary(calls: readonly RecordedCommand[]): string {
  const by = new Map<string, { n: number; ms: number }>();
  for (const c of calls) {
    const tool = writerArgv(c.argv)?.join(' ') ?? c.argv.find((a) => /^(ipset|ip6?tables-(nft|legacy)-(save|restore))$/.test(a)) ?? c.argv.join(' ');
    const key = tool === 'ipset' ? `ipset ${c.argv[c.argv.indexOf('ipset') + 1]}` : tool;
    const e = by.get(key) ?? { n: 0, ms: 0 };
    e.n++;
    e.ms += c.ms;
    by.set(key, e);
  }
  return [...by].map(([k, e]) => `${k} ${e.n}x ${ms(e.ms)}`).join(', ');
}

// ---- incremental ----

interface Latency {
  total: number[];
  calc: number[];
  ipsets: number[];
  iptables: number[];
  /** Wall time of the commands tortie ran in the pass. */
  exec: number[];
  /** The same writes replayed with the plain tools in the plain namespace. */
  plain: number[];
  writes: number[];
}

const newLatency = (): Latency => ({ total: [], calc: [], ipsets: [], iptables: [], exec: [], plain: [], writes: [] });

async function replay(ns: string, writes: readonly RecordedCommand[], lockFile: string): Promise<number> {
  const env = lockEnv(lockFile);
  const t = performance.now();
  for (const w of writes) await runIn(ns, writerArgv(w.argv)!, { input: w.input, env, timeoutMs: PLAIN_TIMEOUT_MS });
  return performance.now() - t;
}

interface Node {
  g: CalcGraph;
  tap: MessageTap;
  dp: PolicyDataplane;
  runner: RecordingRunner;
  nsPlain: string;
  lockFile: string;
}

/** One datastore event to rules in place; then the same writes by the plain tools, untimed for tortie. */
async function event(n: Node, u: Update, into: Latency): Promise<void> {
  n.runner.take();
  const t0 = performance.now();
  n.tap.to = (m) => queue(n.dp, m);
  n.g.onUpdates([u]);
  const t1 = performance.now();
  const steps = await pass(n.dp);
  const t2 = performance.now();
  const rec = n.runner.take();
  into.total.push(t2 - t0);
  into.calc.push(t1 - t0);
  into.ipsets.push(steps.ipsets);
  into.iptables.push(steps.iptables);
  into.exec.push(rec.ms);
  into.writes.push(steps.writes);
  into.plain.push(await replay(n.nsPlain, rec.writes, n.lockFile));
}

async function incremental(label: string, n: Node, size: number): Promise<{ local: Latency; remote: Latency }> {
  const local = newLatency();
  const remote = newLatency();
  let rev = 10_000_000;
  const every = Math.max(1, Math.round(reps / 4));
  for (let r = 0; r < reps; r++) {
    await event(n, wep(size + r, rev++, {}, true), local);
    // A remote pod moved into or out of `role == 'frontend'`: every GNP's third ingress rule
    // selects `app == 'app-N' && role == 'frontend'` for all 50 apps, so its IP leaves or joins
    // one of those sets each time (policy-calc's relabel often changes no set at all).
    const i = LOCAL + ((r * 7919) % (size - LOCAL));
    const role = i % 4 === 0 ? 'backend' : 'frontend';
    await event(n, { ...wep(i, rev++, { role }), type: 'update' }, remote);
    if ((r + 1) % every === 0 || r + 1 === reps) {
      log(`${label}: ${r + 1}/${reps} reps, local pod added p50 ${f1(pct(local.total, 50))} ms, remote pod relabelled p50 ${f1(pct(remote.total, 50))} ms`);
    }
  }
  return { local, remote };
}

// ---- one size, one backend ----

interface SizeResult {
  size: number;
  input: Omit<PlainInput, 'ipset' | 'tables'>;
  messages: number;
  calcMs: number;
  rounds: FullRound[];
  check: string;
  identical: boolean;
  /** After the incremental phase: plain and tortie namespaces still hold the same. */
  checkAfter: string;
  identicalAfter: boolean;
  local: Latency;
  remote: Latency;
}

class Namespaces {
  private readonly made: string[] = [];
  private n = 0;

  async fresh(label: string): Promise<string> {
    const ns = `${NS_PREFIX}-${label}-${this.n++}`;
    this.made.push(ns);
    await netnsAdd(ns);
    await run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    return ns;
  }

  async deleteAll(): Promise<void> {
    for (const ns of this.made.splice(0)) await netnsDelete(ns);
  }
}

async function runSize(backend: Backend, size: number, nss: Namespaces, lockFile: string): Promise<SizeResult> {
  const label = `${backend} ${size}`;
  const collected: PolicyMessage[] = [];
  const tap: MessageTap = { to: (m) => { for (const x of m) collected.push(x); } };
  let t = performance.now();
  const { g, calcMs } = calcCluster(size, tap);
  log(`${label}: calc graph fed ${size} endpoints in ${ms(performance.now() - t)} (graph rounds ${ms(calcMs)}), ${collected.length} policy messages`);
  t = performance.now();
  const input = plainInput(collected, RENDER);
  log(`${label}: plain-tool input built in ${ms(performance.now() - t)}: ${input.sets} sets, ${input.members} members, ${input.chains} chains, ${input.rules} rules in ${input.tables.map(([n]) => n).join(', ')}`);

  const fullRounds: FullRound[] = [];
  let last: Awaited<ReturnType<typeof tortieFull>> | undefined;
  let nsPlain = '';
  let nsOurs = '';
  for (let r = 0; r < rounds; r++) {
    nsPlain = await nss.fresh(`${backend}-${size}-plain`);
    nsOurs = await nss.fresh(`${backend}-${size}-tortie`);
    // Alternate which goes first so neither always runs on a warmer (or busier) machine.
    const plainFirst = r % 2 === 0;
    let plain: Awaited<ReturnType<typeof plainRestore>> | undefined;
    if (plainFirst) plain = await plainRestore(nsPlain, backend, input, lockFile);
    last = await tortieFull(nsOurs, backend, collected, lockFile);
    if (!plainFirst) plain = await plainRestore(nsPlain, backend, input, lockFile);
    const o = last;
    fullRounds.push({
      plainMs: plain!.ms, plainIpsetMs: plain!.ipsetMs, plainCpuMs: plain!.cpuMs,
      tortieMs: o.wall, tortieCpuMs: o.cpuMs, tortieOwnMs: o.ownMs, tortieExecMs: o.execMs, queueMs: o.queueMs, steps: o.steps,
    });
    log(
      `${label}: full round ${r + 1}/${rounds}: plain ${ms(plain!.ms)} (ipset ${ms(plain!.ipsetMs)}), tortie ${ms(o.wall)} ` +
        `(ipsets ${ms(o.steps.ipsets)}, iptables ${ms(o.steps.iptables)}, deletions ${ms(o.steps.deletions)}; commands ${ms(o.execMs)}: ${o.commands}; queueing ${ms(o.queueMs)} before), ` +
        `ratio ${(o.wall / plain!.ms).toFixed(2)}; cpu ${ms(plain!.cpuMs)} vs ${ms(o.cpuMs)} (own ${ms(o.ownMs)})`,
    );
    // Earlier rounds' namespaces are not needed again; the last pair carries on.
    if (r + 1 < rounds) {
      await netnsDelete(nsPlain);
      await netnsDelete(nsOurs);
    }
  }
  const before = comparePictures(...(await Promise.all([kernelPicture(nsPlain, backend), kernelPicture(nsOurs, backend)])));
  log(`${label}: read back: ${before.text}`);
  const messages = collected.length;
  collected.length = 0;

  const node: Node = { g, tap, dp: last!.dp, runner: last!.runner, nsPlain, lockFile };
  const { local, remote } = await incremental(label, node, size);
  const after = comparePictures(...(await Promise.all([kernelPicture(nsPlain, backend), kernelPicture(nsOurs, backend)])));
  log(`${label}: read back after ${2 * reps} changes: ${after.text}`);
  return {
    size,
    input: { sets: input.sets, members: input.members, chains: input.chains, rules: input.rules },
    messages,
    calcMs,
    rounds: fullRounds,
    check: before.text,
    identical: before.identical,
    checkAfter: after.text,
    identicalAfter: after.identical,
    local,
    remote,
  };
}

// ---- RSS, in a process of its own ----

interface RssReport {
  rssMb: number;
  heapMb: number;
  /** Heap after GC with only the graph left (the dataplane dropped). */
  graphHeapMb: number;
  passMs: number;
}

/** The child: what the agent holds at `--endpoints`, measured after one full pass and GC. */
async function rssChild(ns: string): Promise<void> {
  if (!gc) throw new Error('the RSS child needs --expose-gc');
  const lockFile = join(tmpdir(), `tt-bench-${process.pid}.lock`);
  // Held through an object, so that dropping it later leaves nothing else referring to it.
  const held: { dp?: PolicyDataplane } = { dp: newDataplane(ns, backends[0]!, lockFile, new ProcessRunner(PLAIN_TIMEOUT_MS)) };
  // As the agent does: every round's messages straight into the dataplane's queue.
  const tap: MessageTap = { to: (m) => queue(held.dp!, m) };
  const { g } = calcCluster(big, tap);
  const t = performance.now();
  await pass(held.dp!);
  const passMs = performance.now() - t;
  gc();
  const m = process.memoryUsage();
  tap.to = () => undefined;
  delete held.dp;
  gc();
  const graphHeap = process.memoryUsage().heapUsed;
  const report: RssReport = { rssMb: m.rss / 2 ** 20, heapMb: m.heapUsed / 2 ** 20, graphHeapMb: graphHeap / 2 ** 20, passMs };
  // The graph stays alive up to here, so that the last figure is the graph alone.
  if (g.policy.activePolicyCount < 0) throw new Error('unreachable');
  // flock's lock, and the private one RestoreRunner points iptables-legacy-restore at.
  for (const f of [lockFile, `${lockFile}.tortie`]) rmSync(f, { force: true });
  console.log(JSON.stringify(report));
}

async function measureRss(backend: Backend, nss: Namespaces): Promise<RssReport> {
  const ns = await nss.fresh(`${backend}-rss`);
  const argv = [process.execPath, '--expose-gc', fileURLToPath(import.meta.url), '--rss-child', ns, '--endpoints', String(big), '--backends', backend];
  const out = await run(argv, { timeoutMs: PLAIN_TIMEOUT_MS });
  await netnsDelete(ns);
  return JSON.parse(out.stdout.trim().split('\n').pop()!) as RssReport;
}

// ---- report ----

interface BackendResult {
  backend: Backend;
  sizes: SizeResult[];
  rss: RssReport;
}

const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');

function summary(results: BackendResult[]): void {
  const cols = (cells: string[]) => cells.map((c) => c.padStart(24)).join('');
  const rows: string[] = [];
  const row = (what: string, cells: string[], target = '') => rows.push(`${what.padEnd(44)}${cols(cells)}   ${target}`);
  const at = (r: BackendResult, size: number) => r.sizes.find((s) => s.size === size)!;
  const ref = at(results[0]!, big).input;
  console.log(
    `\npolicy dataplane: ${big} endpoints (${LOCAL} local), ${NAMESPACES} namespaces, ${POLICIES} policies over 3 tiers, IPv4: ` +
      `${ref.sets} IP sets / ${ref.members} members, ${ref.chains} chains / ${ref.rules} rules; full programming: medians of ${rounds} rounds; changes: ${reps} reps\n`,
  );
  row('', results.map((r) => r.backend), 'target');
  for (const size of sizes) {
    const full = (r: BackendResult) => at(r, size).rounds;
    const ratio = (r: BackendResult) => median(full(r).map((x) => x.tortieMs / x.plainMs));
    const target = size === big ? `<= ${TARGET_FULL_RATIO}x` : '';
    row(`full @${size}: plain tools / tortie`, results.map((r) => `${ms(median(full(r).map((x) => x.plainMs)))} / ${ms(median(full(r).map((x) => x.tortieMs)))}`));
    row(`full @${size}: ratio`, results.map((r) => `${ratio(r).toFixed(2)}x${size === big ? ` ${verdict(ratio(r) <= TARGET_FULL_RATIO)}` : ''}`), target);
  }
  const fullBig = (r: BackendResult) => at(r, big).rounds;
  row(`full @${big}: ratio incl. queueing messages`, results.map((r) => `${median(fullBig(r).map((x) => (x.tortieMs + x.queueMs) / x.plainMs)).toFixed(2)}x`));
  row(`full @${big}: cpu plain / tortie (own)`, results.map((r) => `${ms(median(fullBig(r).map((x) => x.plainCpuMs)))} / ${ms(median(fullBig(r).map((x) => x.tortieCpuMs)))} (${Math.round(median(fullBig(r).map((x) => x.tortieOwnMs)))})`));
  row(`full @${big}: cpu ratio`, results.map((r) => `${median(fullBig(r).map((x) => x.tortieCpuMs / x.plainCpuMs)).toFixed(2)}x`));
  row('read back: same sets and rules', results.map((r) => (r.sizes.every((s) => s.identical && s.identicalAfter) ? 'yes, all sizes' : 'NO')));
  for (const size of sizes) {
    const cell = (l: Latency, target: number) => `${f1(pct(l.total, 50))} / ${f1(pct(l.total, 99))} ${verdict(pct(l.total, 99) <= target)}`;
    row(`local pod added p50/p99 ms @${size}`, results.map((r) => cell(at(r, size).local, TARGET_LOCAL_P99_MS)), `p99 <= ${TARGET_LOCAL_P99_MS} ms`);
    row(`  same writes by plain tools p50/p99`, results.map((r) => `${f1(pct(at(r, size).local.plain, 50))} / ${f1(pct(at(r, size).local.plain, 99))}`));
    row(`remote pod relabelled p50/p99 ms @${size}`, results.map((r) => cell(at(r, size).remote, TARGET_REMOTE_P99_MS)), `p99 <= ${TARGET_REMOTE_P99_MS} ms`);
    row(`  same writes by plain tools p50/p99`, results.map((r) => `${f1(pct(at(r, size).remote.plain, 50))} / ${f1(pct(at(r, size).remote.plain, 99))}`));
  }
  row(`RSS after full programming @${big} (own process)`, results.map((r) => `${r.rss.rssMb.toFixed(0)} MB ${verdict(r.rss.rssMb <= TARGET_RSS_MB)}`), `<= ${TARGET_RSS_MB} MB`);
  row('  heap after GC: all / calc graph alone', results.map((r) => `${r.rss.heapMb.toFixed(0)} / ${r.rss.graphHeapMb.toFixed(0)} MB`));
  console.log(rows.join('\n'));

  console.log("\nwhere a change's time goes, p50 ms: calc round + queueing | ipsets step | iptables step | of which in commands | lines written | max total");
  for (const r of results) {
    for (const s of r.sizes) {
      const parts = (l: Latency) => `${pct(l.calc, 50).toFixed(2)} | ${f1(pct(l.ipsets, 50))} | ${f1(pct(l.iptables, 50))} | ${f1(pct(l.exec, 50))} | ${pct(l.writes, 50)} | ${f1(Math.max(...l.total))}`;
      console.log(`  ${r.backend.padEnd(6)} ${String(s.size).padStart(7)}  local pod added:       ${parts(s.local)}`);
      console.log(`  ${''.padEnd(6)} ${''.padStart(7)}  remote pod relabelled: ${parts(s.remote)}`);
    }
  }
  const round = (o: object) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'number' ? Math.round(v) : v]));
  console.log(
    JSON.stringify({
      endpoints: big,
      reps,
      rounds,
      results: results.map((r) => ({
        backend: r.backend,
        rss: round(r.rss),
        sizes: r.sizes.map((s) => ({
          size: s.size,
          input: s.input,
          messages: s.messages,
          calcMs: Math.round(s.calcMs),
          identical: s.identical && s.identicalAfter,
          full: s.rounds.map((x) => ({ ...round(x), steps: round(x.steps) })),
          local: { p50: +pct(s.local.total, 50).toFixed(2), p99: +pct(s.local.total, 99).toFixed(2), plainP50: +pct(s.local.plain, 50).toFixed(2) },
          remote: { p50: +pct(s.remote.total, 50).toFixed(2), p99: +pct(s.remote.total, 99).toFixed(2), plainP50: +pct(s.remote.plain, 50).toFixed(2) },
        })),
      })),
    }),
  );
}

async function main(): Promise<void> {
  if (args['rss-child']) return rssChild(args['rss-child']);
  requireRoot(['ip', 'ipset', 'flock', ...backends.flatMap((b) => [`iptables-${b}-restore`, `iptables-${b}-save`])]);
  await sweepStale();
  const dir = mkdtempSync(join(tmpdir(), 'tt-bench-'));
  const lockFile = join(dir, 'xtables.lock');
  const nss = new Namespaces();
  const results: BackendResult[] = [];
  log(`policy-dataplane: ${big} endpoints, sizes ${sizes.join(',')}, ${reps} reps, ${rounds} full rounds, backends ${backends.join(',')}`);
  try {
    for (const b of backends) {
      const rss = await measureRss(b, nss);
      log(`${b}: RSS child at ${big} endpoints: RSS ${rss.rssMb.toFixed(0)} MB, heap ${rss.heapMb.toFixed(0)} MB (calc graph alone ${rss.graphHeapMb.toFixed(0)} MB), pass ${ms(rss.passMs)}`);
      const perSize: SizeResult[] = [];
      for (const size of sizes) {
        perSize.push(await runSize(b, size, nss, lockFile));
        // The kernel frees a namespace's sets and rules lazily; do it between sizes, not during one.
        await nss.deleteAll();
      }
      results.push({ backend: b, sizes: perSize, rss });
    }
  } finally {
    await nss.deleteAll();
    rmSync(dir, { recursive: true, force: true });
  }
  summary(results);
}

main().catch((e: unknown) => {
  console.error(`policy-dataplane: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
