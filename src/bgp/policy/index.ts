/**
 * Routing policy for the BGP speaker: per-peer import/export filters applied at the RIB
 * boundary (see types.ts), prefix lists, community parsing, and combinators to build Calico's
 * export rules from them.
 */
export * from './types.js';
export * from './combinators.js';
export { PrefixList, prefixIn, type PrefixListEntry } from './prefix-list.js';
export * from './communities.js';
export { parsePrefix, formatPrefix, canonicalPrefix, prefixCovers, type ParsedPrefix } from './prefix.js';
