/**
 * The lab's public operations: bring a virtual cluster up, tear it down (idempotently, from any
 * process, after any partial failure), sweep labs whose owner died, show status, run commands in
 * its namespaces, and manage pods and agents. Each mutating operation holds the lab's lock and
 * saves the state file after every step that created something, so a crash at any point leaves
 * a state file that `down` can follow.
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';
import { silentLogger, type Logger } from '../util/log.js';
import { startAgent, stopAgent, agentRunning, type AgentStartOptions } from './agent.js';
import { birdConfig, DEFAULT_BIRD_AS, startBird } from './bird.js';
import { DEFAULT_BLOCK_SIZE, DEFAULT_POOL_CIDR, type EncapMode } from './calico-resources.js';
import { provisionCluster } from './datastore.js';
import { etcdHealth, startEtcd } from './etcd.js';
import { isRunning, processStartTime, stopProcess, waitFor } from './exec.js';
import { parseCidr, poolBlocks } from './ipam.js';
import {
  BIRD_IP, bridgeIp, ETCD_IP, FABRIC_PREFIX_LEN, FABRIC_SUBNETS, MAX_NODES, NETNS_PREFIX, labNetnsPrefix, labOfNetns, netnsName, nodeIp,
  nodeName, nodeSubnet, routerIp, validateLabName,
} from './names.js';
import { netnsDelete, netnsExists, netnsList, netnsPids } from './netns.js';
import { addPod, deletePod, deletePodNetns, type PodAddOptions } from './pods.js';
import {
  allStateFiles, indexedStateFile, labDir, loadLab, ownerAlive, readStateFile, removeLabFiles, saveLab, stateFile, withLabLock,
  workDirOf, type LabState, type PodState, type AgentState, type EtcdState,
} from './state.js';
import { addDefaultRoute, attachToFabric, buildFabric, enableForwarding, makeNetns } from './topology.js';

export interface BirdPeerOptions {
  asNumber?: number;
  /** BIRD waits for the nodes to connect. Default false (BIRD connects too). */
  passive?: boolean;
  /** BIRD reflects routes between the nodes (`rr client`). Default true. */
  routeReflector?: boolean;
}

export interface LabUpOptions {
  name: string;
  nodes: number;
  /** 'etcd' (default) runs etcd 3.4 on the fabric; 'none' builds only the network. */
  datastore?: 'etcd' | 'none';
  birdPeer?: boolean | BirdPeerOptions;
  /** 1 (default) or 2: two fabric subnets joined by a router namespace (CrossSubnet tests). */
  subnets?: 1 | 2;
  pool?: { cidr?: string; blockSize?: number; ipipMode?: EncapMode; vxlanMode?: EncapMode; natOutgoing?: boolean };
  /** Write the Node resources (spec.bgp.ipv4Address) as a pre-provisioned cluster has. Default true. */
  provisionNodes?: boolean;
  /** Owner process; the lab is stale once it is gone. Default: this process. 0 = persistent. */
  ownerPid?: number;
  /** Progress messages (the CLI prints them). */
  log?: Logger;
}

/** Limit for tearing down one process in `down`: a lab should go away quickly. */
const DOWN_GRACE_MS = 5_000;
/** How many namespaces to probe at once when checking etcd from every node (2 shared cores). */
const PROBE_CONCURRENCY = 6;

export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new UserError('tortie lab needs root (it creates network namespaces): run it with sudo', { code: 'E_NOT_ROOT' });
  }
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return out;
}

/** Is there any trace of a lab with this name: a state file here, an index entry, a namespace? */
function labExists(name: string): string | undefined {
  if (readStateFile(stateFile(name))) return `state file ${stateFile(name)}`;
  const indexed = indexedStateFile(name);
  if (indexed && readStateFile(indexed)) return `state file ${indexed}`;
  const ns = netnsList().find((n) => n.startsWith(labNetnsPrefix(name)));
  if (ns) return `namespace ${ns}`;
  return undefined;
}

