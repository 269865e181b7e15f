/**
 * Kubernetes NetworkPolicy (networking.k8s.io/v1) → Calico v3 NetworkPolicy, with the meaning
 * calico-node gives it in the Kubernetes datastore (libcalico-go k8s/conversion/conversion.go,
 * K8sNetworkPolicyToCalico and its helpers). The code is our own; the behaviour is Calico's:
 *
 * - name `knp.default.<name>`, same namespace, tier `default`, order 1000;
 * - selector: `projectcalico.org/orchestrator == 'k8s'` and then the podSelector's terms
 *   (matchLabels sorted by key, then matchExpressions in order), joined with ` && `;
 * - types: Ingress if listed, Egress if listed, Ingress alone when neither is; egress rules
 *   without Egress listed are kept but, as in Calico, not enforced (a warning says so);
 * - each Kubernetes rule becomes one Allow rule per protocol (sorted by name) × per peer (in
 *   order); ports without a protocol are TCP; a rule without ports has no protocol; each
 *   protocol's ports are merged into ranges when more than one port number is involved;
 * - a peer's ipBlock becomes nets/notNets (other selectors ignored); otherwise the podSelector
 *   (with the orchestrator term) becomes `selector` and a namespaceSelector becomes
 *   `namespaceSelector` (an empty one is `all()`, an absent one means the policy's namespace);
 * - a rule with a port Calico cannot parse (a bad range, `endPort` below `port`, a named port
 *   with `endPort`, ...) is dropped whole and the rest of the policy kept; an ipBlock CIDR that
 *   does not parse leaves that peer unrestricted (Calico logs and goes on); both give warnings.
 *
 * The Kubernetes API server rejects the inputs that reach those last cases, so in a real cluster
 * they do not happen; they are reproduced so a policy means the same thing wherever it came from.
 */
import {
  DEFAULT_TIER,
  K8S_NETWORK_POLICY_NAME_PREFIX,
  K8S_NETWORK_POLICY_ORDER,
  LABEL_ORCHESTRATOR,
  ORCHESTRATOR_K8S,
  V3_API_VERSION,
} from './constants.js';
import { parseCidr, validateResource, type NetworkPolicy } from '../../model/index.js';
import { ConversionError, type K8sLabelSelector, type K8sNetworkPolicy, type K8sNetworkPolicyPeer, type K8sNetworkPolicyPort } from './k8stypes.js';

/** A rule port as Calico writes it: a number, `"lo:hi"`, or a port name. */
export type CalicoPort = number | string;

export type CalicoEntityRule = {
  selector?: string;
  namespaceSelector?: string;
  nets?: string[];
  notNets?: string[];
  ports?: CalicoPort[];
};

export type CalicoRule = {
  action: 'Allow';
  /** As Kubernetes wrote it (`TCP`, `UDP`, `SCTP`); absent when the rule has no ports. */
  protocol?: string;
  source: CalicoEntityRule;
  destination: CalicoEntityRule;
};

export type PolicyType = 'Ingress' | 'Egress';

/** The v3 NetworkPolicy a Kubernetes NetworkPolicy becomes (shape of the model's NetworkPolicy). */
export type CalicoNetworkPolicyResource = {
  apiVersion: typeof V3_API_VERSION;
  kind: 'NetworkPolicy';
  metadata: { name: string; namespace: string; uid?: string; resourceVersion?: string; creationTimestamp?: string };
  spec: {
    tier: typeof DEFAULT_TIER;
    order: typeof K8S_NETWORK_POLICY_ORDER;
    selector: string;
    types: PolicyType[];
    /** Always present; empty when the policy has none (Calico leaves the field out then). */
    ingress: CalicoRule[];
    egress: CalicoRule[];
  };
};

export interface KubernetesNetworkPolicyConversion {
  readonly policy: CalicoNetworkPolicyResource;
  /** What Calico would log while converting: dropped rules, unparseable CIDRs, unenforced egress. */
  readonly warnings: string[];
}

