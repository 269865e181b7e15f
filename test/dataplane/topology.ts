/**
 * Namespaces for the dataplane integration tests and benchmark: two "nodes" joined by an underlay
 * veth, each with one "pod" namespace behind a `cali*` veth, built entirely inside namespaces
 * named `tt-dp-<pid>-*` (nothing in the root namespace). Leftovers of a crashed run are swept by
 * the next run, but only when their owner pid is dead.
 */
import { run } from '../../src/lab/exec.js';
import { netnsAdd, netnsDelete, sweepStaleNamespaces } from '../../src/lab/netns.js';

export const PREFIX = 'tt-dp-';

export function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('dataplane integration tests need root (network namespaces): run them as root');
}

/** Deletes tt-dp-<pid>-* namespaces whose pid no longer runs. */
export async function sweepStale(): Promise<void> {
  await sweepStaleNamespaces(PREFIX);
}

export function nsName(tag: string): string {
  return `${PREFIX}${process.pid}-${tag}`;
}

export async function ip(ns: string, ...args: string[]): Promise<string> {
  return (await run(['ip', '-n', ns, ...args])).stdout;
}

export async function sh(ns: string, ...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(['ip', 'netns', 'exec', ns, ...argv], { allowFailure: true });
}

export interface NodeNs {
  ns: string;
  /** Underlay address of eth0. */
  hostIp: string;
  /** This node's pod block. */
  block: string;
  tunnelIp: string;
  podNs: string;
  podIp: string;
  /** Host side of the pod veth. */
  caliIf: string;
}

/** Makes a namespace with lo up. */
export async function makeNs(ns: string): Promise<void> {
  await netnsAdd(ns);
  await ip(ns, 'link', 'set', 'lo', 'up');
}

/**
 * Attaches a pod namespace to a node namespace the way Calico's CNI plugin does: host veth
 * `caliXXXX` with MAC ee:ee:ee:ee:ee:ee, pod `eth0` with a /32 and a default route via the
 * link-local 169.254.1.1 that the host answers with proxy ARP.
 */
export async function attachPod(nodeNs: string, caliIf: string, podNs: string, podIp: string): Promise<void> {
  await makeNs(podNs);
  await ip(nodeNs, 'link', 'add', caliIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', podNs);
  await ip(nodeNs, 'link', 'set', caliIf, 'address', 'ee:ee:ee:ee:ee:ee', 'up');
  await ip(podNs, 'addr', 'add', `${podIp}/32`, 'dev', 'eth0');
  await ip(podNs, 'link', 'set', 'eth0', 'up');
  await ip(podNs, 'route', 'add', '169.254.1.1', 'dev', 'eth0', 'scope', 'link');
  await ip(podNs, 'route', 'add', 'default', 'via', '169.254.1.1', 'dev', 'eth0');
}

/** Two nodes A and B on 198.18.<n>.0/24, pods 10.65.0.5 (A) and 10.65.1.5 (B). */
export async function twoNodes(subnet: number): Promise<[NodeNs, NodeNs]> {
  const a: NodeNs = { ns: nsName('a'), hostIp: `198.18.${subnet}.1`, block: '10.65.0.0/26', tunnelIp: '10.65.0.1', podNs: nsName('pa'), podIp: '10.65.0.5', caliIf: 'calia0000005' };
  const b: NodeNs = { ns: nsName('b'), hostIp: `198.18.${subnet}.2`, block: '10.65.1.0/26', tunnelIp: '10.65.1.1', podNs: nsName('pb'), podIp: '10.65.1.5', caliIf: 'calib0000005' };
  await makeNs(a.ns);
  await makeNs(b.ns);
  await ip(a.ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', b.ns);
  for (const n of [a, b]) {
    await ip(n.ns, 'addr', 'add', `${n.hostIp}/24`, 'dev', 'eth0');
    await ip(n.ns, 'link', 'set', 'eth0', 'up');
    // Proxy ARP answers only for addresses the host can route out of another interface; on a
    // real node the default route does that for 169.254.1.1. This route is not ours (proto boot
    // on a non-workload interface) and doubles as a foreign route the reconciler must not touch.
    await ip(n.ns, 'route', 'add', '169.254.1.1/32', 'dev', 'eth0');
    await attachPod(n.ns, n.caliIf, n.podNs, n.podIp);
  }
  return [a, b];
}

export async function deleteAll(names: readonly string[]): Promise<void> {
  for (const ns of names) await netnsDelete(ns);
}

export async function ping(fromNs: string, to: string): Promise<boolean> {
  const r = await sh(fromNs, 'ping', '-c', '1', '-W', '2', to);
  return r.code === 0;
}
