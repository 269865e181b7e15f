/**
 * The IP sets Felix fills from pools and nodes rather than from selectors (its IPAM pool and host
 * IP handling in the calc graph and the masquerade manager):
 *
 *   all-ipam-pools   every pool's CIDR (nat-outgoing never masquerades to these)
 *   masq-ipam-pools  the CIDRs of enabled pools with natOutgoing (the sources to masquerade)
 *   all-hosts-net    every node's address (IPIP is accepted only from, and sent only to, these)
 *   all-vxlan-net    the address of every node with a VXLAN tunnel (VXLAN accepted only from these)
 *
 * Emitted as whole `ipset-update`s (they are small: one member per pool or node) and only when
 * their content changed. Both families share one set id, as for selector sets; the dataplane
 * splits them into `cali40` / `cali60`.
 */
import type { Calculator, CalcMessage } from '../calculator.js';
import type { ClusterState } from '../cluster.js';
import { addrOf } from '../cidr.js';
import { nodeIPv4 } from '../routes.js';

/** Felix's ids for these sets (rules/names.ts IPSET_ID spells the same; calc cannot import dataplane). */
export const HOST_SET_IDS = {
  allPools: 'all-ipam-pools',
  masqPools: 'masq-ipam-pools',
  allHostNets: 'all-hosts-net',
  allVxlanSourceNets: 'all-vxlan-net',
} as const;

export function hostSetMembers(s: ClusterState): Record<keyof typeof HOST_SET_IDS, string[]> {
  const allPools: string[] = [];
  const masqPools: string[] = [];
  for (const p of s.pools.values()) {
    allPools.push(p.spec.cidr);
    if (p.spec.natOutgoing && !p.spec.disabled) masqPools.push(p.spec.cidr);
  }
  const allHostNets: string[] = [];
  const allVxlanSourceNets: string[] = [];
  for (const n of s.nodes.values()) {
    const v4 = nodeIPv4(n);
    const v6 = n.spec.bgp?.ipv6Address;
    if (v4) allHostNets.push(addrOf(v4));
    if (v6) allHostNets.push(addrOf(v6));
    if (v4 && n.spec.ipv4VXLANTunnelAddr) allVxlanSourceNets.push(addrOf(v4));
  }
  for (const l of [allPools, masqPools, allHostNets, allVxlanSourceNets]) l.sort();
  return { allPools, masqPools, allHostNets, allVxlanSourceNets };
}

export class HostSets implements Calculator {
  readonly name = 'host-sets';
  readonly reads = ['pools', 'nodes'] as const;
  private readonly emitted = new Map<string, string>();

  recompute(s: ClusterState, _c: unknown, emit: (m: CalcMessage) => void): void {
    const members = hostSetMembers(s);
    for (const key of Object.keys(HOST_SET_IDS) as (keyof typeof HOST_SET_IDS)[]) {
      const id = HOST_SET_IDS[key];
      const m = members[key];
      const j = m.join(',');
      if (this.emitted.get(id) === j) continue;
      this.emitted.set(id, j);
      emit({ type: 'ipset-update', id, setType: 'net', members: m });
    }
  }
}
