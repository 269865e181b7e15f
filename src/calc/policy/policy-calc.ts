/**
 * The policy side of the calc graph (Felix's active rules calculator, rule scanner, IP set
 * member calculation and policy resolver, wired as in `calc_graph.go`):
 *
 *   policies ──► model (update-processor selectors) ──► local index ◄── this node's endpoints
 *                                                          │ matches
 *        active policies / profiles ◄──────────────────────┤
 *                │ rules                                   ▼
 *          rule scanner ──► IP set defs ──► IpSetCalculator ◄── every endpoint, network set
 *                │ ParsedRules                  │ members
 *                ▼                              ▼
 *   policy / profile updates    endpoint updates (TierTable)   IP set updates / deltas
 *
 * `apply` only records what changed; `flush` recomputes exactly the dirty policies, profiles and
 * endpoints and returns the messages in the order the dataplane needs them (Felix's event
 * sequencer): IP sets before the rules that use them, rules before the endpoints that jump to
 * them, and removals in reverse (endpoints, then rules, then IP sets).
 */
import type {
  GlobalNetworkPolicy,
  GlobalNetworkSet,
  HostEndpoint,
  KubernetesNetworkPolicy,
  NetworkPolicy,
  NetworkSet,
  Profile,
  Tier,
  WorkloadEndpoint,
} from '../../datastore/model/index.js';
import { kubernetesNetworkPolicyAsNetworkPolicy } from '../../datastore/k8s/conversion/networkpolicy.js';
import type { Update } from '../../datastore/syncer.js';
import type { Selector } from '../../datastore/selector.js';
import {
  policyKey,
  workloadEndpointKey,
  type HostEndpointBody,
  type PolicyBody,
  type PolicyId,
  type PolicyMessage,
  type ProfileBody,
  type WorkloadEndpointBody,
  type WorkloadEndpointId,
} from '../../proto/policy.js';
import { IpSetCalculator } from './ipsets.js';
import { LabelIndex } from './label-index.js';
import {
  globalNetworkPolicyToBackend,
  hostEndpointItem,
  networkPolicyToBackend,
  networkSetItem,
  policyTypes,
  profileToBackend,
  workloadEndpointItem,
  type BackendPolicy,
  type BackendProfile,
  type BackendRule,
} from './model.js';
import { parseSelectorCached, scanRules } from './rule-scanner.js';
import { TierTable } from './tiers.js';

/** Rules Felix gives a profile an endpoint names but the datastore lacks: drop both ways. */
const MISSING_PROFILE_RULES: readonly BackendRule[] = [
  {
    action: 'deny',
    srcNets: [], notSrcNets: [], dstNets: [], notDstNets: [],
    srcSelector: '', notSrcSelector: '', dstSelector: '', notDstSelector: '',
    srcPorts: [], notSrcPorts: [], dstPorts: [], notDstPorts: [],
    unenforced: [],
  },
];

/** A problem with one resource: named, and the rest keeps computing. */
export interface PolicyProblem {
  readonly kind: string;
  readonly key: string;
  readonly message: string;
}

interface LocalEndpoint {
  readonly kind: 'workload' | 'host';
  readonly wep?: WorkloadEndpoint;
  readonly hep?: HostEndpoint;
  readonly profiles: readonly string[];
}

export interface PolicyCalcOptions {
  nodeName: string;
  onProblem?: (p: PolicyProblem) => void;
}

export class PolicyCalculator {
  private readonly nodeName: string;
  private readonly onProblem: (p: PolicyProblem) => void;
  private readonly policies = new Map<string, BackendPolicy>();
  private readonly profiles = new Map<string, BackendProfile>();
  readonly tiers = new TierTable();
  private readonly ipsets = new IpSetCalculator();
  /** Policy selectors against this node's endpoints only. */
  private readonly local: LabelIndex;
  private readonly localEndpoints = new Map<string, LocalEndpoint>();
  private readonly policiesOf = new Map<string, Set<string>>();
  private readonly profileUsers = new Map<string, number>();

