/**
 * CIDR prefix arithmetic for policy matching and input validation. Prefixes are held as
 * (family, address as bigint, length) so IPv4 and IPv6 share one code path; policies run over
 * a node's own blocks and peers' routes, where clarity beats the last nanosecond.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { UserError } from '../../util/errors.js';

export interface ParsedPrefix {
  afi: 1 | 2;
  /** Network address as an unsigned integer of 32 (IPv4) or 128 (IPv6) bits. */
  addr: bigint;
  len: number;
}

function v4ToBig(a: string): bigint {
  let n = 0n;
  for (const p of a.split('.')) n = (n << 8n) | BigInt(Number(p));
  return n;
}

function v6ToBig(a: string): bigint {
  let s = a;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const n = v4ToBig(v4[1]!);
    s = s.slice(0, v4.index) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = s.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  let n = 0n;
  for (const g of groups) n = (n << 16n) | BigInt(parseInt(g, 16));
  return n;
}

/** Parses "a.b.c.d/len" or "x::/len". Throws UserError on anything else, including host bits set. */
export function parsePrefix(cidr: string): ParsedPrefix {
  const slash = cidr.indexOf('/');
  const addr = slash < 0 ? '' : cidr.slice(0, slash);
  const lenText = slash < 0 ? '' : cidr.slice(slash + 1);
  const afi = isIPv4(addr) ? 1 : isIPv6(addr) ? 2 : 0;
  const max = afi === 1 ? 32 : 128;
  if (afi === 0 || !/^\d{1,3}$/.test(lenText) || Number(lenText) > max) {
    throw new UserError(`"${cidr}" is not a CIDR prefix (want e.g. 10.65.0.0/26 or fd00::/64)`, { code: 'E_BAD_PREFIX' });
  }
  const len = Number(lenText);
  const n = afi === 1 ? v4ToBig(addr) : v6ToBig(addr);
  const hostBits = BigInt(max - len);
  if (((n >> hostBits) << hostBits) !== n) {
    throw new UserError(`"${cidr}" has host bits set; did you mean ${formatPrefix({ afi, addr: (n >> hostBits) << hostBits, len })}?`, {
      code: 'E_BAD_PREFIX',
    });
  }
  return { afi, addr: n, len };
}

/** Canonical text (the form the RIB keys by): dotted quad, or RFC 5952 compressed IPv6. */
export function formatPrefix(p: ParsedPrefix): string {
  if (p.afi === 1) {
    const n = p.addr;
    return `${(n >> 24n) & 255n}.${(n >> 16n) & 255n}.${(n >> 8n) & 255n}.${n & 255n}/${p.len}`;
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((p.addr >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952 §4.2: compress the longest run (≥ 2) of zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hexes = groups.map((g) => g.toString(16));
  const text =
    bestStart < 0
      ? hexes.join(':')
      : `${hexes.slice(0, bestStart).join(':')}::${hexes.slice(bestStart + bestLen).join(':')}`;
  return `${text}/${p.len}`;
}

/** One IPv4 octet as written canonically: 0-255, no leading zeros. */
const OCTET = /^(?:0|[1-9]\d{0,2})$/;

/**
 * IPv4 without BigInt: local origination of a large table calls this once per prefix. Returns
 * the input when it is already canonical, undefined when it is not plain IPv4 (the caller then
 * takes the general path, which also produces the error message).
 */
function canonicalIpv4(cidr: string): string | undefined {
  const slash = cidr.indexOf('/');
  if (slash < 0) return undefined;
  const parts = cidr.slice(0, slash).split('.');
  const lenText = cidr.slice(slash + 1);
  if (parts.length !== 4 || !/^\d{1,2}$/.test(lenText)) return undefined;
  const len = Number(lenText);
  if (len > 32) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!OCTET.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  const hostBits = 32 - len;
  // Host bits must be zero: n mod 2^hostBits, in floating point to avoid 32-bit shift limits.
  if (n % 2 ** hostBits !== 0) return undefined;
  return cidr;
}

/** Parses and re-formats: the canonical spelling of a prefix, or a UserError. */
export function canonicalPrefix(cidr: string): string {
  return canonicalIpv4(cidr) ?? formatPrefix(parsePrefix(cidr));
}

/** Is `inner` equal to or inside `outer`? */
export function prefixCovers(outer: ParsedPrefix, inner: ParsedPrefix): boolean {
  if (outer.afi !== inner.afi || inner.len < outer.len) return false;
  const shift = BigInt((outer.afi === 1 ? 32 : 128) - outer.len);
  return inner.addr >> shift === outer.addr >> shift;
}
