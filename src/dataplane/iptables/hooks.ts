/**
 * Our rules inside chains we do not own: the hooks from the built-in chains (INPUT, FORWARD,
 * PREROUTING, ...) into ours. Those chains are shared with kube-proxy, Docker, firewalld and the
 * operator, so the layout is checked as a whole and repaired as a whole, as Felix does:
 *
 *   insert mode:  [our inserted rules..., everyone else's rules..., our appended rules...]
 *   append mode:  [everyone else's rules..., our inserted rules..., our appended rules...]
 *
 * (`inserted` are the HookRules with mode `insert-or-append`, `appended` those with `append`.)
 * When the kernel's hash sequence differs from that layout (ours missing, out of order, stale,
 * or pushed down by a rule someone inserted above them), every rule of ours in the chain is
 * deleted and the whole set put back: `-I` from the last rule to the first, so they end up on
 * top in order, or `-A`. Ours are deleted by value (`-D <the rule's own text>`), never by
 * position: another program may have added or removed rules in between, and a delete by number
 * would then hit its rule. Other rules are never touched, and their order is kept.
 */
import { renderAppend, renderInsert, type Rule } from '../rules/chain.js';
import { appendedRuleHashes, insertedRuleHashes } from '../rules/hash.js';
import type { SavedChain } from './save-parser.js';

export type InsertMode = 'insert' | 'append';

/** What we want in one non-owned chain. */
export interface HookSet {
  readonly inserts: readonly Rule[];
  readonly appends: readonly Rule[];
}

/** What the kernel holds in one non-owned chain, as far as we care. */
export interface HookedChainState {
  /** Per rule in kernel order: its `cali:` hash, or '' when it is not ours. */
  readonly hashes: readonly string[];
  /** Per rule: the line that deletes it by value (`-D <chain> ...`), '' for rules not ours. */
  readonly deletes: readonly string[];
}

/** A string with its own storage (V8 keeps substrings as views into their parent). */
function detach(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8');
}

/** The state of a non-owned chain as iptables-save shows it. */
export function hookedStateFromSave(c: SavedChain): HookedChainState {
  const hashes: string[] = [];
  const deletes: string[] = [];
  for (const r of c.rules) {
    // Copies, not slices: these outlive the save text, which a slice would keep alive whole.
    hashes.push(r.hash === '' ? '' : detach(r.hash));
    // `-A <chain> ...` → `-D <chain> ...`: iptables matches a delete spec structurally, so
    // iptables-save's own spelling of the rule deletes exactly that rule.
    deletes.push(r.hash === '' ? '' : detach(`-D${r.line.slice(2)}`));
  }
  return { hashes, deletes };
}

export function hasOurRules(s: HookedChainState): boolean {
  for (const h of s.hashes) if (h !== '') return true;
  return false;
}

function countForeign(s: HookedChainState | undefined): number {
  let n = 0;
  if (s) for (const h of s.hashes) if (h === '') n++;
  return n;
}

interface HookHashes {
  readonly inserted: readonly string[];
  readonly appended: readonly string[];
}

export function hookHashes(chain: string, set: HookSet | undefined): HookHashes {
  if (!set) return { inserted: [], appended: [] };
  return {
    inserted: set.inserts.length > 0 ? insertedRuleHashes(chain, set.inserts) : [],
    appended: set.appends.length > 0 ? appendedRuleHashes(chain, set.appends) : [],
  };
}

/** The hash sequence the chain should have, given how many foreign rules it holds. */
export function expectedLayout(h: HookHashes, foreign: number, mode: InsertMode): string[] {
  const gap: string[] = new Array<string>(foreign).fill('');
  return mode === 'insert' ? [...h.inserted, ...gap, ...h.appended] : [...gap, ...h.inserted, ...h.appended];
}

export function layoutMatches(chain: string, set: HookSet | undefined, s: HookedChainState | undefined, mode: InsertMode): boolean {
  const expected = expectedLayout(hookHashes(chain, set), countForeign(s), mode);
  const actual = s?.hashes ?? [];
  if (expected.length !== actual.length) return false;
  for (let i = 0; i < expected.length; i++) if (expected[i] !== actual[i]) return false;
  return true;
}

export interface HookPlan {
  readonly lines: string[];
  /** The chain's state once the lines are committed. */
  readonly after: HookedChainState;
}

const deleteLine = (chain: string, r: Rule, hash: string): string => `-D${renderAppend(chain, r, hash).slice(2)}`;

/**
 * The lines putting our rules in `chain` right, or undefined when they already are. The
 * caller only plans chains that are hooked or that hold rules of ours.
 */
export function planHook(chain: string, set: HookSet | undefined, s: HookedChainState | undefined, mode: InsertMode): HookPlan | undefined {
  const h = hookHashes(chain, set);
  const foreign = countForeign(s);
  const expected = expectedLayout(h, foreign, mode);
  const actual = s?.hashes ?? [];
  if (expected.length === actual.length && expected.every((x, i) => x === actual[i])) return undefined;

  const lines: string[] = [];
  if (s) for (const d of s.deletes) if (d !== '') lines.push(d);
  const inserts = set?.inserts ?? [];
  const appends = set?.appends ?? [];
  if (mode === 'insert') {
    // Each -I lands on top, so the last rule goes in first.
    for (let i = inserts.length - 1; i >= 0; i--) lines.push(renderInsert(chain, inserts[i]!, h.inserted[i]));
  } else {
    for (let i = 0; i < inserts.length; i++) lines.push(renderAppend(chain, inserts[i]!, h.inserted[i]));
  }
  for (let i = 0; i < appends.length; i++) lines.push(renderAppend(chain, appends[i]!, h.appended[i]));

  const ours = (rules: readonly Rule[], hashes: readonly string[]): string[] => rules.map((r, i) => deleteLine(chain, r, hashes[i]!));
  const gap: string[] = new Array<string>(foreign).fill('');
  const insDeletes = ours(inserts, h.inserted);
  const appDeletes = ours(appends, h.appended);
  const deletes = mode === 'insert' ? [...insDeletes, ...gap, ...appDeletes] : [...gap, ...insDeletes, ...appDeletes];
  return { lines, after: { hashes: expected, deletes } };
}
