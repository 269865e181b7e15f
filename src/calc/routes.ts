/**
 * Felix's routing rules as pure functions: from the cluster state to this node's routes, tunnel
 * devices and remote VTEPs (calico-reference.md, "Routes, devices, sysctls").
 *
 *   local endpoint          → <ip>/32 dev cali…                          (workload, proto 3)
 *   block affine to us      → blackhole <block>                          (local-block, proto 80)
 *   remote block, VXLAN pool→ <block> via <VTEP ip> dev vxlan.calico onlink   (vxlan)
 *     CrossSubnet, same subnet → <block> via <node ip> [dev uplink]      (no-encap)
 *   address borrowed from a block affine to another node, VXLAN pool → /32 the same way
 *   remote blocks of non-VXLAN pools come from BGP (see bgp.ts), as BIRD does for Calico.
 */
import type { IPAMBlock, IPPool, Node, WorkloadEndpoint } from '../datastore/model/index.js';
import { blockHost } from '../datastore/model/index.js';
import type { DesiredRoute, IpipDeviceSpec, RemoteVtep, VxlanDeviceSpec } from '../dataplane/types.js';
import { VXLAN_DEVICE } from '../dataplane/types.js';
import { vxlanMac } from '../dataplane/vxlan-mac.js';
import { addrOf, familyOf, hostPrefix, nthAddress, sameSubnet } from './cidr.js';
import type { ClusterState } from './cluster.js';

/** Encapsulation overheads Calico subtracts from the uplink MTU (calico-reference.md). */
export const IPIP_OVERHEAD = 20;
export const VXLAN_V4_OVERHEAD = 50;
export const VXLAN_V6_OVERHEAD = 70;

export interface RoutingConfig {
  nodeName: string;
  /** `bird` (BGP on), `vxlan` or `none` (CALICO_NETWORKING_BACKEND). */
  networkingBackend: 'bird' | 'vxlan' | 'none';
  /** Smallest MTU of the uplinks (detected by the agent). */
  uplinkMtu: number;
  /** The uplink NIC: VXLAN parent and device of no-encap routes. */
  uplinkDevice?: string;
  vxlanVni: number;
  vxlanPort: number;
  /** FELIX_VXLANMTU / FELIX_IPINIPMTU: explicit MTUs override the computed ones. */
  vxlanMtu?: number;
  ipipMtu?: number;
}

/** The node's IPv4 address with its prefix (spec.bgp.ipv4Address), e.g. 198.18.0.11/24. */
export function nodeIPv4(n: Node | undefined): string | undefined {
  return n?.spec.bgp?.ipv4Address;
}

function encapEnabled(mode: string | undefined): boolean {
  return mode === 'Always' || mode === 'CrossSubnet';
}

/** True when traffic to `remote` from the local node must be encapsulated under `mode`. */
export function needsEncap(mode: string | undefined, local: Node | undefined, remote: Node | undefined): boolean {
  if (mode === 'Always') return true;
  if (mode !== 'CrossSubnet') return false;
  const l = nodeIPv4(local);
  const r = nodeIPv4(remote);
  // Without both addresses Calico cannot tell the subnets apart and encapsulates.
  return !(l && r && sameSubnet(l, addrOf(r)));
}

/** Routes for one local workload endpoint: one host route per address, on its interface. */
export function workloadRoutes(wep: WorkloadEndpoint): DesiredRoute[] {
  return wep.spec.ipNetworks.map((net) => ({ class: 'workload' as const, dst: hostPrefix(addrOf(net)), dev: wep.spec.interfaceName }));
}

/** Whether any enabled pool uses VXLAN / IPIP (Felix creates the device only then). */
export function encapInUse(s: ClusterState): { vxlan: boolean; ipip: boolean } {
  let vxlan = false;
  let ipip = false;
  for (const p of s.pools.values()) {
    if (p.spec.disabled || familyOf(p.spec.cidr) !== 4) continue;
    vxlan ||= encapEnabled(p.spec.vxlanMode);
    ipip ||= encapEnabled(p.spec.ipipMode);
  }
  return { vxlan, ipip };
}

export function vxlanMtu(cfg: RoutingConfig): number {
  return cfg.vxlanMtu ?? cfg.uplinkMtu - VXLAN_V4_OVERHEAD;
}

export function ipipMtu(cfg: RoutingConfig): number {
  return cfg.ipipMtu ?? cfg.uplinkMtu - IPIP_OVERHEAD;
}

/** The vxlan.calico device, when VXLAN is in use and this node has a tunnel address. */
export function vxlanDevice(s: ClusterState, cfg: RoutingConfig): VxlanDeviceSpec | undefined {
  if (!encapInUse(s).vxlan) return undefined;
  const me = s.localNode;
  const tunnel = me?.spec.ipv4VXLANTunnelAddr;
  const ip = nodeIPv4(me);
  if (!me || !tunnel || !ip) return undefined;
  return {
    name: VXLAN_DEVICE,
    vni: cfg.vxlanVni,
    port: cfg.vxlanPort,
    parent: cfg.uplinkDevice,
    local: addrOf(ip),
    mac: vxlanMac(cfg.nodeName, me.spec.vxlanTunnelMACAddr),
    mtu: vxlanMtu(cfg),
    address: hostPrefix(tunnel),
  };
}

