/**
 * How the RIB names a prefix inside its tables: an IPv4 prefix as a number (the wire codec's
 * `Ipv4PrefixKey`, 2^len + top bits), an IPv6 prefix as its canonical string.
 *
 * Why not strings throughout: loading a full table is a million Loc-RIB inserts, and with a
 * string key each one first flattens the decoder's concatenated text and hashes it; a number
 * key (a small integer up to /30) costs about a third of that, and keeps no string alive per
 * prefix (measured: docs/bgp-rib.md). IPv6 tables are much smaller and keep strings.
 *
 * Text is made only at the RIB's API boundary (best-path changes, Adj-RIB-Out drains, lookups,
 * policy calls, logs); everything the RIB returns still carries canonical prefix strings.
 */
import { ipv4PrefixKeyOf, ipv4PrefixKeyText, type Ipv4PrefixKey } from '../wire/prefix.js';
import type { FamilyIndex } from './path.js';

/** An IPv4 prefix key (number) or a canonical IPv6 prefix (string). */
export type PrefixKey = Ipv4PrefixKey | string;

/**
 * The key for prefix text. IPv4 text becomes its number (host bits dropped); anything else is
 * kept as given, so IPv6 prefixes must already be canonical (the decoder's and
 * `canonicalPrefix`'s output are).
 */
export function prefixKey(prefix: string): PrefixKey {
  const k = ipv4PrefixKeyOf(prefix);
  return k < 0 ? prefix : k;
}

/** The canonical prefix text of a key. */
export function keyText(key: PrefixKey): string {
  return typeof key === 'number' ? ipv4PrefixKeyText(key) : key;
}

/** 0 for IPv4 unicast, 1 for IPv6 unicast. */
export function keyFamily(key: PrefixKey): FamilyIndex {
  return typeof key === 'number' ? 0 : key.includes(':') ? 1 : 0;
}
