/**
 * Backend rules → ParsedRules (Felix's `rule_scanner.go`): every selector becomes the id of an IP
 * set, every named port an `ip-port` set filtered by the rule's positive selector, numeric ports
 * stay ports. The ids are Felix's, so IP set names match a Calico node's:
 *
 *   selector set     the selector's unique id           s:<base64url(sha224("s:" + canonical))>
 *   named-port set   n:<base64url(sha224("n:" + selectorId + "," + proto + "," + port))>
 *
 * As in Felix, a negated selector is folded into the positive one when there is one (the rule
 * can only match known endpoints then), and a positive selector is not rendered on its own when
 * named ports already filter by it and there are no numeric ports.
 */
import { createHash } from 'node:crypto';
import { Selector } from '../../datastore/selector.js';
import type { ParsedRule, PortRange } from '../../proto/policy.js';
import type { BackendPort, BackendRule } from './model.js';

export type NamedPortProtocol = 'tcp' | 'udp' | 'sctp';

/** What one IP set id stands for; the IP set calculator works out its members. */
export interface IpSetDef {
  readonly id: string;
  readonly selector: Selector;
  readonly namedPort?: { readonly protocol: NamedPortProtocol; readonly name: string };
}

/** libcalico-go's `hash.MakeUniqueID`: `<prefix>:` + base64url(sha224(`<prefix>:<content>`)). */
export function makeUniqueId(prefix: string, content: string): string {
  return `${prefix}:${createHash('sha224').update(`${prefix}:${content}`).digest('base64url')}`;
}

/** Parsed selectors by source text: policies repeat the same few selectors many times. */
const parsed = new Map<string, Selector>();
const PARSE_CACHE_MAX = 100_000;

export function parseSelectorCached(text: string): Selector {
  let s = parsed.get(text);
  if (!s) {
    s = Selector.parse(text);
    if (parsed.size >= PARSE_CACHE_MAX) parsed.clear();
    parsed.set(text, s);
  }
  return s;
}

/** Felix's choice of protocol for named ports: TCP unless the rule says UDP or SCTP. */
function namedPortProtocol(p: BackendRule['protocol']): NamedPortProtocol {
  if (p === 'udp' || p === 17) return 'udp';
  if (p === 'sctp' || p === 132) return 'sctp';
  return 'tcp';
}

function split(ports: readonly BackendPort[]): { numeric: PortRange[]; named: string[] } {
  const numeric: PortRange[] = [];
  const named: string[] = [];
  for (const p of ports) {
    if ('name' in p) named.push(p.name);
    else numeric.push(p);
  }
  return { numeric, named };
}

/** Felix's combineMatchesIfPossible: `(<pos>) && (!(<neg>))` when there is a positive selector. */
function combine(pos: string, neg: string): { pos: string; neg: string } {
  if (!pos || !neg) return { pos, neg };
  return { pos: `(${pos}) && (!(${neg}))`, neg: '' };
}

function namedPortSets(names: readonly string[], positive: Selector | undefined, protocol: NamedPortProtocol): IpSetDef[] {
  const sel = positive ?? Selector.all();
  return names.map((name) => ({ id: makeUniqueId('n', `${sel.uniqueId()},${protocol},${name}`), selector: sel, namedPort: { protocol, name } }));
}

const selectorSet = (s: Selector | undefined): IpSetDef[] => (s ? [{ id: s.uniqueId(), selector: s }] : []);
const ids = (defs: readonly IpSetDef[]): string[] => defs.map((d) => d.id);

