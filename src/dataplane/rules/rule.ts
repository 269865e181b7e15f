/**
 * One ParsedRule to its iptables rules (felix/rules/policy.go ProtoRuleToIptablesRules and
 * CombineMatchAndActionsForProtoRule).
 *
 * iptables cannot OR within one rule, so what the model ORs — several positive source or
 * destination nets, more than 15 port slots, named ports beside numeric ports — becomes match
 * blocks run ahead of the main rule, computed in two scratch mark bits: scratch0 ("all blocks
 * so far matched") and scratch1 ("this block matched"). The first block's rule resets both
 * (`--set-mark 0x0/<s0|s1>`, or `<s0>/<s0|s1>` when it is a negated block); a positive block sets
 * its bit on any match (the first one writes scratch0 directly, later ones write scratch1 and
 * then clear scratch0 unless scratch1 got set); a negated block clears scratch0 on any match. The
 * order is source ports, destination ports, source nets, destination nets, negated source nets,
 * negated destination nets; a single positive net stays in the main rule, and negated nets get a
 * block only when they would not fit beside it. The main rule then also requires scratch0.
 *
 * Verdicts: allow sets the accept bit and returns; pass sets the pass bit and returns; deny sets
 * the drop bit and drops (IptablesFilterDenyAction); log logs and carries on. The rule that
 * sets the bit carries the match; the rules after it match on the bit. With flow logs on, NFLOG
 * rules report the verdict (not for untracked policy). Rule annotations become `key=value`
 * comments on every rule the model rule produced (sorted by key; Felix iterates a Go map).
 */
import type { IpVersion, ParsedRule, PolicyId, PortRange } from '../../proto/policy.js';
import { rule as mkRule, type Rule } from './chain.js';
import type { ResolvedConfig } from './config.js';
import * as F from './fragments.js';
import { calculateRuleMatch, filterRuleToIpVersion, protocolMatch, splitPortList } from './match.js';
import { ipSetName, kindShortName, lengthLimitedId, policyIdString } from './names.js';

export type RuleDirection = 'ingress' | 'egress';

/** Who owns the rules: a policy (with its tier) or a profile. */
export type RuleOwner = { readonly kind: 'policy'; readonly id: PolicyId } | { readonly kind: 'profile'; readonly id: string };

export interface RuleContext {
  readonly ipVersion: IpVersion;
  readonly owner: RuleOwner;
  readonly direction: RuleDirection;
  /** Position of the rule in its policy's (or profile's) rule list. */
  readonly index: number;
  readonly untracked: boolean;
  readonly cfg: ResolvedConfig;
}

export const NFLOG_INBOUND_GROUP = 1;
export const NFLOG_OUTBOUND_GROUP = 2;

const NFLOG_PREFIX_MAX = 63;
const NFLOG_KEEP = 10;

/** Felix's NFLOG prefix length limit: long prefixes keep 10 characters each end around a hash. */
export function limitNflogPrefix(prefix: string): string {
  if (prefix.length < NFLOG_PREFIX_MAX) return prefix;
  const hashLen = NFLOG_PREFIX_MAX - 2 * NFLOG_KEEP - 1;
  return prefix.slice(0, NFLOG_KEEP) + lengthLimitedId('', prefix, hashLen) + '_' + prefix.slice(prefix.length - NFLOG_KEEP);
}

export function nflogGroup(direction: RuleDirection): number {
  return direction === 'ingress' ? NFLOG_INBOUND_GROUP : NFLOG_OUTBOUND_GROUP;
}

export function dirLetter(direction: RuleDirection): string {
  return direction === 'ingress' ? 'I' : 'E';
}

function ownerIdString(owner: RuleOwner): string {
  return owner.kind === 'policy' ? policyIdString(owner.id) : owner.id;
}

/** The LOG prefix, with %t (tier) %k (kind) %n (name) %p (namespace/name) filled in. */
export function logPrefixFor(template: string, owner: RuleOwner): string {
  if (!template.includes('%')) return template;
  const kind = owner.kind === 'policy' ? kindShortName(owner.id.kind) : 'pro';
  const name = owner.kind === 'policy' ? owner.id.name : owner.id;
  const namespace = owner.kind === 'policy' ? (owner.id.namespace ?? '') : '';
  const tier = owner.kind === 'policy' ? owner.id.tier : '';
  return template.replace(/%[tknp]/g, (s) => {
    switch (s) {
      case '%k':
        return kind;
      case '%n':
        return name;
      case '%p':
        return namespace ? `${namespace}/${name}` : name;
      default:
        return tier;
    }
  });
}

type SrcOrDst = 'src' | 'dst';

class MatchBlocks {
  using = false;
  private doneFirstPositive = false;
  readonly rules: Rule[] = [];

  constructor(
    private readonly allBlocks: number,
    private readonly thisBlock: number,
  ) {}

  get allBlocksBit(): number {
    return this.allBlocks;
  }

  private initial(setInitially: number): void {
    if (this.using) return;
    this.rules.push(mkRule([], F.setMaskedMark(setInitially, (this.allBlocks | this.thisBlock) >>> 0)));
    this.using = true;
  }

  private positiveBit(): number {
    return this.doneFirstPositive ? this.thisBlock : this.allBlocks;
  }

  private finishPositive(): void {
    if (!this.doneFirstPositive) {
      this.doneFirstPositive = true;
      return;
    }
    this.rules.push(mkRule(F.markClear(this.thisBlock), F.clearMark(this.allBlocks)));
  }

