/**
 * The words of Felix's iptables rules (felix/iptables match_builder.go and actions.go), as
 * argument lists. Felix writes long options and marks as `0x<hex>/0x<hex>` (Go's %#x, so `0x0`
 * for a zero mark but a bare `0` before the slash when clearing); the rule hashes depend on that
 * exact spelling, so nothing here may be "normalised" to what iptables-save prints.
 */
import { goHex } from './marks.js';

export type Args = readonly string[];

// ---- matches ----

export const markClear = (mark: number): Args => ['-m', 'mark', '--mark', `0/${goHex(mark)}`];
export const markNotClear = (mark: number): Args => ['-m', 'mark', '!', '--mark', `0/${goHex(mark)}`];
export const markMatchesWithMask = (mark: number, mask: number): Args => ['-m', 'mark', '--mark', `${goHex(mark)}/${goHex(mask)}`];
export const notMarkMatchesWithMask = (mark: number, mask: number): Args => ['-m', 'mark', '!', '--mark', `${goHex(mark)}/${goHex(mask)}`];
export const markSingleBitSet = (mark: number): Args => markMatchesWithMask(mark, mark);

export const inInterface = (iface: string): Args => ['--in-interface', iface];
export const outInterface = (iface: string): Args => ['--out-interface', iface];

export const conntrackState = (states: string): Args => ['-m', 'conntrack', '--ctstate', states];
export const notConntrackState = (states: string): Args => ['-m', 'conntrack', '!', '--ctstate', states];

export const protocol = (p: string | number): Args => ['-p', String(p)];
export const notProtocol = (p: string | number): Args => ['!', '-p', String(p)];

export const sourceNet = (net: string): Args => ['--source', net];
export const notSourceNet = (net: string): Args => ['!', '--source', net];
export const destNet = (net: string): Args => ['--destination', net];
export const notDestNet = (net: string): Args => ['!', '--destination', net];

export const sourceIpSet = (name: string): Args => ['-m', 'set', '--match-set', name, 'src'];
export const notSourceIpSet = (name: string): Args => ['-m', 'set', '!', '--match-set', name, 'src'];
export const destIpSet = (name: string): Args => ['-m', 'set', '--match-set', name, 'dst'];
export const notDestIpSet = (name: string): Args => ['-m', 'set', '!', '--match-set', name, 'dst'];
export const sourceIpPortSet = (name: string): Args => ['-m', 'set', '--match-set', name, 'src,src'];
export const notSourceIpPortSet = (name: string): Args => ['-m', 'set', '!', '--match-set', name, 'src,src'];
export const destIpPortSet = (name: string): Args => ['-m', 'set', '--match-set', name, 'dst,dst'];
export const notDestIpPortSet = (name: string): Args => ['-m', 'set', '!', '--match-set', name, 'dst,dst'];

export interface PortRange {
  readonly first: number;
  readonly last: number;
}

/** `80,443,8000:8080`: single ports bare, ranges `first:last`. */
export function multiport(ports: readonly PortRange[]): string {
  return ports.map((p) => (p.first === p.last ? String(p.first) : `${p.first}:${p.last}`)).join(',');
}

export const sourcePortRanges = (ports: readonly PortRange[]): Args => ['-m', 'multiport', '--source-ports', multiport(ports)];
export const notSourcePortRanges = (ports: readonly PortRange[]): Args => ['-m', 'multiport', '!', '--source-ports', multiport(ports)];
export const destPortRanges = (ports: readonly PortRange[]): Args => ['-m', 'multiport', '--destination-ports', multiport(ports)];
export const notDestPortRanges = (ports: readonly PortRange[]): Args => ['-m', 'multiport', '!', '--destination-ports', multiport(ports)];
export const sourcePorts = (...ports: number[]): Args => ['-m', 'multiport', '--source-ports', ports.join(',')];
export const destPorts = (...ports: number[]): Args => ['-m', 'multiport', '--destination-ports', ports.join(',')];
/** A single `--dport` (needs a preceding `-p udp`/`-p tcp`). */
export const destPort = (port: number): Args => ['--dport', String(port)];

