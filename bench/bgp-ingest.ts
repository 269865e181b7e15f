/**
 * BGP ingest benchmark against the real daemons, in private network namespaces.
 *
 *   sudo node dist/bench/bgp-ingest.js --prefixes 200000 --receiver all --direction both
 *   (make bench-bgp BENCH_ARGS="--prefixes 1000000")
 *
 * ingest:   BIRD 1.6 (sender, iBGP, N static /30 blackhole routes) → receiver, one of
 *           BIRD 1.6, GoBGP 3.10, `tortie bgp-speaker`. Measured: time from the receiver's
 *           session reaching Established until it holds all N prefixes, and the receiver's
 *           peak RSS (VmHWM) at that point.
 * announce: tortie's speaker (library, same code) originates N prefixes → BIRD 1.6 receiver;
 *           same measurement on BIRD's side, plus tortie's peak RSS.
 *
 * The sender is restarted for every receiver so each run starts from a loaded, idle sender.
 * Progress is polled (POLL_MS), so times are accurate to about one poll interval. Everything
 * has a deadline and is torn down in `finally`.
 */
import { parseArgs } from 'node:util';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, StopWaiting, waitFor } from '../src/lab/exec.js';
import { controlCall } from '../src/agent/control.js';
import { BenchNet, cpuMs, entryCommand, peakRssMiB, RECEIVER_ADDR, requireRoot, SENDER_ADDR, slash30, type Daemon } from './lib/bench-net.js';

const ASN = 64512;
/** Progress poll interval. birdc/gobgp calls are cheap counters, so this barely loads receivers. */
const POLL_MS = 50;
/** GoBGP needs minutes for a million paths (measured: see docs/bgp-rib.md); skip above this unless forced. */
const GOBGP_DEFAULT_MAX = 200_000;

const { values } = parseArgs({
  options: {
    prefixes: { type: 'string', default: '200000' },
    receiver: { type: 'string', default: 'all' },
    direction: { type: 'string', default: 'both' },
    'gobgp-max': { type: 'string', default: String(GOBGP_DEFAULT_MAX) },
    'timeout-s': { type: 'string', default: '300' },
  },
});

function usage(msg: string): never {
  process.stderr.write(`bgp-ingest: ${msg}\nusage: bgp-ingest [--prefixes N] [--receiver bird|gobgp|tortie|all] [--direction ingest|announce|both] [--gobgp-max N] [--timeout-s S]\n`);
  process.exit(2);
}

const N = Number(values.prefixes);
if (!Number.isInteger(N) || N < 1 || N > 4_000_000) usage(`--prefixes must be an integer from 1 to 4000000, not "${values.prefixes}"`);
const receivers = values.receiver === 'all' ? ['bird', 'gobgp', 'tortie'] : [values.receiver!];
if (!receivers.every((r) => ['bird', 'gobgp', 'tortie'].includes(r))) usage(`unknown --receiver "${values.receiver}"`);
const directions = values.direction === 'both' ? ['ingest', 'announce'] : [values.direction!];
if (!directions.every((d) => ['ingest', 'announce'].includes(d))) usage(`unknown --direction "${values.direction}"`);
const GOBGP_MAX = Number(values['gobgp-max']);
const TIMEOUT_MS = Number(values['timeout-s']) * 1000;

interface Progress {
  established: boolean;
  count: number;
}

interface Result {
  direction: string;
  receiver: string;
  prefixes: number;
  ms?: number;
  /** CPU time the receiver used between Established and holding all N. */
  cpuMs?: number;
  rssMiB?: number;
  note?: string;
}

