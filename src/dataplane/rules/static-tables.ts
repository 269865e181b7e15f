/**
 * The static chains of the nat, mangle and raw tables, and the hooks from the built-in chains
 * (felix/rules/static.go; felix/dataplane/linux/int_dataplane.go setUpIptablesNormal).
 *
 * - nat `cali-PREROUTING` / `cali-OUTPUT`: floating-IP DNAT. `cali-POSTROUTING`: floating-IP
 *   SNAT, `cali-nat-outgoing`, and per tunnel device with an address a MASQUERADE of host
 *   traffic leaving it from the wrong local source.
 * - mangle `cali-PREROUTING`: established and already-accepted traffic allowed, then preDNAT host
 *   endpoint policy. `cali-POSTROUTING`: host endpoint egress policy for DNAT'd host traffic.
 * - raw `cali-PREROUTING`: clear the bits, WireGuard mark, VXLAN NOTRACK, mark workload traffic
 *   (scratch0), the rpf-skip chain, strict reverse-path check for workloads, then untracked host
 *   endpoint policy. `cali-OUTPUT`: untracked host endpoint egress.
 * - mangle and raw also get their own `cali-failsafe-in` / `cali-failsafe-out`.
 *
 * Felix programs only chains reachable from its hooks (see programmedChains in index.ts), so e.g.
 * `cali-wireguard-incoming-mark` exists in the kernel only when WireGuard uses it.
 */
import type { IpVersion } from '../../proto/policy.js';
import { rule, type Chain, type Rule } from './chain.js';
import type { ResolvedConfig } from './config.js';
import * as F from './fragments.js';
import { allCalicoMarkBits } from './marks.js';
import { CHAIN } from './names.js';
import type { HookRules } from './restore.js';
import { failsafeChain, filterForwardAppendRules, staticFilterChains } from './static-filter.js';

export function natPreroutingChain(): Chain {
  return { name: CHAIN.natPrerouting, rules: [rule([], F.jump(CHAIN.fipDnat))] };
}

export function natOutputChain(): Chain {
  return { name: CHAIN.natOutput, rules: [rule([], F.jump(CHAIN.fipDnat))] };
}

export function natPostroutingChain(ipVersion: IpVersion, cfg: ResolvedConfig): Chain {
  const rules: Rule[] = [rule([], F.jump(CHAIN.fipSnat)), rule([], F.jump(CHAIN.natOutgoing))];
  const tunnels: string[] = [];
  if (ipVersion === 4 && cfg.ipipEnabled && cfg.ipipTunnelAddress) tunnels.push('tunl0');
  if (ipVersion === 4 && cfg.vxlanEnabled && cfg.vxlanTunnelAddress) tunnels.push('vxlan.calico');
  if (ipVersion === 6 && cfg.vxlanEnabledV6 && cfg.vxlanTunnelAddressV6) tunnels.push('vxlan-v6.calico');
  if (ipVersion === 4 && cfg.wireguardEnabled && cfg.wireguardInterfaceName) tunnels.push(cfg.wireguardInterfaceName);
  if (ipVersion === 6 && cfg.wireguardEnabledV6 && cfg.wireguardInterfaceNameV6) tunnels.push(cfg.wireguardInterfaceNameV6);
  for (const t of tunnels) {
    rules.push(rule([...F.outInterface(t), ...F.notSrcAddrTypeLocal(true), ...F.srcAddrTypeLocal(false)], F.masquerade(cfg.features.masqFullyRandom)));
  }
  return { name: CHAIN.natPostrouting, rules };
}

export function staticNatChains(ipVersion: IpVersion, cfg: ResolvedConfig): Chain[] {
  return [natPreroutingChain(), natPostroutingChain(ipVersion, cfg), natOutputChain()];
}

export function manglePreroutingChain(cfg: ResolvedConfig): Chain {
  const accept = cfg.marks.accept;
  return {
    name: CHAIN.manglePrerouting,
    rules: [
      rule(F.conntrackState('RELATED,ESTABLISHED'), cfg.mangleAllow),
      rule(F.markSingleBitSet(accept), cfg.mangleAllow),
      rule([], F.jump(CHAIN.fromHostEndpoint)),
      rule(F.markSingleBitSet(accept), cfg.mangleAllow, 'Host endpoint policy accepted packet.'),
    ],
  };
}

export function manglePostroutingChain(cfg: ResolvedConfig): Chain {
  const { marks } = cfg;
  const rules: Rule[] = [rule(F.markSingleBitSet(marks.accept), F.ret())];
  if (cfg.kubeIpvs) rules.push(rule(F.markNotClear(marks.endpoint), F.ret()));
  rules.push(
    rule([], F.clearMark(allCalicoMarkBits(marks))),
    rule(F.conntrackState('DNAT'), F.jump(CHAIN.toHostEndpoint)),
    rule(F.markSingleBitSet(marks.accept), F.ret(), 'Host endpoint policy accepted packet.'),
  );
  return { name: CHAIN.manglePostrouting, rules };
}

export function staticMangleChains(ipVersion: IpVersion, cfg: ResolvedConfig): Chain[] {
  return [failsafeChain('in', 'mangle', ipVersion, cfg), failsafeChain('out', 'mangle', ipVersion, cfg), manglePreroutingChain(cfg), manglePostroutingChain(cfg)];
}

function wireguardHostEncryption(cfg: ResolvedConfig): boolean {
  return ((cfg.wireguardEnabled && cfg.wireguardInterfaceName !== '') || (cfg.wireguardEnabledV6 && cfg.wireguardInterfaceNameV6 !== '')) && cfg.wireguardHostEncryption;
}

