/**
 * confd's job as pure functions: from Node, BGPConfiguration and BGPPeer resources to the BGP
 * speaker's configuration (router id, AS, peers, what to export), and BIRD's kernel-programming
 * filter: how a BGP-learned route becomes a kernel route.
 *
 * Calico's rules (calico-reference.md, "BGP"):
 * - router id = node IPv4; AS = node's asNumber, else BGPConfiguration default's, else 64512;
 * - mesh: every node peers with every other node unless nodeToNodeMeshEnabled is false; the side
 *   whose IP is higher (string compare) is passive, so only one side connects;
 * - BGPPeer: no node/nodeSelector = global; node/nodeSelector = node specific; peerSelector peers
 *   with the selected Calico nodes; a more specific definition of the same peer IP wins;
 * - a node with routeReflectorClusterID treats iBGP peers without that cluster ID as clients;
 * - export: own affine blocks minus disableBGPExport pools, plus service CIDRs, with communities
 *   from prefixAdvertisements;
 * - import: IPIP pools via tunl0 (direct when CrossSubnet and same subnet), VXLAN pools not at all.
 */
import type { BGPPeer, Node } from '../datastore/model/index.js';
import { BGP_DEFAULTS, parsePeerIP, resolveBgpConfiguration } from '../datastore/model/index.js';
import { Selector } from '../datastore/selector.js';
import type { DesiredRoute } from '../dataplane/types.js';
import { IPIP_DEVICE } from '../dataplane/types.js';
import type { PeerConfigInput } from '../bgp/config.js';
import { addrOf, contains, sameSubnet } from './cidr.js';
import type { ClusterState } from './cluster.js';
import { nodeIPv4 } from './routes.js';

/** BIRD's `graceful restart time` in Calico's template, used when nothing overrides it. */
export const DEFAULT_BGP_RESTART_TIME_S = 120;

export interface DesiredPeer extends PeerConfigInput {
  /** BGPPeer.spec.password / nodeMeshPassword: resolved from a Secret by the agent. */
  passwordSecret?: { name: string; key: string };
  /** Canonical key of the BGPPeer it came from, or `mesh`. */
  source: string;
}

export interface DesiredExport {
  prefix: string;
  nextHop?: string;
  communities?: string[];
  largeCommunities?: string[];
}

export interface DesiredBgp {
  routerId: string;
  asNumber: number;
  listenPort: number;
  clusterId?: string;
  peers: DesiredPeer[];
  exports: DesiredExport[];
}

/** Why BGP is not configured on this node, for status and logs. */
export type BgpUnavailable = { reason: 'backend' | 'no-node' | 'no-ipv4-address' };

export function asNumberOf(n: Node | undefined, defaultAs: number): number {
  return n?.spec.bgp?.asNumber ?? defaultAs;
}

/** Go-style durations Calico uses in BGPPeer (`maxRestartTime: 2m`, `keepaliveTime: 30s`) → seconds. */
export function durationSeconds(s: string | undefined): number | undefined {
  if (!s) return undefined;
  const re = /(\d+(?:\.\d+)?)(h|ms|m|s)/g;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    const v = Number(m[1]);
    total += m[2] === 'h' ? v * 3600 : m[2] === 'm' ? v * 60 : m[2] === 's' ? v : v / 1000;
    consumed += m[0].length;
  }
  return consumed === s.length && consumed > 0 ? Math.round(total) : undefined;
}

function labelsOf(n: Node): Record<string, string> {
  return (n.metadata.labels ?? {}) as Record<string, string>;
}

function selectorMatches(src: string, n: Node): boolean {
  try {
    return Selector.parse(src).matches(labelsOf(n));
  } catch {
    return false; // the datastore validated it; a selector that fails here selects nothing
  }
}

/** Does this BGPPeer apply to the local node, and as which peer type? */
function peerScope(p: BGPPeer, me: Node): 'global' | 'node specific' | undefined {
  if (p.spec.node) return p.spec.node === me.metadata.name ? 'node specific' : undefined;
  if (p.spec.nodeSelector) return selectorMatches(p.spec.nodeSelector, me) ? 'node specific' : undefined;
  return 'global';
}