/** `knp.default.<name>`: the name Calico gives the converted policy. */
export function knpPolicyName(name: string): string {
  return `${K8S_NETWORK_POLICY_NAME_PREFIX}${name}`;
}

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * A Kubernetes label selector as Calico selector text. Pod selectors always start with the
 * orchestrator term (so they select Kubernetes pods only); an absent pod selector is just that
 * term. Namespace selectors have no such term: absent is `''` (the policy's own namespace),
 * present but empty is `all()`. Values are quoted with `'` and not escaped, as Calico does.
 */
export function k8sSelectorToCalico(sel: K8sLabelSelector | undefined, kind: 'pod' | 'namespace'): string {
  const terms: string[] = kind === 'pod' ? [`${LABEL_ORCHESTRATOR} == '${ORCHESTRATOR_K8S}'`] : [];
  if (!sel) return terms.join(' && ');
  const labels = sel.matchLabels ?? {};
  const exprs = sel.matchExpressions ?? [];
  const keys = Object.keys(labels).sort(byCodeUnit);
  if (kind === 'namespace' && keys.length === 0 && exprs.length === 0) return 'all()';
  for (const k of keys) terms.push(`${k} == '${labels[k]}'`);
  for (const e of exprs) {
    const values = (e.values ?? []).join("', '");
    switch (e.operator) {
      case 'In':
        terms.push(`${e.key} in { '${values}' }`);
        break;
      case 'NotIn':
        terms.push(`${e.key} not in { '${values}' }`);
        break;
      case 'Exists':
        terms.push(`has(${e.key})`);
        break;
      case 'DoesNotExist':
        terms.push(`! has(${e.key})`);
        break;
      // Calico skips operators it does not know; the API server allows no others.
    }
  }
  return terms.join(' && ');
}

// --- ports -------------------------------------------------------------------------------------

type PortValue = { lo: number; hi: number } | { name: string };

const DIGITS_RE = /^\d+$/;
const RANGE_RE = /^(\d+):(\d+)$/;
/** Calico's port-name alphabet (numorstring): wider than Kubernetes' IANA service names. */
const PORT_NAME_RE = /^[a-zA-Z0-9_.-]{1,128}$/;
const MAX_PORT = 65535;

/** Calico's reading of a port text: `80`, `80:90` or a name; otherwise why not. */
function parsePortText(s: string): { ok: true; value: PortValue } | { ok: false; reason: string } {
  if (DIGITS_RE.test(s)) {
    const n = Number(s);
    return n > MAX_PORT ? { ok: false, reason: `port ${s} is above ${MAX_PORT}` } : { ok: true, value: { lo: n, hi: n } };
  }
  const m = RANGE_RE.exec(s);
  if (m) {
    const lo = Number(m[1]), hi = Number(m[2]);
    if (lo > MAX_PORT || hi > MAX_PORT) return { ok: false, reason: `range ${s} goes above ${MAX_PORT}` };
    if (lo > hi) return { ok: false, reason: `range ${s} starts above its end` };
    return { ok: true, value: { lo, hi } };
  }
  if (!PORT_NAME_RE.test(s)) return { ok: false, reason: `${JSON.stringify(s)} is neither a port, a range lo:hi nor a port name` };
  return { ok: true, value: { name: s } };
}

/**
 * Merges one protocol's ports as Calico does: names first (in order), then the numbers as the
 * fewest ranges covering them, in ascending order. Lists covering at most one port number are
 * returned as they are (so `[80, "http"]` keeps its order).
 */
function simplifyPorts(ports: PortValue[]): PortValue[] {
  if (ports.length <= 1) return ports;
  const named: PortValue[] = [];
  const ranges: Array<{ lo: number; hi: number }> = [];
  let count = 0;
  for (const p of ports) {
    if ('name' in p) named.push(p);
    else {
      ranges.push({ lo: p.lo, hi: p.hi });
      count += p.hi - p.lo + 1;
    }
  }
  if (count <= 1) return ports;
  ranges.sort((a, b) => a.lo - b.lo || a.hi - b.hi);
  const merged: Array<{ lo: number; hi: number }> = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last && r.lo <= last.hi + 1) last.hi = Math.max(last.hi, r.hi);
    else merged.push({ ...r });
  }
  return [...named, ...merged];
}

function portOut(p: PortValue): CalicoPort {
  if ('name' in p) return p.name;
  return p.lo === p.hi ? p.lo : `${p.lo}:${p.hi}`;
}

/** The text Calico parses for one Kubernetes port: `port`, or `port:endPort`. */
function portText(p: K8sNetworkPolicyPort): string | undefined {
  if (p.port === undefined || p.port === null) return undefined; // endPort alone is ignored
  const base = String(p.port);
  return p.endPort === undefined || p.endPort === null ? base : `${base}:${String(p.endPort)}`;
}

/**
 * Ports grouped by protocol, `null` meaning every port of that protocol. A rule without ports
 * is the single group `''` (no protocol, no ports).
 */
