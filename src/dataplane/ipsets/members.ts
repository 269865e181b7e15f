/**
 * IP set members in exactly the text `ipset save` prints for them, so that what the calc asks for
 * and what a read-back finds compare as plain strings: an exact diff, no parse of the kernel's
 * side, and a restart that finds the same members writes nothing.
 *
 * What the tool prints, observed with ipset v7.17 in a scratch namespace (the unit test
 * members.test.ts holds these cases):
 * - hash:net prints a full-length prefix as a bare address (`10.0.0.1/32` → `10.0.0.1`,
 *   `fd00::1/128` → `fd00::1`) and clears host bits (`10.0.2.5/24` → `10.0.2.0/24`).
 * - hash:net refuses a /0 ("The value of the CIDR parameter of the IP address is invalid"); the
 *   caller stores the whole space as its two /1 halves (WHOLE_SPACE).
 * - IPv6 comes out of glibc's inet_ntop: lowercase hex without leading zeros, the longest run of
 *   two or more zero groups shown as `::` (the first of equal runs), and the last 32 bits dotted
 *   when the first five groups are zero and the sixth is ffff (`::ffff:1.2.3.4`) or the first six
 *   are zero and the seventh is not (`::1.2.3.4`, and `::1:2` prints `::0.1.0.2`), but `::2`,
 *   `::ffff` and `::1:0:2` stay hex. That is RFC 5952 except for the dotted tail.
 * - hash:ip,port prints `addr,proto:port` with the protocol's lowercase name and a decimal port:
 *   `TCP:80` and `6:22` print as `tcp:80` and `tcp:22`; it refuses `tcp:080`. Felix's members
 *   only ever carry tcp, udp or sctp, so only those are accepted.
 * - hash:ip and hash:ip,port refuse the all-zero address ("Null-valued element"); hash:net takes
 *   `0.0.0.0` and `::` as host entries.
 * - IPv4 with a leading zero is read as octal (`010.0.0.9` is stored as `8.0.0.9`): refused here.
 *
 * IPv4 is parsed by hand, character by character: it is the hot path (100,000 members per set
 * at the scale target) and a strict parse is also the canonical check.
 */
import type { IpSetType, IpVersion } from '../../proto/policy.js';

/** The /0 of each family and the two /1s a hash:net holds instead. */
export const WHOLE_SPACE: Readonly<Record<IpVersion, { whole: string; halves: readonly [string, string] }>> = {
  4: { whole: '0.0.0.0/0', halves: ['0.0.0.0/1', '128.0.0.0/1'] },
  6: { whole: '::/0', halves: ['::/1', '8000::/1'] },
};

const PROTOCOLS: ReadonlySet<string> = new Set(['tcp', 'udp', 'sctp']);

/** Family of a member as the calc writes it: the address part has a colon iff it is IPv6. */
export function memberIpVersion(type: IpSetType, member: string): IpVersion {
  const colon = member.indexOf(':');
  if (colon < 0) return 4;
  if (type !== 'ip-port') return 6;
  const comma = member.indexOf(',');
  return comma < 0 || colon < comma ? 6 : 4;
}

/** The member as `ipset save` prints it; throws if the kernel could not hold it. */
export function canonicalMember(type: IpSetType, member: string): string {
  switch (type) {
    case 'ip':
      return canonicalIp(member, member);
    case 'net':
      return canonicalNet(member);
    case 'ip-port':
      return canonicalIpPort(member);
  }
}

function bad(member: string, type: IpSetType, why: string): Error {
  return new Error(`invalid ${type} IP set member ${JSON.stringify(member)}: ${why}`);
}

function canonicalIp(text: string, member: string, type: IpSetType = 'ip'): string {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  if (addrText.includes(':')) {
    const w = parseV6(addrText);
    if (!w) throw bad(member, type, 'not an IP address');
    if (slash >= 0 && parseLength(text, slash + 1, 128) !== 128) throw bad(member, type, 'only a /128 is a single address');
    if (w.every((x) => x === 0)) throw bad(member, type, 'the kernel cannot store the all-zero address');
    return formatV6(w);
  }
  const a = parseV4(addrText, 0, addrText.length);
  if (a < 0) throw bad(member, type, 'not an IP address');
  if (slash >= 0 && parseLength(text, slash + 1, 32) !== 32) throw bad(member, type, 'only a /32 is a single address');
  if (a === 0) throw bad(member, type, 'the kernel cannot store the all-zero address');
  return addrText;
}

function canonicalNet(member: string): string {
  const slash = member.indexOf('/');
  const addrText = slash < 0 ? member : member.slice(0, slash);
  if (addrText.includes(':')) {
    const w = parseV6(addrText);
    if (!w) throw bad(member, 'net', 'not an IP address');
    const len = slash < 0 ? 128 : parseLength(member, slash + 1, 128);
    if (len < 0) throw bad(member, 'net', 'bad prefix length');
    for (let i = 0; i < 8; i++) {
      const keep = Math.min(16, Math.max(0, len - 16 * i));
      w[i] = keep === 0 ? 0 : w[i]! & ((0xffff << (16 - keep)) & 0xffff);
    }
    return len === 128 ? formatV6(w) : `${formatV6(w)}/${len}`;
  }
  const a = parseV4(addrText, 0, addrText.length);
  if (a < 0) throw bad(member, 'net', 'not an IP address');
  if (slash < 0) return member;
  const len = parseLength(member, slash + 1, 32);
  if (len < 0) throw bad(member, 'net', 'bad prefix length');
  if (len === 32) return addrText;
  const masked = len === 0 ? 0 : a - (a % 2 ** (32 - len));
  // Already canonical (the usual case): no new string.
  if (masked === a && member.length - slash - 1 === String(len).length) return member;
  return `${formatV4(masked)}/${len}`;
}

