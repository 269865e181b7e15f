/**
 * calico-node's startup duties (not Felix's): before routing can work, this node's Node resource
 * must carry its address and AS, a pool must exist, and when a pool encapsulates, the node needs
 * a tunnel address from IPAM recorded on its Node. calico-node does this in its `startup` and
 * `allocateip` programs; tortie runs the same steps in-process, against a small NodeStore so the
 * rules here are unit-tested without etcd (etcd-store.ts is the real one).
 *
 * Rules kept from Calico:
 * - the Node is read-modify-written: only the fields we own change (bgp.ipv4Address, asNumber
 *   when AS is set, the tunnel address fields, vxlanTunnelMACAddr), everything else is kept;
 * - the default pool (CALICO_IPV4POOL_*) is created only when no pool exists at all;
 * - tunnel addresses come from IPAM under the handle `vxlan-tunnel-addr-<node>` /
 *   `ipip-tunnel-addr-<node>` with attributes {node, type: vxlanTunnelAddress|ipipTunnelAddress},
 *   from a pool with that encapsulation enabled; an address the Node already has that is still
 *   inside such a pool is kept (restarts never renumber a tunnel), and when no pool needs the
 *   tunnel any more the field is cleared (the IPAM address is released by Calico's GC, as there).
 */
import { ipv4InCidr } from './autodetect.js';
import { vxlanMac } from '../dataplane/vxlan-mac.js';
import type { Logger } from '../util/log.js';

/** A Node resource as stored (v3 shape), with the fields startup touches typed. */
export interface StoredNode {
  apiVersion: string;
  kind: 'Node';
  metadata: { name: string; labels?: Record<string, string>; [k: string]: unknown };
  spec: {
    bgp?: { ipv4Address?: string; asNumber?: number; ipv4IPIPTunnelAddr?: string; [k: string]: unknown };
    ipv4VXLANTunnelAddr?: string;
    vxlanTunnelMACAddr?: string;
    [k: string]: unknown;
  };
}

export interface PoolView {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; [k: string]: unknown };
  spec: { cidr: string; blockSize?: number; ipipMode?: string; vxlanMode?: string; disabled?: boolean; natOutgoing?: boolean; [k: string]: unknown };
}

export interface NodeStore {
  /** Read-modify-write of the Node; `mutate` returns undefined (or the same value) to write nothing. */
  updateNode(name: string, mutate: (n: StoredNode | undefined) => StoredNode | undefined): Promise<StoredNode | undefined>;
  listPools(): Promise<PoolView[]>;
  /** Creates the pool unless one with its name exists; false if it existed. */
  createPool(pool: PoolView): Promise<boolean>;
  addressesOfHandle(handleId: string): Promise<string[]>;
  assign(node: string, handleId: string, pool: { cidr: string; blockSize: number }, secondary: Record<string, string>): Promise<string>;
}

export interface StartupSettings {
  nodeName: string;
  /** `a.b.c.d/len`, or undefined to leave spec.bgp.ipv4Address as it is. */
  ipv4Cidr?: string;
  asNumber?: number;
  networkingBackend: 'bird' | 'vxlan' | 'none';
  defaultPool: { cidr: string; ipipMode: string; vxlanMode: string; natOutgoing: boolean };
}

/** Calico's default pool name and block size (calico-node startup.go). */
export const DEFAULT_POOL_NAME = 'default-ipv4-ippool';
export const DEFAULT_BLOCK_SIZE = 26;
export const VXLAN_HANDLE_PREFIX = 'vxlan-tunnel-addr-';
export const IPIP_HANDLE_PREFIX = 'ipip-tunnel-addr-';

const encapOn = (m: string | undefined): boolean => m === 'Always' || m === 'CrossSubnet';

/** The Node with our fields set; other fields untouched. Pure. */
export function mergeNode(cur: StoredNode | undefined, s: StartupSettings): StoredNode {
  const n: StoredNode = cur ?? {
    apiVersion: 'projectcalico.org/v3',
    kind: 'Node',
    metadata: { name: s.nodeName, creationTimestamp: new Date().toISOString() },
    spec: { orchRefs: [{ nodeName: s.nodeName, orchestrator: 'k8s' }] },
  };
  n.spec.bgp ??= {};
  if (s.ipv4Cidr) n.spec.bgp.ipv4Address = s.ipv4Cidr;
  if (s.asNumber !== undefined) n.spec.bgp.asNumber = s.asNumber;
  return n;
}

/** The pool calico-node creates from CALICO_IPV4POOL_* when there is none. Pure. */
export function defaultPool(s: StartupSettings): PoolView {
  // Calico refuses IPIP and VXLAN together; VXLAN wins here so the node still gets a working pool.
  const vxlan = s.defaultPool.vxlanMode;
  const ipip = encapOn(vxlan) ? 'Never' : s.defaultPool.ipipMode;
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'IPPool',
    metadata: { name: DEFAULT_POOL_NAME, creationTimestamp: new Date().toISOString() },
    spec: {
      cidr: s.defaultPool.cidr,
      blockSize: DEFAULT_BLOCK_SIZE,
      ipipMode: ipip,
      vxlanMode: vxlan,
      natOutgoing: s.defaultPool.natOutgoing,
      nodeSelector: 'all()',
      allowedUses: ['Workload', 'Tunnel'],
    },
  };
}

