import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateResource, canonicalKey, type ResourceKind } from '../datastore/model/index.js';
import type { Update } from '../datastore/syncer.js';
import type { DesiredRoute, IpipDeviceSpec, RemoteVtep, VxlanDeviceSpec } from '../dataplane/types.js';
import { CalcGraph, type CalcConfig } from './graph.js';
import type { BgpUnavailable, DesiredBgp } from './bgp.js';
import { durationSeconds } from './bgp.js';

/** Builds a validated add update, as the syncer would deliver it. */
function add(kind: ResourceKind, value: Record<string, unknown>): Update {
  const v = validateResource(kind, { apiVersion: 'projectcalico.org/v3', kind, ...value });
  if (!v.ok) throw new Error(`fixture ${kind}: ${JSON.stringify(v.problems)}`);
  const md = value.metadata as { name: string; namespace?: string };
  return { type: 'add', kind, key: canonicalKey(kind, md.name, md.namespace), value: v.resource, revision: '1' };
}

function del(u: Update): Update {
  return { type: 'delete', kind: u.kind, key: u.key, revision: '2' };
}

const node = (name: string, ip: string, extra: Record<string, unknown> = {}) =>
  add('Node', { metadata: { name, labels: { name } }, spec: { bgp: { ipv4Address: ip, ...(extra.bgp as object) }, ...extra.spec as object } });
const pool = (name: string, cidr: string, spec: Record<string, unknown> = {}) =>
  add('IPPool', { metadata: { name }, spec: { cidr, ipipMode: 'Never', vxlanMode: 'Never', ...spec } });
const block = (cidr: string, host: string, extra: Record<string, unknown> = {}) =>
  add('IPAMBlock', { metadata: { name: cidr.replace(/[./]/g, '-') }, spec: { cidr, affinity: `host:${host}`, allocations: [], unallocated: [], attributes: [], ...extra } });
const wep = (nodeName: string, pod: string, ip: string, iface: string) =>
  add('WorkloadEndpoint', {
    metadata: { name: `${nodeName}-k8s-${pod}-eth0`, namespace: 'default' },
    spec: { node: nodeName, orchestrator: 'k8s', pod, endpoint: 'eth0', interfaceName: iface, ipNetworks: [`${ip}/32`], profiles: [] },
  });

/** A sink that records the dataplane's resulting state (not the calls), so orders can be compared. */
class RecordingSink {
  routes = new Map<string, DesiredRoute>();
  vteps = new Map<string, RemoteVtep>();
  vxlan: VxlanDeviceSpec | undefined;
  ipip: IpipDeviceSpec | undefined;
  bgp: DesiredBgp | BgpUnavailable | undefined;
  calls = 0;
  setRoute(r: DesiredRoute) { this.calls++; this.routes.set(r.dst, r); }
  deleteRoute(dst: string) { this.calls++; assert.ok(this.routes.delete(dst), `delete of a route never set: ${dst}`); }
  setVxlanDevice(s: VxlanDeviceSpec | undefined) { this.vxlan = s; }
  setIpipDevice(s: IpipDeviceSpec | undefined) { this.ipip = s; }
  setVtep(v: RemoteVtep) { this.vteps.set(v.node, v); }
  deleteVtep(n: string) { assert.ok(this.vteps.delete(n)); }
  setDesiredBgp(d: DesiredBgp | BgpUnavailable) { this.bgp = d; }
}

const cfg = (nodeName: string, backend: CalcConfig['networkingBackend'] = 'bird'): CalcConfig => ({
  nodeName, networkingBackend: backend, uplinkMtu: 1500, uplinkDevice: 'eth0', vxlanVni: 4096, vxlanPort: 4789,
});

function run(updates: Update[], c = cfg('node-1'), batches: number[] = []) {
  const sink = new RecordingSink();
  const g = new CalcGraph(c, { dataplane: sink, bgp: sink });
  let i = 0;
  for (const n of [...batches, updates.length]) {
    g.onUpdates(updates.slice(i, n));
    i = n;
  }
  return { sink, g };
}

const routesOf = (s: RecordingSink) => Object.fromEntries([...s.routes].sort(([a], [b]) => (a < b ? -1 : 1)));

