/**
 * calico-node's startup duties on the Kubernetes datastore, against the test API server
 * (test/k8s-apiserver: real HTTP, resourceVersions, 409s): Node annotations by merge patch, the
 * default IPPool CRD, tunnel addresses from the IPAM CRDs, and the agent's own k8s syncer reading
 * the result. No root needed: nothing here touches the kernel.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestApiServer } from '../k8s-apiserver/server.js';
import { KubeClient } from '../../src/datastore/k8s/client.js';
import { anonymousAuth } from '../../src/datastore/k8s/kubeconfig.js';
import { K8sNodeStore } from '../../src/datastore/k8s/node-writer.js';
import { K8sIpamStore } from '../../src/datastore/k8s/ipam-writer.js';
import { allocateInBlock, assignIpIn, cidrContains } from '../../src/ipam/calico-ipam.js';
import { runStartup, type StartupSettings } from '../../src/node/startup.js';
import { silentLogger } from '../../src/util/log.js';
import { harness, waitFor } from '../datastore/k8s-helpers.js';

const CRD = (plural: string) => `${plural}.crd.projectcalico.org`;

/** A KubeClient that counts the 409 answers it got, so tests can see the conflict path ran. */
class CountingClient extends KubeClient {
  conflicts = 0;
  constructor(url: string) {
    super(anonymousAuth(url));
  }
  override async request(...args: Parameters<KubeClient['request']>): Promise<unknown> {
    try {
      return await super.request(...args);
    } catch (e) {
      if ((e as { status?: number }).status === 409) this.conflicts++;
      throw e;
    }
  }
}

const settings = (node: string, o: Partial<StartupSettings> = {}): StartupSettings => ({
  nodeName: node,
  ipv4Cidr: '198.18.0.11/24',
  asNumber: 64513,
  networkingBackend: 'vxlan',
  defaultPool: { cidr: '10.65.0.0/16', ipipMode: 'Never', vxlanMode: 'Always', natOutgoing: true },
  ...o,
});

function kubeNode(name: string, annotations: Record<string, string> = {}) {
  return { metadata: { name, labels: { 'kubernetes.io/hostname': name }, annotations }, status: { addresses: [{ type: 'InternalIP', address: '198.18.0.11' }] } };
}

async function withServer(fn: (s: TestApiServer) => Promise<void>): Promise<void> {
  const server = await TestApiServer.start({ bookmarkIntervalMs: 200 });
  try {
    await fn(server);
  } finally {
    await server.stop();
  }
}

test('fresh cluster: Node annotations (others kept), the default pool, a tunnel address from the IPAM CRDs; a restart reuses it', () =>
  withServer(async (server) => {
    server.create('nodes', kubeNode('node-1', { 'example.com/owner': 'ops', 'projectcalico.org/RouteReflectorClusterID': '1.0.0.1' }));
    const client = new CountingClient(server.url);
    try {
      const store = new K8sNodeStore(client);
      const r = await runStartup(store, settings('node-1'), silentLogger);
      assert.equal(r.createdPool, true);
      const vx = r.vxlanTunnelAddr!;
      assert.ok(vx && cidrContains('10.65.0.0/26', vx), `tunnel address ${vx} comes from the node's first block`);

      const ann = server.get('nodes', undefined, 'node-1')!.metadata.annotations!;
      assert.equal(ann['projectcalico.org/IPv4Address'], '198.18.0.11/24');
      assert.equal(ann['projectcalico.org/ASNumber'], '64513');
      assert.equal(ann['projectcalico.org/IPv4VXLANTunnelAddr'], vx);
      assert.match(ann['projectcalico.org/VXLANTunnelMACAddr']!, /^66(:[0-9a-f]{2}){5}$/);
      assert.equal(ann['example.com/owner'], 'ops', 'annotations startup does not own are kept');
      assert.equal(ann['projectcalico.org/RouteReflectorClusterID'], '1.0.0.1');
      assert.equal(ann['projectcalico.org/IPv4IPIPTunnelAddr'], undefined);

      const pool = server.get(CRD('ippools'), undefined, 'default-ipv4-ippool')!;
      assert.equal(pool.apiVersion, 'crd.projectcalico.org/v1');
      assert.deepEqual({ ...(pool.spec as object) }, {
        cidr: '10.65.0.0/16', blockSize: 26, ipipMode: 'Never', vxlanMode: 'Always', natOutgoing: true, nodeSelector: 'all()', allowedUses: ['Workload', 'Tunnel'],
      });

      const block = server.get(CRD('ipamblocks'), undefined, '10-65-0-0-26')!.spec as { cidr: string; affinity: string; allocations: (number | null)[]; attributes: Array<{ handle_id: string; secondary: Record<string, string> }> };
      assert.equal(block.cidr, '10.65.0.0/26');
      assert.equal(block.affinity, 'host:node-1');
      assert.equal(block.allocations.filter((a) => a !== null).length, 1);
      assert.deepEqual(block.attributes, [{ handle_id: 'vxlan-tunnel-addr-node-1', secondary: { node: 'node-1', type: 'vxlanTunnelAddress' } }]);
      const aff = server.get(CRD('blockaffinities'), undefined, 'node-1-10-65-0-0-26')!.spec;
      assert.deepEqual(aff, { node: 'node-1', cidr: '10.65.0.0/26', state: 'confirmed', deleted: 'false' });
      const handle = server.get(CRD('ipamhandles'), undefined, 'vxlan-tunnel-addr-node-1')!.spec;
      assert.deepEqual(handle, { handleID: 'vxlan-tunnel-addr-node-1', block: { '10.65.0.0/26': 1 }, deleted: false });

      // A second start: same address, nothing written.
      const writesBefore = server.requests.filter((q) => q.method !== 'GET').length;
      const again = await runStartup(new K8sNodeStore(client), settings('node-1'), silentLogger);
      assert.equal(again.vxlanTunnelAddr, vx);
      assert.equal(again.createdPool, false);
      assert.equal(server.requests.filter((q) => q.method !== 'GET').length, writesBefore, 'an up-to-date cluster gets no writes');

      // A start that died after allocating, before the annotation: the handle's address is reused.
      server.patch('nodes', undefined, 'node-1', { metadata: { annotations: { 'projectcalico.org/IPv4VXLANTunnelAddr': null } } });
      const after = await runStartup(new K8sNodeStore(client), settings('node-1'), silentLogger);
      assert.equal(after.vxlanTunnelAddr, vx);
      assert.deepEqual(server.get(CRD('ipamhandles'), undefined, 'vxlan-tunnel-addr-node-1')!.spec, handle, 'no second allocation');
    } finally {
      client.close();
    }
  }));

