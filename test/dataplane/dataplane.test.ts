/**
 * The dataplane against the real kernel: two node namespaces joined by an underlay veth, a pod
 * namespace behind a `cali*` veth on each, one Dataplane per node driving iproute2 inside its
 * namespace (`ip -n`, `ip netns exec ... sysctl`). Proves: pods ping across the VXLAN tunnel;
 * tampering is repaired on refresh; foreign routes are untouched; a restarted reconciler makes
 * zero route writes (watched with `ip monitor route`); interface lifecycle; IPIP reported
 * unavailable on this kernel while VXLAN keeps working.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { waitFor } from '../../src/lab/exec.js';
import { Dataplane } from '../../src/dataplane/dataplane.js';
import { iproute2Kernel } from '../../src/dataplane/kernel.js';
import { KernelMonitor } from '../../src/dataplane/monitor.js';
import { vxlanMac } from '../../src/dataplane/vxlan-mac.js';
import { attachPod, deleteAll, ip, ping, requireRoot, sh, sweepStale, twoNodes, type NodeNs } from './topology.js';

/** Short refresh so tamper tests finish quickly (production default is 90 s). */
const TEST_REFRESH_MS = 1_000;
const REPAIR_WAIT_MS = 15_000;

interface Running {
  dp: Dataplane;
  mon: KernelMonitor;
  reg: Registry;
}

function program(dp: Dataplane, me: NodeNs, meName: string, peer: NodeNs, peerName: string): void {
  dp.setVxlanDevice({ vni: 4096, port: 4789, parent: 'eth0', local: me.hostIp, mac: vxlanMac(meName), mtu: 1450, address: `${me.tunnelIp}/32` });
  dp.setVtep({ node: peerName, tunnelIp: peer.tunnelIp, mac: vxlanMac(peerName), hostIp: peer.hostIp });
  dp.setRoute({ class: 'workload', dst: me.podIp, dev: me.caliIf });
  dp.setRoute({ class: 'local-block', dst: me.block, type: 'blackhole' });
  dp.setRoute({ class: 'vxlan', dst: peer.block, gateway: peer.tunnelIp, dev: 'vxlan.calico', onlink: true });
}

function startDataplane(ns: string, refreshMs = TEST_REFRESH_MS): Running {
  const reg = new Registry();
  const dp = new Dataplane({ kernel: iproute2Kernel({ netns: ns }), registry: reg, routeRefreshIntervalMs: refreshMs });
  const mon = new KernelMonitor({ netns: ns }, (e) => dp.onKernelEvent(e));
  mon.start();
  dp.start();
  return { dp, mon, reg };
}

async function stopDataplane(r: Running | undefined): Promise<void> {
  if (!r) return;
  r.mon.stop();
  await r.dp.stop();
}

async function routeShow(ns: string, ...args: string[]): Promise<string> {
  return ip(ns, 'route', 'show', ...args);
}

async function sysctlGet(ns: string, key: string): Promise<string> {
  return (await sh(ns, 'sysctl', '-n', key)).stdout.trim();
}

