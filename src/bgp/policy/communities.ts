/**
 * Community values as operators write them ("65000:100" for RFC 1997, "65000:1:2" for RFC 8092
 * large communities — Calico's BGPConfiguration `communities[].value` format) and as the wire
 * model holds them (a 32-bit number; three 32-bit numbers).
 */
import { UserError } from '../../util/errors.js';
import type { LargeCommunity } from '../wire/types.js';

const U16 = 0xffff;
const U32 = 0xffffffff;

function part(text: string, max: number, whole: string): number {
  if (!/^\d+$/.test(text) || Number(text) > max) {
    throw new UserError(`community "${whole}": "${text}" is not a number from 0 to ${max}`, { code: 'E_BAD_COMMUNITY' });
  }
  return Number(text);
}

/** "aa:nn" (each 0..65535) to the RFC 1997 32-bit value. */
export function parseCommunity(text: string): number {
  const parts = text.split(':');
  if (parts.length !== 2) throw new UserError(`community "${text}" must look like 65000:100`, { code: 'E_BAD_COMMUNITY' });
  return part(parts[0]!, U16, text) * 65536 + part(parts[1]!, U16, text);
}

/** "global:local1:local2" (each 0..2^32-1) to an RFC 8092 large community. */
export function parseLargeCommunity(text: string): LargeCommunity {
  const parts = text.split(':');
  if (parts.length !== 3) {
    throw new UserError(`large community "${text}" must look like 65000:1:2`, { code: 'E_BAD_COMMUNITY' });
  }
  return { globalAdmin: part(parts[0]!, U32, text), localData1: part(parts[1]!, U32, text), localData2: part(parts[2]!, U32, text) };
}

export function formatCommunity(c: number): string {
  return `${Math.floor(c / 65536)}:${c % 65536}`;
}

export function formatLargeCommunity(c: LargeCommunity): string {
  return `${c.globalAdmin}:${c.localData1}:${c.localData2}`;
}

/** Calico writes both kinds in one list; this splits them by the number of colons. */
export function parseAnyCommunity(text: string): { standard: number } | { large: LargeCommunity } {
  return text.split(':').length === 3 ? { large: parseLargeCommunity(text) } : { standard: parseCommunity(text) };
}
