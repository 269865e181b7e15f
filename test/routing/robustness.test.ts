/**
 * What must keep routing correct when the world misbehaves: kernel state changed behind the
 * agent's back (repaired within the refresh interval), a node removed from the datastore (its
 * routes vanish everywhere, no stale blackholes), a kernel without IPIP (reported, the rest
 * works), and CrossSubnet across two fabric subnets (direct inside a subnet, VXLAN across).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agentStop, runIn, waitFor, withEtcd } from '../../src/lab/index.js';
import { blockAffinityKey, ipamBlockKey, resourceKey } from '../../src/datastore/keys.js';
import { getResource, ping, poolRoutes, waitAllPing, withRoutingLab } from './helpers.js';

const VXLAN_ENV = { CALICO_NETWORKING_BACKEND: 'vxlan', CALICO_IPV4POOL_IPIP: 'Never', CALICO_IPV4POOL_VXLAN: 'Always' };
/** FELIX_ROUTEREFRESHINTERVAL in the lab (helpers.agentOpts) plus a pass and some slack. */
const REPAIR_TIMEOUT_MS = 15_000;

async function sh(ns: string, cmd: string): Promise<string> {
  return (await runIn(ns, ['sh', '-c', cmd], { allowFailure: true })).stdout;
}

test('tampering is repaired within the refresh interval: workload route, VXLAN FDB entry, blackhole, proxy_arp', async () => {
  await withRoutingLab({ tag: 'tp', nodes: 2, podsPerNode: 1, pool: { ipipMode: 'Never', vxlanMode: 'Always' }, agentEnv: VXLAN_ENV }, async (lab) => {
    const st = lab.state();
    await waitAllPing(lab.pods);
    const n1 = st.nodes[0]!;
    const pod = lab.pods.find((p) => p.node === n1.name)!;
    const routes = () => poolRoutes(n1.netns);
    const repaired = (what: string, check: () => Promise<boolean>) => waitFor(check, { timeoutMs: REPAIR_TIMEOUT_MS, intervalMs: 250, what: `${what} repaired` });

    await sh(n1.netns, `ip route del ${pod.ip}/32 dev ${pod.iface}`);
    await repaired('workload route', async () => (await routes()).includes(`${pod.ip} unicast - ${pod.iface} -`));

    const fdb = () => sh(n1.netns, 'bridge fdb show dev vxlan.calico');
    const before = (await fdb()).split('\n').find((l) => l.includes(' dst '));
    assert.ok(before, 'a VTEP FDB entry exists');
    await sh(n1.netns, `bridge fdb del ${before.split(' ')[0]} dev vxlan.calico`);
    await repaired('FDB entry', async () => (await fdb()).includes(before.trim().split(' ').slice(0, 1)[0]!));

    await sh(n1.netns, `ip route del blackhole ${pod.block}`);
    await repaired('blackhole', async () => (await routes()).includes(`${pod.block} blackhole - - 80`));

    const sysctl = `/proc/sys/net/ipv4/conf/${pod.iface}/proxy_arp`;
    await sh(n1.netns, `echo 0 > ${sysctl}`);
    await repaired('proxy_arp', async () => (await sh(n1.netns, `cat ${sysctl}`)).trim() === '1');
    await waitAllPing(lab.pods);
  });
});

test('a node removed from the datastore: its routes disappear on every other node, no stale blackholes', async () => {
  await withRoutingLab({ tag: 'rm', nodes: 3, podsPerNode: 1, pool: { ipipMode: 'Never', vxlanMode: 'Never' } }, async (lab) => {
    const st = lab.state();
    await waitAllPing(lab.pods);
    const gone = st.nodes[2]!;
    const block = lab.pods.find((p) => p.node === gone.name)!.block;
    await agentStop(lab.name, gone.name);
    // What Calico's controllers do for a deleted Kubernetes node: Node, its IPAM block and affinity.
    await withEtcd(st, async (c) => {
      await c.delete().key(resourceKey('nodes', gone.name));
      await c.delete().key(ipamBlockKey(block));
      await c.delete().key(blockAffinityKey(gone.name, block));
    });
    for (const n of st.nodes.slice(0, 2)) {
      await waitFor(async () => !(await poolRoutes(n.netns)).some((r) => r.startsWith(`${block} `)), { timeoutMs: 20_000, intervalMs: 250, what: `${block} gone from ${n.name}` });
    }
    await waitAllPing(lab.pods.filter((p) => p.node !== gone.name));
  });
});