describe('dataplane in network namespaces', () => {
  let a: NodeNs;
  let b: NodeNs;
  const names: string[] = [];
  let ra: Running | undefined;
  let rb: Running | undefined;

  before(async () => {
    requireRoot();
    await sweepStale();
    [a, b] = await twoNodes(200 + (process.pid % 50));
    names.push(a.ns, b.ns, a.podNs, b.podNs);
    // Foreign routes of every kind we must never touch.
    await ip(a.ns, 'route', 'add', '10.98.0.0/24', 'via', b.hostIp, 'dev', 'eth0', 'proto', 'bird');
    await ip(a.ns, 'route', 'add', 'blackhole', '10.97.0.0/24', 'proto', 'static');
    await ip(a.ns, 'route', 'add', '10.96.0.0/24', 'dev', 'eth0');
    ra = startDataplane(a.ns);
    rb = startDataplane(b.ns);
    program(ra.dp, a, 'node-a', b, 'node-b');
    program(rb.dp, b, 'node-b', a, 'node-a');
    ra.dp.setDatastoreInSync(true);
    rb.dp.setDatastoreInSync(true);
    await waitFor(() => ra!.dp.status().ready && ra!.dp.status().inSync && rb!.dp.status().ready && rb!.dp.status().inSync, { timeoutMs: 20_000, what: 'both dataplanes in sync' });
  });

  after(async () => {
    await stopDataplane(ra);
    await stopDataplane(rb);
    await deleteAll(names);
  });

  test('kernel state matches Calico: devices, neighbour, FDB, routes with protocols, sysctls', async () => {
    const link = JSON.parse(await ip(a.ns, '-d', '-j', 'link', 'show', 'dev', 'vxlan.calico')) as { mtu: number; address: string; flags: string[]; linkinfo: { info_data: { id: number; port: number; link: string; local: string } } }[];
    const l = link[0]!;
    assert.deepEqual([l.linkinfo.info_data.id, l.linkinfo.info_data.port, l.linkinfo.info_data.link, l.linkinfo.info_data.local, l.mtu, l.address], [4096, 4789, 'eth0', a.hostIp, 1450, vxlanMac('node-a')]);
    assert.ok(l.flags.includes('UP'));
    assert.match(await ip(a.ns, 'addr', 'show', 'dev', 'vxlan.calico'), /inet 10\.65\.0\.1\/32/);
    assert.match(await ip(a.ns, 'neigh', 'show', 'dev', 'vxlan.calico'), new RegExp(`10\\.65\\.1\\.1 lladdr ${vxlanMac('node-b')} PERMANENT`));
    assert.match((await sh(a.ns, 'bridge', 'fdb', 'show', 'dev', 'vxlan.calico')).stdout, new RegExp(`${vxlanMac('node-b')} dst ${b.hostIp} self permanent`));
    assert.match(await routeShow(a.ns, '10.65.0.5/32'), /10\.65\.0\.5 dev calia0000005 scope link/);
    assert.match(await routeShow(a.ns, 'proto', '80'), /blackhole 10\.65\.0\.0\/26/);
    assert.match(await routeShow(a.ns, 'proto', '80'), /10\.65\.1\.0\/26 via 10\.65\.1\.1 dev vxlan\.calico onlink/);
    assert.equal(await sysctlGet(a.ns, 'net.ipv4.conf.calia0000005.proxy_arp'), '1');
    assert.equal(await sysctlGet(a.ns, 'net.ipv4.neigh.calia0000005.proxy_delay'), '0');
    assert.equal(await sysctlGet(a.ns, 'net.ipv4.conf.calia0000005.route_localnet'), '1');
    assert.equal(await sysctlGet(a.ns, 'net.ipv4.conf.calia0000005.forwarding'), '1');
    assert.equal(await sysctlGet(a.ns, 'net.ipv6.conf.calia0000005.accept_ra'), '0');
    assert.equal(await sysctlGet(a.ns, 'net.ipv4.ip_forward'), '1');
    const metrics = await ra!.reg.metrics();
    assert.match(metrics, /tortie_routes_programmed\{class="workload"\} 1/);
    assert.match(metrics, /tortie_routes_programmed\{class="vxlan"\} 1/);
    assert.match(metrics, /felix_int_dataplane_apply_time_seconds_count [1-9]/);
  });

  test('pods ping each other across the VXLAN tunnel', async () => {
    assert.ok(await waitFor(() => ping(a.podNs, b.podIp), { timeoutMs: 10_000, what: 'ping pod A → pod B' }));
    assert.ok(await ping(b.podNs, a.podIp));
  });

  test('tampering is repaired on the next refresh: deleted route, deleted FDB entry, flipped proxy_arp', async () => {
    await ip(a.ns, 'route', 'del', '10.65.1.0/26');
    await sh(a.ns, 'bridge', 'fdb', 'del', vxlanMac('node-b'), 'dev', 'vxlan.calico', 'dst', b.hostIp, 'self');
    await sh(a.ns, 'sysctl', '-q', '-w', 'net.ipv4.conf.calia0000005.proxy_arp=0');
    await waitFor(async () => /10\.65\.1\.0\/26 via 10\.65\.1\.1 dev vxlan\.calico/.test(await routeShow(a.ns, 'proto', '80')), { timeoutMs: REPAIR_WAIT_MS, what: 'VXLAN route restored' });
    await waitFor(async () => (await sh(a.ns, 'bridge', 'fdb', 'show', 'dev', 'vxlan.calico')).stdout.includes(`dst ${b.hostIp}`), { timeoutMs: REPAIR_WAIT_MS, what: 'FDB entry restored' });
    await waitFor(async () => (await sysctlGet(a.ns, 'net.ipv4.conf.calia0000005.proxy_arp')) === '1', { timeoutMs: REPAIR_WAIT_MS, what: 'proxy_arp restored' });
    const metrics = await ra!.reg.metrics();
    assert.match(metrics, /tortie_dataplane_repairs_total\{kind="route"\} [1-9]/);
    assert.match(metrics, /tortie_dataplane_repairs_total\{kind="fdb"\} [1-9]/);
    assert.match(metrics, /tortie_dataplane_repairs_total\{kind="sysctl"\} [1-9]/);
    assert.ok(await waitFor(() => ping(a.podNs, b.podIp), { timeoutMs: 10_000, what: 'ping after repair' }));
  });

  test('foreign routes are untouched across applies and refreshes', async () => {
    await sleep(TEST_REFRESH_MS * 2);
    const all = await routeShow(a.ns, 'table', 'main');
    assert.match(all, /10\.98\.0\.0\/24 via 198\.18\.\d+\.2 dev eth0 proto bird/);
    assert.match(all, /blackhole 10\.97\.0\.0\/24 proto static/);
    assert.match(all, /10\.96\.0\.0\/24 dev eth0 scope link/);
    assert.match(all, /169\.254\.1\.1 dev eth0 scope link/);
  });

  test('a workload interface that appears late gets its route and sysctls as soon as it appears', async () => {
    const podNs = `${a.podNs}2`;
    names.push(podNs);
    ra!.dp.setRoute({ class: 'workload', dst: '10.65.0.6', dev: 'calia0000006' });
    await sleep(500);
    assert.equal(await routeShow(a.ns, '10.65.0.6/32'), '');
    await attachPod(a.ns, 'calia0000006', podNs, '10.65.0.6');
    await waitFor(async () => /10\.65\.0\.6 dev calia0000006/.test(await routeShow(a.ns, '10.65.0.6/32')), { timeoutMs: 5_000, what: 'late interface route' });
    await waitFor(async () => (await sysctlGet(a.ns, 'net.ipv4.conf.calia0000006.proxy_arp')) === '1', { timeoutMs: 5_000, what: 'late interface sysctls' });
    assert.ok(await waitFor(() => ping(podNs, b.podIp), { timeoutMs: 10_000, what: 'new pod pings across the tunnel' }));
  });

  test('routes to an interface that loses carrier are removed, and restored when it comes back', async () => {
    await ip(a.podNs, 'link', 'set', 'eth0', 'down');
    await waitFor(async () => (await routeShow(a.ns, '10.65.0.5/32')) === '', { timeoutMs: 5_000, what: 'route removed on carrier loss' });
    await ip(a.podNs, 'link', 'set', 'eth0', 'up');
    await waitFor(async () => /10\.65\.0\.5 dev calia0000005/.test(await routeShow(a.ns, '10.65.0.5/32')), { timeoutMs: 5_000, what: 'route restored on carrier' });
    // The pod's own routes went with its link: restore them so the pod works again.
    await sh(a.podNs, 'ip', 'route', 'replace', '169.254.1.1', 'dev', 'eth0', 'scope', 'link');
    await sh(a.podNs, 'ip', 'route', 'replace', 'default', 'via', '169.254.1.1', 'dev', 'eth0');
    assert.ok(await waitFor(() => ping(a.podNs, b.podIp), { timeoutMs: 10_000, what: 'ping after carrier returns' }));
  });

  test('IPIP is reported unavailable on this kernel while VXLAN keeps working', async () => {
    ra!.dp.setIpipDevice({ mtu: 1480, address: '10.65.0.1/32' });
    ra!.dp.setRoute({ class: 'ipip', dst: '10.66.1.0/26', gateway: b.hostIp, dev: 'tunl0', onlink: true });
    await waitFor(() => ra!.dp.status().ipipAvailable === false, { timeoutMs: 5_000, what: 'IPIP reported unavailable' });
    const s = ra!.dp.status();
    assert.match(s.ipipUnavailableReason ?? '', /Unknown device type/);
    assert.equal(s.consecutiveFailures, 0);
    assert.equal(s.ready, true);
    assert.match(await ra!.reg.metrics(), /tortie_ipip_available 0/);
    assert.ok(await ping(a.podNs, b.podIp));
    ra!.dp.setIpipDevice(undefined);
    ra!.dp.deleteRoute('10.66.1.0/26');
  });

  test('a restarted reconciler over existing state makes zero route writes', async () => {
    await stopDataplane(ra);
    ra = undefined;
    const monitor = spawn('ip', ['-n', a.ns, 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let seen = '';
    monitor.stdout.setEncoding('utf8').on('data', (d: string) => (seen += d));
    try {
      await sleep(300); // let the monitor subscribe
      const reg = new Registry();
      // No refresh or monitor: this measures the start alone.
      const dp = new Dataplane({ kernel: iproute2Kernel({ netns: a.ns }), registry: reg, routeRefreshIntervalMs: 3_600_000 });
      program(dp, a, 'node-a', b, 'node-b');
      dp.setRoute({ class: 'workload', dst: '10.65.0.6', dev: 'calia0000006' });
      dp.setDatastoreInSync(true);
      const report = await dp.applyNow();
      assert.equal(report.ok, true, report.errors.join('\n'));
      assert.equal(report.writes, 0, 'no writes at all');
      await sleep(500);
      // The kernel's own routes (IPv6 link-local DAD finishing on a new veth) are not writes.
      const ours = seen.split('\n').filter((l) => l.trim() && !/ proto kernel /.test(l));
      assert.deepEqual(ours, [], `route changes seen during restart:\n${seen}`);
      await dp.stop();
    } finally {
      monitor.kill('SIGTERM');
    }
  });
});