function birdConf(o: { routerId: string; neighbor: string; passive: boolean; export: boolean; statics: number }): string {
  const lines = [`router id ${o.routerId};`, 'protocol device { scan time 10; }'];
  if (o.statics > 0) {
    lines.push('protocol static st {');
    for (let i = 0; i < o.statics; i++) lines.push(`  route ${slash30(i)} blackhole;`);
    lines.push('}');
  }
  lines.push(`protocol bgp bench {
  local as ${ASN};
  neighbor ${o.neighbor} as ${ASN};
  ${o.passive ? 'passive on;' : ''}
  import ${o.export ? 'none' : 'all'};
  export ${o.export ? 'all' : 'none'};
  next hop self;
  direct;
  gateway direct;
  connect delay time 1;
  connect retry time 2;
  error wait time 1,2;
}`);
  return lines.join('\n') + '\n';
}

type Bird = Daemon & { birdc(cmd: string): Promise<string> };

async function startBird(net: BenchNet, ns: string, name: string, conf: string): Promise<Bird> {
  const cfg = join(net.dir, `${name}.conf`);
  const sock = join(net.dir, `${name}.ctl`);
  writeFileSync(cfg, conf);
  rmSync(sock, { force: true });
  const d = net.spawnIn(ns, name, ['bird', '-f', '-c', cfg, '-s', sock, '-P', join(net.dir, `${name}.pid`)]);
  const birdc = async (cmd: string): Promise<string> => (await run(['birdc', '-s', sock, ...cmd.split(' ')], { timeoutMs: 10_000 })).stdout;
  // A million static routes take BIRD a while to parse: bounded by the run's timeout.
  await waitFor(
    () => {
      if (d.child.exitCode !== null) throw new StopWaiting(`${name} exited: ${net.logTail(d)}`);
      return existsSync(sock);
    },
    { timeoutMs: TIMEOUT_MS, what: `${name} control socket (log: ${d.log})` },
  );
  return Object.assign(d, { birdc });
}

/** BIRD's view of protocol `bench`: Established? how many routes imported? */
async function birdProgress(b: Bird): Promise<Progress> {
  const out = await b.birdc('show protocols all bench');
  const m = /Routes:\s+(\d+) imported/.exec(out);
  return { established: /Established/.test(out), count: m ? Number(m[1]) : 0 };
}

async function startSender(net: BenchNet): Promise<Bird> {
  const b = await startBird(net, net.sender, 'bird-sender', birdConf({ routerId: SENDER_ADDR, neighbor: RECEIVER_ADDR, passive: true, export: true, statics: N }));
  await waitFor(
    async () => {
      const m = /(\d+) of (\d+) routes/.exec(await b.birdc('show route count'));
      return m !== null && Number(m[1]) >= N;
    },
    { timeoutMs: TIMEOUT_MS, intervalMs: 500, what: `sender BIRD to load ${N} static routes` },
  );
  return b;
}

