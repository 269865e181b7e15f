/**
 * A lab against the real kernel and etcd: nodes reach each other over the fabric, etcd answers
 * from inside every node, forwarding is on in the nodes only, the Calico resources of a
 * pre-provisioned cluster are in etcd, the BIRD peer runs, the two-subnet variant routes through
 * its router, and teardown is complete and idempotent.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { etcdStart, etcdStop, labDown, labUp, loadLab, withEtcd, withLab } from '../../src/lab/index.js';
import { etcdHealth } from '../../src/lab/etcd.js';
import { isRunning, run } from '../../src/lab/exec.js';
import { runIn } from '../../src/lab/netns.js';
import { birdcArgv } from '../../src/lab/bird.js';
import { assertNoNamespaces, assertNoProcesses, freshLabDir, labName, labPids, requireRoot } from './helpers.js';

before(() => {
  requireRoot();
  freshLabDir();
});

test('up --nodes 3 --datastore etcd: fabric connectivity, etcd from every node, Calico resources', async () => {
  const name = labName('up');
  let pids: number[] = [];
  await withLab({ name, nodes: 3, datastore: 'etcd' }, async (lab) => {
    pids = labPids(lab);
    assert.deepEqual(lab.nodes.map((n) => n.ip), ['198.18.0.11', '198.18.0.12', '198.18.0.13']);
    const [n1, n2] = lab.nodes;
    await runIn(n2!.netns, ['ping', '-c', '1', '-W', '2', n1!.ip]);
    for (const n of lab.nodes) {
      const r = await etcdHealth(n.netns, lab.etcd!.endpoint);
      assert.equal(r.code, 0, `etcd from ${n.name}: ${r.stderr}`);
      const fwd = await runIn(n.netns, ['cat', '/proc/sys/net/ipv4/ip_forward']);
      assert.equal(fwd.stdout.trim(), '1');
      const link = await runIn(n.netns, ['ip', '-j', 'addr', 'show', 'dev', 'eth0']);
      assert.match(link.stdout, new RegExp(`"local":"${n.ip.replace(/\./g, '\\.')}","prefixlen":24`));
    }
    await withEtcd(lab, async (c) => {
      const node = JSON.parse((await c.get('/calico/resources/v3/projectcalico.org/nodes/node-2').string())!);
      assert.equal(node.kind, 'Node');
      assert.equal(node.apiVersion, 'projectcalico.org/v3');
      assert.equal(node.spec.bgp.ipv4Address, '198.18.0.12/24');
      const pool = JSON.parse((await c.get('/calico/resources/v3/projectcalico.org/ippools/default-ipv4-ippool').string())!);
      assert.equal(pool.spec.cidr, '10.65.0.0/16');
      assert.equal(pool.spec.blockSize, 26);
      const ci = JSON.parse((await c.get('/calico/resources/v3/projectcalico.org/clusterinformations/default').string())!);
      assert.equal(ci.spec.datastoreReady, true);
    });
    // Lab state survives a fresh read (what `down` from another process sees).
    assert.deepEqual(loadLab(name).namespaces, lab.namespaces);
  });
  assertNoNamespaces(`tl-${name}-`);
  assertNoProcesses(pids);
});

test('pool modes: the IPPool is written with the requested ipipMode, vxlanMode and natOutgoing', async () => {
  const name = labName('pool');
  await withLab({ name, nodes: 1, pool: { vxlanMode: 'CrossSubnet', ipipMode: 'Always', natOutgoing: false } }, async (lab) => {
    await withEtcd(lab, async (c) => {
      const pool = JSON.parse((await c.get('/calico/resources/v3/projectcalico.org/ippools/default-ipv4-ippool').string())!);
      assert.equal(pool.spec.vxlanMode, 'CrossSubnet');
      assert.equal(pool.spec.ipipMode, 'Always');
      assert.equal(pool.spec.natOutgoing, false);
      assert.equal(pool.spec.cidr, '10.65.0.0/16');
    });
  });
  await assert.rejects(labUp({ name, nodes: 1, pool: { vxlanMode: 'Sometimes' as never } }), /vxlanMode must be one of Never, Always, CrossSubnet/);
  assertNoNamespaces(`tl-${name}-`);
});

test('--bird-peer: BIRD runs with one session per node and answers birdc on the lab socket', async () => {
  const name = labName('bird');
  let pids: number[] = [];
  await withLab({ name, nodes: 2, birdPeer: { asNumber: 64513, passive: true } }, async (lab) => {
    pids = labPids(lab);
    const conf = readFileSync(lab.bird!.configFile, 'utf8');
    assert.match(conf, /neighbor 198\.18\.0\.11 as 64513;/);
    assert.match(conf, /passive on;/);
    assert.match(conf, /rr client;/);
    const out = (await run(birdcArgv(lab.bird!.controlSocket, 'show', 'protocols'))).stdout;
    assert.match(out, /node_1\s+BGP/);
    assert.match(out, /node_2\s+BGP/);
    await runIn(lab.nodes[0]!.netns, ['ping', '-c', '1', '-W', '2', lab.bird!.ip]);
  });
  assertNoNamespaces(`tl-${name}-`);
  assertNoProcesses(pids);
});

test('--subnets 2: half the nodes in 198.18.1.0/24, reachable through the router', async () => {
  const name = labName('sub2');
  await withLab({ name, nodes: 4, subnets: 2, birdPeer: true }, async (lab) => {
    assert.deepEqual(lab.nodes.map((n) => n.ip), ['198.18.0.11', '198.18.0.12', '198.18.1.13', '198.18.1.14']);
    // node-1 to node-4 crosses the router: TTL 64 arrives as 63.
    const r = await runIn(lab.nodes[0]!.netns, ['ping', '-c', '1', '-W', '2', '198.18.1.14']);
    assert.match(r.stdout, /ttl=63/);
    const h = await etcdHealth(lab.nodes[3]!.netns, lab.etcd!.endpoint);
    assert.equal(h.code, 0, h.stderr);
    assert.match(readFileSync(lab.bird!.configFile, 'utf8'), /neighbor 198\.18\.1\.14 as 64512;\n {2}import all;\n {2}export filter only_bgp;\n {2}multihop;/);
  });
  assertNoNamespaces(`tl-${name}-`);
});

test('down is idempotent: twice, and for a lab that never existed', async () => {
  const name = labName('twice');
  const lab = await labUp({ name, nodes: 1, datastore: 'none' });
  assert.deepEqual(await labDown(name), { name, existed: true });
  assert.deepEqual(await labDown(name), { name, existed: false });
  assertNoNamespaces(`tl-${name}-`);
  assertNoProcesses(labPids(lab));
});

test('nothing is created in the root namespace', async () => {
  const name = labName('root');
  const before = (await run(['ip', '-j', 'link', 'show'])).stdout;
  const routes = (await run(['ip', 'route', 'show', 'table', 'all'])).stdout;
  const forward = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8');
  await withLab({ name, nodes: 2, birdPeer: true }, async () => {
    assert.equal(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8'), forward, "root namespace's ip_forward changed");
    assert.equal((await run(['ip', '-j', 'link', 'show'])).stdout.split('"ifname"').length, before.split('"ifname"').length);
    const after = (await run(['ip', 'route', 'show', 'table', 'all'])).stdout;
    assert.doesNotMatch(after.replace(routes, ''), /198\.18\.|10\.65\./);
  });
});

test('etcd outage: etcdStop then etcdStart keeps the data; nodes reach it again', async () => {
  const name = labName('outage');
  await withLab({ name, nodes: 1 }, async (lab) => {
    const oldPid = lab.etcd!.pid;
    assert.equal(await etcdStop(name, { kill: true }), true);
    assert.equal(isRunning(oldPid), false);
    assert.notEqual((await etcdHealth(lab.nodes[0]!.netns, lab.etcd!.endpoint)).code, 0);
    assert.equal(await etcdStop(name), false);
    const e = await etcdStart(name);
    assert.notEqual(e.pid, oldPid);
    await assert.rejects(etcdStart(name), /already running/);
    assert.equal((await etcdHealth(lab.nodes[0]!.netns, lab.etcd!.endpoint)).code, 0);
    await withEtcd(loadLab(name), async (c) => {
      assert.ok(await c.get('/calico/resources/v3/projectcalico.org/nodes/node-1').string());
    });
  });
  assertNoNamespaces(`tl-${name}-`);
});
