/**
 * Shared pieces of the policy end-to-end tests: a lab whose agents run with one iptables backend,
 * labelled pods in several namespaces each answering on TCP ports, an "external" namespace on the
 * fabric outside every pool, datastore changes that are undone after each scenario, and
 * `expectReach`, which waits (bounded) until real connections match what policy says.
 *
 *   fabric br0 ── node-i 198.18.0.(10+i) ── pods (10.65.0.0/16, one block per node)
 *            └── tl-<lab>-ext 198.18.0.200 (EXT_IP): a listener on tcp/80, routes back to the
 *                pool's blocks via their nodes (so an un-NATed pod address can be answered)
 *
 * The agent applies a datastore change asynchronously, so every expectation is polled until all
 * its checks hold, and a mismatch that remains is reported check by check (`expected denied, got
 * allowed`), which is what tells a missing enforcement from a wrong one.
 */
import assert from 'node:assert/strict';
import { resourceKey } from '../../src/datastore/keys.js';
import { KINDS, type ResourceKind } from '../../src/datastore/model/index.js';
import {
  icmpPing, mapLimit, podAdd, runIn, startTcpServer, tcpConnect, udpExchange, waitFor, withEtcd,
  type ConnectResult, type EndpointPort, type LabState, type PodState, type TcpServer,
} from '../../src/lab/index.js';
import { netnsName } from '../../src/lab/names.js';
import { attachToFabric, makeNetns } from '../../src/lab/topology.js';
import { withRoutingLab, type RoutingLab } from '../routing/helpers.js';

/** The iptables backends the policy tests run under (Felix's FELIX_IPTABLESBACKEND values). */
export const BACKENDS = ['nft', 'legacy'] as const;
export type Backend = (typeof BACKENDS)[number];

/**
 * How long the agent gets to turn one datastore change into enforced rules. Felix takes well
 * under a second (a watch event, a calculation, one iptables-restore); 15 s leaves room for a
 * loaded 2-core machine and still ends a step that will never converge.
 */
export const POLICY_CONVERGE_MS = 15_000;
/**
 * How long a fresh lab's agents get to route every pod to every other (BGP sessions up, routes
 * programmed): the routing tests allow the same minute.
 */
const LAB_ROUTES_MS = 60_000;
/** Between rounds of checks while waiting for a change to take effect. */
const CONVERGE_POLL_MS = 500;
/**
 * A policy check's connect timeout: a denied connection (Calico drops) costs this much, an
 * allowed one in a lab answers in about a millisecond.
 */
export const CHECK_TIMEOUT_MS = 1_000;
/** Checks run at once: each spawns one short-lived Node; 6 keeps two cores busy without starving the agents. */
const CHECK_CONCURRENCY = 6;

/** The external namespace's fabric address: above every node address (nodes are .11-.110). */
export const EXT_IP = '198.18.0.200';
export const POOL_CIDR = '10.65.0.0/16';

/** Something a check can start from or go to. */
export interface Peer {
  /** `<namespace>/<pod>`, `node-1`, `ext`: what the report shows. */
  label: string;
  netns: string;
  ip: string;
}

export function podPeer(p: PodState): Peer {
  return { label: `${p.namespace}/${p.name}`, netns: p.netns, ip: p.ip };
}

/** What a check sends: a TCP connect, a UDP datagram or an ICMP echo. */
export type Probe = `tcp/${number}` | `udp/${number}` | 'icmp';

export interface Check {
  from: Peer;
  to: Peer;
  probe: Probe;
  allow: boolean;
  /** With allow: the source address the listener must report (SNAT or not). */
  seenAs?: string;
  /** tcp only: a listener that is not ours (no answer line), a handshake is enough. */
  foreignListener?: boolean;
}

/** Every from → to pair (from ≠ to) × probe, allowed when `allow(from, to, probe)`. */
export function grid(froms: readonly Peer[], tos: readonly Peer[], probes: readonly Probe[], allow: (from: Peer, to: Peer, probe: Probe) => boolean): Check[] {
  const out: Check[] = [];
  for (const from of froms) for (const to of tos) for (const probe of probes) if (from.ip !== to.ip) out.push({ from, to, probe, allow: allow(from, to, probe) });
  return out;
}

