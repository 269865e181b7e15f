/**
 * calico-node's startup writes on etcd v3: the Node resource, the default IPPool and the tunnel
 * addresses, each as a read-modify-write guarded by the key's mod revision, so a field another
 * component set in between (an operator's label, the route reflector cluster id) is never lost:
 * the loser of a race re-reads and merges again.
 */
import type { Etcd3 } from 'etcd3';
import { resourceKey, RESOURCE_PREFIX } from '../datastore/keys.js';
import { addressesOfHandleIn, assignIp } from '../ipam/calico-ipam.js';
import { EtcdIpamStore } from '../ipam/etcd-store.js';
import type { NodeStore, PoolView, StoredNode } from './startup.js';

/** Retries of one read-modify-write that lost a race before giving up (another writer is looping). */
const MAX_CAS_ATTEMPTS = 20;

async function getJson<T>(c: Etcd3, key: string): Promise<{ value: T; modRevision: string } | undefined> {
  const r = await c.get(key).exec();
  const kv = r.kvs[0];
  if (!kv) return undefined;
  return { value: JSON.parse(kv.value.toString()) as T, modRevision: kv.mod_revision };
}

export class EtcdNodeStore implements NodeStore {
  constructor(private readonly c: Etcd3) {}

  async updateNode(name: string, mutate: (n: StoredNode | undefined) => StoredNode | undefined): Promise<StoredNode | undefined> {
    const key = resourceKey('nodes', name);
    for (let i = 0; i < MAX_CAS_ATTEMPTS; i++) {
      const cur = await getJson<StoredNode>(this.c, key);
      const next = mutate(cur ? structuredClone(cur.value) : undefined);
      if (!next || (cur && JSON.stringify(next) === JSON.stringify(cur.value))) return cur?.value;
      const txn = cur ? this.c.if(key, 'Mod', '==', cur.modRevision) : this.c.if(key, 'Create', '==', 0);
      const r = await txn.then(this.c.put(key).value(JSON.stringify(next))).commit();
      if (r.succeeded) return next;
    }
    throw new Error(`Node ${name}: gave up after ${MAX_CAS_ATTEMPTS} conflicting writes`);
  }

  async listPools(): Promise<PoolView[]> {
    const kvs = await this.c.getAll().prefix(`${RESOURCE_PREFIX}ippools/`).strings();
    const out: PoolView[] = [];
    for (const v of Object.values(kvs)) {
      try {
        const p = JSON.parse(v) as PoolView;
        if (p?.spec?.cidr) out.push(p);
      } catch {
        // an undecodable pool is the syncer's to report; startup just does not use it
      }
    }
    return out;
  }

  async createPool(pool: PoolView): Promise<boolean> {
    const key = resourceKey('ippools', pool.metadata.name);
    const r = await this.c.if(key, 'Create', '==', 0).then(this.c.put(key).value(JSON.stringify(pool))).commit();
    return r.succeeded;
  }

  addressesOfHandle(handleId: string): Promise<string[]> {
    return addressesOfHandleIn(new EtcdIpamStore(this.c), handleId);
  }

  async assign(node: string, handleId: string, pool: { cidr: string; blockSize: number }, secondary: Record<string, string>): Promise<string> {
    return (await assignIp(this.c, { node, handleId, pool, attributes: secondary })).ip;
  }
}
