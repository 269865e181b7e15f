/**
 * Names and addresses of a lab, as pure functions: what the namespaces, interfaces and addresses
 * of lab `x` are is decided here and nowhere else, so `up`, `down`, `status` and the sweeper
 * agree, and a lab's namespaces are recognisable by name alone (own only what you recognise).
 *
 * Topology (one subnet):
 *   fabric namespace: bridge br0 198.18.0.1/24, one veth leg per member (n<i>, etcd, bird)
 *   etcd 198.18.0.2, BIRD peer 198.18.0.3, node-i 198.18.0.(10+i)
 * Two subnets (CrossSubnet tests): a second bridge br1 198.18.1.1/24 in the fabric namespace and
 * a router namespace with legs 198.18.0.254 and 198.18.1.254; the second half of the nodes sit in
 * 198.18.1.0/24, and every member has its default route via its subnet's router address
 * (in one-subnet labs via the bridge address 198.18.0.1).
 */
import { createHash } from 'node:crypto';
import { UserError } from '../util/errors.js';

/** Every lab namespace starts with this, so the sweeper can recognise lab namespaces. */
export const NETNS_PREFIX = 'tl-';
/**
 * Lab names: lowercase letters and digits, starting with a letter. No '-': it separates the lab
 * name from the role in namespace names, and with it lab `a` would own lab `a-b`'s namespaces.
 * 12 characters keeps every derived name readable.
 */
export const LAB_NAME_RE = /^[a-z][a-z0-9]{0,11}$/;
/** Kubernetes names (pods, namespaces) are DNS labels (RFC 1123), at most 63 characters. */
export const DNS_LABEL_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/**
 * Upper bound on nodes: node addresses are .11 upwards in a /24 and .254 is the router. The scale
 * tests need 20; 100 leaves room without running out of the subnet.
 */
export const MAX_NODES = 100;
/** Node addresses start at .11 so .1-.10 stay free for infrastructure (bridge, etcd, BIRD). */
const NODE_HOST_OFFSET = 10;

export const FABRIC_SUBNETS = ['198.18.0.0/24', '198.18.1.0/24'] as const;
export const FABRIC_PREFIX_LEN = 24;
export const ETCD_IP = '198.18.0.2';
export const BIRD_IP = '198.18.0.3';
/** Router legs in two-subnet labs: .254 of each subnet. */
export const ROUTER_HOST = 254;
/** Interface name of a node's (and etcd's, BIRD's) fabric link inside its namespace. */
export const UPLINK_IFACE = 'eth0';
/** Calico's CNI gives every host-side veth this MAC (calico-reference.md). */
export const CALI_HOST_MAC = 'ee:ee:ee:ee:ee:ee';
/** The pod's default gateway, answered by proxy ARP on the host side (Calico CNI). */
export const POD_GATEWAY = '169.254.1.1';

export function validateLabName(name: string): void {
  if (!LAB_NAME_RE.test(name)) {
    throw new UserError(
      `invalid lab name ${JSON.stringify(name)}: use 1-12 lowercase letters or digits, starting with a letter (no '-')`,
    );
  }
}

export function validateDnsLabel(what: string, value: string): void {
  if (!DNS_LABEL_RE.test(value)) {
    throw new UserError(`invalid ${what} ${JSON.stringify(value)}: must be a lowercase DNS label (a-z, 0-9, '-', at most 63 characters)`);
  }
}

export function nodeName(index: number): string {
  return `node-${index}`;
}

/** Namespace of a lab role: tl-<lab>-<role>. */
export function netnsName(lab: string, role: string): string {
  return `${NETNS_PREFIX}${lab}-${role}`;
}

/** Prefix every namespace of this lab starts with. */
export function labNetnsPrefix(lab: string): string {
  return `${NETNS_PREFIX}${lab}-`;
}

/** The lab a namespace belongs to, if it looks like one of ours. */
export function labOfNetns(ns: string): string | undefined {
  if (!ns.startsWith(NETNS_PREFIX)) return undefined;
  const rest = ns.slice(NETNS_PREFIX.length);
  const dash = rest.indexOf('-');
  if (dash <= 0) return undefined;
  const lab = rest.slice(0, dash);
  return LAB_NAME_RE.test(lab) ? lab : undefined;
}

/** Pod namespace name; '.' cannot occur in a DNS label, so `<ns>.<pod>` is unambiguous. */
export function podNetnsName(lab: string, k8sNamespace: string, pod: string): string {
  return netnsName(lab, `pod-${k8sNamespace}.${pod}`);
}

/** Which fabric subnet (0 or 1) node i (1-based) sits in: the second half goes to subnet 1. */
export function nodeSubnet(index: number, nodeCount: number, subnets: number): number {
  return subnets === 2 && index > Math.ceil(nodeCount / 2) ? 1 : 0;
}

export function subnetBase(subnet: number): string {
  const cidr = FABRIC_SUBNETS[subnet];
  if (!cidr) throw new Error(`no fabric subnet ${subnet}`);
  return cidr.slice(0, cidr.lastIndexOf('.'));
}

export function nodeIp(index: number, nodeCount: number, subnets: number): string {
  return `${subnetBase(nodeSubnet(index, nodeCount, subnets))}.${NODE_HOST_OFFSET + index}`;
}

export function routerIp(subnet: number): string {
  return `${subnetBase(subnet)}.${ROUTER_HOST}`;
}

export function bridgeIp(subnet: number): string {
  return `${subnetBase(subnet)}.1`;
}

/** Host-side interface name Calico's CNI uses: 'cali' + 11 hex chars of sha1("<ns>.<pod>"). */
export function caliInterfaceName(k8sNamespace: string, pod: string): string {
  return `cali${createHash('sha1').update(`${k8sNamespace}.${pod}`).digest('hex').slice(0, 11)}`;
}
