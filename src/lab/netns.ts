/**
 * Network namespaces through iproute2 (`ip netns`). Named namespaces are bind mounts under
 * /run/netns, so they persist after the process that made them exits: that is what lets
 * `tortie lab up` return and `tortie lab down` run later from a fresh process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync } from 'node:fs';
import { pidExists, run, type RunOptions, type RunResult } from './exec.js';

/** Where iproute2 keeps named namespaces. */
export const NETNS_DIR = '/run/netns';

/** argv that runs `argv` inside namespace `ns` (the root namespace when ns is empty). */
export function inNetns(ns: string, argv: readonly string[]): string[] {
  return ns ? ['ip', 'netns', 'exec', ns, ...argv] : [...argv];
}

/** Runs a command inside a namespace (see exec.run). */
export function runIn(ns: string, argv: readonly string[], opts?: RunOptions): Promise<RunResult> {
  return run(inNetns(ns, argv), opts);
}

/** Runs an `ip` command inside a namespace, e.g. ipIn('tl-x-node-1', 'link', 'set', 'lo', 'up'). */
export function ipIn(ns: string, ...args: string[]): Promise<RunResult> {
  return run(['ip', '-n', ns, ...args]);
}

export function netnsExists(ns: string): boolean {
  return existsSync(`${NETNS_DIR}/${ns}`);
}

/** Names of all named namespaces. */
export function netnsList(): string[] {
  if (!existsSync(NETNS_DIR)) return [];
  return readdirSync(NETNS_DIR).sort();
}

export async function netnsAdd(ns: string): Promise<void> {
  await run(['ip', 'netns', 'add', ns]);
}

/** Deletes a namespace; a namespace that is already gone is not an error. */
export async function netnsDelete(ns: string): Promise<void> {
  if (!netnsExists(ns)) return;
  await run(['ip', 'netns', 'delete', ns], { allowFailure: true });
}

/**
 * Deletes the namespaces named `<prefix><pid>-...` whose creating process is gone: what a crashed
 * test or benchmark run left behind. Namespaces of a live run (its pid exists) are never touched,
 * so runs of the same suite can overlap.
 */
export async function sweepStaleNamespaces(prefix: string): Promise<void> {
  for (const ns of netnsList()) {
    if (!ns.startsWith(prefix)) continue;
    const m = /^(\d+)-/.exec(ns.slice(prefix.length));
    if (m && Number(m[1]) !== process.pid && !pidExists(Number(m[1]))) await netnsDelete(ns);
  }
}

/** Pids of every process whose network namespace is `ns` (`ip netns pids`). */
export async function netnsPids(ns: string): Promise<number[]> {
  if (!netnsExists(ns)) return [];
  const r = await run(['ip', 'netns', 'pids', ns], { allowFailure: true });
  if (r.code !== 0) return [];
  return r.stdout
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
}

/** Writes a sysctl inside a namespace (per-namespace sysctls only, e.g. net.ipv4.ip_forward). */
export async function sysctlIn(ns: string, key: string, value: string): Promise<void> {
  await runIn(ns, ['sysctl', '-q', '-w', `${key}=${value}`]);
}

/** How long a process started by spawnLoggedIn gets to exit on its stop signal before SIGKILL. */
const LOGGED_STOP_GRACE_MS = 5_000;

/** A process started by spawnLoggedIn: owned by the caller (a test or benchmark), not detached. */
export interface LoggedChild {
  name: string;
  /** The program's own pid (`ip netns exec` execs it, so this is not a wrapper). */
  pid: number;
  /** Where its stdout and stderr go. */
  log: string;
  child: ChildProcess;
  /** Resolves with the exit code (null when a signal ended it). */
  exited: Promise<number | null>;
  /** Sends `signal` (default SIGTERM; SIGCONT first so a stopped process acts on it), then SIGKILL after a grace period. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts `argv` inside namespace `ns` as our child with its output appended to `log`: the daemons
 * (BIRD, GoBGP, tortie) of the BGP integration tests and benchmark. Unlike spawnDaemon it stays
 * tied to this process, which stops it in its cleanup.
 */
export function spawnLoggedIn(ns: string, name: string, argv: readonly string[], log: string, o: { stdin?: 'ignore' | 'pipe' } = {}): LoggedChild {
  const fd = openSync(log, 'a');
  // stdin 'pipe': a program that exits at end of input then dies with us even if we are killed
  // before our cleanup runs (the pipe closes with our process).
  const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: [o.stdin ?? 'ignore', fd, fd] });
  closeSync(fd);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    name,
    pid: child.pid!,
    log,
    child,
    exited,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(child.pid!, 'SIGCONT');
        process.kill(child.pid!, signal);
      } catch {
        return;
      }
      const t = setTimeout(() => child.kill('SIGKILL'), LOGGED_STOP_GRACE_MS);
      await exited;
      clearTimeout(t);
    },
  };
}
