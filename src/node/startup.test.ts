import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runStartup, ensureTunnelAddresses, type NodeStore, type PoolView, type StartupSettings, type StoredNode } from './startup.js';
import { silentLogger } from '../util/log.js';

/** An in-memory NodeStore that counts writes, so idempotence is visible. */
class FakeStore implements NodeStore {
  nodes = new Map<string, StoredNode>();
  pools: PoolView[] = [];
  handles = new Map<string, string[]>();
  writes = 0;
  next = 1;
  async updateNode(name: string, mutate: (n: StoredNode | undefined) => StoredNode | undefined) {
    const cur = this.nodes.get(name);
    const nxt = mutate(cur ? structuredClone(cur) : undefined);
    if (!nxt || (cur && JSON.stringify(cur) === JSON.stringify(nxt))) return cur;
    this.writes++;
    this.nodes.set(name, nxt);
    return nxt;
  }
  async listPools() { return this.pools; }
  async createPool(p: PoolView) { if (this.pools.some((x) => x.metadata.name === p.metadata.name)) return false; this.pools.push(p); this.writes++; return true; }
  async addressesOfHandle(h: string) { return this.handles.get(h) ?? []; }
  async assign(_node: string, h: string, pool: { cidr: string }, secondary: Record<string, string>) {
    assert.ok(secondary.type && secondary.node, 'tunnel allocations carry node and type attributes');
    const ip = pool.cidr.replace(/\.0\/\d+$/, `.${this.next++}`);
    this.handles.set(h, [...(this.handles.get(h) ?? []), ip]);
    return ip;
  }
}

const settings = (o: Partial<StartupSettings> = {}): StartupSettings => ({
  nodeName: 'node-1', ipv4Cidr: '198.18.0.11/24', networkingBackend: 'bird',
  defaultPool: { cidr: '10.65.0.0/16', ipipMode: 'Never', vxlanMode: 'Always', natOutgoing: true }, ...o,
});

test('startup creates Node, default pool and VXLAN tunnel address; a second run writes nothing', async () => {
  const s = new FakeStore();
  const r = await runStartup(s, settings({ asNumber: 64513 }), silentLogger);
  assert.equal(r.createdPool, true);
  assert.equal(s.pools[0]!.spec.vxlanMode, 'Always');
  const n = s.nodes.get('node-1')!;
  assert.equal(n.spec.bgp?.ipv4Address, '198.18.0.11/24');
  assert.equal(n.spec.bgp?.asNumber, 64513);
  assert.equal(n.spec.ipv4VXLANTunnelAddr, '10.65.0.1');
  assert.match(n.spec.vxlanTunnelMACAddr!, /^66:/);
  const w = s.writes;
  await runStartup(s, settings({ asNumber: 64513 }), silentLogger);
  assert.equal(s.writes, w, 'idempotent');
});

test('fields others set survive; an existing pool is never replaced', async () => {
  const s = new FakeStore();
  s.pools.push({ metadata: { name: 'mine' }, spec: { cidr: '10.70.0.0/16', vxlanMode: 'Never', ipipMode: 'Never' } });
  s.nodes.set('node-1', { apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name: 'node-1', labels: { rack: 'r1' } }, spec: { bgp: { ipv4Address: '198.18.0.5/24', routeReflectorClusterID: '1.0.0.1' } } });
  const r = await runStartup(s, settings(), silentLogger);
  assert.equal(r.createdPool, false);
  assert.equal(s.pools.length, 1);
  const n = s.nodes.get('node-1')!;
  assert.deepEqual(n.metadata.labels, { rack: 'r1' });
  assert.equal(n.spec.bgp?.routeReflectorClusterID, '1.0.0.1');
  assert.equal(n.spec.bgp?.ipv4Address, '198.18.0.11/24');
  assert.equal(n.spec.ipv4VXLANTunnelAddr, undefined, 'no VXLAN pool: no tunnel address');
});

test('tunnel address: kept across runs, reused from the handle after a crash, cleared when no pool needs it', async () => {
  const s = new FakeStore();
  const pools: PoolView[] = [{ metadata: { name: 'p' }, spec: { cidr: '10.65.0.0/16', vxlanMode: 'Always' } }];
  s.pools = pools;
  await runStartup(s, settings(), silentLogger);
  assert.equal(s.nodes.get('node-1')!.spec.ipv4VXLANTunnelAddr, '10.65.0.1');
  // A crash after allocation, before the Node write: the handle's address is reused, not a new one.
  delete s.nodes.get('node-1')!.spec.ipv4VXLANTunnelAddr;
  await ensureTunnelAddresses(s, settings(), pools, silentLogger);
  assert.equal(s.nodes.get('node-1')!.spec.ipv4VXLANTunnelAddr, '10.65.0.1');
  assert.equal(s.handles.get('vxlan-tunnel-addr-node-1')!.length, 1);
  pools[0]!.spec.vxlanMode = 'Never';
  await ensureTunnelAddresses(s, settings(), pools, silentLogger);
  assert.equal(s.nodes.get('node-1')!.spec.ipv4VXLANTunnelAddr, undefined);
});

test('IPIP tunnel address only with the bird backend', async () => {
  const pools: PoolView[] = [{ metadata: { name: 'p' }, spec: { cidr: '10.66.0.0/16', ipipMode: 'Always' } }];
  const s = new FakeStore();
  s.pools = pools;
  await runStartup(s, settings({ networkingBackend: 'vxlan' }), silentLogger);
  assert.equal(s.nodes.get('node-1')!.spec.bgp?.ipv4IPIPTunnelAddr, undefined);
  await runStartup(s, settings(), silentLogger);
  assert.equal(s.nodes.get('node-1')!.spec.bgp?.ipv4IPIPTunnelAddr, '10.66.0.1');
});