interface Observed {
  allowed: boolean;
  detail: string;
  peerSeen?: string;
}

function describe(r: ConnectResult): string {
  return r.ok ? (r.peerSeen ? `the listener saw ${r.peerSeen}` : 'connected') : (r.error ?? r.failure ?? 'failed');
}

async function observe(c: Check): Promise<Observed> {
  if (c.probe === 'icmp') {
    const r = await icmpPing(c.from.netns, c.to.ip);
    return { allowed: r.ok, detail: r.ok ? 'echo reply' : (r.error ?? 'no reply') };
  }
  const [proto, port] = c.probe.split('/') as ['tcp' | 'udp', string];
  const r = proto === 'tcp'
    ? await tcpConnect(c.from.netns, c.to.ip, Number(port), CHECK_TIMEOUT_MS, { expectReply: !c.foreignListener })
    : await udpExchange(c.from.netns, c.to.ip, Number(port), CHECK_TIMEOUT_MS);
  return { allowed: r.ok, detail: describe(r), peerSeen: r.peerSeen };
}

function mismatch(c: Check, o: Observed): string | undefined {
  const what = `${c.from.label} -> ${c.to.label} ${c.probe}`;
  if (c.allow !== o.allowed) return `${what}: expected ${c.allow ? 'allowed' : 'denied'}, got ${o.allowed ? 'allowed' : 'denied'} (${o.detail})`;
  if (c.allow && c.seenAs && o.peerSeen !== c.seenAs) return `${what}: expected the listener to see ${c.seenAs}, it saw ${o.peerSeen ?? 'nothing'}`;
  return undefined;
}

/**
 * Waits until every check holds, or fails listing those that still do not. Bounded by
 * POLICY_CONVERGE_MS; each round runs every check afresh (new connections, so no conntrack entry
 * of an earlier round decides).
 */
export async function expectReach(what: string, checks: readonly Check[], timeoutMs = POLICY_CONVERGE_MS): Promise<void> {
  assert.ok(checks.length > 0, `${what}: no checks`);
  let wrong: string[] = [];
  try {
    await waitFor(
      async () => {
        const observed = await mapLimit(checks, CHECK_CONCURRENCY, observe);
        wrong = checks.flatMap((c, i) => mismatch(c, observed[i]!) ?? []);
        return wrong.length === 0;
      },
      { timeoutMs, intervalMs: CONVERGE_POLL_MS, what },
    );
  } catch (e) {
    if (!wrong.length) throw e;
    assert.fail(`${what}: ${wrong.length} of ${checks.length} checks still wrong after ${timeoutMs} ms:\n  ${wrong.join('\n  ')}`);
  }
}

// ---- datastore changes, undone after each scenario ----

/** A Calico v3 resource as the tests write it. */
export interface CalicoResource {
  apiVersion?: string;
  kind: ResourceKind;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  spec: Record<string, unknown>;
}

export function keyOf(r: Pick<CalicoResource, 'kind' | 'metadata'>): string {
  return resourceKey(KINDS[r.kind].plural, r.metadata.name, KINDS[r.kind].namespaced ? r.metadata.namespace : undefined);
}

export function networkPolicy(namespace: string, name: string, spec: Record<string, unknown>): CalicoResource {
  return { kind: 'NetworkPolicy', metadata: { name, namespace }, spec };
}

export function globalNetworkPolicy(name: string, spec: Record<string, unknown>): CalicoResource {
  return { kind: 'GlobalNetworkPolicy', metadata: { name }, spec };
}

export function tierResource(name: string, order: number): CalicoResource {
  return { kind: 'Tier', metadata: { name }, spec: { order } };
}

/**
 * Datastore writes of one scenario. Every key touched has its value from before the first touch
 * remembered, and `undo` puts those back (or deletes what did not exist), newest first.
 */