test('BGP mode: workload routes, blackhole for local blocks, remote non-VXLAN blocks left to BGP', () => {
  const { sink } = run([
    node('node-1', '198.18.0.11/24'), node('node-2', '198.18.0.12/24'), pool('p', '10.65.0.0/16'),
    block('10.65.0.0/26', 'node-1'), block('10.65.0.64/26', 'node-2'),
    wep('node-1', 'a', '10.65.0.1', 'cali0123456789a'), wep('node-2', 'b', '10.65.0.65', 'cali0123456789b'),
  ]);
  assert.deepEqual(routesOf(sink), {
    '10.65.0.0/26': { class: 'local-block', dst: '10.65.0.0/26', type: 'blackhole' },
    '10.65.0.1/32': { class: 'workload', dst: '10.65.0.1/32', dev: 'cali0123456789a' },
  });
  assert.equal(sink.vxlan, undefined);
});

test('VXLAN pool: device, VTEPs and routes via vxlan.calico onlink; CrossSubnet goes direct in the same subnet', () => {
  const updates = [
    node('node-1', '198.18.0.11/24', { spec: { ipv4VXLANTunnelAddr: '10.65.0.0' } }),
    node('node-2', '198.18.0.12/24', { spec: { ipv4VXLANTunnelAddr: '10.65.0.64', vxlanTunnelMACAddr: '66:aa:bb:cc:dd:ee' } }),
    node('node-3', '198.18.1.13/24', { spec: { ipv4VXLANTunnelAddr: '10.65.0.128' } }),
    pool('p', '10.65.0.0/16', { vxlanMode: 'CrossSubnet' }),
    block('10.65.0.0/26', 'node-1'), block('10.65.0.64/26', 'node-2'), block('10.65.0.128/26', 'node-3'),
  ];
  const { sink } = run(updates, cfg('node-1', 'vxlan'));
  assert.deepEqual(routesOf(sink), {
    '10.65.0.0/26': { class: 'local-block', dst: '10.65.0.0/26', type: 'blackhole' },
    '10.65.0.64/26': { class: 'no-encap', dst: '10.65.0.64/26', gateway: '198.18.0.12', dev: 'eth0' },
    '10.65.0.128/26': { class: 'vxlan', dst: '10.65.0.128/26', gateway: '10.65.0.128', dev: 'vxlan.calico', onlink: true },
  });
  assert.equal(sink.vxlan?.mtu, 1450);
  assert.equal(sink.vxlan?.address, '10.65.0.0/32');
  assert.equal(sink.vxlan?.local, '198.18.0.11');
  assert.match(sink.vxlan!.mac, /^66:/);
  assert.deepEqual(sink.vteps.get('node-2'), { node: 'node-2', tunnelIp: '10.65.0.64', mac: '66:aa:bb:cc:dd:ee', hostIp: '198.18.0.12', dev: 'vxlan.calico' });
  assert.equal(sink.vteps.size, 2);
  assert.deepEqual(sink.bgp, { reason: 'backend' });
});

test('changing a pool from VXLAN to no-encap removes VXLAN routes, device and VTEPs without a restart', () => {
  const base = [
    node('node-1', '198.18.0.11/24', { spec: { ipv4VXLANTunnelAddr: '10.65.0.0' } }),
    node('node-2', '198.18.0.12/24', { spec: { ipv4VXLANTunnelAddr: '10.65.0.64' } }),
    pool('p', '10.65.0.0/16', { vxlanMode: 'Always' }), block('10.65.0.64/26', 'node-2'),
  ];
  const sink = new RecordingSink();
  const g = new CalcGraph(cfg('node-1'), { dataplane: sink, bgp: sink });
  g.onUpdates(base);
  assert.equal(sink.routes.get('10.65.0.64/26')?.class, 'vxlan');
  g.onUpdates([{ ...pool('p', '10.65.0.0/16'), type: 'update' }]);
  assert.equal(sink.routes.has('10.65.0.64/26'), false);
  assert.equal(sink.vxlan, undefined);
  assert.equal(sink.vteps.size, 0);
  // BGP now supplies the route to the remote block.
  g.onBgpBest([{ prefix: '10.65.0.64/26', nextHop: '198.18.0.12' }]);
  // Same subnet: through the uplink, as the kernel will report it (reads back unchanged).
  assert.deepEqual(sink.routes.get('10.65.0.64/26'), { class: 'bgp', dst: '10.65.0.64/26', gateway: '198.18.0.12', dev: 'eth0' });
});

