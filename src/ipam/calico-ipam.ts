/**
 * Calico IPAM (calico-ipam) on etcd v3, shared by the lab (its stand-in for the CNI plugin) and
 * the agent's node startup (tunnel addresses, src/node): node-affine
 * blocks carved from a pool, one allocation per pod, handles that let a pod's addresses be
 * released without knowing them. The JSON shapes are libcalico-go's model
 * (lib/backend/model/block.go, block_affinity.go, ipam_handle.go), so the agent reads exactly
 * what a real cluster holds.
 *
 * Every write is an etcd transaction that compares the mod revision read before it, so two
 * allocations racing on one block cannot both win; the loser re-reads and retries.
 */
import type { Etcd3 } from 'etcd3';
import { UserError } from '../util/errors.js';
import { blockAffinityKey, IPAM_PREFIX, ipamBlockKey, ipamHandleKey } from '../datastore/keys.js';

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

// ---- etcd ----

interface Versioned<T> {
  value: T;
  modRevision: string;
}

async function getJson<T>(client: Etcd3, key: string): Promise<Versioned<T> | undefined> {
  const res = await client.get(key).exec();
  const kv = res.kvs[0];
  if (!kv) return undefined;
  return { value: JSON.parse(kv.value.toString()) as T, modRevision: kv.mod_revision };
}

function blockCidrFromKey(key: string): string {
  const last = key.slice(key.lastIndexOf('/') + 1);
  const i = last.lastIndexOf('-');
  return `${last.slice(0, i)}/${last.slice(i + 1)}`;
}

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
export async function assignIp(client: Etcd3, req: AssignRequest): Promise<AssignResult> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const affinePrefix = `${IPAM_PREFIX}host/${req.node}/ipv4/block/`;
    const affine = (await client.getAll().prefix(affinePrefix).keys())
      .map(blockCidrFromKey)
      .filter((c) => poolBlocks(req.pool.cidr, req.pool.blockSize).includes(c))
      .sort((a, b) => ipv4ToInt(a.split('/')[0]!) - ipv4ToInt(b.split('/')[0]!));
    let raced = false;
    for (const cidr of affine) {
      const blk = await getJson<AllocationBlock>(client, ipamBlockKey(cidr));
      if (!blk || blk.value.unallocated.length === 0) continue;
      const ip = allocateInBlock(blk.value, req.handleId, req.attributes);
      if (!ip) continue;
      const handleKey = ipamHandleKey(req.handleId);
      const handle = await getJson<IpamHandle>(client, handleKey);
      const hv: IpamHandle = handle?.value ?? { block: {}, deleted: false };
      hv.block[cidr] = (hv.block[cidr] ?? 0) + 1;
      const txn = client.if(ipamBlockKey(cidr), 'Mod', '==', blk.modRevision);
      const cond = handle ? txn.and(handleKey, 'Mod', '==', handle.modRevision) : txn.and(handleKey, 'Create', '==', 0);
      const r = await cond
        .then(client.put(ipamBlockKey(cidr)).value(JSON.stringify(blk.value)), client.put(handleKey).value(JSON.stringify(hv)))
        .commit();
      if (r.succeeded) return { ip, block: cidr };
      raced = true;
      break;
    }
    if (raced) continue;
    // No affine block with room: claim the first unclaimed block of the pool for this node.
    const taken = new Set((await client.getAll().prefix(`${IPAM_PREFIX}assignment/ipv4/block/`).keys()).map(blockCidrFromKey));
    const free = poolBlocks(req.pool.cidr, req.pool.blockSize).find((c) => !taken.has(c));
    if (!free) throw new UserError(`IP pool ${req.pool.cidr} is exhausted: every /${req.pool.blockSize} block is claimed and node ${req.node}'s blocks are full`);
    const affinity: BlockAffinity = { state: 'confirmed', deleted: false };
    await client
      .if(ipamBlockKey(free), 'Create', '==', 0)
      .and(blockAffinityKey(req.node, free), 'Create', '==', 0)
      .then(
        client.put(blockAffinityKey(req.node, free)).value(JSON.stringify(affinity)),
        client.put(ipamBlockKey(free)).value(JSON.stringify(newBlock(free, req.node))),
      )
      .commit();
    // Whether we won or another allocator claimed it first, the next pass sees the result.
  }
  throw new Error(`IPAM: gave up after ${MAX_ATTEMPTS} attempts to assign an address on ${req.node} (heavy contention?)`);
}

/** Releases every address held by handleId and deletes the handle. Returns the count released. */
export async function releaseByHandle(client: Etcd3, handleId: string): Promise<number> {
  const handleKey = ipamHandleKey(handleId);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const handle = await getJson<IpamHandle>(client, handleKey);
    if (!handle) return 0;
    let released = 0;
    let raced = false;
    for (const cidr of Object.keys(handle.value.block)) {
      const blk = await getJson<AllocationBlock>(client, ipamBlockKey(cidr));
      if (!blk) continue;
      const n = releaseHandleInBlock(blk.value, handleId);
      if (n === 0) continue;
      const r = await client
        .if(ipamBlockKey(cidr), 'Mod', '==', blk.modRevision)
        .then(client.put(ipamBlockKey(cidr)).value(JSON.stringify(blk.value)))
        .commit();
      if (!r.succeeded) {
        raced = true;
        break;
      }
      released += n;
    }
    if (raced) continue;
    const r = await client.if(handleKey, 'Mod', '==', handle.modRevision).then(client.delete().key(handleKey)).commit();
    if (r.succeeded) return released;
  }
  throw new Error(`IPAM: gave up after ${MAX_ATTEMPTS} attempts to release handle ${handleId}`);
}
