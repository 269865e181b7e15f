/**
 * calico-ipam's storage on the Kubernetes datastore: the crd.projectcalico.org/v1 IPAMBlock,
 * BlockAffinity and IPAMHandle objects Calico's own IPAM (CNI plugin, calico-node's tunnel
 * address allocation) reads and writes, named and shaped as libcalico-go's KDD backend names and
 * shapes them, so a cluster can mix tortie and Calico components.
 *
 * Each write is a PUT carrying the resourceVersion it read (409 Conflict when it changed: the
 * allocator re-reads), or a POST that fails with 409 AlreadyExists when another writer created
 * the object first. Two objects cannot change in one transaction here, so a block allocation is
 * written in Calico's order: the handle's count first, then the block; when the block write
 * loses, the handle count is taken back. A crash in between leaves a handle counting one
 * address too many, which is what Calico's IPAM garbage collection is there for.
 */
import { cidrToName } from '../model/ipam.js';
import type { AllocationBlock, IpamHandle } from '../../ipam/calico-ipam.js';
import type { IpamStore, Versioned } from '../../ipam/store.js';
import { K8sApiError, type KubeClient } from './client.js';

export const CALICO_CRD_API_VERSION = 'crd.projectcalico.org/v1';
const CRD_BASE = `/apis/${CALICO_CRD_API_VERSION}`;

/** Retries of taking back a handle count after a lost block write (each re-reads the handle). */
const MAX_UNDO_ATTEMPTS = 20;

type Plural = 'ipamblocks' | 'blockaffinities' | 'ipamhandles' | 'ippools';
const KIND: Record<Plural, string> = { ipamblocks: 'IPAMBlock', blockaffinities: 'BlockAffinity', ipamhandles: 'IPAMHandle', ippools: 'IPPool' };

/** A Calico CRD object as the API server returns it. */
export interface CrdObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; resourceVersion?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  spec?: Record<string, unknown>;
}

/** libcalico-go names: block `10-65-0-0-26`, affinity `<node>-10-65-0-0-26`, handle lower-cased. */
export const blockName = (cidr: string): string => cidrToName(cidr);
export const affinityName = (node: string, cidr: string): string => `${node}-${cidrToName(cidr)}`;
export const handleName = (handleId: string): string => handleId.toLowerCase();

export const isConflict = (e: unknown): boolean => e instanceof K8sApiError && e.status === 409;
const isNotFound = (e: unknown): boolean => e instanceof K8sApiError && e.status === 404;

/** Plain CRUD on Calico CRDs, 404 as undefined and 409 as false. */
export class CrdClient {
  constructor(readonly client: KubeClient) {}

  async get(plural: Plural, name: string): Promise<CrdObject | undefined> {
    try {
      return (await this.client.request('GET', `${CRD_BASE}/${plural}/${encodeURIComponent(name)}`)) as CrdObject;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async list(plural: Plural): Promise<CrdObject[]> {
    return (await this.client.listPage(`${CRD_BASE}/${plural}`, {})).items as unknown as CrdObject[];
  }

  /** Creates; false when an object of that name exists. */
  async create(plural: Plural, name: string, spec: object): Promise<boolean> {
    try {
      await this.client.request('POST', `${CRD_BASE}/${plural}`, { body: { apiVersion: CALICO_CRD_API_VERSION, kind: KIND[plural], metadata: { name }, spec } });
      return true;
    } catch (e) {
      if (isConflict(e)) return false;
      throw e;
    }
  }

  /** Replaces `obj` (as read, with its resourceVersion) with a new spec; false on a conflict. */
  async replace(plural: Plural, obj: CrdObject, spec: object): Promise<boolean> {
    const { name, resourceVersion, labels, annotations } = obj.metadata;
    const metadata = { name, resourceVersion, ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) };
    try {
      await this.client.request('PUT', `${CRD_BASE}/${plural}/${encodeURIComponent(name)}`, { body: { apiVersion: CALICO_CRD_API_VERSION, kind: KIND[plural], metadata, spec } });
      return true;
    } catch (e) {
      if (isConflict(e) || isNotFound(e)) return false;
      throw e;
    }
  }

  /** Deletes only the version read (a precondition), false when it changed or is gone. */
  async delete(plural: Plural, name: string, resourceVersion?: string): Promise<boolean> {
    try {
      await this.client.request('DELETE', `${CRD_BASE}/${plural}/${encodeURIComponent(name)}`, resourceVersion ? { body: { kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { resourceVersion } } } : {});
      return true;
    } catch (e) {
      if (isConflict(e) || isNotFound(e)) return false;
      throw e;
    }
  }
}

/** The block spec as stored in the IPAMBlock CRD (the model's shape plus strictAffinity). */
function blockSpec(b: AllocationBlock): object {
  return { ...b, strictAffinity: false };
}

function blockFrom(obj: CrdObject): AllocationBlock {
  const s = (obj.spec ?? {}) as Partial<AllocationBlock>;
  return {
    cidr: String(s.cidr),
    affinity: s.affinity ?? null,
    allocations: s.allocations ?? [],
    unallocated: s.unallocated ?? [],
    attributes: s.attributes ?? [],
    sequenceNumber: s.sequenceNumber ?? 0,
    sequenceNumberForAllocation: s.sequenceNumberForAllocation ?? {},
    deleted: s.deleted ?? false,
  };
}

function handleFrom(obj: CrdObject): IpamHandle {
  const s = (obj.spec ?? {}) as { block?: Record<string, number>; deleted?: boolean };
  return { block: { ...(s.block ?? {}) }, deleted: s.deleted ?? false };
}

export class K8sIpamStore implements IpamStore {
  private readonly crd: CrdClient;
  /** Objects as last read, by `plural/name`, so a PUT keeps their labels and annotations. */
  private readonly seen = new Map<string, CrdObject>();

