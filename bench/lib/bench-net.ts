/**
 * The benchmark's private test bed: two network namespaces `tt-bench-<pid>-snd` and
 * `tt-bench-<pid>-rcv` joined by one veth pair (198.18.200.1/24 ↔ 198.18.200.2/24, addresses
 * that exist only inside them), daemons started inside them with their output in log files, and
 * cleanup of everything we made. Namespaces left by a crashed earlier run are removed only when
 * the pid in their name is dead, so a concurrent run is never touched.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../src/lab/exec.js';
import { netnsAdd, netnsDelete, spawnLoggedIn, sweepStaleNamespaces, type LoggedChild } from '../../src/lab/netns.js';

export const NS_PREFIX = `tt-bench-${process.pid}`;
export const SENDER_ADDR = '198.18.200.1';
export const RECEIVER_ADDR = '198.18.200.2';

/** A daemon in one of the bench's namespaces. */
export type Daemon = LoggedChild;

export function requireRoot(tools: string[]): void {
  if (process.getuid?.() !== 0) throw new Error('the BGP benchmark needs root (it creates network namespaces); run it with sudo');
  for (const t of tools) {
    if (!['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/bin'].some((d) => existsSync(join(d, t)))) {
      throw new Error(`${t} is not installed (make deps installs it)`);
    }
  }
}

/** Deletes tt-bench-<pid>-* namespaces whose creating process is gone. */
export async function sweepStale(): Promise<void> {
  await sweepStaleNamespaces('tt-bench-');
}

/**
 * The argv that runs a TypeScript entry point of this repository: the compiled `.js` next to us
 * when the benchmark itself runs compiled (`make bench-bgp`), else the `.ts` through tsx.
 */
export function entryCommand(relFromRepo: string): string[] {
  // e.g. TORTIE_BENCH_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile tortie's side.
  const flags = (process.env.TORTIE_BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const here = dirname(fileURLToPath(import.meta.url));
  const compiled = import.meta.url.endsWith('.js');
  // bench/lib → repository (or build output) root.
  const root = join(here, '..', '..');
  if (compiled) return [process.execPath, ...flags, join(root, relFromRepo.replace(/\.ts$/, '.js'))];
  return [process.execPath, ...flags, '--import', import.meta.resolve('tsx'), join(root, relFromRepo)];
}

export class BenchNet {
  readonly dir = mkdtempSync(join(tmpdir(), 'tt-bench-'));
  readonly sender = `${NS_PREFIX}-snd`;
  readonly receiver = `${NS_PREFIX}-rcv`;
  private readonly daemons: Daemon[] = [];

  async up(): Promise<void> {
    await sweepStale();
    await netnsAdd(this.sender);
    await netnsAdd(this.receiver);
    await run(['ip', 'link', 'add', 'eth0', 'netns', this.sender, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.receiver]);
    for (const [ns, addr] of [
      [this.sender, SENDER_ADDR],
      [this.receiver, RECEIVER_ADDR],
    ] as const) {
      await run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
      await run(['ip', '-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0']);
      await run(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
    }
  }

  spawnIn(ns: string, name: string, argv: string[]): Daemon {
    const d = spawnLoggedIn(ns, name, argv, join(this.dir, `${name}.log`));
    this.daemons.push(d);
    return d;
  }

  logTail(d: Daemon, lines = 15): string {
    if (!existsSync(d.log)) return '';
    return readFileSync(d.log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  }

  async down(): Promise<void> {
    for (const d of this.daemons.reverse()) await d.stop('SIGKILL').catch(() => undefined);
    await netnsDelete(this.sender);
    await netnsDelete(this.receiver);
    if (!process.env.TORTIE_KEEP_BENCH_LOGS) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Peak resident set size of a live process in MiB (VmHWM), or undefined once it is gone. */
export function peakRssMiB(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

/** Linux USER_HZ: /proc/<pid>/stat counts CPU time in these ticks (100 on every common arch). */
const CLOCK_TICKS_PER_S = 100;

/**
 * CPU time (user + system) a live process has used, in ms, or undefined once it is gone. On a
 * shared, loaded machine this is steadier than wall time: it does not count time spent waiting
 * for a core.
 */
export function cpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name (which may contain spaces).
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(rest[11]) + Number(rest[12])) * 1000) / CLOCK_TICKS_PER_S;
  } catch {
    return undefined;
  }
}

/**
 * CPU time (ms) used so far by this process's finished children (`cutime + cstime`, fields 16
 * and 17 of /proc/self/stat; 10 ms resolution). On a shared machine wall times move with other
 * people's load; CPU times mostly do not, so they show whether a slow round was our work or a
 * wait for a core.
 */
export function childCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[13]) + Number(f[14])) * 1000) / CLOCK_TICKS_PER_S;
}

/** CPU time (ms) of this process itself (all threads: JS, GC, libuv). */
export function ownCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** TCP state ESTABLISHED in /proc/net/tcp, and port 179 in its hex notation. */
const TCP_ESTABLISHED = '01';
const BGP_PORT_HEX = '00B3';

/**
 * Whether the process's network namespace has an established TCP connection to or from port 179,
 * read from /proc/<pid>/net/tcp (no process spawned, so it can be polled every few ms). This is
 * the benchmark's start signal: it is the same for every receiver, whereas asking a daemon for
 * its BGP state is answered late by a daemon busy ingesting (BIRD is single-threaded).
 */
export function bgpTcpEstablished(pid: number): boolean {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/net/tcp`, 'utf8');
  } catch {
    return false;
  }
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || f[3] !== TCP_ESTABLISHED) continue;
    if (f[1]!.endsWith(`:${BGP_PORT_HEX}`) || f[2]!.endsWith(`:${BGP_PORT_HEX}`)) return true;
  }
  return false;
}

/** The i-th /30 of 10.0.0.0/8 onwards: the benchmark's synthetic table. */
export function slash30(i: number): string {
  const n = 0x0a000000 + i * 4;
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}/30`;
}
