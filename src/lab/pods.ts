/**
 * `tortie lab pod add|del`: what Calico's CNI plugin and calico-ipam do when the kubelet starts
 * or deletes a pod. A pod is a namespace with eth0 (its address /32, default route via
 * 169.254.1.1 onlink), joined to its node by a veth whose host side is cali<hash> with MAC
 * ee:ee:ee:ee:ee:ee; its address comes from Calico IPAM in etcd and it is published as a
 * WorkloadEndpoint. Undo happens in reverse on failure, so a failed add leaves nothing behind.
 */
import { randomBytes } from 'node:crypto';
import { resourceKey, workloadEndpointName } from '../datastore/keys.js';
import { UserError } from '../util/errors.js';
import { namespaceProfile, serviceAccountProfile, workloadEndpointResource, DEFAULT_SERVICE_ACCOUNT, type EndpointPort } from './calico-resources.js';
import { createIfAbsent, ensurePool, withEtcd } from './datastore.js';
import { assignIp, releaseByHandle } from './ipam.js';
import { caliInterfaceName, CALI_HOST_MAC, podNetnsName, POD_GATEWAY, validateDnsLabel } from './names.js';
import { ipIn, netnsAdd, netnsDelete, netnsPids } from './netns.js';
import type { LabState, PodState } from './state.js';
import { stopProcess } from './exec.js';

export interface PodAddOptions {
  namespace?: string;
  labels?: Record<string, string>;
  /** Named ports for the WorkloadEndpoint (a pod's containerPorts), for named-port policy rules. */
  ports?: readonly EndpointPort[];
  /** Add `<ip>/32 dev cali...` in the node namespace, as Calico's CNI does. Default true. */
  hostRoute?: boolean;
}

export function findPod(state: LabState, pod: string, namespace = 'default'): PodState | undefined {
  return state.pods.find((p) => p.name === pod && p.namespace === namespace);
}

/** Label keys/values as Kubernetes allows them (a simplified but strict check). */
const LABEL_KEY_RE = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE_RE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

export function validateLabels(labels: Record<string, string>): void {
  for (const [k, v] of Object.entries(labels)) {
    if (!LABEL_KEY_RE.test(k)) throw new UserError(`invalid label key ${JSON.stringify(k)}`);
    if (!LABEL_VALUE_RE.test(v)) throw new UserError(`invalid value ${JSON.stringify(v)} for label ${k}`);
  }
}

/** Kubernetes port names (IANA service names): what a policy rule can name, at most 15 characters. */
const PORT_NAME_RE = /^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/;

export function validatePorts(ports: readonly EndpointPort[]): void {
  for (const p of ports) {
    if (!PORT_NAME_RE.test(p.name)) throw new UserError(`invalid port name ${JSON.stringify(p.name)}: lowercase letters, digits and '-', at most 15 characters`);
    if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) throw new UserError(`invalid port ${p.port} for ${p.name}: must be 1-65535`);
  }
}

/** Parses "k=v,k2=v2" (the CLI's --labels). */
export function parseLabels(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of s.split(',').map((x) => x.trim()).filter(Boolean)) {
    const i = part.indexOf('=');
    if (i <= 0) throw new UserError(`invalid label ${JSON.stringify(part)}: expected key=value`);
    out[part.slice(0, i)] = part.slice(i + 1);
  }
  validateLabels(out);
  return out;
}

