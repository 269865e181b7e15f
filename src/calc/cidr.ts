/**
 * Address arithmetic the calc layer needs: containment, same-subnet tests, the n-th address of a
 * block. Built on the model's parser so resources and calc agree on what a CIDR is.
 */
import { bigIntToIp, ipToBigInt, parseCidr, type ParsedCidr } from '../datastore/model/index.js';

const cache = new Map<string, ParsedCidr | undefined>();
/** Cache bound: pools, blocks and node subnets number in the thousands, not millions. */
const CACHE_MAX = 50_000;

/** Parses a CIDR (memoised); a bare address is taken as a host prefix. */
export function cidr(s: string): ParsedCidr | undefined {
  let c = cache.get(s);
  if (c === undefined && !cache.has(s)) {
    const text = s.includes('/') ? s : `${s}/${s.includes(':') ? 128 : 32}`;
    c = parseCidr(text);
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(s, c);
  }
  return c;
}

function mask(c: ParsedCidr): bigint {
  const bits = c.version === 4 ? 32 : 128;
  return ((1n << BigInt(c.prefixLen)) - 1n) << BigInt(bits - c.prefixLen);
}

/** True when `inner` (CIDR or address) lies inside `outer`. */
export function contains(outer: string, inner: string): boolean {
  const o = cidr(outer);
  const i = cidr(inner);
  if (!o || !i || o.version !== i.version || i.prefixLen < o.prefixLen) return false;
  const m = mask(o);
  return (o.addr & m) === (i.addr & m);
}

/**
 * True when `ip` is on the subnet of `addrWithPrefix` (a node's `bgp.ipv4Address`, e.g.
 * 198.18.0.11/24): Calico's CrossSubnet test.
 */
export function sameSubnet(addrWithPrefix: string, ip: string): boolean {
  return contains(addrWithPrefix, ip);
}

/** The address without its prefix length. */
export function addrOf(addrOrCidr: string): string {
  const slash = addrOrCidr.indexOf('/');
  return slash < 0 ? addrOrCidr : addrOrCidr.slice(0, slash);
}

/** The `ordinal`-th address of a block (IPAM allocations are indexed by ordinal). */
export function nthAddress(block: string, ordinal: number): string | undefined {
  const c = cidr(block);
  if (!c) return undefined;
  const bits = c.version === 4 ? 32 : 128;
  const size = 1n << BigInt(bits - c.prefixLen);
  if (ordinal < 0 || BigInt(ordinal) >= size) return undefined;
  return bigIntToIp(c.version, (c.addr & mask(c)) + BigInt(ordinal));
}

/** Host prefix of an address: 10.0.0.1 → 10.0.0.1/32. */
export function hostPrefix(ip: string): string {
  const v = ipToBigInt(addrOf(ip));
  return `${addrOf(ip)}/${v?.version === 6 ? 128 : 32}`;
}

/** Family of an address or CIDR. */
export function familyOf(s: string): 4 | 6 {
  return s.includes(':') ? 6 : 4;
}
