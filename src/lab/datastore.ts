/**
 * The lab's own etcd client and the resources a pre-provisioned Calico cluster already holds
 * before any calico-node starts: ClusterInformation (datastoreReady), the default IPPool, a Node
 * per lab node and, with a BIRD peer, a global BGPPeer. The lab talks to etcd over its unix
 * socket, so it needs no route from the root namespace into the lab.
 */
import { Etcd3 } from 'etcd3';
import { resourceKey } from '../datastore/keys.js';
import { clusterInformationResource, ipPoolResource, nodeResource, API_VERSION, DEFAULT_POOL_NAME, type EncapMode } from './calico-resources.js';
import type { LabState } from './state.js';
import { UserError } from '../util/errors.js';

/** Every unary etcd call from the lab gets this deadline, so no lab command can hang on etcd. */
export const ETCD_CALL_TIMEOUT_MS = 10_000;

export function labEtcdClient(state: LabState): Etcd3 {
  if (!state.etcd) throw new UserError(`lab ${state.name} has no datastore (it was created without --datastore etcd)`);
  return new Etcd3({
    hosts: state.etcd.unixEndpoint,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + ETCD_CALL_TIMEOUT_MS }),
  });
}

export async function withEtcd<T>(state: LabState, fn: (c: Etcd3) => Promise<T>): Promise<T> {
  const c = labEtcdClient(state);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

/** Creates key with value unless it exists (one transaction, so it never overwrites). */
export async function createIfAbsent(c: Etcd3, key: string, value: unknown): Promise<boolean> {
  const r = await c.if(key, 'Create', '==', 0).then(c.put(key).value(JSON.stringify(value))).commit();
  return r.succeeded;
}

export interface ProvisionOptions {
  pool: { cidr: string; blockSize: number; ipipMode?: EncapMode; vxlanMode?: EncapMode; natOutgoing?: boolean };
  nodes: boolean;
  birdPeer?: { ip: string; asNumber: number };
}

export async function ensurePool(c: Etcd3, pool: ProvisionOptions['pool']): Promise<void> {
  await createIfAbsent(c, resourceKey('ippools', DEFAULT_POOL_NAME), ipPoolResource(pool.cidr, pool));
}

export async function provisionCluster(state: LabState, o: ProvisionOptions): Promise<void> {
  await withEtcd(state, async (c) => {
    await createIfAbsent(c, resourceKey('clusterinformations', 'default'), clusterInformationResource());
    await ensurePool(c, o.pool);
    if (o.nodes) {
      for (const n of state.nodes) await createIfAbsent(c, resourceKey('nodes', n.name), nodeResource(n.name, `${n.ip}/${n.prefixLen}`));
    }
    if (o.birdPeer) {
      await createIfAbsent(c, resourceKey('bgppeers', 'lab-bird-peer'), {
        apiVersion: API_VERSION,
        kind: 'BGPPeer',
        metadata: { name: 'lab-bird-peer', creationTimestamp: new Date().toISOString() },
        spec: { peerIP: o.birdPeer.ip, asNumber: o.birdPeer.asNumber },
      });
    }
  });
}
