/**
 * BGP ingest benchmark against the real daemons, in private network namespaces.
 *
 *   sudo node dist/bench/bgp-ingest.js --prefixes 200000 --receiver all --direction both
 *   (--receiver takes a comma list, e.g. bird,tortie)
 *   (make bench-bgp BENCH_ARGS="--prefixes 1000000")
 *
 * ingest:   BIRD 1.6 (sender, iBGP, N static /30 blackhole routes) → receiver, one of
 *           BIRD 1.6, GoBGP 3.10, `tortie bgp-speaker`. Measured: wall time from the BGP TCP
 *           connection coming up until the receiver holds all N prefixes (so OPEN/KEEPALIVE,
 *           transfer, decode and RIB are all in), the receiver's CPU time over that span, and
 *           its peak RSS (VmHWM).
 * announce: tortie's speaker (library, same code) originates N prefixes → BIRD 1.6 receiver;
 *           same span on BIRD's side, with tortie's CPU and peak RSS.
 *
 * The start is read from /proc/<pid>/net/tcp every START_POLL_MS; the end is polled every
 * POLL_MS through each receiver's own interface (birdc, gobgp, tortie's control socket), so the
 * end is late by up to one poll interval plus one query. The sender is restarted for every
 * receiver so each run starts from a loaded, idle sender. Everything has a deadline and is torn
 * down in `finally`.
 */
import { parseArgs } from 'node:util';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, StopWaiting, waitFor } from '../src/lab/exec.js';
import { controlCall } from '../src/agent/control.js';
import { BenchNet, bgpTcpEstablished, cpuMs, entryCommand, peakRssMiB, RECEIVER_ADDR, requireRoot, SENDER_ADDR, slash30, type Daemon } from './lib/bench-net.js';

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
  process.stderr.write(`bgp-ingest: ${msg}\nusage: bgp-ingest [--prefixes N] [--receiver bird|gobgp|tortie|all|bird,tortie...] [--direction ingest|announce|both] [--gobgp-max N] [--timeout-s S]\n`);
  process.exit(2);
}

const N = Number(values.prefixes);
if (!Number.isInteger(N) || N < 1 || N > 4_000_000) usage(`--prefixes must be an integer from 1 to 4000000, not "${values.prefixes}"`);
const receivers = values.receiver === 'all' ? ['bird', 'gobgp', 'tortie'] : values.receiver!.split(',');
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

/** How often the TCP start signal is polled (a file read, so it can be frequent). */
const START_POLL_MS = 2;

/**
 * Waits for the BGP TCP connection in the receiver's namespace (the start), then polls the
 * receiver until it holds N prefixes (the end). Returns wall ms between the two, the receiver's
 * CPU ms over the same span, and its peak RSS. `pid` must be a process in the receiver namespace
 * (for /proc/<pid>/net/tcp); `cpuPid` is the process whose CPU and RSS are reported.
 */
async function measure(
  what: string,
  progress: () => Promise<Progress>,
  pid: number,
  cpuPid = pid,
): Promise<{ ms: number; cpuMs?: number; rssMiB?: number }> {
  const deadline = Date.now() + TIMEOUT_MS;
  while (!bgpTcpEstablished(pid)) {
    if (Date.now() > deadline) throw new Error(`${what}: no BGP TCP connection within ${TIMEOUT_MS / 1000}s`);
    await new Promise((r) => setTimeout(r, START_POLL_MS));
  }
  const t0 = performance.now();
  const cpu0 = cpuMs(cpuPid);
  let p: Progress = { established: false, count: 0 };
  for (;;) {
    try {
      p = await progress();
    } catch {
      // busy or still starting: keep polling until the deadline
    }
    if (p.count >= N) {
      const ms = Math.round(performance.now() - t0);
      const cpu1 = cpuMs(cpuPid);
      return { ms, ...(cpu0 !== undefined && cpu1 !== undefined ? { cpuMs: Math.round(cpu1 - cpu0) } : {}), rssMiB: peakRssMiB(cpuPid) };
    }
    if (Date.now() > deadline) throw new Error(`${what}: timed out after ${TIMEOUT_MS / 1000}s (established=${p.established}, count=${p.count} of ${N})`);
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
      const r = await measure('BIRD receiving from tortie', () => birdProgress(b), b.pid, a.pid);
      return {
        ...base,
        ms: r.ms,
        ...(r.cpuMs !== undefined ? { cpuMs: r.cpuMs } : {}),
        ...(r.rssMiB !== undefined ? { rssMiB: r.rssMiB } : {}),
        note: `CPU and peak RSS are tortie's (the sender)`,
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
