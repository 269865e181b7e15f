/**
 * The resource model: one table of every kind the node agent consumes (its schema, etcd plural,
 * scope), the `Resource` union, canonical keys, and `validateResource`, which turns any JSON value
 * into either a typed resource or a list of problems with their field paths. Both backends (etcd,
 * Kubernetes) and `tortie datastore check` validate through here, so a resource is judged the same
 * way wherever it comes from.
 */
import { z } from 'zod';
import { clusterInformationSchema, felixConfigurationSchema } from './config.js';
import { hostEndpointSchema, workloadEndpointSchema } from './endpoints.js';
import { blockAffinitySchema, ipamBlockSchema } from './ipam.js';
import { bgpConfigurationSchema, bgpPeerSchema, ipPoolSchema, nodeSchema } from './network.js';
import {
  globalNetworkPolicySchema,
  globalNetworkSetSchema,
  kubernetesNetworkPolicySchema,
  networkPolicySchema,
  networkSetSchema,
  profileSchema,
  tierSchema,
} from './policy.js';

export * from './common.js';
export * from './config.js';
export * from './endpoints.js';
export * from './ipam.js';
export * from './network.js';
export * from './policy.js';

interface KindInfo<S extends z.ZodType> {
  readonly schema: S;
  /** Path segment under /calico/resources/v3/projectcalico.org/ (v3 kinds only). */
  readonly plural: string;
  readonly namespaced: boolean;
}

/**
 * Every kind tortie consumes. IPAMBlock and BlockAffinity are not v3 resources in etcd (they live
 * under /calico/ipam/v2/, see ipam.ts); KubernetesNetworkPolicy exists only in the Kubernetes
 * datastore. Their `plural` is the CRD's / API's plural.
 */
export const KINDS = {
  IPPool: { schema: ipPoolSchema, plural: 'ippools', namespaced: false },
  Node: { schema: nodeSchema, plural: 'nodes', namespaced: false },
  BGPConfiguration: { schema: bgpConfigurationSchema, plural: 'bgpconfigurations', namespaced: false },
  BGPPeer: { schema: bgpPeerSchema, plural: 'bgppeers', namespaced: false },
  IPAMBlock: { schema: ipamBlockSchema, plural: 'ipamblocks', namespaced: false },
  BlockAffinity: { schema: blockAffinitySchema, plural: 'blockaffinities', namespaced: false },
  WorkloadEndpoint: { schema: workloadEndpointSchema, plural: 'workloadendpoints', namespaced: true },
  HostEndpoint: { schema: hostEndpointSchema, plural: 'hostendpoints', namespaced: false },
  Profile: { schema: profileSchema, plural: 'profiles', namespaced: false },
  NetworkPolicy: { schema: networkPolicySchema, plural: 'networkpolicies', namespaced: true },
  GlobalNetworkPolicy: { schema: globalNetworkPolicySchema, plural: 'globalnetworkpolicies', namespaced: false },
  NetworkSet: { schema: networkSetSchema, plural: 'networksets', namespaced: true },
  GlobalNetworkSet: { schema: globalNetworkSetSchema, plural: 'globalnetworksets', namespaced: false },
  Tier: { schema: tierSchema, plural: 'tiers', namespaced: false },
  FelixConfiguration: { schema: felixConfigurationSchema, plural: 'felixconfigurations', namespaced: false },
  ClusterInformation: { schema: clusterInformationSchema, plural: 'clusterinformations', namespaced: false },
  KubernetesNetworkPolicy: { schema: kubernetesNetworkPolicySchema, plural: 'networkpolicies.networking.k8s.io', namespaced: true },
} as const satisfies Record<string, KindInfo<z.ZodType>>;

export type ResourceKind = keyof typeof KINDS;
export const RESOURCE_KINDS = Object.keys(KINDS) as ResourceKind[];

/** The validated resource of a kind (defaults applied). */
export type ResourceOf<K extends ResourceKind> = z.infer<(typeof KINDS)[K]['schema']>;
/** Any validated resource; `kind` discriminates. */
export type Resource = { [K in ResourceKind]: ResourceOf<K> }[ResourceKind];

export function isResourceKind(s: string): s is ResourceKind {
  return Object.prototype.hasOwnProperty.call(KINDS, s);
}

/** Case-insensitive lookup by kind, plural or singular lower-case name (for CLI flags). */
export function kindFromUserInput(s: string): ResourceKind | undefined {
  const l = s.toLowerCase();
  return RESOURCE_KINDS.find((k) => k.toLowerCase() === l || KINDS[k].plural === l || `${k.toLowerCase()}s` === l);
}

/**
 * Canonical key of a resource: `<Kind>/<name>` or `<Kind>/<namespace>/<name>`. The same on every
 * backend, so consumers can key maps by it (a JS Map compares objects by reference).
 */
export function canonicalKey(kind: ResourceKind, name: string, namespace?: string): string {
  return namespace ? `${kind}/${namespace}/${name}` : `${kind}/${name}`;
}

/** Inverse of canonicalKey. */
export function parseCanonicalKey(key: string): { kind: ResourceKind; name: string; namespace?: string } | undefined {
  const parts = key.split('/');
  const kind = parts[0] ?? '';
  if (!isResourceKind(kind)) return undefined;
  if (parts.length === 2) return { kind, name: parts[1]! };
  if (parts.length === 3) return { kind, namespace: parts[1]!, name: parts[2]! };
  return undefined;
}

/** One problem found in a resource: a dotted field path (`spec.cidr`) and what is wrong there. */
export interface Problem {
  readonly path: string;
  readonly message: string;
}

export type Validation<K extends ResourceKind = ResourceKind> =
  | { readonly ok: true; readonly resource: ResourceOf<K> }
  | { readonly ok: false; readonly problems: readonly Problem[] };

function pathText(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out || '(resource)';
}

/** Zod's built-in messages, made to name the value an operator has to fix. */
function issueMessage(issue: z.core.$ZodIssue, input: unknown): string {
  if (issue.code === 'invalid_type') {
    const got = issue.path.reduce<unknown>((v, p) => (v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[p] : undefined), input);
    return got === undefined ? `is required (${issue.expected})` : `expected ${issue.expected}, got ${JSON.stringify(got)}`;
  }
  return issue.message;
}

/**
 * Validates `value` as a resource of `kind`. Never throws for bad input: returns every problem
 * found (zod reports all issues, not just the first).
 */
export function validateResource<K extends ResourceKind>(kind: K, value: unknown): Validation<K> {
  const r = KINDS[kind].schema.safeParse(value);
  if (r.success) return { ok: true, resource: r.data as ResourceOf<K> };
  return { ok: false, problems: r.error.issues.map((i) => ({ path: pathText(i.path), message: issueMessage(i, value) })) };
}

/** `kind/namespace/name` of a possibly-invalid value, for log lines about it. */
export function describeResource(kind: string, value: unknown): string {
  const md = value !== null && typeof value === 'object' ? (value as { metadata?: { name?: unknown; namespace?: unknown } }).metadata : undefined;
  const name = typeof md?.name === 'string' ? md.name : '<unnamed>';
  return typeof md?.namespace === 'string' && md.namespace ? `${kind}/${md.namespace}/${name}` : `${kind}/${name}`;
}
