/**
 * Runs `tortie agent` inside a lab node's namespace, the way a DaemonSet pod with
 * hostNetwork runs calico-node on a real host: detached, configured through the same
 * environment variables, its log in the lab's work dir and its pid in the state file.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isRunning, processStartTime, spawnDaemon, stopProcess, tailFile, waitFor, StopWaiting } from './exec.js';
import { runIn } from './netns.js';
import type { AgentState, LabState, NodeState } from './state.js';
import { UserError } from '../util/errors.js';

/** Felix's health port (calico-reference.md: FELIX_HEALTHPORT default 9099). */
export const AGENT_HEALTH_PORT = 9099;
/** How long SIGTERM gets before SIGKILL on `agent stop`: long enough for a graceful BGP shutdown. */
export const AGENT_STOP_GRACE_MS = 15_000;
/**
 * How long a started agent gets to answer on its health port (or, with health off, to create its
 * control socket). Under tsx on a loaded 2-core machine the agent's start-up (compiling its
 * modules, reading the config) was seen to take well over 10 s; a minute leaves room for that and
 * still ends a start that hangs.
 */
export const AGENT_START_TIMEOUT_MS = 60_000;
/** Between start-up probes: each one spawns curl inside the namespace. */
const AGENT_PROBE_INTERVAL_MS = 250;

const here = dirname(fileURLToPath(import.meta.url));
const fromDist = here.includes(`${sep}dist${sep}src${sep}`);
/** Repository root, from src/lab or dist/src/lab. */
export const REPO_ROOT = fromDist ? join(here, '..', '..', '..') : join(here, '..', '..');

/**
 * argv that runs tortie, to be followed by the subcommand and its arguments: the compiled build
 * when we run from dist/ (as `make test` does, so what is tested is what ships), else TypeScript
 * via tsx. The integration tests start tortie through this too (test/helpers/tortie-cmd.ts).
 */
export function tortieArgv(): string[] {
  if (fromDist) {
    const main = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
    if (!existsSync(main)) throw new Error(`${main} is missing; run 'make build' first`);
    // Source maps so an internal error's stack points at the TypeScript line.
    return [process.execPath, '--enable-source-maps', main];
  }
  // Resolved to a file URL so the command works from any working directory (a bare `tsx` would
  // be looked up from the child's cwd).
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

/**
 * Where the started agent's health server will be, or undefined when it will have none (health
 * off) or the port is not a number (the agent rejects that config itself and exits: we wait for
 * the exit and report its log). Only the keys the lab writes are read (upper case).
 */
export function healthProbeTarget(env: NodeJS.ProcessEnv): { host: string; port: number } | undefined {
  if (/^(false|no|0|off)$/i.test(env.FELIX_HEALTHENABLED ?? 'true')) return undefined;
  const port = Number(env.FELIX_HEALTHPORT ?? AGENT_HEALTH_PORT);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  const h = env.FELIX_HEALTHHOST ?? '127.0.0.1';
  // A wildcard listener answers on loopback.
  const host = h === '' || h === '0.0.0.0' ? '127.0.0.1' : h === '::' ? '::1' : h;
  return { host, port };
}

/** Does anything answer HTTP on the health port inside the namespace? (Any status counts.) */
async function healthAnswers(netns: string, t: { host: string; port: number }): Promise<boolean> {
  const host = t.host.includes(':') ? `[${t.host}]` : t.host;
  const r = await runIn(netns, ['curl', '-s', '-o', '/dev/null', '-m', '2', '-w', '%{http_code}', `http://${host}:${t.port}/liveness`], { allowFailure: true, timeoutMs: 5_000 });
  return /^[1-5]\d\d$/.test(r.stdout.trim());
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
  const env = agentEnv(state, node, controlSocket, o);
  const health = healthProbeTarget(env);
  // A socket file left by an earlier agent must not look like this one being up.
  rmSync(controlSocket, { force: true });
  const pid = await spawnDaemon(['ip', 'netns', 'exec', node.netns, ...argv], { logFile, env, cwd: REPO_ROOT });
  // `ip netns exec` execs the command, so the pid is the agent's. Started means serving: an
  // agent that is still loading could yet exit on a config error, so surviving a moment is not
  // enough. Up = its health port answers any HTTP status (503 is a live process that is not
  // ready) or, with health off, its control socket exists.
  const started = Date.now();
  try {
    await waitFor(
      async () => {
        if (!isRunning(pid)) throw new StopWaiting(`the agent on ${node.name} exited ${((Date.now() - started) / 1000).toFixed(1)} s after start`);
        if (health) return healthAnswers(node.netns, health);
        return existsSync(controlSocket);
      },
      {
        timeoutMs: AGENT_START_TIMEOUT_MS,
        intervalMs: AGENT_PROBE_INTERVAL_MS,
        what: `the agent on ${node.name} to ${health ? `answer on ${health.host}:${health.port}/liveness` : `create ${controlSocket}`}`,
      },
    );
  } catch (e) {
    // Never leave an agent running that the state file does not record.
    if (isRunning(pid)) await stopProcess(pid, { signal: 'SIGKILL', graceMs: 5_000 });
    throw new UserError(`${(e as Error).message}; last lines of ${logFile}:\n${tailFile(logFile, 20)}`);
  }
  const a: AgentState = { pid, startTime: processStartTime(pid), logFile, controlSocket, healthPort: health?.port ?? AGENT_HEALTH_PORT, startedAt: new Date().toISOString() };
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
