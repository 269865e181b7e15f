/**
 * calico-node's IPv4 address autodetection (IP=autodetect, IP_AUTODETECTION_METHOD): which of
 * this host's addresses the node uses as BGP router id, BGP source and tunnel endpoint. The
 * selection is a pure function over a snapshot of interfaces (`ip -json addr`), so every method
 * is unit-tested with fixtures; reading the snapshot and `can-reach` routing lookups are the only
 * I/O (see detect.ts).
 *
 * Methods (node/pkg/lifecycle/startup/autodetection in Calico):
 *  - first-found: the first global address on the first interface not matching the default
 *    exclude list below;
 *  - interface=RE[,RE]: the first address on an interface whose name matches one of the regexes;
 *  - skip-interface=RE[,RE]: first-found over interfaces matching none of them;
 *  - can-reach=DEST: the source address the kernel picks for DEST (`ip route get`), which must be
 *    one of our interface addresses (its prefix length comes from there);
 *  - cidr=CIDR[,CIDR]: the first address inside one of the CIDRs (default exclusions apply).
 */
import { UserError } from '../util/errors.js';

/**
 * Calico's default exclusions for first-found (autodetection_linux.go, DEFAULT_INTERFACES_TO_EXCLUDE
 * as of v3.2x): container bridges, veths, loopback and every device Calico itself creates.
 */
export const DEFAULT_INTERFACES_TO_EXCLUDE: readonly string[] = [
  '^docker.*', '^cbr.*', '^dummy.*', '^virbr.*', '^lxcbr.*', '^veth.*', '^lo',
  '^cali.*', '^tunl.*', '^flannel.*', '^kube-ipvs.*', '^cni.*',
  '^vxlan\\.calico.*', '^vxlan-v6\\.calico.*', '^wireguard\\.cali.*', '^wg-v6\\.cali.*',
  '^nodelocaldns.*',
];

/** One interface as `ip -json addr show` reports it, reduced to what detection needs. */
export interface InterfaceAddrs {
  name: string;
  index: number;
  mtu: number;
  up: boolean;
  /** IPv4 addresses as `a.b.c.d/len`, in the kernel's order. */
  addrs: string[];
}

export interface DetectedAddress {
  /** `a.b.c.d/len`. */
  cidr: string;
  iface: string;
  mtu: number;
}

export type AutodetectMethod =
  | { kind: 'first-found' }
  | { kind: 'interface'; regexes: RegExp[] }
  | { kind: 'skip-interface'; regexes: RegExp[] }
  | { kind: 'can-reach'; dest: string }
  | { kind: 'cidr'; cidrs: string[] }
  | { kind: 'kubernetes-internal-ip' };

export function parseAutodetectMethod(s: string): AutodetectMethod {
  const t = s.trim();
  if (t === 'first-found' || t === '') return { kind: 'first-found' };
  if (t === 'kubernetes-internal-ip') return { kind: 'kubernetes-internal-ip' };
  const eq = t.indexOf('=');
  const kind = eq < 0 ? t : t.slice(0, eq);
  const arg = eq < 0 ? '' : t.slice(eq + 1);
  const list = arg.split(',').map((x) => x.trim()).filter(Boolean);
  const regexes = (): RegExp[] =>
    list.map((r) => {
      try {
        return new RegExp(r);
      } catch {
        throw new UserError(`IP_AUTODETECTION_METHOD=${t}: ${JSON.stringify(r)} is not a valid regular expression`);
      }
    });
  switch (kind) {
    case 'interface':
      return { kind, regexes: regexes() };
    case 'skip-interface':
      return { kind, regexes: regexes() };
    case 'can-reach':
      if (!arg) throw new UserError('IP_AUTODETECTION_METHOD=can-reach= needs a destination address or name');
      return { kind, dest: arg };
    case 'cidr':
      if (list.length === 0) throw new UserError('IP_AUTODETECTION_METHOD=cidr= needs at least one CIDR');
      return { kind, cidrs: list };
    default:
      throw new UserError(
        `IP_AUTODETECTION_METHOD=${t} is not supported: use first-found, interface=REGEX, skip-interface=REGEX, can-reach=DEST or cidr=CIDR`,
      );
  }
}