/** The speaker's configuration for this node, or why there is none. */
export function desiredBgp(s: ClusterState, backend: 'bird' | 'vxlan' | 'none', defaultAsOverride?: number): DesiredBgp | BgpUnavailable {
  if (backend !== 'bird') return { reason: 'backend' };
  const me = s.localNode;
  if (!me) return { reason: 'no-node' };
  const myCidr = nodeIPv4(me);
  if (!myCidr) return { reason: 'no-ipv4-address' };
  const myIp = addrOf(myCidr);
  const { global, perNode } = s.bgpConfiguration();
  const resolved = resolveBgpConfiguration(global?.spec, perNode?.spec);
  const defaultAs = defaultAsOverride ?? global?.spec.asNumber ?? BGP_DEFAULTS.asNumber;
  const myAs = asNumberOf(me, defaultAs);
  const clusterId = me.spec.bgp?.routeReflectorClusterID;

  const nodeByIp = new Map<string, Node>();
  for (const n of s.nodes.values()) {
    const ip = nodeIPv4(n);
    if (ip) nodeByIp.set(addrOf(ip), n);
  }
  const rrClient = (peerAs: number, peerNode: Node | undefined): boolean =>
    !!clusterId && peerAs === myAs && peerNode?.spec.bgp?.routeReflectorClusterID !== clusterId;

  // Later definitions of the same address override earlier ones: mesh < global < node specific.
  const peers = new Map<string, { rank: number; peer: DesiredPeer }>();
  const put = (rank: number, peer: DesiredPeer) => {
    const prev = peers.get(peer.address);
    if (!prev || prev.rank <= rank) peers.set(peer.address, { rank, peer });
  };

  const meshRestart = durationSeconds(global?.spec.nodeMeshMaxRestartTime) ?? DEFAULT_BGP_RESTART_TIME_S;
  if (resolved.nodeToNodeMeshEnabled) {
    for (const [ip, n] of nodeByIp) {
      if (n.metadata.name === me.metadata.name || ip === myIp) continue;
      const peerAs = asNumberOf(n, defaultAs);
      put(0, {
        source: 'mesh',
        type: 'node-to-node mesh',
        address: ip,
        port: resolved.listenPort,
        asNumber: peerAs,
        localAddress: myIp,
        passive: myIp > ip,
        routeReflectorClient: rrClient(peerAs, n),
        gracefulRestart: { restartTime: meshRestart },
        ...(global?.spec.nodeMeshPassword ? { passwordSecret: global.spec.nodeMeshPassword.secretKeyRef } : {}),
      });
    }
  }

  const sortedPeers = [...s.bgpPeers.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [key, p] of sortedPeers) {
    const scope = peerScope(p, me);
    if (!scope) continue;
    const targets: { ip: string; port: number; asNumber: number; node?: Node }[] = [];
    if (p.spec.peerSelector) {
      for (const n of s.nodes.values()) {
        const ip = nodeIPv4(n);
        if (!ip || n.metadata.name === me.metadata.name || !selectorMatches(p.spec.peerSelector, n)) continue;
        targets.push({ ip: addrOf(ip), port: resolved.listenPort, asNumber: asNumberOf(n, defaultAs), node: n });
      }
    } else if (p.spec.peerIP && p.spec.asNumber !== undefined) {
      const parsed = parsePeerIP(p.spec.peerIP);
      if (parsed) targets.push({ ip: parsed.ip, port: parsed.port ?? resolved.listenPort, asNumber: p.spec.asNumber, node: nodeByIp.get(parsed.ip) });
    }
    const restart = durationSeconds(p.spec.maxRestartTime) ?? DEFAULT_BGP_RESTART_TIME_S;
    const keepalive = durationSeconds(p.spec.keepaliveTime);
    for (const t of targets) {
      if (t.ip === myIp) continue;
      put(scope === 'global' ? 1 : 2, {
        source: key,
        type: scope,
        address: t.ip,
        port: t.port,
        asNumber: t.asNumber,
        ...(p.spec.sourceAddress === 'None' ? {} : { localAddress: myIp }),
        // Calico node-to-node sessions via peerSelector keep the mesh's passive rule.
        passive: t.node ? myIp > t.ip : false,
        routeReflectorClient: rrClient(t.asNumber, t.node),
        keepOriginalNextHop: p.spec.keepOriginalNextHop ?? false,
        gracefulRestart: { restartTime: restart },
        ...(keepalive ? { keepaliveTime: keepalive, holdTime: keepalive * 3 } : {}),
        ...(p.spec.password ? { passwordSecret: p.spec.password.secretKeyRef } : {}),
      });
    }
  }

  return {
    routerId: myIp,
    asNumber: myAs,
    listenPort: resolved.listenPort,
    ...(clusterId ? { clusterId } : {}),
    peers: [...peers.values()].map((v) => v.peer).sort((a, b) => (a.address < b.address ? -1 : 1)),
    exports: desiredExports(s, myIp),
  };
}

