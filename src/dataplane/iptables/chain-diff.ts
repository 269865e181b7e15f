/**
 * The iptables-restore lines that turn a chain of ours from what the kernel holds into what we
 * want, touching only the rules that differ (Felix's minimal update): the kernel side is known
 * only by its rule hashes, compared position by position. A changed position is replaced in place
 * (`-R`, which keeps the packet counters of every other rule), surplus rules are deleted from the
 * end (`-D`, highest position first so earlier numbers stay valid), missing ones appended (`-A`).
 * A chain the kernel does not have is created by its forward reference (`:name - -`, written by
 * the caller with all other new chains, ahead of any rule that could jump to it) and filled with
 * `-A` lines.
 *
 * A rule with no hash, or someone else's hash, inside a chain of ours is just a mismatch at its
 * position, so foreign rules slipped into our chains are overwritten or deleted like any drift.
 * No attempt is made at a longest-common-subsequence diff: one rule inserted near the top means
 * a replace of every rule below it, as in Felix, and a replace is as cheap as an append.
 */
import { renderAppend, renderReplace, type Chain } from '../rules/chain.js';

/**
 * Lines updating `chain` (whose Felix hashes are `hashes`) from the kernel's `current` hashes;
 * `current` undefined means the chain does not exist yet (the caller writes its forward
 * reference). Appends to `out` and returns how many lines it added.
 */
export function chainUpdateLines(chain: Chain, hashes: readonly string[], current: readonly string[] | undefined, out: string[]): number {
  const before = out.length;
  const name = chain.name;
  const rules = chain.rules;
  if (current === undefined) {
    for (let i = 0; i < rules.length; i++) out.push(renderAppend(name, rules[i]!, hashes[i]));
    return out.length - before;
  }
  const common = Math.min(current.length, hashes.length);
  for (let i = 0; i < common; i++) {
    if (current[i] !== hashes[i]) out.push(renderReplace(name, i + 1, rules[i]!, hashes[i]));
  }
  for (let n = current.length; n > hashes.length; n--) out.push(`-D ${name} ${n}`);
  for (let i = current.length; i < hashes.length; i++) out.push(renderAppend(name, rules[i]!, hashes[i]));
  return out.length - before;
}

export function sameHashes(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
