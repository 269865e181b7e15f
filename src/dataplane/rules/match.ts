/**
 * One ParsedRule's match criteria for one IP version (felix/rules/policy.go FilterRuleToIPVersion,
 * SplitPortList, CalculateRuleMatch).
 *
 * - A rule with an explicit ipVersion renders only into that family's table.
 * - Nets of the other family are dropped from each list; a list whose every entry was of the
 *   other family drops the whole rule for this family (so does a negated catch-all, `!0.0.0.0/0`
 *   or `!::/0`, which could never match).
 * - Port lists go into `-m multiport`, at most 15 slots per match, a range taking two.
 * - The match order is Felix's: protocol, source net, source sets, source ports, source named
 *   port, destination net, destination sets, destination ports, destination named port, ICMP,
 *   then the negated ones in the same order.
 */
import type { IpVersion, ParsedRule, PortRange } from '../../proto/policy.js';
import * as F from './fragments.js';
import { ipSetName } from './names.js';

const MULTIPORT_SLOTS = 15;

function filterNets(nets: readonly string[], ipVersion: IpVersion, negated: boolean): { kept: string[]; dropRule: boolean } {
  if (nets.length === 0) return { kept: [], dropRule: false };
  const wantV6 = ipVersion === 6;
  const kept: string[] = [];
  for (const net of nets) {
    if (net.includes(':') !== wantV6) continue;
    if (negated && (net === '0.0.0.0/0' || net === '::/0')) return { kept: [], dropRule: true };
    kept.push(net);
  }
  return { kept, dropRule: kept.length === 0 };
}

/** The rule as it applies to one family, or undefined when it does not apply at all. */
export function filterRuleToIpVersion(rule: ParsedRule, ipVersion: IpVersion): ParsedRule | undefined {
  if (rule.ipVersion !== undefined && rule.ipVersion !== ipVersion) return undefined;
  const src = filterNets(rule.srcNets, ipVersion, false);
  if (src.dropRule) return undefined;
  const notSrc = filterNets(rule.notSrcNets, ipVersion, true);
  if (notSrc.dropRule) return undefined;
  const dst = filterNets(rule.dstNets, ipVersion, false);
  if (dst.dropRule) return undefined;
  const notDst = filterNets(rule.notDstNets, ipVersion, true);
  if (notDst.dropRule) return undefined;
  return { ...rule, srcNets: src.kept, notSrcNets: notSrc.kept, dstNets: dst.kept, notDstNets: notDst.kept };
}

/** Splits a port list into multiport-sized pieces: 15 slots each, a range needing two. */
export function splitPortList(ports: readonly PortRange[]): PortRange[][] {
  const splits: PortRange[][] = [];
  let current: PortRange[] = [];
  let slots = MULTIPORT_SLOTS;
  for (const p of ports) {
    const need = p.first === p.last ? 1 : 2;
    if (slots < need) {
      splits.push(current);
      current = [];
      slots = MULTIPORT_SLOTS;
    }
    current.push(p);
    slots -= need;
  }
  if (current.length > 0) splits.push(current);
  return splits;
}

export function protocolMatch(p: string | number | undefined): F.Args {
  return p === undefined ? [] : F.protocol(p);
}

function icmp(ipVersion: IpVersion, negated: boolean, m: { type: number; code?: number } | undefined): F.Args {
  if (!m) return [];
  if (ipVersion === 4) return negated ? F.notIcmpType(m.type, m.code) : F.icmpType(m.type, m.code);
  return negated ? F.notIcmpv6Type(m.type, m.code) : F.icmpv6Type(m.type, m.code);
}

function one(list: readonly string[], what: string): string | undefined {
  if (list.length > 1) throw new Error(`bug: more than one ${what} left for the main rule`);
  return list[0];
}

/**
 * The match of the rule's main iptables rule. Anything that needs more than one rule (several
 * positive nets, more than 15 port slots, named ports beside numeric ones) must already have
 * been moved into match blocks and removed from `rule` (see rule.ts).
 */
export function calculateRuleMatch(rule: ParsedRule, ipVersion: IpVersion): string[] {
  const m: string[] = [];
  const set = (id: string): string => ipSetName(id, ipVersion);
  m.push(...protocolMatch(rule.protocol));
  const srcNet = one(rule.srcNets, 'source CIDR');
  if (srcNet !== undefined) m.push(...F.sourceNet(srcNet));
  for (const id of rule.srcIpSetIds) m.push(...F.sourceIpSet(set(id)));
  if (rule.srcPorts.length > 0) m.push(...F.sourcePortRanges(rule.srcPorts));
  const srcNamed = one(rule.srcNamedPortIpSetIds, 'source named port set');
  if (srcNamed !== undefined) m.push(...F.sourceIpPortSet(set(srcNamed)));
  const dstNet = one(rule.dstNets, 'destination CIDR');
  if (dstNet !== undefined) m.push(...F.destNet(dstNet));
  for (const id of rule.dstIpSetIds) m.push(...F.destIpSet(set(id)));
  if (rule.dstPorts.length > 0) m.push(...F.destPortRanges(rule.dstPorts));
  const dstNamed = one(rule.dstNamedPortIpSetIds, 'destination named port set');
  if (dstNamed !== undefined) m.push(...F.destIpPortSet(set(dstNamed)));
  m.push(...icmp(ipVersion, false, rule.icmp));

  if (rule.notProtocol !== undefined) m.push(...F.notProtocol(rule.notProtocol));
  const notSrcNet = one(rule.notSrcNets, 'negated source CIDR');
  if (notSrcNet !== undefined) m.push(...F.notSourceNet(notSrcNet));
  for (const id of rule.notSrcIpSetIds) m.push(...F.notSourceIpSet(set(id)));
  for (const split of splitPortList(rule.notSrcPorts)) m.push(...F.notSourcePortRanges(split));
  for (const id of rule.notSrcNamedPortIpSetIds) m.push(...F.notSourceIpPortSet(set(id)));
  const notDstNet = one(rule.notDstNets, 'negated destination CIDR');
  if (notDstNet !== undefined) m.push(...F.notDestNet(notDstNet));
  for (const id of rule.notDstIpSetIds) m.push(...F.notDestIpSet(set(id)));
  for (const split of splitPortList(rule.notDstPorts)) m.push(...F.notDestPortRanges(split));
  for (const id of rule.notDstNamedPortIpSetIds) m.push(...F.notDestIpPortSet(set(id)));
  m.push(...icmp(ipVersion, true, rule.notIcmp));
  return m;
}