function vxlanOn(ipVersion: IpVersion, cfg: ResolvedConfig): boolean {
  return (ipVersion === 4 && cfg.vxlanEnabled) || (ipVersion === 6 && cfg.vxlanEnabledV6);
}

export function rawPreroutingChain(ipVersion: IpVersion, cfg: ResolvedConfig): Chain {
  const { marks } = cfg;
  const fromWorkload = marks.scratch0;
  const rules: Rule[] = [rule([], F.clearMark(allCalicoMarkBits(marks)))];
  if (wireguardHostEncryption(cfg)) rules.push(rule([], F.jump(CHAIN.wireguardIncomingMark)));
  if (vxlanOn(ipVersion, cfg)) rules.push(rule([...F.protocol('udp'), ...F.destPort(cfg.vxlanPort)], F.noTrack()));
  for (const p of cfg.workloadIfacePrefixes) rules.push(rule(F.inInterface(`${p}+`), F.setMark(fromWorkload)));
  rules.push(rule(F.markMatchesWithMask(fromWorkload, fromWorkload), F.jump(CHAIN.rpfSkip)));
  rules.push(rule([...F.markMatchesWithMask(fromWorkload, fromWorkload), ...F.rpfCheckFailed()], cfg.deny.args));
  rules.push(rule(F.markClear(fromWorkload), F.jump(CHAIN.fromHostEndpoint)), rule(F.markSingleBitSet(marks.accept), F.accept()));
  return { name: CHAIN.rawPrerouting, rules };
}

export function wireguardIncomingMarkChain(cfg: ResolvedConfig): Chain {
  const rules: Rule[] = [
    rule(F.inInterface('lo'), F.ret()),
    rule(F.inInterface(cfg.wireguardInterfaceName), F.ret()),
    rule(F.inInterface(cfg.wireguardInterfaceNameV6), F.ret()),
  ];
  for (const p of cfg.workloadIfacePrefixes) rules.push(rule(F.inInterface(`${p}+`), F.ret()));
  rules.push(rule([], F.setMark(cfg.marks.wireguard)));
  return { name: CHAIN.wireguardIncomingMark, rules };
}

export function rawOutputChain(ipVersion: IpVersion, cfg: ResolvedConfig): Chain {
  const { marks } = cfg;
  const rules: Rule[] = [rule([], F.clearMark(allCalicoMarkBits(marks))), rule([], F.jump(CHAIN.toHostEndpoint))];
  if (vxlanOn(ipVersion, cfg)) rules.push(rule([...F.protocol('udp'), ...F.destPort(cfg.vxlanPort)], F.noTrack()));
  rules.push(rule(F.markSingleBitSet(marks.accept), F.accept()));
  return { name: CHAIN.rawOutput, rules };
}

export function staticRawChains(ipVersion: IpVersion, cfg: ResolvedConfig): Chain[] {
  return [
    failsafeChain('in', 'raw', ipVersion, cfg),
    failsafeChain('out', 'raw', ipVersion, cfg),
    rawPreroutingChain(ipVersion, cfg),
    wireguardIncomingMarkChain(cfg),
    rawOutputChain(ipVersion, cfg),
  ];
}

export interface StaticTables {
  readonly filter: Chain[];
  readonly nat: Chain[];
  readonly mangle: Chain[];
  readonly raw: Chain[];
  /** Rules in the built-in chains that lead into Felix's. */
  readonly hooks: HookRules[];
}

export function staticHooks(cfg: ResolvedConfig): HookRules[] {
  const j = (chain: string): Rule[] => [rule([], F.jump(chain))];
  return [
    { table: 'raw', chain: 'PREROUTING', rules: j(CHAIN.rawPrerouting), mode: 'insert-or-append' },
    { table: 'raw', chain: 'OUTPUT', rules: j(CHAIN.rawOutput), mode: 'insert-or-append' },
    { table: 'filter', chain: 'FORWARD', rules: j(CHAIN.filterForward), mode: 'insert-or-append' },
    { table: 'filter', chain: 'INPUT', rules: j(CHAIN.filterInput), mode: 'insert-or-append' },
    { table: 'filter', chain: 'OUTPUT', rules: j(CHAIN.filterOutput), mode: 'insert-or-append' },
    { table: 'filter', chain: 'FORWARD', rules: filterForwardAppendRules(cfg), mode: 'append' },
    { table: 'nat', chain: 'PREROUTING', rules: j(CHAIN.natPrerouting), mode: 'insert-or-append' },
    // Last in nat POSTROUTING, so kube-proxy's MASQUERADE (and its mark clearing) runs first.
    { table: 'nat', chain: 'POSTROUTING', rules: j(CHAIN.natPostrouting), mode: 'append' },
    { table: 'nat', chain: 'OUTPUT', rules: j(CHAIN.natOutput), mode: 'insert-or-append' },
    { table: 'mangle', chain: 'PREROUTING', rules: j(CHAIN.manglePrerouting), mode: 'insert-or-append' },
    { table: 'mangle', chain: 'POSTROUTING', rules: j(CHAIN.manglePostrouting), mode: 'insert-or-append' },
  ];
}

export function renderStaticChains(ipVersion: IpVersion, cfg: ResolvedConfig): StaticTables {
  return {
    filter: staticFilterChains(ipVersion, cfg),
    nat: staticNatChains(ipVersion, cfg),
    mangle: staticMangleChains(ipVersion, cfg),
    raw: staticRawChains(ipVersion, cfg),
    hooks: staticHooks(cfg),
  };
}
