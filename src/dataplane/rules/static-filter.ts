/**
 * The static chains of the filter table (felix/rules/static.go, iptables mode, not BPF).
 *
 * - `cali-FORWARD`: clear Calico's bits (but accept, which raw/mangle may have set), host
 *   endpoint forward policy unless already accepted, workload dispatch by interface prefix, host
 *   endpoint forward egress, then the service-loop CIDR block. Felix appends to the built-in
 *   FORWARD an accept of what policy accepted and a rule setting the accept bit (see hooks).
 * - `cali-INPUT`: IPIP/VXLAN from known hosts only, WireGuard in, IPVS forward check, workload
 *   traffic to `cali-wl-to-host`, then host endpoint ingress policy.
 * - `cali-wl-to-host`: ICMPv6 a router must see (v6), workload egress dispatch, then
 *   DefaultEndpointToHostAction.
 * - `cali-OUTPUT`: already accepted, IPVS, return for traffic to workloads, tunnel/WireGuard
 *   traffic to other nodes, then host endpoint egress policy for traffic that was not DNAT'd.
 * - `cali-failsafe-in` / `cali-failsafe-out`: the failsafe ports.
 * - `cali-forward-check` / `cali-forward-endpoint-mark`: only with kube-proxy IPVS.
 */
import type { IpVersion } from '../../proto/policy.js';
import { rule, type Chain, type Rule, type TableName } from './chain.js';
import type { ResolvedConfig } from './config.js';
import * as F from './fragments.js';
import { allCalicoMarkBits } from './marks.js';
import { splitPortList } from './match.js';
import { CHAIN, IPSET_ID, ipSetName } from './names.js';

const PROTO_IPIP = 4;
const PROTO_UDP = 17;
const PROTO_ICMPV6 = 58;

function netVersion(net: string): IpVersion {
  return net.includes(':') ? 6 : 4;
}

/** Failsafe chains: in the raw table each also lets the other direction's replies through. */
export function failsafeChain(direction: 'in' | 'out', table: TableName, ipVersion: IpVersion, cfg: ResolvedConfig): Chain {
  const rules: Rule[] = [];
  const primary = direction === 'in' ? cfg.failsafeIn : cfg.failsafeOut;
  const replies = direction === 'in' ? cfg.failsafeOut : cfg.failsafeIn;
  const netMatch = direction === 'in' ? F.sourceNet : F.destNet;
  for (const pp of primary) {
    if (pp.net && netVersion(pp.net) !== ipVersion) continue;
    rules.push(rule([...F.protocol(pp.protocol), ...F.destPorts(pp.port), ...(pp.net ? netMatch(pp.net) : [])], F.accept()));
  }
  if (table === 'raw') {
    for (const pp of replies) {
      if (pp.net && netVersion(pp.net) !== ipVersion) continue;
      rules.push(rule([...F.protocol(pp.protocol), ...F.sourcePorts(pp.port), ...(pp.net ? netMatch(pp.net) : [])], F.accept()));
    }
  }
  return { name: direction === 'in' ? CHAIN.failsafeIn : CHAIN.failsafeOut, rules };
}

function wireguardInputRules(ipVersion: IpVersion, cfg: ResolvedConfig): Rule[] {
  if (ipVersion === 4 && cfg.wireguardEnabled) {
    return [rule([...F.protocol(PROTO_UDP), ...F.destPorts(cfg.wireguardListeningPort), ...F.dstAddrTypeLocal()], cfg.filterAllow, 'Allow incoming IPv4 Wireguard packets')];
  }
  if (ipVersion === 6 && cfg.wireguardEnabledV6) {
    return [rule([...F.protocol(PROTO_UDP), ...F.destPorts(cfg.wireguardListeningPortV6), ...F.dstAddrTypeLocal()], cfg.filterAllow, 'Allow incoming IPv6 Wireguard packets')];
  }
  return [];
}

