/**
 * The parts of Kubernetes objects the conversions read, typed loosely on purpose: objects come
 * off the wire as JSON, so every field may be missing and the conversions check what they use.
 */

export type ObjectMeta = {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string | null;
  deletionTimestamp?: string | null;
  generateName?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
};

export type K8sObject = { apiVersion?: string; kind?: string; metadata: ObjectMeta; [k: string]: unknown };

export type ContainerPort = { name?: string; containerPort?: number; hostPort?: number; hostIP?: string; protocol?: string };
export type Container = { name?: string; ports?: ContainerPort[] };

export type Pod = K8sObject & {
  spec?: {
    nodeName?: string;
    hostNetwork?: boolean;
    serviceAccountName?: string;
    containers?: Container[];
    initContainers?: Container[];
  };
  status?: { phase?: string; podIP?: string; podIPs?: Array<{ ip?: string }> };
};

export type Node = K8sObject & {
  spec?: { podCIDR?: string; podCIDRs?: string[] };
  status?: { addresses?: Array<{ type?: string; address?: string }> };
};

/** networking.k8s.io/v1 NetworkPolicy, the fields the conversion reads. */
export type K8sLabelSelector = {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
};
export type K8sNetworkPolicyPeer = {
  podSelector?: K8sLabelSelector;
  namespaceSelector?: K8sLabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
};
export type K8sNetworkPolicyPort = { protocol?: string; port?: number | string; endPort?: number };
export type K8sNetworkPolicy = {
  metadata: ObjectMeta;
  spec?: {
    podSelector?: K8sLabelSelector;
    policyTypes?: string[];
    ingress?: Array<{ from?: K8sNetworkPolicyPeer[]; ports?: K8sNetworkPolicyPort[] }>;
    egress?: Array<{ to?: K8sNetworkPolicyPeer[]; ports?: K8sNetworkPolicyPort[] }>;
  };
};

export type Namespace = K8sObject;
export type ServiceAccount = K8sObject;

/** Receives a human-readable problem found while converting (the object is still converted). */
export type Warn = (message: string) => void;

/** An object that cannot be converted at all; the backend treats it as absent and counts it. */
export class ConversionError extends Error {
  readonly code = 'E_K8S_CONVERSION';
  constructor(
    readonly kind: string,
    readonly objectName: string,
    message: string,
  ) {
    super(`${kind} ${objectName}: ${message}`);
    this.name = 'ConversionError';
  }
}
