/**
 * Prefix lists: "does this route's prefix fall within one of these CIDRs, with a length in this
 * range?" — the match behind Calico's export rules (a node's own IPAM blocks, service CIDRs,
 * pools with `disableBGPExport`) and BIRD's `net ~ [ 10.0.0.0/16{26,32} ]`.
 *
 * Entry semantics follow the usual router convention: no `ge`/`le` is an exact match; `ge`
 * alone means lengths ge..max; `le` alone means the entry's own length..le.
 */
import { UserError } from '../../util/errors.js';
import { parsePrefix, prefixCovers, type ParsedPrefix } from './prefix.js';
import type { RouteMatcher } from './types.js';

export interface PrefixListEntry {
  /** The covering CIDR, e.g. "10.65.0.0/16". */
  prefix: string;
  /** Minimum prefix length to match (inclusive). */
  ge?: number;
  /** Maximum prefix length to match (inclusive). */
  le?: number;
}

interface CompiledEntry {
  net: ParsedPrefix;
  min: number;
  max: number;
}

function compile(e: PrefixListEntry): CompiledEntry {
  const net = parsePrefix(e.prefix);
  const maxLen = net.afi === 1 ? 32 : 128;
  const min = e.ge ?? net.len;
  const max = e.le ?? (e.ge !== undefined ? maxLen : net.len);
  if (!Number.isInteger(min) || !Number.isInteger(max) || min < net.len || max > maxLen || min > max) {
    throw new UserError(
      `prefix-list entry ${e.prefix} ge ${e.ge ?? '-'} le ${e.le ?? '-'}: need ${net.len} <= ge <= le <= ${maxLen}`,
      { code: 'E_BAD_PREFIX_LIST' },
    );
  }
  return { net, min, max };
}

/** A compiled prefix list. Throws UserError on a malformed entry, at build time, not per route. */
export class PrefixList {
  private readonly entries: CompiledEntry[];
  /** Parsed route prefixes; policies see the same few prefixes again on every re-evaluation. */
  private readonly cache = new Map<string, ParsedPrefix | null>();

  constructor(entries: readonly PrefixListEntry[]) {
    this.entries = entries.map(compile);
  }

  matches(prefix: string): boolean {
    let p = this.cache.get(prefix);
    if (p === undefined) {
      try {
        p = parsePrefix(prefix);
      } catch {
        p = null;
      }
      // Bounded: a cache for the common case, not a second copy of a full table.
      if (this.cache.size < PREFIX_CACHE_LIMIT) this.cache.set(prefix, p);
    }
    if (p === null) return false;
    for (const e of this.entries) {
      if (p.len >= e.min && p.len <= e.max && prefixCovers(e.net, p)) return true;
    }
    return false;
  }
}

/** Enough for every block and service CIDR of a large cluster; beyond it we parse each time. */
const PREFIX_CACHE_LIMIT = 65536;

/** Matcher: the route's prefix is in the list. */
export function prefixIn(list: PrefixList | readonly PrefixListEntry[]): RouteMatcher {
  const pl = list instanceof PrefixList ? list : new PrefixList(list);
  return (prefix) => pl.matches(prefix);
}
