/**
 * NLRI prefixes (RFC 4271 §4.3 length + prefix encoding, RFC 7911 path identifiers) and their
 * canonical text.
 *
 * IPv4 NLRI decoding is the hottest loop of the speaker (a full table is a million prefixes), so it
 * builds the "a.b.c.d/len" string straight from the bytes through lookup tables, with no Buffer
 * or array allocated per prefix.
 *
 * Host bits: RFC 4271 says the trailing bits of the last octet are irrelevant, so the decoder masks
 * them (as BIRD and GoBGP do) and "10.0.0.1/24" on the wire becomes "10.0.0.0/24". The canonical
 * string is then the same key the RIB sees from every peer.
 *
 * IPv6 text is RFC 5952: lowercase, leading zeros dropped, the longest run of two or more zero
 * groups (the first one on a tie) compressed to "::". Like Node's WHATWG URL serialiser, IPv4-mapped
 * addresses are not printed in dotted form.
 */
import { UpdateErrorSubcode, NotifCode, type Nlri } from './types.js';
import { BgpDecodeError, BgpEncodeError } from './errors.js';
import { OCTET_TEXT, u32 } from './bytes.js';

/** "/0".."/128". */
const LEN_TEXT: readonly string[] = Array.from({ length: 129 }, (_, i) => '/' + i);
/** Mask for the last octet of a prefix, indexed by length % 8 (0 means a full octet). */
const LAST_OCTET_MASK = [0xff, 0x80, 0xc0, 0xe0, 0xf0, 0xf8, 0xfc, 0xfe];

function nlriError(code: string, message: string): BgpDecodeError {
  return new BgpDecodeError(code, NotifCode.UpdateMessageError, UpdateErrorSubcode.InvalidNetworkField, message);
}

/**
 * Decodes IPv4 NLRI in b[start, end) into `out`, and, when `keys` is given, each prefix's
 * `Ipv4PrefixKey` into `keys` at the same index (see `UpdateMessage.nlriKeys`). Throws Invalid
 * Network Field (RFC 7606 §5.3: session reset) on a length over 32 or a prefix overrunning the
 * field.
 */
export function decodeIpv4Nlri(b: Uint8Array, start: number, end: number, addPath: boolean, out: Nlri[], keys?: number[]): void {
  let o = start;
  while (o < end) {
    let pathId = 0;
    if (addPath) {
      if (end - o < 5) throw nlriError('NLRI_TRUNCATED', 'add-path NLRI truncated');
      pathId = u32(b, o);
      o += 4;
    }
    const len = b[o]!;
    if (len > 32) throw nlriError('NLRI_BAD_PREFIX_LENGTH', `IPv4 prefix length ${len} is more than 32`);
    const n = (len + 7) >> 3;
    if (o + 1 + n > end) throw nlriError('NLRI_TRUNCATED', `IPv4 /${len} prefix overruns the NLRI field`);
    let a = 0;
    let c = 0;
    let d = 0;
    let e = 0;
    if (n > 0) a = b[o + 1]!;
    if (n > 1) c = b[o + 2]!;
    if (n > 2) d = b[o + 3]!;
    if (n > 3) e = b[o + 4]!;
    const mask = LAST_OCTET_MASK[len & 7]!;
    if (n === 1) a &= mask;
    else if (n === 2) c &= mask;
    else if (n === 3) d &= mask;
    else if (n === 4) e &= mask;
    const prefix = OCTET_TEXT[a] + '.' + OCTET_TEXT[c] + '.' + OCTET_TEXT[d] + '.' + OCTET_TEXT[e] + LEN_TEXT[len];
    out.push(addPath ? { prefix, pathId } : { prefix });
    if (keys !== undefined) keys.push(ipv4PrefixKey(((a << 24) | (c << 16) | (d << 8) | e) >>> 0, len));
    o += 1 + n;
  }
}

/** RFC 5952 text of 16 bytes at b[o]. */
export function ipv6Text(b: Uint8Array, o: number): string {
  let bestStart = -1;
  let bestLen = 1;
  let runStart = -1;
  for (let i = 0; i < 8; i++) {
    const zero = b[o + 2 * i] === 0 && b[o + 2 * i + 1] === 0;
    if (zero) {
      if (runStart < 0) runStart = i;
      const runLen = i - runStart + 1;
      if (runLen > bestLen) {
        bestLen = runLen;
        bestStart = runStart;
      }
    } else runStart = -1;
  }
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      s += i === 0 ? '::' : ':';
      i += bestLen - 1;
      continue;
    }
    s += ((b[o + 2 * i]! << 8) | b[o + 2 * i + 1]!).toString(16);
    if (i < 7) s += ':';
  }
  return s;
}

