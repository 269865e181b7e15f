/**
 * Which desired chains get programmed: those reachable from the hooks, following the jumps and
 * gotos of chains that are themselves programmed. This is current Felix's reference counting
 * (`table.go`: kernel chains count as referenced, `maybeIncrefReferredChains` only counts the
 * references of a chain that is itself referenced), so a policy chain that no endpoint uses is
 * kept in memory but not written, and is deleted if an earlier run left it behind.
 *
 * (rules/index.ts's `programmedChains` is the same walk over plain lists.)
 */
import { reachableChains, ruleTargets, type Chain, type Rule } from '../rules/chain.js';

export { reachableChains };

/** The chains a chain's rules jump or go to, without repeats. */
export function chainTargets(rules: readonly Rule[]): string[] {
  const out = new Set<string>();
  for (const r of rules) for (const t of ruleTargets(r)) out.add(t);
  return [...out];
}

/** Convenience over plain lists, for tests and callers outside the table. */
export function reachableFrom(hookRules: readonly Rule[], chains: readonly Chain[]): Set<string> {
  const byName = new Map(chains.map((c) => [c.name, chainTargets(c.rules)]));
  return reachableChains(chainTargets(hookRules), (n) => byName.get(n));
}
