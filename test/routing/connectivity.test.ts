/**
 * End to end: tortie agents in a 3-node lab with real etcd and a real BIRD peer. Every pod must
 * reach every other pod, each node's kernel must hold exactly the expected routes, and the BIRD
 * peer must learn every node's block — in no-encap BGP mode and in VXLAN mode, and across a pool
 * change from VXLAN to no-encap without restarting the agents.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../../src/lab/index.js';
import type { LabState, PodState } from '../../src/lab/index.js';
import { birdRoutes, getResource, poolRoutes, setPoolModes, waitAllPing, withRoutingLab } from './helpers.js';

/** The blocks of the pods in the lab, by node. */
function blocksByNode(pods: readonly PodState[]): Map<string, string> {
  return new Map(pods.map((p) => [p.node, p.block]));
}

/** Exactly the routes a node should hold under the pool, in `poolRoutes` form. */
function expectedRoutes(lab: LabState, pods: readonly PodState[], node: string, remote: (n: LabState['nodes'][number], block: string) => string): string[] {
  const out: string[] = [];
  for (const p of pods) if (p.node === node) out.push(`${p.ip} unicast - ${p.iface} -`);
  for (const [n, block] of blocksByNode(pods)) {
    if (n === node) out.push(`${block} blackhole - - 80`);
    else out.push(remote(lab.nodes.find((x) => x.name === n)!, block));
  }
  return out.sort();
}

async function waitRoutes(lab: LabState, pods: readonly PodState[], remote: (n: LabState['nodes'][number], block: string) => string): Promise<void> {
  for (const n of lab.nodes) {
    const want = expectedRoutes(lab, pods, n.name, remote);
    let got: string[] = [];
    await waitFor(
      async () => {
        got = await poolRoutes(n.netns);
        return JSON.stringify(got) === JSON.stringify(want);
      },
      { timeoutMs: 30_000, intervalMs: 500, what: `routes on ${n.name}` },
    ).catch(() => assert.deepEqual(got, want, `routes on ${n.name}`));
  }
}

const bgpRoute = (n: LabState['nodes'][number], block: string): string => `${block} unicast ${n.ip} eth0 81`;

test('no-encap BGP mesh: every pod reaches every pod, exact routes, BIRD learns every block', async () => {
  await withRoutingLab({ tag: 'bgp', nodes: 3, birdPeer: true, pool: { ipipMode: 'Never', vxlanMode: 'Never' } }, async (lab) => {
    const st = lab.state();
    await waitAllPing(lab.pods);
    await waitRoutes(st, lab.pods, bgpRoute);
    const bird = await birdRoutes(st);
    for (const [node, block] of blocksByNode(lab.pods)) {
      const ip = st.nodes.find((n) => n.name === node)!.ip;
      assert.match(bird, new RegExp(`${block.replace(/[./]/g, (c) => `\\${c}`)}\\s+via ${ip.replace(/\./g, '\\.')}`), `BIRD holds ${block} via ${node}`);
    }
  });
});

test('VXLAN mode (backend vxlan): every pod reaches every pod over vxlan.calico', async () => {
  await withRoutingLab(
    { tag: 'vx', nodes: 3, pool: { ipipMode: 'Never', vxlanMode: 'Always' }, agentEnv: { CALICO_NETWORKING_BACKEND: 'vxlan', CALICO_IPV4POOL_IPIP: 'Never', CALICO_IPV4POOL_VXLAN: 'Always' } },
    async (lab) => {
      const st = lab.state();
      await waitAllPing(lab.pods);
      // Remote blocks go via the remote node's VXLAN tunnel address, onlink, protocol 80.
      const tunnels = new Map<string, string>();
      for (const n of st.nodes) {
        const node = await getResource<{ spec: { ipv4VXLANTunnelAddr?: string } }>(st, 'nodes', n.name);
        assert.ok(node?.spec.ipv4VXLANTunnelAddr, `${n.name} got a VXLAN tunnel address`);
        tunnels.set(n.name, node.spec.ipv4VXLANTunnelAddr);
      }
      await waitRoutes(st, lab.pods, (n, block) => `${block} unicast ${tunnels.get(n.name)} vxlan.calico 80 onlink`);
    },
  );
});

test('a pool moved from VXLAN to no-encap converges without restarting the agents', async () => {
  await withRoutingLab({ tag: 'mv', nodes: 3, pool: { ipipMode: 'Never', vxlanMode: 'Always' } }, async (lab) => {
    const st = lab.state();
    await waitAllPing(lab.pods);
    // VXLAN first: remote blocks via vxlan.calico.
    await waitFor(async () => (await poolRoutes(st.nodes[0]!.netns)).some((r) => r.includes('vxlan.calico')), { timeoutMs: 20_000, what: 'VXLAN routes before the move' });
    await setPoolModes(st, { vxlanMode: 'Never' });
    await waitRoutes(st, lab.pods, bgpRoute);
    await waitAllPing(lab.pods);
    for (const n of st.nodes) {
      await waitFor(async () => !(await poolRoutes(n.netns)).some((r) => r.includes('vxlan.calico')), { timeoutMs: 20_000, what: `no VXLAN routes on ${n.name}` });
    }
  });
});