export const icmpType = (t: number, code?: number): Args => ['-m', 'icmp', '--icmp-type', code === undefined ? String(t) : `${t}/${code}`];
export const notIcmpType = (t: number, code?: number): Args => ['-m', 'icmp', '!', '--icmp-type', code === undefined ? String(t) : `${t}/${code}`];
export const icmpv6Type = (t: number, code?: number): Args => ['-m', 'icmp6', '--icmpv6-type', code === undefined ? String(t) : `${t}/${code}`];
export const notIcmpv6Type = (t: number, code?: number): Args => ['-m', 'icmp6', '!', '--icmpv6-type', code === undefined ? String(t) : `${t}/${code}`];

export const srcAddrTypeLocal = (limitIfaceOut = false): Args => (limitIfaceOut ? ['-m', 'addrtype', '--src-type', 'LOCAL', '--limit-iface-out'] : ['-m', 'addrtype', '--src-type', 'LOCAL']);
export const notSrcAddrTypeLocal = (limitIfaceOut = false): Args =>
  limitIfaceOut ? ['-m', 'addrtype', '!', '--src-type', 'LOCAL', '--limit-iface-out'] : ['-m', 'addrtype', '!', '--src-type', 'LOCAL'];
export const dstAddrTypeLocal = (): Args => ['-m', 'addrtype', '--dst-type', 'LOCAL'];
export const rpfCheckFailed = (): Args => ['-m', 'rpfilter', '--invert', '--validmark'];

// ---- actions ----

export const accept = (): Args => ['--jump', 'ACCEPT'];
export const drop = (): Args => ['--jump', 'DROP'];
export const reject = (): Args => ['--jump', 'REJECT'];
export const ret = (): Args => ['--jump', 'RETURN'];
export const jump = (chain: string): Args => ['--jump', chain];
export const goTo = (chain: string): Args => ['--goto', chain];
export const noTrack = (): Args => ['--jump', 'NOTRACK'];
export const setMark = (mark: number): Args => ['--jump', 'MARK', '--set-mark', `${goHex(mark)}/${goHex(mark)}`];
export const setMaskedMark = (mark: number, mask: number): Args => ['--jump', 'MARK', '--set-mark', `${goHex(mark)}/${goHex(mask)}`];
export const clearMark = (mark: number): Args => ['--jump', 'MARK', '--set-mark', `0/${goHex(mark)}`];
export const log = (prefix: string): Args => ['--jump', 'LOG', '--log-prefix', `"${prefix}: "`, '--log-level', '5'];
export const nflog = (group: number, prefix: string, nflogSizeSupported: boolean, size = 80): Args => [
  '--jump',
  'NFLOG',
  '--nflog-group',
  String(group),
  '--nflog-prefix',
  prefix,
  nflogSizeSupported ? '--nflog-size' : '--nflog-range',
  String(size),
];
export const masquerade = (fullyRandom: boolean, toPorts?: string): Args => [
  '--jump',
  'MASQUERADE',
  ...(toPorts ? ['--to-ports', toPorts] : []),
  ...(fullyRandom ? ['--random-fully'] : []),
];
export const snat = (toAddr: string, fullyRandom: boolean): Args => ['--jump', 'SNAT', '--to-source', toAddr, ...(fullyRandom ? ['--random-fully'] : [])];
export const dnat = (toAddr: string, port?: number): Args => ['--jump', 'DNAT', '--to-destination', port ? `${toAddr}:${port}` : toAddr];

/** True for a bare RETURN, which Felix strips from the end of policy chains. */
export function isReturn(action: Args): boolean {
  return action.length === 2 && action[0] === '--jump' && action[1] === 'RETURN';
}