  constructor(client: KubeClient) {
    this.crd = new CrdClient(client);
  }

  private remember(plural: Plural, obj: CrdObject | undefined, name: string): CrdObject | undefined {
    if (obj) this.seen.set(`${plural}/${name}`, obj);
    else this.seen.delete(`${plural}/${name}`);
    return obj;
  }

  /** The object as read at `revision` (its metadata for a PUT). */
  private asRead(plural: Plural, name: string, revision: string): CrdObject {
    const o = this.seen.get(`${plural}/${name}`);
    return o && o.metadata.resourceVersion === revision ? o : { metadata: { name, resourceVersion: revision } };
  }

  async affineBlockCidrs(node: string): Promise<string[]> {
    const out: string[] = [];
    for (const a of await this.crd.list('blockaffinities')) {
      const s = (a.spec ?? {}) as { node?: string; cidr?: string; state?: string; deleted?: string | boolean };
      if (s.node !== node || typeof s.cidr !== 'string' || s.state === 'pendingDeletion' || s.deleted === true || s.deleted === 'true') continue;
      out.push(s.cidr);
    }
    return out;
  }

  async claimedBlockCidrs(): Promise<string[]> {
    return (await this.crd.list('ipamblocks')).map((b) => (b.spec as { cidr?: unknown } | undefined)?.cidr).filter((c): c is string => typeof c === 'string');
  }

  async getBlock(cidr: string): Promise<Versioned<AllocationBlock> | undefined> {
    const o = this.remember('ipamblocks', await this.crd.get('ipamblocks', blockName(cidr)), blockName(cidr));
    return o ? { value: blockFrom(o), revision: o.metadata.resourceVersion ?? '' } : undefined;
  }

  async getHandle(handleId: string): Promise<Versioned<IpamHandle> | undefined> {
    const o = this.remember('ipamhandles', await this.crd.get('ipamhandles', handleName(handleId)), handleName(handleId));
    return o ? { value: handleFrom(o), revision: o.metadata.resourceVersion ?? '' } : undefined;
  }

  private handleSpec(handleId: string, h: IpamHandle): object {
    return { handleID: handleId, block: h.block, deleted: h.deleted };
  }

  async commitAllocation(cidr: string, block: Versioned<AllocationBlock>, handleId: string, handle: { value: IpamHandle; revision: string | undefined }): Promise<boolean> {
    const hn = handleName(handleId);
    const handleWritten =
      handle.revision === undefined
        ? await this.crd.create('ipamhandles', hn, this.handleSpec(handleId, handle.value))
        : await this.crd.replace('ipamhandles', this.asRead('ipamhandles', hn, handle.revision), this.handleSpec(handleId, handle.value));
    if (!handleWritten) return false;
    if (await this.crd.replace('ipamblocks', this.asRead('ipamblocks', blockName(cidr), block.revision), blockSpec(block.value))) return true;
    await this.undoHandleCount(handleId, cidr);
    return false;
  }

  /** Takes back the count a lost allocation added to the handle (Calico's decrementHandle). */
  private async undoHandleCount(handleId: string, cidr: string): Promise<void> {
    const hn = handleName(handleId);
    for (let i = 0; i < MAX_UNDO_ATTEMPTS; i++) {
      const o = await this.crd.get('ipamhandles', hn);
      if (!o) return;
      const h = handleFrom(o);
      const n = (h.block[cidr] ?? 0) - 1;
      if (n > 0) h.block[cidr] = n;
      else delete h.block[cidr];
      const done = Object.keys(h.block).length === 0 ? await this.crd.delete('ipamhandles', hn, o.metadata.resourceVersion) : await this.crd.replace('ipamhandles', o, this.handleSpec(handleId, h));
      if (done) return;
    }
    throw new Error(`IPAM: could not take back handle ${handleId}'s count for ${cidr} after ${MAX_UNDO_ATTEMPTS} conflicting writes`);
  }

  async claimBlock(node: string, cidr: string, block: AllocationBlock): Promise<void> {
    // Calico's order: a pending affinity, then the block, then the affinity confirmed. The block
    // create is the arbiter; whoever loses it withdraws the affinity it wrote.
    const an = affinityName(node, cidr);
    await this.crd.create('blockaffinities', an, { node, cidr, state: 'pending', deleted: 'false' });
    if (!(await this.crd.create('ipamblocks', blockName(cidr), blockSpec(block)))) {
      const other = await this.crd.get('ipamblocks', blockName(cidr));
      if (!other || blockFrom(other).affinity !== `host:${node}`) {
        await this.crd.delete('blockaffinities', an);
        return;
      }
    }
    const a = await this.crd.get('blockaffinities', an);
    if (a && (a.spec as { state?: string } | undefined)?.state !== 'confirmed') {
      // A conflict here only means someone touched it meanwhile; the next pass works either way.
      await this.crd.replace('blockaffinities', a, { ...a.spec, state: 'confirmed' });
    }
  }

  async putBlock(cidr: string, block: Versioned<AllocationBlock>): Promise<boolean> {
    return this.crd.replace('ipamblocks', this.asRead('ipamblocks', blockName(cidr), block.revision), blockSpec(block.value));
  }

  async deleteHandle(handleId: string, revision: string): Promise<boolean> {
    return this.crd.delete('ipamhandles', handleName(handleId), revision);
  }
}
