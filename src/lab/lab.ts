/**
 * Operations on a lab that is up: pods, agents, etcd outages, exec and status. Each mutating
 * operation takes the lab's lock, loads the state, acts and saves the state, so concurrent
 * commands on one lab (tests adding pods in parallel) never lose each other's changes.
 */
import { spawn } from 'node:child_process';
import { UserError } from '../util/errors.js';
import { startAgent, stopAgent, agentRunning, type AgentStartOptions } from './agent.js';
import { startEtcd } from './etcd.js';
import { isRunning, processStartTime, stopProcess } from './exec.js';
import { validateLabName } from './names.js';
import { netnsExists } from './netns.js';
import { addPod, deletePod, type PodAddOptions } from './pods.js';
import { requireRoot } from './root.js';
import { loadLab, ownerAlive, saveLab, stateFile, withLabLock, type AgentState, type EtcdState, type LabState, type PodState } from './state.js';
import { DOWN_GRACE_MS } from './teardown.js';
import { labDown } from './teardown.js';
import { labUp, type LabUpOptions } from './up.js';

/** Runs `fn` with a fresh lab and always tears it down afterwards. */
export async function withLab<T>(o: LabUpOptions, fn: (lab: LabState) => Promise<T>): Promise<T> {
  const lab = await labUp(o);
  try {
    return await fn(lab);
  } finally {
    await labDown(o.name);
  }
}

// ---- pods and agents (lock, load, act, save) ----

async function mutate<T>(name: string, fn: (s: LabState) => Promise<T>): Promise<T> {
  requireRoot();
  validateLabName(name);
  return withLabLock(name, async () => {
    const s = loadLab(name);
    if (s.phase !== 'ready') throw new UserError(`lab ${name} is not ready (its creation was interrupted); run 'tortie lab down ${name}'`);
    try {
      return await fn(s);
    } finally {
      saveLab(s);
    }
  });
}

export function podAdd(name: string, node: string, pod: string, o: PodAddOptions = {}): Promise<PodState> {
  return mutate(name, (s) => addPod(s, node, pod, o));
}

export function podDel(name: string, pod: string, o: { namespace?: string } = {}): Promise<PodState> {
  return mutate(name, (s) => deletePod(s, pod, o.namespace));
}

export function agentStart(name: string, node: string, o: AgentStartOptions = {}): Promise<AgentState> {
  return mutate(name, (s) => startAgent(s, node, o));
}

/**
 * Starts the agent on several nodes (default: all without a running agent) in parallel under one
 * lock: a 20-node scale test should not pay each agent's start-up check one after another.
 */
export function agentStartAll(name: string, o: AgentStartOptions & { nodes?: string[] } = {}): Promise<AgentState[]> {
  return mutate(name, async (s) => {
    const nodes = o.nodes ?? s.nodes.filter((n) => !agentRunning(n.agent)).map((n) => n.name);
    const results = await Promise.allSettled(nodes.map((n) => startAgent(s, n, o)));
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`${nodes[i]}: ${(r.reason as Error).message}`] : []));
    if (failed.length) throw new UserError(`agents failed to start:\n${failed.join('\n')}`);
    return results.map((r) => (r as PromiseFulfilledResult<AgentState>).value);
  });
}

/** Resolves true if an agent was running. */
export function agentStop(name: string, node: string, o: { kill?: boolean } = {}): Promise<boolean> {
  return mutate(name, (s) => stopAgent(s, node, o));
}

export function agentRestart(name: string, node: string, o: AgentStartOptions & { kill?: boolean } = {}): Promise<AgentState> {
  return mutate(name, async (s) => {
    await stopAgent(s, node, { kill: o.kill });
    return startAgent(s, node, o);
  });
}

/**
 * Stops the lab's etcd (SIGTERM, or SIGKILL with kill) for datastore-outage tests; its data
 * stays. Resolves true if it was running.
 */
export function etcdStop(name: string, o: { kill?: boolean } = {}): Promise<boolean> {
  return mutate(name, async (s) => {
    if (!s.etcd) throw new UserError(`lab ${name} has no etcd`);
    const was = isRunning(s.etcd.pid) && (s.etcd.startTime === undefined || processStartTime(s.etcd.pid) === s.etcd.startTime);
    if (was) await stopProcess(s.etcd.pid, { signal: o.kill ? 'SIGKILL' : 'SIGTERM', graceMs: DOWN_GRACE_MS });
    return was;
  });
}

