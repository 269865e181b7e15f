/**
 * Pod → WorkloadEndpoint, following Calico's rules (libcalico-go k8s/conversion
 * workload_endpoint_default.go and conversion.go):
 *
 * - host-network pods and pods not yet scheduled to a node are not endpoints at all;
 * - a finished pod (phase Succeeded/Failed/Completed, or being deleted after the CNI plugin
 *   cleared its `podIP` annotation) keeps its endpoint but loses its IPs, because the IPs have
 *   been released to IPAM and may already belong to another pod;
 * - IPs come from `status.podIPs`, else `status.podIP`, else the CNI plugin's
 *   `cni.projectcalico.org/podIPs` / `podIP` annotations, else AWS's `vpc.amazonaws.com/pod-ips`;
 * - the host-side interface is `cali` + the first 11 hex digits of sha1("<ns>.<pod>"), which is
 *   what the CNI plugin names the veth.
 *
 * Calico's syncer then hides endpoints without IPs from Felix; `hasAddresses` is that test.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { workloadEndpointName } from '../../keys.js';
import {
  ANNOTATION_AWS_POD_IPS,
  ANNOTATION_CONTAINER_ID,
  ANNOTATION_FLOATING_IPS,
  ANNOTATION_POD_IP,
  ANNOTATION_POD_IPS,
  ANNOTATION_SOURCE_PREFIXES,
  LABEL_NAMESPACE,
  LABEL_ORCHESTRATOR,
  LABEL_SERVICE_ACCOUNT,
  ORCHESTRATOR_K8S,
  SERVICE_ACCOUNT_LABEL_MAX,
  V3_API_VERSION,
} from './constants.js';
import { namespaceProfileName, serviceAccountProfileName } from './profile.js';
import { ConversionError, type Container, type Pod, type Warn } from './k8stypes.js';

/** Default interface prefix; FELIX_INTERFACEPREFIX may name others (the first one is used). */
export const DEFAULT_INTERFACE_PREFIX = 'cali';
/** Hex digits of the hash kept in the interface name: 4 + 11 = 15 = IFNAMSIZ - 1. */
const VETH_HASH_CHARS = 11;

/** Phases after which a pod no longer owns its IPs ("Completed" is not in the API but documented). */
const FINISHED_PHASES = new Set(['Succeeded', 'Failed', 'Completed']);

export type WorkloadEndpointPort = { name: string; protocol: 'TCP' | 'UDP' | 'SCTP'; port: number; hostPort?: number; hostIP?: string };

/** The v3 WorkloadEndpoint a Pod becomes (shape of the datastore model's WorkloadEndpoint). */
export type WorkloadEndpointResource = {
  apiVersion: typeof V3_API_VERSION;
  kind: 'WorkloadEndpoint';
  metadata: {
    name: string;
    namespace: string;
    uid?: string;
    resourceVersion?: string;
    creationTimestamp?: string;
    generateName?: string;
    labels: Record<string, string>;
  };
  spec: {
    orchestrator: 'k8s';
    node: string;
    pod: string;
    endpoint: 'eth0';
    containerID?: string;
    interfaceName: string;
    profiles: string[];
    ipNetworks: string[];
    ports?: WorkloadEndpointPort[];
    serviceAccountName?: string;
    ipNATs?: Array<{ internalIP: string; externalIP: string }>;
    allowSpoofedSourcePrefixes?: string[];
  };
};

/** Host-side veth name the Calico CNI plugin gives a pod's interface. */
export function vethNameForWorkload(namespace: string, podName: string, prefix = DEFAULT_INTERFACE_PREFIX): string {
  const hash = createHash('sha1').update(`${namespace}.${podName}`).digest('hex');
  return `${prefix}${hash.slice(0, VETH_HASH_CHARS)}`;
}

export function isHostNetworked(pod: Pod): boolean {
  return pod.spec?.hostNetwork === true;
}

export function isScheduled(pod: Pod): boolean {
  return !!pod.spec?.nodeName;
}

/** Pods Calico shows as WorkloadEndpoints at all. */
export function isWorkloadPod(pod: Pod): boolean {
  return !isHostNetworked(pod) && isScheduled(pod);
}

