/**
 * The data-driven chains beside the static ones (felix/rules/nat.go and the endpoint manager):
 *
 * - `cali-nat-outgoing`: MASQUERADE (or SNAT to NATOutgoingAddress) traffic from a natOutgoing
 *   pool to anywhere outside all pools (and outside all hosts with IPPoolsAndHostIPs). With a
 *   NATPortRange, TCP and UDP are translated into the range first and the rest without one.
 *   Empty when no pool has natOutgoing.
 * - `cali-fip-dnat` / `cali-fip-snat`: floating IPs (OpenStack), sorted by address.
 * - `cali-cidr-block`: ServiceLoopPrevention's drop of traffic to service CIDRs no service uses.
 * - `cali-rpf-skip` (raw): accepts workload sources an endpoint is allowed to spoof.
 */
import type { IpVersion } from '../../proto/policy.js';
import { rule, type Chain, type Rule } from './chain.js';
import type { ResolvedConfig } from './config.js';
import * as F from './fragments.js';
import { CHAIN, IPSET_ID, ipSetName } from './names.js';

function natOutgoingRule(ipVersion: IpVersion, cfg: ResolvedConfig, proto: string | undefined, action: F.Args): Rule {
  const m = [...F.sourceIpSet(ipSetName(IPSET_ID.masqPools, ipVersion)), ...F.notDestIpSet(ipSetName(IPSET_ID.allPools, ipVersion))];
  if (cfg.natOutgoingExcludeHosts) m.push(...F.notDestIpSet(ipSetName(IPSET_ID.allHostNets, ipVersion)));
  if (proto) m.push(...F.protocol(proto));
  if (cfg.natOutgoingInterfaceFilter) m.push(...F.outInterface(cfg.natOutgoingInterfaceFilter));
  return rule(m, action);
}

export function renderNatOutgoingChain(active: boolean, ipVersion: IpVersion, cfg: ResolvedConfig): Chain {
  if (!active) return { name: CHAIN.natOutgoing, rules: [] };
  const { features } = cfg;
  const addr = cfg.natOutgoingAddress;
  const fallback = addr ? F.snat(addr, features.snatFullyRandom) : F.masquerade(features.masqFullyRandom);
  const range = cfg.natPortRange;
  if (!range) return { name: CHAIN.natOutgoing, rules: [natOutgoingRule(ipVersion, cfg, undefined, fallback)] };
  const ports = `${range.first}-${range.last}`;
  const ranged = addr ? F.snat(`${addr}:${ports}`, features.snatFullyRandom) : F.masquerade(features.masqFullyRandom, ports);
  return {
    name: CHAIN.natOutgoing,
    rules: [
      natOutgoingRule(ipVersion, cfg, 'tcp', ranged),
      natOutgoingRule(ipVersion, cfg, 'tcp', F.ret()),
      natOutgoingRule(ipVersion, cfg, 'udp', ranged),
      natOutgoingRule(ipVersion, cfg, 'udp', F.ret()),
      natOutgoingRule(ipVersion, cfg, undefined, fallback),
    ],
  };
}

const byKey = <T>(m: ReadonlyMap<string, T>): [string, T][] => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/** Floating IPs: external address to internal (DNAT) and internal to external (SNAT). */
export function renderFloatingIpChains(dnats: ReadonlyMap<string, string>, snats: ReadonlyMap<string, string>, cfg: ResolvedConfig): Chain[] {
  return [
    { name: CHAIN.fipDnat, rules: byKey(dnats).map(([ext, int]) => rule(F.destNet(ext), F.dnat(int))) },
    { name: CHAIN.fipSnat, rules: byKey(snats).map(([int, ext]) => rule([...F.destNet(int), ...F.sourceNet(int)], F.snat(ext, cfg.features.snatFullyRandom))) },
  ];
}

export function renderCidrBlockChain(cidrs: readonly string[], ipVersion: IpVersion, cfg: ResolvedConfig): Chain {
  const action = cfg.blockCidr;
  if (!action) return { name: CHAIN.cidrBlock, rules: [] };
  const mine = [...cidrs].sort().filter((c) => c.includes(':') === (ipVersion === 6));
  return { name: CHAIN.cidrBlock, rules: mine.map((c) => rule(F.destNet(c), action)) };
}

export interface RpfSkipEntry {
  readonly iface: string;
  readonly cidr: string;
}

/** Entries in the caller's order; those of the other family are left out. */
export function renderRpfSkipChain(entries: readonly RpfSkipEntry[], ipVersion: IpVersion): Chain {
  const mine = entries.filter((e) => e.cidr.includes(':') === (ipVersion === 6));
  return { name: CHAIN.rpfSkip, rules: mine.map((e) => rule([...F.inInterface(e.iface), ...F.sourceNet(e.cidr)], F.accept())) };
}