/** Starts the lab's etcd again on its data dir (after etcdStop), waiting until it is healthy. */
export function etcdStart(name: string): Promise<EtcdState> {
  return mutate(name, async (s) => {
    const e = s.etcd;
    if (!e) throw new UserError(`lab ${name} has no etcd`);
    if (isRunning(e.pid) && (e.startTime === undefined || processStartTime(e.pid) === e.startTime)) {
      throw new UserError(`etcd of lab ${name} is already running (pid ${e.pid})`);
    }
    const h = await startEtcd({ netns: e.netns, listenIp: e.ip, dataDir: e.dataDir, logFile: e.logFile });
    e.pid = h.pid;
    e.startTime = processStartTime(h.pid);
    return e;
  });
}

// ---- exec and status ----

/** Namespace of a lab member: a node, a pod ([ns/]pod), or etcd/bird/fabric/router. */
export function resolveTarget(s: LabState, target: string): string {
  const node = s.nodes.find((n) => n.name === target);
  if (node) return node.netns;
  const [podNs, podName] = target.includes('/') ? target.split('/', 2) : ['default', target];
  const pod = s.pods.find((p) => p.name === podName && p.namespace === podNs) ?? s.pods.find((p) => p.name === target);
  if (pod) return pod.netns;
  const roles: Record<string, string | undefined> = { etcd: s.etcd?.netns, bird: s.bird?.netns, fabric: s.fabricNetns, router: s.routerNetns };
  const r = roles[target];
  if (r) return r;
  throw new UserError(
    `lab ${s.name} has no member ${JSON.stringify(target)} (nodes: ${s.nodes.map((n) => n.name).join(', ')}; pods: ${s.pods.map((p) => `${p.namespace}/${p.name}`).join(', ') || 'none'}; also etcd, bird, fabric, router)`,
  );
}

/** Runs a command in a lab namespace with inherited stdio; resolves with its exit code. */
export async function labExec(name: string, target: string, argv: readonly string[], o: { timeoutMs?: number } = {}): Promise<number> {
  requireRoot();
  validateLabName(name);
  if (argv.length === 0) throw new UserError('lab exec needs a command after --');
  const ns = resolveTarget(loadLab(name), target);
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: 'inherit' });
    const timer = o.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), o.timeoutMs) : undefined;
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve(code ?? (signal ? 128 + 9 : 1));
    });
  });
}

export interface LabStatus {
  name: string;
  phase: LabState['phase'];
  ownerPid: number;
  ownerAlive: boolean;
  workDir: string;
  stateFile: string;
  etcd?: { endpoint: string; pid: number; running: boolean; netns: string };
  bird?: { ip: string; asNumber: number; pid: number; running: boolean; controlSocket: string };
  nodes: { name: string; netns: string; ip: string; netnsExists: boolean; agentPid?: number; agentRunning: boolean; pods: number }[];
  pods: { namespace: string; name: string; node: string; ip: string; iface: string; netns: string }[];
}

export function labStatus(name: string): LabStatus {
  validateLabName(name);
  const s = loadLab(name);
  return {
    name: s.name,
    phase: s.phase,
    ownerPid: s.ownerPid,
    ownerAlive: ownerAlive(s),
    workDir: s.workDir,
    stateFile: stateFile(name),
    etcd: s.etcd && { endpoint: s.etcd.endpoint, pid: s.etcd.pid, running: isRunning(s.etcd.pid), netns: s.etcd.netns },
    bird: s.bird && { ip: s.bird.ip, asNumber: s.bird.asNumber, pid: s.bird.pid, running: isRunning(s.bird.pid), controlSocket: s.bird.controlSocket },
    nodes: s.nodes.map((n) => ({
      name: n.name,
      netns: n.netns,
      ip: n.ip,
      netnsExists: netnsExists(n.netns),
      agentPid: n.agent?.pid,
      agentRunning: agentRunning(n.agent),
      pods: s.pods.filter((p) => p.node === n.name).length,
    })),
    pods: s.pods.map((p) => ({ namespace: p.namespace, name: p.name, node: p.node, ip: p.ip, iface: p.iface, netns: p.netns })),
  };
}

export { loadLab };