  ports(proto: string | number | undefined, splits: readonly PortRange[][], namedSets: readonly string[], sod: SrcOrDst): void {
    this.initial(0);
    const bit = this.positiveBit();
    for (const split of splits) {
      const ports = sod === 'src' ? F.sourcePortRanges(split) : F.destPortRanges(split);
      this.rules.push(mkRule([...protocolMatch(proto), ...ports], F.setMark(bit)));
    }
    for (const name of namedSets) this.rules.push(mkRule(sod === 'src' ? F.sourceIpPortSet(name) : F.destIpPortSet(name), F.setMark(bit)));
    this.finishPositive();
  }

  cidrs(nets: readonly string[], sod: SrcOrDst): void {
    this.initial(0);
    const bit = this.positiveBit();
    for (const net of nets) this.rules.push(mkRule(sod === 'src' ? F.sourceNet(net) : F.destNet(net), F.setMark(bit)));
    this.finishPositive();
  }

  negatedCidrs(nets: readonly string[], sod: SrcOrDst): void {
    this.initial(this.allBlocks);
    for (const net of nets) this.rules.push(mkRule(sod === 'src' ? F.sourceNet(net) : F.destNet(net), F.clearMark(this.allBlocks)));
  }
}

/** All the iptables rules for one model rule in one family ([] when it does not apply). */
export function renderParsedRule(original: ParsedRule, ctx: RuleContext): Rule[] {
  const filtered = filterRuleToIpVersion(original, ctx.ipVersion);
  if (!filtered) return [];
  let r: ParsedRule = filtered;
  const { marks } = ctx.cfg;
  const blocks = new MatchBlocks(marks.scratch0, marks.scratch1);
  const setName = (id: string): string => ipSetName(id, ctx.ipVersion);

  const srcSplits = splitPortList(r.srcPorts);
  if (srcSplits.length + r.srcNamedPortIpSetIds.length > 1) {
    blocks.ports(r.protocol, srcSplits, r.srcNamedPortIpSetIds.map(setName), 'src');
    r = { ...r, srcPorts: [], srcNamedPortIpSetIds: [] };
  }
  const dstSplits = splitPortList(r.dstPorts);
  if (dstSplits.length + r.dstNamedPortIpSetIds.length > 1) {
    blocks.ports(r.protocol, dstSplits, r.dstNamedPortIpSetIds.map(setName), 'dst');
    r = { ...r, dstPorts: [], dstNamedPortIpSetIds: [] };
  }
  if (r.srcNets.length > 1) {
    blocks.cidrs(r.srcNets, 'src');
    r = { ...r, srcNets: [] };
  }
  if (r.dstNets.length > 1) {
    blocks.cidrs(r.dstNets, 'dst');
    r = { ...r, dstNets: [] };
  }
  if (r.srcNets.length + r.notSrcNets.length > 1) {
    blocks.negatedCidrs(r.notSrcNets, 'src');
    r = { ...r, notSrcNets: [] };
  }
  if (r.dstNets.length + r.notDstNets.length > 1) {
    blocks.negatedCidrs(r.notDstNets, 'dst');
    r = { ...r, notDstNets: [] };
  }

  let match: readonly string[] = calculateRuleMatch(r, ctx.ipVersion);
  if (blocks.using) match = [...match, ...F.markSingleBitSet(blocks.allBlocksBit)];

  const out = [...blocks.rules, ...verdictRules(r, match, ctx)];
  const annotations = Object.entries(original.annotations ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (annotations.length === 0) return out;
  const extra = annotations.map(([k, v]) => `${k}=${v}`);
  return out.map((x) => ({ ...x, comment: [...(x.comment ?? []), ...extra] }));
}

function verdictRules(r: ParsedRule, match: readonly string[], ctx: RuleContext): Rule[] {
  const { cfg } = ctx;
  const follow: { match: readonly string[]; action: readonly string[] }[] = [];
  if (r.action === 'log') follow.push({ match: [], action: F.log(logPrefixFor(cfg.logPrefix, ctx.owner)) });
  const nflog = (letter: string): void => {
    if (ctx.untracked || !cfg.flowLogs) return;
    const owner = ctx.owner.kind === 'policy' ? 'P' : 'R';
    const prefix = limitNflogPrefix(`${letter}${owner}${dirLetter(ctx.direction)}${ctx.index}|${ownerIdString(ctx.owner)}`);
    follow.push({ match: [], action: F.nflog(nflogGroup(ctx.direction), prefix, cfg.features.nflogSize) });
  };
  let mark = 0;
  switch (r.action) {
    case 'allow':
      mark = cfg.marks.accept;
      nflog('A');
      follow.push({ match: [], action: F.ret() });
      break;
    case 'pass':
      mark = cfg.marks.pass;
      nflog('P');
      follow.push({ match: [], action: F.ret() });
      break;
    case 'deny':
      mark = cfg.marks.drop;
      nflog('D');
      follow.push({ match: [], action: cfg.deny.args });
      break;
    case 'log':
      break;
  }
  const out: Rule[] = [];
  let rest = match;
  if (mark !== 0) {
    out.push(mkRule(match, F.setMark(mark)));
    rest = F.markSingleBitSet(mark);
  }
  for (const f of follow) out.push(mkRule([...f.match, ...rest], f.action));
  return out;
}
