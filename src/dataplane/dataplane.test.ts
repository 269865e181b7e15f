import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { Dataplane, RETRY_BACKOFF_INITIAL_MS } from './dataplane.js';
import { FakeKernel } from './fake-kernel.js';
import { FakeClock } from '../util/clock.js';
import type { DesiredRoute, RemoteVtep, VxlanDeviceSpec } from './types.js';

/** The shared fake clock, advanced with a settle after each timer so async applies finish. */
class ManualClock extends FakeClock {
  constructor() {
    super(1_000_000);
  }
  /** Advances `ms`, letting each fired timer's async work settle before the next. */
  tick(ms: number): Promise<void> {
    return this.advanceSettling(ms, settle);
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

const VXLAN: VxlanDeviceSpec = { vni: 4096, port: 4789, parent: 'eth0', local: '198.18.0.1', mac: '66:00:00:00:00:01', mtu: 1450, address: '10.65.0.1/32' };
const VTEP: RemoteVtep = { node: 'node-b', tunnelIp: '10.65.1.1', mac: '66:00:00:00:00:02', hostIp: '198.18.0.2' };
const WL: DesiredRoute = { class: 'workload', dst: '10.65.0.5/32', dev: 'cali1234' };
const BLOCK: DesiredRoute = { class: 'local-block', dst: '10.65.0.0/26', type: 'blackhole' };
const REMOTE: DesiredRoute = { class: 'vxlan', dst: '10.65.1.0/26', gateway: '10.65.1.1', dev: 'vxlan.calico', onlink: true };

function setup(): { k: FakeKernel; dp: Dataplane; reg: Registry; clock: ManualClock } {
  const k = new FakeKernel();
  k.addLink('lo');
  k.addLink('eth0', { addresses: ['198.18.0.1/24'] });
  const reg = new Registry();
  const clock = new ManualClock();
  const dp = new Dataplane({ kernel: k, registry: reg, clock });
  return { k, dp, reg, clock };
}

function wantAll(dp: Dataplane): void {
  dp.setVxlanDevice(VXLAN);
  dp.setVtep(VTEP);
  dp.setRoute(WL);
  dp.setRoute(BLOCK);
  dp.setRoute(REMOTE);
}

async function metric(reg: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const m = (await reg.getMetricsAsJSON()).find((x) => x.name === name);
  const v = (m?.values as { value: number; labels: Record<string, string | number>; metricName?: string }[] | undefined)?.find(
    (x) => Object.entries(labels).every(([k, val]) => String(x.labels[k]) === val) && (x.metricName === undefined || x.metricName === name),
  );
  return v?.value;
}

test('nothing is written before the datastore is in sync', async () => {
  const { k, dp } = setup();
  wantAll(dp);
  dp.start();
  const r = await dp.applyNow();
  assert.equal(r.ok, false);
  assert.deepEqual(k.writes, []);
  assert.equal(dp.status().ready, false);
  await dp.stop();
});

test('full apply programs devices, VTEP, sysctls and routes with the right protocols', async () => {
  const { k, dp, reg } = setup();
  k.addLink('cali1234');
  wantAll(dp);
  dp.setDatastoreInSync(true);
  const r = await dp.applyNow();
  assert.equal(r.ok, true, r.errors.join('\n'));
  const vx = k.linkTable.get('vxlan.calico')!;
  assert.deepEqual([vx.kind, vx.vxlan?.vni, vx.vxlan?.port, vx.vxlan?.parent, vx.mtu, vx.mac, vx.adminUp], ['vxlan', 4096, 4789, 'eth0', 1450, '66:00:00:00:00:01', true]);
  assert.deepEqual(vx.addresses, ['10.65.0.1/32']);
  assert.equal(k.neighTable.get('vxlan.calico|10.65.1.1')?.mac, '66:00:00:00:00:02');
  assert.equal(k.fdbTable.get('vxlan.calico|66:00:00:00:00:02')?.dst, '198.18.0.2');
  const byDst = new Map(k.routeList().map((x) => [x.dst, x]));
  assert.deepEqual([byDst.get('10.65.0.5/32')?.protocol, byDst.get('10.65.0.5/32')?.scope], [3, 253]);
  assert.deepEqual([byDst.get('10.65.0.0/26')?.type, byDst.get('10.65.0.0/26')?.protocol], ['blackhole', 80]);
  assert.deepEqual([byDst.get('10.65.1.0/26')?.gateway, byDst.get('10.65.1.0/26')?.onlink, byDst.get('10.65.1.0/26')?.protocol], ['10.65.1.1', true, 80]);
  assert.equal(k.sysctlTable.get('net/ipv4/conf/cali1234/proxy_arp'), '1');
  assert.equal(k.sysctlTable.get('net/ipv4/neigh/cali1234/proxy_delay'), '0');
  assert.equal(k.sysctlTable.get('net/ipv4/ip_forward'), '1');
  assert.equal(k.sysctlTable.get('net/ipv4/conf/eth0/proxy_arp'), '0', 'non-workload interfaces are left alone');
  assert.equal(dp.status().ready, true);
  assert.equal(dp.status().inSync, true);
  assert.equal(await metric(reg, 'tortie_routes_programmed', { class: 'workload' }), 1);
  assert.equal(await metric(reg, 'tortie_routes_programmed', { class: 'vxlan' }), 1);
  // A second pass with nothing changed writes nothing.
  const before = k.writes.length;
  await dp.applyNow();
  assert.equal(k.writes.length, before);
});

test('VTEP neighbour and FDB are written before the route through them; removal runs in reverse', async () => {
  const { k, dp } = setup();
  wantAll(dp);
  dp.setDatastoreInSync(true);
  await dp.applyNow();
  const idx = (s: string): number => k.writes.findIndex((w) => w.startsWith(s));
  assert.ok(idx('link add-vxlan vxlan.calico') < idx('neigh replace 10.65.1.1'));
  assert.ok(idx('neigh replace 10.65.1.1') < idx('route replace 10.65.1.0/26'));
  assert.ok(idx('fdb replace') < idx('route replace 10.65.1.0/26'));
  k.writes.length = 0;
  dp.deleteRoute(REMOTE.dst);
  dp.deleteVtep('node-b');
  dp.setVxlanDevice(undefined);
  await dp.applyNow();
  assert.ok(idx('route delete 10.65.1.0/26') >= 0);
  assert.ok(idx('route delete 10.65.1.0/26') < idx('neigh delete 10.65.1.1'));
  assert.ok(idx('neigh delete 10.65.1.1') < idx('link delete vxlan.calico'));
  assert.equal(k.linkTable.has('vxlan.calico'), false);
});

test('startup over matching kernel state makes zero writes', async () => {
  const first = setup();
  first.k.addLink('cali1234');
  wantAll(first.dp);
  first.dp.setDatastoreInSync(true);
  await first.dp.applyNow();
  // "Restart": a new driver over the same kernel, same desired state.
  const k = first.k;
  k.writes.length = 0;
  const dp2 = new Dataplane({ kernel: k, registry: new Registry(), clock: first.clock });
  wantAll(dp2);
  dp2.setDatastoreInSync(true);
  const r = await dp2.applyNow();
  assert.equal(r.ok, true);
  assert.deepEqual(k.writes, []);
  assert.equal(dp2.status().inSync, true);
});

test('startup removes our stale routes but never foreign ones', async () => {
  const { k, dp } = setup();
  k.addLink('cali1234');
  const base = { table: 254, onlink: false, metric: 0 };
  k.routeTable.set('254|10.65.9.0/26|0', { ...base, dst: '10.65.9.0/26', type: 'blackhole', scope: 0, protocol: 80 }); // ours, stale
  k.routeTable.set('254|10.65.0.9/32|0', { ...base, dst: '10.65.0.9/32', type: 'unicast', dev: 'cali1234', scope: 253, protocol: 3 }); // ours (boot on cali*), stale
  k.routeTable.set('254|10.99.0.0/24|0', { ...base, dst: '10.99.0.0/24', type: 'unicast', dev: 'eth0', scope: 253, protocol: 3 }); // boot on eth0: foreign
  k.routeTable.set('254|10.98.0.0/24|0', { ...base, dst: '10.98.0.0/24', type: 'unicast', gateway: '198.18.0.9', dev: 'eth0', scope: 0, protocol: 12 }); // BIRD's
  k.routeTable.set('100|10.65.8.0/26|0', { ...base, table: 100, dst: '10.65.8.0/26', type: 'blackhole', scope: 0, protocol: 80 }); // other table
  dp.setRoute(WL);
  dp.setDatastoreInSync(true);
  await dp.applyNow();
  const dsts = k.routeList().map((r) => `${r.table}:${r.dst}`).sort();
  assert.deepEqual(dsts, ['100:10.65.8.0/26', '254:10.65.0.5/32', '254:10.98.0.0/24', '254:10.99.0.0/24']);
});

test('a route whose interface appears late is programmed when it appears, with its sysctls', async () => {
  const { k, dp } = setup();
  dp.setRoute(WL);
  dp.setDatastoreInSync(true);
  const r1 = await dp.applyNow();
  assert.equal(r1.ok, true, 'waiting for an interface is not a failure');
  assert.equal(r1.waiting, 1);
  assert.equal(k.writes.filter((w) => w.startsWith('route')).length, 0);
  k.addLink('cali1234');
  await dp.applyNow();
  assert.ok(k.routeTable.has('254|10.65.0.5/32|0'));
  assert.equal(k.sysctlTable.get('net/ipv4/conf/cali1234/proxy_arp'), '1');
});

test('routes to an interface that goes down are removed and restored when it comes up', async () => {
  const { k, dp } = setup();
  k.addLink('cali1234');
  dp.setRoute(WL);
  dp.setDatastoreInSync(true);
  await dp.applyNow();
  assert.ok(k.routeTable.has('254|10.65.0.5/32|0'));
  // Carrier loss keeps the kernel route (linkdown); we remove it.
  k.linkTable.get('cali1234')!.lowerUp = false;
  await dp.applyNow();
  assert.equal(k.routeTable.has('254|10.65.0.5/32|0'), false);
  k.linkTable.get('cali1234')!.lowerUp = true;
  await dp.applyNow();
  assert.ok(k.routeTable.has('254|10.65.0.5/32|0'));
  // Interface deleted and re-created (new ifindex): the kernel dropped the route; we re-add it.
  k.removeLink('cali1234');
  k.addLink('cali1234');
  await dp.applyNow();
  assert.ok(k.routeTable.has('254|10.65.0.5/32|0'));
});

test('drift is repaired on refresh and counted', async () => {
  const { k, dp, reg, clock } = setup();
  k.addLink('cali1234');
  wantAll(dp);
  dp.start();
  dp.setDatastoreInSync(true);
  await clock.tick(0);
  assert.equal(dp.status().inSync, true);
  k.routeTable.delete('254|10.65.0.5/32|0');
  k.fdbTable.clear();
  k.sysctlTable.set('net/ipv4/conf/cali1234/proxy_arp', '0');
  // The periodic refresh (90 s default) reads everything back and repairs it.
  await clock.tick(90_000);
  assert.ok(k.routeTable.has('254|10.65.0.5/32|0'));
  assert.equal(k.fdbTable.get('vxlan.calico|66:00:00:00:00:02')?.dst, '198.18.0.2');
  assert.equal(k.sysctlTable.get('net/ipv4/conf/cali1234/proxy_arp'), '1');
  assert.equal(await metric(reg, 'tortie_dataplane_repairs_total', { kind: 'route' }), 1);
  assert.equal(await metric(reg, 'tortie_dataplane_repairs_total', { kind: 'fdb' }), 1);
  assert.equal(await metric(reg, 'tortie_dataplane_repairs_total', { kind: 'sysctl' }), 1);
  await dp.stop();
});

test('a monitor event triggers a route read-back without waiting for the refresh', async () => {
  const { k, dp, clock } = setup();
  k.addLink('cali1234');
  dp.setRoute(WL);
  dp.start();
  dp.setDatastoreInSync(true);
  await clock.tick(0);
  k.routeTable.delete('254|10.65.0.5/32|0');
  dp.onKernelEvent({ kind: 'route-deleted', line: 'Deleted 10.65.0.5 dev cali1234 scope link' });
  await clock.tick(200);
  assert.ok(k.routeTable.has('254|10.65.0.5/32|0'));
  await dp.stop();
});

test('a failed write is retried with exponential backoff and counted', async () => {
  const { k, dp, reg, clock } = setup();
  k.addLink('cali1234');
  dp.setRoute(WL);
  k.failRouteOnce.set('10.65.0.5/32', 'RTNETLINK answers: Resource temporarily unavailable');
  dp.start();
  dp.setDatastoreInSync(true);
  await clock.tick(0);
  assert.equal(dp.status().consecutiveFailures, 1);
  assert.equal(dp.status().ready, false, 'not ready until an apply succeeds');
  assert.equal(await metric(reg, 'felix_int_dataplane_failures'), 1);
  assert.equal(k.routeTable.has('254|10.65.0.5/32|0'), false);
  await clock.tick(RETRY_BACKOFF_INITIAL_MS - 1);
  assert.equal(k.routeTable.has('254|10.65.0.5/32|0'), false, 'no retry before the backoff');
  await clock.tick(1);
  assert.ok(k.routeTable.has('254|10.65.0.5/32|0'));
  assert.equal(dp.status().consecutiveFailures, 0);
  assert.equal(dp.status().ready, true);
  await dp.stop();
});

test('a failing ip binary (whole batch) backs off doubling, then recovers', async () => {
  const { k, dp, clock } = setup();
  k.addLink('cali1234');
  dp.setRoute(WL);
  k.broken = true;
  dp.start();
  dp.setDatastoreInSync(true);
  await clock.tick(0);
  assert.equal(dp.status().consecutiveFailures, 1);
  assert.match(dp.status().lastError ?? '', /simulated failure/);
  await clock.tick(RETRY_BACKOFF_INITIAL_MS);
  assert.equal(dp.status().consecutiveFailures, 2);
  await clock.tick(RETRY_BACKOFF_INITIAL_MS * 2 - 1);
  assert.equal(dp.status().consecutiveFailures, 2, 'second retry waits twice as long');
  await clock.tick(1);
  assert.equal(dp.status().consecutiveFailures, 3);
  k.broken = false;
  await clock.tick(RETRY_BACKOFF_INITIAL_MS * 4);
  assert.equal(dp.status().consecutiveFailures, 0);
  assert.ok(k.routeTable.has('254|10.65.0.5/32|0'));
  await dp.stop();
});

test('IPIP unavailable: reported once, not a failure, VXLAN keeps working, probed again on refresh', async () => {
  const { k, dp, reg, clock } = setup();
  k.ipipUnsupported = true;
  wantAll(dp);
  dp.setIpipDevice({ mtu: 1480, address: '10.65.0.1/32' });
  dp.setRoute({ class: 'ipip', dst: '10.66.1.0/26', gateway: '198.18.0.2', dev: 'tunl0', onlink: true });
  dp.start();
  dp.setDatastoreInSync(true);
  await clock.tick(0);
  const s = dp.status();
  assert.equal(s.ipipAvailable, false);
  assert.match(s.ipipUnavailableReason ?? '', /Unknown device type/);
  assert.equal(s.consecutiveFailures, 0);
  assert.equal(s.ready, true);
  assert.equal(await metric(reg, 'tortie_ipip_available'), 0);
  assert.equal(await metric(reg, 'felix_int_dataplane_failures'), 0);
  assert.ok(k.routeTable.has('254|10.65.1.0/26|0'), 'VXLAN route programmed');
  assert.equal(k.routeTable.has('254|10.66.1.0/26|0'), false, 'IPIP route waits for tunl0');
  // No retry storm: later passes do not try to create tunl0 again...
  k.writes.length = 0;
  dp.setRoute({ class: 'workload', dst: '10.65.0.77/32', dev: 'eth0' });
  await clock.tick(1000);
  assert.equal(k.writes.filter((w) => w.includes('add-ipip')).length, 0);
  // ...until the refresh, which probes again; the module "appeared" in the meantime.
  k.ipipUnsupported = false;
  await clock.tick(90_000);
  assert.equal(dp.status().ipipAvailable, true);
  assert.equal(await metric(reg, 'tortie_ipip_available'), 1);
  assert.ok(k.routeTable.has('254|10.66.1.0/26|0'), 'IPIP route programmed once tunl0 exists');
  assert.deepEqual(k.linkTable.get('tunl0')?.addresses, ['10.65.0.1/32']);
  await dp.stop();
});

test('changing a VXLAN parameter the kernel cannot change in place re-creates the device', async () => {
  const { k, dp } = setup();
  wantAll(dp);
  dp.setDatastoreInSync(true);
  await dp.applyNow();
  const oldIndex = k.linkTable.get('vxlan.calico')!.index;
  dp.setVxlanDevice({ ...VXLAN, vni: 4097 });
  await dp.applyNow();
  const vx = k.linkTable.get('vxlan.calico')!;
  assert.notEqual(vx.index, oldIndex);
  assert.equal(vx.vxlan?.vni, 4097);
  // Its neighbour, FDB entry and routes are rebuilt in the same pass.
  assert.ok(k.neighTable.has('vxlan.calico|10.65.1.1'));
  assert.ok(k.fdbTable.has('vxlan.calico|66:00:00:00:00:02'));
  assert.ok(k.routeTable.has('254|10.65.1.0/26|0'));
  // MTU changes in place.
  dp.setVxlanDevice({ ...VXLAN, vni: 4097, mtu: 1400 });
  await dp.applyNow();
  assert.equal(k.linkTable.get('vxlan.calico')!.index, vx.index);
  assert.equal(k.linkTable.get('vxlan.calico')!.mtu, 1400);
});

test('a metric change deletes the old route instead of leaving two', async () => {
  const { k, dp } = setup();
  dp.setRoute({ class: 'bgp', dst: '10.70.0.0/24', gateway: '198.18.0.7', dev: 'eth0', metric: 10 });
  dp.setDatastoreInSync(true);
  await dp.applyNow();
  dp.setRoute({ class: 'bgp', dst: '10.70.0.0/24', gateway: '198.18.0.7', dev: 'eth0', metric: 20 });
  await dp.applyNow();
  const r = k.routeList().filter((x) => x.dst === '10.70.0.0/24');
  assert.deepEqual(r.map((x) => [x.metric, x.protocol]), [[20, 81]]);
});

test('replaceAllRoutes drops routes no longer wanted', async () => {
  const { k, dp } = setup();
  k.addLink('cali1234');
  dp.replaceAllRoutes([WL, BLOCK]);
  dp.setDatastoreInSync(true);
  await dp.applyNow();
  dp.replaceAllRoutes([BLOCK]);
  await dp.applyNow();
  assert.deepEqual(k.routeList().map((r) => r.dst), ['10.65.0.0/26']);
});

test('invalid desired state is refused, logged and counted; the rest keeps working', async () => {
  const { k, dp, reg } = setup();
  assert.equal(dp.setRoute({ ...BLOCK, table: 100 }), false);
  assert.equal(dp.setRoute({ class: 'workload', dst: '10.65.0.300/32', dev: 'cali1' }), false);
  assert.equal(dp.setRoute({ class: 'vxlan', dst: '2001:db8::/64', gateway: 'fe80::1', dev: 'vxlan.calico' }), false, 'IPv6 not enabled');
  assert.equal(dp.setVtep({ ...VTEP, mac: 'not-a-mac' }), false);
  assert.equal(dp.replaceAllRoutes([BLOCK, { class: 'workload', dst: 'bogus', dev: 'x' }]), true);
  // Words smuggled into the batch line through a device name, or a metric the kernel cannot hold.
  assert.equal(dp.setRoute({ class: 'workload', dst: '10.65.0.6/32', dev: 'cali1 table 100' }), false);
  assert.equal(dp.setRoute({ class: 'workload', dst: '10.65.0.6/32', dev: 'cali1\nroute flush' }), false);
  assert.equal(dp.setRoute({ class: 'workload', dst: '10.65.0.6/32', dev: 'cali0123456789abc' }), false, 'longer than IFNAMSIZ-1');
  assert.equal(dp.setRoute({ class: 'bgp', dst: '10.70.0.0/24', gateway: '198.18.0.7', dev: 'eth0', metric: 2 ** 32 }), false);
  assert.equal(dp.setRoute({ class: 'bgp', dst: '10.70.0.0/24', gateway: '198.18.0.7', dev: 'eth0', metric: 1.5 }), false);
  assert.equal(await metric(reg, 'tortie_dataplane_invalid_updates_total', { kind: 'route' }), 9);
  assert.equal(await metric(reg, 'tortie_dataplane_invalid_updates_total', { kind: 'vtep' }), 1);
  dp.setDatastoreInSync(true);
  const r = await dp.applyNow();
  assert.equal(r.ok, true);
  assert.deepEqual(k.routeList().map((x) => x.dst), ['10.65.0.0/26']);
});

test('an unwanted tunl0 with our address is stripped, a bare fallback tunl0 is left alone', async () => {
  const { k, dp } = setup();
  k.addLink('tunl0', { kind: 'ipip', mtu: 1480, addresses: ['10.65.0.1/32'] });
  dp.setDatastoreInSync(true);
  await dp.applyNow();
  assert.deepEqual(k.linkTable.get('tunl0')?.addresses, []);
  assert.ok(k.linkTable.has('tunl0'), 'the fallback device cannot be deleted and is not');
  k.writes.length = 0;
  await dp.applyNow();
  assert.deepEqual(k.writes, []);
});

test('a neighbour deleted behind our back is restored after the monitor event', async () => {
  const { k, dp, reg, clock } = setup();
  wantAll(dp);
  dp.start();
  dp.setDatastoreInSync(true);
  await clock.tick(0);
  k.neighTable.clear();
  dp.onKernelEvent({ kind: 'neigh-deleted', dev: 'vxlan.calico' });
  await clock.tick(200);
  assert.equal(k.neighTable.get('vxlan.calico|10.65.1.1')?.mac, '66:00:00:00:00:02');
  assert.equal(await metric(reg, 'tortie_dataplane_repairs_total', { kind: 'neigh' }), 1);
  await dp.stop();
});

test('a VTEP whose MAC changes gets its FDB entry moved, not duplicated', async () => {
  const { k, dp } = setup();
  wantAll(dp);
  dp.setDatastoreInSync(true);
  await dp.applyNow();
  dp.setVtep({ ...VTEP, mac: '66:00:00:00:00:03', hostIp: '198.18.0.3' });
  await dp.applyNow();
  assert.deepEqual([...k.fdbTable.values()].map((f) => [f.mac, f.dst]), [['66:00:00:00:00:03', '198.18.0.3']]);
  assert.deepEqual([...k.neighTable.values()].map((n) => [n.ip, n.mac]), [['10.65.1.1', '66:00:00:00:00:03']]);
});

test('a batch that dies after submission is not mistaken for success: bookkeeping is undone', async () => {
  const { k, dp } = setup();
  k.addLink('cali1234');
  dp.setRoute(WL);
  dp.setDatastoreInSync(true);
  k.dieAfterSubmit = true;
  const r1 = await dp.applyNow();
  assert.equal(r1.ok, false);
  assert.match(r1.errors.join(' '), /killed/);
  assert.equal(dp.status().inSync, false, 'the route is still pending');
  const r2 = await dp.applyNow();
  assert.equal(r2.ok, true);
  assert.ok(k.routeTable.has('254|10.65.0.5/32|0'));
});

test('queued routes: the last word per prefix wins, a delete cancels, a second metric leaves one route', async () => {
  const { k, dp } = setup();
  k.addLink('cali1234');
  dp.setDatastoreInSync(true);
  // Queued on a kernel that holds none of our routes: folded in while the batch is written.
  dp.setRoute({ ...WL, dev: 'caliold' });
  dp.setRoute(WL);
  dp.setRoute(BLOCK);
  dp.deleteRoute('10.65.0.0/26');
  dp.setRoute({ class: 'bgp', dst: '10.70.0.0/24', gateway: '198.18.0.7', dev: 'eth0', metric: 10 });
  dp.setRoute({ class: 'bgp', dst: '10.70.0.0/24', gateway: '198.18.0.7', dev: 'eth0', metric: 20 });
  const r = await dp.applyNow();
  assert.equal(r.ok, true, r.errors.join('\n'));
  assert.deepEqual(
    k.routeList().map((x) => [x.dst, x.dev, x.metric]).sort(),
    [['10.65.0.5/32', 'cali1234', 0], ['10.70.0.0/24', 'eth0', 20]],
  );
  assert.equal(dp.status().inSync, true);
  const before = k.writes.length;
  await dp.applyNow();
  assert.equal(k.writes.length, before, 'nothing left to do');
});

test('queued routes on a fresh kernel: a second metric queued in the same burst still leaves one route', async () => {
  const { k, dp } = setup();
  dp.setDatastoreInSync(true);
  dp.setRoute({ class: 'bgp', dst: '10.70.0.0/24', gateway: '198.18.0.7', dev: 'eth0', metric: 10 });
  dp.setRoute({ class: 'bgp', dst: '10.70.0.0/24', gateway: '198.18.0.7', dev: 'eth0', metric: 20 });
  assert.equal((await dp.applyNow()).ok, true);
  assert.deepEqual(k.routeList().map((x) => x.metric), [20]);
  assert.equal(dp.status().inSync, true);
});

test('routes queued over a kernel that already has them make no writes; a queued route can cancel a deletion', async () => {
  const { k, dp } = setup();
  k.addLink('cali1234');
  dp.setRoute(WL);
  dp.setRoute(BLOCK);
  dp.setDatastoreInSync(true);
  await dp.applyNow();
  // A restart: a new dataplane over the same kernel, the same routes queued again.
  const dp2 = new Dataplane({ kernel: k });
  dp2.setRoute(WL);
  dp2.setRoute(BLOCK);
  dp2.setDatastoreInSync(true);
  const before = k.writes.filter((w) => w.startsWith('route')).length;
  const r = await dp2.applyNow();
  assert.equal(r.ok, true, r.errors.join('\n'));
  assert.equal(k.writes.filter((w) => w.startsWith('route')).length, before, 'no route writes');
  // Deleted, then queued again before the next apply: the route stays.
  dp2.deleteRoute(BLOCK.dst);
  dp2.setRoute(BLOCK);
  await dp2.applyNow();
  assert.ok(k.routeList().some((x) => x.dst === BLOCK.dst));
  assert.equal(k.writes.filter((w) => w.startsWith('route')).length, before);
});

test('a route queued while a batch is being written is written too, and invalid input is still refused at once', async () => {
  const { k, dp } = setup();
  k.addLink('cali1234');
  dp.setDatastoreInSync(true);
  for (let i = 0; i < 3000; i++) assert.equal(dp.setRoute({ class: 'workload', dst: `10.66.${i >> 8}.${i & 255}/32`, dev: 'cali1234' }), true);
  assert.equal(dp.setRoute({ class: 'workload', dst: '10.66.0.300/32', dev: 'cali1234' }), false);
  assert.equal(dp.setRoute({ class: 'workload', dst: '10.66.0.1/33', dev: 'cali1234' }), false);
  const pass = dp.applyNow();
  dp.setRoute(WL);
  const r = await pass;
  assert.equal(r.ok, true, r.errors.join('\n'));
  await dp.applyNow();
  assert.equal(k.routeList().length, 3001);
  assert.equal(dp.status().inSync, true);
});

/** A stand-in for the policy dataplane: records the order of its steps, fails on demand. */
function stubPolicy(order: string[], failing: { on: boolean }) {
  const ok = { writes: 1, failures: 0, waiting: 0, errors: [] as string[] };
  const step = (name: string) => ({
    name,
    updates: async () => {
      order.push(`${name}+`);
      return failing.on && name === 'iptables' ? { writes: 0, failures: 1, waiting: 0, errors: ['iptables-restore rejected the transaction'] } : ok;
    },
    deletions: async () => {
      order.push(`${name}-`);
      return { ...ok, writes: 0 };
    },
  });
  return {
    ipsetsStep: step('ipsets'),
    iptablesStep: step('iptables'),
    inSync: true,
    start: () => undefined,
    stop: () => undefined,
    requestResync: () => undefined,
    setEncap: () => undefined,
    onMessages: () => undefined,
  } as unknown as import('./policy/policy-dataplane.js').PolicyDataplane;
}

test('policy sits between VTEPs and routes: sets, then rules, then routes; deletions in reverse', async () => {
  const k = new FakeKernel();
  k.addLink('lo');
  k.addLink('cali1234');
  const order: string[] = [];
  const clock = new ManualClock();
  const origAdd = k.routes.apply.bind(k.routes);
  k.routes.apply = async (...a: Parameters<typeof origAdd>) => {
    order.push('routes');
    return origAdd(...a);
  };
  const dp = new Dataplane({ kernel: k, clock, policy: () => stubPolicy(order, { on: false }) });
  dp.setRoute(WL);
  dp.start();
  dp.setDatastoreInSync(true);
  await clock.tick(0);
  assert.deepEqual(order.slice(0, 3), ['ipsets+', 'iptables+', 'routes']);
  assert.deepEqual(order.slice(-2), ['iptables-', 'ipsets-']);
  await dp.stop();
});

test('a policy apply that keeps failing makes the node not ready, and ready again once it succeeds', async () => {
  const k = new FakeKernel();
  k.addLink('lo');
  const clock = new ManualClock();
  const failing = { on: false };
  const dp = new Dataplane({ kernel: k, clock, policy: () => stubPolicy([], failing) });
  dp.start();
  dp.setDatastoreInSync(true);
  await clock.tick(0);
  assert.equal(dp.status().ready, true);
  failing.on = true;
  dp.requestResync();
  await clock.tick(100);
  assert.equal(dp.status().consecutiveFailures, 1);
  assert.equal(dp.status().ready, true, 'one failure is treated as transient');
  for (let i = 0; i < 4 && dp.status().consecutiveFailures < 3; i++) await clock.tick(30_000);
  assert.ok(dp.status().consecutiveFailures >= 3);
  assert.equal(dp.status().ready, false, 'failing again and again: not ready');
  failing.on = false;
  await clock.tick(30_000);
  assert.equal(dp.status().consecutiveFailures, 0);
  assert.equal(dp.status().ready, true);
  await dp.stop();
});