export function isFinished(pod: Pod): boolean {
  const ann = pod.metadata.annotations ?? {};
  if (pod.metadata.deletionTimestamp) {
    // The CNI plugin sets podIP to "" at the moment it tears the network down; before that the
    // pod may still be serving during its grace period.
    if (ann[ANNOTATION_POD_IP] === '' || ann[ANNOTATION_AWS_POD_IPS] === '') return true;
  }
  return FINISHED_PHASES.has(pod.status?.phase ?? '');
}

/** The pod's addresses as written, in Calico's order of precedence (before finished-ness). */
export function podIPStrings(pod: Pod): string[] {
  const ann = pod.metadata.annotations ?? {};
  const statusIPs = (pod.status?.podIPs ?? []).map((p) => p.ip ?? '').filter((ip) => ip !== '');
  if (statusIPs.length) return statusIPs;
  if (pod.status?.podIP) return [pod.status.podIP];
  if (ann[ANNOTATION_POD_IPS]) return ann[ANNOTATION_POD_IPS].split(',').map((s) => s.trim());
  if (ann[ANNOTATION_POD_IP]) return [ann[ANNOTATION_POD_IP].trim()];
  if (ann[ANNOTATION_AWS_POD_IPS]) return ann[ANNOTATION_AWS_POD_IPS].split(',').map((s) => s.trim());
  return [];
}

/** `10.0.0.1` → `10.0.0.1/32`; a CIDR stays as written; anything else is undefined. */
export function ipToNetwork(s: string): string | undefined {
  const slash = s.indexOf('/');
  const ip = slash < 0 ? s : s.slice(0, slash);
  const v = isIP(ip);
  if (!v) return undefined;
  if (slash < 0) return `${ip}/${v === 4 ? 32 : 128}`;
  const len = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(len) || Number(len) > (v === 4 ? 32 : 128)) return undefined;
  return `${ip}/${Number(len)}`;
}

const PROTOCOLS: Record<string, WorkloadEndpointPort['protocol']> = { '': 'TCP', TCP: 'TCP', UDP: 'UDP', SCTP: 'SCTP' };

function endpointPorts(containers: Container[] | undefined, warn: Warn): WorkloadEndpointPort[] {
  const out: WorkloadEndpointPort[] = [];
  for (const c of containers ?? []) {
    for (const p of c.ports ?? []) {
      // Calico keeps ports that have a name (named ports in policy) or a hostPort. tortie keeps
      // only named ones: nothing here consumes a WEP's hostPorts (the CNI portmap plugin does
      // the work), and the model's schema requires a name, so an unnamed entry would get the
      // whole endpoint rejected and the pod cut off.
      if (!p.containerPort || !p.name) continue;
      const protocol = PROTOCOLS[p.protocol ?? ''];
      if (!protocol) {
        warn(`container ${c.name ?? '?'} port ${p.containerPort}: unknown protocol ${JSON.stringify(p.protocol)}, port ignored`);
        continue;
      }
      const port: WorkloadEndpointPort = { name: p.name, protocol, port: p.containerPort };
      if (p.hostPort) port.hostPort = p.hostPort;
      if (p.hostIP) port.hostIP = p.hostIP;
      out.push(port);
    }
  }
  return out;
}

function parseJsonStringArray(text: string, what: string, podName: string): string[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new ConversionError('Pod', podName, `annotation ${what} is not JSON: ${JSON.stringify(text)}`);
  }
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw new ConversionError('Pod', podName, `annotation ${what} must be a JSON list of strings`);
  }
  return v as string[];
}

/**
 * Converts a Pod. Returns undefined for pods that are not endpoints (host network, unscheduled);
 * throws ConversionError when an address the pod claims is malformed (Calico refuses those too).
 */
