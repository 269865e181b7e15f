/**
 * The routing half of tortie's calc → dataplane messages (Felix's RouteUpdate,
 * VXLANTunnelEndpointUpdate, ...): plain data, canonical strings, no kernel handles. Everything the
 * reconcilers own is recognisable from these values (route protocol numbers, device names, the
 * workload interface prefix) — see docs/dataplane.md. `dataplane/types.ts` re-exports it.
 */

/**
 * Why a route exists. It picks the route protocol (workload routes use DeviceRouteProtocol,
 * BGP-learned routes tortie's own protocol, the rest Felix's 80) and labels
 * `tortie_routes_programmed{class}`.
 */
export type RouteClass = 'workload' | 'local-block' | 'vxlan' | 'ipip' | 'no-encap' | 'bgp';

export const ROUTE_CLASSES: readonly RouteClass[] = ['workload', 'local-block', 'vxlan', 'ipip', 'no-encap', 'bgp'];

export interface DesiredRoute {
  class: RouteClass;
  /** CIDR; a bare address means a host route. Canonicalised on entry. */
  dst: string;
  /** Default unicast. Local blocks are `blackhole`. */
  type?: 'unicast' | 'blackhole' | 'unreachable' | 'prohibit';
  dev?: string;
  gateway?: string;
  /** Gateway reachable on `dev` without a covering route (VXLAN/IPIP next hops). */
  onlink?: boolean;
  /** Default 0 for IPv4, 1024 for IPv6 (what the kernel stores for "no metric"). */
  metric?: number;
  src?: string;
  /** Routing table, default main (254). Must be one of the tables the reconciler owns. */
  table?: number;
}

/**
 * Route protocol numbers: how tortie recognises its routes in the kernel.
 * - device (default 3 "boot", Felix `DeviceRouteProtocol`): workload routes. Because `boot` is
 *   also iproute2's default, routes with it count as ours only on workload interfaces (`cali*`).
 * - felix (80, Felix's own): local-block blackholes, VXLAN/IPIP/no-encap routes to remote blocks.
 * - bgp (81): routes learned by tortie's BGP speaker. 81 is unassigned in /etc/iproute2/rt_protos
 *   and distinct from BIRD's 12, so a leftover BIRD or another daemon's routes are never taken
 *   for ours (and ours never for theirs).
 */
export interface RouteProtocols {
  device: number;
  felix: number;
  bgp: number;
}

export const DEFAULT_ROUTE_PROTOCOLS: RouteProtocols = { device: 3, felix: 80, bgp: 81 };

/** Calico's VXLAN device name and defaults (calico-reference.md). */
export const VXLAN_DEVICE = 'vxlan.calico';
export const VXLAN_V6_DEVICE = 'vxlan-v6.calico';
export const IPIP_DEVICE = 'tunl0';
export const DEFAULT_VXLAN_VNI = 4096;
export const DEFAULT_VXLAN_PORT = 4789;

export interface VxlanDeviceSpec {
  /** Default `vxlan.calico`. */
  name?: string;
  vni: number;
  port: number;
  /** Underlay NIC the tunnel sends through. */
  parent?: string;
  /** Underlay source address (the node IP). */
  local?: string;
  /** Node's `vxlanTunnelMACAddr`, else `66` + first 5 bytes of sha1(nodename) (see `vxlanMac`). */
  mac: string;
  mtu: number;
  /** Node's VXLAN tunnel address as a /32 (or /128) CIDR. */
  address?: string;
}

export interface IpipDeviceSpec {
  mtu: number;
  /** Node's IPIP tunnel address as a /32 CIDR. */
  address?: string;
}

/** One remote VXLAN tunnel endpoint: a permanent neighbour and an FDB entry on the VXLAN device. */
export interface RemoteVtep {
  /** Node name: the key for updates and deletes. */
  node: string;
  /** Remote node's VXLAN tunnel address (next hop of routes to its blocks). */
  tunnelIp: string;
  mac: string;
  /** Remote node's underlay address (FDB `dst`). */
  hostIp: string;
  /** Default `vxlan.calico`. */
  dev?: string;
}

/** What the routing calculators emit; the graph delivers each to the dataplane's setters. */
export type RoutingMessage =
  | { readonly type: 'route-update'; readonly route: DesiredRoute }
  | { readonly type: 'route-remove'; readonly dst: string }
  | { readonly type: 'vxlan-device'; readonly spec: VxlanDeviceSpec | undefined }
  | { readonly type: 'ipip-device'; readonly spec: IpipDeviceSpec | undefined }
  | { readonly type: 'vtep-update'; readonly vtep: RemoteVtep }
  | { readonly type: 'vtep-remove'; readonly node: string };