export function filterInputChain(ipVersion: IpVersion, cfg: ResolvedConfig): Chain {
  const { marks, deny } = cfg;
  const rules: Rule[] = [];
  if (ipVersion === 4 && cfg.ipipEnabled) {
    rules.push(
      rule([...F.protocol(PROTO_IPIP), ...F.sourceIpSet(ipSetName(IPSET_ID.allHostNets, 4)), ...F.dstAddrTypeLocal()], cfg.filterAllow, 'Allow IPIP packets from Calico hosts'),
      rule(F.protocol(PROTO_IPIP), deny.args, `${deny.name} IPIP packets from non-Calico hosts`),
    );
  }
  if (ipVersion === 4 && cfg.vxlanEnabled) {
    const vxlan = [...F.protocol(PROTO_UDP), ...F.destPorts(cfg.vxlanPort)];
    rules.push(
      rule([...vxlan, ...F.sourceIpSet(ipSetName(IPSET_ID.allVxlanSourceNets, 4)), ...F.dstAddrTypeLocal()], cfg.filterAllow, 'Allow IPv4 VXLAN packets from allowed hosts'),
      rule([...vxlan, ...F.dstAddrTypeLocal()], F.drop(), 'Drop IPv4 VXLAN packets from non-allowed hosts'),
    );
  }
  if (ipVersion === 6 && cfg.vxlanEnabledV6) {
    const vxlan = [...F.protocol(PROTO_UDP), ...F.destPorts(cfg.vxlanPort)];
    rules.push(
      rule([...vxlan, ...F.sourceIpSet(ipSetName(IPSET_ID.allVxlanSourceNets, 6)), ...F.dstAddrTypeLocal()], cfg.filterAllow, 'Allow IPv6 VXLAN packets from allowed hosts'),
      rule([...vxlan, ...F.dstAddrTypeLocal()], deny.args, `${deny.name} IPv6 VXLAN packets from non-allowed hosts`),
    );
  }
  rules.push(...wireguardInputRules(ipVersion, cfg));
  if (cfg.kubeIpvs) {
    rules.push(rule([], F.clearMark(marks.endpoint)), rule([], F.jump(CHAIN.forwardCheck)), rule(F.markNotClear(marks.endpoint), F.ret()));
  }
  for (const p of cfg.workloadIfacePrefixes) rules.push(rule(F.inInterface(`${p}+`), F.goTo(CHAIN.workloadToHost)));
  rules.push(
    rule(F.markSingleBitSet(marks.accept), cfg.filterAllow),
    rule([], F.clearMark(allCalicoMarkBits(marks))),
    rule([], F.jump(CHAIN.fromHostEndpoint)),
    rule(F.markSingleBitSet(marks.accept), cfg.filterAllow, 'Host endpoint policy accepted packet.'),
  );
  return { name: CHAIN.filterInput, rules };
}

/** The ICMPv6 types a router must accept from workloads, before their egress policy. */
export function icmpv6RouterRules(action: F.Args): Rule[] {
  return [130, 131, 132, 133, 135, 136].map((t) => rule([...F.protocol(PROTO_ICMPV6), ...F.icmpv6Type(t)], action));
}

export function workloadToHostChain(ipVersion: IpVersion, cfg: ResolvedConfig): Chain {
  const rules: Rule[] = ipVersion === 6 ? icmpv6RouterRules(cfg.filterAllow) : [];
  rules.push(rule([], F.jump(CHAIN.fromWorkloadDispatch)));
  rules.push(rule([], cfg.endpointToHost, 'Configured DefaultEndpointToHostAction'));
  return { name: CHAIN.workloadToHost, rules };
}

export function filterForwardChain(cfg: ResolvedConfig): Chain {
  const { marks } = cfg;
  const rules: Rule[] = [
    rule([], F.clearMark((allCalicoMarkBits(marks) & ~marks.accept) >>> 0)),
    rule(F.markClear(marks.accept), F.jump(CHAIN.fromHostEndpointForward)),
  ];
  for (const p of cfg.workloadIfacePrefixes) {
    rules.push(rule(F.inInterface(`${p}+`), F.jump(CHAIN.fromWorkloadDispatch)), rule(F.outInterface(`${p}+`), F.jump(CHAIN.toWorkloadDispatch)));
  }
  rules.push(rule([], F.jump(CHAIN.toHostEndpointForward)), rule([], F.jump(CHAIN.cidrBlock)));
  return { name: CHAIN.filterForward, rules };
}

/** Appended to the built-in FORWARD chain, after everyone else's rules. */
export function filterForwardAppendRules(cfg: ResolvedConfig): Rule[] {
  return [rule(F.markSingleBitSet(cfg.marks.accept), cfg.filterAllow, 'Policy explicitly accepted packet.'), rule([], F.setMark(cfg.marks.accept))];
}