function canonicalIpPort(member: string): string {
  const comma = member.indexOf(',');
  if (comma < 0) throw bad(member, 'ip-port', 'want addr,proto:port');
  const colon = member.indexOf(':', comma + 1);
  if (colon < 0) throw bad(member, 'ip-port', 'want addr,proto:port');
  const addr = canonicalIp(member.slice(0, comma), member, 'ip-port');
  let proto = member.slice(comma + 1, colon);
  if (!PROTOCOLS.has(proto)) {
    proto = proto.toLowerCase();
    if (!PROTOCOLS.has(proto)) throw bad(member, 'ip-port', 'protocol must be tcp, udp or sctp');
  }
  const port = parsePort(member, colon + 1);
  if (port < 0) throw bad(member, 'ip-port', 'port must be a number from 0 to 65535');
  return `${addr},${proto}:${port}`;
}

/** Decimal 0..65535 from `from` to the end, or -1. */
function parsePort(s: string, from: number): number {
  if (from >= s.length || s.length - from > 5) return -1;
  let n = 0;
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    n = n * 10 + (c - 48);
  }
  return n > 0xffff ? -1 : n;
}

/** A prefix length from `from` to the end, at most `max`, or -1. */
function parseLength(s: string, from: number, max: number): number {
  if (from >= s.length || s.length - from > 3) return -1;
  let n = 0;
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    n = n * 10 + (c - 48);
  }
  return n > max ? -1 : n;
}

/** Dotted-quad IPv4 in s[from, to) as an unsigned number, or -1 (leading zeros refused). */
export function parseV4(s: string, from: number, to: number): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
      continue;
    }
    if (c < 48 || c > 57) return -1;
    if (digits > 0 && octet === 0) return -1;
    octet = octet * 10 + (c - 48);
    if (octet > 255) return -1;
    digits++;
  }
  if (digits === 0 || dots !== 3) return -1;
  return value * 256 + octet;
}

function formatV4(n: number): string {
  return `${Math.floor(n / 0x1000000)}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** IPv6 text (optionally with a dotted IPv4 tail) as eight 16-bit groups, or undefined. */
export function parseV6(s: string): number[] | undefined {
  // The longest form is eight 4-digit groups, or six and a dotted quad (45 characters).
  if (s.length < 2 || s.length > 45) return undefined;
  const gap = s.indexOf('::');
  if (gap >= 0 && s.indexOf('::', gap + 1) >= 0) return undefined;
  const head = gap < 0 ? s : s.slice(0, gap);
  const tail = gap < 0 ? '' : s.slice(gap + 2);
  const h = head === '' ? [] : parseGroups(head, gap < 0);
  const t = tail === '' ? [] : parseGroups(tail, true);
  if (!h || !t) return undefined;
  if (gap < 0) return h.length === 8 ? h : undefined;
  if (h.length + t.length > 7) return undefined;
  return [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
}

function parseGroups(part: string, dottedLast: boolean): number[] | undefined {
  const groups = part.split(':');
  const out: number[] = [];
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    if (dottedLast && i === groups.length - 1 && g.includes('.')) {
      const v4 = parseV4(g, 0, g.length);
      if (v4 < 0) return undefined;
      out.push(Math.floor(v4 / 0x10000), v4 & 0xffff);
      continue;
    }
    if (g.length === 0 || g.length > 4) return undefined;
    let n = 0;
    for (let j = 0; j < g.length; j++) {
      const c = g.charCodeAt(j) | 0x20; // ASCII lowercase; digits are unchanged by it
      if (c >= 48 && c <= 57) n = n * 16 + (c - 48);
      else if (c >= 97 && c <= 102) n = n * 16 + (c - 87);
      else return undefined;
    }
    out.push(n);
  }
  return out;
}

/** Eight groups as glibc's inet_ntop writes them (see the module comment). */
export function formatV6(w: readonly number[]): string {
  let best = -1;
  let bestLen = 0;
  let run = -1;
  for (let i = 0; i < 8; i++) {
    if (w[i] !== 0) {
      run = -1;
      continue;
    }
    if (run < 0) run = i;
    if (i - run + 1 > bestLen) {
      best = run;
      bestLen = i - run + 1;
    }
  }
  if (bestLen < 2) best = -1;
  const dotted = best === 0 && (bestLen === 6 || (bestLen === 5 && w[5] === 0xffff));
  const end = dotted ? 6 : 8;
  let s = '';
  for (let i = 0; i < end; i++) {
    if (i === best) {
      s += '::';
      i += bestLen - 1;
      continue;
    }
    if (s !== '' && !s.endsWith(':')) s += ':';
    s += w[i]!.toString(16);
  }
  if (dotted) s += `${s.endsWith(':') ? '' : ':'}${w[6]! >> 8}.${w[6]! & 255}.${w[7]! >> 8}.${w[7]! & 255}`;
  return s;
}