/** Decodes IPv6 NLRI (inside MP_REACH / MP_UNREACH) in b[start, end) into `out`. */
export function decodeIpv6Nlri(b: Uint8Array, start: number, end: number, addPath: boolean, out: Nlri[]): void {
  const addr = new Uint8Array(16);
  let o = start;
  while (o < end) {
    let pathId = 0;
    if (addPath) {
      if (end - o < 5) throw nlriError('NLRI_TRUNCATED', 'add-path NLRI truncated');
      pathId = u32(b, o);
      o += 4;
    }
    const len = b[o]!;
    if (len > 128) throw nlriError('NLRI_BAD_PREFIX_LENGTH', `IPv6 prefix length ${len} is more than 128`);
    const n = (len + 7) >> 3;
    if (o + 1 + n > end) throw nlriError('NLRI_TRUNCATED', `IPv6 /${len} prefix overruns the NLRI field`);
    addr.fill(0);
    for (let i = 0; i < n; i++) addr[i] = b[o + 1 + i]!;
    if (n > 0) addr[n - 1]! &= LAST_OCTET_MASK[len & 7]!;
    const prefix = ipv6Text(addr, 0) + LEN_TEXT[len];
    out.push(addPath ? { prefix, pathId } : { prefix });
    o += 1 + n;
  }
}

// ---------------------------------------------------------------- IPv4 prefix keys

/**
 * An IPv4 prefix as one number: 2^len + (the prefix's top `len` bits), the position of the
 * prefix in a binary trie numbered breadth-first (0.0.0.0/0 is 1, its halves 2 and 3, ...).
 * It is what the RIB keys its IPv4 table with: a full table is a million prefixes, and a
 * Map insert with a number key costs about a third of one with a prefix string (measured:
 * docs/bgp-rib.md), because a string has to be flattened and hashed first.
 *
 * Every IPv4 prefix has exactly one key and every key in [1, 2^33) one prefix, so the key is
 * canonical (host bits are dropped). Prefixes up to /30 get a key below 2^31, which V8 keeps
 * as a small integer (no heap number per key); /31 and /32 keys are still exact doubles.
 */
export type Ipv4PrefixKey = number;

/** 2^i for i in 0..32, so the /31 and /32 cases need no Math.pow. */
const POW2: readonly number[] = Array.from({ length: 33 }, (_, i) => 2 ** i);

/** The key of addr/len (addr an unsigned or signed 32-bit address; host bits are ignored). */
export function ipv4PrefixKey(addr: number, len: number): Ipv4PrefixKey {
  if (len === 0) return 1;
  const top = addr >>> (32 - len);
  return len <= 30 ? (1 << len) | top : POW2[len]! + top;
}

/** The prefix length of a key. */
export function ipv4PrefixKeyLength(key: Ipv4PrefixKey): number {
  return key >= 4294967296 ? 32 : 31 - Math.clz32(key);
}

/** The network address of a key, as an unsigned 32-bit number. */
export function ipv4PrefixKeyAddress(key: Ipv4PrefixKey): number {
  const len = ipv4PrefixKeyLength(key);
  if (len === 0) return 0;
  if (len <= 30) return ((key ^ (1 << len)) << (32 - len)) >>> 0;
  return (key - POW2[len]!) * POW2[32 - len]!;
}

/** Canonical "a.b.c.d/len" of a key. */
export function ipv4PrefixKeyText(key: Ipv4PrefixKey): string {
  const len = ipv4PrefixKeyLength(key);
  const a = ipv4PrefixKeyAddress(key);
  return OCTET_TEXT[a >>> 24] + '.' + OCTET_TEXT[(a >>> 16) & 255] + '.' + OCTET_TEXT[(a >>> 8) & 255] + '.' + OCTET_TEXT[a & 255] + LEN_TEXT[len];
}

/**
 * The key of IPv4 prefix text ("10.0.0.0/24"; host bits are dropped), or -1 when the text is
 * not an IPv4 prefix. A character loop with no allocation: the RIB calls it per received prefix
 * when the decoder's keys (ipv4NlriKeys) are not at hand.
 */
export function ipv4PrefixKeyOf(s: string): Ipv4PrefixKey {
  let addr = 0;
  let part = 0;
  let val = 0;
  let digits = 0;
  const n = s.length;
  let i = 0;
  for (; i < n; i++) {
    const ch = s.charCodeAt(i);
    if (ch >= 48 && ch <= 57) {
      if (++digits > 3) return -1;
      val = val * 10 + (ch - 48);
    } else if (ch === 46 /* . */ || ch === 47 /* / */) {
      if (digits === 0 || val > 255 || (ch === 46) !== part < 3) return -1;
      addr = addr * 256 + val;
      part++;
      val = 0;
      digits = 0;
      if (ch === 47) break;
    } else return -1;
  }
  if (part !== 4 || i === n) return -1;
  const len = parsePrefixLength(s, i + 1);
  return len < 0 || len > 32 ? -1 : ipv4PrefixKey(addr, len);
}

// ---------------------------------------------------------------- text → bytes

/**
 * Parses IPv4 dotted-quad text into `out[o..o+4)`; returns false if it is not one. Hand-rolled
 * because the packer parses a million of these per full table.
 */
