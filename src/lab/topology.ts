/**
 * Builds the lab's network out of namespaces, a bridge and veths. Every link is created *inside*
 * a lab namespace (`ip -n <fabric> link add ... peer ... netns <member>`), so nothing, not even
 * for a moment, appears in the root namespace; only the namespace files themselves do.
 */
import { ipIn, netnsAdd, sysctlIn } from './netns.js';
import { bridgeIp, FABRIC_PREFIX_LEN, UPLINK_IFACE } from './names.js';

/** Bridge name of fabric subnet s inside the fabric namespace. */
export function bridgeName(subnet: number): string {
  return `br${subnet}`;
}

/** Creates a namespace with loopback up; calls `created` first so a failure can be rolled back. */
export async function makeNetns(ns: string, created: (ns: string) => void): Promise<void> {
  await netnsAdd(ns);
  created(ns);
  await ipIn(ns, 'link', 'set', 'lo', 'up');
}

/** The fabric: one bridge per subnet, carrying the first address of the subnet. */
export async function buildFabric(fabricNs: string, subnets: number): Promise<void> {
  for (let s = 0; s < subnets; s++) {
    const br = bridgeName(s);
    // STP off and forward delay 0: the ports must forward at once, there are no loops to break.
    await ipIn(fabricNs, 'link', 'add', br, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0');
    await ipIn(fabricNs, 'addr', 'add', `${bridgeIp(s)}/${FABRIC_PREFIX_LEN}`, 'dev', br);
    await ipIn(fabricNs, 'link', 'set', br, 'up');
  }
}

/**
 * Joins a member namespace to the fabric: veth `fabricIface` on the bridge of `subnet`, peer
 * `iface` (default eth0) in the member with address ip/24.
 */
export async function attachToFabric(o: {
  fabricNs: string;
  memberNs: string;
  fabricIface: string;
  subnet: number;
  ip: string;
  iface?: string;
}): Promise<void> {
  const iface = o.iface ?? UPLINK_IFACE;
  await ipIn(o.fabricNs, 'link', 'add', o.fabricIface, 'type', 'veth', 'peer', 'name', iface, 'netns', o.memberNs);
  await ipIn(o.fabricNs, 'link', 'set', o.fabricIface, 'master', bridgeName(o.subnet));
  await ipIn(o.fabricNs, 'link', 'set', o.fabricIface, 'up');
  await ipIn(o.memberNs, 'addr', 'add', `${o.ip}/${FABRIC_PREFIX_LEN}`, 'dev', iface);
  await ipIn(o.memberNs, 'link', 'set', iface, 'up');
}

/** A node namespace forwards (it routes for its pods); the root namespace's sysctls are never touched. */
export async function enableForwarding(ns: string): Promise<void> {
  await sysctlIn(ns, 'net.ipv4.ip_forward', '1');
}

/** A member's default route, via its subnet's gateway on the fabric. */
export async function addDefaultRoute(ns: string, via: string): Promise<void> {
  await ipIn(ns, 'route', 'add', 'default', 'via', via, 'dev', UPLINK_IFACE);
}
