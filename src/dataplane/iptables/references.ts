/**
 * Which desired chains get programmed: those reachable from the hooks, following the jumps and
 * gotos of chains that are themselves programmed. This is current Felix's reference counting
 * (`table.go`: kernel chains count as referenced, `maybeIncrefReferredChains` only counts the
 * references of a chain that is itself referenced), so a policy chain that no endpoint uses is
 * kept in memory but not written, and is deleted if an earlier run left it behind.
 *
 * (rules/index.ts's `programmedChains` counts references from every desired chain, reached or
 * not: the older Felix behaviour. The table uses this walk instead.)
 */
import { ruleTargets, type Chain, type Rule } from '../rules/chain.js';

/** The chains a chain's rules jump or go to, without repeats. */
export function chainTargets(rules: readonly Rule[]): string[] {
  const out = new Set<string>();
  for (const r of rules) for (const t of ruleTargets(r)) out.add(t);
  return [...out];
}

/**
 * Names of the desired chains reachable from `roots` (the targets of the hook rules).
 * `targetsOf` returns a desired chain's targets, or undefined for a chain that is not desired.
 */
export function reachableChains(roots: Iterable<string>, targetsOf: (name: string) => readonly string[] | undefined): Set<string> {
  const seen = new Set<string>();
  const stack: string[] = [];
  for (const r of roots) stack.push(r);
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (seen.has(name)) continue;
    const targets = targetsOf(name);
    if (targets === undefined) continue;
    seen.add(name);
    for (const t of targets) if (!seen.has(t)) stack.push(t);
  }
  return seen;
}

/** Convenience over plain lists, for tests and callers outside the table. */
export function reachableFrom(hookRules: readonly Rule[], chains: readonly Chain[]): Set<string> {
  const byName = new Map(chains.map((c) => [c.name, chainTargets(c.rules)]));
  return reachableChains(chainTargets(hookRules), (n) => byName.get(n));
}
