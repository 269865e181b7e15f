/**
 * The Calico v3 resources the lab writes to etcd, as Calico's own components would have written
 * them (calico-reference.md): Node (calico-node / a pre-provisioned cluster), IPPool and
 * ClusterInformation (calico-node's startup), Profile kns.<ns> / ksa.<ns>.<sa>
 * (kube-controllers), WorkloadEndpoint (the CNI plugin). Pure builders; writing is elsewhere.
 */
import { randomUUID } from 'node:crypto';

export const API_VERSION = 'projectcalico.org/v3';
/** Calico's default pool name and CIDR blocks (calico-node's CALICO_IPV4POOL_* defaults). */
export const DEFAULT_POOL_NAME = 'default-ipv4-ippool';
export const DEFAULT_POOL_CIDR = '10.65.0.0/16';
export const DEFAULT_BLOCK_SIZE = 26;
/** The service account every lab pod runs as (Kubernetes' default). */
export const DEFAULT_SERVICE_ACCOUNT = 'default';

/** IPPool ipipMode / vxlanMode values (Calico's EncapMode). */
export const ENCAP_MODES = ['Never', 'Always', 'CrossSubnet'] as const;
export type EncapMode = (typeof ENCAP_MODES)[number];

export interface Metadata {
  name: string;
  namespace?: string;
  uid?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
}

export interface Resource<K extends string, S> {
  apiVersion: typeof API_VERSION;
  kind: K;
  metadata: Metadata;
  spec: S;
}

function meta(name: string, extra: Partial<Metadata> = {}): Metadata {
  return { name, uid: randomUUID(), creationTimestamp: new Date().toISOString(), ...extra };
}

export interface NodeSpec {
  bgp: { ipv4Address: string; asNumber?: number };
  orchRefs: { nodeName: string; orchestrator: string }[];
}

export function nodeResource(name: string, ipv4Cidr: string, asNumber?: number): Resource<'Node', NodeSpec> {
  return {
    apiVersion: API_VERSION,
    kind: 'Node',
    metadata: meta(name, { labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux' } }),
    spec: {
      bgp: asNumber === undefined ? { ipv4Address: ipv4Cidr } : { ipv4Address: ipv4Cidr, asNumber },
      orchRefs: [{ nodeName: name, orchestrator: 'k8s' }],
    },
  };
}

export interface IPPoolSpec {
  cidr: string;
  blockSize: number;
  ipipMode: EncapMode;
  vxlanMode: EncapMode;
  natOutgoing: boolean;
  nodeSelector: string;
  allowedUses: string[];
}

export function ipPoolResource(
  cidr: string,
  opts: { name?: string; blockSize?: number; ipipMode?: EncapMode; vxlanMode?: EncapMode; natOutgoing?: boolean } = {},
): Resource<'IPPool', IPPoolSpec> {
  return {
    apiVersion: API_VERSION,
    kind: 'IPPool',
    metadata: meta(opts.name ?? DEFAULT_POOL_NAME),
    spec: {
      cidr,
      blockSize: opts.blockSize ?? DEFAULT_BLOCK_SIZE,
      ipipMode: opts.ipipMode ?? 'Never',
      vxlanMode: opts.vxlanMode ?? 'Never',
      natOutgoing: opts.natOutgoing ?? true,
      nodeSelector: 'all()',
      allowedUses: ['Workload', 'Tunnel'],
    },
  };
}

export interface ClusterInformationSpec {
  clusterGUID: string;
  clusterType: string;
  calicoVersion: string;
  datastoreReady: boolean;
}

export function clusterInformationResource(): Resource<'ClusterInformation', ClusterInformationSpec> {
  return {
    apiVersion: API_VERSION,
    kind: 'ClusterInformation',
    metadata: meta('default'),
    spec: { clusterGUID: randomUUID().replace(/-/g, ''), clusterType: 'k8s,bgp,tortie-lab', calicoVersion: 'tortie-lab', datastoreReady: true },
  };
}

export interface ProfileSpec {
  ingress: { action: 'Allow' }[];
  egress: { action: 'Allow' }[];
  labelsToApply: Record<string, string>;
}

/** kube-controllers' profile for a namespace: allow all, apply the namespace label. */
export function namespaceProfile(ns: string): Resource<'Profile', ProfileSpec> {
  return {
    apiVersion: API_VERSION,
    kind: 'Profile',
    metadata: meta(`kns.${ns}`),
    spec: { ingress: [{ action: 'Allow' }], egress: [{ action: 'Allow' }], labelsToApply: { 'pcns.projectcalico.org/name': ns } },
  };
}

/** kube-controllers' profile for a service account: no rules, applies the account's label. */
export function serviceAccountProfile(ns: string, sa: string): Resource<'Profile', Omit<ProfileSpec, 'ingress' | 'egress'>> {
  return {
    apiVersion: API_VERSION,
    kind: 'Profile',
    metadata: meta(`ksa.${ns}.${sa}`),
    spec: { labelsToApply: { 'pcsa.projectcalico.org/name': sa } },
  };
}

export interface WorkloadEndpointSpec {
  orchestrator: 'k8s';
  node: string;
  containerID: string;
  pod: string;
  endpoint: string;
  serviceAccountName: string;
  ipNetworks: string[];
  profiles: string[];
  interfaceName: string;
  mac: string;
  ports?: EndpointPort[];
}

/** A named port of a pod (its containerPorts), which policy rules can name instead of a number. */
export interface EndpointPort {
  name: string;
  protocol: 'TCP' | 'UDP' | 'SCTP';
  port: number;
}

export function workloadEndpointResource(o: {
  name: string;
  namespace: string;
  node: string;
  pod: string;
  containerId: string;
  ip: string;
  iface: string;
  mac: string;
  labels: Record<string, string>;
  ports?: readonly EndpointPort[];
}): Resource<'WorkloadEndpoint', WorkloadEndpointSpec> {
  return {
    apiVersion: API_VERSION,
    kind: 'WorkloadEndpoint',
    metadata: meta(o.name, {
      namespace: o.namespace,
      labels: {
        ...o.labels,
        'projectcalico.org/namespace': o.namespace,
        'projectcalico.org/orchestrator': 'k8s',
        'projectcalico.org/serviceaccount': DEFAULT_SERVICE_ACCOUNT,
      },
    }),
    spec: {
      orchestrator: 'k8s',
      node: o.node,
      containerID: o.containerId,
      pod: o.pod,
      endpoint: 'eth0',
      serviceAccountName: DEFAULT_SERVICE_ACCOUNT,
      ipNetworks: [`${o.ip}/32`],
      profiles: [`kns.${o.namespace}`, `ksa.${o.namespace}.${DEFAULT_SERVICE_ACCOUNT}`],
      interfaceName: o.iface,
      mac: o.mac,
      // The CNI plugin writes ports only when the pod declares some.
      ...(o.ports?.length ? { ports: o.ports.map((p) => ({ ...p })) } : {}),
    },
  };
}