/** Which tunnel this node needs and from which pools. Pure. */
export function tunnelNeeds(pools: readonly PoolView[], backend: StartupSettings['networkingBackend']): { vxlan: PoolView[]; ipip: PoolView[] } {
  const v4 = pools.filter((p) => !p.spec.disabled && !p.spec.cidr.includes(':'));
  return {
    vxlan: backend === 'none' ? [] : v4.filter((p) => encapOn(p.spec.vxlanMode)),
    // IPIP routes come from BGP: without BIRD (backend vxlan/none) Calico gives no IPIP address.
    ipip: backend === 'bird' ? v4.filter((p) => encapOn(p.spec.ipipMode)) : [],
  };
}

export interface StartupResult {
  node: StoredNode | undefined;
  createdPool: boolean;
  vxlanTunnelAddr?: string;
  ipipTunnelAddr?: string;
}

/** Runs every duty once. Idempotent: a second run over a correct datastore writes nothing. */
export async function runStartup(store: NodeStore, s: StartupSettings, log: Logger): Promise<StartupResult> {
  let node = await store.updateNode(s.nodeName, (cur) => mergeNode(cur, s));
  if (!node) throw new Error(`Node ${s.nodeName} could not be written`);
  if (s.ipv4Cidr) log.info({ node: s.nodeName, ipv4Address: s.ipv4Cidr, asNumber: s.asNumber }, 'Node resource up to date');

  let pools = await store.listPools();
  let createdPool = false;
  if (pools.length === 0) {
    const p = defaultPool(s);
    createdPool = await store.createPool(p);
    if (createdPool) log.info({ pool: p.metadata.name, cidr: p.spec.cidr, ipipMode: p.spec.ipipMode, vxlanMode: p.spec.vxlanMode }, 'created the default IP pool (no pool existed)');
    pools = await store.listPools();
  }
  const result = await ensureTunnelAddresses(store, s, pools, log);
  node = result.node ?? node;
  return { ...result, node, createdPool };
}

async function pickAddress(store: NodeStore, s: StartupSettings, kind: 'vxlan' | 'ipip', current: string | undefined, pools: PoolView[], log: Logger): Promise<string | undefined> {
  if (pools.length === 0) return undefined;
  const inPool = (ip: string): boolean => pools.some((p) => ipv4InCidr(ip, p.spec.cidr));
  if (current && inPool(current)) return current;
  const handle = `${kind === 'vxlan' ? VXLAN_HANDLE_PREFIX : IPIP_HANDLE_PREFIX}${s.nodeName}`;
  // An address this handle already holds (a previous start died before writing the Node) is reused.
  const held = (await store.addressesOfHandle(handle)).find(inPool);
  if (held) return held;
  const pool = pools[0]!;
  const ip = await store.assign(s.nodeName, handle, { cidr: pool.spec.cidr, blockSize: pool.spec.blockSize ?? DEFAULT_BLOCK_SIZE }, {
    node: s.nodeName,
    type: kind === 'vxlan' ? 'vxlanTunnelAddress' : 'ipipTunnelAddress',
  });
  log.info({ kind, address: ip, pool: pool.metadata.name, handle }, `allocated the ${kind.toUpperCase()} tunnel address`);
  return ip;
}

/** Allocates/keeps/clears the tunnel addresses for the current pools and records them on the Node. */
export async function ensureTunnelAddresses(store: NodeStore, s: StartupSettings, pools: PoolView[], log: Logger): Promise<Omit<StartupResult, 'createdPool'>> {
  const need = tunnelNeeds(pools, s.networkingBackend);
  let node: StoredNode | undefined;
  await store.updateNode(s.nodeName, (cur) => (node = cur));
  const vx = await pickAddress(store, s, 'vxlan', node?.spec.ipv4VXLANTunnelAddr, need.vxlan, log);
  const ip = await pickAddress(store, s, 'ipip', node?.spec.bgp?.ipv4IPIPTunnelAddr, need.ipip, log);
  const written = await store.updateNode(s.nodeName, (cur) => {
    if (!cur) return undefined;
    if (vx) {
      cur.spec.ipv4VXLANTunnelAddr = vx;
      cur.spec.vxlanTunnelMACAddr ??= vxlanMac(s.nodeName);
    } else if (cur.spec.ipv4VXLANTunnelAddr) {
      log.info({ address: cur.spec.ipv4VXLANTunnelAddr }, 'no VXLAN pool any more: clearing the VXLAN tunnel address');
      delete cur.spec.ipv4VXLANTunnelAddr;
    }
    cur.spec.bgp ??= {};
    if (ip) cur.spec.bgp.ipv4IPIPTunnelAddr = ip;
    else if (cur.spec.bgp.ipv4IPIPTunnelAddr) delete cur.spec.bgp.ipv4IPIPTunnelAddr;
    return cur;
  });
  return { node: written, ...(vx ? { vxlanTunnelAddr: vx } : {}), ...(ip ? { ipipTunnelAddr: ip } : {}) };
}
