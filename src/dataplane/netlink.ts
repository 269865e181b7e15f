/**
 * The kernel as the reconcilers see it: small interfaces for routes, links, neighbours/FDB and
 * sysctls (after Felix's `netlinkshim`). The real implementations speak iproute2
 * (`iproute2-*.ts`, see docs/decisions/0001-netlink.md); `fake-kernel.ts` implements the same
 * interfaces in memory for unit tests.
 */

/** Kernel route types we program or must recognise (rtm_type names). */
export type RouteType = 'unicast' | 'blackhole' | 'unreachable' | 'prohibit' | 'other';

/** A route as the kernel holds it, in canonical form (see routes.ts `normaliseRoute`). */
export interface KernelRoute {
  table: number;
  /** Canonical CIDR: `10.65.0.5/32`, `2001:db8::/64`, `0.0.0.0/0`. */
  dst: string;
  type: RouteType;
  dev?: string;
  gateway?: string;
  onlink: boolean;
  /** Numeric scope: 0 universe, 253 link, 254 host. */
  scope: number;
  protocol: number;
  metric: number;
  src?: string;
  /** Multipath and other shapes we never program: never equal to a desired route. */
  unsupported?: boolean;
}

export type RouteOp = { op: 'replace'; route: KernelRoute } | { op: 'delete'; route: KernelRoute };

export interface OpResult {
  ok: boolean;
  error?: string;
}

export interface RouteApplyOptions {
  /** Called as ops [from, to) are handed to the kernel, so the caller can book them while it works. */
  onSent?: (from: number, to: number) => void | Promise<void>;
  /**
   * Ops not worked out yet: called when every op in the array so far has been handed over (and
   * before starting, if the array is empty); it appends the next ops to the caller's array and
   * returns false once there are no more. Lets the kernel start on the first routes while the
   * caller is still working out the rest.
   */
  more?: () => boolean;
}

export interface RouteNetlink {
  /** Every route of one address family in every table (the caller filters what it owns). */
  dump(family: 4 | 6): Promise<KernelRoute[]>;
  /**
   * Applies the ops in order; one result per op (the array's final length, with `more`).
   * Rejects only if the batch as a whole failed (the kernel may then hold any subset of the ops).
   */
  apply(ops: readonly RouteOp[], opts?: RouteApplyOptions): Promise<OpResult[]>;
}

export interface VxlanInfo {
  vni: number;
  port: number;
  /** Name of the parent (underlay) device. */
  parent?: string;
  local?: string;
  learning: boolean;
}

export interface KernelLink {
  name: string;
  index: number;
  /** linkinfo kind: 'vxlan', 'ipip', 'veth', ...; undefined for plain devices. */
  kind?: string;
  /** Administratively up (IFF_UP). */
  adminUp: boolean;
  /** Carrier present (IFF_LOWER_UP). */
  lowerUp: boolean;
  mtu: number;
  mac?: string;
  vxlan?: VxlanInfo;
  /** Addresses as CIDRs, link-local IPv6 excluded (the kernel manages those). */
  addresses: string[];
}

export type LinkOp =
  | { op: 'add-vxlan'; name: string; vxlan: VxlanInfo }
  | { op: 'add-ipip'; name: string }
  | { op: 'delete'; name: string }
  | { op: 'set'; name: string; mtu?: number; mac?: string; up?: boolean }
  | { op: 'addr-add'; name: string; cidr: string }
  | { op: 'addr-del'; name: string; cidr: string };

export interface LinkNetlink {
  list(): Promise<KernelLink[]>;
  apply(ops: readonly LinkOp[]): Promise<OpResult[]>;
}

export interface KernelNeigh {
  dev: string;
  ip: string;
  mac: string;
  permanent: boolean;
}

export interface KernelFdb {
  dev: string;
  mac: string;
  /** Remote VTEP (underlay) address. */
  dst?: string;
  permanent: boolean;
}

export type NeighOp = { op: 'replace'; neigh: KernelNeigh } | { op: 'delete'; neigh: KernelNeigh };
export type FdbOp = { op: 'replace'; fdb: KernelFdb } | { op: 'delete'; fdb: KernelFdb };

export interface NeighNetlink {
  dumpNeigh(dev: string): Promise<KernelNeigh[]>;
  dumpFdb(dev: string): Promise<KernelFdb[]>;
  applyNeigh(ops: readonly NeighOp[]): Promise<OpResult[]>;
  applyFdb(ops: readonly FdbOp[]): Promise<OpResult[]>;
}

/** Sysctl paths are relative to /proc/sys with '/' separators: `net/ipv4/conf/cali1/proxy_arp`. */
export interface SysctlIO {
  /** Current values; a path that does not exist (interface gone) maps to undefined. */
  read(paths: readonly string[]): Promise<Map<string, string | undefined>>;
  write(entries: readonly (readonly [string, string])[]): Promise<OpResult[]>;
}
