/**
 * Calico IPAM (calico-ipam) on etcd v3, shared by the lab (its stand-in for the CNI plugin) and
 * the agent's node startup (tunnel addresses, src/node): node-affine
 * blocks carved from a pool, one allocation per pod, handles that let a pod's addresses be
 * released without knowing them. The JSON shapes are libcalico-go's model
 * (lib/backend/model/block.go, block_affinity.go, ipam_handle.go), so the agent reads exactly
 * what a real cluster holds.
 *
 * The rules here are storage-neutral (store.ts): every write names the version it read (an etcd
 * mod revision, a Kubernetes resourceVersion), so two allocations racing on one block cannot both
 * win; the loser re-reads and retries. etcd-store.ts and datastore/k8s/ipam-writer.ts store them.
 */
import type { Etcd3 } from 'etcd3';
import { UserError } from '../util/errors.js';
import { EtcdIpamStore } from './etcd-store.js';
import type { IpamStore } from './store.js';

/** libcalico-go AllocationBlock, JSON field names as stored. */
export interface AllocationBlock {
  cidr: string;
  /** "host:<node>" when affine to a node. */
  affinity: string | null;
  /** Per ordinal: index into attributes, or null when free. */
  allocations: (number | null)[];
  /** Free ordinals in the order they will be handed out. */
  unallocated: number[];
  attributes: AllocationAttribute[];
  sequenceNumber: number;
  sequenceNumberForAllocation: Record<string, number>;
  deleted: boolean;
}

export interface AllocationAttribute {
  handle_id: string | null;
  secondary: Record<string, string> | null;
}

/** libcalico-go BlockAffinity. */
export interface BlockAffinity {
  state: 'confirmed' | 'pending' | 'pendingDeletion';
  deleted: boolean;
}

/** libcalico-go IPAMHandle: per block CIDR, how many addresses this handle holds there. */
export interface IpamHandle {
  block: Record<string, number>;
  deleted: boolean;
}

/** Optimistic-concurrency retries before giving up; each retry re-reads the block. */
const MAX_ATTEMPTS = 50;

// ---- IPv4 arithmetic ----

export function ipv4ToInt(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new UserError(`invalid IPv4 address ${JSON.stringify(ip)}`);
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

export function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function parseCidr(cidr: string): { base: number; len: number } {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr);
  if (!m) throw new UserError(`invalid IPv4 CIDR ${JSON.stringify(cidr)}`);
  const len = Number(m[2]);
  if (len < 0 || len > 32) throw new UserError(`invalid prefix length in ${cidr}`);
  const ip = ipv4ToInt(m[1]!);
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  if ((ip & mask) >>> 0 !== ip) throw new UserError(`${cidr} has host bits set`);
  return { base: ip, len };
}

/** The blocks of a pool, in address order. */
export function poolBlocks(poolCidr: string, blockSize: number): string[] {
  const { base, len } = parseCidr(poolCidr);
  if (blockSize < len || blockSize > 32) throw new UserError(`block size /${blockSize} does not fit pool ${poolCidr}`);
  const count = 2 ** (blockSize - len);
  const step = 2 ** (32 - blockSize);
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(`${intToIpv4(base + i * step)}/${blockSize}`);
  return out;
}

export function cidrContains(cidr: string, ip: string): boolean {
  const { base, len } = parseCidr(cidr);
  const size = 2 ** (32 - len);
  const v = ipv4ToInt(ip);
  return v >= base && v < base + size;
}

// ---- Pure block operations (unit-tested) ----

export function newBlock(cidr: string, node: string): AllocationBlock {
  const { len } = parseCidr(cidr);
  const size = 2 ** (32 - len);
  return {
    cidr,
    affinity: `host:${node}`,
    allocations: new Array<number | null>(size).fill(null),
    unallocated: Array.from({ length: size }, (_, i) => i),
    attributes: [],
    sequenceNumber: 0,
    sequenceNumberForAllocation: {},
    deleted: false,
  };
}

/** Takes the next free ordinal; returns the address, or undefined when the block is full. */
export function allocateInBlock(b: AllocationBlock, handleId: string, secondary: Record<string, string>): string | undefined {
  const ord = b.unallocated.shift();
  if (ord === undefined) return undefined;
  b.attributes.push({ handle_id: handleId, secondary });
  b.allocations[ord] = b.attributes.length - 1;
  b.sequenceNumberForAllocation[String(ord)] = b.sequenceNumber;
  b.sequenceNumber++;
  return intToIpv4(parseCidr(b.cidr).base + ord);
}