export class DatastoreChanges {
  private readonly originals = new Map<string, string | undefined>();

  constructor(private readonly lab: LabState) {}

  private async remember(key: string): Promise<string | undefined> {
    const now = await withEtcd(this.lab, (c) => c.get(key).string());
    if (!this.originals.has(key)) this.originals.set(key, now ?? undefined);
    return now ?? undefined;
  }

  async put(r: CalicoResource): Promise<void> {
    const key = keyOf(r);
    await this.remember(key);
    const value = { apiVersion: 'projectcalico.org/v3', ...r, metadata: { creationTimestamp: new Date().toISOString(), ...r.metadata } };
    await withEtcd(this.lab, (c) => c.put(key).value(JSON.stringify(value)).then(() => undefined));
  }

  async delete(r: Pick<CalicoResource, 'kind' | 'metadata'>): Promise<void> {
    const key = keyOf(r);
    await this.remember(key);
    await withEtcd(this.lab, (c) => c.delete().key(key).then(() => undefined));
  }

  /** Read-modify-write of a stored resource (a pool, a profile, a pod's WorkloadEndpoint). */
  async rewrite<T>(key: string, edit: (v: T) => void): Promise<void> {
    const now = await this.remember(key);
    if (now === undefined) throw new Error(`nothing stored at ${key} to rewrite`);
    const v = JSON.parse(now) as T;
    edit(v);
    await withEtcd(this.lab, (c) => c.put(key).value(JSON.stringify(v)).then(() => undefined));
  }

  /** Puts one key back as it was before this scenario touched it. */
  async revert(key: string): Promise<void> {
    if (!this.originals.has(key)) return;
    const v = this.originals.get(key);
    await withEtcd(this.lab, (c) => (v === undefined ? c.delete().key(key) : c.put(key).value(v)).then(() => undefined));
    this.originals.delete(key);
  }

  async undo(): Promise<void> {
    for (const key of [...this.originals.keys()].reverse()) await this.revert(key);
  }
}

/** A pod's WorkloadEndpoint labels replaced, keeping the projectcalico.org/ ones Calico adds. */
export function relabel(changes: DatastoreChanges, pod: PodState, labels: Record<string, string>): Promise<void> {
  return changes.rewrite<{ metadata: { labels?: Record<string, string> } }>(pod.wepKey, (w) => {
    const calico = Object.entries(w.metadata.labels ?? {}).filter(([k]) => k.startsWith('projectcalico.org/'));
    w.metadata.labels = { ...labels, ...Object.fromEntries(calico) };
  });
}

// ---- the lab ----

export interface PodSpec {
  node: string;
  namespace: string;
  name: string;
  labels: Record<string, string>;
  ports?: EndpointPort[];
}

export interface PolicyLab {
  name: string;
  backend: Backend;
  state(): LabState;
  /** A pod by `<namespace>/<name>`. */
  pod(id: string): PodState;
  /** The same object for the same pod on every call. */
  peer(id: string): Peer;
  /** The namespace outside every pool (EXT_IP), with a listener on tcp/80. */
  ext: Peer;
  node(name: string): Peer;
  changes(): DatastoreChanges;
  /** Agent pids now, to prove a change took effect without a restart. */
  agentPids(): number[];
}

/** Where a listener's output goes: the lab's work dir, so a failed run leaves it to read. */
function listenerLog(lab: LabState, netns: string, port: number): string {
  return `${lab.workDir}/listener-${netns}-${port}.log`;
}

/**
 * A lab of `nodes` nodes with the given pods (each answering on `podPorts`, UDP too on
 * `udpPorts`), the external namespace, and agents started with FELIX_IPTABLESBACKEND=<backend>.
 * Listeners are stopped and the lab torn down whatever happens.
 */