function resolveBirdPeer(b: LabUpOptions['birdPeer']): Required<BirdPeerOptions> | undefined {
  if (!b) return undefined;
  const o = b === true ? {} : b;
  return { asNumber: o.asNumber ?? DEFAULT_BIRD_AS, passive: o.passive ?? false, routeReflector: o.routeReflector ?? true };
}

function validateUp(o: LabUpOptions): void {
  validateLabName(o.name);
  if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > MAX_NODES) throw new UserError(`--nodes must be an integer from 1 to ${MAX_NODES}, got ${o.nodes}`);
  const subnets = o.subnets ?? 1;
  if (subnets !== 1 && subnets !== 2) throw new UserError(`--subnets must be 1 or 2, got ${String(subnets)}`);
  if (subnets === 2 && o.nodes < 2) throw new UserError('--subnets 2 needs at least 2 nodes');
  if (o.datastore !== undefined && o.datastore !== 'etcd' && o.datastore !== 'none') throw new UserError(`--datastore must be etcd or none, got ${String(o.datastore)}`);
  if (o.birdPeer && o.datastore === 'none') throw new UserError('--bird-peer needs the etcd datastore (the BGPPeer resource lives there)');
  const asn = resolveBirdPeer(o.birdPeer)?.asNumber;
  if (asn !== undefined && (!Number.isInteger(asn) || asn < 1 || asn > 4294967295)) throw new UserError(`invalid AS number ${asn}`);
  poolBlocks(o.pool?.cidr ?? DEFAULT_POOL_CIDR, o.pool?.blockSize ?? DEFAULT_BLOCK_SIZE);
}