/** Adds a pod to `state` (the caller holds the lab lock and saves the state). */
export async function addPod(state: LabState, nodeName: string, pod: string, o: PodAddOptions = {}): Promise<PodState> {
  const namespace = o.namespace ?? 'default';
  validateDnsLabel('pod name', pod);
  validateDnsLabel('namespace', namespace);
  const labels = o.labels ?? {};
  validateLabels(labels);
  validatePorts(o.ports ?? []);
  const node = state.nodes.find((n) => n.name === nodeName);
  if (!node) throw new UserError(`lab ${state.name} has no node ${JSON.stringify(nodeName)} (nodes: ${state.nodes.map((n) => n.name).join(', ')})`);
  if (findPod(state, pod, namespace)) throw new UserError(`pod ${namespace}/${pod} already exists in lab ${state.name}`);
  if (!state.etcd) throw new UserError(`lab ${state.name} has no datastore; pods need --datastore etcd`);

  const containerId = randomBytes(32).toString('hex');
  // calico-ipam's handle for a Kubernetes pod: "<network name>.<container id>".
  const handleId = `k8s-pod-network.${containerId}`;
  const netns = podNetnsName(state.name, namespace, pod);
  const iface = caliInterfaceName(namespace, pod);
  const wepName = workloadEndpointName(node.name, 'k8s', pod, 'eth0');
  const wepKey = resourceKey('workloadendpoints', wepName, namespace);
  const undo: (() => Promise<void>)[] = [];
  try {
    const { ip, block } = await withEtcd(state, async (c) => {
      await ensurePool(c, state.pool);
      const r = await assignIp(c, {
        node: node.name,
        handleId,
        pool: state.pool,
        attributes: { namespace, node: node.name, pod, timestamp: new Date().toISOString() },
      });
      undo.push(() => withEtcd(state, (c2) => releaseByHandle(c2, handleId).then(() => undefined)));
      return r;
    });

    await netnsAdd(netns);
    undo.push(() => netnsDelete(netns));
    await ipIn(netns, 'link', 'set', 'lo', 'up');
    await ipIn(node.netns, 'link', 'add', iface, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns);
    await ipIn(node.netns, 'link', 'set', iface, 'address', CALI_HOST_MAC);
    await ipIn(node.netns, 'link', 'set', iface, 'up');
    await ipIn(netns, 'addr', 'add', `${ip}/32`, 'dev', 'eth0');
    await ipIn(netns, 'link', 'set', 'eth0', 'up');
    await ipIn(netns, 'route', 'add', `${POD_GATEWAY}/32`, 'dev', 'eth0', 'scope', 'link');
    await ipIn(netns, 'route', 'add', 'default', 'via', POD_GATEWAY, 'dev', 'eth0', 'onlink');
    if (o.hostRoute ?? true) await ipIn(node.netns, 'route', 'replace', `${ip}/32`, 'dev', iface, 'scope', 'link');
    const mac = await podMac(netns);

    await withEtcd(state, async (c) => {
      await createIfAbsent(c, resourceKey('profiles', `kns.${namespace}`), namespaceProfile(namespace));
      await createIfAbsent(c, resourceKey('profiles', `ksa.${namespace}.${DEFAULT_SERVICE_ACCOUNT}`), serviceAccountProfile(namespace, DEFAULT_SERVICE_ACCOUNT));
      const wep = workloadEndpointResource({ name: wepName, namespace, node: node.name, pod, containerId, ip, iface, mac, labels, ports: o.ports });
      if (!(await createIfAbsent(c, wepKey, wep))) throw new UserError(`WorkloadEndpoint ${wepKey} already exists in etcd`);
    });
    const p: PodState = { namespace, name: pod, node: node.name, netns, ip, iface, mac, containerId, handleId, wepKey, block, labels };
    state.pods.push(p);
    return p;
  } catch (e) {
    for (const u of undo.reverse()) await u().catch(() => undefined);
    throw e;
  }
}

async function podMac(netns: string): Promise<string> {
  const r = await ipIn(netns, '-j', 'link', 'show', 'dev', 'eth0');
  const links = JSON.parse(r.stdout) as { address?: string }[];
  const mac = links[0]?.address;
  if (!mac) throw new Error(`no MAC on eth0 in ${netns}`);
  return mac;
}

/** Removes a pod: WorkloadEndpoint, its addresses, its namespace (and with it both veth ends). */
export async function deletePod(state: LabState, pod: string, namespace = 'default'): Promise<PodState> {
  const p = findPod(state, pod, namespace);
  if (!p) throw new UserError(`lab ${state.name} has no pod ${namespace}/${pod}`);
  if (state.etcd) {
    await withEtcd(state, async (c) => {
      await c.delete().key(p.wepKey);
      await releaseByHandle(c, p.handleId);
    });
  }
  await deletePodNetns(p.netns);
  state.pods = state.pods.filter((x) => x !== p);
  return p;
}

/** Ends anything still running in the pod's namespace (e.g. a test's server) and deletes it. */
export async function deletePodNetns(netns: string): Promise<void> {
  for (const pid of await netnsPids(netns)) await stopProcess(pid, { graceMs: 2000 });
  await netnsDelete(netns);
}