export async function withPolicyLab(
  o: { tag: string; backend: Backend; nodes: number; pods: readonly PodSpec[]; podPorts: readonly number[]; udpPorts?: readonly number[] },
  fn: (lab: PolicyLab) => Promise<void>,
): Promise<void> {
  const pods = new Map<string, PodState>();
  const servers: TcpServer[] = [];
  let extNs = '';
  await withRoutingLab(
    {
      tag: o.tag,
      nodes: o.nodes,
      podsPerNode: 0,
      pool: { natOutgoing: true },
      agentEnv: { FELIX_IPTABLESBACKEND: o.backend },
      beforeAgents: async (lab) => {
        for (const p of o.pods) {
          pods.set(`${p.namespace}/${p.name}`, await podAdd(lab.name, p.node, p.name, { namespace: p.namespace, labels: p.labels, ports: p.ports }));
        }
        extNs = await addExternal(lab, [...pods.values()]);
      },
    },
    async (rl: RoutingLab) => {
      try {
        const st = rl.state();
        for (const p of pods.values()) {
          for (const port of o.podPorts) servers.push(await startTcpServer(p.netns, port, { udp: o.udpPorts?.includes(port), logFile: listenerLog(st, p.netns, port) }));
        }
        servers.push(await startTcpServer(extNs, 80, { logFile: listenerLog(st, extNs, 80) }));
        const pod = (id: string) => {
          const p = pods.get(id);
          if (!p) throw new Error(`no pod ${id} in this lab (pods: ${[...pods.keys()].join(', ')})`);
          return p;
        };
        // One Peer object per pod, so tests can compare peers with === and Array.includes.
        const peers = new Map([...pods].map(([id, p]) => [id, podPeer(p)]));
        // Routes between nodes come from the agents (BGP), after they start: wait for them once.
        const everyPod = [...peers.values()];
        await expectReach('the lab to route: every pod reaches every other', grid(everyPod, everyPod, [o.podPorts.length ? `tcp/${o.podPorts[0]}` : 'icmp'], () => true), LAB_ROUTES_MS);
        await fn({
          name: rl.name,
          backend: o.backend,
          state: rl.state,
          pod,
          peer: (id) => peers.get(id) ?? podPeer(pod(id)),
          ext: { label: 'ext', netns: extNs, ip: EXT_IP },
          node: (name) => {
            const n = rl.state().nodes.find((x) => x.name === name);
            if (!n) throw new Error(`no node ${name}`);
            return { label: n.name, netns: n.netns, ip: n.ip };
          },
          changes: () => new DatastoreChanges(rl.state()),
          agentPids: () => rl.state().nodes.map((n) => n.agent?.pid ?? 0),
        });
      } finally {
        for (const s of servers) await s.stop().catch((e: unknown) => console.error(`stopping a listener in ${s.netns}:`, e));
      }
    },
  );
}

/**
 * The namespace outside every pool: on the fabric at EXT_IP, named like the lab's own (so the
 * lab's teardown removes it and whatever runs in it), with a route to each pod's block via its
 * node: the way back for a connection that arrives with a pod's own address (natOutgoing off).
 */
async function addExternal(lab: LabState, pods: readonly PodState[]): Promise<string> {
  const ns = netnsName(lab.name, 'ext');
  await makeNetns(ns, () => undefined);
  await attachToFabric({ fabricNs: lab.fabricNetns, memberNs: ns, fabricIface: 'ext', subnet: 0, ip: EXT_IP });
  const viaNode = new Map<string, string>();
  for (const p of pods) viaNode.set(p.block, lab.nodes.find((n) => n.name === p.node)!.ip);
  for (const [block, via] of viaNode) await runIn(ns, ['ip', 'route', 'replace', block, 'via', via]);
  return ns;
}

/** Does anything listen on tcp `port` in `netns` (e.g. the agent's BGP speaker on 179)? */
export async function tcpListening(netns: string, port: number): Promise<boolean> {
  const r = await runIn(netns, ['ss', '-Htln', `sport = :${port}`]);
  return r.stdout.trim().length > 0;
}

/** `iptables-<backend>-save` inside a namespace (the policy rules' home, read back for the backend check). */
export async function iptablesSave(netns: string, backend: Backend): Promise<string> {
  const r = await runIn(netns, [`iptables-${backend}-save`], { allowFailure: true });
  return r.stdout;
}