test('the Node patch is guarded by resourceVersion: a concurrent annotation change is merged, not lost', () =>
  withServer(async (server) => {
    server.create('nodes', kubeNode('node-1'));
    const client = new CountingClient(server.url);
    try {
      const store = new K8sNodeStore(client);
      let once = false;
      await store.updateNode('node-1', (n) => {
        // Another writer (the kubelet, an operator) changes the Node between our read and our patch.
        if (!once) server.patch('nodes', undefined, 'node-1', { metadata: { annotations: { 'example.com/late': 'x' } } });
        once = true;
        n!.spec.bgp = { ...n!.spec.bgp, ipv4Address: '198.18.0.12/24' };
        return n;
      });
      assert.equal(client.conflicts, 1, 'the stale patch was refused once and redone');
      const ann = server.get('nodes', undefined, 'node-1')!.metadata.annotations!;
      assert.equal(ann['projectcalico.org/IPv4Address'], '198.18.0.12/24');
      assert.equal(ann['example.com/late'], 'x');
    } finally {
      client.close();
    }
  }));

test('a missing Kubernetes Node is a clear error, never created by startup', () =>
  withServer(async (server) => {
    const client = new CountingClient(server.url);
    try {
      await assert.rejects(runStartup(new K8sNodeStore(client), settings('ghost'), silentLogger), /Kubernetes Node ghost does not exist/);
      assert.equal(server.get('nodes', undefined, 'ghost'), undefined);
    } finally {
      client.close();
    }
  }));

test('a block write that lost a race (409) leaves no trace in the handle; the retry allocates once', () =>
  withServer(async (server) => {
    const client = new CountingClient(server.url);
    try {
      const ipam = new K8sIpamStore(client);
      const pool = { cidr: '10.65.0.0/16', blockSize: 26 };
      await assignIpIn(ipam, { node: 'node-1', handleId: 'first', pool, attributes: {} });
      // Read the block, let another allocation change it, then commit the stale copy.
      const stale = (await ipam.getBlock('10.65.0.0/26'))!;
      await assignIpIn(ipam, { node: 'node-1', handleId: 'second', pool, attributes: {} });
      allocateInBlock(stale.value, 'third', {});
      const ok = await ipam.commitAllocation('10.65.0.0/26', stale, 'third', { value: { block: { '10.65.0.0/26': 1 }, deleted: false }, revision: undefined });
      assert.equal(ok, false);
      assert.ok(client.conflicts >= 1);
      assert.equal(server.get(CRD('ipamhandles'), undefined, 'third'), undefined, 'the handle created for the lost write is taken back');
      const third = await assignIpIn(ipam, { node: 'node-1', handleId: 'third', pool, attributes: {} });
      const spec = server.get(CRD('ipamblocks'), undefined, '10-65-0-0-26')!.spec as { allocations: (number | null)[] };
      assert.equal(spec.allocations.filter((a) => a !== null).length, 3);
      assert.equal(third.ip, '10.65.0.2');
    } finally {
      client.close();
    }
  }));

