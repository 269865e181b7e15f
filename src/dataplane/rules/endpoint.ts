/**
 * Per-endpoint chains (felix/rules/endpoints.go endpointIptablesChain and its callers).
 *
 * A workload gets `cali-tw-<iface>` (traffic to it: its ingress policy) and `cali-fw-<iface>`
 * (traffic from it: egress), plus `cali-sm-<iface>` setting its endpoint mark under kube-proxy
 * IPVS. A host endpoint gets, in filter, `cali-th-` / `cali-fh-` (host traffic out of / into the
 * interface) and `cali-thfw-` / `cali-fhfw-` (forwarded traffic, applyOnForward policy); in
 * mangle, `cali-th-` again for DNAT'd host traffic (RETURN instead of ACCEPT) and `cali-fh-` for
 * preDNAT policy; in raw, `cali-th-` / `cali-fh-` for doNotTrack policy.
 *
 * An endpoint chain, top to bottom: conntrack (RELATED,ESTABLISHED allowed — flagged with the
 * accept bit first when the allow action is RETURN; INVALID denied unless the check is off; not
 * in raw), the failsafe jump (host endpoints), clearing the accept and pass bits, the drops of
 * VXLAN and IPIP packets from workloads, then per tier that has policy in this direction: clear
 * the pass bit ("Start of tier <t>"), jump to each policy (or group) while the pass bit is clear,
 * return once the accept bit is set (raw: NOTRACK first), and — for filter chains — deny when no
 * policy passed the packet ("End of tier <t>. Drop if no policies passed packet") unless the
 * tier's default action is Pass or all its policies are staged. Forward chains with no tiers at
 * all accept by default. Filter chains end with the profiles (jump, return if accepted) and a
 * final deny ("Drop if no profiles matched"). An administratively down workload's chains only
 * deny. With flow logs on, NFLOG rules precede the end-of-tier and final denies.
 */
import type { HostEndpointBody, TierInfo, WorkloadEndpointBody } from '../../proto/policy.js';
import { rule, type Chain, type Rule } from './chain.js';
import type { ResolvedConfig } from './config.js';
import * as F from './fragments.js';
import { groupChainsFor, policyGroupChainName, shouldBeInlined, tiersToGroups, nonStagedPolicies, type SelectorLookup, type TierGroups } from './groups.js';
import type { EndpointMarkMapper } from './marks.js';
import { CHAIN, endpointChainName, policyChainName, PREFIX, profileChainName, type PolicyDirection } from './names.js';
import { dirLetter, limitNflogPrefix, nflogGroup, type RuleDirection } from './rule.js';

export interface EndpointRenderContext {
  /** Original selectors of policies, for Felix's policy groups (see groups.ts). */
  readonly selectorOf?: SelectorLookup;
  /** Needed for `cali-sm-` chains when kube-proxy IPVS support is on. */
  readonly endpointMarks?: EndpointMarkMapper;
}

type ChainType = 'normal' | 'untracked' | 'preDnat' | 'forward';

interface EndpointChainSpec {
  readonly tiers: readonly TierGroups[];
  readonly profileIds: readonly string[];
  readonly iface: string;
  readonly direction: PolicyDirection;
  readonly endpointPrefix: string;
  readonly failsafeChain?: string;
  readonly type: ChainType;
  readonly adminUp: boolean;
  readonly allowAction: F.Args;
  readonly allowVxlan: boolean;
  readonly allowIpip: boolean;
}

const PROTO_IPIP = 4;
const PROTO_UDP = 17;

function conntrackRules(cfg: ResolvedConfig, allowAction: F.Args): Rule[] {
  const out: Rule[] = [];
  const isAccept = allowAction.join(' ') === F.accept().join(' ');
  if (!isAccept) out.push(rule(F.conntrackState('RELATED,ESTABLISHED'), F.setMark(cfg.marks.accept)));
  out.push(rule(F.conntrackState('RELATED,ESTABLISHED'), allowAction));
  if (!cfg.disableConntrackInvalid) out.push(rule(F.conntrackState('INVALID'), cfg.deny.args));
  return out;
}