  private readonly dirtyPolicies = new Set<string>();
  private readonly dirtyProfiles = new Set<string>();
  private readonly dirtyEndpoints = new Set<string>();
  private readonly emittedPolicies = new Map<string, { id: PolicyId; json: string }>();
  private readonly emittedProfiles = new Map<string, string>();
  private readonly emittedEndpoints = new Map<string, { msg: PolicyMessage; json: string }>();

  constructor(opts: PolicyCalcOptions) {
    this.nodeName = opts.nodeName;
    this.onProblem = opts.onProblem ?? (() => undefined);
    this.local = new LabelIndex({
      onMatchStarted: (pol, ep) => this.localMatch(pol, ep, true),
      onMatchStopped: (pol, ep) => this.localMatch(pol, ep, false),
    });
  }

  // ---- counts for metrics and status ----

  get activePolicyCount(): number {
    return this.emittedPolicies.size;
  }
  get activeSelectorCount(): number {
    return this.ipsets.activeSelectorCount;
  }
  get clusterPolicyCount(): number {
    return this.policies.size;
  }
  get clusterProfileCount(): number {
    return this.profiles.size;
  }
  get localEndpointCount(): number {
    return this.localEndpoints.size;
  }

  /** The policies that select a local endpoint, tier by tier (for `tortie status policy`). */
  endpointMessage(key: string): PolicyMessage | undefined {
    return this.emittedEndpoints.get(key)?.msg;
  }
  /** Keys of local endpoints (`WorkloadEndpoint/<ns>/<name>` or `HostEndpoint/<name>`). */
  localEndpointKeys(): string[] {
    return [...this.localEndpoints.keys()];
  }
  ipSetMembers(id: string): string[] {
    return this.ipsets.members(id);
  }

  // ---- input ----

  /** Takes the policy-relevant updates of one syncer batch; other kinds are ignored. */
  apply(batch: readonly Update[]): void {
    for (const u of batch) {
      try {
        this.applyOne(u);
      } catch (e) {
        // A resource that passed validation but still cannot be computed (a bug, or a
        // combination the model allows and Calico rejects): drop it alone, keep the rest.
        this.onProblem({ kind: u.kind, key: u.key, message: e instanceof Error ? e.message : String(e) });
        this.removeAfterProblem(u);
      }
    }
  }

  private applyOne(u: Update): void {
    const v = u.type === 'delete' ? undefined : u.value;
    switch (u.kind) {
      case 'NetworkPolicy':
        this.setPolicy(u.key, v ? networkPolicyToBackend(v as NetworkPolicy) : undefined);
        return;
      case 'GlobalNetworkPolicy':
        this.setPolicy(u.key, v ? globalNetworkPolicyToBackend(v as GlobalNetworkPolicy) : undefined);
        return;
      case 'KubernetesNetworkPolicy':
        this.setKubernetesPolicy(u.key, v as KubernetesNetworkPolicy | undefined);
        return;
      case 'Profile':
        this.setProfile(v ? profileToBackend(v as Profile) : undefined, u.key);
        return;
      case 'Tier': {
        const t = v as Tier | undefined;
        const name = u.key.slice('Tier/'.length);
        this.tiers.set(name, t ? { ...(t.spec.order !== undefined ? { order: t.spec.order } : {}), defaultAction: t.spec.defaultAction ?? 'Deny' } : undefined);
        for (const ep of this.localEndpoints.keys()) this.dirtyEndpoints.add(ep);
        return;
      }
      case 'NetworkSet':
      case 'GlobalNetworkSet':
        this.ipsets.updateItem(u.key, v ? networkSetItem(v as NetworkSet | GlobalNetworkSet) : undefined);
        return;
      case 'WorkloadEndpoint': {
        const w = v as WorkloadEndpoint | undefined;
        this.ipsets.updateItem(u.key, w ? workloadEndpointItem(w) : undefined);
        this.setLocalEndpoint(u.key, w && w.spec.node === this.nodeName ? { kind: 'workload', wep: w, profiles: w.spec.profiles } : undefined, w?.metadata.labels);
        return;
      }
      case 'HostEndpoint': {
        const h = v as HostEndpoint | undefined;
        this.ipsets.updateItem(u.key, h ? hostEndpointItem(h) : undefined);
        this.setLocalEndpoint(u.key, h && h.spec.node === this.nodeName ? { kind: 'host', hep: h, profiles: h.spec.profiles ?? [] } : undefined, h?.metadata.labels);
        return;
      }
      default:
        return;
    }
  }

