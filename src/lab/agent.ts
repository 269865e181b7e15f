/**
 * Runs `tortie agent` inside a lab node's namespace, the way a DaemonSet pod with
 * hostNetwork runs calico-node on a real host: detached, configured through the same
 * environment variables, its log in the lab's work dir and its pid in the state file.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isRunning, processStartTime, spawnDaemon, stopProcess, tailFile, waitFor, StopWaiting } from './exec.js';
import type { AgentState, LabState, NodeState } from './state.js';
import { UserError } from '../util/errors.js';

/** Felix's health port (calico-reference.md: FELIX_HEALTHPORT default 9099). */
export const AGENT_HEALTH_PORT = 9099;
/** How long SIGTERM gets before SIGKILL on `agent stop`: long enough for a graceful BGP shutdown. */
export const AGENT_STOP_GRACE_MS = 15_000;
/** A freshly spawned agent must at least survive this long; catches config errors at once. */
const AGENT_SETTLE_MS = 500;

const here = dirname(fileURLToPath(import.meta.url));
const fromDist = here.includes(`${sep}dist${sep}src${sep}`);
/** Repository root, from src/lab or dist/src/lab. */
export const REPO_ROOT = fromDist ? join(here, '..', '..', '..') : join(here, '..', '..');

/** argv that runs tortie: the compiled build when we run from dist/, else TypeScript via tsx. */
export function tortieArgv(): string[] {
  if (fromDist) return [process.execPath, '--enable-source-maps', join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js')];
  return [process.execPath, '--import', import.meta.resolve('tsx'), join(REPO_ROOT, 'src', 'cli', 'main.ts')];
}

export interface AgentStartOptions {
  /** Extra or overriding environment (e.g. FELIX_* knobs for one test). */
  env?: Record<string, string>;
  /** Command to run instead of `tortie agent` (argv; for tests of the lab itself). */
  argv?: string[];
  /** FELIX_LOGSEVERITYSCREEN; default Info. */
  logLevel?: string;
}

export function agentEnv(state: LabState, node: NodeState, controlSocket: string, o: AgentStartOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: process.env.HOME ?? '/root',
    NODENAME: node.name,
    IP: node.ip,
    FELIX_HEALTHENABLED: 'true',
    FELIX_HEALTHHOST: '127.0.0.1',
    FELIX_HEALTHPORT: String(AGENT_HEALTH_PORT),
    FELIX_PROMETHEUSMETRICSENABLED: 'true',
    FELIX_LOGSEVERITYSCREEN: o.logLevel ?? 'Info',
    TORTIE_CONTROL_SOCKET: controlSocket,
  };
  if (state.etcd) {
    env.DATASTORE_TYPE = 'etcdv3';
    env.ETCD_ENDPOINTS = state.etcd.endpoint;
  }
  return { ...env, ...o.env };
}

function nodeOf(state: LabState, name: string): NodeState {
  const n = state.nodes.find((x) => x.name === name);
  if (!n) throw new UserError(`lab ${state.name} has no node ${JSON.stringify(name)} (nodes: ${state.nodes.map((x) => x.name).join(', ')})`);
  return n;
}

export function agentRunning(a: AgentState | undefined): boolean {
  if (!a || !isRunning(a.pid)) return false;
  return a.startTime === undefined || processStartTime(a.pid) === a.startTime;
}

/** Starts the agent on a node (caller holds the lock and saves the state). */
export async function startAgent(state: LabState, nodeName: string, o: AgentStartOptions = {}): Promise<AgentState> {
  const node = nodeOf(state, nodeName);
  if (agentRunning(node.agent)) throw new UserError(`the agent on ${state.name}/${node.name} is already running (pid ${node.agent!.pid})`);
  const dir = join(state.workDir, node.name);
  mkdirSync(dir, { recursive: true });
  const logFile = join(dir, 'agent.log');
  const controlSocket = join(dir, 'control.sock');
  const argv = o.argv ?? [...tortieArgv(), 'agent'];
  if (!o.argv && !fromDist && !existsSync(join(REPO_ROOT, 'src', 'cli', 'main.ts'))) throw new Error(`cannot find tortie under ${REPO_ROOT}`);
  const pid = await spawnDaemon(['ip', 'netns', 'exec', node.netns, ...argv], {
    logFile,
    env: agentEnv(state, node, controlSocket, o),
    cwd: REPO_ROOT,
  });
  // `ip netns exec` execs the command, so the pid is the agent's; a crash on startup shows here.
  const settled = Date.now() + AGENT_SETTLE_MS;
  try {
    await waitFor(
      () => {
        if (!isRunning(pid)) throw new StopWaiting(`the agent on ${node.name} exited at once`);
        return Date.now() >= settled;
      },
      { timeoutMs: AGENT_SETTLE_MS + 2000, what: 'the agent to settle' },
    );
  } catch (e) {
    throw new UserError(`${(e as Error).message}; last lines of ${logFile}:\n${tailFile(logFile, 20)}`);
  }
  const a: AgentState = { pid, startTime: processStartTime(pid), logFile, controlSocket, healthPort: AGENT_HEALTH_PORT, startedAt: new Date().toISOString() };
  node.agent = a;
  return a;
}

/** Stops the agent: SIGTERM and a bounded wait, or SIGKILL with kill (a crash, for restart tests). */
export async function stopAgent(state: LabState, nodeName: string, o: { kill?: boolean } = {}): Promise<boolean> {
  const node = nodeOf(state, nodeName);
  const a = node.agent;
  const wasRunning = agentRunning(a);
  if (a && wasRunning) await stopProcess(a.pid, { signal: o.kill ? 'SIGKILL' : 'SIGTERM', graceMs: AGENT_STOP_GRACE_MS });
  delete node.agent;
  return wasRunning;
}