export function podToWorkloadEndpoint(
  pod: Pod,
  opts: { interfacePrefix?: string; warn?: Warn } = {},
): WorkloadEndpointResource | undefined {
  if (!isWorkloadPod(pod)) return undefined;
  const warn = opts.warn ?? (() => undefined);
  const ns = pod.metadata.namespace ?? 'default';
  const name = pod.metadata.name;
  const id = `${ns}/${name}`;
  const node = pod.spec!.nodeName!;
  const sa = pod.spec?.serviceAccountName ?? '';
  const ann = pod.metadata.annotations ?? {};

  const nets: string[] = [];
  for (const s of podIPStrings(pod)) {
    const n = ipToNetwork(s);
    if (!n) throw new ConversionError('Pod', id, `pod IP ${JSON.stringify(s)} is not a valid IP address`);
    nets.push(n);
  }
  const ipNetworks = isFinished(pod) ? [] : nets;

  const labels: Record<string, string> = { ...(pod.metadata.labels ?? {}) };
  labels[LABEL_NAMESPACE] = ns;
  labels[LABEL_ORCHESTRATOR] = ORCHESTRATOR_K8S;
  if (sa && sa.length < SERVICE_ACCOUNT_LABEL_MAX) labels[LABEL_SERVICE_ACCOUNT] = sa;

  const profiles = [namespaceProfileName(ns)];
  if (sa) profiles.push(serviceAccountProfileName(ns, sa));

  const wep: WorkloadEndpointResource = {
    apiVersion: V3_API_VERSION,
    kind: 'WorkloadEndpoint',
    metadata: { name: workloadEndpointName(node, ORCHESTRATOR_K8S, name, 'eth0'), namespace: ns, labels },
    spec: {
      orchestrator: ORCHESTRATOR_K8S,
      node,
      pod: name,
      endpoint: 'eth0',
      interfaceName: vethNameForWorkload(ns, name, opts.interfacePrefix),
      profiles,
      ipNetworks,
    },
  };
  const m = pod.metadata;
  if (m.uid) wep.metadata.uid = m.uid;
  if (m.resourceVersion) wep.metadata.resourceVersion = m.resourceVersion;
  if (m.creationTimestamp) wep.metadata.creationTimestamp = m.creationTimestamp;
  if (m.generateName) wep.metadata.generateName = m.generateName;
  if (ann[ANNOTATION_CONTAINER_ID]) wep.spec.containerID = ann[ANNOTATION_CONTAINER_ID];
  if (sa) wep.spec.serviceAccountName = sa;

  const ports = [...endpointPorts(pod.spec?.containers, warn), ...endpointPorts(pod.spec?.initContainers, warn)];
  if (ports.length) wep.spec.ports = ports;

  // Floating IPs: each external address NATs to the pod's address of the same family.
  if (ann[ANNOTATION_FLOATING_IPS] !== undefined && ipNetworks.length) {
    const ext = parseJsonStringArray(ann[ANNOTATION_FLOATING_IPS], ANNOTATION_FLOATING_IPS, id);
    const v4 = ipNetworks.find((n) => isIP(n.split('/')[0]) === 4)?.split('/')[0];
    const v6 = ipNetworks.find((n) => isIP(n.split('/')[0]) === 6)?.split('/')[0];
    const nats: Array<{ internalIP: string; externalIP: string }> = [];
    for (const e of ext) {
      const internal = e.includes(':') ? v6 : v4;
      if (internal) nats.push({ internalIP: internal, externalIP: e });
    }
    if (nats.length) wep.spec.ipNATs = nats;
  }

  if (ann[ANNOTATION_SOURCE_PREFIXES]) {
    const prefixes = parseJsonStringArray(ann[ANNOTATION_SOURCE_PREFIXES], ANNOTATION_SOURCE_PREFIXES, id);
    wep.spec.allowSpoofedSourcePrefixes = prefixes.map((p) => {
      const n = ipToNetwork(p);
      if (!n || !p.includes('/')) throw new ConversionError('Pod', id, `allowed source prefix ${JSON.stringify(p)} is not a CIDR`);
      return n;
    });
  }
  return wep;
}

/** Calico's syncer hides endpoints without addresses from Felix (they own nothing to route). */
export function hasAddresses(wep: WorkloadEndpointResource): boolean {
  return wep.spec.ipNetworks.length > 0;
}