export function parseIpv4(s: string, start: number, end: number, out: Uint8Array, o: number): boolean {
  let part = 0;
  let val = 0;
  let digits = 0;
  for (let i = start; i < end; i++) {
    const ch = s.charCodeAt(i);
    if (ch === 46 /* . */) {
      if (digits === 0 || part === 3) return false;
      out[o + part++] = val;
      val = 0;
      digits = 0;
    } else if (ch >= 48 && ch <= 57 && digits < 3) {
      val = val * 10 + (ch - 48);
      digits++;
      if (val > 255) return false;
    } else return false;
  }
  if (digits === 0 || part !== 3) return false;
  out[o + 3] = val;
  return true;
}

const GROUPS = new Uint16Array(8);
const V4_TAIL = new Uint8Array(4);

/**
 * Parses IPv6 text (with "::" and an optional trailing dotted quad) into 16 bytes at out[o];
 * returns false if it is not an IPv6 address. A character loop, no split/regex: the packer parses
 * one per IPv6 prefix.
 */
export function parseIpv6(s: string, out: Uint8Array, o: number): boolean {
  const len = s.length;
  if (len < 2 || len > 45) return false;
  let n = 0;
  let dbl = -1;
  let i = 0;
  if (s.charCodeAt(0) === 58 /* : */) {
    if (s.charCodeAt(1) !== 58) return false;
    dbl = 0;
    i = 2;
  }
  while (i < len) {
    if (n === 8) return false;
    let v = 0;
    let digits = 0;
    let j = i;
    for (; j < len; j++) {
      const c = s.charCodeAt(j);
      let d: number;
      if (c >= 48 && c <= 57) d = c - 48;
      else if (c >= 97 && c <= 102) d = c - 87;
      else if (c >= 65 && c <= 70) d = c - 55;
      else break;
      if (++digits > 4) return false;
      v = (v << 4) | d;
    }
    if (j < len && s.charCodeAt(j) === 46 /* . */) {
      // An embedded IPv4 address ends the text and fills the last two groups.
      if (n > 6 || !parseIpv4(s, i, len, V4_TAIL, 0)) return false;
      GROUPS[n++] = (V4_TAIL[0]! << 8) | V4_TAIL[1]!;
      GROUPS[n++] = (V4_TAIL[2]! << 8) | V4_TAIL[3]!;
      break;
    }
    if (digits === 0) return false;
    GROUPS[n++] = v;
    i = j;
    if (i === len) break;
    if (s.charCodeAt(i) !== 58) return false;
    i++;
    if (i === len) return false;
    if (s.charCodeAt(i) === 58) {
      if (dbl >= 0) return false;
      dbl = n;
      i++;
    }
  }
  if (dbl < 0 ? n !== 8 : n > 7) return false;
  const zeros = 8 - n;
  let k = 0;
  for (let g = 0; g < 8; g++) {
    const v = dbl >= 0 && g >= dbl && g < dbl + zeros ? 0 : GROUPS[k++]!;
    out[o + 2 * g] = v >> 8;
    out[o + 2 * g + 1] = v & 0xff;
  }
  return true;
}

/** Scratch buffer for one parsed address; encoders are synchronous so one suffices. */
const SCRATCH = new Uint8Array(16);

/**
 * Writes one prefix (optionally with a path id) into out[o]; returns the new offset. The caller
 * has checked room with `prefixWireSize`. Host bits are cleared.
 */
export function writePrefix(afi: number, prefix: string, pathId: number | undefined, out: Uint8Array, o: number): number {
  const slash = prefix.indexOf('/');
  const len = slash < 0 ? -1 : parsePrefixLength(prefix, slash + 1);
  const maxLen = afi === 1 ? 32 : 128;
  const ok = len >= 0 && len <= maxLen && (afi === 1 ? parseIpv4(prefix, 0, slash, SCRATCH, 0) : parseIpv6(prefix.slice(0, slash), SCRATCH, 0));
  if (!ok) throw new BgpEncodeError('ENCODE_PREFIX', `"${prefix}" is not an ${afi === 1 ? 'IPv4' : 'IPv6'} prefix`);
  if (pathId !== undefined) {
    out[o] = pathId >>> 24;
    out[o + 1] = (pathId >>> 16) & 0xff;
    out[o + 2] = (pathId >>> 8) & 0xff;
    out[o + 3] = pathId & 0xff;
    o += 4;
  }
  out[o++] = len;
  const n = (len + 7) >> 3;
  for (let i = 0; i < n; i++) out[o + i] = SCRATCH[i]!;
  if (n > 0) out[o + n - 1]! &= LAST_OCTET_MASK[len & 7]!;
  return o + n;
}

function parsePrefixLength(s: string, from: number): number {
  if (from >= s.length || s.length - from > 3) return -1;
  let v = 0;
  for (let i = from; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    if (ch < 48 || ch > 57) return -1;
    v = v * 10 + ch - 48;
  }
  return v;
}

/** Bytes `writePrefix` will use for this prefix (without parsing the address). */
export function prefixWireSize(prefix: string, addPath: boolean): number {
  const slash = prefix.indexOf('/');
  const len = slash < 0 ? -1 : parsePrefixLength(prefix, slash + 1);
  if (len < 0 || len > 128) throw new BgpEncodeError('ENCODE_PREFIX', `"${prefix}" has no valid prefix length`);
  return (addPath ? 5 : 1) + ((len + 7) >> 3);
}
