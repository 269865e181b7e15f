/**
 * Policy resources as Felix sees them: the step libcalico-go's syncer update processors take
 * between the v3 API objects and Felix's calc graph (`updateprocessors/{networkpolicy,
 * globalnetworkpolicy,profile,networkset}processor.go`, `rules.go`, `selectors.go`).
 *
 * The step matters for compatibility because it writes selector *text*: a namespaced policy's
 * selector gains `projectcalico.org/namespace == '<ns>'`, a rule's namespaceSelector and
 * serviceAccounts become `pcns.` / `pcsa.` label selectors ANDed with its selector, and Felix then
 * names each selector's IP set after the hash of that text. So the combinations below follow
 * Calico's wording and bracketing exactly, including its textual `all()` replacements; the same
 * policy must yield the same IP set names as on a Calico node.
 */
import type { GlobalNetworkPolicy, NetworkPolicy, NetworkSet, GlobalNetworkSet, Profile, Rule, HostEndpoint, WorkloadEndpoint } from '../../datastore/model/index.js';
import { NAMESPACE_LABEL_PREFIX, SERVICE_ACCOUNT_LABEL_PREFIX, Selector, prefixSelector, ruleNamespaceSelector } from '../../datastore/selector.js';
import { LABEL_NAMESPACE, LABEL_SERVICE_ACCOUNT, NAMESPACE_PROFILE_PREFIX } from '../../datastore/k8s/conversion/constants.js';
import type { IcmpMatch, PolicyId, PolicyKind, PortRange, Protocol, RuleAction } from '../../proto/policy.js';
import { normaliseNet } from './nets.js';

export const DEFAULT_TIER = 'default';

/** A port in a backend rule: a numeric range or a named port still to be resolved per endpoint. */
export type BackendPort = PortRange | { readonly name: string };

/** One rule after the update processor: selectors combined into one expression per side. */
export interface BackendRule {
  readonly action: RuleAction;
  readonly ipVersion?: 4 | 6;
  readonly protocol?: Protocol;
  readonly notProtocol?: Protocol;
  readonly icmp?: IcmpMatch;
  readonly notIcmp?: IcmpMatch;
  readonly srcNets: readonly string[];
  readonly notSrcNets: readonly string[];
  readonly dstNets: readonly string[];
  readonly notDstNets: readonly string[];
  /** '' when the rule has none. */
  readonly srcSelector: string;
  readonly notSrcSelector: string;
  readonly dstSelector: string;
  readonly notDstSelector: string;
  readonly srcPorts: readonly BackendPort[];
  readonly notSrcPorts: readonly BackendPort[];
  readonly dstPorts: readonly BackendPort[];
  readonly notDstPorts: readonly BackendPort[];
  readonly annotations?: Readonly<Record<string, string>>;
  /** Match fields tortie cannot enforce (`http`, `services`): Felix's iptables dataplane ignores them too. */
  readonly unenforced: readonly string[];
}

export interface BackendPolicy {
  readonly id: PolicyId;
  /** Absent: sorts after every ordered policy, as Felix does with a nil order. */
  readonly order?: number;
  /** The policy's own selector, namespace and service-account restrictions folded in. */
  readonly selector: string;
  /** Lower-cased `types` as written; empty means "infer" (see policyTypes). */
  readonly types: readonly ('ingress' | 'egress')[];
  readonly inboundRules: readonly BackendRule[];
  readonly outboundRules: readonly BackendRule[];
  readonly namespace?: string;
  readonly doNotTrack: boolean;
  readonly preDnat: boolean;
  readonly applyOnForward: boolean;
}

export interface BackendProfile {
  readonly name: string;
  readonly inboundRules: readonly BackendRule[];
  readonly outboundRules: readonly BackendRule[];
  /** Labels endpoints inherit from the profile (`labelsToApply`). */
  readonly labels: Readonly<Record<string, string>>;
}

/**
 * Anything with labels whose addresses can land in an IP set: workload and host endpoints and
 * network sets. `profiles` are label parents (labelsToApply), in order.
 */
