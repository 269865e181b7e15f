/**
 * Kubernetes Node → Calico Node (libcalico-go k8s/resources/node.go K8sNodeToCalico). In
 * Kubernetes mode calico-node keeps its per-node BGP and tunnel settings in `projectcalico.org/*`
 * annotations on the Node. An annotation that does not parse is dropped with a warning, the way
 * Calico ignores it, so one bad value never hides the rest of the node.
 */
import { isIP } from 'node:net';
import { CALICO_LABELS_ANNOTATION, NODE_ANNOTATIONS as A, ORCHESTRATOR_K8S, V3_API_VERSION } from './constants.js';
import type { Node, Warn } from './k8stypes.js';

export type NodeAddress = { address: string; type: 'CalicoNodeIP' | 'InternalIP' | 'ExternalIP' };

export type CalicoNodeResource = {
  apiVersion: typeof V3_API_VERSION;
  kind: 'Node';
  metadata: {
    name: string;
    uid?: string;
    resourceVersion?: string;
    creationTimestamp?: string;
    labels?: Record<string, string>;
  };
  spec: {
    bgp?: {
      ipv4Address?: string;
      ipv6Address?: string;
      ipv4IPIPTunnelAddr?: string;
      asNumber?: number;
      routeReflectorClusterID?: string;
    };
    ipv4VXLANTunnelAddr?: string;
    ipv6VXLANTunnelAddr?: string;
    vxlanTunnelMACAddr?: string;
    vxlanTunnelMACAddrV6?: string;
    wireguard?: { interfaceIPv4Address?: string; interfaceIPv6Address?: string };
    orchRefs: Array<{ nodeName: string; orchestrator: string }>;
    addresses?: NodeAddress[];
  };
  status?: { podCIDRs?: string[]; wireguardPublicKey?: string; wireguardPublicKeyV6?: string };
};

/** Largest 4-byte AS number (RFC 6793). */
const AS_MAX = 4294967295;
const MAC_RE = /^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/;

function isCidrOf(version: 4 | 6, s: string): boolean {
  const [ip, len, extra] = s.split('/');
  return extra === undefined && len !== undefined && isIP(ip) === version && /^\d{1,3}$/.test(len) && Number(len) <= (version === 4 ? 32 : 128);
}

/** A plain IP of one version (Calico's ValidateIPv4Network also accepts a /32 form). */
function isAddrOf(version: 4 | 6, s: string): boolean {
  return isIP(s) === version;
}

/** AS number as plain (`64512`) or asdot (`1.10`) text. */
export function parseASNumber(s: string): number | undefined {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    return n <= AS_MAX ? n : undefined;
  }
  const m = /^(\d+)\.(\d+)$/.exec(s);
  if (m && Number(m[1]) <= 0xffff && Number(m[2]) <= 0xffff) return Number(m[1]) * 65536 + Number(m[2]);
  return undefined;
}

