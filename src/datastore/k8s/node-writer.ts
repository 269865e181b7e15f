/**
 * calico-node's startup writes on the Kubernetes datastore (src/node/startup.ts's NodeStore):
 * - the Calico Node fields live in `projectcalico.org/*` annotations on the Kubernetes Node, so a
 *   change is a JSON merge patch of just the annotations that changed (null removes one): every
 *   other annotation, label, the kubelet's status stay as they are. The patch carries the
 *   resourceVersion the change was computed from, so it is refused (409) when the Node moved
 *   meanwhile, and the change is recomputed from a fresh read;
 * - pools are crd.projectcalico.org/v1 IPPools, created with POST (409 AlreadyExists = someone
 *   else made it first);
 * - tunnel addresses come from calico-ipam over the IPAM CRDs (ipam-writer.ts).
 * The Kubernetes Node itself is the kubelet's: this never creates one.
 */
import { addressesOfHandleIn, assignIpIn } from '../../ipam/calico-ipam.js';
import type { NodeStore, PoolView, StoredNode } from '../../node/startup.js';
import { K8sApiError, type KubeClient } from './client.js';
import { NODE_ANNOTATIONS } from './conversion/constants.js';
import type { Node } from './conversion/k8stypes.js';
import { k8sNodeToCalico } from './conversion/node.js';
import { CrdClient, isConflict, K8sIpamStore } from './ipam-writer.js';

/** Retries of one Node read-modify-write that lost a race (the kubelet updates Nodes often). */
const MAX_PATCH_ATTEMPTS = 20;

/** The annotations startup owns, each with how to read its value from a Calico Node. */
const OWNED: ReadonlyArray<[annotation: string, read: (n: StoredNode) => string | undefined]> = [
  [NODE_ANNOTATIONS.ipv4Address, (n) => n.spec.bgp?.ipv4Address],
  [NODE_ANNOTATIONS.asNumber, (n) => (n.spec.bgp?.asNumber === undefined ? undefined : String(n.spec.bgp.asNumber))],
  [NODE_ANNOTATIONS.ipv4IPIPTunnelAddr, (n) => n.spec.bgp?.ipv4IPIPTunnelAddr],
  [NODE_ANNOTATIONS.ipv4VXLANTunnelAddr, (n) => n.spec.ipv4VXLANTunnelAddr],
  [NODE_ANNOTATIONS.vxlanTunnelMACAddr, (n) => n.spec.vxlanTunnelMACAddr],
];

/** The merge-patch annotations turning `before` into `after` (only fields startup owns). Pure. */
export function annotationPatch(before: StoredNode, after: StoredNode): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const [ann, read] of OWNED) {
    const b = read(before);
    const a = read(after);
    if (a !== b) out[ann] = a ?? null;
  }
  return out;
}

export class K8sNodeStore implements NodeStore {
  private readonly crd: CrdClient;
  readonly ipam: K8sIpamStore;

  constructor(private readonly client: KubeClient) {
    this.crd = new CrdClient(client);
    this.ipam = new K8sIpamStore(client);
  }

  private async getNode(name: string): Promise<Node> {
    try {
      return (await this.client.request('GET', `/api/v1/nodes/${encodeURIComponent(name)}`)) as Node;
    } catch (e) {
      if (e instanceof K8sApiError && e.status === 404) {
        throw new Error(`Kubernetes Node ${name} does not exist: NODENAME must be the kubelet's node name (the Node is the kubelet's to create)`);
      }
      throw e;
    }
  }

  async updateNode(name: string, mutate: (n: StoredNode | undefined) => StoredNode | undefined): Promise<StoredNode | undefined> {
    for (let i = 0; i < MAX_PATCH_ATTEMPTS; i++) {
      const k8s = await this.getNode(name);
      const cur = k8sNodeToCalico(k8s) as unknown as StoredNode;
      const next = mutate(structuredClone(cur));
      if (!next) return cur;
      const annotations = annotationPatch(cur, next);
      if (Object.keys(annotations).length === 0) return cur;
      try {
        const patched = (await this.client.request('PATCH', `/api/v1/nodes/${encodeURIComponent(name)}`, {
          body: { metadata: { resourceVersion: k8s.metadata.resourceVersion, annotations } },
          contentType: 'application/merge-patch+json',
        })) as Node;
        return k8sNodeToCalico(patched) as unknown as StoredNode;
      } catch (e) {
        if (!isConflict(e)) throw e;
      }
    }
    throw new Error(`Node ${name}: gave up after ${MAX_PATCH_ATTEMPTS} conflicting annotation patches`);
  }

  async listPools(): Promise<PoolView[]> {
    const out: PoolView[] = [];
    for (const p of await this.crd.list('ippools')) {
      const spec = p.spec as PoolView['spec'] | undefined;
      // An unusable pool is the syncer's to report; startup just does not use it.
      if (spec && typeof spec.cidr === 'string') out.push({ apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name: p.metadata.name }, spec });
    }
    return out;
  }

  createPool(pool: PoolView): Promise<boolean> {
    return this.crd.create('ippools', pool.metadata.name, pool.spec);
  }

  addressesOfHandle(handleId: string): Promise<string[]> {
    return addressesOfHandleIn(this.ipam, handleId);
  }

  async assign(node: string, handleId: string, pool: { cidr: string; blockSize: number }, secondary: Record<string, string>): Promise<string> {
    return (await assignIpIn(this.ipam, { node, handleId, pool, attributes: secondary })).ip;
  }
}