export interface LabelledItem {
  readonly labels: Readonly<Record<string, string>>;
  readonly profiles: readonly string[];
  /** Addresses (endpoints: host prefixes) or CIDRs (network sets), canonical text. */
  readonly nets: readonly string[];
  /** Named ports (endpoints only). */
  readonly ports: readonly { readonly name: string; readonly protocol: 'tcp' | 'udp' | 'sctp'; readonly port: number }[];
}

/** Calico's v3 → v1 protocol spelling: names lower-cased, numbers kept. */
export function protocolToBackend(p: string | number | undefined): Protocol | undefined {
  if (p === undefined) return undefined;
  return typeof p === 'number' ? p : p.toLowerCase();
}

function ruleAction(a: Rule['action']): RuleAction {
  return a === 'Pass' ? 'pass' : (a.toLowerCase() as RuleAction);
}

/** `80`, `"1000:2000"`, `"http"` → a range or a named port. Invalid text never gets here (validated). */
export function portToBackend(p: number | string): BackendPort {
  if (typeof p === 'number') return { first: p, last: p };
  const m = /^(\d+):(\d+)$/.exec(p);
  if (m) return { first: Number(m[1]), last: Number(m[2]) };
  if (/^\d+$/.test(p)) return { first: Number(p), last: Number(p) };
  return { name: p };
}

/** Parses, prefixes every label key and prints canonically (Calico's parseSelectorAttachPrefix). */
const attachPrefix = prefixSelector;

/** Calico's prefixAndAppendSelector: `(<current>) && <prefixed new>`. */
function prefixAndAppend(current: string, extra: string | undefined, prefix: string): string {
  if (!extra) return current;
  const prefixed = attachPrefix(extra, prefix);
  if (!prefixed) return current;
  return current ? `(${current}) && ${prefixed}` : prefixed;
}

/** Service-account match as a selector: pcsa.-prefixed selector AND names (Calico's parseServiceAccounts). */
function serviceAccountSelector(sa: { names?: string[]; selector?: string } | undefined): string {
  if (!sa) return '';
  const bySelector = sa.selector ? attachPrefix(sa.selector, SERVICE_ACCOUNT_LABEL_PREFIX) : '';
  if (!sa.names || sa.names.length === 0) return bySelector;
  const names = Selector.parse(`${LABEL_SERVICE_ACCOUNT} in { '${sa.names.join("', '")}' }`).toString();
  return bySelector ? `(${bySelector}) && (${names})` : names;
}

type EntityRule = NonNullable<Rule['source']>;

/**
 * One selector for every endpoint an entity rule matches (Calico's getEndpointSelector): the
 * namespace part (a namespaceSelector, or the policy's own namespace), the service accounts and
 * the selector. `notSelector` is left as written, but it still triggers namespacing.
 */
export function entityRuleSelector(er: EntityRule | undefined, ns: string | undefined): string {
  if (!er) return '';
  let nsSelector = '';
  if (er.namespaceSelector) {
    nsSelector = ruleNamespaceSelector(er.namespaceSelector);
  } else if (ns) {
    nsSelector = `${LABEL_NAMESPACE} == '${ns}'`;
  }
  const parts: string[] = [];
  const sa = serviceAccountSelector(er.serviceAccounts);
  if (sa) parts.push(sa);
  if (er.selector) parts.push(er.selector);
  let selector = parts.length === 0 ? '' : parts.length === 1 ? parts[0]! : `(${parts.join(') && (')})`;
  if (nsSelector && (selector || er.notSelector || er.namespaceSelector)) {
    selector = selector ? `(${nsSelector}) && (${selector})` : nsSelector;
  }
  return selector;
}

function icmp(m: { type?: number; code?: number } | undefined): IcmpMatch | undefined {
  if (!m || m.type === undefined) return undefined;
  return m.code === undefined ? { type: m.type } : { type: m.type, code: m.code };
}