/** Community values of a prefixAdvertisement: names from `communities`, or literal values. */
function communitiesFor(prefix: string, s: ClusterState): { standard: string[]; large: string[] } {
  const spec = s.bgpConfiguration().global?.spec;
  const named = new Map((spec?.communities ?? []).map((c) => [c.name, c.value]));
  const standard: string[] = [];
  const large: string[] = [];
  for (const adv of spec?.prefixAdvertisements ?? []) {
    if (!contains(adv.cidr, prefix)) continue;
    for (const c of adv.communities) {
      const v = named.get(c) ?? c;
      if (/^\d+:\d+:\d+$/.test(v)) large.push(v);
      else if (/^\d+:\d+$/.test(v)) standard.push(v);
    }
  }
  return { standard, large };
}

/** What this node announces: its blocks (minus disableBGPExport pools) and the service CIDRs. */
export function desiredExports(s: ClusterState, myIp: string): DesiredExport[] {
  const prefixes = new Set<string>();
  for (const cidr of s.localBlocks()) {
    const pool = s.poolFor(cidr);
    if (pool?.spec.disableBGPExport) continue;
    prefixes.add(cidr);
  }
  const spec = s.bgpConfiguration().global?.spec;
  for (const list of [spec?.serviceClusterIPs, spec?.serviceExternalIPs, spec?.serviceLoadBalancerIPs]) {
    for (const e of list ?? []) prefixes.add(e.cidr);
  }
  return [...prefixes].sort().map((prefix) => {
    const { standard, large } = communitiesFor(prefix, s);
    return {
      prefix,
      ...(prefix.includes(':') ? {} : { nextHop: myIp }),
      ...(standard.length ? { communities: standard } : {}),
      ...(large.length ? { largeCommunities: large } : {}),
    };
  });
}

/**
 * BIRD's kernel filter in Calico: the kernel route for a BGP best path, or undefined when the
 * kernel must not get one (VXLAN pools are Felix's; our own blocks are local).
 */
export function kernelRouteForBgp(
  prefix: string,
  nextHop: string | undefined,
  s: ClusterState,
  localBlocks: ReadonlySet<string> = new Set(s.localBlocks()),
  uplinkDevice?: string,
): DesiredRoute | undefined {
  if (!nextHop || prefix.includes(':')) return undefined;
  const myCidr = nodeIPv4(s.localNode);
  if (myCidr && addrOf(myCidr) === nextHop) return undefined;
  if (localBlocks.has(prefix)) return undefined;
  const pool = s.poolFor(prefix);
  if (pool && pool.spec.vxlanMode && pool.spec.vxlanMode !== 'Never') return undefined;
  const mode = pool?.spec.ipipMode;
  const encap = mode === 'Always' || (mode === 'CrossSubnet' && !(myCidr && sameSubnet(myCidr, nextHop)));
  if (encap) return { class: 'bgp', dst: prefix, gateway: nextHop, dev: IPIP_DEVICE, onlink: true };
  // A next hop on our own subnet is reached through the uplink: say so, as BIRD's kernel protocol
  // does, so the route reads back exactly as written (the kernel always reports the device).
  const direct = uplinkDevice && myCidr && sameSubnet(myCidr, nextHop);
  return { class: 'bgp', dst: prefix, gateway: nextHop, ...(direct ? { dev: uplinkDevice } : {}) };
}
