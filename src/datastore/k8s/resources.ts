/**
 * Which Kubernetes API collection(s) back each model kind, what to ask the server for, and how one
 * API object becomes a BackendItem (or a deletion). One table, so the cost of each watch is easy
 * to read off (docs/kubernetes.md) and the backend holds no per-kind branches.
 *
 * Kinds derived from native objects: Node (nodes), WorkloadEndpoint (pods, this node only),
 * Profile (namespaces + serviceaccounts), KubernetesNetworkPolicy (networking.k8s.io). The rest
 * are Calico CRDs in crd.projectcalico.org/v1.
 */
import { canonicalKey, validateResource, type ResourceKind } from '../model/index.js';
import type { BackendItem, ResourceScope } from '../types.js';
import { crdToV3 } from './conversion/crd.js';
import { ConversionError, type K8sObject, type Namespace, type Node, type Pod, type ServiceAccount, type Warn } from './conversion/k8stypes.js';
import { kubernetesNetworkPolicyToCalico } from './conversion/networkpolicy.js';
import { k8sNodeToCalico } from './conversion/node.js';
import { hasAddresses, podToWorkloadEndpoint } from './conversion/pod.js';
import { namespaceProfileName, namespaceToProfile, serviceAccountProfileName, serviceAccountToProfile } from './conversion/profile.js';
import { workloadEndpointName } from '../keys.js';
import { ORCHESTRATOR_K8S } from './conversion/constants.js';

export const CALICO_CRD_GROUP = 'crd.projectcalico.org';

export interface ApiCollection {
  readonly group: string; // '' = core
  readonly version: string;
  readonly plural: string;
}

/** What an API object means for the model: a value/decode error under a key, or "not there". */
export type Converted =
  | { readonly type: 'item'; readonly item: BackendItem }
  | { readonly type: 'absent'; readonly key: string }
  | { readonly type: 'skip' };

export interface ConvertContext {
  /** This node's name; scopes narrowed to a node use it. */
  readonly nodeName?: string;
  readonly scope: ResourceScope;
  readonly warn: Warn;
  readonly interfacePrefix?: string;
}

export interface Source {
  readonly api: ApiCollection;
  /** Server-side field selector for a scope (Pods: spec.nodeName=<node>). */
  fieldSelector?(ctx: ConvertContext): string | undefined;
  convert(obj: K8sObject, ctx: ConvertContext): Converted;
}

export function collectionPath(api: ApiCollection): string {
  return api.group ? `/apis/${api.group}/${api.version}/${api.plural}` : `/api/${api.version}/${api.plural}`;
}

export function collectionName(api: ApiCollection): string {
  return api.group ? `${api.plural}.${api.group}` : api.plural;
}

function revisionOf(obj: K8sObject): string {
  return obj.metadata.resourceVersion ?? '0';
}

/** Why a conversion failed, for the decode error the syncer logs. */
function failure(kind: ResourceKind, key: string, e: unknown): string {
  // A ConversionError names the problem; anything else is a shape the conversion did not
  // expect (a field of the wrong JSON type), which must not wedge the watch either.
  return e instanceof ConversionError ? e.message : `${key}: cannot convert this ${kind} (${e instanceof Error ? e.message : String(e)})`;
}

/**
 * Builds the item, or a decode error item when the conversion refused the object: the syncer
 * then logs it, counts it and treats the key as absent, and the watch goes on.
 */
function itemOf(kind: ResourceKind, key: string, obj: K8sObject, make: () => unknown): Converted {
  try {
    return { type: 'item', item: { key, kind, value: make(), revision: revisionOf(obj) } };
  } catch (e) {
    return { type: 'item', item: { key, kind, decodeError: failure(kind, key, e), revision: revisionOf(obj) } };
  }
}

/** A Calico CRD whose spec is the v3 spec. */
function crd(kind: ResourceKind, plural: string, namespaced = false, filter?: (obj: K8sObject, ctx: ConvertContext) => boolean): Source {
  return {
    api: { group: CALICO_CRD_GROUP, version: 'v1', plural },
    convert(obj, ctx) {
      const key = canonicalKey(kind, obj.metadata.name, namespaced ? obj.metadata.namespace : undefined);
      if (filter && !filter(obj, ctx)) return { type: 'absent', key };
      return itemOf(kind, key, obj, () => crdToV3(obj, kind));
    },
  };
}

/** BlockAffinity for the BGP syncer: the CRD has no selectable node field, so filter here. */
function affinityBelongs(obj: K8sObject, ctx: ConvertContext): boolean {
  if (!ctx.scope.node) return true;
  const spec = obj.spec as { node?: unknown } | undefined;
  return spec?.node === ctx.scope.node;
}

