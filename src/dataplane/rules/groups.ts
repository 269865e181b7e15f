/**
 * Policy groups (felix/rules/endpoints.go PolicyGroup and the endpoint manager's grouping).
 *
 * Within a tier, consecutive policies with the same original selector form a group: whatever
 * endpoint one of them applies to, all of them do, so endpoints can share one chain for the run.
 * A group with more than one non-staged policy gets its own chain `cali-gi-<uid>` /
 * `cali-go-<uid>` that jumps to the policies in turn (returning on a verdict every five jumps,
 * and skipping later jumps once a verdict is set); the endpoint chain jumps to the group. A group
 * with at most one non-staged policy is inlined: the endpoint chain jumps to the policy itself.
 * The uid is the unpadded base64url SHA3-224 of the selector, direction, count and each policy's
 * Go string form, one per line, cut to 20 characters.
 *
 * Grouping needs each policy's original selector (proto Policy.OriginalSelector). Without a
 * selector source every policy is its own group, which renders exactly like Felix when no two
 * consecutive policies share a selector.
 */
import { createHash } from 'node:crypto';
import type { PolicyId, TierInfo } from '../../proto/policy.js';
import { rule, type Chain, type Rule } from './chain.js';
import type { ResolvedConfig } from './config.js';
import * as F from './fragments.js';
import { isStagedKind, MAX_CHAIN_NAME_LENGTH, policyChainName, policyIdGoString, PREFIX, type PolicyDirection } from './names.js';

export interface PolicyGroup {
  readonly tier: string;
  readonly direction: PolicyDirection;
  readonly policies: readonly PolicyId[];
  readonly selector: string;
}

/** One tier's policies for one direction, grouped (and with the tier's default action). */
export interface TierGroups {
  readonly name: string;
  readonly defaultAction: 'Deny' | 'Pass';
  readonly ingress: readonly PolicyGroup[];
  readonly egress: readonly PolicyGroup[];
}

/** The original selector of a policy, if known. */
export type SelectorLookup = (id: PolicyId) => string | undefined;

const MAX_GROUP_UID_LENGTH = MAX_CHAIN_NAME_LENGTH - PREFIX.policyGroupInbound.length;
const RETURN_STRIDE = 5;

export function groupPolicies(tier: string, ids: readonly PolicyId[], direction: PolicyDirection, selectorOf?: SelectorLookup): PolicyGroup[] {
  if (!selectorOf) return ids.map((id) => ({ tier, direction, policies: [id], selector: '' }));
  const groups: { tier: string; direction: PolicyDirection; policies: PolicyId[]; selector: string }[] = [];
  for (const id of ids) {
    const selector = selectorOf(id) ?? '';
    const last = groups[groups.length - 1];
    if (last && last.selector === selector) last.policies.push(id);
    else groups.push({ tier, direction, policies: [id], selector });
  }
  return groups;
}

export function tiersToGroups(tiers: readonly TierInfo[], selectorOf?: SelectorLookup): TierGroups[] {
  return tiers.map((t) => ({
    name: t.name,
    defaultAction: t.defaultAction,
    ingress: groupPolicies(t.name, t.ingressPolicies, 'inbound', selectorOf),
    egress: groupPolicies(t.name, t.egressPolicies, 'outbound', selectorOf),
  }));
}

export function policyGroupUid(g: PolicyGroup): string {
  const h = createHash('sha3-224');
  const write = (s: string): void => {
    h.update(s);
    h.update('\n');
  };
  write(g.selector);
  write(g.direction);
  write(String(g.policies.length));
  for (const p of g.policies) write(policyIdGoString(p));
  return h.digest('base64url').slice(0, MAX_GROUP_UID_LENGTH);
}

export function policyGroupChainName(g: PolicyGroup): string {
  return (g.direction === 'inbound' ? PREFIX.policyGroupInbound : PREFIX.policyGroupOutbound) + policyGroupUid(g);
}

export function nonStagedPolicies(g: PolicyGroup): PolicyId[] {
  return g.policies.filter((p) => !isStagedKind(p.kind));
}

/** At most one non-staged policy: the endpoint chain jumps straight to it. */
export function shouldBeInlined(g: PolicyGroup): boolean {
  return nonStagedPolicies(g).length <= 1;
}

export function renderPolicyGroupChain(g: PolicyGroup, cfg: ResolvedConfig): Chain {
  const { accept, pass } = cfg.marks;
  const verdictBits = (accept | pass) >>> 0;
  const rules: Rule[] = [];
  nonStagedPolicies(g).forEach((p, count) => {
    if (count !== 0 && count % RETURN_STRIDE === 0) rules.push(rule(F.markNotClear(verdictBits), F.ret(), 'Return on verdict'));
    const match = count % RETURN_STRIDE === 0 ? [] : F.markClear(verdictBits);
    rules.push(rule(match, F.jump(policyChainName(g.direction, p))));
  });
  return { name: policyGroupChainName(g), rules };
}

/** The group chains an endpoint's tiers need (groups that are not inlined), once each. */
export function groupChainsFor(tiers: readonly TierGroups[], cfg: ResolvedConfig): Chain[] {
  const seen = new Map<string, Chain>();
  for (const t of tiers) {
    for (const g of [...t.ingress, ...t.egress]) {
      if (shouldBeInlined(g)) continue;
      const c = renderPolicyGroupChain(g, cfg);
      if (!seen.has(c.name)) seen.set(c.name, c);
    }
  }
  return [...seen.values()];
}