/** Brings a lab up; on any failure removes everything it made and rethrows. */
export async function labUp(o: LabUpOptions): Promise<LabState> {
  requireRoot();
  validateUp(o);
  const log = o.log ?? silentLogger;
  const subnets = o.subnets ?? 1;
  const bird = resolveBirdPeer(o.birdPeer);
  const pool = { cidr: o.pool?.cidr ?? DEFAULT_POOL_CIDR, blockSize: o.pool?.blockSize ?? DEFAULT_BLOCK_SIZE };
  parseCidr(pool.cidr);
  return withLabLock(o.name, async () => {
    const existing = labExists(o.name);
    if (existing) throw new UserError(`lab ${o.name} already exists (${existing}); run 'tortie lab down ${o.name}' first`);
    const ownerPid = o.ownerPid ?? process.pid;
    const workDir = workDirOf(o.name);
    mkdirSync(workDir, { recursive: true, mode: 0o755 });
    const state: LabState = {
      version: 1,
      name: o.name,
      createdAt: new Date().toISOString(),
      phase: 'creating',
      ownerPid,
      ownerStartTime: ownerPid ? processStartTime(ownerPid) : undefined,
      workDir,
      subnets,
      pool,
      namespaces: [],
      fabricNetns: netnsName(o.name, 'fabric'),
      nodes: [],
      pods: [],
    };
    // Saved before anything exists, so even a crash in the first step is found by `down`.
    saveLab(state);
    const created = (ns: string) => {
      state.namespaces.push(ns);
      saveLab(state);
    };
    try {
      log.info({ lab: o.name }, 'creating the fabric');
      await makeNetns(state.fabricNetns, created);
      await buildFabric(state.fabricNetns, subnets);
      if (subnets === 2) {
        const rtr = netnsName(o.name, 'router');
        await makeNetns(rtr, created);
        state.routerNetns = rtr;
        for (let s = 0; s < 2; s++) {
          await attachToFabric({ fabricNs: state.fabricNetns, memberNs: rtr, fabricIface: `rtr${s}`, subnet: s, ip: routerIp(s), iface: `eth${s}` });
        }
        await enableForwarding(rtr);
      }
      // Like a real host, every member has a default route: to the router in two-subnet labs,
      // else to the bridge address (the fabric namespace does not forward, so it goes no
      // further). Calico depends on one: proxy ARP answers the pods' 169.254.1.1 gateway only
      // when the node has a route to that address.
      const otherSubnetRoute = async (ns: string, subnet: number) => {
        await addDefaultRoute(ns, subnets === 2 ? routerIp(subnet) : bridgeIp(0));
      };
      for (let i = 1; i <= o.nodes; i++) {
        const name = nodeName(i);
        const ns = netnsName(o.name, name);
        const subnet = nodeSubnet(i, o.nodes, subnets);
        const ip = nodeIp(i, o.nodes, subnets);
        log.info({ node: name, ip }, 'creating node');
        await makeNetns(ns, created);
        state.nodes.push({ name, index: i, netns: ns, ip, prefixLen: FABRIC_PREFIX_LEN, subnet, fabricIface: `n${i}` });
        await attachToFabric({ fabricNs: state.fabricNetns, memberNs: ns, fabricIface: `n${i}`, subnet, ip });
        await enableForwarding(ns);
        await otherSubnetRoute(ns, subnet);
        saveLab(state);
      }
      if ((o.datastore ?? 'etcd') === 'etcd') {
        const ns = netnsName(o.name, 'etcd');
        await makeNetns(ns, created);
        await attachToFabric({ fabricNs: state.fabricNetns, memberNs: ns, fabricIface: 'etcd', subnet: 0, ip: ETCD_IP });
        await otherSubnetRoute(ns, 0);
        log.info({ ip: ETCD_IP }, 'starting etcd');
        const logFile = join(workDir, 'etcd.log');
        const dataDir = join(workDir, 'etcd');
        const etcd = await startEtcd({ netns: ns, listenIp: ETCD_IP, dataDir, logFile });
        state.etcd = {
          pid: etcd.pid, startTime: processStartTime(etcd.pid), netns: ns, ip: ETCD_IP, logFile,
          endpoint: etcd.endpoint, unixEndpoint: etcd.unixEndpoint, dataDir,
        };
        saveLab(state);
        // Prove the nodes can reach it, from inside each node namespace.
        await mapLimit(state.nodes, PROBE_CONCURRENCY, async (n) => {
          await waitFor(async () => (await etcdHealth(n.netns, etcd.endpoint)).code === 0, {
            timeoutMs: 15_000,
            intervalMs: 250,
            what: `etcd ${etcd.endpoint} to answer from ${n.name}`,
          });
        });
        await provisionCluster(state, {
          pool,
          nodes: o.provisionNodes ?? true,
          birdPeer: bird ? { ip: BIRD_IP, asNumber: bird.asNumber } : undefined,
        });
      }
      if (bird) {
        const ns = netnsName(o.name, 'bird');
        await makeNetns(ns, created);
        await attachToFabric({ fabricNs: state.fabricNetns, memberNs: ns, fabricIface: 'bird', subnet: 0, ip: BIRD_IP });
        await otherSubnetRoute(ns, 0);
        const configFile = join(workDir, 'bird.conf');
        const controlSocket = join(workDir, 'bird.ctl');
        const logFile = join(workDir, 'bird.log');
        const config = birdConfig({
          routerId: BIRD_IP,
          asNumber: bird.asNumber,
          localIp: BIRD_IP,
          neighbors: state.nodes.map((n) => ({
            name: n.name.replace(/-/g, '_'),
            ip: n.ip,
            asNumber: bird.asNumber,
            passive: bird.passive,
            rrClient: bird.routeReflector,
            multihop: n.subnet !== 0,
          })),
          staticRoutes: subnets === 2 ? [{ prefix: FABRIC_SUBNETS[1], via: routerIp(0) }] : [],
        });
        log.info({ ip: BIRD_IP, as: bird.asNumber }, 'starting BIRD');
        const h = await startBird({ netns: ns, configFile, config, controlSocket, logFile });
        state.bird = { pid: h.pid, startTime: processStartTime(h.pid), netns: ns, ip: BIRD_IP, logFile, asNumber: bird.asNumber, configFile, controlSocket };
      }
      state.phase = 'ready';
      saveLab(state);
      log.info({ lab: o.name, nodes: o.nodes }, 'lab is up');
      return state;
    } catch (e) {
      log.error({ err: (e as Error).message }, 'lab up failed; removing what was created');
      await teardown(state.name, state, labDir());
      throw e;
    }
  });
}

