/**
 * Address-family codecs keyed by AFI/SAFI (the role of BIRD's `bgp_af_table[]`): how a family's
 * NLRI and MP_REACH next hop look on the wire. Adding a family means adding one row here.
 */
import { AFI_IPV4, AFI_IPV6, SAFI_UNICAST, afiSafiKey, type AfiSafiKey, type Nlri } from './types.js';
import { decodeIpv4Nlri, decodeIpv6Nlri, ipv6Text, parseIpv4, parseIpv6 } from './prefix.js';
import { ipv4Text } from './bytes.js';
import { BgpEncodeError } from './errors.js';

export interface FamilyCodec {
  afi: number;
  safi: number;
  name: string;
  decodeNlri(b: Uint8Array, start: number, end: number, addPath: boolean, out: Nlri[]): void;
  /** Next-hop lengths RFC 4760 / RFC 2545 / RFC 8950 allow in MP_REACH for this family. */
  nextHopLengths: readonly number[];
  /** Next hops (global first) from MP_REACH bytes of an allowed length. */
  decodeNextHops(b: Uint8Array, start: number, len: number): string[];
  /** MP_REACH next-hop bytes for the given addresses. */
  encodeNextHops(hops: readonly string[]): Uint8Array;
}

function decodeV6Hops(b: Uint8Array, start: number, len: number): string[] {
  const out = [ipv6Text(b, start)];
  if (len === 32) out.push(ipv6Text(b, start + 16));
  return out;
}

function encodeAddr(hop: string): Uint8Array {
  if (hop.includes(':')) {
    const out = new Uint8Array(16);
    if (parseIpv6(hop, out, 0)) return out;
  } else {
    const out = new Uint8Array(4);
    if (parseIpv4(hop, 0, hop.length, out, 0)) return out;
  }
  throw new BgpEncodeError('ENCODE_NEXT_HOP', `next hop "${hop}" is not an address`);
}

function encodeHops(hops: readonly string[], max: number): Uint8Array {
  if (hops.length === 0 || hops.length > max) throw new BgpEncodeError('ENCODE_NEXT_HOP', `${hops.length} next hops given`);
  const parts = hops.map(encodeAddr);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export const IPV4_UNICAST: FamilyCodec = {
  afi: AFI_IPV4,
  safi: SAFI_UNICAST,
  name: 'ipv4-unicast',
  decodeNlri: decodeIpv4Nlri,
  // 4: RFC 4760; 16 and 32: an IPv6 next hop for IPv4 NLRI (RFC 8950).
  nextHopLengths: [4, 16, 32],
  decodeNextHops: (b, start, len) => (len === 4 ? [ipv4Text(b, start)] : decodeV6Hops(b, start, len)),
  encodeNextHops: (hops) => encodeHops(hops, 2),
};

export const IPV6_UNICAST: FamilyCodec = {
  afi: AFI_IPV6,
  safi: SAFI_UNICAST,
  name: 'ipv6-unicast',
  decodeNlri: decodeIpv6Nlri,
  // RFC 2545 §3: a global address, optionally followed by a link-local one.
  nextHopLengths: [16, 32],
  decodeNextHops: decodeV6Hops,
  encodeNextHops: (hops) => encodeHops(hops, 2),
};

export const FAMILIES: ReadonlyMap<AfiSafiKey, FamilyCodec> = new Map([
  [afiSafiKey(AFI_IPV4, SAFI_UNICAST), IPV4_UNICAST],
  [afiSafiKey(AFI_IPV6, SAFI_UNICAST), IPV6_UNICAST],
]);

export function familyCodec(afi: number, safi: number): FamilyCodec | undefined {
  return FAMILIES.get(afiSafiKey(afi, safi));
}