function endpointChain(spec: EndpointChainSpec, cfg: ResolvedConfig): Chain {
  const name = endpointChainName(spec.endpointPrefix, spec.iface);
  const { accept, pass } = cfg.marks;
  const deny = cfg.deny;
  if (!spec.adminUp) return { name, rules: [rule([], deny.args, 'Endpoint admin disabled')] };

  const ruleDir: RuleDirection = spec.direction === 'inbound' ? 'ingress' : 'egress';
  const nflog = (prefix: string): F.Args => F.nflog(nflogGroup(ruleDir), limitNflogPrefix(prefix), cfg.features.nflogSize);
  const rules: Rule[] = [];
  if (spec.type !== 'untracked') rules.push(...conntrackRules(cfg, spec.allowAction));
  if (spec.failsafeChain) rules.push(rule([], F.jump(spec.failsafeChain)));
  rules.push(rule([], F.clearMark((accept | pass) >>> 0)));
  if (!spec.allowVxlan) {
    rules.push(rule([...F.protocol(PROTO_UDP), ...F.destPorts(cfg.vxlanPort)], deny.args, `${deny.name} VXLAN encapped packets originating in workloads`));
  }
  if (!spec.allowIpip) rules.push(rule(F.protocol(PROTO_IPIP), deny.args, `${deny.name} IPinIP encapped packets originating in workloads`));

  for (const tier of spec.tiers) {
    const groups = spec.direction === 'inbound' ? tier.ingress : tier.egress;
    if (groups.length === 0) continue;
    rules.push(rule([], F.clearMark(pass), `Start of tier ${tier.name}`));
    let endOfTierDrop = false;
    for (const g of groups) {
      const enforced = nonStagedPolicies(g);
      if (enforced.length > 0) endOfTierDrop = true;
      const targets = shouldBeInlined(g) ? enforced.map((p) => policyChainName(spec.direction, p)) : [policyGroupChainName(g)];
      for (const target of targets) {
        rules.push(rule(F.markClear(pass), F.jump(target)));
        if (enforced.length === 0) continue;
        if (spec.type === 'untracked') rules.push(rule(F.markSingleBitSet(accept), F.noTrack()));
        rules.push(rule(F.markSingleBitSet(accept), F.ret(), 'Return if policy accepted'));
      }
    }
    if (spec.type === 'normal' || spec.type === 'forward') {
      if (endOfTierDrop && tier.defaultAction !== 'Pass') {
        if (cfg.flowLogs) rules.push(rule(F.markClear(pass), nflog(`DP${dirLetter(ruleDir)}|${tier.name}`)));
        rules.push(rule(F.markClear(pass), deny.args, `End of tier ${tier.name}. ${deny.name} if no policies passed packet`));
      } else if (cfg.flowLogs) {
        rules.push(rule(F.markClear(pass), nflog(`PP${dirLetter(ruleDir)}|${tier.name}`)));
      }
    }
  }

  if (spec.tiers.length === 0 && spec.type === 'forward') {
    rules.push(rule([], F.setMark(accept), 'Allow forwarded traffic by default'));
    rules.push(rule([], F.ret(), 'Return for accepted forward traffic'));
  }

  if (spec.type === 'normal') {
    for (const profileId of spec.profileIds) {
      rules.push(rule([], F.jump(profileChainName(spec.direction, profileId))));
      rules.push(rule(F.markSingleBitSet(accept), F.ret(), 'Return if profile accepted'));
    }
    if (cfg.flowLogs) rules.push(rule([], nflog(`DR${dirLetter(ruleDir)}`)));
    rules.push(rule([], deny.args, `${deny.name} if no profiles matched`));
  }
  return { name, rules };
}

function setMarkChain(iface: string, cfg: ResolvedConfig, ctx: EndpointRenderContext): Chain[] {
  if (!cfg.kubeIpvs) return [];
  const name = endpointChainName(PREFIX.setEndpointMark, iface);
  const mapper = ctx.endpointMarks;
  if (!mapper) throw new Error(`kube-proxy IPVS support needs an EndpointMarkMapper to render ${name}`);
  let mark: number | undefined;
  try {
    mark = mapper.getEndpointMark(iface);
  } catch {
    mark = undefined;
  }
  return [{ name, rules: mark === undefined ? [] : [rule([], F.setMaskedMark(mark, mapper.mask))] }];
}

/** `[cali-tw-<iface>, cali-fw-<iface>]`, plus `cali-sm-<iface>` under IPVS. */
export function renderWorkloadEndpointChains(ep: WorkloadEndpointBody, cfg: ResolvedConfig, ctx: EndpointRenderContext = {}): Chain[] {
  const tiers = tiersToGroups(ep.tiers, ctx.selectorOf);
  const base = { tiers, profileIds: ep.profileIds, iface: ep.name, type: 'normal' as const, adminUp: ep.state === 'active', allowAction: cfg.filterAllow };
  return [
    endpointChain({ ...base, direction: 'inbound', endpointPrefix: PREFIX.toWorkload, allowVxlan: true, allowIpip: true }, cfg),
    endpointChain(
      { ...base, direction: 'outbound', endpointPrefix: PREFIX.fromWorkload, allowVxlan: cfg.allowVxlanFromWorkloads, allowIpip: cfg.allowIpipFromWorkloads },
      cfg,
    ),
    ...setMarkChain(ep.name, cfg, ctx),
  ];
}