  private removeAfterProblem(u: Update): void {
    try {
      if (u.kind === 'NetworkPolicy' || u.kind === 'GlobalNetworkPolicy' || u.kind === 'KubernetesNetworkPolicy') this.setPolicy(u.key, undefined);
      else if (u.kind === 'Profile') this.setProfile(undefined, u.key);
    } catch {
      /* nothing more to undo */
    }
  }

  private setKubernetesPolicy(key: string, knp: KubernetesNetworkPolicy | undefined): void {
    if (!knp) {
      this.setPolicy(key, undefined);
      return;
    }
    // Conversion warnings were already logged and counted when the watch delivered the policy.
    const { policy } = kubernetesNetworkPolicyAsNetworkPolicy(knp);
    this.setPolicy(key, networkPolicyToBackend(policy, 'KubernetesNetworkPolicy'));
  }

  private setPolicy(key: string, p: BackendPolicy | undefined): void {
    const old = this.policies.get(key);
    if (p) {
      for (const r of [...p.inboundRules, ...p.outboundRules]) {
        if (r.unenforced.length) {
          this.onProblem({ kind: p.id.kind, key, message: `rule matches on ${r.unenforced.join(', ')}, which the iptables dataplane does not enforce (as in Felix): the rule is applied without that match` });
        }
      }
      this.policies.set(key, p);
    } else {
      this.policies.delete(key);
    }
    this.dirtyPolicies.add(key);
    // The endpoints it selects list it by id, in order: they change only when what places it
    // (id, order, types, doNotTrack / preDNAT / applyOnForward) changes, not with its rules.
    if (!old || !p || placement(old) !== placement(p)) for (const ep of this.local.matchesOf(key)) this.dirtyEndpoints.add(ep);
    const sel: Selector | undefined = p ? parseSelectorCached(p.selector || 'all()') : undefined;
    if (!old || !p || old.selector !== p.selector) this.local.updateSelector(key, sel);
  }

  private setProfile(p: BackendProfile | undefined, key: string): void {
    const name = p?.name ?? key.slice('Profile/'.length);
    if (p) this.profiles.set(name, p);
    else this.profiles.delete(name);
    this.ipsets.updateParent(name, p?.labels);
    this.local.updateParent(name, p?.labels);
    this.dirtyProfiles.add(name);
  }

  private setLocalEndpoint(key: string, ep: LocalEndpoint | undefined, labels: Readonly<Record<string, string>> | undefined): void {
    const old = this.localEndpoints.get(key);
    if (!old && !ep) return;
    for (const p of old?.profiles ?? []) this.useProfile(p, -1);
    for (const p of ep?.profiles ?? []) this.useProfile(p, +1);
    if (ep) this.localEndpoints.set(key, ep);
    else this.localEndpoints.delete(key);
    this.local.updateItem(key, ep ? (labels ?? {}) : undefined, ep?.profiles ?? []);
    this.dirtyEndpoints.add(key);
  }

  private useProfile(name: string, delta: 1 | -1): void {
    const n = (this.profileUsers.get(name) ?? 0) + delta;
    if (n > 0) this.profileUsers.set(name, n);
    else this.profileUsers.delete(name);
    if ((delta > 0 && n === 1) || n === 0) this.dirtyProfiles.add(name);
  }

