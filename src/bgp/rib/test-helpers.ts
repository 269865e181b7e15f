/**
 * Builders for RIB unit tests: UPDATE messages and peers written out by hand, independent of the
 * RIB's own code, so a test compares the RIB against what the RFC says rather than against
 * itself.
 */
import { MessageType, type Nlri, type PathAttributes, type UpdateMessage } from '../wire/types.js';
import { Rib } from './rib.js';
import type { PeerConfig } from './types.js';

export const LOCAL_AS = 64512;
export const ROUTER_ID = '192.0.2.1';

export function update(nlri: (string | Nlri)[], attrs: PathAttributes, withdrawn: (string | Nlri)[] = []): UpdateMessage {
  const toNlri = (x: string | Nlri): Nlri => (typeof x === 'string' ? { prefix: x } : x);
  return { type: MessageType.Update, withdrawn: withdrawn.map(toNlri), nlri: nlri.map(toNlri), attrs };
}

export function withdrawal(prefixes: (string | Nlri)[]): UpdateMessage {
  return update([], {}, prefixes);
}

/** iBGP-style attributes: ORIGIN IGP, empty AS_PATH, the given next hop. */
export function ibgpAttrs(nextHop: string, extra: PathAttributes = {}): PathAttributes {
  return { origin: 0, asPath: [], nextHop, localPref: 100, ...extra };
}

/** eBGP-style attributes from AS `asns[0]`. */
export function ebgpAttrs(nextHop: string, asns: number[], extra: PathAttributes = {}): PathAttributes {
  return { origin: 0, asPath: [{ type: 2, asns }], nextHop, ...extra };
}

export interface TestPeer {
  id: string;
  address: string;
  asn: number;
  routerId: string;
  localAddress?: string;
  config?: Partial<PeerConfig>;
}

export function newRib(opts: { clusterId?: string; alwaysCompareMed?: boolean } = {}): Rib {
  return new Rib({ localAs: LOCAL_AS, routerId: ROUTER_ID, ...opts });
}

/** Adds and brings up a peer (IPv4 + IPv6 unicast). */
export function up(rib: Rib, p: TestPeer): void {
  rib.addPeer(p.id, { address: p.address, asn: p.asn, ...p.config });
  rib.peerUp(p.id, {
    routerId: p.routerId,
    localAddress: p.localAddress ?? '192.0.2.1',
    localAddressV6: '2001:db8::1',
    families: new Set(['1/1', '2/1']),
  });
}

/** Everything pending for a peer, as prefix → attributes (announce) or null (withdraw). */
export function drainAll(rib: Rib, peerId: string): Map<string, Readonly<PathAttributes> | null> {
  const out = new Map<string, Readonly<PathAttributes> | null>();
  let more = true;
  while (more) {
    const d = rib.drainAdjRibOut(peerId);
    for (const g of d.announce) for (const p of g.prefixes) out.set(p, g.attrs);
    for (const w of d.withdraw) for (const p of w.prefixes) out.set(p, null);
    more = d.more;
  }
  return out;
}