const nets = (xs: readonly string[] | undefined): string[] => (xs ?? []).map(normaliseNet);
const ports = (xs: readonly (number | string)[] | undefined): BackendPort[] => (xs ?? []).map(portToBackend);

/** One v3 rule as Felix's calc graph receives it (Calico's RuleAPIV2ToBackend). */
export function ruleToBackend(r: Rule, ns: string | undefined): BackendRule {
  const unenforced: string[] = [];
  const raw = r as Record<string, unknown>;
  if (raw.http !== undefined) unenforced.push('http');
  if (r.source?.services !== undefined) unenforced.push('source.services');
  if (r.destination?.services !== undefined) unenforced.push('destination.services');
  const out: BackendRule = {
    action: ruleAction(r.action),
    ...(r.ipVersion !== undefined ? { ipVersion: r.ipVersion } : {}),
    ...(r.protocol !== undefined ? { protocol: protocolToBackend(r.protocol) } : {}),
    ...(r.notProtocol !== undefined ? { notProtocol: protocolToBackend(r.notProtocol) } : {}),
    ...(icmp(r.icmp) ? { icmp: icmp(r.icmp) } : {}),
    ...(icmp(r.notICMP) ? { notIcmp: icmp(r.notICMP) } : {}),
    srcNets: nets(r.source?.nets),
    notSrcNets: nets(r.source?.notNets),
    dstNets: nets(r.destination?.nets),
    notDstNets: nets(r.destination?.notNets),
    srcSelector: entityRuleSelector(r.source, ns),
    notSrcSelector: r.source?.notSelector ?? '',
    dstSelector: entityRuleSelector(r.destination, ns),
    notDstSelector: r.destination?.notSelector ?? '',
    srcPorts: ports(r.source?.ports),
    notSrcPorts: ports(r.source?.notPorts),
    dstPorts: ports(r.destination?.ports),
    notDstPorts: ports(r.destination?.notPorts),
    ...(r.metadata?.annotations ? { annotations: { ...r.metadata.annotations } } : {}),
    unenforced,
  };
  return out;
}

const rules = (xs: readonly Rule[] | undefined, ns: string | undefined): BackendRule[] => (xs ?? []).map((r) => ruleToBackend(r, ns));
const types = (xs: readonly string[] | undefined): ('ingress' | 'egress')[] => (xs ?? []).map((t) => t.toLowerCase() as 'ingress' | 'egress');

/**
 * The name Felix knows a policy by. Calico ≥ 3.30 keeps the name as written (older releases
 * prefixed the tier, `default.`); a name that still carries its tier prefix keeps it.
 */
function policyId(kind: PolicyKind, tier: string, name: string, namespace?: string): PolicyId {
  return namespace ? { tier, kind, namespace, name } : { tier, kind, name };
}

/** A namespaced Calico NetworkPolicy (or a converted Kubernetes one, with `kind` saying so). */
export function networkPolicyToBackend(np: NetworkPolicy, kind: PolicyKind = 'NetworkPolicy'): BackendPolicy {
  const ns = np.metadata.namespace!;
  const spec = np.spec;
  const nsSelector = `${LABEL_NAMESPACE} == '${ns}'`;
  let selector = spec.selector ? `(${spec.selector}) && ${nsSelector}` : nsSelector;
  selector = prefixAndAppend(selector, spec.serviceAccountSelector, SERVICE_ACCOUNT_LABEL_PREFIX);
  return {
    id: policyId(kind, spec.tier ?? DEFAULT_TIER, np.metadata.name, ns),
    ...(spec.order !== undefined ? { order: spec.order } : {}),
    selector,
    types: types(spec.types),
    inboundRules: rules(spec.ingress, ns),
    outboundRules: rules(spec.egress, ns),
    namespace: ns,
    doNotTrack: false,
    preDnat: false,
    applyOnForward: true,
  };
}