export function k8sNodeToCalico(node: Node, opts: { usePodCIDR?: boolean; warn?: Warn } = {}): CalicoNodeResource {
  const warn = opts.warn ?? (() => undefined);
  const ann = node.metadata.annotations ?? {};
  const get = (key: string, ok: (v: string) => boolean, what: string): string | undefined => {
    const v = ann[key];
    if (v === undefined || v === '') return undefined;
    if (ok(v)) return v;
    warn(`node ${node.metadata.name}: annotation ${key}=${JSON.stringify(v)} is not ${what}; ignored`);
    return undefined;
  };

  const bgp: NonNullable<CalicoNodeResource['spec']['bgp']> = {};
  const v4 = get(A.ipv4Address, (v) => isCidrOf(4, v), 'an IPv4 address in CIDR form (10.0.0.1/24)');
  if (v4) bgp.ipv4Address = v4;
  const v6 = get(A.ipv6Address, (v) => isCidrOf(6, v), 'an IPv6 address in CIDR form');
  if (v6) bgp.ipv6Address = v6;
  const rr = get(A.routeReflectorClusterID, (v) => isAddrOf(4, v), 'an IPv4 address');
  if (rr) bgp.routeReflectorClusterID = rr;
  const asn = get(A.asNumber, (v) => parseASNumber(v) !== undefined, `an AS number (0-${AS_MAX} or asdot X.Y)`);
  if (asn) bgp.asNumber = parseASNumber(asn);

  const wireguard: NonNullable<CalicoNodeResource['spec']['wireguard']> = {};
  if (opts.usePodCIDR && node.spec?.podCIDR) {
    // host-local IPAM: the tunnel address is the first address of the node's pod CIDR.
    const tunnel = firstAddressOf(node.spec.podCIDR);
    if (tunnel) {
      bgp.ipv4IPIPTunnelAddr = tunnel;
      if (ann[A.wireguardPublicKey]) wireguard.interfaceIPv4Address = tunnel;
    } else warn(`node ${node.metadata.name}: spec.podCIDR ${JSON.stringify(node.spec.podCIDR)} gives no IPv4 tunnel address`);
  } else {
    const ipip = get(A.ipv4IPIPTunnelAddr, (v) => isAddrOf(4, v), 'an IPv4 address');
    if (ipip) bgp.ipv4IPIPTunnelAddr = ipip;
    const wg4 = get(A.wireguardIPv4Address, (v) => isAddrOf(4, v), 'an IPv4 address');
    if (wg4) wireguard.interfaceIPv4Address = wg4;
    const wg6 = get(A.wireguardIPv6Address, (v) => isAddrOf(6, v), 'an IPv6 address');
    if (wg6) wireguard.interfaceIPv6Address = wg6;
  }

  const out: CalicoNodeResource = {
    apiVersion: V3_API_VERSION,
    kind: 'Node',
    metadata: { name: node.metadata.name },
    spec: { orchRefs: [{ nodeName: node.metadata.name, orchestrator: ORCHESTRATOR_K8S }] },
  };
  const m = node.metadata;
  if (m.uid) out.metadata.uid = m.uid;
  if (m.resourceVersion) out.metadata.resourceVersion = m.resourceVersion;
  if (m.creationTimestamp) out.metadata.creationTimestamp = m.creationTimestamp;
  // Calico's own node labels live in an annotation; the Kubernetes labels win on a clash.
  const labels: Record<string, string> = { ...calicoLabels(node, warn), ...(m.labels ?? {}) };
  if (Object.keys(labels).length) out.metadata.labels = labels;
  if (Object.keys(bgp).length) out.spec.bgp = bgp;
  if (Object.keys(wireguard).length) out.spec.wireguard = wireguard;

  const vx4 = get(A.ipv4VXLANTunnelAddr, (v) => isAddrOf(4, v), 'an IPv4 address');
  if (vx4) out.spec.ipv4VXLANTunnelAddr = vx4;
  const vx6 = get(A.ipv6VXLANTunnelAddr, (v) => isAddrOf(6, v), 'an IPv6 address');
  if (vx6) out.spec.ipv6VXLANTunnelAddr = vx6;
  const mac = get(A.vxlanTunnelMACAddr, (v) => MAC_RE.test(v), 'a MAC address');
  if (mac) out.spec.vxlanTunnelMACAddr = mac;
  const mac6 = get(A.vxlanTunnelMACAddrV6, (v) => MAC_RE.test(v), 'a MAC address');
  if (mac6) out.spec.vxlanTunnelMACAddrV6 = mac6;

  const status: NonNullable<CalicoNodeResource['status']> = {};
  if (ann[A.wireguardPublicKey]) status.wireguardPublicKey = ann[A.wireguardPublicKey];
  if (ann[A.wireguardPublicKeyV6]) status.wireguardPublicKeyV6 = ann[A.wireguardPublicKeyV6];
  if (node.spec?.podCIDRs?.length) status.podCIDRs = [...node.spec.podCIDRs];
  if (Object.keys(status).length) out.status = status;

  // Every address Calico knows for the node: its BGP addresses first, then the kubelet's.
  const addresses: NodeAddress[] = [];
  if (bgp.ipv4Address) addresses.push({ address: bgp.ipv4Address, type: 'CalicoNodeIP' });
  if (bgp.ipv6Address) addresses.push({ address: bgp.ipv6Address, type: 'CalicoNodeIP' });
  for (const a of node.status?.addresses ?? []) {
    if (!a.address) continue;
    if (a.type === 'InternalIP' || a.type === 'ExternalIP') addresses.push({ address: a.address, type: a.type });
  }
  if (addresses.length) out.spec.addresses = addresses;
  return out;
}

function calicoLabels(node: Node, warn: Warn): Record<string, string> {
  const text = node.metadata.annotations?.[CALICO_LABELS_ANNOTATION];
  if (!text) return {};
  try {
    const v: unknown = JSON.parse(text);
    if (v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string')) {
      return v as Record<string, string>;
    }
  } catch {
    // fall through to the warning
  }
  warn(`node ${node.metadata.name}: annotation ${CALICO_LABELS_ANNOTATION} is not a JSON map of strings; ignored`);
  return {};
}

/** The first host address of an IPv4 CIDR (network + 1), or undefined for IPv6/invalid input. */
function firstAddressOf(cidr: string): string | undefined {
  const ip = cidr.split('/')[0];
  if (isIP(ip) !== 4) return undefined;
  const o = ip.split('.').map(Number);
  const n = ((o[0] << 24) >>> 0) + (o[1] << 16) + (o[2] << 8) + o[3] + 1;
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');
}
