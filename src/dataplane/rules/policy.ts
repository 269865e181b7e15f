/**
 * Policy and profile chains (felix/rules/policy.go PolicyToIptablesChains,
 * ProfileToIptablesChains, ProtoRulesToIptablesRules).
 *
 * Each policy gets `cali-pi-<id>` (its inbound rules) and `cali-po-<id>` (outbound), each
 * profile `cali-pri-<name>` and `cali-pro-<name>`, in both families' tables. A policy chain is
 * its rules' iptables rules in order, with two touches: trailing RETURN rules are dropped (they
 * would only return anyway), and the first rule carries a comment naming the chain's owner —
 * `<Kind> [<namespace>/]<name> ingress|egress` for policies, `Profile <name> ingress|egress` for
 * profiles. A chain with no rules is one rule that is only that comment. Staged policies get no
 * chains at all.
 */
import type { IpVersion, ParsedRule, PolicyBody, PolicyId, ProfileBody } from '../../proto/policy.js';
import type { Chain, Rule } from './chain.js';
import type { ResolvedConfig } from './config.js';
import { isReturn } from './fragments.js';
import { isStagedKind, policyChainName, profileChainName } from './names.js';
import { renderParsedRule, type RuleDirection, type RuleOwner } from './rule.js';

export function renderRuleList(
  rules: readonly ParsedRule[],
  ipVersion: IpVersion,
  owner: RuleOwner,
  direction: RuleDirection,
  untracked: boolean,
  cfg: ResolvedConfig,
  chainComment: string,
): Rule[] {
  const out: Rule[] = [];
  rules.forEach((r, index) => out.push(...renderParsedRule(r, { ipVersion, owner, direction, index, untracked, cfg })));
  while (out.length > 0 && isReturn(out[out.length - 1]!.action)) out.pop();
  if (out.length === 0) out.push({ match: [], action: [] });
  const first = out[0]!;
  out[0] = { ...first, comment: [...(first.comment ?? []), chainComment] };
  return out;
}

function policyComment(id: PolicyId, direction: RuleDirection): string {
  const name = id.namespace ? `${id.namespace}/${id.name}` : id.name;
  return `${id.kind} ${name} ${direction}`;
}

/** `[cali-pi-<id>, cali-po-<id>]`, or [] for a staged policy. */
export function renderPolicyChains(id: PolicyId, body: PolicyBody, ipVersion: IpVersion, cfg: ResolvedConfig): Chain[] {
  if (isStagedKind(id.kind)) return [];
  const owner: RuleOwner = { kind: 'policy', id };
  return [
    {
      name: policyChainName('inbound', id),
      rules: renderRuleList(body.inboundRules, ipVersion, owner, 'ingress', body.untracked, cfg, policyComment(id, 'ingress')),
    },
    {
      name: policyChainName('outbound', id),
      rules: renderRuleList(body.outboundRules, ipVersion, owner, 'egress', body.untracked, cfg, policyComment(id, 'egress')),
    },
  ];
}

/** `[cali-pri-<name>, cali-pro-<name>]`. */
export function renderProfileChains(profileId: string, body: ProfileBody, ipVersion: IpVersion, cfg: ResolvedConfig): Chain[] {
  const owner: RuleOwner = { kind: 'profile', id: profileId };
  return [
    {
      name: profileChainName('inbound', profileId),
      rules: renderRuleList(body.inboundRules, ipVersion, owner, 'ingress', false, cfg, `Profile ${profileId} ingress`),
    },
    {
      name: profileChainName('outbound', profileId),
      rules: renderRuleList(body.outboundRules, ipVersion, owner, 'egress', false, cfg, `Profile ${profileId} egress`),
    },
  ];
}
