/**
 * Network namespaces through iproute2 (`ip netns`). Named namespaces are bind mounts under
 * /run/netns, so they persist after the process that made them exits: that is what lets
 * `tortie lab up` return and `tortie lab down` run later from a fresh process.
 */
import { existsSync, readdirSync } from 'node:fs';
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