test('BGP import filter: IPIP via tunl0 onlink, CrossSubnet direct in subnet, VXLAN pools and own blocks never', () => {
  const { sink, g } = run([
    node('node-1', '198.18.0.11/24'), pool('ipip', '10.65.0.0/16', { ipipMode: 'Always' }),
    pool('xs', '10.66.0.0/16', { ipipMode: 'CrossSubnet' }), pool('vx', '10.67.0.0/16', { vxlanMode: 'Always' }),
    block('10.65.0.0/26', 'node-1'),
  ]);
  g.onBgpBest([
    { prefix: '10.65.0.64/26', nextHop: '198.18.0.12' },
    { prefix: '10.66.0.0/26', nextHop: '198.18.0.12' },
    { prefix: '10.66.0.64/26', nextHop: '198.18.1.13' },
    { prefix: '10.67.0.0/26', nextHop: '198.18.0.12' },
    { prefix: '10.65.0.0/26', nextHop: '198.18.0.12' },
    { prefix: '192.0.2.0/24', nextHop: '198.18.0.3' },
  ]);
  assert.deepEqual(sink.routes.get('10.65.0.64/26'), { class: 'bgp', dst: '10.65.0.64/26', gateway: '198.18.0.12', dev: 'tunl0', onlink: true });
  assert.deepEqual(sink.routes.get('10.66.0.0/26'), { class: 'bgp', dst: '10.66.0.0/26', gateway: '198.18.0.12', dev: 'eth0' });
  assert.equal(sink.routes.get('10.66.0.64/26')?.dev, 'tunl0');
  assert.equal(sink.routes.has('10.67.0.0/26'), false);
  assert.equal(sink.routes.get('10.65.0.0/26')?.class, 'local-block', 'our own block stays a blackhole');
  assert.equal(sink.routes.get('192.0.2.0/24')?.class, 'bgp');
  // A next hop outside our subnet gets no device: the kernel resolves it (no uplink claimed).
  g.onBgpBest([{ prefix: '192.0.3.0/24', nextHop: '203.0.113.9' }]);
  assert.deepEqual(sink.routes.get('192.0.3.0/24'), { class: 'bgp', dst: '192.0.3.0/24', gateway: '203.0.113.9' });
  assert.deepEqual(sink.ipip, { mtu: 1480, address: undefined });
  g.onBgpBest([{ prefix: '10.65.0.64/26' }]);
  assert.equal(sink.routes.has('10.65.0.64/26'), false);
});

test('borrowed address in a VXLAN pool gets a /32 towards the node that uses it', () => {
  const { sink } = run([
    node('node-1', '198.18.0.11/24', { spec: { ipv4VXLANTunnelAddr: '10.65.0.0' } }),
    node('node-2', '198.18.0.12/24', { spec: { ipv4VXLANTunnelAddr: '10.65.0.64' } }),
    pool('p', '10.65.0.0/16', { vxlanMode: 'Always' }),
    block('10.65.0.0/26', 'node-1', { allocations: [0, null, 1], attributes: [{ handle_id: 'h0', secondary: { node: 'node-1' } }, { handle_id: 'h1', secondary: { node: 'node-2' } }] }),
  ]);
  assert.deepEqual(sink.routes.get('10.65.0.2/32'), { class: 'vxlan', dst: '10.65.0.2/32', gateway: '10.65.0.64', dev: 'vxlan.calico', onlink: true });
});

test('node removed: its routes and VTEP disappear, no stale blackhole', () => {
  const n2 = node('node-2', '198.18.0.12/24', { spec: { ipv4VXLANTunnelAddr: '10.65.0.64' } });
  const b2 = block('10.65.0.64/26', 'node-2');
  const sink = new RecordingSink();
  const g = new CalcGraph(cfg('node-1', 'vxlan'), { dataplane: sink });
  g.onUpdates([node('node-1', '198.18.0.11/24', { spec: { ipv4VXLANTunnelAddr: '10.65.0.0' } }), n2, pool('p', '10.65.0.0/16', { vxlanMode: 'Always' }), b2]);
  assert.equal(sink.routes.size, 1);
  g.onUpdates([del(n2), del(b2)]);
  assert.equal(sink.routes.size, 0);
  assert.equal(sink.vteps.size, 0);
});

