/**
 * Packet mark bits, allocated from IptablesMarkMask the way Felix's dataplane driver does
 * (felix/dataplane/driver.go with felix/markbits): single bits lowest first, in the order accept,
 * pass, drop, scratch0, scratch1, then the WireGuard bit when WireGuard is on (either family),
 * then every remaining bit as the endpoint mark (used with kube-proxy IPVS); the non-Calico
 * endpoint mark is the lowest endpoint bit, reserved only when IPVS support is on. With the
 * default mask 0xffff0000: accept 0x10000, pass 0x20000, drop 0x40000, scratch0 0x80000,
 * scratch1 0x100000, endpoint 0xffe00000.
 *
 * Also Felix's endpoint mark mapper (felix/rules/epmark.go): a per-interface value inside the
 * endpoint bits, chosen by FNV-1 hash of the interface name with linear probing. It is stateful
 * (which value an interface gets depends on who asked before), so the caller keeps one instance
 * for the life of the process, as Felix does.
 */

export const DEFAULT_MARK_MASK = 0xffff0000;

export interface MarkBits {
  readonly accept: number;
  readonly pass: number;
  /** 0 means "no drop bit": deny rules then drop directly (Felix before flow logs). */
  readonly drop: number;
  readonly scratch0: number;
  readonly scratch1: number;
  /** 0 when WireGuard is off. */
  readonly wireguard: number;
  readonly endpoint: number;
  /** 0 unless kube-proxy IPVS support is on. */
  readonly nonCaliEndpoint: number;
}

/** Go's `%#x`: `0x` and lower-case hex, `0x0` for zero. */
export function goHex(n: number): string {
  return '0x' + (n >>> 0).toString(16);
}

function bitsOf(mask: number): number[] {
  const out: number[] = [];
  for (let shift = 0; shift < 32; shift++) {
    const bit = (1 << shift) >>> 0;
    if ((mask & bit) >>> 0 !== 0) out.push(bit);
  }
  return out;
}

export interface MarkAllocationOptions {
  readonly wireguard?: boolean;
  readonly kubeIpvs?: boolean;
}

export function allocateMarkBits(mask: number = DEFAULT_MARK_MASK, opts: MarkAllocationOptions = {}): MarkBits {
  const free = bitsOf(mask >>> 0);
  const next = (): number => free.shift() ?? 0;
  const accept = next();
  const pass = next();
  const drop = next();
  const scratch0 = next();
  const scratch1 = next();
  const wireguard = opts.wireguard ? next() : 0;
  if (accept === 0 || pass === 0 || scratch0 === 0 || scratch1 === 0) {
    throw new Error(`mark mask ${goHex(mask)} has too few bits: Felix needs accept, pass, drop, scratch0 and scratch1`);
  }
  if (opts.wireguard && wireguard === 0) throw new Error(`mark mask ${goHex(mask)} has no bit left for WireGuard`);
  let endpoint = 0;
  for (const b of free) endpoint = (endpoint | b) >>> 0;
  if (opts.kubeIpvs && endpoint === 0) throw new Error(`mark mask ${goHex(mask)} has no bits left for the IPVS endpoint mark`);
  const nonCaliEndpoint = opts.kubeIpvs ? (free[0] ?? 0) : 0;
  return { accept, pass, drop, scratch0, scratch1, wireguard, endpoint, nonCaliEndpoint };
}

/** Bits Felix clears at the start of its top-level chains: accept, pass and the scratch bits. */
export function allCalicoMarkBits(m: MarkBits): number {
  return (m.accept | m.pass | m.scratch0 | m.scratch1) >>> 0;
}

/** Spreads the bits of n over the set bits of mask, lowest first. */
export function mapNumberToMark(mask: number, n: number): number {
  const bits = bitsOf(mask);
  if (n >= 2 ** bits.length) throw new Error(`${n} does not fit in mark mask ${goHex(mask)}`);
  let mark = 0;
  bits.forEach((bit, i) => {
    if (Math.floor(n / 2 ** i) % 2 === 1) mark = (mark | bit) >>> 0;
  });
  return mark;
}

export function mapMarkToNumber(mask: number, mark: number): number {
  if (((mark & mask) >>> 0) !== mark >>> 0) throw new Error(`mark ${goHex(mark)} is outside mask ${goHex(mask)}`);
  let n = 0;
  bitsOf(mask).forEach((bit, i) => {
    if ((mark & bit) >>> 0 !== 0) n += 2 ** i;
  });
  return n;
}

/** 32-bit FNV-1 (multiply, then xor), Go's hash/fnv New32. */
export function fnv1_32(s: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(s, 'utf8')) {
    h = Math.imul(h, 0x01000193) >>> 0;
    h = (h ^ byte) >>> 0;
  }
  return h;
}

/** Felix's name for the reserved non-Calico endpoint. */
const PSEUDO_NON_CALI_ENDPOINT = '/cali/Pseudo/NonCali/Endpoint/';

export class EndpointMarkMapper {
  private readonly positions: number;
  private readonly byName = new Map<string, { pos: number; mark: number }>();
  private readonly byPosition = new Map<number, string>();

  constructor(
    readonly mask: number,
    nonCaliMark: number,
  ) {
    this.positions = 2 ** bitsOf(mask).length;
    if (nonCaliMark !== 0) this.setEndpointMark(PSEUDO_NON_CALI_ENDPOINT, nonCaliMark);
  }

  getEndpointMark(name: string): number {
    if (name === '') throw new Error('endpoint mark for an empty interface name');
    const known = this.byName.get(name);
    if (known) return known.mark;
    const start = fnv1_32(name);
    for (let i = 0; i < this.positions; i++) {
      const pos = (start + i) % this.positions;
      if (pos === 0 || this.byPosition.has(pos)) continue;
      const mark = mapNumberToMark(this.mask, pos);
      this.byName.set(name, { pos, mark });
      this.byPosition.set(pos, name);
      return mark;
    }
    throw new Error('no endpoint mark left');
  }

  releaseEndpointMark(name: string): void {
    const known = this.byName.get(name);
    if (!known) return;
    this.byName.delete(name);
    this.byPosition.delete(known.pos);
  }

  /** Pins a mark found in the dataplane (e.g. on takeover) to an interface. */
  setEndpointMark(name: string, mark: number): void {
    const known = this.byName.get(name);
    if (known) {
      if (known.mark !== mark) throw new Error(`${name} already has mark ${goHex(known.mark)}`);
      return;
    }
    const pos = mapMarkToNumber(this.mask, mark);
    const holder = this.byPosition.get(pos);
    if (holder !== undefined && holder !== name) throw new Error(`mark ${goHex(mark)} already belongs to ${holder}`);
    this.byName.set(name, { pos, mark });
    this.byPosition.set(pos, name);
  }
}
