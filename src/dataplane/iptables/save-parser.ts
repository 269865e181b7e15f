/**
 * Reading `iptables-save -t <table>` back: which chains exist, and per chain the `cali:` hash of
 * each rule in order. That is all the table needs to know (Felix's `table.go` design: parse only
 * the rule ids we wrote ourselves, never the rules, because rules do not round-trip through the
 * kernel in the form they were written). The raw line is kept too, because a rule of ours in a
 * chain we do not own is deleted by value (`-D <its own text>`), not by a position another
 * program may shift.
 *
 * Both spellings of the hash comment are read: legacy iptables prints `--comment "cali:xxx"`,
 * some iptables-nft versions print it unquoted, and iptables-nft moves native matches (`-s`,
 * `-i`, ...) in front of the comments, so the hash is looked for anywhere in the line, not just
 * after the chain name. A line is scanned with `indexOf`, never a backtracking regex: 100,000
 * rules parse in tens of milliseconds.
 */
import { RULE_HASH_PREFIX } from '../rules/chain.js';

export interface SavedRule {
  /** The rule's `cali:` hash, or '' for a rule that carries none (not ours). */
  readonly hash: string;
  /** The line as iptables-save printed it, `-A <chain> ...`. */
  readonly line: string;
}

export interface SavedChain {
  readonly name: string;
  /** The policy of a built-in chain (`ACCEPT`, `DROP`); undefined for user chains (`-`). */
  readonly policy?: string;
  readonly rules: SavedRule[];
}

/** iptables-nft found something in the table it cannot show as iptables rules. */
export class IncompatibleTableError extends Error {
  readonly code = 'E_IPTABLES_INCOMPATIBLE_TABLE';
  constructor(readonly detail: string) {
    super(`${detail.replace(/^#\s*/, '')}: iptables-nft cannot read this table; remove the rules written with the nft tool, or use the legacy backend`);
    this.name = 'IncompatibleTableError';
  }
}

const COMMENT_OPTION = '--comment ';
const QUOTE = 0x22;
const SPACE = 0x20;
/** What iptables-nft-save prints instead of rules it cannot express (Felix's nftErrorRegexp). */
const INCOMPATIBLE_PREFIX = '# Table ';
const INCOMPATIBLE_SUFFIX = "is incompatible, use 'nft' tool.";

/** A hash is base64url: letters, digits, `_` and `-`. */
function isHashChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x2d;
}

/**
 * The first `cali:` hash comment of a rule line, quoted or not; '' when there is none. The hash
 * must be the whole comment (`--comment "cali:abc def"` is someone's text, not a hash).
 */
export function hashOfRule(line: string): string {
  let i = line.indexOf(COMMENT_OPTION);
  while (i >= 0) {
    let j = i + COMMENT_OPTION.length;
    const quoted = line.charCodeAt(j) === QUOTE;
    if (quoted) j++;
    if (line.startsWith(RULE_HASH_PREFIX, j)) {
      const start = j + RULE_HASH_PREFIX.length;
      let k = start;
      while (k < line.length && isHashChar(line.charCodeAt(k))) k++;
      const closed = quoted ? line.charCodeAt(k) === QUOTE : k === line.length || line.charCodeAt(k) === SPACE;
      if (k > start && closed) return line.slice(start, k);
    }
    i = line.indexOf(COMMENT_OPTION, i + COMMENT_OPTION.length);
  }
  return '';
}

/** The chain of a `-A <chain> ...` line. */
function chainOfRule(line: string): string {
  const end = line.indexOf(' ', 3);
  return end < 0 ? line.slice(3) : line.slice(3, end);
}

/**
 * Parses the output of `iptables-save -t <table>` (one table). Chains appear in the order of their
 * `:` declarations; a rule for a chain that was not declared (never printed by iptables-save, but
 * tolerated) creates it. Throws IncompatibleTableError when iptables-nft says it cannot show
 * the table: a read that silently returned nothing would make us delete and rewrite everything.
 */
export function parseSave(text: string): Map<string, SavedChain> {
  const chains = new Map<string, { name: string; policy?: string; rules: SavedRule[] }>();
  const chain = (name: string): { name: string; policy?: string; rules: SavedRule[] } => {
    let c = chains.get(name);
    if (!c) {
      c = { name, rules: [] };
      chains.set(name, c);
    }
    return c;
  };
  let pos = 0;
  const len = text.length;
  while (pos < len) {
    let eol = text.indexOf('\n', pos);
    if (eol < 0) eol = len;
    const first = text.charCodeAt(pos);
    if (first === 0x2d /* - */) {
      if (text.startsWith('-A ', pos)) {
        const line = text.slice(pos, eol);
        chain(chainOfRule(line)).rules.push({ hash: hashOfRule(line), line });
      }
    } else if (first === 0x3a /* : */) {
      // `:<name> <policy> [<packets>:<bytes>]`; user chains have policy `-`.
      const line = text.slice(pos, eol);
      const sp = line.indexOf(' ');
      const name = sp < 0 ? line.slice(1) : line.slice(1, sp);
      const c = chain(name);
      if (sp >= 0) {
        const sp2 = line.indexOf(' ', sp + 1);
        const policy = sp2 < 0 ? line.slice(sp + 1) : line.slice(sp + 1, sp2);
        if (policy !== '-' && policy !== '') c.policy = policy;
      }
    } else if (first === 0x23 /* # */) {
      if (text.startsWith(INCOMPATIBLE_PREFIX, pos)) {
        const line = text.slice(pos, eol).trimEnd();
        if (line.endsWith(INCOMPATIBLE_SUFFIX)) throw new IncompatibleTableError(line);
      }
    }
    pos = eol + 1;
  }
  return chains;
}
