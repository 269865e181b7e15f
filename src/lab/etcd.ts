/**
 * A single-member etcd 3.4 server for the lab and for integration tests, run inside a network
 * namespace. Besides its TCP client URL on the namespace's address (what the nodes use), it also
 * listens on a unix socket: socket files live in the filesystem, which all namespaces share, so a
 * test or the lab CLI in the root namespace can reach it without any link or route in the root
 * namespace.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isRunning, spawnDaemon, StopWaiting, stopProcess, tailFile, waitFor, type RunResult } from './exec.js';
import { runIn } from './netns.js';

/** etcd's registered client and peer ports (IANA). */
export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;
/**
 * How long a fresh etcd gets to answer a health check. A single member with an empty data dir
 * is usually healthy in well under a second; the margin covers a loaded 2-core CI machine and
 * fsync on slow disks.
 */
export const ETCD_START_TIMEOUT_MS = 30_000;
/** etcdctl's own per-request limit during health polling, so one hung probe cannot eat the budget. */
const HEALTH_PROBE_TIMEOUT = '2s';

export interface StartEtcdOptions {
  /** Network namespace to run in; '' runs in the caller's namespace. */
  netns: string;
  /** Address the client and peer listeners bind (must exist in that namespace). */
  listenIp: string;
  /** Data directory; created if missing, kept across restart(). */
  dataDir: string;
  clientPort?: number;
  peerPort?: number;
  /** Where etcd's output goes; defaults to `<dataDir>/../etcd-<clientPort>.log`. */
  logFile?: string;
  /** Member name; default 'default'. */
  name?: string;
  /** Health-wait limit in ms; default ETCD_START_TIMEOUT_MS. */
  startTimeoutMs?: number;
}

export interface EtcdHandle {
  /** Pid of the running etcd; changes on restart(). */
  readonly pid: number;
  /** TCP client URL, e.g. http://198.18.0.2:2379, reachable from the namespace's fabric. */
  readonly endpoint: string;
  /** The same server over a unix socket (`unix:///...`), reachable from any namespace. */
  readonly unixEndpoint: string;
  readonly logFile: string;
  readonly dataDir: string;
  /** SIGTERM, then SIGKILL after a bounded grace period; resolves once it has exited. */
  stop(): Promise<void>;
  /** Sends a signal (default SIGKILL) without waiting, to simulate a crash. */
  kill(signal?: NodeJS.Signals): void;
  /** Stops (if running) and starts again on the same data dir, waiting until healthy. */
  restart(): Promise<void>;
}

/** Path of the unix socket etcd creates: etcd names it after the URL's host part, in its cwd. */
function unixSocketPath(dataDir: string, clientPort: number): string {
  return join(dataDir, `localhost:${clientPort}`);
}

/** argv for etcdctl against an endpoint (v3 API is the default in 3.4). */
export function etcdctlArgv(endpoint: string, ...args: string[]): string[] {
  return ['etcdctl', `--endpoints=${endpoint}`, ...args];
}

/** Runs `etcdctl endpoint health` inside a namespace; resolves with its result (never throws). */
export function etcdHealth(netns: string, endpoint: string): Promise<RunResult> {
  return runIn(netns, etcdctlArgv(endpoint, `--command-timeout=${HEALTH_PROBE_TIMEOUT}`, 'endpoint', 'health'), {
    allowFailure: true,
    timeoutMs: 10_000,
  });
}

/** Starts etcd and waits until it answers a health check over TCP from inside its namespace. */
export async function startEtcd(opts: StartEtcdOptions): Promise<EtcdHandle> {
  const clientPort = opts.clientPort ?? ETCD_CLIENT_PORT;
  const peerPort = opts.peerPort ?? ETCD_PEER_PORT;
  const name = opts.name ?? 'default';
  const logFile = opts.logFile ?? join(opts.dataDir, '..', `etcd-${clientPort}.log`);
  const clientUrl = `http://${opts.listenIp}:${clientPort}`;
  const peerUrl = `http://${opts.listenIp}:${peerPort}`;
  const socket = unixSocketPath(opts.dataDir, clientPort);
  const argv = [
    'etcd',
    `--name=${name}`,
    `--data-dir=${opts.dataDir}`,
    `--listen-client-urls=${clientUrl},unix://localhost:${clientPort}`,
    `--advertise-client-urls=${clientUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=${name}=${peerUrl}`,
    '--logger=zap',
    '--log-outputs=stderr',
  ];

  let pid = 0;
  const start = async (): Promise<void> => {
    mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
    // A socket file left by a killed etcd would make the new listener fail with EADDRINUSE.
    rmSync(socket, { force: true });
    pid = await spawnDaemon(opts.netns ? ['ip', 'netns', 'exec', opts.netns, ...argv] : argv, {
      logFile,
      cwd: opts.dataDir,
    });
    const timeoutMs = opts.startTimeoutMs ?? ETCD_START_TIMEOUT_MS;
    try {
      await waitFor(
        async () => {
          if (!isRunning(pid)) throw new StopWaiting(`etcd (pid ${pid}) exited`);
          const r = await etcdHealth(opts.netns, clientUrl);
          return r.code === 0 && / is healthy/.test(r.stdout + r.stderr);
        },
        { timeoutMs, intervalMs: 200, what: `etcd at ${clientUrl}${opts.netns ? ` in ${opts.netns}` : ''} to be healthy` },
      );
    } catch (e) {
      await stopProcess(pid, { signal: 'SIGKILL' });
      throw new Error(`${(e as Error).message}\n--- last lines of ${logFile} ---\n${tailFile(logFile, 15)}`);
    }
  };
  await start();

  return {
    get pid() {
      return pid;
    },
    endpoint: clientUrl,
    unixEndpoint: `unix://${socket}`,
    logFile,
    dataDir: opts.dataDir,
    async stop() {
      await stopProcess(pid);
    },
    kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (isRunning(pid)) process.kill(pid, signal);
    },
    async restart() {
      await stopProcess(pid);
      await start();
    },
  };
}