/** Kills a recorded daemon unless its pid now belongs to another process. */
async function stopRecorded(pid: number | undefined, startTime: number | undefined): Promise<void> {
  if (!pid || !isRunning(pid)) return;
  if (startTime !== undefined && processStartTime(pid) !== startTime) return;
  await stopProcess(pid, { graceMs: DOWN_GRACE_MS });
}

/** Removes everything of a lab: processes (recorded and found in its namespaces), namespaces, files. */
async function teardown(name: string, state: LabState | undefined, dir: string): Promise<void> {
  if (state) {
    await Promise.all(state.nodes.map((n) => stopRecorded(n.agent?.pid, n.agent?.startTime)));
    await stopRecorded(state.bird?.pid, state.bird?.startTime);
    await stopRecorded(state.etcd?.pid, state.etcd?.startTime);
  }
  const prefix = labNetnsPrefix(name);
  const namespaces = [...new Set([...(state?.namespaces ?? []), ...(state?.pods.map((p) => p.netns) ?? []), ...netnsList().filter((n) => n.startsWith(prefix))])];
  // Whatever still runs inside (a test's server in a pod, an agent we lost track of) goes too.
  for (const ns of namespaces) {
    const pids = await netnsPids(ns);
    await Promise.all(pids.map((p) => stopProcess(p, { graceMs: DOWN_GRACE_MS })));
  }
  // Pods first, then members, the fabric last (reverse of creation).
  for (const ns of namespaces.reverse()) {
    if (ns.startsWith(prefix) || state?.namespaces.includes(ns)) await netnsDelete(ns);
  }
  const left = namespaces.filter(netnsExists);
  if (left.length) throw new Error(`lab ${name}: could not delete namespaces ${left.join(', ')}`);
  removeLabFiles(name, dir);
}

export interface LabDownResult {
  name: string;
  /** False when there was nothing left to remove. */
  existed: boolean;
}

/** Tears a lab down. Idempotent: a lab that does not exist (any more) is not an error. */
export async function labDown(name: string): Promise<LabDownResult> {
  requireRoot();
  validateLabName(name);
  let file = stateFile(name);
  let state = readStateFile(file);
  if (!state) {
    const indexed = indexedStateFile(name);
    const s = indexed ? readStateFile(indexed) : undefined;
    if (s && indexed) {
      file = indexed;
      state = s;
    }
  }
  const dir = join(file, '..');
  return withLabLock(
    name,
    async () => {
      const existed = !!state || netnsList().some((n) => n.startsWith(labNetnsPrefix(name)));
      await teardown(name, state, dir);
      return { name, existed };
    },
    dir,
  );
}

/** Tears down every lab whose owner process is gone. Never touches a lab whose owner lives. */
export async function sweepStale(): Promise<string[]> {
  requireRoot();
  const swept: string[] = [];
  for (const file of allStateFiles()) {
    let s: LabState | undefined;
    try {
      s = readStateFile(file);
    } catch {
      continue;
    }
    if (!s || ownerAlive(s)) continue;
    await withLabLock(s.name, () => teardown(s.name, s, join(file, '..')), join(file, '..'));
    swept.push(s.name);
  }
  return swept;
}

/** Tears down every lab on the machine: all state files and every namespace named like a lab's. */
export async function sweepAll(): Promise<string[]> {
  requireRoot();
  const names = new Set<string>();
  for (const file of allStateFiles()) {
    try {
      const s = readStateFile(file);
      if (s) {
        await withLabLock(s.name, () => teardown(s.name, s, join(file, '..')), join(file, '..'));
        names.add(s.name);
      }
    } catch {
      /* unreadable state file: its namespaces are caught below */
    }
  }
  for (const ns of netnsList()) {
    const lab = ns.startsWith(NETNS_PREFIX) ? labOfNetns(ns) : undefined;
    if (lab && netnsExists(ns)) {
      await teardown(lab, undefined, labDir());
      names.add(lab);
    }
  }
  return [...names].sort();
}

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

export { loadLab, deletePodNetns };