/** The `cali-gi-` / `cali-go-` group chains an endpoint's tiers jump to. */
export function renderPolicyGroupChains(tiers: readonly TierInfo[], cfg: ResolvedConfig, ctx: EndpointRenderContext = {}): Chain[] {
  return groupChainsFor(tiersToGroups(tiers, ctx.selectorOf), cfg);
}

function hepSpec(iface: string, tiers: readonly TierGroups[], profileIds: readonly string[], cfg: ResolvedConfig) {
  return { tiers, profileIds, iface, adminUp: true, allowAction: cfg.filterAllow, allowVxlan: true, allowIpip: true };
}

/** Filter table: `[cali-th-, cali-fh-, cali-thfw-, cali-fhfw-]` (+ `cali-sm-` under IPVS). */
export function renderHostEndpointFilterChains(iface: string, hep: HostEndpointBody, cfg: ResolvedConfig, ctx: EndpointRenderContext = {}): Chain[] {
  const tiers = tiersToGroups(hep.tiers, ctx.selectorOf);
  const fwdTiers = tiersToGroups(hep.forwardTiers, ctx.selectorOf);
  const base = hepSpec(iface, tiers, hep.profileIds, cfg);
  const fwd = hepSpec(iface, fwdTiers, hep.profileIds, cfg);
  return [
    endpointChain({ ...base, direction: 'outbound', endpointPrefix: PREFIX.toHost, failsafeChain: CHAIN.failsafeOut, type: 'normal' }, cfg),
    endpointChain({ ...base, direction: 'inbound', endpointPrefix: PREFIX.fromHost, failsafeChain: CHAIN.failsafeIn, type: 'normal' }, cfg),
    endpointChain({ ...fwd, direction: 'outbound', endpointPrefix: PREFIX.toHostForward, type: 'forward' }, cfg),
    endpointChain({ ...fwd, direction: 'inbound', endpointPrefix: PREFIX.fromHostForward, type: 'forward' }, cfg),
    ...setMarkChain(iface, cfg, ctx),
  ];
}

/** Mangle table, egress: `[cali-th-]` for host traffic that was DNAT'd; allows with RETURN. */
export function renderHostEndpointMangleEgressChains(iface: string, hep: HostEndpointBody, cfg: ResolvedConfig, ctx: EndpointRenderContext = {}): Chain[] {
  const spec = { ...hepSpec(iface, tiersToGroups(hep.tiers, ctx.selectorOf), hep.profileIds, cfg), allowAction: F.ret() };
  return [endpointChain({ ...spec, direction: 'outbound', endpointPrefix: PREFIX.toHost, failsafeChain: CHAIN.failsafeOut, type: 'normal' }, cfg)];
}

/** Mangle table, ingress: `[cali-fh-]` for preDNAT policy. */
export function renderHostEndpointMangleIngressChains(iface: string, hep: HostEndpointBody, cfg: ResolvedConfig, ctx: EndpointRenderContext = {}): Chain[] {
  const spec = { ...hepSpec(iface, tiersToGroups(hep.preDnatTiers, ctx.selectorOf), [], cfg), allowAction: cfg.mangleAllow };
  return [endpointChain({ ...spec, direction: 'inbound', endpointPrefix: PREFIX.fromHost, failsafeChain: CHAIN.failsafeIn, type: 'preDnat' }, cfg)];
}

/** Raw table: `[cali-th-, cali-fh-]` for doNotTrack policy; allows with ACCEPT after NOTRACK. */
export function renderHostEndpointRawChains(iface: string, hep: HostEndpointBody, cfg: ResolvedConfig, ctx: EndpointRenderContext = {}): Chain[] {
  const spec = { ...hepSpec(iface, tiersToGroups(hep.untrackedTiers, ctx.selectorOf), [], cfg), allowAction: F.accept() };
  return [
    endpointChain({ ...spec, direction: 'outbound', endpointPrefix: PREFIX.toHost, failsafeChain: CHAIN.failsafeOut, type: 'untracked' }, cfg),
    endpointChain({ ...spec, direction: 'inbound', endpointPrefix: PREFIX.fromHost, failsafeChain: CHAIN.failsafeIn, type: 'untracked' }, cfg),
  ];
}
