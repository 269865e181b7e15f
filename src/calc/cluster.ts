/**
 * The calc layer's copy of the cluster, indexed for the questions routing asks ("which pool holds
 * this block?", "which blocks are affine to this node?"). It is fed the syncer's ordered updates
 * and reports which topics changed, so the calc graph recomputes only what depends on them.
 * No I/O: everything here is a function of the updates received.
 */
import type {
  BGPConfiguration,
  BGPPeer,
  BlockAffinity,
  IPAMBlock,
  IPPool,
  Node,
  Resource,
  WorkloadEndpoint,
} from '../datastore/model/index.js';
import { blockHost } from '../datastore/model/index.js';
import type { Update } from '../datastore/syncer.js';
import { contains, familyOf } from './cidr.js';

/** What a batch touched. `localEndpoints` lists keys of this node's endpoints that changed. */
export interface Touched {
  pools: boolean;
  nodes: boolean;
  blocks: boolean;
  affinities: boolean;
  bgpConfig: boolean;
  bgpPeers: boolean;
  localEndpoints: Set<string>;
}

export function nothingTouched(): Touched {
  return { pools: false, nodes: false, blocks: false, affinities: false, bgpConfig: false, bgpPeers: false, localEndpoints: new Set() };
}

export class ClusterState {
  readonly pools = new Map<string, IPPool>();
  readonly nodes = new Map<string, Node>();
  readonly blocks = new Map<string, IPAMBlock>();
  readonly affinities = new Map<string, BlockAffinity>();
  readonly bgpConfigs = new Map<string, BGPConfiguration>();
  readonly bgpPeers = new Map<string, BGPPeer>();
  /** This node's workload endpoints only (the dataplane programs nothing for remote ones). */
  readonly localEndpoints = new Map<string, WorkloadEndpoint>();
  /** Every workload endpoint's key, for the cluster-wide count. */
  private readonly endpointNodes = new Map<string, string>();

  constructor(readonly nodeName: string) {}

  /** Applies a batch; returns what it touched. Unknown kinds are ignored (policy comes later). */
  apply(batch: readonly Update[], touched: Touched = nothingTouched()): Touched {
    for (const u of batch) this.applyOne(u, touched);
    return touched;
  }

  /** Kinds kept whole in a map, with the topic an update to them touches. */
  private readonly tables: Partial<Record<string, { map: Map<string, Resource>; topic: Exclude<keyof Touched, 'localEndpoints'> }>> = {
    IPPool: { map: this.pools as Map<string, Resource>, topic: 'pools' },
    Node: { map: this.nodes as Map<string, Resource>, topic: 'nodes' },
    IPAMBlock: { map: this.blocks as Map<string, Resource>, topic: 'blocks' },
    BlockAffinity: { map: this.affinities as Map<string, Resource>, topic: 'affinities' },
    BGPConfiguration: { map: this.bgpConfigs as Map<string, Resource>, topic: 'bgpConfig' },
    BGPPeer: { map: this.bgpPeers as Map<string, Resource>, topic: 'bgpPeers' },
  };

  private applyOne(u: Update, t: Touched): void {
    const v = u.type === 'delete' ? undefined : (u.value as Resource | undefined);
    const table = this.tables[u.kind];
    if (table) {
      set(table.map, u.key, v);
      t[table.topic] = true;
    } else if (u.kind === 'WorkloadEndpoint') {
      const wep = v as WorkloadEndpoint | undefined;
      const wasLocal = this.localEndpoints.has(u.key);
      if (wep) this.endpointNodes.set(u.key, wep.spec.node);
      else this.endpointNodes.delete(u.key);
      const isLocal = wep?.spec.node === this.nodeName;
      if (isLocal) this.localEndpoints.set(u.key, wep);
      else this.localEndpoints.delete(u.key);
      if (isLocal || wasLocal) t.localEndpoints.add(u.key);
    }
  }

  get clusterEndpointCount(): number {
    return this.endpointNodes.size;
  }

  /** A node by name (Node resources are keyed `Node/<name>`). */
  node(name: string): Node | undefined {
    return this.nodes.get(`Node/${name}`);
  }

  get localNode(): Node | undefined {
    return this.node(this.nodeName);
  }

  /**
   * The enabled-or-not pool whose CIDR holds `prefix`, the most specific if pools nest. Disabled
   * pools still route the addresses already allocated from them, as in Calico.
   */
  poolFor(prefix: string): IPPool | undefined {
    let best: IPPool | undefined;
    let bestLen = -1;
    const fam = familyOf(prefix);
    for (const p of this.pools.values()) {
      if (familyOf(p.spec.cidr) !== fam) continue;
      const len = Number(p.spec.cidr.split('/')[1]);
      if (len > bestLen && contains(p.spec.cidr, prefix)) {
        best = p;
        bestLen = len;
      }
    }
    return best;
  }

  /** BGPConfiguration `default` and `node.<this node>`. */
  bgpConfiguration(): { global?: BGPConfiguration; perNode?: BGPConfiguration } {
    return {
      global: this.bgpConfigs.get('BGPConfiguration/default'),
      perNode: this.bgpConfigs.get(`BGPConfiguration/node.${this.nodeName}`),
    };
  }

  /**
   * CIDRs of the blocks affine to this node: from IPAM blocks (felix syncer) and from confirmed
   * block affinities (bgp syncer), whichever the consumer receives.
   */
  localBlocks(): string[] {
    const out = new Set<string>();
    for (const b of this.blocks.values()) if (!b.spec.deleted && blockHost(b.spec) === this.nodeName) out.add(b.spec.cidr);
    for (const a of this.affinities.values()) {
      if (a.spec.node === this.nodeName && a.spec.state === 'confirmed' && !a.spec.deleted) out.add(a.spec.cidr);
    }
    return [...out].sort();
  }
}

function set<V>(m: Map<string, V>, key: string, v: V | undefined): void {
  if (v === undefined) m.delete(key);
  else m.set(key, v);
}