const podSource: Source = {
  api: { group: '', version: 'v1', plural: 'pods' },
  fieldSelector: (ctx) => (ctx.nodeName ? `spec.nodeName=${ctx.nodeName}` : undefined),
  convert(obj, ctx) {
    const pod = obj as Pod;
    const node = pod.spec?.nodeName;
    // Unscheduled pods have no endpoint and no key yet.
    if (!node || typeof node !== 'string') return { type: 'skip' };
    const ns = typeof pod.metadata.namespace === 'string' ? pod.metadata.namespace : 'default';
    const key = canonicalKey('WorkloadEndpoint', workloadEndpointName(node, ORCHESTRATOR_K8S, pod.metadata.name, 'eth0'), ns);
    let wep;
    try {
      wep = podToWorkloadEndpoint(pod, { warn: ctx.warn, interfacePrefix: ctx.interfacePrefix });
    } catch (e) {
      return { type: 'item', item: { key, kind: 'WorkloadEndpoint', decodeError: failure('WorkloadEndpoint', key, e), revision: revisionOf(obj) } };
    }
    // Host-network pods are not endpoints; endpoints without addresses (finished pods, pods the
    // CNI plugin has not set up yet) are hidden from the dataplane, as Calico's syncer does.
    if (!wep || !hasAddresses(wep)) return { type: 'absent', key };
    return { type: 'item', item: { key, kind: 'WorkloadEndpoint', value: wep, revision: revisionOf(obj) } };
  },
};

const nodeSource: Source = {
  api: { group: '', version: 'v1', plural: 'nodes' },
  convert(obj, ctx) {
    const key = canonicalKey('Node', obj.metadata.name);
    return itemOf('Node', key, obj, () => k8sNodeToCalico(obj as Node, { warn: ctx.warn }));
  },
};

const namespaceSource: Source = {
  api: { group: '', version: 'v1', plural: 'namespaces' },
  convert(obj) {
    const key = canonicalKey('Profile', namespaceProfileName(obj.metadata.name));
    return itemOf('Profile', key, obj, () => namespaceToProfile(obj as Namespace));
  },
};

const serviceAccountSource: Source = {
  api: { group: '', version: 'v1', plural: 'serviceaccounts' },
  convert(obj) {
    const ns = typeof obj.metadata.namespace === 'string' ? obj.metadata.namespace : 'default';
    const key = canonicalKey('Profile', serviceAccountProfileName(ns, obj.metadata.name));
    return itemOf('Profile', key, obj, () => serviceAccountToProfile(obj as ServiceAccount));
  },
};

/**
 * Kubernetes NetworkPolicy is delivered as it is (the model's KubernetesNetworkPolicy); consumers
 * get Calico's meaning of it from conversion/networkpolicy.ts. The conversion also runs here, as
 * in calico-node's Kubernetes backend, so what Calico logs (rules it drops, CIDRs it cannot
 * parse) is logged and counted at watch time; a policy Calico refuses outright (a uid that is
 * not a UUID) becomes a decode error, so it is absent as it is in Calico.
 */
const k8sNetworkPolicySource: Source = {
  api: { group: 'networking.k8s.io', version: 'v1', plural: 'networkpolicies' },
  convert(obj, ctx) {
    const key = canonicalKey('KubernetesNetworkPolicy', obj.metadata.name, obj.metadata.namespace);
    return itemOf('KubernetesNetworkPolicy', key, obj, () => {
      const value = { ...crdToV3(obj, 'KubernetesNetworkPolicy'), apiVersion: 'networking.k8s.io/v1' };
      // Objects the model rejects are reported by the syncer; only valid ones are converted.
      const v = validateResource('KubernetesNetworkPolicy', value);
      if (v.ok) for (const w of kubernetesNetworkPolicyToCalico(v.resource).warnings) ctx.warn(w);
      return value;
    });
  },
};

/** Every model kind the Kubernetes datastore serves, and its sources. */
export const SOURCES: Readonly<Record<ResourceKind, readonly Source[]>> = {
  IPPool: [crd('IPPool', 'ippools')],
  Node: [nodeSource],
  BGPConfiguration: [crd('BGPConfiguration', 'bgpconfigurations')],
  BGPPeer: [crd('BGPPeer', 'bgppeers')],
  IPAMBlock: [crd('IPAMBlock', 'ipamblocks')],
  BlockAffinity: [crd('BlockAffinity', 'blockaffinities', false, affinityBelongs)],
  WorkloadEndpoint: [podSource],
  HostEndpoint: [crd('HostEndpoint', 'hostendpoints')],
  Profile: [namespaceSource, serviceAccountSource],
  NetworkPolicy: [crd('NetworkPolicy', 'networkpolicies', true)],
  GlobalNetworkPolicy: [crd('GlobalNetworkPolicy', 'globalnetworkpolicies')],
  NetworkSet: [crd('NetworkSet', 'networksets', true)],
  GlobalNetworkSet: [crd('GlobalNetworkSet', 'globalnetworksets')],
  Tier: [crd('Tier', 'tiers')],
  FelixConfiguration: [crd('FelixConfiguration', 'felixconfigurations')],
  ClusterInformation: [crd('ClusterInformation', 'clusterinformations')],
  KubernetesNetworkPolicy: [k8sNetworkPolicySource],
};
