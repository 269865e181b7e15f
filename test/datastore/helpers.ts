/**
 * Shared pieces of the datastore integration tests: a real etcd 3.4 in its own network namespace,
 * a second "client" namespace joined to it by a veth (so a test can black-hole the path with
 * iptables inside *its own* namespace), fixtures written with etcdctl, and a syncer running as a
 * child process inside the client namespace that reports over stdout as JSON lines.
 *
 *   [tt-ds-<pid>-<tag>-c] eth0 198.18.0.2/30 ──veth── eth0 198.18.0.1/30 [tt-ds-<pid>-<tag>-e]
 *        syncer-child.ts                                    etcd :2379 (+ unix socket)
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startEtcd, type EtcdHandle } from '../../src/lab/etcd.js';
import { run, waitFor } from '../../src/lab/exec.js';
import { nodeScriptCommand } from '../helpers/tortie-cmd.js';
import { ipIn, netnsAdd, netnsDelete, runIn, sweepStaleNamespaces } from '../../src/lab/netns.js';

export const NS_PREFIX = 'tt-ds-';
export const ETCD_IP = '198.18.0.1';
export const CLIENT_IP = '198.18.0.2';

export function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('datastore integration tests need root (network namespaces, etcd, iptables): run them with sudo');
}

/** Deletes tt-ds-<pid>-* namespaces whose owner process is gone (a crashed earlier run). */
export async function sweepStale(): Promise<void> {
  await sweepStaleNamespaces(NS_PREFIX);
}

export interface EtcdPair {
  etcd: EtcdHandle;
  etcdNs: string;
  clientNs: string;
  /** TCP endpoint reachable from the client namespace. */
  endpoint: string;
  /** Unix socket endpoint reachable from the test process. */
  unixEndpoint: string;
  dir: string;
  etcdctl(...args: string[]): Promise<string>;
  /** Blocks (or unblocks) the client namespace's traffic to etcd with iptables DROP. */
  blackhole(on: boolean): Promise<void>;
  cleanup(): Promise<void>;
}

export async function startEtcdPair(tag: string): Promise<EtcdPair> {
  requireRoot();
  await sweepStale();
  const etcdNs = `${NS_PREFIX}${process.pid}-${tag}-e`;
  const clientNs = `${NS_PREFIX}${process.pid}-${tag}-c`;
  const dir = mkdtempSync(join(tmpdir(), 'tt-ds-'));
  await netnsAdd(etcdNs);
  await netnsAdd(clientNs);
  let etcd: EtcdHandle | undefined;
  const cleanup = async () => {
    await etcd?.stop().catch(() => {});
    await netnsDelete(clientNs);
    await netnsDelete(etcdNs);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const ns of [etcdNs, clientNs]) await ipIn(ns, 'link', 'set', 'lo', 'up');
    await ipIn(etcdNs, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', clientNs);
    await ipIn(etcdNs, 'addr', 'add', `${ETCD_IP}/30`, 'dev', 'eth0');
    await ipIn(clientNs, 'addr', 'add', `${CLIENT_IP}/30`, 'dev', 'eth0');
    await ipIn(etcdNs, 'link', 'set', 'eth0', 'up');
    await ipIn(clientNs, 'link', 'set', 'eth0', 'up');
    etcd = await startEtcd({ netns: etcdNs, listenIp: ETCD_IP, dataDir: join(dir, 'data'), logFile: join(dir, 'etcd.log') });
  } catch (e) {
    await cleanup();
    throw e;
  }
  const h = etcd;
  return {
    etcd: h,
    etcdNs,
    clientNs,
    endpoint: h.endpoint,
    unixEndpoint: h.unixEndpoint,
    dir,
    async etcdctl(...args: string[]) {
      const r = await runIn(etcdNs, ['etcdctl', `--endpoints=${h.endpoint}`, ...args], { timeoutMs: 30_000 });
      return r.stdout;
    },
    async blackhole(on: boolean) {
      await runIn(clientNs, ['iptables', '-w', on ? '-I' : '-D', 'OUTPUT', '-d', ETCD_IP, '-p', 'tcp', '--dport', '2379', '-j', 'DROP']);
    },
    cleanup,
  };
}

// --- the syncer as a child process inside the client namespace --------------------------------

export type ChildMessage =
  | { t: 'updates'; batch: { type: string; key: string; revision: string }[] }
  | { t: 'status'; status: string }
  | { t: 'health'; inSync: boolean; lostSince?: number; status: string }
  | { t: 'metrics'; text: string }
  | { t: 'model'; keys: Record<string, string> }
  | { t: 'log'; line: string };

export interface SyncerChild {
  messages: ChildMessage[];
  /** Every (key, revision, type) delivered, in order. */
  updates: { type: string; key: string; revision: string }[];
  statuses: string[];
  request<T extends ChildMessage['t']>(what: T): Promise<Extract<ChildMessage, { t: T }>>;
  stop(): Promise<void>;
  proc: ChildProcessWithoutNullStreams;
}

/** Starts syncer-child.ts inside `netns` (or in this namespace when netns is ''). */
export function startSyncerChild(netns: string, endpoint: string, env: Record<string, string> = {}): SyncerChild {
  const argv = nodeScriptCommand(import.meta.url, 'syncer-child');
  const proc = netns ? spawn('ip', ['netns', 'exec', netns, ...argv], { env: { ...process.env, ETCD_ENDPOINTS: endpoint, ...env } }) : spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ETCD_ENDPOINTS: endpoint, ...env } });
  const messages: ChildMessage[] = [];
  const updates: SyncerChild['updates'] = [];
  const statuses: string[] = [];
  const waiters: { t: string; resolve: (m: ChildMessage) => void }[] = [];
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-20_000)));
  // TT_CHILD_LOG=<file> keeps the child's whole log (with TT_LOG_LEVEL=debug) for a failure's post-mortem.
  if (process.env.TT_CHILD_LOG) proc.stderr.on('data', (d: Buffer) => appendFileSync(process.env.TT_CHILD_LOG!, d));
  createInterface({ input: proc.stdout }).on('line', (line) => {
    let m: ChildMessage;
    try {
      m = JSON.parse(line) as ChildMessage;
    } catch {
      m = { t: 'log', line };
    }
    messages.push(m);
    if (m.t === 'updates') updates.push(...m.batch);
    if (m.t === 'status') statuses.push(m.status);
    const i = waiters.findIndex((w) => w.t === m.t);
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(m);
  });
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  return {
    messages,
    updates,
    statuses,
    proc,
    request(what) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`syncer child did not answer ${what}; stderr:\n${stderr.slice(-3000)}`)), 10_000);
        waiters.push({
          t: what,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m as never);
          },
        });
        proc.stdin.write(`${what}\n`);
      });
    },
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (proc.exitCode === null) proc.kill('SIGKILL');
    },
  };
}

/** Waits until the child reports status InSync at least `count` times. */
export async function waitStatusCount(child: SyncerChild, status: string, count: number, timeoutMs = 60_000): Promise<void> {
  await waitFor(() => child.statuses.filter((s) => s === status).length >= count, { timeoutMs, intervalMs: 50, what: `${count}x ${status}` });
}

export { run, waitFor };
