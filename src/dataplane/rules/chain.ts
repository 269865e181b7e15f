/**
 * Rules and chains as data, and their iptables-restore text.
 *
 * A Rule is three lists of arguments: match criteria, the action, and free-text comments. Joined
 * with single spaces, match and action read exactly as Felix writes them to iptables-restore
 * (long options: `--jump`, `--source`, `-m multiport --destination-ports`), which is what the
 * rule hashes are computed over; `iptables-save` later prints its own canonical spelling of the
 * same rule (`-j`, `-s`, `--dports`). An argument that needs quoting carries its own quotes (only
 * the LOG prefix does); comments are quoted by the renderer.
 *
 * A rule line is `-A <chain> -m comment --comment "cali:<hash>" [-m comment --comment "<text>"]...
 * <match> <action>`: the hash comment first, then the free-text comments, then the match.
 */

export type TableName = 'filter' | 'nat' | 'mangle' | 'raw';

export interface Rule {
  readonly match: readonly string[];
  readonly action: readonly string[];
  readonly comment?: readonly string[];
}

export interface Chain {
  readonly name: string;
  readonly rules: readonly Rule[];
}

/** Comment text survives only as shell-safe characters; anything else becomes `_`. */
const COMMENT_UNSAFE = /[^\w @%+=:,./-]/gu;
const MAX_COMMENT_LENGTH = 256;

/** What iptables will keep of a comment: unsafe characters replaced, cut to 256 bytes. */
export function escapeComment(text: string): string {
  const safe = text.replace(COMMENT_UNSAFE, '_');
  return safe.length > MAX_COMMENT_LENGTH ? safe.slice(0, MAX_COMMENT_LENGTH) : safe;
}

export function rule(match: readonly string[], action: readonly string[], ...comment: string[]): Rule {
  return comment.length > 0 ? { match, action, comment } : { match, action };
}

/** The part of a rule after `-A <chain> <hash comment>`: comments, match, action. */
export function ruleBody(r: Rule): string {
  const parts: string[] = [];
  for (const c of r.comment ?? []) parts.push(`-m comment --comment "${escapeComment(c)}"`);
  if (r.match.length > 0) parts.push(r.match.join(' '));
  if (r.action.length > 0) parts.push(r.action.join(' '));
  return parts.join(' ');
}

export const RULE_HASH_PREFIX = 'cali:';

function withHash(head: string, hash: string | undefined, r: Rule): string {
  const parts = [head];
  if (hash !== undefined && hash !== '') parts.push(`-m comment --comment "${RULE_HASH_PREFIX}${hash}"`);
  const body = ruleBody(r);
  if (body !== '') parts.push(body);
  return parts.join(' ');
}

/** `-A <chain> ...`, with the hash comment when a hash is given. */
export function renderAppend(chainName: string, r: Rule, hash?: string): string {
  return withHash(`-A ${chainName}`, hash, r);
}

/** `-I <chain> ...` (position 1), for hooks into the built-in chains. */
export function renderInsert(chainName: string, r: Rule, hash?: string): string {
  return withHash(`-I ${chainName}`, hash, r);
}

/** `-R <chain> <n> ...`, n counted from 1. */
export function renderReplace(chainName: string, ruleNumber: number, r: Rule, hash?: string): string {
  return withHash(`-R ${chainName} ${ruleNumber}`, hash, r);
}

/** The chains a rule jumps or goes to. */
export function ruleTargets(r: Rule): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < r.action.length; i++) {
    if (r.action[i] === '--jump' || r.action[i] === '--goto') {
      const target = r.action[i + 1]!;
      if (!BUILTIN_TARGETS.has(target)) out.push(target);
    }
  }
  return out;
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

const BUILTIN_TARGETS = new Set(['ACCEPT', 'DROP', 'REJECT', 'RETURN', 'LOG', 'NFLOG', 'MARK', 'CONNMARK', 'NOTRACK', 'MASQUERADE', 'SNAT', 'DNAT']);

/** The IP set names a chain's rules match on (what must exist before the chain is written). */
export function ipSetNamesOf(chain: Chain): string[] {
  const names: string[] = [];
  for (const r of chain.rules) {
    for (let i = 0; i + 1 < r.match.length; i++) {
      if (r.match[i] === '--match-set') names.push(r.match[i + 1]!);
    }
  }
  return names;
}