function portsByProtocol(ports: K8sNetworkPolicyPort[] | undefined): { ok: true; groups: Map<string, PortValue[] | null> } | { ok: false; problem: string } {
  const groups = new Map<string, PortValue[] | null>();
  if (!ports || ports.length === 0) return { ok: true, groups: groups.set('', null) };
  for (const [j, p] of ports.entries()) {
    const protocol = p.protocol ?? 'TCP';
    const text = portText(p);
    if (text === undefined) {
      groups.set(protocol, null);
      continue;
    }
    const parsed = parsePortText(text);
    if (!parsed.ok) return { ok: false, problem: `ports[${j}]: ${parsed.reason}` };
    const cur = groups.get(protocol);
    if (cur === undefined) groups.set(protocol, [parsed.value]);
    else if (cur !== null) cur.push(parsed.value); // every port of the protocol already allowed
  }
  return { ok: true, groups };
}

// --- peers -------------------------------------------------------------------------------------

/** A CIDR as Calico stores it: the network address (host bits cleared) and prefix length. */
function calicoNet(s: string): string | undefined {
  return parseCidr(s)?.network;
}

function peerFields(peer: K8sNetworkPolicyPeer | undefined, path: string, warn: (m: string) => void): CalicoEntityRule {
  if (!peer) return {};
  if (peer.ipBlock) {
    const { cidr, except } = peer.ipBlock;
    const net = calicoNet(cidr);
    if (!net) {
      warn(`${path}.ipBlock.cidr: ${JSON.stringify(cidr)} is not a CIDR; as in Calico, this peer matches any address`);
      return {};
    }
    const out: CalicoEntityRule = { nets: [net] };
    const notNets: string[] = [];
    for (const [k, e] of (except ?? []).entries()) {
      const x = calicoNet(e);
      if (!x) {
        warn(`${path}.ipBlock.except[${k}]: ${JSON.stringify(e)} is not a CIDR; as in Calico, it and the exceptions after it are ignored`);
        break;
      }
      notNets.push(x);
    }
    if (notNets.length) out.notNets = notNets;
    return out;
  }
  const out: CalicoEntityRule = { selector: k8sSelectorToCalico(peer.podSelector, 'pod') };
  const ns = k8sSelectorToCalico(peer.namespaceSelector, 'namespace');
  if (ns) out.namespaceSelector = ns;
  return out;
}

function cloneEntity(e: CalicoEntityRule): CalicoEntityRule {
  const out: CalicoEntityRule = { ...e };
  if (e.nets) out.nets = [...e.nets];
  if (e.notNets) out.notNets = [...e.notNets];
  return out;
}

/** One Kubernetes rule → Calico rules, or why Calico drops it. */
function ruleToCalico(
  peers: K8sNetworkPolicyPeer[] | undefined,
  ports: K8sNetworkPolicyPort[] | undefined,
  dir: 'ingress' | 'egress',
  path: string,
  warn: (m: string) => void,
): { ok: true; rules: CalicoRule[] } | { ok: false; problem: string } {
  const grouped = portsByProtocol(ports);
  if (!grouped.ok) return grouped;
  const peerKey = dir === 'ingress' ? 'from' : 'to';
  const entities = peers && peers.length ? peers.map((p, j) => peerFields(p, `${path}.${peerKey}[${j}]`, warn)) : [peerFields(undefined, path, warn)];
  const rules: CalicoRule[] = [];
  for (const protocol of [...grouped.groups.keys()].sort(byCodeUnit)) {
    const group = grouped.groups.get(protocol)!;
    const calicoPorts = group === null ? undefined : simplifyPorts(group).map(portOut);
    for (const peer of entities) {
      const rule: CalicoRule = { action: 'Allow', source: {}, destination: {} };
      if (protocol !== '') rule.protocol = protocol;
      const portsPart: CalicoEntityRule = calicoPorts ? { ports: [...calicoPorts] } : {};
      if (dir === 'ingress') {
        rule.source = cloneEntity(peer);
        rule.destination = portsPart;
      } else {
        rule.destination = { ...portsPart, ...cloneEntity(peer) };
      }
      rules.push(rule);
    }
  }
  return { ok: true, rules };
}

// --- UID -----------------------------------------------------------------------------------------

const HEX32_RE = /^[0-9a-fA-F]{32}$/;

function uuidBytes(s: string): Uint8Array | undefined {
  let t = s;
  if (t.length === 45 && t.slice(0, 9).toLowerCase() === 'urn:uuid:') t = t.slice(9);
  else if (t.length === 38 && t[0] === '{' && t[37] === '}') t = t.slice(1, 37);
  if (t.length === 36) {
    if (t[8] !== '-' || t[13] !== '-' || t[18] !== '-' || t[23] !== '-') return undefined;
    t = t.slice(0, 8) + t.slice(9, 13) + t.slice(14, 18) + t.slice(19, 23) + t.slice(24);
  }
  if (!HEX32_RE.test(t)) return undefined;
  return Uint8Array.from({ length: 16 }, (_, i) => parseInt(t.slice(i * 2, i * 2 + 2), 16));
}