  private localMatch(policy: string, endpoint: string, started: boolean): void {
    let set = this.policiesOf.get(endpoint);
    if (!set) this.policiesOf.set(endpoint, (set = new Set()));
    if (started) set.add(policy);
    else set.delete(policy);
    if (set.size === 0) this.policiesOf.delete(endpoint);
    this.dirtyEndpoints.add(endpoint);
    const n = this.local.matchesOf(policy).size;
    // Became active (first local match) or inactive (last one gone).
    if ((started && n === 1) || (!started && n === 0)) this.dirtyPolicies.add(policy);
  }

  // ---- output ----

  /** Recomputes what changed since the last flush and returns the messages, in dataplane order. */
  flush(): PolicyMessage[] {
    const rules: PolicyMessage[] = [];
    const removeRules: PolicyMessage[] = [];
    for (const key of this.dirtyProfiles) this.flushProfile(key, rules, removeRules);
    this.dirtyProfiles.clear();
    for (const key of this.dirtyPolicies) this.flushPolicy(key, rules, removeRules);
    this.dirtyPolicies.clear();

    const sets: PolicyMessage[] = [];
    const removeSets: PolicyMessage[] = [];
    this.ipsets.flush(sets, removeSets);

    const endpoints: PolicyMessage[] = [];
    const removeEndpoints: PolicyMessage[] = [];
    for (const key of this.dirtyEndpoints) this.flushEndpoint(key, endpoints, removeEndpoints);
    this.dirtyEndpoints.clear();
    return [...sets, ...rules, ...endpoints, ...removeEndpoints, ...removeRules, ...removeSets];
  }

  private flushPolicy(key: string, out: PolicyMessage[], removals: PolicyMessage[]): void {
    const p = this.policies.get(key);
    const active = p !== undefined && this.local.matchesOf(key).size > 0;
    const emitted = this.emittedPolicies.get(key);
    if (!active) {
      this.ipsets.setOwnerSets(`policy:${key}`, new Map());
      if (emitted) {
        this.emittedPolicies.delete(key);
        removals.push({ type: 'policy-remove', id: emitted.id });
      }
      return;
    }
    const scanned = scanRules(policyKey(p.id), p.inboundRules, p.outboundRules);
    this.ipsets.setOwnerSets(`policy:${key}`, scanned.ipSets);
    const body: PolicyBody = {
      ...(p.namespace ? { namespace: p.namespace } : {}),
      inboundRules: scanned.inbound,
      outboundRules: scanned.outbound,
      untracked: p.doNotTrack,
      preDnat: p.preDnat,
      applyOnForward: p.applyOnForward,
      // Felix's policy groups share chains between policies with the same selector.
      originalSelector: parseSelectorCached(p.selector || 'all()').toString(),
    };
    const json = JSON.stringify([p.id, body]);
    if (emitted && emitted.json === json) return;
    // A policy whose id changed (tier moved) is a removal of the old id plus an update.
    if (emitted && policyKey(emitted.id) !== policyKey(p.id)) removals.push({ type: 'policy-remove', id: emitted.id });
    this.emittedPolicies.set(key, { id: p.id, json });
    out.push({ type: 'policy-update', id: p.id, policy: body });
  }

  private flushProfile(name: string, out: PolicyMessage[], removals: PolicyMessage[]): void {
    const used = (this.profileUsers.get(name) ?? 0) > 0;
    if (!used) {
      this.ipsets.setOwnerSets(`profile:${name}`, new Map());
      if (this.emittedProfiles.delete(name)) removals.push({ type: 'profile-remove', id: name });
      return;
    }
    const p = this.profiles.get(name);
    const inbound = p ? p.inboundRules : MISSING_PROFILE_RULES;
    const outbound = p ? p.outboundRules : MISSING_PROFILE_RULES;
    const scanned = scanRules(`profile/${name}`, inbound, outbound);
    this.ipsets.setOwnerSets(`profile:${name}`, scanned.ipSets);
    const body: ProfileBody = { inboundRules: scanned.inbound, outboundRules: scanned.outbound };
    const json = JSON.stringify(body);
    if (this.emittedProfiles.get(name) === json) return;
    this.emittedProfiles.set(name, json);
    out.push({ type: 'profile-update', id: name, profile: body });
  }