test('IPIP pool on a kernel without ipip: reported once (log, metric), the rest keeps working', async () => {
  await withRoutingLab({ tag: 'ip', nodes: 2, podsPerNode: 2, pool: { ipipMode: 'Always', vxlanMode: 'Never' }, agentEnv: { CALICO_IPV4POOL_IPIP: 'Always' } }, async (lab) => {
    const st = lab.state();
    const n1 = st.nodes[0]!;
    await waitFor(async () => (await sh(n1.netns, 'curl -s http://127.0.0.1:9091/metrics')).includes('tortie_ipip_available 0'), { timeoutMs: 30_000, intervalMs: 500, what: 'tortie_ipip_available 0' });
    const unavailable = async () => (await sh(n1.netns, `cat ${n1.agent!.logFile}`)).split('\n').filter((l) => l.includes('IPIP is unavailable on this kernel'));
    await waitFor(async () => (await unavailable()).length > 0, { timeoutMs: 10_000, what: 'the IPIP error log line' });
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal((await unavailable()).length, 1, 'one clear error line, not one per pass');
    const log = await sh(n1.netns, `cat ${n1.agent!.logFile}`);
    assert.ok(!log.includes('"level":60'), 'nothing fatal');
    // The rest works: pods on one node reach each other, the blackhole is programmed, the Node got its IPIP address.
    const local = lab.pods.filter((p) => p.node === n1.name);
    assert.ok(await ping(local[0]!, local[1]!));
    assert.ok((await poolRoutes(n1.netns)).includes(`${local[0]!.block} blackhole - - 80`));
    const node = await getResource<{ spec: { bgp?: { ipv4IPIPTunnelAddr?: string } } }>(st, 'nodes', n1.name);
    assert.ok(node?.spec.bgp?.ipv4IPIPTunnelAddr, 'IPIP tunnel address allocated');
    const health = await sh(n1.netns, 'curl -s http://127.0.0.1:9099/readiness?detail=1; echo; curl -s http://127.0.0.1:9099/liveness');
    assert.ok(!health.includes('"live":false'), `agent stays live: ${health}`);
  });
});

test('CrossSubnet VXLAN over two fabric subnets: direct inside a subnet, VXLAN across', async () => {
  await withRoutingLab(
    { tag: 'xs', nodes: 3, subnets: 2, podsPerNode: 1, pool: { ipipMode: 'Never', vxlanMode: 'CrossSubnet' }, agentEnv: { ...VXLAN_ENV, CALICO_IPV4POOL_VXLAN: 'CrossSubnet' } },
    async (lab) => {
      const st = lab.state();
      await waitAllPing(lab.pods);
      const [a, b, c] = st.nodes;
      assert.equal(a!.subnet, b!.subnet);
      assert.notEqual(a!.subnet, c!.subnet);
      const blockOf = (node: string) => lab.pods.find((p) => p.node === node)!.block;
      const r = await poolRoutes(a!.netns);
      assert.ok(r.includes(`${blockOf(b!.name)} unicast ${b!.ip} eth0 80`), `same subnet goes direct: ${r.join('; ')}`);
      assert.ok(r.some((x) => x.startsWith(`${blockOf(c!.name)} unicast `) && x.includes('vxlan.calico')), `other subnet via VXLAN: ${r.join('; ')}`);
    },
  );
});