function reverseBits(b: number): number {
  let r = 0;
  for (let i = 0; i < 8; i++) r = (r << 1) | ((b >> i) & 1);
  return r;
}

/**
 * The UID Calico gives a resource derived from a Kubernetes object (ConvertUID): the object's
 * UUID with the bits of every byte reversed except the two carrying version and variant, so the
 * derived object never shares a UID with its source. Undefined when `uid` is not a UUID.
 */
export function convertUid(uid: string): string | undefined {
  const b = uuidBytes(uid);
  if (!b) return undefined;
  const out = b.map((x, i) => (i === 6 || i === 8 ? x : reverseBits(x)));
  const hex = [...out].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// --- the policy ----------------------------------------------------------------------------------

/**
 * Converts a Kubernetes NetworkPolicy (a raw API object or the datastore model's
 * KubernetesNetworkPolicy). Rules Calico would drop are dropped and named in `warnings`. Throws
 * ConversionError when metadata.uid is set but not a UUID: Calico refuses such a policy.
 */
export function kubernetesNetworkPolicyToCalico(knp: K8sNetworkPolicy): KubernetesNetworkPolicyConversion {
  const md = knp.metadata;
  const namespace = md.namespace ?? '';
  const id = `${namespace}/${md.name}`;
  const warnings: string[] = [];
  const warn = (m: string): void => {
    warnings.push(`KubernetesNetworkPolicy ${id}: ${m}`);
  };
  const spec = knp.spec ?? {};

  const ingress: CalicoRule[] = [];
  for (const [i, r] of (spec.ingress ?? []).entries()) {
    const path = `spec.ingress[${i}]`;
    const c = ruleToCalico(r.from, r.ports, 'ingress', path, warn);
    if (c.ok) ingress.push(...c.rules);
    else warn(`${path} dropped, as Calico does: ${c.problem}`);
  }
  const egress: CalicoRule[] = [];
  for (const [i, r] of (spec.egress ?? []).entries()) {
    const path = `spec.egress[${i}]`;
    const c = ruleToCalico(r.to, r.ports, 'egress', path, warn);
    if (c.ok) egress.push(...c.rules);
    else warn(`${path} dropped, as Calico does: ${c.problem}`);
  }

  const listed = new Set(spec.policyTypes ?? []);
  const types: PolicyType[] = [];
  if (listed.has('Ingress')) types.push('Ingress');
  if (listed.has('Egress')) types.push('Egress');
  else if (egress.length > 0) warn('spec.policyTypes does not list Egress, so its egress rules are not enforced (as in Calico)');
  if (types.length === 0) types.push('Ingress');

  const metadata: CalicoNetworkPolicyResource['metadata'] = { name: knpPolicyName(md.name), namespace };
  if (md.uid) {
    const uid = convertUid(md.uid);
    if (!uid) throw new ConversionError('KubernetesNetworkPolicy', id, `metadata.uid ${JSON.stringify(md.uid)} is not a UUID`);
    metadata.uid = uid;
  }
  if (md.resourceVersion) metadata.resourceVersion = md.resourceVersion;
  if (md.creationTimestamp) metadata.creationTimestamp = md.creationTimestamp;

  return {
    policy: {
      apiVersion: V3_API_VERSION,
      kind: 'NetworkPolicy',
      metadata,
      spec: {
        tier: DEFAULT_TIER,
        order: K8S_NETWORK_POLICY_ORDER,
        selector: k8sSelectorToCalico(spec.podSelector ?? {}, 'pod'),
        types,
        ingress,
        egress,
      },
    },
    warnings,
  };
}

/**
 * The converted policy as the datastore model's NetworkPolicy, the type Calico's own
 * NetworkPolicies have after validation, so a consumer can treat both kinds alike. Throws
 * ConversionError when the result does not validate (only for inputs the API server rejects,
 * e.g. a port name outside Kubernetes' alphabet that Calico's wider one lets through).
 */
export function kubernetesNetworkPolicyAsNetworkPolicy(knp: K8sNetworkPolicy): { policy: NetworkPolicy; warnings: string[] } {
  const { policy, warnings } = kubernetesNetworkPolicyToCalico(knp);
  const v = validateResource('NetworkPolicy', policy);
  if (!v.ok) {
    const id = `${knp.metadata.namespace ?? ''}/${knp.metadata.name}`;
    throw new ConversionError('KubernetesNetworkPolicy', id, `converted policy is invalid: ${v.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
  }
  return { policy: v.resource, warnings };
}