export function globalNetworkPolicyToBackend(gnp: GlobalNetworkPolicy): BackendPolicy {
  const spec = gnp.spec;
  let selector = spec.selector ?? '';
  if (spec.namespaceSelector) {
    selector = prefixAndAppend(selector, spec.namespaceSelector, NAMESPACE_LABEL_PREFIX).replaceAll('all()', `has(${LABEL_NAMESPACE})`);
  }
  if (spec.serviceAccountSelector) {
    selector = prefixAndAppend(selector, spec.serviceAccountSelector, SERVICE_ACCOUNT_LABEL_PREFIX).replaceAll('all()', `has(${LABEL_SERVICE_ACCOUNT})`);
  }
  return {
    id: policyId('GlobalNetworkPolicy', spec.tier ?? DEFAULT_TIER, gnp.metadata.name),
    ...(spec.order !== undefined ? { order: spec.order } : {}),
    selector,
    types: types(spec.types),
    inboundRules: rules(spec.ingress, undefined),
    outboundRules: rules(spec.egress, undefined),
    doNotTrack: spec.doNotTrack ?? false,
    preDnat: spec.preDNAT ?? false,
    applyOnForward: spec.applyOnForward ?? false,
  };
}

export function profileToBackend(p: Profile): BackendProfile {
  return {
    name: p.metadata.name,
    inboundRules: rules(p.spec.ingress, undefined),
    outboundRules: rules(p.spec.egress, undefined),
    labels: { ...(p.spec.labelsToApply ?? {}) },
  };
}

/**
 * Which directions a policy applies to: `types` when given, else Ingress, plus Egress when it has
 * egress rules (Felix's inference for policies written without types).
 */
export function policyTypes(p: BackendPolicy): { ingress: boolean; egress: boolean } {
  if (p.types.length > 0) return { ingress: p.types.includes('ingress'), egress: p.types.includes('egress') };
  return { ingress: true, egress: p.outboundRules.length > 0 };
}

const tcpUdpSctp = (p: string | number): 'tcp' | 'udp' | 'sctp' | undefined => {
  const l = typeof p === 'number' ? ({ 6: 'tcp', 17: 'udp', 132: 'sctp' } as Record<number, string>)[p] : p.toLowerCase();
  return l === 'tcp' || l === 'udp' || l === 'sctp' ? l : undefined;
};

function hostNet(ipOrCidr: string): string {
  const n = normaliseNet(ipOrCidr);
  return n.endsWith('/32') || n.endsWith('/128') ? n.slice(0, n.lastIndexOf('/')) : n;
}

export function workloadEndpointItem(w: WorkloadEndpoint): LabelledItem {
  const ports: LabelledItem['ports'][number][] = [];
  for (const p of w.spec.ports ?? []) {
    const protocol = tcpUdpSctp(p.protocol);
    if (protocol) ports.push({ name: p.name, protocol, port: p.port });
  }
  return { labels: w.metadata.labels ?? {}, profiles: w.spec.profiles, nets: w.spec.ipNetworks.map(hostNet), ports };
}

export function hostEndpointItem(h: HostEndpoint): LabelledItem {
  const ports: LabelledItem['ports'][number][] = [];
  for (const p of h.spec.ports ?? []) {
    const protocol = tcpUdpSctp(p.protocol);
    if (protocol) ports.push({ name: p.name, protocol, port: p.port });
  }
  return { labels: h.metadata.labels ?? {}, profiles: h.spec.profiles ?? [], nets: (h.spec.expectedIPs ?? []).map(hostNet), ports };
}

/** Namespaced sets get the namespace label and inherit the namespace's profile labels (as in Calico). */
export function networkSetItem(s: NetworkSet | GlobalNetworkSet): LabelledItem {
  const ns = s.metadata.namespace;
  const labels = { ...(s.metadata.labels ?? {}) };
  if (ns) labels[LABEL_NAMESPACE] = ns;
  return { labels, profiles: ns ? [`${NAMESPACE_PROFILE_PREFIX}${ns}`] : [], nets: (s.spec.nets ?? []).map(hostNet), ports: [] };
}
