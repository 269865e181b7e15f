/**
 * Canonical address and CIDR strings, so that what the calc layer asks for and what iproute2
 * prints compare equal as strings (the trackers key on strings). iproute2 prints a host route as
 * a bare address and the all-zero route as `default`; IPv6 in RFC 5952 form.
 */
import { isIPv4, isIPv6 } from 'node:net';

export function familyOf(addrOrCidr: string): 4 | 6 {
  return addrOrCidr.includes(':') ? 6 : 4;
}

/** RFC 5952 text for an IPv6 address (the URL parser compresses and lowercases it). */
function canonicalV6(addr: string): string {
  return new URL(`http://[${addr}]/`).hostname.slice(1, -1);
}

export function canonicalAddr(addr: string): string {
  if (isIPv4(addr)) return addr;
  if (isIPv6(addr)) return canonicalV6(addr);
  throw new Error(`not an IP address: ${JSON.stringify(addr)}`);
}

/** An IPv4 CIDR already in canonical form (no leading zeros, octets ≤ 255, length ≤ 32). */
const CANONICAL_V4_CIDR = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\/(?:3[0-2]|[12]?\d)$/;

/** `10.0.0.1` → `10.0.0.1/32`, `default` → `0.0.0.0/0` (family needed for `default`). */
export function canonicalCidr(text: string, family?: 4 | 6): string {
  // Hot path: calc output is canonical IPv4 already; one regex instead of a parse.
  if (CANONICAL_V4_CIDR.test(text)) return text;
  if (text === 'default') return family === 6 ? '::/0' : '0.0.0.0/0';
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const fam = familyOf(addr);
  const len = slash < 0 ? (fam === 4 ? 32 : 128) : Number(text.slice(slash + 1));
  if (!Number.isInteger(len) || len < 0 || len > (fam === 4 ? 32 : 128)) throw new Error(`bad prefix length in ${JSON.stringify(text)}`);
  // Fast path for the common case: iproute2 output and calc output are already canonical IPv4.
  return `${fam === 4 ? (isIPv4(addr) ? addr : canonicalAddr(addr)) : canonicalAddr(addr)}/${len}`;
}

/** MAC address in lowercase colon form. */
export function canonicalMac(mac: string): string {
  const m = mac.trim().toLowerCase();
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(m)) throw new Error(`not a MAC address: ${JSON.stringify(mac)}`);
  return m;
}