test('nodes and allocations racing get distinct addresses; blocks, affinities and handles stay consistent', () =>
  withServer(async (server) => {
    const nodes = ['node-1', 'node-2', 'node-3'];
    for (const n of nodes) server.create('nodes', kubeNode(n));
    const clients = nodes.map(() => new CountingClient(server.url));
    try {
      const pool = { cidr: '10.65.0.0/16', blockSize: 26 };
      // Three nodes start at once (all want the first free block), and node-1 also allocates
      // for six "pods" at once from its block (all want to PUT the same block).
      const starts = nodes.map((n, i) => runStartup(new K8sNodeStore(clients[i]!), settings(n), silentLogger));
      const pods = Array.from({ length: 6 }, (_, i) => assignIpIn(new K8sIpamStore(clients[0]!), { node: 'node-1', handleId: `pod-${i}`, pool, attributes: {} }));
      const results = await Promise.all(starts);
      const podIps = (await Promise.all(pods)).map((p) => p.ip);
      const tunnels = results.map((r) => r.vxlanTunnelAddr!);
      const all = [...tunnels, ...podIps];
      assert.equal(new Set(all).size, all.length, `distinct addresses: ${all.join(' ')}`);
      const conflicts = clients.reduce((a, c) => a + c.conflicts, 0);
      assert.ok(conflicts > 0, 'the race exercised the 409 path');

      // Every block is held by exactly one node, and its affinity says so.
      const blocks = server.list(CRD('ipamblocks')).map((b) => b.spec as { cidr: string; affinity: string; allocations: (number | null)[] });
      const owners = new Set(blocks.map((b) => b.affinity));
      assert.equal(owners.size, blocks.length, 'one block per node here');
      for (const b of blocks) {
        const node = b.affinity.slice('host:'.length);
        const aff = server.list(CRD('blockaffinities')).filter((a) => (a.spec as { cidr: string }).cidr === b.cidr);
        assert.deepEqual(aff.map((a) => (a.spec as { node: string; state: string })), [{ node, cidr: b.cidr, state: 'confirmed', deleted: 'false' }]);
      }
      // Handle counts match the blocks.
      const allocated = blocks.reduce((a, b) => a + b.allocations.filter((x) => x !== null).length, 0);
      const counted = server.list(CRD('ipamhandles')).reduce((a, h) => a + Object.values((h.spec as { block: Record<string, number> }).block).reduce((x, y) => x + y, 0), 0);
      assert.equal(allocated, all.length);
      assert.equal(counted, all.length);
      for (const [i, n] of nodes.entries()) {
        assert.equal(server.get('nodes', undefined, n)!.metadata.annotations!['projectcalico.org/IPv4VXLANTunnelAddr'], tunnels[i]);
      }
    } finally {
      for (const c of clients) c.close();
    }
  }));

test("the agent's k8s syncer sees the written Node and pool", () =>
  withServer(async (server) => {
    server.create('nodes', kubeNode('node-1', { 'example.com/owner': 'ops' }));
    const client = new CountingClient(server.url);
    const h = await harness({ server, seed: false });
    try {
      const r = await runStartup(new K8sNodeStore(client), settings('node-1'), silentLogger);
      const node = () => [...h.model.values()].find((v) => v.kind === 'Node' && v.metadata.name === 'node-1') as { spec: { ipv4VXLANTunnelAddr?: string; vxlanTunnelMACAddr?: string; bgp?: { ipv4Address?: string; asNumber?: number } } } | undefined;
      await waitFor(() => node()?.spec.ipv4VXLANTunnelAddr === r.vxlanTunnelAddr, 'the syncer to deliver the Node with its tunnel address');
      const n = node()!;
      assert.equal(n.spec.bgp?.ipv4Address, '198.18.0.11/24');
      assert.equal(n.spec.bgp?.asNumber, 64513);
      assert.match(n.spec.vxlanTunnelMACAddr!, /^66:/);
      await waitFor(() => [...h.model.values()].some((v) => v.kind === 'IPPool' && v.metadata.name === 'default-ipv4-ippool'), 'the syncer to deliver the pool');
      await h.converge('the syncer to match the server');
    } finally {
      await h.close();
      client.close();
    }
  }));