  private flushEndpoint(key: string, out: PolicyMessage[], removals: PolicyMessage[]): void {
    const ep = this.localEndpoints.get(key);
    const emitted = this.emittedEndpoints.get(key);
    if (!ep) {
      if (emitted) {
        this.emittedEndpoints.delete(key);
        const m = emitted.msg;
        removals.push(m.type === 'workload-endpoint-update' ? { type: 'workload-endpoint-remove', id: m.id } : { type: 'host-endpoint-remove', id: key });
      }
      return;
    }
    const pols = [...(this.policiesOf.get(key) ?? [])].map((k) => this.policies.get(k)).filter((p): p is BackendPolicy => !!p);
    const normal = (p: BackendPolicy): boolean => !p.doNotTrack && !p.preDnat;
    let msg: PolicyMessage;
    if (ep.kind === 'workload') {
      const w = ep.wep!;
      const id = workloadEndpointId(w);
      const body: WorkloadEndpointBody = {
        state: 'active',
        name: w.spec.interfaceName,
        ...(w.spec.mac ? { mac: w.spec.mac } : {}),
        profileIds: w.spec.profiles,
        ipv4Nets: w.spec.ipNetworks.filter((n) => !n.includes(':')),
        ipv6Nets: w.spec.ipNetworks.filter((n) => n.includes(':')),
        tiers: this.tiers.resolve(pols, normal),
      };
      msg = { type: 'workload-endpoint-update', id, endpoint: body };
      if (emitted && emitted.msg.type === 'workload-endpoint-update' && workloadEndpointKey(emitted.msg.id) !== workloadEndpointKey(id)) {
        removals.push({ type: 'workload-endpoint-remove', id: emitted.msg.id });
      }
    } else {
      const h = ep.hep!;
      const ips = h.spec.expectedIPs ?? [];
      const body: HostEndpointBody = {
        name: h.spec.interfaceName ?? '',
        profileIds: h.spec.profiles ?? [],
        tiers: this.tiers.resolve(pols, normal),
        untrackedTiers: this.tiers.resolve(pols, (p) => p.doNotTrack),
        preDnatTiers: this.tiers.resolve(pols, (p) => p.preDnat),
        forwardTiers: this.tiers.resolve(pols, (p) => normal(p) && p.applyOnForward),
        expectedIpv4Addrs: ips.filter((a) => !a.includes(':')),
        expectedIpv6Addrs: ips.filter((a) => a.includes(':')),
      };
      msg = { type: 'host-endpoint-update', id: key, endpoint: body };
    }
    const json = JSON.stringify(msg);
    if (emitted?.json === json) return;
    this.emittedEndpoints.set(key, { msg, json });
    out.push(msg);
  }
}

/** What decides where a policy appears in an endpoint's tiers. */
function placement(p: BackendPolicy): string {
  const t = policyTypes(p);
  return JSON.stringify([p.id, p.order ?? null, t.ingress, t.egress, p.doNotTrack, p.preDnat, p.applyOnForward]);
}

/** Felix's WorkloadEndpointID for a v3 endpoint: orchestrator, `<namespace>/<pod>`, endpoint. */
export function workloadEndpointId(w: WorkloadEndpoint): WorkloadEndpointId {
  const workload = w.spec.pod ?? w.spec.workload ?? w.metadata.name;
  return {
    orchestrator: w.spec.orchestrator ?? 'k8s',
    workload: `${w.metadata.namespace ?? 'default'}/${workload}`,
    endpoint: w.spec.endpoint ?? 'eth0',
  };
}
