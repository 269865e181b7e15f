/**
 * The synthetic cluster of the policy benchmarks (policy-calc, policy-dataplane): N workload
 * endpoints, the first LOCAL of them on this node, in NAMESPACES namespaces with a namespace and
 * a service-account profile each and a named port; POLICIES policies, a third namespaced
 * NetworkPolicies in the default tier, two thirds GlobalNetworkPolicies in the `security` and
 * `platform` tiers. Every resource is validated as the syncer validates it, so what reaches the
 * CalcGraph is what a real datastore would deliver. One place, so the two benchmarks measure the
 * same cluster.
 */
import { validateResource, canonicalKey, type ResourceKind } from '../../src/datastore/model/index.js';
import type { Update } from '../../src/datastore/syncer.js';
import { CalcGraph, type DataplaneSink, type PolicySink } from '../../src/calc/graph.js';

export const NAMESPACES = 5000;
export const POLICIES = 1000;
export const LOCAL = 250;
export const NODE = 'node-1';
/** Updates per CalcGraph round: the syncer's batch size. */
export const BATCH = 500;

export function add(kind: ResourceKind, value: Record<string, unknown>, rev: number): Update {
  const v = validateResource(kind, { apiVersion: 'projectcalico.org/v3', kind, ...value });
  if (!v.ok) throw new Error(`${kind}: ${JSON.stringify(v.problems)}`);
  const md = value.metadata as { name: string; namespace?: string };
  return { type: 'add', kind, key: canonicalKey(kind, md.name, md.namespace), value: v.resource, revision: String(rev) };
}

export const ROLES = ['frontend', 'backend', 'db', 'cache'];
const ns = (i: number) => `ns-${i % NAMESPACES}`;
const ipOf = (i: number) => `10.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;

export function wep(i: number, rev: number, extraLabels: Record<string, string> = {}, local = i < LOCAL): Update {
  const n = ns(i);
  const pod = `pod-${i}`;
  const node = local ? NODE : `node-${2 + (i % 500)}`;
  return add('WorkloadEndpoint', {
    metadata: {
      name: `${node}-k8s-${pod}-eth0`,
      namespace: n,
      labels: { 'projectcalico.org/namespace': n, 'projectcalico.org/orchestrator': 'k8s', app: `app-${i % 50}`, role: ROLES[i % 4]!, version: `v${i % 3}`, ...extraLabels },
    },
    spec: {
      node, orchestrator: 'k8s', pod, endpoint: 'eth0', interfaceName: `cali${i.toString(16).padStart(11, '0')}`,
      ipNetworks: [`${ipOf(i)}/32`], profiles: [`kns.${n}`, `ksa.${n}.default`],
      ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
    },
  }, rev);
}

export function policy(j: number, rev: number, variant = 0): Update {
  const tiers = ['security', 'platform', 'default'];
  const tier = tiers[j % 3]!;
  if (j % 3 === 2) {
    // Namespaced policies in the default tier: what applications write.
    return add('NetworkPolicy', {
      metadata: { name: `np-${j}`, namespace: ns(j) },
      spec: {
        order: 100 + (j % 10), selector: `app == 'app-${j % 50}'`, types: ['Ingress', 'Egress'],
        ingress: [
          { action: 'Allow', protocol: 'TCP', source: { selector: `role == '${ROLES[(j + variant) % 4]}'` }, destination: { ports: [80, 443, 'http'] } },
          { action: 'Allow', source: { namespaceSelector: `team == 'team-${j % 20}'` } },
        ],
        egress: [{ action: 'Allow', protocol: 'UDP', destination: { ports: [53] } }, { action: 'Allow', destination: { selector: `role == 'db'` } }],
      },
    }, rev);
  }
  return add('GlobalNetworkPolicy', {
    metadata: { name: `gnp-${j}` },
    spec: {
      tier, order: j % 100, selector: j % 2 ? `role == '${ROLES[j % 4]}'` : `version == 'v${j % 3}'`,
      ingress: [
        { action: j % 5 === 0 ? 'Deny' : 'Pass', source: { nets: [`192.0.${j % 256}.0/24`], notNets: ['192.0.0.0/30'] } },
        { action: 'Allow', protocol: 'ICMP', icmp: { type: 8 } },
        { action: 'Allow', source: { selector: `app == 'app-${(j + variant) % 50}' && role == 'frontend'` } },
      ],
      egress: [{ action: 'Allow' }],
    },
  }, rev);
}

/** The cluster's updates, generated batch by batch (the syncer does not keep values either). */
export function* cluster(endpoints: number): Generator<Update> {
  let rev = 1;
  yield add('Tier', { metadata: { name: 'security' }, spec: { order: 100 } }, rev++);
  yield add('Tier', { metadata: { name: 'platform' }, spec: { order: 200 } }, rev++);
  for (let i = 0; i < NAMESPACES; i++) {
    yield add('Profile', { metadata: { name: `kns.${ns(i)}` }, spec: { ingress: [{ action: 'Allow' }], egress: [{ action: 'Allow' }], labelsToApply: { 'pcns.projectcalico.org/name': ns(i), 'pcns.team': `team-${i % 20}` } } }, rev++);
    yield add('Profile', { metadata: { name: `ksa.${ns(i)}.default` }, spec: { labelsToApply: { 'pcsa.projectcalico.org/name': 'default' } } }, rev++);
  }
  for (let j = 0; j < POLICIES; j++) yield policy(j, rev++);
  for (let i = 0; i < endpoints; i++) yield wep(i, rev++);
}

/** Routes are not what these benchmarks measure: the routing sink drops everything. */
const NO_ROUTES: DataplaneSink = {
  setRoute: () => undefined,
  deleteRoute: () => undefined,
  setVxlanDevice: () => undefined,
  setIpipDevice: () => undefined,
  setVtep: () => undefined,
  deleteVtep: () => undefined,
};

/** A CalcGraph for this node (BIRD networking, no encapsulation) whose policy messages go to `policy`. */
export function policyCalcGraph(policy: PolicySink): CalcGraph {
  return new CalcGraph({ nodeName: NODE, networkingBackend: 'bird', uplinkMtu: 1500, vxlanVni: 4096, vxlanPort: 4789 }, { dataplane: NO_ROUTES, policy });
}
