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
 * a replace of every rule below it, as in Felix, and a replace is as cheap as an append. (Since
 * each hash covers the rules before it, a changed rule changes the hashes of all rules after it
 * too, so those are replaced with it: only rules before the first change are left alone.)
 *
 * Felix rewrites whole chains under iptables-nft instead, working around an iptables-nft-restore
 * bug before 1.8.3 where only the first `-R` of a transaction found its rule. tortie writes the
 * minimal update on both backends; the integration test checks that iptables-nft 1.8.9 applies
 * several `-R` and `-D` in one transaction correctly.
 */
import { renderAppend, renderReplace, type Chain } from '../rules/chain.js';
import type { LineSink } from './restore-runner.js';

/**
 * Lines updating `chain` (whose Felix hashes are `hashes`) from the kernel's `current` hashes;
 * `current` undefined means the chain does not exist yet (the caller writes its forward
 * reference). Writes them to `out` and returns how many there were.
 */
export function chainUpdateLines(chain: Chain, hashes: readonly string[], current: readonly string[] | undefined, out: LineSink): number {
  const name = chain.name;
  const rules = chain.rules;
  if (current === undefined) {
    for (let i = 0; i < rules.length; i++) out.push(renderAppend(name, rules[i]!, hashes[i]));
    return rules.length;
  }
  let n = 0;
  const common = Math.min(current.length, hashes.length);
  for (let i = 0; i < common; i++) {
    if (current[i] !== hashes[i]) {
      out.push(renderReplace(name, i + 1, rules[i]!, hashes[i]));
      n++;
    }
  }
  for (let k = current.length; k > hashes.length; k--, n++) out.push(`-D ${name} ${k}`);
  for (let i = current.length; i < hashes.length; i++, n++) out.push(renderAppend(name, rules[i]!, hashes[i]));
  return n;
}

export function sameHashes(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