function ipv4ToInt(ip: string): number {
  const p = ip.split('.').map(Number);
  return (((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!) >>> 0;
}

export function ipv4InCidr(ip: string, cidr: string): boolean {
  const [base, lenS] = cidr.split('/');
  const len = Number(lenS ?? 32);
  if (!base || !Number.isInteger(len) || len < 0 || len > 32) return false;
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return ((ipv4ToInt(ip) & mask) >>> 0) === ((ipv4ToInt(base) & mask) >>> 0);
}

/** Link-local (169.254/16) and loopback addresses are never a node address. */
function usable(cidr: string): boolean {
  const ip = cidr.split('/')[0]!;
  return !ipv4InCidr(ip, '169.254.0.0/16') && !ipv4InCidr(ip, '127.0.0.0/8');
}

function firstMatching(ifaces: readonly InterfaceAddrs[], include: (i: InterfaceAddrs) => boolean, addrOk: (cidr: string) => boolean = () => true): DetectedAddress | undefined {
  for (const i of [...ifaces].sort((a, b) => a.index - b.index)) {
    if (!include(i)) continue;
    for (const a of i.addrs) if (usable(a) && addrOk(a)) return { cidr: a, iface: i.name, mtu: i.mtu };
  }
  return undefined;
}

const anyMatch = (res: readonly RegExp[], name: string): boolean => res.some((r) => r.test(name));
const DEFAULT_EXCLUDE_RES = DEFAULT_INTERFACES_TO_EXCLUDE.map((r) => new RegExp(r));

/**
 * Selects the node address for every method except can-reach's routing lookup, which the caller
 * resolves to a source address first and passes as `canReachSource`.
 */
export function selectAddress(method: AutodetectMethod, ifaces: readonly InterfaceAddrs[], canReachSource?: string): DetectedAddress | undefined {
  switch (method.kind) {
    case 'first-found':
    case 'kubernetes-internal-ip':
      return firstMatching(ifaces, (i) => !anyMatch(DEFAULT_EXCLUDE_RES, i.name));
    case 'interface':
      return firstMatching(ifaces, (i) => anyMatch(method.regexes, i.name));
    case 'skip-interface':
      return firstMatching(ifaces, (i) => !anyMatch(method.regexes, i.name));
    case 'cidr':
      // Calico's own devices are excluded here too: a tunnel address can sit inside a listed CIDR.
      return firstMatching(ifaces, (i) => !anyMatch(DEFAULT_EXCLUDE_RES, i.name), (a) => method.cidrs.some((c) => ipv4InCidr(a.split('/')[0]!, c)));
    case 'can-reach':
      if (!canReachSource) return undefined;
      return firstMatching(ifaces, () => true, (a) => a.split('/')[0] === canReachSource);
  }
}

/** The interface carrying `ip` (the node address given explicitly), with its prefix length. */
export function interfaceOf(ip: string, ifaces: readonly InterfaceAddrs[]): DetectedAddress | undefined {
  return firstMatching(ifaces, () => true, (a) => a.split('/')[0] === ip);
}

/** Parses `ip -json addr show` output. */
export function parseIpAddrJson(text: string): InterfaceAddrs[] {
  const raw = JSON.parse(text) as {
    ifname?: string;
    ifindex?: number;
    mtu?: number;
    flags?: string[];
    operstate?: string;
    addr_info?: { family?: string; local?: string; prefixlen?: number; scope?: string }[];
  }[];
  return raw
    .filter((r) => typeof r.ifname === 'string')
    .map((r) => ({
      name: r.ifname!,
      index: r.ifindex ?? 0,
      mtu: r.mtu ?? 1500,
      up: (r.flags ?? []).includes('UP'),
      addrs: (r.addr_info ?? []).filter((a) => a.family === 'inet' && a.local && a.scope !== 'host').map((a) => `${a.local}/${a.prefixlen ?? 32}`),
    }));
}