/** Polls until Established, then until `count >= N`; returns ms between the two. */
async function measure(
  what: string,
  progress: () => Promise<Progress>,
  pid: number,
): Promise<{ ms: number; cpuMs?: number; rssMiB?: number }> {
  const deadline = Date.now() + TIMEOUT_MS;
  let tEst: number | undefined;
  let cpuEst: number | undefined;
  for (;;) {
    const now = performance.now();
    let p: Progress = { established: false, count: 0 };
    try {
      p = await progress();
    } catch {
      // not answering yet (starting up): keep polling until the deadline
    }
    if (tEst === undefined && p.established) {
      tEst = now;
      cpuEst = cpuMs(pid);
    }
    if (tEst !== undefined && p.count >= N) {
      const cpuEnd = cpuMs(pid);
      return {
        ms: Math.round(performance.now() - tEst),
        ...(cpuEst !== undefined && cpuEnd !== undefined ? { cpuMs: Math.round(cpuEnd - cpuEst) } : {}),
        rssMiB: peakRssMiB(pid),
      };
    }
    if (Date.now() > deadline) throw new Error(`${what}: timed out after ${TIMEOUT_MS / 1000}s (established=${tEst !== undefined}, count=${p.count} of ${N})`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

async function ingestInto(net: BenchNet, receiver: string): Promise<Result> {
  const base = { direction: 'ingest', receiver, prefixes: N };
  if (receiver === 'gobgp' && N > GOBGP_MAX) return { ...base, note: `skipped: N > --gobgp-max ${GOBGP_MAX}` };
  const sender = await startSender(net);
  try {
    if (receiver === 'bird') {
      const b = await startBird(net, net.receiver, 'bird-receiver', birdConf({ routerId: RECEIVER_ADDR, neighbor: SENDER_ADDR, passive: false, export: false, statics: 0 }));
      try {
        return { ...base, ...(await measure('BIRD receiver', () => birdProgress(b), b.pid)) };
      } finally {
        await b.stop();
      }
    }
    if (receiver === 'gobgp') {
      const cfg = join(net.dir, 'gobgpd.toml');
      writeFileSync(
        cfg,
        `[global.config]\n  as = ${ASN}\n  router-id = "${RECEIVER_ADDR}"\n  port = -1\n\n[[neighbors]]\n  [neighbors.config]\n    neighbor-address = "${SENDER_ADDR}"\n    peer-as = ${ASN}\n`,
      );
      const g = net.spawnIn(net.receiver, 'gobgpd', ['gobgpd', '-f', cfg, '-l', 'warn']);
      const progress = async (): Promise<Progress> => {
        const r = await run(['ip', 'netns', 'exec', net.receiver, 'gobgp', 'neighbor', SENDER_ADDR, '-j'], { timeoutMs: 10_000 });
        const j = JSON.parse(r.stdout) as {
          state?: { session_state?: number };
          afi_safis?: { state?: { received?: number; accepted?: number } }[];
        };
        // session_state 6 is ESTABLISHED in GoBGP's API enum; per-family counters are under afi_safis.
        const count = (j.afi_safis ?? []).reduce((n, f) => n + (f.state?.accepted ?? f.state?.received ?? 0), 0);
        return { established: j.state?.session_state === 6, count };
      };
      try {
        return { ...base, ...(await measure('GoBGP receiver', progress, g.pid)) };
      } finally {
        await g.stop();
      }
    }
    const sock = join(net.dir, 'tortie.sock');
    const cfg = join(net.dir, 'tortie.yaml');
    writeFileSync(
      cfg,
      JSON.stringify({
        routerId: RECEIVER_ADDR,
        asNumber: ASN,
        listen: { address: RECEIVER_ADDR, port: 179 },
        controlSocket: sock,
        logLevel: 'warning',
        peers: [{ address: SENDER_ADDR, asNumber: ASN }],
      }),
    );
    const t = net.spawnIn(net.receiver, 'tortie', [...entryCommand('src/cli/main.ts'), 'bgp-speaker', '--config', cfg]);
    const progress = async (): Promise<Progress> => {
      const r = await controlCall<{ peers: { state: string; prefixes: Record<string, { accepted: number }> }[] }>(sock, 'bgp.peers', undefined, 10_000);
      const p = r.peers[0];
      return { established: p?.state === 'Established', count: p?.prefixes.ipv4?.accepted ?? 0 };
    };
    try {
      return { ...base, ...(await measure('tortie receiver', progress, t.pid)) };
    } catch (e) {
      throw new Error(`${(e as Error).message}\n--- tortie log ---\n${net.logTail(t)}`);
    } finally {
      await t.stop();
    }
  } finally {
    await sender.stop();
  }
}

async function announceFrom(net: BenchNet): Promise<Result> {
  const base = { direction: 'announce', receiver: 'bird', prefixes: N };
  const a = net.spawnIn(net.sender, 'tortie-announcer', [
    ...entryCommand('bench/lib/tortie-announcer.ts'),
    '--router-id', SENDER_ADDR, '--asn', String(ASN), '--peer', RECEIVER_ADDR, '--prefixes', String(N),
  ]);
  try {
    await waitFor(() => net.logTail(a, 50).includes('"ready":true'), { timeoutMs: TIMEOUT_MS, intervalMs: 200, what: `tortie announcer to load ${N} prefixes (log: ${a.log})` });
    const b = await startBird(net, net.receiver, 'bird-receiver', birdConf({ routerId: RECEIVER_ADDR, neighbor: SENDER_ADDR, passive: false, export: false, statics: 0 }));
    try {
      const cpuBefore = cpuMs(a.pid);
      const r = await measure('BIRD receiving from tortie', () => birdProgress(b), b.pid);
      const cpuAfter = cpuMs(a.pid);
      return {
        ...base,
        ms: r.ms,
        ...(cpuBefore !== undefined && cpuAfter !== undefined ? { cpuMs: Math.round(cpuAfter - cpuBefore) } : {}),
        rssMiB: peakRssMiB(a.pid),
        note: `CPU and RSS are tortie's (sender; CPU from BIRD's start); BIRD receiver: ${r.cpuMs ?? '?'} ms CPU, ${r.rssMiB ?? '?'} MiB`,
      };
    } finally {
      await b.stop();
    }
  } catch (e) {
    throw new Error(`${(e as Error).message}\n--- announcer log ---\n${net.logTail(a)}`);
  } finally {
    await a.stop();
  }
}

function table(results: Result[]): string {
  const bird = results.find((r) => r.receiver === 'bird' && r.direction === 'ingest');
  const ratio = (v: number | undefined, ref: number | undefined): string => (v !== undefined && ref ? (v / ref).toFixed(2) : '-');
  const rows = [['direction', 'receiver', 'prefixes', 'wall ms', 'x BIRD', 'CPU ms', 'x BIRD', 'peak RSS MiB', 'x BIRD', 'note']];
  for (const r of results) {
    const ingest = r.direction === 'ingest';
    rows.push([
      r.direction,
      ingest ? r.receiver : 'tortie → bird',
      String(r.prefixes),
      r.ms === undefined ? '-' : String(r.ms),
      ratio(r.ms, bird?.ms),
      r.cpuMs === undefined ? '-' : String(r.cpuMs),
      ingest ? ratio(r.cpuMs, bird?.cpuMs) : '-',
      r.rssMiB === undefined ? '-' : String(r.rssMiB),
      ingest ? ratio(r.rssMiB, bird?.rssMiB) : '-',
      r.note ?? '',
    ]);
  }
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd()).join('\n');
}

async function main(): Promise<void> {
  requireRoot(['ip', 'bird', 'birdc', ...(receivers.includes('gobgp') ? ['gobgpd', 'gobgp'] : [])]);
  const net = new BenchNet();
  const results: Result[] = [];
  const stopAll = (): void => {
    void net.down().finally(() => process.exit(130));
  };
  process.once('SIGINT', stopAll);
  process.once('SIGTERM', stopAll);
  try {
    await net.up();
    if (directions.includes('ingest')) {
      // BIRD first: the other rows are given as ratios to it.
      for (const r of ['bird', 'gobgp', 'tortie'].filter((x) => receivers.includes(x))) {
        process.stderr.write(`ingest: ${N} prefixes, BIRD → ${r} ...\n`);
        try {
          results.push(await ingestInto(net, r));
        } catch (e) {
          results.push({ direction: 'ingest', receiver: r, prefixes: N, note: `FAILED: ${(e as Error).message.split('\n')[0]}` });
          process.stderr.write(`${(e as Error).message}\n`);
        }
      }
    }
    if (directions.includes('announce')) {
      process.stderr.write(`announce: ${N} prefixes, tortie → BIRD ...\n`);
      try {
        results.push(await announceFrom(net));
      } catch (e) {
        results.push({ direction: 'announce', receiver: 'bird', prefixes: N, note: `FAILED: ${(e as Error).message.split('\n')[0]}` });
        process.stderr.write(`${(e as Error).message}\n`);
      }
    }
  } finally {
    await net.down();
  }
  process.stdout.write(`${table(results)}\n`);
  process.stdout.write(`${JSON.stringify(results)}\n`);
  if (results.some((r) => r.note?.startsWith('FAILED'))) process.exitCode = 1;
}

await main();