/** One rule; `ruleId` is the caller's stable id for it. Returns the rule and the IP sets it uses. */
export function scanRule(rule: BackendRule, ruleId: string): { parsed: ParsedRule; ipSets: IpSetDef[] } {
  const src = combine(rule.srcSelector, rule.notSrcSelector);
  const dst = combine(rule.dstSelector, rule.notDstSelector);
  const srcSel = src.pos ? parseSelectorCached(src.pos) : undefined;
  const dstSel = dst.pos ? parseSelectorCached(dst.pos) : undefined;
  const notSrcSel = src.neg ? parseSelectorCached(src.neg) : undefined;
  const notDstSel = dst.neg ? parseSelectorCached(dst.neg) : undefined;

  const sp = split(rule.srcPorts);
  const dp = split(rule.dstPorts);
  const nsp = split(rule.notSrcPorts);
  const ndp = split(rule.notDstPorts);
  const proto = namedPortProtocol(rule.protocol);
  // Negated named ports are filtered by the *positive* selector, as Felix does.
  const srcNamed = namedPortSets(sp.named, srcSel, proto);
  const dstNamed = namedPortSets(dp.named, dstSel, proto);
  const notSrcNamed = namedPortSets(nsp.named, srcSel, proto);
  const notDstNamed = namedPortSets(ndp.named, dstSel, proto);
  const srcSets = sp.numeric.length > 0 || sp.named.length === 0 ? selectorSet(srcSel) : [];
  const dstSets = dp.numeric.length > 0 || dp.named.length === 0 ? selectorSet(dstSel) : [];
  const notSrcSets = selectorSet(notSrcSel);
  const notDstSets = selectorSet(notDstSel);

  const parsedRule: ParsedRule = {
    action: rule.action,
    ...(rule.ipVersion !== undefined ? { ipVersion: rule.ipVersion } : {}),
    ...(rule.protocol !== undefined ? { protocol: rule.protocol } : {}),
    ...(rule.notProtocol !== undefined ? { notProtocol: rule.notProtocol } : {}),
    srcNets: rule.srcNets,
    notSrcNets: rule.notSrcNets,
    dstNets: rule.dstNets,
    notDstNets: rule.notDstNets,
    srcPorts: sp.numeric,
    notSrcPorts: nsp.numeric,
    dstPorts: dp.numeric,
    notDstPorts: ndp.numeric,
    srcIpSetIds: ids(srcSets),
    notSrcIpSetIds: ids(notSrcSets),
    dstIpSetIds: ids(dstSets),
    notDstIpSetIds: ids(notDstSets),
    srcNamedPortIpSetIds: ids(srcNamed),
    notSrcNamedPortIpSetIds: ids(notSrcNamed),
    dstNamedPortIpSetIds: ids(dstNamed),
    notDstNamedPortIpSetIds: ids(notDstNamed),
    ...(rule.icmp ? { icmp: rule.icmp } : {}),
    ...(rule.notIcmp ? { notIcmp: rule.notIcmp } : {}),
    ruleId,
    ...(rule.annotations ? { annotations: rule.annotations } : {}),
  };
  return { parsed: parsedRule, ipSets: [...srcNamed, ...dstNamed, ...notSrcNamed, ...notDstNamed, ...srcSets, ...dstSets, ...notSrcSets, ...notDstSets] };
}

/**
 * A short stable id per rule: hash of its owner, direction, position and content, so logs and
 * `tortie status policy` can name a rule. (Felix's rule_id hashes its protobuf encoding; tortie
 * uses it for nothing the dataplane depends on.)
 */
export function ruleIdOf(owner: string, direction: 'inbound' | 'outbound', index: number, rule: BackendRule): string {
  return createHash('sha224').update(`${owner}|${direction}|${index}|${JSON.stringify(rule)}`).digest('base64url').slice(0, 16);
}

/** Every rule of a policy or profile, with the union of the IP sets they use. */
export function scanRules(
  owner: string,
  inbound: readonly BackendRule[],
  outbound: readonly BackendRule[],
): { inbound: ParsedRule[]; outbound: ParsedRule[]; ipSets: Map<string, IpSetDef> } {
  const sets = new Map<string, IpSetDef>();
  const scan = (rules: readonly BackendRule[], dir: 'inbound' | 'outbound'): ParsedRule[] =>
    rules.map((r, i) => {
      const { parsed: p, ipSets } = scanRule(r, ruleIdOf(owner, dir, i, r));
      for (const d of ipSets) sets.set(d.id, d);
      return p;
    });
  return { inbound: scan(inbound, 'inbound'), outbound: scan(outbound, 'outbound'), ipSets: sets };
}