test('mesh peers, passive on the higher IP, AS precedence, explicit peers override the mesh', () => {
  const { sink } = run([
    node('node-1', '198.18.0.11/24'), node('node-2', '198.18.0.12/24', { bgp: { asNumber: 65002 } }), node('node-0', '198.18.0.10/24'),
    add('BGPConfiguration', { metadata: { name: 'default' }, spec: { asNumber: 65000, serviceClusterIPs: [{ cidr: '10.96.0.0/12' }], prefixAdvertisements: [{ cidr: '10.65.0.0/16', communities: ['65000:100', 'big'] }], communities: [{ name: 'big', value: '65000:1:2' }] } }),
    add('BGPPeer', { metadata: { name: 'tor' }, spec: { peerIP: '198.18.0.3', asNumber: 64512 } }),
    add('BGPPeer', { metadata: { name: 'only-node-2' }, spec: { node: 'node-2', peerIP: '198.18.0.4', asNumber: 64512 } }),
    add('BGPPeer', { metadata: { name: 'override' }, spec: { node: 'node-1', peerIP: '198.18.0.12', asNumber: 65002, keepaliveTime: '10s' } }),
    pool('p', '10.65.0.0/16'), block('10.65.0.0/26', 'node-1'),
  ]);
  const d = sink.bgp as DesiredBgp;
  assert.equal(d.routerId, '198.18.0.11');
  assert.equal(d.asNumber, 65000);
  const byAddr = Object.fromEntries(d.peers.map((p) => [p.address, p]));
  assert.deepEqual(Object.keys(byAddr).sort(), ['198.18.0.10', '198.18.0.12', '198.18.0.3']);
  assert.equal(byAddr['198.18.0.10']!.passive, true, '198.18.0.11 > 198.18.0.10: we are passive');
  assert.equal(byAddr['198.18.0.10']!.type, 'node-to-node mesh');
  assert.equal(byAddr['198.18.0.12']!.type, 'node specific');
  assert.equal(byAddr['198.18.0.12']!.keepaliveTime, 10);
  assert.equal(byAddr['198.18.0.3']!.type, 'global');
  assert.deepEqual(d.exports, [
    { prefix: '10.65.0.0/26', nextHop: '198.18.0.11', communities: ['65000:100'], largeCommunities: ['65000:1:2'] },
    { prefix: '10.96.0.0/12', nextHop: '198.18.0.11' },
  ]);
});

test('route reflector: clusterID makes iBGP peers without it clients; disableBGPExport pools are not exported', () => {
  const { sink } = run([
    node('node-1', '198.18.0.11/24', { bgp: { routeReflectorClusterID: '224.0.0.1' } }), node('node-2', '198.18.0.12/24'),
    node('node-3', '198.18.0.13/24', { bgp: { routeReflectorClusterID: '224.0.0.1' } }),
    add('BGPConfiguration', { metadata: { name: 'default' }, spec: { nodeToNodeMeshEnabled: false } }),
    add('BGPPeer', { metadata: { name: 'rr' }, spec: { peerSelector: 'all()' } }),
    pool('quiet', '10.65.0.0/16', { disableBGPExport: true }), block('10.65.0.0/26', 'node-1'),
  ]);
  const d = sink.bgp as DesiredBgp;
  assert.equal(d.clusterId, '224.0.0.1');
  const byAddr = Object.fromEntries(d.peers.map((p) => [p.address, p]));
  assert.equal(byAddr['198.18.0.12']!.routeReflectorClient, true);
  assert.equal(byAddr['198.18.0.13']!.routeReflectorClient, false);
  assert.deepEqual(d.exports, []);
});

test('durations in Calico format', () => {
  assert.equal(durationSeconds('2m'), 120);
  assert.equal(durationSeconds('1m30s'), 90);
  assert.equal(durationSeconds('30x'), undefined);
});

test('replay: the same updates in any order and batch split give the same dataplane state', () => {
  const updates = [
    node('node-1', '198.18.0.11/24', { spec: { ipv4VXLANTunnelAddr: '10.65.0.0' } }),
    node('node-2', '198.18.0.12/24', { spec: { ipv4VXLANTunnelAddr: '10.65.0.64' } }),
    node('node-3', '198.18.1.13/24', { spec: { ipv4VXLANTunnelAddr: '10.65.0.128' } }),
    pool('p', '10.65.0.0/16', { vxlanMode: 'CrossSubnet' }), pool('q', '10.70.0.0/16'),
    block('10.65.0.0/26', 'node-1'), block('10.65.0.64/26', 'node-2'), block('10.65.0.128/26', 'node-3'),
    block('10.70.0.0/26', 'node-1'),
    wep('node-1', 'a', '10.65.0.1', 'cali00000000001'), wep('node-1', 'b', '10.70.0.1', 'cali00000000002'),
    wep('node-2', 'c', '10.65.0.65', 'cali00000000003'),
  ];
  const ref = run(updates).sink;
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let trial = 0; trial < 50; trial++) {
    const shuffled = [...updates].sort(() => rnd() - 0.5);
    const split = [Math.floor(rnd() * updates.length)];
    const got = run(shuffled, cfg('node-1'), split).sink;
    assert.deepEqual(routesOf(got), routesOf(ref), `trial ${trial}`);
    assert.deepEqual([...got.vteps.keys()].sort(), [...ref.vteps.keys()].sort());
    assert.deepEqual(got.vxlan, ref.vxlan);
    assert.deepEqual(got.bgp, ref.bgp);
  }
});