/** Frees every address held by a handle; drops attributes nothing refers to any more. Returns the count. */
export function releaseHandleInBlock(b: AllocationBlock, handleId: string): number {
  let released = 0;
  b.allocations.forEach((attrIdx, ord) => {
    if (attrIdx === null || b.attributes[attrIdx]?.handle_id !== handleId) return;
    b.allocations[ord] = null;
    b.unallocated.push(ord);
    delete b.sequenceNumberForAllocation[String(ord)];
    released++;
  });
  if (released === 0) return 0;
  // Compact attributes and renumber the references, as libcalico-go does after a release.
  const used = [...new Set(b.allocations.filter((a): a is number => a !== null))].sort((x, y) => x - y);
  const remap = new Map(used.map((old, i) => [old, i]));
  b.attributes = used.map((i) => b.attributes[i]!);
  b.allocations = b.allocations.map((a) => (a === null ? null : remap.get(a)!));
  b.sequenceNumber++;
  return released;
}

export function blockAllocatedCount(b: AllocationBlock): number {
  return b.allocations.filter((a) => a !== null).length;
}

// ---- allocation over a store (etcd v3 or Kubernetes CRDs, src/ipam/store.ts) ----

export interface AssignRequest {
  node: string;
  handleId: string;
  pool: { cidr: string; blockSize: number };
  /** Stored as the allocation's secondary attributes (namespace, node, pod, timestamp). */
  attributes: Record<string, string>;
}

export interface AssignResult {
  ip: string;
  block: string;
}

/** Assigns one address to handleId from a block affine to node, claiming a new block if needed. */
export async function assignIpIn(store: IpamStore, req: AssignRequest): Promise<AssignResult> {
  const inPool = new Set(poolBlocks(req.pool.cidr, req.pool.blockSize));
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const affine = (await store.affineBlockCidrs(req.node)).filter((c) => inPool.has(c)).sort((a, b) => ipv4ToInt(a.split('/')[0]!) - ipv4ToInt(b.split('/')[0]!));
    let raced = false;
    for (const cidr of affine) {
      const blk = await store.getBlock(cidr);
      // The block is the truth: an affinity whose block is missing or held by another node
      // (a claim that lost, a crash between the two writes) gives no addresses.
      if (!blk || blk.value.affinity !== `host:${req.node}` || blk.value.unallocated.length === 0) continue;
      const ip = allocateInBlock(blk.value, req.handleId, req.attributes);
      if (!ip) continue;
      const handle = await store.getHandle(req.handleId);
      const hv: IpamHandle = handle?.value ?? { block: {}, deleted: false };
      hv.block[cidr] = (hv.block[cidr] ?? 0) + 1;
      if (await store.commitAllocation(cidr, blk, req.handleId, { value: hv, revision: handle?.revision })) return { ip, block: cidr };
      raced = true;
      break;
    }
    if (raced) continue;
    // No affine block with room: claim the first unclaimed block of the pool for this node.
    const taken = new Set(await store.claimedBlockCidrs());
    const free = [...inPool].find((c) => !taken.has(c));
    if (!free) throw new UserError(`IP pool ${req.pool.cidr} is exhausted: every /${req.pool.blockSize} block is claimed and node ${req.node}'s blocks are full`);
    // Whether we won or another allocator claimed it first, the next pass sees the result.
    await store.claimBlock(req.node, free, newBlock(free, req.node));
  }
  throw new Error(`IPAM: gave up after ${MAX_ATTEMPTS} attempts to assign an address on ${req.node} (heavy contention?)`);
}

/** Releases every address held by handleId and deletes the handle. Returns the count released. */
export async function releaseByHandleIn(store: IpamStore, handleId: string): Promise<number> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const handle = await store.getHandle(handleId);
    if (!handle) return 0;
    let released = 0;
    let raced = false;
    for (const cidr of Object.keys(handle.value.block)) {
      const blk = await store.getBlock(cidr);
      if (!blk) continue;
      const n = releaseHandleInBlock(blk.value, handleId);
      if (n === 0) continue;
      if (!(await store.putBlock(cidr, blk))) {
        raced = true;
        break;
      }
      released += n;
    }
    if (raced) continue;
    if (await store.deleteHandle(handleId, handle.revision)) return released;
  }
  throw new Error(`IPAM: gave up after ${MAX_ATTEMPTS} attempts to release handle ${handleId}`);
}

/** The addresses a handle holds now, read from the blocks it names. */
export async function addressesOfHandleIn(store: IpamStore, handleId: string): Promise<string[]> {
  const h = await store.getHandle(handleId);
  if (!h) return [];
  const out: string[] = [];
  for (const cidr of Object.keys(h.value.block)) {
    const b = await store.getBlock(cidr);
    if (!b) continue;
    const base = parseCidr(b.value.cidr).base;
    b.value.allocations.forEach((idx, ord) => {
      if (idx !== null && b.value.attributes[idx]?.handle_id === handleId) out.push(intToIpv4(base + ord));
    });
  }
  return out;
}

// ---- etcd v3 entry points (the lab and etcd-mode node startup) ----

export function assignIp(client: Etcd3, req: AssignRequest): Promise<AssignResult> {
  return assignIpIn(new EtcdIpamStore(client), req);
}

export function releaseByHandle(client: Etcd3, handleId: string): Promise<number> {
  return releaseByHandleIn(new EtcdIpamStore(client), handleId);
}