/** tunl0, when an enabled pool uses IPIP. */
export function ipipDevice(s: ClusterState, cfg: RoutingConfig): IpipDeviceSpec | undefined {
  if (!encapInUse(s).ipip) return undefined;
  const addr = s.localNode?.spec.bgp?.ipv4IPIPTunnelAddr;
  return { mtu: ipipMtu(cfg), address: addr ? hostPrefix(addr) : undefined };
}

/** A remote node's VTEP, when it has a tunnel address and a node address. */
export function vtepOf(n: Node): RemoteVtep | undefined {
  const tunnel = n.spec.ipv4VXLANTunnelAddr;
  const ip = nodeIPv4(n);
  if (!tunnel || !ip) return undefined;
  return { node: n.metadata.name, tunnelIp: tunnel, mac: vxlanMac(n.metadata.name, n.spec.vxlanTunnelMACAddr), hostIp: addrOf(ip), dev: VXLAN_DEVICE };
}

/** Remote VTEPs: every other node with a VXLAN tunnel, when VXLAN is in use here. */
export function remoteVteps(s: ClusterState): RemoteVtep[] {
  if (!encapInUse(s).vxlan || !s.localNode?.spec.ipv4VXLANTunnelAddr) return [];
  const out: RemoteVtep[] = [];
  for (const n of s.nodes.values()) {
    if (n.metadata.name === s.nodeName) continue;
    const v = vtepOf(n);
    if (v) out.push(v);
  }
  return out;
}

/** How to reach `dst` on `remote` for a pool that Felix routes itself (VXLAN pools). */
function remoteRoute(dst: string, pool: IPPool, s: ClusterState, remote: Node | undefined, cfg: RoutingConfig): DesiredRoute | undefined {
  if (!remote) return undefined;
  if (needsEncap(pool.spec.vxlanMode, s.localNode, remote)) {
    const tunnel = remote.spec.ipv4VXLANTunnelAddr;
    if (!tunnel || !s.localNode?.spec.ipv4VXLANTunnelAddr) return undefined;
    return { class: 'vxlan', dst, gateway: tunnel, dev: VXLAN_DEVICE, onlink: true };
  }
  const ip = nodeIPv4(remote);
  if (!ip) return undefined;
  return { class: 'no-encap', dst, gateway: addrOf(ip), ...(cfg.uplinkDevice ? { dev: cfg.uplinkDevice } : {}) };
}

/**
 * Routes derived from IPAM blocks: blackholes for our own blocks, and for VXLAN pools the routes
 * to other nodes' blocks and to addresses borrowed across blocks. Blocks of non-VXLAN pools on
 * other nodes are left to BGP (or to nothing when BGP is off, as in Calico).
 */
export function blockRoutes(s: ClusterState, cfg: RoutingConfig): DesiredRoute[] {
  const out: DesiredRoute[] = [];
  for (const cidr of s.localBlocks()) out.push({ class: 'local-block', dst: cidr, type: 'blackhole' });
  for (const b of s.blocks.values()) {
    if (b.spec.deleted || familyOf(b.spec.cidr) !== 4) continue;
    const pool = s.poolFor(b.spec.cidr);
    if (!pool || pool.spec.vxlanMode === 'Never' || pool.spec.vxlanMode === undefined) continue;
    const host = blockHost(b.spec);
    if (host && host !== s.nodeName) {
      const r = remoteRoute(b.spec.cidr, pool, s, s.node(host), cfg);
      if (r) out.push(r);
    }
    for (const { ip, node } of borrowedAddresses(b)) {
      if (node === s.nodeName) continue; // our own endpoint: its workload route covers it
      const r = remoteRoute(hostPrefix(ip), pool, s, s.node(node), cfg);
      if (r) out.push(r);
    }
  }
  return out;
}

/**
 * Addresses of a block in use on a node other than the block's host: IPAM records the node in the
 * allocation's attributes (`secondary.node`).
 */
export function borrowedAddresses(b: IPAMBlock): { ip: string; node: string }[] {
  const host = blockHost(b.spec);
  const attrs = b.spec.attributes ?? [];
  const out: { ip: string; node: string }[] = [];
  b.spec.allocations.forEach((attrIdx, ordinal) => {
    if (attrIdx === null || attrIdx === undefined) return;
    const node = attrs[attrIdx]?.secondary?.node;
    if (!node || node === host) return;
    const ip = nthAddress(b.spec.cidr, ordinal);
    if (ip) out.push({ ip, node });
  });
  return out;
}