export function filterOutputChain(ipVersion: IpVersion, cfg: ResolvedConfig): Chain {
  const { marks } = cfg;
  const rules: Rule[] = [rule(F.markSingleBitSet(marks.accept), cfg.filterAllow)];
  if (cfg.kubeIpvs) rules.push(rule(F.markNotClear(marks.endpoint), F.goTo(CHAIN.forwardEndpointMark)));
  for (const p of cfg.workloadIfacePrefixes) rules.push(rule(F.outInterface(`${p}+`), F.ret()));
  if (ipVersion === 4 && cfg.ipipEnabled) {
    rules.push(rule([...F.protocol(PROTO_IPIP), ...F.destIpSet(ipSetName(IPSET_ID.allHostNets, 4)), ...F.srcAddrTypeLocal()], cfg.filterAllow, 'Allow IPIP packets to other Calico hosts'));
  }
  const vxlanOut = (v: IpVersion, comment: string): Rule =>
    rule([...F.protocol(PROTO_UDP), ...F.destPorts(cfg.vxlanPort), ...F.srcAddrTypeLocal(), ...F.destIpSet(ipSetName(IPSET_ID.allVxlanSourceNets, v))], cfg.filterAllow, comment);
  if (ipVersion === 4 && cfg.vxlanEnabled) rules.push(vxlanOut(4, 'Allow IPv4 VXLAN packets to other allowed hosts'));
  if (ipVersion === 6 && cfg.vxlanEnabledV6) rules.push(vxlanOut(6, 'Allow IPv6 VXLAN packets to other allowed hosts'));
  if (ipVersion === 4 && cfg.wireguardEnabled) {
    rules.push(rule([...F.protocol(PROTO_UDP), ...F.destPorts(cfg.wireguardListeningPort), ...F.srcAddrTypeLocal()], cfg.filterAllow, 'Allow outgoing IPv4 Wireguard packets'));
  }
  if (ipVersion === 6 && cfg.wireguardEnabledV6) {
    rules.push(rule([...F.protocol(PROTO_UDP), ...F.destPorts(cfg.wireguardListeningPortV6), ...F.srcAddrTypeLocal()], cfg.filterAllow, 'Allow outgoing IPv6 Wireguard packets'));
  }
  rules.push(
    rule([], F.clearMark(allCalicoMarkBits(marks))),
    rule(F.notConntrackState('DNAT'), F.jump(CHAIN.toHostEndpoint)),
    rule(F.markSingleBitSet(marks.accept), cfg.filterAllow, 'Host endpoint policy accepted packet.'),
  );
  return { name: CHAIN.filterOutput, rules };
}

/** IPVS: is a packet in INPUT really forwarded (to a service)? Then set its endpoint mark. */
export function forwardCheckChain(ipVersion: IpVersion, cfg: ResolvedConfig): Chain {
  const hostSet = ipSetName(IPSET_ID.thisHost, ipVersion);
  const rules: Rule[] = [rule(F.conntrackState('RELATED,ESTABLISHED'), F.ret())];
  for (const split of splitPortList(cfg.kubeNodePortRanges)) {
    for (const proto of ['tcp', 'udp']) {
      rules.push(rule([...F.protocol(proto), ...F.destPortRanges(split), ...F.destIpSet(hostSet)], F.goTo(CHAIN.setEndpointMark), 'To kubernetes NodePort service'));
    }
  }
  rules.push(rule(F.notDestIpSet(hostSet), F.jump(CHAIN.setEndpointMark), 'To kubernetes service'));
  return { name: CHAIN.forwardCheck, rules };
}

/** IPVS: OUTPUT-side policy for forwarded packets, dispatched on the endpoint mark. */
export function forwardEndpointMarkChain(cfg: ResolvedConfig): Chain {
  const { marks } = cfg;
  const rules: Rule[] = [rule(F.notMarkMatchesWithMask(marks.nonCaliEndpoint, marks.endpoint), F.jump(CHAIN.fromEndpointMark))];
  for (const p of cfg.workloadIfacePrefixes) rules.push(rule(F.outInterface(`${p}+`), F.jump(CHAIN.toWorkloadDispatch)));
  rules.push(
    rule([], F.jump(CHAIN.toHostEndpointForward)),
    rule([], F.clearMark(marks.endpoint)),
    rule(F.markSingleBitSet(marks.accept), cfg.filterAllow, 'Policy explicitly accepted packet.'),
  );
  return { name: CHAIN.forwardEndpointMark, rules };
}

/** The filter table's static chains in Felix's order. */
export function staticFilterChains(ipVersion: IpVersion, cfg: ResolvedConfig): Chain[] {
  const chains = [filterForwardChain(cfg), filterInputChain(ipVersion, cfg), workloadToHostChain(ipVersion, cfg), failsafeChain('in', 'filter', ipVersion, cfg)];
  if (cfg.kubeIpvs) chains.push(forwardCheckChain(ipVersion, cfg));
  chains.push(filterOutputChain(ipVersion, cfg), failsafeChain('out', 'filter', ipVersion, cfg));
  if (cfg.kubeIpvs) chains.push(forwardEndpointMarkChain(cfg));
  return chains;
}
