/**
 * Pods as Calico's CNI plugin and calico-ipam make them: addresses from the node's affine block,
 * Calico's keys and JSON shapes in etcd, the veth/route layout in the namespaces, concurrent
 * allocation without duplicates, and release on delete.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Etcd3 } from 'etcd3';
import { labDown, labUp, podAdd, podDel, loadLab, withEtcd, labEtcdClient, type LabState } from '../../src/lab/index.js';
import { assignIp, cidrContains, releaseByHandle } from '../../src/lab/ipam.js';
import { netnsExists, runIn } from '../../src/lab/netns.js';
import { assertNoNamespaces, freshLabDir, labName, requireRoot } from './helpers.js';

const name = labName('pods');
let lab: LabState;

before(async () => {
  requireRoot();
  freshLabDir();
  lab = await labUp({ name, nodes: 2 });
});

after(async () => {
  await labDown(name);
  assertNoNamespaces(`tl-${name}-`);
});

// The assertions below probe Calico's JSON field by field; `any` keeps them readable.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function getJson(c: Etcd3, key: string): Promise<any> {
  const v = await c.get(key).string();
  assert.ok(v, `missing key ${key}`);
  return JSON.parse(v);
}

test('pod add: address from the node block, Calico keys and JSON, veth and routes as the CNI sets them', async () => {
  const p = await podAdd(name, 'node-1', 'web-1', { namespace: 'shop', labels: { app: 'web', tier: 'front' } });
  assert.equal(p.block, '10.65.0.0/26');
  assert.ok(cidrContains(p.block, p.ip));
  // Interface name computed independently of the lab: cali + 11 hex of sha1("<ns>.<pod>").
  assert.equal(p.iface, 'cali' + createHash('sha1').update('shop.web-1').digest('hex').slice(0, 11));

  await withEtcd(lab, async (c) => {
    const wep = await getJson(c, '/calico/resources/v3/projectcalico.org/workloadendpoints/shop/node--1-k8s-web--1-eth0');
    assert.equal(wep.apiVersion, 'projectcalico.org/v3');
    assert.equal(wep.kind, 'WorkloadEndpoint');
    assert.equal(wep.metadata.name, 'node--1-k8s-web--1-eth0');
    assert.equal(wep.metadata.namespace, 'shop');
    assert.deepEqual(wep.metadata.labels, {
      app: 'web',
      tier: 'front',
      'projectcalico.org/namespace': 'shop',
      'projectcalico.org/orchestrator': 'k8s',
      'projectcalico.org/serviceaccount': 'default',
    });
    assert.equal(wep.spec.orchestrator, 'k8s');
    assert.equal(wep.spec.node, 'node-1');
    assert.equal(wep.spec.pod, 'web-1');
    assert.equal(wep.spec.endpoint, 'eth0');
    assert.equal(wep.spec.interfaceName, p.iface);
    assert.deepEqual(wep.spec.ipNetworks, [`${p.ip}/32`]);
    assert.equal(wep.spec.mac, p.mac);
    assert.deepEqual(wep.spec.profiles, ['kns.shop', 'ksa.shop.default']);

    const block = await getJson(c, '/calico/ipam/v2/assignment/ipv4/block/10.65.0.0-26');
    assert.equal(block.cidr, '10.65.0.0/26');
    assert.equal(block.affinity, 'host:node-1');
    assert.equal(block.allocations.length, 64);
    assert.equal(block.deleted, false);
    const ord = Number(p.ip.split('.')[3]);
    const attr = block.attributes[block.allocations[ord]];
    assert.equal(attr.handle_id, p.handleId);
    assert.match(attr.handle_id, /^k8s-pod-network\.[0-9a-f]{64}$/);
    assert.equal(attr.secondary.namespace, 'shop');
    assert.equal(attr.secondary.pod, 'web-1');
    assert.equal(attr.secondary.node, 'node-1');
    assert.ok(!block.unallocated.includes(ord));
    assert.equal(typeof block.sequenceNumber, 'number');

    assert.deepEqual(await getJson(c, '/calico/ipam/v2/host/node-1/ipv4/block/10.65.0.0-26'), { state: 'confirmed', deleted: false });
    assert.deepEqual(await getJson(c, `/calico/ipam/v2/handle/${p.handleId}`), { block: { '10.65.0.0/26': 1 }, deleted: false });
    const prof = await getJson(c, '/calico/resources/v3/projectcalico.org/profiles/kns.shop');
    assert.equal(prof.kind, 'Profile');
  });

  // Host side: cali iface with the CNI's MAC, up, /32 route to the pod.
  const host = JSON.parse((await runIn(lab.nodes[0]!.netns, ['ip', '-j', 'link', 'show', 'dev', p.iface])).stdout)[0];
  assert.equal(host.address, 'ee:ee:ee:ee:ee:ee');
  assert.ok(host.flags.includes('UP'));
  const hostRoute = (await runIn(lab.nodes[0]!.netns, ['ip', 'route', 'show', `${p.ip}/32`])).stdout;
  assert.match(hostRoute, new RegExp(`dev ${p.iface} scope link`));
  // Pod side: eth0 with the /32, default route via 169.254.1.1 onlink.
  const addr = (await runIn(p.netns, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'])).stdout;
  assert.match(addr, new RegExp(`inet ${p.ip.replace(/\./g, '\\.')}/32`));
  const routes = (await runIn(p.netns, ['ip', 'route', 'show'])).stdout;
  assert.match(routes, /default via 169\.254\.1\.1 dev eth0 onlink/);
  assert.match(routes, /169\.254\.1\.1 dev eth0 scope link/);
});

test('two pods on one node: distinct addresses from the same block; another node: another block', async () => {
  const a = await podAdd(name, 'node-1', 'a1');
  const b = await podAdd(name, 'node-1', 'a2');
  const c = await podAdd(name, 'node-2', 'b1');
  assert.notEqual(a.ip, b.ip);
  assert.equal(a.block, b.block);
  assert.notEqual(c.block, a.block);
  assert.equal(c.block, '10.65.0.64/26');
  await withEtcd(lab, async (cl) => {
    const blk = await getJson(cl, '/calico/ipam/v2/assignment/ipv4/block/10.65.0.64-26');
    assert.equal(blk.affinity, 'host:node-2');
  });
  for (const p of ['a1', 'a2', 'b1']) await podDel(name, p);
});

test('concurrent pod adds on one node never hand out one address twice', async () => {
  const pods = Array.from({ length: 8 }, (_, i) => `c${i}`);
  const added = await Promise.all(pods.map((p) => podAdd(name, 'node-2', p)));
  assert.equal(new Set(added.map((p) => p.ip)).size, added.length);
  await withEtcd(lab, async (c) => {
    const blk = await getJson(c, '/calico/ipam/v2/assignment/ipv4/block/10.65.0.64-26');
    const used = (blk.allocations as (number | null)[]).filter((x) => x !== null).length;
    assert.equal(used, added.length);
  });
  for (const p of pods) await podDel(name, p);
});

test('IPAM transactions: parallel allocations from separate clients on one node stay unique', async () => {
  // podAdd serialises on the lab lock; this drives calico-ipam's compare-and-swap directly, the
  // way several CNI invocations on different hosts would race.
  const clients = [labEtcdClient(lab), labEtcdClient(lab), labEtcdClient(lab)];
  try {
    const handles = Array.from({ length: 24 }, (_, i) => `k8s-pod-network.race${i}`);
    const got = await Promise.all(
      handles.map((h, i) => assignIp(clients[i % clients.length]!, { node: 'node-9', handleId: h, pool: lab.pool, attributes: { pod: h } })),
    );
    assert.equal(new Set(got.map((g) => g.ip)).size, handles.length);
    for (const g of got) assert.ok(cidrContains(g.block, g.ip));
    const released = await Promise.all(handles.map((h, i) => releaseByHandle(clients[i % clients.length]!, h)));
    assert.deepEqual(released, handles.map(() => 1));
  } finally {
    for (const c of clients) c.close();
  }
});

test('pod del releases the address, the handle, the WorkloadEndpoint and the namespace', async () => {
  const p = await podAdd(name, 'node-2', 'gone');
  await podDel(name, 'gone');
  assert.equal(netnsExists(p.netns), false);
  await withEtcd(lab, async (c) => {
    assert.equal(await c.get(p.wepKey).string(), null);
    assert.equal(await c.get(`/calico/ipam/v2/handle/${p.handleId}`).string(), null);
    const blk = await getJson(c, '/calico/ipam/v2/assignment/ipv4/block/10.65.0.64-26');
    const ord = Number(p.ip.split('.')[3]) - 64;
    assert.equal(blk.allocations[ord], null);
    assert.ok(blk.unallocated.includes(ord));
  });
  assert.equal(loadLab(name).pods.find((x) => x.name === 'gone'), undefined);
  // The released address is handed out again eventually; a new pod still works.
  const q = await podAdd(name, 'node-2', 'again');
  assert.ok(cidrContains('10.65.0.64/26', q.ip));
  await podDel(name, 'again');
});

test('pods on two nodes reach each other through the node namespaces once routes exist', async () => {
  // No agent here: routes between the nodes are added by hand, to check the pod plumbing only
  // (proxy ARP on the cali side answers the pod's 169.254.1.1 gateway, as Felix configures it).
  const p1 = await podAdd(name, 'node-1', 'ping1');
  const p2 = await podAdd(name, 'node-2', 'ping2');
  const [n1, n2] = lab.nodes;
  for (const [n, p] of [[n1!, p1], [n2!, p2]] as const) await runIn(n.netns, ['sysctl', '-q', '-w', `net.ipv4.conf.${p.iface}.proxy_arp=1`]);
  await runIn(n1!.netns, ['ip', 'route', 'add', `${p2.ip}/32`, 'via', n2!.ip]);
  await runIn(n2!.netns, ['ip', 'route', 'add', `${p1.ip}/32`, 'via', n1!.ip]);
  await runIn(p1.netns, ['ping', '-c', '1', '-W', '2', p2.ip]);
  await podDel(name, 'ping1');
  await podDel(name, 'ping2');
});
