/**
 * Small helpers for reading and writing big-endian integers and addresses by index. The decoder
 * reads with these instead of Buffer slicing or DataView objects so that hot loops allocate nothing
 * and a bounds mistake shows up as `undefined` arithmetic the callers check for, never as a read
 * of another message's bytes.
 */

export function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

export function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

export function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v & 0xff;
}

export function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

/** "0".."255", so dotted quads are built by concatenation without number formatting. */
export const OCTET_TEXT: readonly string[] = Array.from({ length: 256 }, (_, i) => String(i));

export function ipv4Text(b: Uint8Array, o: number): string {
  return OCTET_TEXT[b[o]!] + '.' + OCTET_TEXT[b[o + 1]!] + '.' + OCTET_TEXT[b[o + 2]!] + '.' + OCTET_TEXT[b[o + 3]!];
}

/** Parses a dotted quad into 4 bytes at `o`; returns false when it is not one. */
export function putIpv4(text: string, out: Uint8Array, o: number): boolean {
  const parts = text.split('.');
  if (parts.length !== 4) return false;
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p)) return false;
    const n = Number(p);
    if (n > 255) return false;
    out[o + i] = n;
  }
  return true;
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
