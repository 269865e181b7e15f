/**
 * The storage calico-ipam needs, apart from the allocation rules: etcd v3 keeps blocks, affinities
 * and handles as keys compared by mod revision (etcd-store.ts); the Kubernetes datastore keeps them
 * as crd.projectcalico.org/v1 objects compared by resourceVersion (datastore/k8s/ipam-writer.ts).
 * Both give the same optimistic concurrency: every write names the version it read, and a write
 * that lost a race reports `false` so the allocator re-reads and tries again.
 */
import type { AllocationBlock, IpamHandle } from './calico-ipam.js';

/** A stored value and the opaque version it was read at (etcd mod revision / resourceVersion). */
export interface Versioned<T> {
  value: T;
  revision: string;
}

export interface IpamStore {
  /** CIDRs of the blocks whose affinity names this node (confirmed or not: the block decides). */
  affineBlockCidrs(node: string): Promise<string[]>;
  /** CIDRs of every block that exists, whoever holds it. */
  claimedBlockCidrs(): Promise<string[]>;
  getBlock(cidr: string): Promise<Versioned<AllocationBlock> | undefined>;
  getHandle(handleId: string): Promise<Versioned<IpamHandle> | undefined>;
  /**
   * Records one allocation: the block as changed, and the handle's new count. `handle.revision`
   * undefined means the handle must not exist yet. False when either changed since it was read
   * (nothing of this allocation stays written then).
   */
  commitAllocation(cidr: string, block: Versioned<AllocationBlock>, handleId: string, handle: { value: IpamHandle; revision: string | undefined }): Promise<boolean>;
  /**
   * Claims a free block for a node: the block (affine to node) and the node's affinity to it.
   * Resolves either way; the caller re-reads to see who won.
   */
  claimBlock(node: string, cidr: string, block: AllocationBlock): Promise<void>;
  /** Replaces a block read at `block.revision`; false when it changed meanwhile. */
  putBlock(cidr: string, block: Versioned<AllocationBlock>): Promise<boolean>;
  /** Deletes a handle read at `revision`; false when it changed meanwhile. */
  deleteHandle(handleId: string, revision: string): Promise<boolean>;
}
