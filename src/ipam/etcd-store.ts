/**
 * calico-ipam's storage on etcd v3 (libcalico-go's etcd layout, src/datastore/keys.ts): every
 * write is a transaction comparing the mod revisions read before it, so the block and its handle
 * change together or not at all.
 */
import type { Etcd3 } from 'etcd3';
import { blockAffinityKey, IPAM_PREFIX, ipamBlockKey, ipamHandleKey } from '../datastore/keys.js';
import type { AllocationBlock, BlockAffinity, IpamHandle } from './calico-ipam.js';
import type { IpamStore, Versioned } from './store.js';

async function getJson<T>(client: Etcd3, key: string): Promise<Versioned<T> | undefined> {
  const res = await client.get(key).exec();
  const kv = res.kvs[0];
  if (!kv) return undefined;
  return { value: JSON.parse(kv.value.toString()) as T, revision: kv.mod_revision };
}

/** `.../block/10.65.0.0-26` → `10.65.0.0/26`. */
function blockCidrFromKey(key: string): string {
  const last = key.slice(key.lastIndexOf('/') + 1);
  const i = last.lastIndexOf('-');
  return `${last.slice(0, i)}/${last.slice(i + 1)}`;
}

export class EtcdIpamStore implements IpamStore {
  constructor(private readonly client: Etcd3) {}

  async affineBlockCidrs(node: string): Promise<string[]> {
    return (await this.client.getAll().prefix(`${IPAM_PREFIX}host/${node}/ipv4/block/`).keys()).map(blockCidrFromKey);
  }

  async claimedBlockCidrs(): Promise<string[]> {
    return (await this.client.getAll().prefix(`${IPAM_PREFIX}assignment/ipv4/block/`).keys()).map(blockCidrFromKey);
  }

  getBlock(cidr: string): Promise<Versioned<AllocationBlock> | undefined> {
    return getJson<AllocationBlock>(this.client, ipamBlockKey(cidr));
  }

  getHandle(handleId: string): Promise<Versioned<IpamHandle> | undefined> {
    return getJson<IpamHandle>(this.client, ipamHandleKey(handleId));
  }

  async commitAllocation(cidr: string, block: Versioned<AllocationBlock>, handleId: string, handle: { value: IpamHandle; revision: string | undefined }): Promise<boolean> {
    const c = this.client;
    const handleKey = ipamHandleKey(handleId);
    const txn = c.if(ipamBlockKey(cidr), 'Mod', '==', block.revision);
    const cond = handle.revision !== undefined ? txn.and(handleKey, 'Mod', '==', handle.revision) : txn.and(handleKey, 'Create', '==', 0);
    const r = await cond.then(c.put(ipamBlockKey(cidr)).value(JSON.stringify(block.value)), c.put(handleKey).value(JSON.stringify(handle.value))).commit();
    return r.succeeded;
  }

  async claimBlock(node: string, cidr: string, block: AllocationBlock): Promise<void> {
    const c = this.client;
    const affinity: BlockAffinity = { state: 'confirmed', deleted: false };
    await c
      .if(ipamBlockKey(cidr), 'Create', '==', 0)
      .and(blockAffinityKey(node, cidr), 'Create', '==', 0)
      .then(c.put(blockAffinityKey(node, cidr)).value(JSON.stringify(affinity)), c.put(ipamBlockKey(cidr)).value(JSON.stringify(block)))
      .commit();
  }

  async putBlock(cidr: string, block: Versioned<AllocationBlock>): Promise<boolean> {
    const c = this.client;
    const r = await c.if(ipamBlockKey(cidr), 'Mod', '==', block.revision).then(c.put(ipamBlockKey(cidr)).value(JSON.stringify(block.value))).commit();
    return r.succeeded;
  }

  async deleteHandle(handleId: string, revision: string): Promise<boolean> {
    const c = this.client;
    const key = ipamHandleKey(handleId);
    const r = await c.if(key, 'Mod', '==', revision).then(c.delete().key(key)).commit();
    return r.succeeded;
  }
}
